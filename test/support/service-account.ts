/**
 * Acting as a ServiceAccount: a kubeconfig with the admin kubeconfig's server and CA and a token of
 * the ServiceAccount instead of the admin certificate, for running the operator with exactly the
 * permissions RBAC grants it, and for asking the API server what that identity may and may not do.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { stringify } from 'yaml';

import type { TestCluster } from './cluster.ts';
import { run } from './tools.ts';

export interface ServiceAccountAccess {
  /** A kubeconfig that authenticates with the ServiceAccount's token. */
  kubeconfigPath: string;
  /** Loaded from kubeconfigPath, for direct requests as the ServiceAccount. */
  kubeConfig: k8s.KubeConfig;
  /**
   * `kubectl auth can-i <verb> <resource>` as the ServiceAccount (a SelfSubjectAccessReview):
   * in `namespace`, or in every namespace at once when it is undefined.
   */
  can(verb: string, resource: string, namespace?: string): Promise<boolean>;
}

export async function serviceAccountAccess(
  cluster: TestCluster,
  name: string,
  namespace: string,
): Promise<ServiceAccountAccess> {
  const token = await cluster.kubectl(['create', 'token', name, '-n', namespace, '--duration=1h']);
  expect(token.code, token.stderr).to.equal(0);
  const server = cluster.kubeConfig.getCurrentCluster();
  const kubeconfigPath = path.join(
    tmpdir(),
    `jwtr-sa-${namespace}-${name}-${String(process.pid)}-${Math.random().toString(36).slice(2, 8)}.kubeconfig`,
  );
  writeFileSync(
    kubeconfigPath,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'local',
          cluster: {
            server: server?.server,
            'certificate-authority-data': server?.caData,
            'certificate-authority': server?.caFile,
          },
        },
      ],
      users: [{ name: 'operator', user: { token: token.stdout.trim() } }],
      contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
      'current-context': 'operator',
    }),
    { mode: 0o600 },
  );
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return {
    kubeconfigPath,
    kubeConfig,
    async can(verb, resource, ns) {
      const scope = ns === undefined ? ['--all-namespaces'] : ['--namespace', ns];
      const out = await run(cluster.kubectlPath, [
        '--kubeconfig',
        kubeconfigPath,
        'auth',
        'can-i',
        verb,
        resource,
        ...scope,
      ]);
      // Exit 0 and "yes", or exit 1 and "no"; anything else (e.g. an authentication error) is not an answer.
      const answer = out.stdout.trim();
      if (!['yes', 'no'].includes(answer)) {
        throw new Error(`kubectl auth can-i ${verb} ${resource}: exit ${out.code}: ${out.stderr}`);
      }
      return answer === 'yes';
    },
  };
}

/** The HTTP status of a request that must fail (e.g. 403), or an error if it succeeded. */
export async function statusOf(request: Promise<unknown>): Promise<number> {
  try {
    await request;
  } catch (error) {
    if (error instanceof k8s.ApiException) return error.code;
    throw error;
  }
  throw new Error('the request succeeded');
}
