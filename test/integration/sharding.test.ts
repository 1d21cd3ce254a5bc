/**
 * Sharding by label selector (issue 13): two operator processes, SHARD_SELECTOR=shard=a and
 * shard=b, each with its own Lease. Each rotates only the JwtRotations that match its selector:
 * shown by each object's status and Events, by the Lease each shard holds, and by the other shard's
 * passes (it looked at a later change and never at the other shard's object).
 */
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { annotate, eventsOf, waitForPhase } from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const spec = (secretName: string): JwtRotationSpec => ({
  secretName,
  targets: [],
  tokenTTL: '15m',
  refreshTokenTTL: '1h',
  rollout: { signingDelay: '1s', pollInterval: '500ms' },
  monitoring: { minDuration: '1s', maxDuration: '1m', requireOldTokenExpiry: false },
});

describe('sharding by label selector', function () {
  this.timeout(240_000);
  const suite = operatorSuite({ withOperator: false });
  const shards: OperatorProcess[] = [];
  after(async () => {
    for (const s of shards) await s.stop();
    for (const s of shards) expect(s.output()).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
  });

  it('lets each of two shards rotate only the JwtRotations its selector matches, each holding its own Lease', async () => {
    const { cluster, c } = suite;
    const ns = await cluster.newNamespace('shards');
    for (const shard of ['a', 'b']) {
      await c.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'JwtRotation',
          metadata: { name: `api-${shard}`, labels: { 'example.com/shard': shard } },
          spec: spec(`api-${shard}-jwt`),
        },
      });
    }
    for (const shard of ['a', 'b']) {
      shards.push(
        await startOperatorProcess({
          kubeconfigPath: cluster.kubeconfigPath,
          env: {
            SHARD_SELECTOR: `example.com/shard=${shard}`,
            LEADER_ELECTION: 'true',
            LEASE_NAMESPACE: ns,
            LEASE_NAME: `jwt-rotation-operator-shard-${shard}`,
            POD_NAME: `shard-${shard}`,
            LEASE_DURATION_MS: '4000',
            LEASE_RETRY_PERIOD_MS: '500',
          },
        }),
      );
    }
    const [a, b] = shards as [OperatorProcess, OperatorProcess];

    // Each creates its own Secret and settles.
    await waitForPhase(c, ns, 'api-a', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await waitForPhase(c, ns, 'api-b', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);

    // A rotation on each.
    await annotate(c, ns, 'api-b', { 'jwtrotation.io/rotate': 'one' });
    await annotate(c, ns, 'api-a', { 'jwtrotation.io/rotate': 'one' });
    for (const name of ['api-a', 'api-b']) {
      await waitForPhase(c, ns, name, 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
    }

    // The other shard's view: a change to api-b, then a later one to api-a. Shard a has looked at
    // api-a's later change, so its watch has passed api-b's earlier one: it never looked at api-b.
    const rvB = await annotate(c, ns, 'api-b', { 'example.com/touched': '1' });
    const rvA = await annotate(c, ns, 'api-a', { 'example.com/touched': '1' });
    await a.lookedAt(ns, 'api-a', rvA, { wroteNothing: true });
    await b.lookedAt(ns, 'api-b', rvB, { wroteNothing: true });
    const rvA2 = await annotate(c, ns, 'api-a', { 'example.com/touched': '2' });
    const rvB2 = await annotate(c, ns, 'api-b', { 'example.com/touched': '2' });
    await b.lookedAt(ns, 'api-b', rvB2, { wroteNothing: true });
    await a.lookedAt(ns, 'api-a', rvA2, { wroteNothing: true });
    const passesOver = (o: OperatorProcess, name: string): number =>
      o.logs.filter((l) => l.message === 'pass done' && l.namespace === ns && l.name === name).length;
    expect(passesOver(a, 'api-b'), 'shard a passes over api-b').to.equal(0);
    expect(passesOver(b, 'api-a'), 'shard b passes over api-a').to.equal(0);
    expect(passesOver(a, 'api-a')).to.be.greaterThan(0);
    expect(passesOver(b, 'api-b')).to.be.greaterThan(0);
    // Who acted: each shard logged the rotation of its own object only.
    const acted = (o: OperatorProcess): string[] => [
      ...new Set(o.logs.filter((l) => l.message === 'acting').map((l) => String(l.name))),
    ];
    expect(acted(a)).to.deep.equal(['api-a']);
    expect(acted(b)).to.deep.equal(['api-b']);

    // Each object's story is complete, once.
    for (const name of ['api-a', 'api-b']) {
      const reasons = (await eventsOf(c, ns, name)).map((e) => e.reason);
      expect(reasons, name).to.include.members(['RotationStarted', 'RotationCompleted']);
    }

    // Each shard holds its own Lease.
    const leases = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    for (const shard of ['a', 'b']) {
      const lease = await leases.readNamespacedLease({
        namespace: ns,
        name: `jwt-rotation-operator-shard-${shard}`,
      });
      expect(lease.spec?.holderIdentity).to.equal(`shard-${shard}`);
    }
  });
});
