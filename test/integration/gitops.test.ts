/**
 * Driving the operator the way GitOps tools do: the same manifests applied again and again with
 * server-side apply under a controller's field manager (as Argo CD and Flux do).
 */
import { expect } from 'chai';
import { stringify } from 'yaml';
import { onKwok, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  createConsumerDeployment,
  getJwtRotation,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { testShardLabels } from '../support/test-shard.ts';

describe('GitOps: manifests synced repeatedly with server-side apply', function () {
  this.timeout(240_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  before(() => ({ cluster, c } = suite));

  /** kubectl apply --server-side as a GitOps controller would, with its own field manager. */
  async function sync(ns: string, manifest: object): Promise<void> {
    const result = await cluster.kubectl(
      ['apply', '--server-side', '--field-manager=gitops-controller', '--force-conflicts', '-f', '-'],
      { namespace: ns, input: stringify(manifest) },
    );
    expect(result.code, result.stderr).to.equal(0);
  }

  const jwtRotation = (rotate: string) => ({
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: { name: 'api', labels: testShardLabels(), annotations: { 'jwtrotation.io/rotate': rotate } },
    spec: {
      secretName: 'api-jwt',
      targets: [{ kind: 'Deployment', name: 'api' }],
      rollout: { signingDelay: '3s', pollInterval: '500ms' },
      monitoring: { minDuration: '2s', maxDuration: '1m', requireOldTokenExpiry: false },
    },
  });

  it('rotates once per new annotation value, however often the same manifest is synced', async () => {
    const ns = await cluster.newNamespace('gitops');
    await createConsumerDeployment(c, ns, 'api', 'api-jwt');

    // The first sync carries a value from an earlier life of this manifest: recorded, not acted on.
    await sync(ns, jwtRotation('2026-01-01'));
    const first = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.handledRequests?.rotate === '2026-01-01',
    );
    expect(first.status?.history ?? []).to.have.length(0);

    // A commit changes the value: one rotation.
    await sync(ns, jwtRotation('2026-04-01'));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');

    // The controller keeps syncing the same manifest: nothing more happens. An unchanged apply
    // may not even change the object; either way, once the operator has finished a pass over
    // the latest version and wrote nothing, it has seen every sync.
    for (let i = 0; i < 3; i++) await sync(ns, jwtRotation('2026-04-01'));
    const synced = await getJwtRotation(c, ns, 'api');
    await suite.operator.lookedAt(ns, 'api', synced.metadata.resourceVersion ?? '', { wroteNothing: true });
    const after = await getJwtRotation(c, ns, 'api');
    expect(after.status?.history).to.have.length(1);
    expect(after.status?.phase).to.equal('Idle');
    // The operator never writes the user's metadata or spec, so the manifest stays in sync.
    expect(after.metadata.annotations?.['jwtrotation.io/rotate']).to.equal('2026-04-01');
    // Only the GitOps manager owns fields outside the status subresource.
    const managed =
      (after.metadata as { managedFields?: { manager?: string; subresource?: string }[] }).managedFields ??
      [];
    const owners = managed.filter((f) => f.subresource !== 'status').map((f) => f.manager);
    expect(owners).to.deep.equal(['gitops-controller']);
    expect(
      managed.some((f) => f.subresource === 'status'),
      'the operator wrote status',
    ).to.equal(true);
  });

  it('keeps the pod-template revision annotation when the Deployment manifest is synced by another field manager', async () => {
    const ns = await cluster.newNamespace('gitops-deploy');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'api' } },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: {
            ...onKwok,
            containers: [
              { name: 'api', image: 'example.invalid/api:1', envFrom: [{ secretRef: { name: 'api-jwt' } }] },
            ],
          },
        },
      },
    };
    await sync(ns, deployment);
    await sync(ns, jwtRotation('v1'));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await sync(ns, jwtRotation('v2'));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
    const revision = async (): Promise<string | undefined> =>
      (await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' })).spec?.template.metadata
        ?.annotations?.['jwtrotation.io/secret-revision'];
    const rolled = await revision();
    expect(rolled).to.be.a('string');

    await sync(ns, deployment);
    expect(await revision(), 'a sync of the manifest does not remove the operator-owned annotation').to.equal(
      rolled,
    );
    const generation = (await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' })).metadata
      ?.generation;
    await sync(ns, deployment);
    expect(
      (await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' })).metadata?.generation,
    ).to.equal(generation);
    await waitFor('the JwtRotation to stay Ready', async () => {
      const r = await getJwtRotation(c, ns, 'api');
      return r.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? r : undefined;
    });
  });
});
