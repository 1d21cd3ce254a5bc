/**
 * The rotation engine against a real control plane: etcd, kube-apiserver, the deployment
 * controllers and kwok. The operator runs as its own process, so it can be killed mid-phase.
 */
import { expect } from 'chai';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { onKwok, waitFor, type TestCluster } from '../support/cluster.ts';
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
const BASE64_64_BYTES = /^[A-Za-z0-9+/]{86}==$/;

/**
 * Durations of seconds: the phases the runbook measures in days. The token lifetimes too, so that
 * the default completion, which waits until the old key's tokens have expired, comes within seconds.
 */
const fastSpec = (secretName: string, extra: Partial<JwtRotationSpec> = {}): JwtRotationSpec => ({
  secretName,
  targets: [{ kind: 'Deployment', name: 'api' }],
  tokenTTL: '2s',
  refreshTokenTTL: '5s',
  rollout: { signingDelay: '4s', pollInterval: '500ms' },
  monitoring: { minDuration: '3s', maxDuration: '1m' },
  ...extra,
});

describe('the rotation engine on a real control plane', function () {
  this.timeout(240_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  before(() => ({ cluster, c } = suite));

  it('creates a missing Secret with a 64-byte base64 JWT_SECRET and the TTL keys', async () => {
    const ns = await cluster.newNamespace('create');
    await createJwtRotation(c, ns, 'api', fastSpec('api-jwt', { targets: [] }));
    const values = await waitFor('the Secret', () => secretValues(c, ns, 'api-jwt'));
    expect(values.JWT_SECRET).to.match(BASE64_64_BYTES);
    expect(Buffer.from(values.JWT_SECRET ?? '', 'base64')).to.have.length(64);
    expect(values.JWT_EXPIRATION).to.equal('2s');
    expect(values.JWT_REFRESH_EXPIRATION).to.equal('5s');
    const ready = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false,
    );
    expect(ready.status?.currentKeyFingerprint).to.equal(fingerprint(values.JWT_SECRET ?? ''));
    expect(ready.status?.nextRotationAt).to.be.a('string');
    expect(JSON.stringify(ready.status)).to.not.contain(values.JWT_SECRET);
  });

  it('rotates through DualKey, Monitoring and Completing on request, keeping unrelated keys, and acts once per value', async () => {
    const ns = await cluster.newNamespace('rotate');
    await c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'api-jwt' },
        stringData: { JWT_SECRET: 'original-key-value', DATABASE_URL: 'postgres://db' },
      },
    });
    await createConsumerDeployment(c, ns, 'api', 'api-jwt');
    // Monitoring long enough to read the Deployment in it on a loaded machine (3s could be over first).
    await createJwtRotation(
      c,
      ns,
      'api',
      fastSpec('api-jwt', { monitoring: { minDuration: '20s', maxDuration: '1m' } }),
    );
    await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.currentKeyFingerprint === fingerprint('original-key-value'),
    );
    await waitFor(
      'the Deployment to be available',
      async () => (await isRolledOut(c, ns, 'api')) || undefined,
    );

    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'first' });

    // DualKey, as the runbook's phase 1 writes it.
    const dual = await waitForPhase(
      c,
      ns,
      'api',
      'DualKey',
      (r) => r.status?.newKeyFingerprint !== undefined,
    );
    const during = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(during.JWT_SECRET).to.equal('original-key-value');
    expect(during.JWT_SECRET_CURRENT).to.equal('original-key-value');
    expect(during.JWT_SECRET_NEW).to.match(BASE64_64_BYTES);
    // Published for verification only: nobody signs with the new key until every pod verifies it.
    expect(during.JWT_SECRET_ROTATION_DATE).to.equal('9999-12-31T23:59:59Z');
    expect(during.DATABASE_URL).to.equal('postgres://db');
    const newKey = during.JWT_SECRET_NEW ?? '';

    // Monitoring begins only once every replica runs the dual-key template and the date has come.
    const monitoring = await waitForPhase(c, ns, 'api', 'Monitoring');
    const deployment = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
    expect(deployment.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision']).to.contain(
      fingerprint(newKey),
    );
    expect(await isRolledOut(c, ns, 'api')).to.equal(true);
    // The signing date, set once every pod verified the new key, is when monitoring began.
    const switched = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(Date.parse(switched.JWT_SECRET_ROTATION_DATE ?? '')).to.be.greaterThan(
      Date.parse(dual.status?.rotationStartedAt ?? ''),
    );
    expect(Date.parse(monitoring.status?.monitoringStartedAt ?? '')).to.equal(
      Date.parse(switched.JWT_SECRET_ROTATION_DATE ?? ''),
    );
    const target = monitoring.status?.targets?.find((t) => t.name === 'api');
    expect(target?.pods).to.be.greaterThan(0);
    expect(target?.podsSigningWithNewKey).to.equal(target?.pods);

    // Completion: JWT_SECRET = new, the rotation variables gone, targets rolled again, history recorded.
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
    );
    const after = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(after.JWT_SECRET).to.equal(newKey);
    for (const key of ROTATION_KEYS) expect(after).to.not.have.property(key);
    expect(after.DATABASE_URL).to.equal('postgres://db');
    const rolled = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
    expect(rolled.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision']).to.match(
      new RegExp(`^${fingerprint(newKey)}/`),
    );
    expect(done.status?.lastRotation).to.include({
      trigger: 'Manual',
      outcome: 'Completed',
      previousKeyFingerprint: fingerprint('original-key-value'),
      newKeyFingerprint: fingerprint(newKey),
    });
    expect(done.status?.history).to.have.length(1);
    expect(done.status?.handledRequests?.rotate).to.equal('first');
    expect(Date.parse(done.status?.nextRotationAt ?? '')).to.be.greaterThan(Date.now() + 2000 * 3600_000);

    // The same value again (as GitOps re-applies it) does not start another rotation: once the
    // operator has looked at it and settled, nothing has moved.
    const touched = await annotate(c, ns, 'api', {
      'jwtrotation.io/rotate': 'first',
      'example.com/touched': 'yes',
    });
    await suite.operator.lookedAt(ns, 'api', touched, { wroteNothing: true });
    const still = await getJwtRotation(c, ns, 'api');
    expect(still.status?.phase).to.equal('Idle');
    expect(still.status?.history).to.have.length(1);
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(newKey);

    // Events tell the story with fingerprints, never keys.
    const events = await eventsOf(c, ns);
    const reasons = events.map((e) => e.reason);
    expect(reasons).to.include.members([
      'RotationStarted',
      'MonitoringStarted',
      'CompletionStarted',
      'RotationCompleted',
    ]);
    const messages = events.map((e) => e.message ?? '').join('\n');
    expect(messages).to.not.contain(newKey);
    expect(messages).to.not.contain('original-key-value');
  });

  it('issues no write to the API server in steady state', async () => {
    const ns = await cluster.newNamespace('steady');
    await createConsumerDeployment(c, ns, 'api', 'api-jwt');
    // Steady means nothing left to observe: the Deployment's own rollout has finished too.
    await waitFor(
      'the Deployment to be available',
      async () => (await isRolledOut(c, ns, 'api')) || undefined,
    );
    await createJwtRotation(c, ns, 'api', fastSpec('api-jwt'));
    const settled = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false,
    );
    // Settled: a pass over the latest version wrote nothing.
    await suite.operator.lookedAt(ns, 'api', settled.metadata.resourceVersion ?? '', { wroteNothing: true });
    const writesBefore = await suite.operator.metric('jwtrotation_api_writes_total', { namespace: ns });
    const secretBefore = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });

    // Each metadata change is a watch event, so each one makes the operator look again; each
    // poke waits until the operator has looked at it.
    for (let i = 0; i < 5; i++) {
      const poked = await annotate(c, ns, 'api', { 'example.com/poke': String(i) });
      const pass = await suite.operator.lookedAt(ns, 'api', poked);
      expect(pass.wrote, `the pass over poke ${i} wrote nothing`).to.equal(false);
    }
    const writesAfter = await suite.operator.metric('jwtrotation_api_writes_total', { namespace: ns });
    expect(writesAfter).to.equal(writesBefore);
    const secretAfter = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
    expect(secretAfter.metadata?.resourceVersion).to.equal(secretBefore.metadata?.resourceVersion);
    const after = await getJwtRotation(c, ns, 'api');
    expect(after.status).to.deep.equal(settled.status);
  });

  it('rolls StatefulSet and DaemonSet targets through a rotation as well as Deployments', async () => {
    const ns = await cluster.newNamespace('kinds');
    const template = (app: string) => ({
      metadata: { labels: { app } },
      spec: {
        ...onKwok,
        containers: [
          { name: 'api', image: 'example.invalid/api:1', envFrom: [{ secretRef: { name: 'api-jwt' } }] },
        ],
      },
    });
    await c.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'sessions' },
        spec: {
          replicas: 2,
          serviceName: 'sessions',
          selector: { matchLabels: { app: 'sessions' } },
          template: template('sessions'),
        },
      },
    });
    await c.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: {
        metadata: { name: 'edge' },
        spec: { selector: { matchLabels: { app: 'edge' } }, template: template('edge') },
      },
    });
    await createJwtRotation(
      c,
      ns,
      'api',
      fastSpec('api-jwt', {
        targets: [
          { kind: 'StatefulSet', name: 'sessions' },
          { kind: 'DaemonSet', name: 'edge' },
        ],
      }),
    );
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'kinds' });
    const monitoring = await waitForPhase(c, ns, 'api', 'Monitoring');
    expect(monitoring.status?.targets?.map((t) => [t.kind, t.ready])).to.deep.equal([
      ['StatefulSet', true],
      ['DaemonSet', true],
    ]);
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
    );
    const key = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    const sts = await c.apps.readNamespacedStatefulSet({ namespace: ns, name: 'sessions' });
    const ds = await c.apps.readNamespacedDaemonSet({ namespace: ns, name: 'edge' });
    for (const workload of [sts, ds]) {
      expect(workload.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision']).to.match(
        new RegExp(`^${fingerprint(key)}/`),
      );
    }
    expect(sts.status?.updatedReplicas).to.equal(2);
    expect(sts.status?.currentRevision).to.equal(sts.status?.updateRevision);
    expect(ds.status?.numberAvailable).to.equal(ds.status?.desiredNumberScheduled);
    expect(done.status?.targets?.every((t) => t.ready)).to.equal(true);
  });

  for (const phase of ['DualKey', 'Monitoring', 'Completing'] as const) {
    it(`resumes correctly after the operator is killed in ${phase}`, async () => {
      const ns = await cluster.newNamespace(`restart-${phase.toLowerCase()}`);
      await createConsumerDeployment(c, ns, 'api', 'api-jwt', 3);
      await createJwtRotation(
        c,
        ns,
        'api',
        fastSpec('api-jwt', { monitoring: { minDuration: '5s', maxDuration: '1m' } }),
      );
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      const original = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET ?? '';
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': `restart-${phase}` });
      // Every rotation passes through DualKey (for at least signingDelay): the new key is known from there.
      await waitForPhase(c, ns, 'api', 'DualKey', (r) => r.status?.newKeyFingerprint !== undefined, 60_000);
      const newKey = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET_NEW ?? '';
      expect(newKey).to.match(BASE64_64_BYTES);
      if (phase !== 'DualKey') await waitForPhase(c, ns, 'api', phase, () => true, 60_000);

      await suite.operator.stop('SIGKILL');
      // What the phase must leave in the Secret. Status is written after the Secret in a pass, so
      // the status phase tells which Secret write has happened; Monitoring lasts minDuration (5s)
      // and writes nothing to the Secret, so the kill lands well inside the phase.
      const atKill = (await secretValues(c, ns, 'api-jwt')) ?? {};
      if (phase === 'Completing') {
        // The completion write: the new key signs and verifies alone; the rotation keys are gone.
        expect(atKill.JWT_SECRET).to.equal(newKey);
        for (const key of ROTATION_KEYS) expect(atKill).to.not.have.property(key);
      } else {
        // The dual-key write: the original still signs, both keys verify, the date is set.
        expect(atKill).to.include({
          JWT_SECRET: original,
          JWT_SECRET_CURRENT: original,
          JWT_SECRET_NEW: newKey,
        });
        expect(Date.parse(atKill.JWT_SECRET_ROTATION_DATE ?? '')).to.not.be.NaN;
      }
      // Down for a while, as a crashed pod is before its restart: rollouts carry on meanwhile.
      // (Not a "nothing happened" check: the assertions above read the Secret at the kill.)
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await suite.restartOperator();

      const done = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'Completed',
      );
      const final = (await secretValues(c, ns, 'api-jwt')) ?? {};
      expect(final.JWT_SECRET, 'the key made before the kill, not another').to.equal(newKey);
      for (const key of ROTATION_KEYS) expect(final).to.not.have.property(key);
      expect(done.status?.history, 'one rotation, not two').to.have.length(1);
      expect(done.status?.lastRotation?.previousKeyFingerprint).to.equal(fingerprint(original));
      expect(await isRolledOut(c, ns, 'api')).to.equal(true);
    });
  }
});
