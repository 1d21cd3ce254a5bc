/**
 * Metrics-gated rotations end to end: the operator (its own process) on the real control plane,
 * a real Prometheus (Debian's package) scraping the reference consumer, and a load generator
 * driving the consumer with tokens signed by the old and the new key.
 */
import { expect } from 'chai';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { waitFor, type TestCluster } from '../support/cluster.ts';
import { startGatedEnvironment, type GatedEnvironment } from '../support/gated-env.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  secretValues,
  waitForPhase,
  eventsOf,
  type Clients,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const condition = (r: JwtRotation, type: string) => r.status?.conditions?.find((c) => c.type === type);

/**
 * Seconds instead of days; a 10 s query window so a change of traffic shows within seconds.
 * The latency bound is relaxed: on a loaded 2-core test machine a healthy consumer's p99 swings
 * past 50 ms; the latency gate itself is covered by test/integration/prometheus-gate.test.ts.
 */
function gatedSpec(
  prometheusUrl: string,
  monitoring: Partial<NonNullable<JwtRotationSpec['monitoring']>> = {},
): JwtRotationSpec {
  return {
    secretName: 'api-jwt',
    targets: [{ kind: 'Deployment', name: 'api' }],
    rollout: { signingDelay: '3s', pollInterval: '500ms' },
    monitoring: {
      minDuration: '6s',
      // The runbook's completion on the gate, without waiting for the old key's tokens.
      requireOldTokenExpiry: false,
      maxDuration: '5m',
      prometheus: {
        url: prometheusUrl,
        interval: '1s',
        timeout: '2s',
        window: '10s',
        thresholds: { minSamples: 20, maxValidationLatencyP99Seconds: 1 },
      },
      ...monitoring,
    },
  };
}

