/**
 * The promise: no pod ever signs with a key that another serving pod cannot verify, whatever the
 * rollout timing, and no healthy rotation is ended by a false alarm. One describe per hole found
 * in review (issue "No valid token rejected, whatever the rollout timing"); each failed on the
 * single-roll design that moved the signing date.
 */
import { expect } from 'chai';

import type { JwtRotationSpec } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { Action, GateObservation } from '../../src/rotation/model.ts';
import { NOT_SCHEDULED, signsWithKey, verifiesKey } from '../../src/rotation/revision.ts';
import { aJwtRotation, anInput, aSecret, aTarget, HOUR, SECOND, T0 } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [
    { kind: 'Deployment', name: 'api' },
    { kind: 'Deployment', name: 'web' },
  ],
  // Short token lifetimes: by default completion waits until the old key's tokens have expired.
  tokenTTL: '20s',
  refreshTokenTTL: '40s',
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  monitoring: { minDuration: '30s', maxDuration: '60s' },
  schedule: { interval: '24h' },
};

/** The key each world started with: pods never rolled by the operator (no revision) hold it. */
const startKeys = new WeakMap<SimulatedWorld, string>();

function world(overrides: Partial<JwtRotationSpec> = {}, targets = ['api', 'web']): SimulatedWorld {
  const listed = targets.map((name) => ({ kind: 'Deployment' as const, name }));
  const w = new SimulatedWorld({ ...spec, targets: listed, ...overrides }, T0, targets);
  w.settle();
  startKeys.set(w, w.secretView()?.fingerprints.JWT_SECRET ?? '');
  return w;
}

/** Every pod's revision in the world, listed targets and (unless left out) unlisted consumers. */
function podRevisions(w: SimulatedWorld, withConsumers = true): string[] {
  const views = [...w.targetViews(), ...(withConsumers ? w.consumerViews() : [])];
  const start = `${startKeys.get(w) ?? 'none'}//`;
  return views.flatMap((t) => (t.pods ?? []).map((p) => p.revision ?? start));
}

/** The invariant: whatever key a pod signs with now, every other pod verifies. */
function assertEveryTokenVerifiable(w: SimulatedWorld, withConsumers = true): void {
  const pods = podRevisions(w, withConsumers);
  const keys = [w.secretView()?.fingerprints.JWT_SECRET, w.secretView()?.fingerprints.JWT_SECRET_NEW];
  for (const signer of pods) {
    for (const key of keys) {
      if (key === undefined || !signsWithKey(signer, key, w.now)) continue;
      for (const verifier of pods) {
        expect(verifiesKey(verifier, key), `a pod signs with ${key} that a pod on ${verifier} cannot verify`)
          .to.be.true;
      }
    }
  }
}

/** Steps the world second by second until the phase is reached, checking the invariant at each step. */
function runUntil(w: SimulatedWorld, phase: string, limit = 2000): void {
  for (let i = 0; i < limit; i++) {
    w.pass();
    assertEveryTokenVerifiable(w);
    if (w.status?.phase === phase && i > 0) return;
    w.now += SECOND;
  }
  throw new Error(`phase ${phase} not reached; stuck in ${w.status?.phase ?? 'none'}`);
}

function rollsOf(decisions: Action[][], name: string): number {
  return decisions.flat().filter((a) => a.type === 'RollTargets' && a.targets.some((t) => t.name === name))
    .length;
}

/** Runs a whole rotation to Idle, collecting every action. */
function rotate(w: SimulatedWorld, withConsumers = true): Action[][] {
  const actions: Action[][] = [];
  w.annotations['jwtrotation.io/rotate'] = 'go';
  for (let i = 0; i < 5000; i++) {
    const d = w.pass();
    actions.push(d.actions);
    assertEveryTokenVerifiable(w, withConsumers);
    if (w.status?.phase === 'Idle' && w.status.lastRotation !== undefined) return actions;
    w.now += SECOND;
  }
  throw new Error(`rotation did not end; phase ${w.status?.phase ?? 'none'}`);
}

