/** Small helpers for integration tests that drive JwtRotations on the real API server. */
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { onKwok, waitFor, type TestCluster } from './cluster.ts';
import { testShardLabels } from './test-shard.ts';

export interface Clients {
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  custom: k8s.CustomObjectsApi;
}

export function clients(cluster: TestCluster): Clients {
  return {
    core: cluster.kubeConfig.makeApiClient(k8s.CoreV1Api),
    apps: cluster.kubeConfig.makeApiClient(k8s.AppsV1Api),
    custom: cluster.kubeConfig.makeApiClient(k8s.CustomObjectsApi),
  };
}

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** A Deployment whose pods read the Secret through envFrom, as the runbook's API would (on the kwok node). */
export async function createConsumerDeployment(
  c: Clients,
  namespace: string,
  name: string,
  secretName: string,
  replicas = 2,
): Promise<void> {
  await c.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        // Rollouts take a moment, as real ones do, so tests can catch the operator mid-phase.
        minReadySeconds: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            ...onKwok,
            containers: [
              { name: 'api', image: 'example.invalid/api:1', envFrom: [{ secretRef: { name: secretName } }] },
            ],
          },
        },
      },
    },
  });
}

export async function createJwtRotation(
  c: Clients,
  namespace: string,
  name: string,
  spec: JwtRotationSpec,
  annotations: Record<string, string> = {},
): Promise<void> {
  await c.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'JwtRotation',
      metadata: { name, annotations, labels: testShardLabels() },
      spec,
    },
  });
}

export async function getJwtRotation(c: Clients, namespace: string, name: string): Promise<JwtRotation> {
  return (await c.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  })) as JwtRotation;
}

/** Merges annotations into the JwtRotation; returns the resourceVersion that carries them (see OperatorProcess.lookedAt). */
export async function annotate(
  c: Clients,
  namespace: string,
  name: string,
  annotations: Record<string, string>,
): Promise<string> {
  const patched = (await c.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { metadata: { annotations } } },
    mergePatch,
  )) as JwtRotation;
  return patched.metadata.resourceVersion ?? '';
}

export async function patchSpec(
  c: Clients,
  namespace: string,
  name: string,
  spec: Partial<JwtRotationSpec>,
): Promise<void> {
  await c.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec } },
    mergePatch,
  );
}

/** The Secret's values, decoded; undefined when it does not exist. */
export async function secretValues(
  c: Clients,
  namespace: string,
  name: string,
): Promise<Record<string, string> | undefined> {
  try {
    const secret = await c.core.readNamespacedSecret({ namespace, name });
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export async function waitForPhase(
  c: Clients,
  namespace: string,
  name: string,
  phase: string,
  condition: (r: JwtRotation) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<JwtRotation> {
  let seen: JwtRotation | undefined;
  try {
    return await waitFor(
      `JwtRotation ${namespace}/${name} to reach ${phase}`,
      async () => {
        const r = await getJwtRotation(c, namespace, name);
        seen = r;
        return r.status?.phase === phase && condition(r) ? r : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    // Say where it was instead: a timeout alone does not tell a slow rollout from a rollback.
    const events = await eventsOf(c, namespace, name).catch(() => []);
    throw new Error(`${(err as Error).message}\n${describeProgress(seen, events)}`);
  }
}

/** The status and the latest Events of a JwtRotation, in a few lines, for a failing test's message. */
export function describeProgress(r: JwtRotation | undefined, events: readonly k8s.CoreV1Event[]): string {
  const s = r?.status;
  const lines = [
    `  last seen: phase ${s?.phase ?? 'none'}, observedGeneration ${s?.observedGeneration ?? '-'} of ${r?.metadata.generation ?? '-'}`,
    ...(s?.conditions ?? []).map((k) => `  condition ${k.type}=${k.status} ${k.reason}: ${k.message}`),
    ...(s?.lastRotation === undefined ? [] : [`  lastRotation: ${JSON.stringify(s.lastRotation)}`]),
    ...(s?.gate === undefined
      ? []
      : [`  gate: health ${s.gate.health}, completion ${s.gate.completion}, ${s.gate.message ?? ''}`]),
    ...[...events]
      .sort((a, b) => eventTime(a) - eventTime(b))
      .slice(-12)
      .map((e) => `  event ${new Date(eventTime(e)).toISOString()} ${e.reason ?? ''}: ${e.message ?? ''}`),
  ];
  return lines.join('\n');
}

function eventTime(e: k8s.CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
  return t === undefined ? 0 : new Date(t).getTime();
}

/** The Events recorded on the JwtRotation `name` in `namespace`. */
export async function eventsOf(c: Clients, namespace: string, name = 'api'): Promise<k8s.CoreV1Event[]> {
  return (await c.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` }))
    .items;
}

/** Every pod of the Deployment runs the current template and is available. */
export async function isRolledOut(c: Clients, namespace: string, name: string): Promise<boolean> {
  const d = await c.apps.readNamespacedDeployment({ namespace, name });
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    s.updatedReplicas === want &&
    s.replicas === want &&
    s.availableReplicas === want
  );
}

/**
 * Deletes every JwtRotation in these namespaces, without waiting. A suite that leaves objects failing
 * on purpose (hostile input, a dead Prometheus) calls it in after(): the namespaces themselves go only
 * at the end of the run, and later suites' operators watch all namespaces.
 */
export async function removeJwtRotations(cluster: TestCluster, namespaces: Iterable<string>): Promise<void> {
  for (const namespace of namespaces) {
    await cluster.kubectl(['delete', 'jwtrotations', '--all', '--wait=false'], { namespace });
  }
}