describe('metrics-gated rotation with a real Prometheus and the reference consumer', function () {
  this.timeout(300_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  let env: GatedEnvironment | undefined;
  before(() => ({ cluster, c } = suite));

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  /** A namespace with a Deployment, a JwtRotation gated on a fresh Prometheus, and old-key traffic. */
  async function setUp(
    prefix: string,
    monitoring: Partial<NonNullable<JwtRotationSpec['monitoring']>> = {},
  ): Promise<{ ns: string; env: GatedEnvironment; original: string }> {
    const ns = await cluster.newNamespace(prefix);
    await createConsumerDeployment(c, ns, 'api', 'api-jwt');
    await c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'api-jwt' },
        stringData: { JWT_SECRET: Buffer.from(`${prefix}-${Date.now()}`).toString('base64') },
      },
    });
    env = await startGatedEnvironment(c, ns, 'api-jwt');
    await createJwtRotation(c, ns, 'api', gatedSpec(env.prometheus.url, monitoring));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    return { ns, env, original: env.keys.old };
  }

  /** Starts a rotation and waits until the consumer holds the new key. */
  async function rotate(ns: string, e: GatedEnvironment): Promise<string> {
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': `gated-${Date.now()}` });
    return waitFor('the new key', () => Promise.resolve(e.keys.new), { timeoutMs: 30_000 });
  }

  it('stays in Monitoring with the readings in status below 95% new-key traffic, and completes once it passes 95%', async () => {
    const { ns, env: e } = await setUp('gate-complete');
    const newKey = await rotate(ns, e);
    e.setNewShare(0.5);

    // Past minDuration, with half the traffic on the new key: no completion.
    // Generous: on a loaded machine kwok's pods and the rolls take longer than the default wait.
    const monitoring = await waitForPhase(c, ns, 'api', 'Monitoring', () => true, 240_000);
    const started = Date.parse(monitoring.status?.monitoringStartedAt ?? '');
    await waitFor('minDuration to pass with readings', async () => {
      const r = await getJwtRotation(c, ns, 'api');
      return Date.now() > started + 9000 && r.status?.gate?.readings?.newKeyShare !== undefined
        ? r
        : undefined;
    });
    const held = await getJwtRotation(c, ns, 'api');
    expect(held.status?.phase).to.equal('Monitoring');
    expect(held.status?.gate?.completion).to.not.equal('Pass');
    expect(held.status?.gate?.readings?.newKeyShare).to.be.within(0.3, 0.7);
    expect(held.status?.gate?.readings?.samples).to.be.greaterThan(20);
    expect(held.status?.gate?.health).to.equal('Pass');
    expect(condition(held, 'MetricsAvailable')?.status).to.equal('True');
    const printed = await cluster.kubectl(['get', 'jwtrotation', 'api', '-o', 'wide'], { namespace: ns });
    expect(printed.stdout).to.match(/Monitoring/);
    expect(
      await suite.operator.metric('jwtrotation_gate_reading', { namespace: ns, reading: 'newKeyShare' }),
    ).to.be.within(0.3, 0.7);

    // 97% of the traffic on the new key: the gate passes and the rotation completes.
    e.setNewShare(0.97);
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
      120_000,
    );
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(newKey);
    const events = await eventsOf(c, ns);
    const completion = events.find((ev) => ev.reason === 'CompletionStarted');
    expect(completion?.message).to.match(/new-key share (9[5-9]|100)(\.\d+)?%/);
    expect(done.status?.history).to.have.length(1);
  });

  it('rolls back automatically when the consumer starts failing validations', async () => {
    const { ns, env: e, original } = await setUp('gate-rollback');
    await rotate(ns, e);
    e.setNewShare(0.5);
    await waitForPhase(c, ns, 'api', 'Monitoring');
    const fail = await fetch(`${e.consumer.url}/debug/fail?rate=0.2&mode=error`, { method: 'POST' });
    expect(fail.ok).to.equal(true);

    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      120_000,
    );
    expect(done.status?.lastRotation?.reason).to.equal('HealthGateFailed');
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET).to.equal(original);
    expect(values).to.not.have.any.keys('JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE');
    const events = await eventsOf(c, ns);
    const started = events.find((ev) => ev.reason === 'RollbackStarted');
    expect(started?.message).to.match(/health gate failed: .*(auth success|error)/i);
  });

  it('pauses with failurePolicy Pause, says why, and takes no further step', async () => {
    const { ns, env: e } = await setUp('gate-pause', { failurePolicy: 'Pause' });
    const newKey = await rotate(ns, e);
    // Half the traffic on the new key holds Monitoring (the gate's completion check) until the failures
    // come, however long the rolls take on a loaded machine.
    e.setNewShare(0.5);
    await waitForPhase(c, ns, 'api', 'Monitoring');
    await fetch(`${e.consumer.url}/debug/fail?rate=0.2&mode=error`, { method: 'POST' });

    const paused = await waitForPhase(c, ns, 'api', 'Paused', () => true, 60_000);
    expect(condition(paused, 'Stalled')).to.include({ status: 'True', reason: 'HealthGateFailed' });
    expect(condition(paused, 'Stalled')?.message).to.match(/Paused by monitoring.failurePolicy/);
    // Even with the failures gone and 97% on the new key, a paused rotation waits for a human:
    // the operator reads the gate again, finds it healthy, and stays Paused.
    const fixedAt = Date.now();
    e.setNewShare(0.97);
    await fetch(`${e.consumer.url}/debug/fail?rate=0`, { method: 'POST' });
    const still = await waitFor(
      'a healthy gate reading taken after the failures stopped',
      async () => {
        const r = await getJwtRotation(c, ns, 'api');
        if (r.status?.phase !== 'Paused') throw new Error(`left Paused for ${r.status?.phase ?? 'none'}`);
        // checkedAt is in whole seconds, rounded down: a second more is certainly after the fix.
        const checkedAt = Date.parse(r.status.gate?.checkedAt ?? '');
        return checkedAt >= fixedAt + 1000 && r.status.gate?.health === 'Pass' ? r : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(still.status?.phase).to.equal('Paused');
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET_NEW).to.equal(newKey);
  });

  it('holds the phase while Prometheus is down, says so, and completes once it is back', async () => {
    const { ns, env: e } = await setUp('gate-outage');
    const newKey = await rotate(ns, e);
    // Half the traffic on the new key holds Monitoring however long the rolls take on a loaded machine;
    // once Prometheus is down, the traffic moves to 97% (the gate would pass, could it read).
    e.setNewShare(0.5);
    await waitForPhase(c, ns, 'api', 'Monitoring', () => true, 240_000);
    await e.prometheus.kill();
    e.setNewShare(0.97);

    const held = await waitForPhase(
      c,
      ns,
      'api',
      'Monitoring',
      (r) => condition(r, 'MetricsAvailable')?.status === 'False',
    );
    expect(condition(held, 'MetricsAvailable')?.reason).to.equal('PrometheusUnreachable');
    expect(condition(held, 'MetricsAvailable')?.message).to.match(/holding the phase/);
    // A failed reading taken well past minDuration (6s): still no completion and no rollback on
    // missing data.
    const monitoringSince = Date.parse(held.status?.monitoringStartedAt ?? '');
    expect(monitoringSince).to.not.be.NaN;
    const still = await waitFor(
      'a failed gate reading taken 3s past minDuration',
      async () => {
        const r = await getJwtRotation(c, ns, 'api');
        if (r.status?.phase !== 'Monitoring')
          throw new Error(`left Monitoring for ${r.status?.phase ?? 'none'}`);
        const checkedAt = Date.parse(r.status.gate?.checkedAt ?? '');
        return condition(r, 'MetricsAvailable')?.status === 'False' && checkedAt >= monitoringSince + 9000
          ? r
          : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(still.status?.phase).to.equal('Monitoring');
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET_NEW).to.equal(newKey);
    const events = await eventsOf(c, ns);
    expect(events.map((ev) => ev.reason)).to.include('PrometheusUnreachable');

    await e.prometheus.restart();
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
      120_000,
    );
    expect(done.status?.lastRotation?.newKeyFingerprint).to.equal(done.status?.currentKeyFingerprint);
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(newKey);
  });
});
