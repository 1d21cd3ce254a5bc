/**
 * The other way users install the operator: `kubectl apply -k deploy/` through an overlay of their
 * own (another namespace, the local image). It must come up as Pods that become Ready through their
 * probes, elect a leader, and run with the same read-only, non-root settings as the Helm install.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { stringify } from 'yaml';

import { repoRoot, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import { images, realNodeEnabled } from '../support/real-node.ts';

describe('the operator installed with kubectl apply -k (an overlay of deploy/)', function () {
  this.timeout(10 * 60_000);
  let cluster: TestCluster;
  let dir: string | undefined;
  let ns: string;

  before(async function () {
    if (!realNodeEnabled) this.skip(); // CLUSTER_REAL_NODE=0
    this.timeout(40 * 60_000);
    cluster = await useCluster();
    await installCrd(cluster);
    ns = await cluster.newNamespace('kustomize');
    dir = await mkdtemp(path.join(tmpdir(), 'jwtr-overlay-'));
    const [name, tag] = images.operator.split(':');
    await writeFile(
      path.join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        namespace: ns,
        namePrefix: `${ns}-`,
        resources: [path.relative(dir, path.join(repoRoot, 'deploy'))],
        images: [{ name: 'jwt-rotation-operator', newName: name, newTag: tag }],
        // Watch only this namespace: other suites' JwtRotations belong to their own operators.
        patches: [
          // Watch only this namespace (other suites' JwtRotations have their own operators); no pulls.
          {
            target: { kind: 'Deployment' },
            patch: stringify([
              { op: 'replace', path: '/spec/template/spec/containers/0/imagePullPolicy', value: 'Never' },
              {
                op: 'replace',
                path: '/spec/template/spec/containers/0/env/0',
                value: { name: 'WATCH_NAMESPACE', value: ns },
              },
            ]),
          },
          // The overlay's namespace is made by newNamespace(): drop deploy/'s own Namespace object.
          {
            target: { kind: 'Namespace' },
            patch: stringify({
              $patch: 'delete',
              apiVersion: 'v1',
              kind: 'Namespace',
              metadata: { name: 'x' },
            }),
          },
        ],
      }),
    );
  });

  after(async () => {
    if (dir === undefined) return;
    await cluster.kubectl(['delete', '-k', dir, '--wait=false', '--ignore-not-found']);
    await rm(dir, { recursive: true, force: true });
  });

  it('comes up Ready on the real node, two replicas, one leader, read-only and non-root', async () => {
    const applied = await cluster.kubectl(['apply', '-k', dir ?? '']);
    expect(applied.code, applied.stderr).to.equal(0);
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const deployment = await waitFor(
      'the operator Deployment available',
      async () => {
        const list = await apps.listNamespacedDeployment({ namespace: ns });
        const d = list.items[0];
        return d?.status?.availableReplicas === 2 && d.status.readyReplicas === 2 ? d : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.image).to.equal(images.operator);
    expect(container?.securityContext?.readOnlyRootFilesystem).to.equal(true);
    expect(deployment.spec?.template.spec?.securityContext?.runAsNonRoot).to.equal(true);

    const pods = await core.listNamespacedPod({ namespace: ns });
    expect(pods.items).to.have.length(2);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).to.equal('jwtr-node-0');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    }
    // Leader election on a Lease in the install namespace: one of the two pods holds it.
    const coordination = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    const holder = await waitFor('a leader', async () => {
      const leases = await coordination.listNamespacedLease({ namespace: ns });
      return leases.items[0]?.spec?.holderIdentity;
    });
    expect(pods.items.map((p) => p.metadata?.name)).to.include(holder);
  });
});
