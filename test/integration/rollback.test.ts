/**
 * The rollback annotation and emergency rotation on a real control plane, from every phase.
 */
import { expect } from 'chai';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  isRolledOut,
  secretValues,
  waitForPhase,
  eventsOf,
  type Clients,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const ROTATION_KEYS = ['JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE'];

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  rollout: { signingDelay: '4s', pollInterval: '500ms' },
  monitoring: { minDuration: '6s', maxDuration: '1m', requireOldTokenExpiry: false },
};

describe('rollback and emergency rotation on a real control plane', function () {
  this.timeout(240_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  before(() => ({ cluster, c } = suite));

  async function setUp(prefix: string, replicas = 3): Promise<{ ns: string; original: string }> {
    const ns = await cluster.newNamespace(prefix);
    await createConsumerDeployment(c, ns, 'api', 'api-jwt', replicas);
    await createJwtRotation(c, ns, 'api', spec);
    const idle = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.currentKeyFingerprint !== undefined,
    );
    const original = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    expect(idle.status?.currentKeyFingerprint).to.equal(fingerprint(original));
    return { ns, original };
  }

  async function expectRolledBackTo(ns: string, original: string): Promise<void> {
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack',
    );
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET).to.equal(original);
    for (const key of ROTATION_KEYS) expect(values).to.not.have.property(key);
    expect(done.status?.lastRotation?.reason).to.equal('RollbackRequested');
    expect(done.status?.currentKeyFingerprint).to.equal(fingerprint(original));
    const deployment = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
    expect(deployment.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision']).to.match(
      new RegExp(`^${fingerprint(original)}/`),
    );
    expect(await isRolledOut(c, ns, 'api')).to.equal(true);
    // Events are written after the status that records the outcome: wait for them.
    const events = await waitFor('the RollbackStarted and RolledBack Events', async () => {
      const all = await eventsOf(c, ns);
      const reasons = all.map((e) => e.reason);
      return reasons.includes('RollbackStarted') && reasons.includes('RolledBack') ? all : undefined;
    });
    expect(events.map((e) => e.reason)).to.include.members(['RollbackStarted', 'RolledBack']);
  }

  for (const phase of ['DualKey', 'Monitoring', 'Completing'] as const) {
    it(`restores the original key when the rollback annotation is set in ${phase}`, async () => {
      const { ns, original } = await setUp(`rollback-${phase.toLowerCase()}`);
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
      await waitForPhase(c, ns, 'api', phase, () => true, 60_000);
      await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': `from-${phase}` });
      await expectRolledBackTo(ns, original);
    });
  }

  it('restores the original key after completion, and a repeated value does nothing', async () => {
    const { ns, original } = await setUp('rollback-after');
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
    const rotated = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET;
    expect(rotated).to.not.equal(original);

    await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'after' });
    await expectRolledBackTo(ns, original);
    const settled = await getJwtRotation(c, ns, 'api');
    expect(settled.status?.history).to.have.length(2);
    expect(settled.status?.lastRotation?.previousKeyFingerprint).to.equal(fingerprint(rotated ?? ''));

    // Applying the same value again (as GitOps does on every sync) changes nothing.
    const before = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
    const resynced = await annotate(c, ns, 'api', {
      'jwtrotation.io/rollback': 'after',
      'example.com/resync': '1',
    });
    await suite.operator.lookedAt(ns, 'api', resynced, { wroteNothing: true });
    const after = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
    expect(after.metadata?.resourceVersion).to.equal(before.metadata?.resourceVersion);
    expect((await getJwtRotation(c, ns, 'api')).status?.history).to.have.length(2);
  });

  it('replaces the key at once on an emergency rotation, without a dual-key phase', async () => {
    const { ns, original } = await setUp('emergency');
    await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'leak-1' });
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.trigger === 'Emergency',
    );
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET).to.not.equal(original);
    expect(Buffer.from(values.JWT_SECRET ?? '', 'base64')).to.have.length(64);
    for (const key of ROTATION_KEYS) expect(values).to.not.have.property(key);
    expect(done.status?.lastRotation).to.include({
      outcome: 'Completed',
      previousKeyFingerprint: fingerprint(original),
    });
    const events = await eventsOf(c, ns);
    const reasons = events.map((e) => e.reason);
    expect(reasons).to.include('EmergencyRotation');
    expect(reasons).to.not.include('MonitoringStarted');
    expect(await isRolledOut(c, ns, 'api')).to.equal(true);
  });
});
