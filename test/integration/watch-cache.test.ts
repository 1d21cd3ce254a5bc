/**
 * The operator's watch caches on a real API server (src/adapters/kubernetes/cluster-cache.ts): what
 * they hold of a kwok pod and its Deployment once trimmed, and that a change reaches them.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { POD_TEMPLATE_REVISION_ANNOTATION } from '../../src/api/constants.ts';
import { ClusterCache, type CachedKind } from '../../src/adapters/kubernetes/cluster-cache.ts';
import type { WatchedObject } from '../../src/adapters/kubernetes/informers.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { onKwok, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';

describe('the watch caches on a real API server', function () {
  let cluster: TestCluster;
  let cache: ClusterCache | undefined;

  before(async function () {
    this.timeout(40 * 60_000);
    cluster = await useCluster();
  });

  after(async () => {
    await cache?.stop();
  });

  it('hold a pod as its name, labels, revision annotation, phase and readiness, a Deployment without managedFields, and see a roll', async function () {
    this.timeout(120_000);
    const namespace = await cluster.newNamespace('cache');
    const changes: { kind: CachedKind; name: string }[] = [];
    cache = new ClusterCache(
      cluster.kubeConfig,
      createLogger({ level: 'error', silent: true }),
      [namespace],
      (kind, _ns, name) => changes.push({ kind, name }),
    );
    await cache.start();
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    const labels = { app: 'api' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'api' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: 'rev-1' } },
            spec: {
              ...onKwok,
              containers: [
                {
                  name: 'api',
                  image: 'example.invalid/api:1',
                  envFrom: [{ secretRef: { name: 'api-jwt' } }],
                },
              ],
            },
          },
        },
      },
    });
    const running = (revision: string) => () => {
      const pods = cache?.list<k8s.V1Pod>('Pod', namespace) ?? [];
      return Promise.resolve(
        pods.find(
          (p) =>
            p.metadata?.annotations?.[POD_TEMPLATE_REVISION_ANNOTATION] === revision &&
            p.status?.phase === 'Running' &&
            p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
        ),
      );
    };
    const pod = await waitFor('the pod running and ready in the cache', running('rev-1'), {
      timeoutMs: 60_000,
    });
    expect(pod).to.not.have.property('spec');
    // Of its status, the phase and the Ready condition's status (an OnDelete target's next pod is
    // evicted only while every other one is ready), nothing else.
    expect(pod.status).to.deep.equal({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
    expect(pod.metadata?.labels).to.include(labels);
    expect(pod.metadata).to.not.have.property('managedFields');
    const deployment = cache.get<k8s.V1Deployment & WatchedObject>('Deployment', namespace, 'api')?.found;
    expect(deployment?.spec?.template.metadata?.annotations).to.deep.equal({
      [POD_TEMPLATE_REVISION_ANNOTATION]: 'rev-1',
    });
    expect(deployment?.metadata).to.not.have.property('managedFields');
    // The indexes: a target's pods by its selector, a Secret's readers by its name.
    expect(
      cache.podsSelectedBy(namespace, { matchLabels: labels })?.map((p) => p.metadata?.name),
    ).to.deep.equal([pod.metadata?.name]);
    expect(cache.podsSelectedBy(namespace, { matchLabels: { app: 'web' } })).to.deep.equal([]);
    expect(
      cache.workloadsReading('Deployment', namespace, 'api-jwt')?.map((w) => w.metadata?.name),
    ).to.deep.equal(['api']);
    expect(cache.workloadsReading('Deployment', namespace, 'other')).to.deep.equal([]);

    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'api',
        body: {
          spec: { template: { metadata: { annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: 'rev-2' } } } },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor('the rolled pod running in the cache', running('rev-2'), { timeoutMs: 60_000 });
    expect(changes.filter((c) => c.kind === 'Pod').length).to.be.at.least(2);
  });
});