describe('zero downtime, whatever the rollout timing', () => {
  describe('a rollout slower than signingDelay (holes 1 and 5)', () => {
    it('keeps the new key verify-only until every pod of every target verifies it, without re-rolling', () => {
      const w = world();
      w.rolloutLooks = 120; // two minutes per rollout, twelve times signingDelay
      w.annotations['jwtrotation.io/rotate'] = 'go';
      const actions: Action[][] = [];
      for (let i = 0; i < 100; i++) {
        actions.push(w.pass().actions);
        assertEveryTokenVerifiable(w);
        w.now += SECOND;
      }
      expect(w.secret?.values.JWT_SECRET_ROTATION_DATE).to.equal(NOT_SCHEDULED);
      expect(rollsOf(actions, 'api')).to.equal(1);
      expect(w.events.map((e) => e.reason)).to.not.include('RotationDateMoved');
    });

    it('converges: a rotation with every rollout slower than any delay rolls each target exactly three times', () => {
      const w = world();
      w.rolloutLooks = 120;
      const actions = rotate(w);
      expect(w.status?.lastRotation?.outcome).to.equal('Completed');
      // Publish (verify the new key), switch (learn the signing date), complete (the new key alone).
      expect(rollsOf(actions, 'api')).to.equal(3);
      expect(rollsOf(actions, 'web')).to.equal(3);
    });

    it('sets the signing date only after the publish roll, and every pod learns it before Monitoring', () => {
      const w = world();
      w.rolloutLooks = 30;
      w.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(w, 'Monitoring');
      const date = w.secret?.values.JWT_SECRET_ROTATION_DATE ?? '';
      expect(date).to.not.equal(NOT_SCHEDULED);
      expect(w.now).to.be.at.least(Date.parse(date));
      const newKey = w.secretView()?.fingerprints.JWT_SECRET_NEW;
      for (const rev of podRevisions(w)) expect(signsWithKey(rev, newKey, w.now)).to.be.true;
    });
  });

  describe('pods of an old revision still running (hole 6)', () => {
    it('holds the signing date while a pod started before the new key existed is still there', () => {
      const w = world();
      w.oldPodLooks = 40; // terminating pods linger 40 s after the Deployment reports the rollout complete
      w.annotations['jwtrotation.io/rotate'] = 'go';
      for (let i = 0; i < 30; i++) {
        w.pass();
        w.now += SECOND;
      }
      expect(w.targetViews()[0]?.rollout).to.equal('Complete');
      expect(w.secret?.values.JWT_SECRET_ROTATION_DATE).to.equal(NOT_SCHEDULED);
      runUntil(w, 'Monitoring');
    });

    it('reports per target how many pods verify and how many sign with the new key', () => {
      const w = world();
      w.oldPodLooks = 5;
      w.annotations['jwtrotation.io/rotate'] = 'go';
      w.pass();
      w.pass();
      w.now += SECOND;
      w.pass();
      const api = w.status?.targets?.find((t) => t.name === 'api');
      expect(api).to.include({ pods: 2, podsVerifyingNewKey: 1, podsSigningWithNewKey: 0 });
      runUntil(w, 'Monitoring');
      expect(w.status?.targets?.find((t) => t.name === 'api')).to.include({
        pods: 1,
        podsVerifyingNewKey: 1,
        podsSigningWithNewKey: 1,
      });
    });
  });

  describe('consumers nobody listed (hole 2)', () => {
    it('rolls a workload that reads the Secret with the targets by default (Roll), and says so in status', () => {
      const w = world({}, ['api']);
      w.addConsumer('worker');
      const actions = rotate(w);
      expect(rollsOf(actions, 'worker')).to.equal(3);
      expect(w.status?.unlistedConsumers).to.deep.equal([{ kind: 'Deployment', name: 'worker' }]);
      expect(w.status?.targets?.find((t) => t.name === 'worker')).to.include({
        discovered: true,
        ready: true,
      });
    });

    it('with Block, starts no rotation and names each unlisted consumer in a Stalled condition and an Event', () => {
      const w = world({ unlistedConsumers: 'Block' }, ['api']);
      w.addConsumer('worker');
      w.annotations['jwtrotation.io/rotate'] = 'go';
      w.pass();
      expect(w.secret?.values.JWT_SECRET_NEW).to.be.undefined;
      const stalled = w.status?.conditions?.find((c) => c.type === 'Stalled');
      expect(stalled).to.include({ status: 'True', reason: 'UnlistedConsumers' });
      expect(stalled?.message).to.contain('Deployment worker');
      expect(w.events.map((e) => e.reason)).to.include('UnlistedConsumers');
      // Listed now: the pending request acts.
      w.spec = { ...w.spec, targets: [...(w.spec.targets ?? []), { kind: 'Deployment', name: 'worker' }] };
      w.targets.push(...w.unlisted.splice(0));
      w.pass(); // the checklist saves the rollback copy
      w.pass();
      expect(w.secret?.values.JWT_SECRET_NEW).to.be.a('string');
    });

    it('with Block, an emergency rotation still runs', () => {
      const w = world({ unlistedConsumers: 'Block' }, ['api']);
      w.addConsumer('worker');
      const before = w.secret?.values.JWT_SECRET;
      w.annotations['jwtrotation.io/emergency-rotate'] = 'leak';
      w.pass();
      expect(w.secret?.values.JWT_SECRET).to.not.equal(before);
    });

    it('with Ignore, rotates without rolling the unlisted consumer but lists it in status', () => {
      const w = world({ unlistedConsumers: 'Ignore' }, ['api']);
      w.addConsumer('worker');
      // The user chose to ignore it: it is left on the old key, which is exactly what Ignore means.
      const actions = rotate(w, false);
      expect(rollsOf(actions, 'worker')).to.equal(0);
      expect(w.status?.unlistedConsumers).to.deep.equal([{ kind: 'Deployment', name: 'worker' }]);
    });
  });

  describe('tokens the old key signed, at completion (hole 3)', () => {
    it('shows until when old-key tokens can be valid: the signing date plus the longer TTL', () => {
      const w = world();
      w.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(w, 'Monitoring');
      const date = Date.parse(w.secret?.values.JWT_SECRET_ROTATION_DATE ?? '');
      expect(Date.parse(w.status?.oldKeyTokensValidUntil ?? '')).to.equal(date + 40 * SECOND);
    });

    it("with requireOldTokenExpiry false (the runbook's rule), completes on the gate, and warns that the sessions of still-valid old-key tokens end", () => {
      const w = world({
        tokenTTL: '1h',
        refreshTokenTTL: '2h',
        monitoring: { ...spec.monitoring, requireOldTokenExpiry: false },
      });
      rotate(w);
      expect(w.events.map((e) => e.reason)).to.include('OldKeyTokensOutstanding');
    });

    it('by default, completes only once every old-key token has expired', () => {
      expect(spec.monitoring, 'the default').to.not.have.property('requireOldTokenExpiry');
      const w = world();
      w.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(w, 'Monitoring');
      const until = Date.parse(w.status?.oldKeyTokensValidUntil ?? '');
      w.now = until - 10 * SECOND;
      w.pass();
      expect(w.status?.phase).to.equal('Monitoring');
      w.now = until;
      w.pass();
      expect(w.status?.phase).to.equal('Completing');
      expect(w.events.map((e) => e.reason)).to.not.include('OldKeyTokensOutstanding');
    });
  });

  describe('sessions counted in memory across a rolling restart (hole 4)', () => {
    const reading = (activeSessions: number): GateObservation => ({
      ok: true,
      readings: {
        newKeyShare: 0.5,
        authSuccessRate: 1,
        validationLatencyP99Seconds: 0.01,
        errorRate: 0,
        activeSessions,
        samples: 1000,
      },
    });
    const gated = aJwtRotation({
      spec: { monitoring: { prometheus: { url: 'http://prometheus:9090' } } },
    }).spec;

    it('does not roll back when sessions drop while a target is rolling, and takes a new baseline after', () => {
      const dualKey = aSecret({
        fingerprints: {
          JWT_SECRET: 'aaaaaaaaaaaa',
          JWT_SECRET_CURRENT: 'aaaaaaaaaaaa',
          JWT_SECRET_NEW: 'bbbbbbbbbbbb',
        },
        rotationDate: NOT_SCHEDULED,
        annotations: {
          ...aSecret().annotations,
          'jwtrotation.io/operation': 'Rotate',
          'jwtrotation.io/operation-id': '2026-01-01T00:00:00Z',
        },
      });
      const status = {
        phase: 'DualKey' as const,
        observedGeneration: 1,
        gate: {
          checkedAt: '2026-01-01T00:00:00Z',
          readings: { activeSessions: 1000, activeSessionsBaseline: 1000 },
        },
      };
      const rolling = decide(
        anInput({
          resource: aJwtRotation({ spec: gated, status }),
          secret: dualKey,
          targets: [aTarget({ revision: 'old', rollout: 'Progressing', message: '1 of 3 replicas updated' })],
          gate: reading(400),
          now: T0 + HOUR,
        }),
      );
      expect(rolling.status.phase).to.equal('DualKey');
      expect(rolling.status.gate?.health).to.not.equal('Fail');
      expect(rolling.status.gate?.readings?.activeSessionsBaseline).to.be.undefined;
    });

    const windowed = (): SimulatedWorld =>
      world(
        {
          monitoring: {
            ...spec.monitoring,
            prometheus: { url: 'http://prometheus:9090', interval: '1s', window: '30s' },
          },
        },
        ['api'],
      );

    it('still rolls back on a session drop between rolls, against the first reading one window after the roll', () => {
      const w = windowed();
      w.gate = reading(1000);
      w.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(w, 'Monitoring');
      const settledAt = Date.parse(w.status?.gate?.rolloutSettledAt ?? '');
      expect(settledAt, 'rolloutSettledAt is recorded once the roll settles').to.be.a('number').and.not.NaN;
      w.now = settledAt + 30 * SECOND;
      w.pass();
      expect(w.status?.gate?.readings?.activeSessionsBaseline).to.equal(1000);
      w.gate = reading(100);
      w.now += SECOND;
      w.pass();
      expect(w.status?.phase).to.equal('RollingBack');
    });

    it('never takes a reading inflated by pods on their way out as the baseline: none until one window after the roll', () => {
      const w = windowed();
      w.gate = reading(1000);
      w.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(w, 'Monitoring');
      const settledAt = Date.parse(w.status?.gate?.rolloutSettledAt ?? '');
      // Right after the roll the metrics source still counts the replaced pods: 1,500, then the real 1,000.
      w.gate = reading(1500);
      w.now = settledAt + SECOND;
      w.pass();
      expect(w.status?.gate?.readings?.activeSessionsBaseline).to.be.undefined;
      w.gate = reading(1000);
      w.now = settledAt + 30 * SECOND;
      w.pass();
      w.now += SECOND;
      w.pass();
      expect(w.status?.phase).to.equal('Monitoring');
      expect(w.status?.gate?.health).to.equal('Pass');
      expect(w.status?.gate?.readings?.activeSessionsBaseline).to.equal(1000);
    });

    it('drops the baseline when a roll falls between two readings', () => {
      const w = windowed();
      w.gate = reading(1000);
      w.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(w, 'Monitoring');
      w.now = Date.parse(w.status?.gate?.rolloutSettledAt ?? '') + 30 * SECOND;
      w.pass();
      expect(w.status?.gate?.readings?.activeSessionsBaseline).to.equal(1000);
      // A pass without a reading sees a target rolling again (someone restarted it): the baseline goes.
      w.gate = undefined;
      const target = w.targets[0];
      if (target === undefined) throw new Error('no target');
      target.pending = 3;
      w.pass();
      expect(w.status?.gate?.rolloutSettledAt).to.be.undefined;
      expect(w.status?.gate?.readings?.activeSessionsBaseline).to.be.undefined;
    });
  });
});
