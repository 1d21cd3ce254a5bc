/**
 * Waiting for the JwtRotation CRD at start, instead of crash-looping without it.
 */
import * as k8s from '@kubernetes/client-node';
import { describeError, isForbidden, isNotFound } from '../adapters/kubernetes/errors.ts';
import { GROUP, PLURAL, VERSION } from '../api/constants.ts';
import { backoffDelay } from '../platform/backoff.ts';
import type { Logger } from '../platform/logger.ts';

/**
 * Without the CRD the watch fails; wait for it and say why, instead of crash-looping.
 *
 * The check reads the CRD itself, which needs `get` on customresourcedefinitions: a cluster-scoped
 * grant. With namespaced RBAC (Helm `rbac.scope: Namespaced`, deploy/components/namespaced/) the operator has
 * Roles only, so that read is refused (403); it then asks each watched namespace for one JwtRotation
 * of the version it needs instead: a 404 means the CRD is missing or does not serve that version, a
 * 200 that the watches will work. No cluster-scoped grant is needed for that.
 */
export async function waitForCrd(
  kubeConfig: k8s.KubeConfig,
  logger: Logger,
  namespaces: readonly string[],
): Promise<void> {
  const api = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const crdName = `${PLURAL}.${GROUP}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const crd = await api.readCustomResourceDefinition({ name: crdName });
      if (crd.spec.versions.some((v) => v.name === VERSION && v.served)) return;
      logger.error('CRD does not serve the version this operator needs', {
        crd: crdName,
        version: VERSION,
      });
    } catch (error) {
      if (isForbidden(error) && namespaces.length > 0) {
        if (await servedInEvery(custom, namespaces, logger, attempt)) {
          logger.info('CRD not readable (namespaced RBAC); every watched namespace serves it', {
            crd: crdName,
            version: VERSION,
          });
          return;
        }
      } else {
        logger.warn('waiting for the JwtRotation CRD; install crds/ with kubectl or Helm', {
          crd: crdName,
          error: describeError(error),
          attempt,
        });
      }
    }
    await new Promise((resolve) =>
      setTimeout(resolve, backoffDelay(attempt + 1, { baseMs: 1000, maxMs: 30_000 })),
    );
  }
}

/** Whether every namespace lists JwtRotations of VERSION (at most one object is read from each). */
async function servedInEvery(
  custom: k8s.CustomObjectsApi,
  namespaces: readonly string[],
  logger: Logger,
  attempt: number,
): Promise<boolean> {
  for (const namespace of namespaces) {
    try {
      await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        limit: 1,
      });
    } catch (error) {
      logger.warn(
        isNotFound(error)
          ? 'waiting for the JwtRotation CRD; install crds/ with kubectl or Helm'
          : 'cannot list JwtRotations in a watched namespace; check the RBAC there',
        { crd: `${PLURAL}.${GROUP}`, version: VERSION, namespace, error: describeError(error), attempt },
      );
      return false;
    }
  }
  return true;
}
