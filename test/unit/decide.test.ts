import { expect } from 'chai';
import type { JwtRotationSpec, JwtRotationStatus } from '../../src/api/types.ts';
import { decide, RESYNC_MS } from '../../src/rotation/decide.ts';
import type { Action, GateObservation } from '../../src/rotation/model.ts';
import {
  aJwtRotation,
  anInput,
  aRollbackCopy,
  aSecret,
  aTarget,
  HOUR,
  MINUTE,
  SECOND,
  T0,
} from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';
import { WATCHED_WAIT_MS } from '../../src/rotation/targets.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';

const fast: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  // Short token lifetimes: by default completion waits until the old key's tokens have expired.
  tokenTTL: '20s',
  refreshTokenTTL: '40s',
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  monitoring: { minDuration: '30s', maxDuration: '60s' },
  schedule: { interval: '1h', spreadWindow: '0s' },
};

function actionTypes(actions: Action[]): string[] {
  return actions.map((a) => a.type);
}

function condition(
  status: { conditions?: { type?: string; status?: string; reason?: string }[] },
  type: string,
) {
  return status.conditions?.find((c) => c.type === type);
}

/** A world that has its Secret and has settled in Idle. */
function idleWorld(spec: JwtRotationSpec = fast): SimulatedWorld {
  const world = new SimulatedWorld(spec, T0);
  world.settle();
  return world;
}

/** Drives a world forward by steps of `step` ms until the phase is reached. */
function runUntil(world: SimulatedWorld, phase: string, step = SECOND, limit = 500): void {
  for (let i = 0; i < limit; i++) {
    world.settle();
    if (world.status?.phase === phase) return;
    world.now += step;
  }
  throw new Error(`phase ${phase} not reached; stuck in ${world.status?.phase ?? 'none'}`);
}

const healthy = (newKeyShare: number): Extract<GateObservation, { ok: true }> => ({
  ok: true,
  readings: {
    newKeyShare,
    authSuccessRate: 0.999,
    validationLatencyP99Seconds: 0.01,
    errorRate: 0,
    activeSessions: 100,
    samples: 1000,
  },
});

describe('decide: the rotation core', () => {
  describe('the Secret', () => {
    it('is created with a new key of secretLength bytes and the TTL values when it does not exist', () => {
      const decision = decide(anInput({ secret: undefined }));
      expect(decision.actions).to.have.length(1);
      const create = decision.actions[0];
      expect(create?.type).to.equal('CreateSecret');
      if (create?.type !== 'CreateSecret') return;
      expect(create.data.JWT_SECRET).to.deep.equal({ generate: 64 });
      expect(create.data.JWT_EXPIRATION).to.deep.equal({ literal: '24h' });
      expect(create.data.JWT_REFRESH_EXPIRATION).to.deep.equal({ literal: '168h' });
      expect(create.annotations['jwtrotation.io/key-created-at']).to.equal('2026-01-01T00:00:00Z');
      expect(decision.events.map((e) => e.reason)).to.include('SecretCreated');
    });

    it('gets the TTL values written again when the spec changes them', () => {
      const decision = decide(anInput({ resource: aJwtRotation({ spec: { tokenTTL: '1h' } }) }));
      const update = decision.actions[0];
      expect(update?.type).to.equal('UpdateSecret');
      if (update?.type !== 'UpdateSecret') return;
      expect(update.set).to.deep.equal({ JWT_EXPIRATION: { literal: '1h' } });
      expect(update.remove).to.deep.equal([]);
    });

    it('is left alone when another JwtRotation manages it, and the resource says so', () => {
      const secret = aSecret({ annotations: { 'jwtrotation.io/managed-by': 'other' } });
      const decision = decide(anInput({ secret }));
      expect(decision.actions).to.deep.equal([]);
      expect(condition(decision.status, 'Stalled')).to.include({
        status: 'True',
        reason: 'SecretManagedElsewhere',
      });
    });
  });

  describe('Idle', () => {
    it('is Ready, writes nothing and looks again no later than the resync interval', () => {
      const decision = decide(anInput());
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.phase).to.equal('Idle');
      expect(condition(decision.status, 'Ready')).to.include({ status: 'True', reason: 'Idle' });
      expect(condition(decision.status, 'Reconciling')).to.include({ status: 'False' });
      expect(decision.requeueAfterMs).to.equal(RESYNC_MS);
      expect(decision.status.nextRotationAt).to.equal('2026-04-01T00:00:00Z');
    });

    it('produces the same status on a second pass, so the shell writes nothing', () => {
      const first = decide(anInput());
      const second = decide(
        anInput({ now: T0 + 5 * SECOND, resource: aJwtRotation({ status: first.status }) }),
      );
      expect(second.status).to.deep.equal(first.status);
      expect(second.events).to.deep.equal([]);
    });

    it('starts a scheduled rotation when the key is older than schedule.interval, once the rollback copy is saved', () => {
      const saving = decide(anInput({ now: T0 + 2160 * HOUR }));
      expect(actionTypes(saving.actions)).to.deep.equal(['SaveOriginal']);
      expect(saving.status.phase).to.equal('Idle');
      const decision = decide(
        anInput({
          now: T0 + 2160 * HOUR,
          backup: aRollbackCopy(),
          resource: aJwtRotation({ status: saving.status }),
        }),
      );
      expect(actionTypes(decision.actions)).to.deep.equal(['SaveOriginal', 'UpdateSecret', 'RollTargets']);
      expect(decision.status.phase).to.equal('DualKey');
      expect(decision.status.trigger).to.equal('Scheduled');
    });

    it('counts the schedule from when the key was made, and wakes up when it is due', () => {
      const decision = decide(anInput({ now: T0 + 2160 * HOUR - 5 * SECOND }));
      expect(decision.actions).to.deep.equal([]);
      expect(decision.requeueAfterMs).to.equal(5 * SECOND);
    });
  });

  describe('a rotate request', () => {
    /** A JwtRotation the operator has seen before (status written), now carrying a rotate request. */
    const requested = (value: string, status: JwtRotationStatus = { observedGeneration: 1 }) =>
      aJwtRotation({ annotations: { 'jwtrotation.io/rotate': value }, status });

    it('starts DualKey: the original is saved, then CURRENT = old, NEW = a new key published for verification only', () => {
      const decision = decide(anInput({ resource: requested('now'), backup: aRollbackCopy() }));
      const [save, update] = decision.actions;
      expect(save).to.deep.include({ type: 'SaveOriginal', fingerprint: 'aaaaaaaaaaaa' });
      expect(update?.type).to.equal('UpdateSecret');
      if (update?.type !== 'UpdateSecret') return;
      expect(update.set).to.deep.equal({
        JWT_SECRET_CURRENT: { copy: 'JWT_SECRET' },
        JWT_SECRET_NEW: { generate: 64 },
        JWT_SECRET_ROTATION_DATE: { literal: '9999-12-31T23:59:59Z' },
      });
      expect(update.annotations['jwtrotation.io/request']).to.equal('rotate=now');
      expect(decision.status.handledRequests).to.deep.equal({ rotate: 'now' });
      expect(decision.status.trigger).to.equal('Manual');
    });

    it('acts once: a value recorded in status does not start another rotation', () => {
      const decision = decide(
        anInput({
          resource: requested('now', { observedGeneration: 1, handledRequests: { rotate: 'now' } }),
        }),
      );
      expect(decision.actions).to.deep.equal([]);
    });

    it('acts once even when status was lost, because the Secret records the request it answered', () => {
      const secret = aSecret({
        annotations: { ...aSecret().annotations, 'jwtrotation.io/request': 'rotate=now' },
      });
      const decision = decide(anInput({ resource: requested('now'), secret }));
      expect(decision.actions).to.deep.equal([]);
    });

    it('is recorded, not acted on, when it is already there the first time the operator sees the JwtRotation', () => {
      const resource = aJwtRotation({
        annotations: { 'jwtrotation.io/rotate': 'old', 'jwtrotation.io/rollback': 'older' },
      });
      const decision = decide(anInput({ resource }));
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.handledRequests).to.deep.equal({ rotate: 'old', rollback: 'older' });
      expect(decision.events.map((e) => e.reason)).to.include('RequestsRecorded');
      const next = decide(anInput({ now: T0 + SECOND, resource: { ...resource, status: decision.status } }));
      expect(next.actions, 'the recorded values do not act later either').to.deep.equal([]);
    });

    it('is recorded on first sight even when the Secret must be created first', () => {
      const resource = aJwtRotation({ annotations: { 'jwtrotation.io/emergency-rotate': 'from-git' } });
      const decision = decide(anInput({ resource, secret: undefined }));
      expect(actionTypes(decision.actions)).to.deep.equal(['CreateSecret']);
      expect(decision.status.handledRequests).to.deep.equal({ emergencyRotate: 'from-git' });
      expect(decision.events.map((e) => e.reason)).to.deep.equal(['RequestsRecorded', 'SecretCreated']);
    });

    it('is answered but not acted on during a rotation', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'one';
      world.settle();
      expect(world.status?.phase).to.equal('DualKey');
      const keysBefore = world.keysMade;
      world.annotations['jwtrotation.io/rotate'] = 'two';
      world.settle();
      expect(world.keysMade).to.equal(keysBefore);
      expect(world.status?.handledRequests?.rotate).to.equal('two');
      expect(world.events.map((e) => e.reason)).to.include('RotationAlreadyInProgress');
    });
  });

  describe('DualKey', () => {
    it('rolls every target to the revision of the dual-key Secret in the pass that writes it, then waits for the rollouts', () => {
      const world = idleWorld();
      world.rolloutLooks = 3;
      world.annotations['jwtrotation.io/rotate'] = 'go';
      expect(actionTypes(world.pass().actions), 'the checklist saves the rollback copy').to.deep.equal([
        'SaveOriginal',
      ]);
      const start = world.pass();
      expect(actionTypes(start.actions)).to.deep.equal(['SaveOriginal', 'UpdateSecret', 'RollTargets']);
      expect(start.events.map((e) => e.reason)).to.deep.equal(['RotationStarted', 'TargetsRolled']);
      const newKey = world.secret?.values.JWT_SECRET_NEW;
      expect(newKey, 'the Secret was written before the targets were rolled').to.be.a('string');
      expect(world.targets[0]?.revision).to.match(/\+[0-9a-f]{12}@\d+\/20s\/40s$/);
      expect(world.targets[0]?.revision, 'the revision of the Secret as written').to.include(
        `+${fingerprint(newKey ?? '')}@`,
      );
      const waiting = world.pass();
      expect(waiting.actions).to.deep.equal([]);
      expect(waiting.status.phase).to.equal('DualKey');
      expect(condition(waiting.status, 'Reconciling')?.status).to.equal('True');
    });

    it('looks again after pollInterval when it rolls a target, but only after WATCHED_WAIT_MS while it waits (the watches wake it)', () => {
      const world = idleWorld();
      world.rolloutLooks = 3;
      world.annotations['jwtrotation.io/rotate'] = 'go';
      world.pass(); // the checklist saves the rollback copy
      world.pass();
      const waiting = world.pass();
      expect(waiting.actions).to.deep.equal([]);
      expect(waiting.requeueAfterMs).to.equal(WATCHED_WAIT_MS);
      const target = world.targets[0];
      if (target === undefined) throw new Error('the world has a target');
      target.revision = 'someone-else/24h/168h';
      const reroll = world.pass();
      expect(actionTypes(reroll.actions)).to.deep.equal(['RollTargets']);
      expect(reroll.requeueAfterMs, 'rollout.pollInterval').to.equal(SECOND);
    });

    it('does not enter Monitoring before the rotation date, even when every rollout is complete', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'go';
      const decision = world.settle();
      expect(world.status?.phase).to.equal('DualKey');
      expect(decision.requeueAfterMs).to.equal(10 * SECOND);
      world.now += 10 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Monitoring');
      expect(world.status?.monitoringStartedAt).to.equal(world.secret?.values.JWT_SECRET_ROTATION_DATE);
    });

    it('neither moves the signing date nor rolls again while a rollout is late (tested in zero-downtime.test.ts)', () => {
      const world = idleWorld();
      world.rolloutLooks = 1000;
      world.annotations['jwtrotation.io/rotate'] = 'go';
      world.pass();
      world.pass();
      const firstRevision = world.targets[0]?.revision;
      world.now += 60 * SECOND; // six times signingDelay
      world.pass();
      expect(world.secret?.values.JWT_SECRET_ROTATION_DATE).to.equal('9999-12-31T23:59:59Z');
      expect(world.targets[0]?.revision).to.equal(firstRevision);
      expect(world.status?.phase).to.equal('DualKey');
    });

    it('reports a target that does not exist as Stalled and does not go on', () => {
      const decision = decide(
        anInput({
          resource: aJwtRotation({ status: { phase: 'DualKey' } }),
          secret: aSecret({
            fingerprints: {
              JWT_SECRET: 'aaaaaaaaaaaa',
              JWT_SECRET_CURRENT: 'aaaaaaaaaaaa',
              JWT_SECRET_NEW: 'bbbbbbbbbbbb',
            },
            rotationDate: '2026-01-01T00:10:00Z',
            annotations: {
              ...aSecret().annotations,
              'jwtrotation.io/operation': 'Rotate',
              'jwtrotation.io/operation-id': '2026-01-01T00:00:00Z',
            },
          }),
          targets: [aTarget({ found: false, message: 'Deployment api not found' })],
        }),
      );
      expect(decision.status.phase).to.equal('DualKey');
      expect(condition(decision.status, 'Stalled')).to.include({ status: 'True', reason: 'TargetNotFound' });
      expect(decision.events.map((e) => e.reason)).to.include('TargetNotFound');
    });

    it('reports a rollout past its progress deadline as RolloutStalled', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'go';
      world.settle();
      const decision = decide({
        now: world.now,
        resource: {
          metadata: { name: 'api', namespace: 'default', generation: 1, annotations: world.annotations },
          spec: fast,
          status: world.status,
        },
        secret: world.secretView(),
        backup: world.input().backup,
        targets: [
          aTarget({
            revision: world.targets[0]?.revision,
            rollout: 'Stalled',
            message: 'progress deadline exceeded',
          }),
        ],
        consumers: [],
        gate: undefined,
      });
      expect(condition(decision.status, 'Stalled')).to.include({ status: 'True', reason: 'RolloutStalled' });
      // kstatus reads Reconciling=True as InProgress whatever Stalled says: a stall must not be progress.
      expect(condition(decision.status, 'Reconciling')?.status).to.equal('False');
    });
  });

  describe('Monitoring', () => {
    it('completes on time alone after minDuration when no metrics source is configured', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      const started = world.now;
      runUntil(world, 'Idle');
      expect(world.now - started).to.be.at.least(30 * SECOND);
      expect(world.status?.lastRotation?.outcome).to.equal('Completed');
    });

    const gated: JwtRotationSpec = {
      ...fast,
      monitoring: { ...fast.monitoring, prometheus: { url: 'http://prom:9090' } },
    };

    function monitoringWorld(spec: JwtRotationSpec = gated): SimulatedWorld {
      const world = idleWorld(spec);
      world.gate = healthy(0.5);
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      return world;
    }

    it('stays while the new-key share is below 95%, with the readings in status', () => {
      const world = monitoringWorld();
      world.now += 45 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Monitoring');
      expect(world.status?.gate?.readings?.newKeyShare).to.equal(0.5);
      expect(world.status?.gate?.completion).to.not.equal('Pass');
    });

    it("completes once the share passes and minDuration has elapsed, not before (requireOldTokenExpiry false, the runbook's rule)", () => {
      const world = monitoringWorld({
        ...gated,
        monitoring: { ...gated.monitoring, requireOldTokenExpiry: false },
      });
      world.gate = healthy(0.97);
      world.now += 10 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Monitoring');
      world.now += 25 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Idle');
      expect(world.status?.lastRotation?.outcome).to.equal('Completed');
    });

    it('holds the phase when Prometheus cannot be read, and says why', () => {
      const world = monitoringWorld();
      world.gate = { ok: false, reason: 'PrometheusUnreachable', message: 'connection refused' };
      world.now += 40 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Monitoring');
      expect(condition(world.status ?? {}, 'MetricsAvailable')).to.include({
        status: 'False',
        reason: 'PrometheusUnreachable',
      });
      expect(world.events.map((e) => e.reason)).to.include('PrometheusUnreachable');
      world.gate = healthy(0.99);
      world.now += 1 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Idle');
    });

    it('rolls back on a health breach by default', () => {
      const world = monitoringWorld();
      const original = world.backupOriginal();
      world.gate = { ok: true, readings: { ...healthy(0.9).readings, authSuccessRate: 0.9 } };
      world.now += SECOND;
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation).to.include({ outcome: 'RolledBack', reason: 'HealthGateFailed' });
      expect(world.secret?.values.JWT_SECRET).to.equal(original);
      expect(world.secret?.values).to.not.have.property('JWT_SECRET_NEW');
    });

    it('pauses on a health breach with failurePolicy Pause, and resumes on a new rotate request', () => {
      const world = monitoringWorld({
        ...gated,
        monitoring: { ...gated.monitoring, failurePolicy: 'Pause' },
      });
      world.gate = { ok: true, readings: { ...healthy(0.9).readings, errorRate: 0.05 } };
      world.now += SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Paused');
      expect(condition(world.status ?? {}, 'Stalled')).to.include({
        status: 'True',
        reason: 'HealthGateFailed',
      });
      world.now += 10 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Paused');
      world.gate = healthy(0.99);
      world.annotations['jwtrotation.io/rotate'] = 'resume';
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation?.outcome).to.equal('Completed');
    });

    it('waits for a human at maxDuration with onTimeout Wait', () => {
      const world = monitoringWorld();
      world.now += 61 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Monitoring');
      expect(condition(world.status ?? {}, 'Stalled')).to.include({
        status: 'True',
        reason: 'MonitoringTimedOut',
      });
    });

    it('completes after every old token has expired with onTimeout CompleteAfterTokenExpiry', () => {
      const spec: JwtRotationSpec = {
        ...gated,
        tokenTTL: '90s',
        refreshTokenTTL: '120s',
        monitoring: { ...gated.monitoring, onTimeout: 'CompleteAfterTokenExpiry' },
      };
      const world = monitoringWorld(spec);
      const date = Date.parse(world.secret?.values.JWT_SECRET_ROTATION_DATE ?? '');
      world.now = date + 100 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Monitoring');
      world.now = date + 121 * SECOND;
      world.settle();
      expect(world.status?.phase).to.equal('Idle');
    });
  });

  describe('a whole rotation', () => {
    it('ends with JWT_SECRET = the new key, the rotation keys gone, the targets rolled, and history', () => {
      const world = idleWorld();
      const original = world.secret?.values.JWT_SECRET;
      world.secret!.values.OTHER = 'kept';
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      const next = world.secret?.values.JWT_SECRET_NEW;
      expect(world.secret?.values.JWT_SECRET_CURRENT).to.equal(original);
      expect(world.secret?.values.JWT_SECRET).to.equal(original);
      runUntil(world, 'Idle');
      expect(world.secret?.values.JWT_SECRET).to.equal(next);
      expect(Object.keys(world.secret?.values ?? {}).sort()).to.deep.equal([
        'JWT_EXPIRATION',
        'JWT_REFRESH_EXPIRATION',
        'JWT_SECRET',
        'OTHER',
      ]);
      expect(world.targets[0]?.revision?.startsWith(world.status?.currentKeyFingerprint ?? '?')).to.equal(
        true,
      );
      expect(world.status?.history).to.have.length(1);
      expect(world.status?.lastRotation).to.include({ outcome: 'Completed', trigger: 'Manual' });
      expect(world.status?.originalKeyFingerprint).to.equal(
        world.status?.lastRotation?.previousKeyFingerprint,
      );
      expect(Date.parse(world.status?.nextRotationAt ?? '')).to.be.closeTo(world.now + HOUR, 60 * SECOND);
    });

    it('survives a crash after every single write, ending where an uninterrupted run ends', () => {
      for (let crashAt = 0; crashAt < 3; crashAt++) {
        const world = idleWorld();
        const original = world.secret?.values.JWT_SECRET;
        world.annotations['jwtrotation.io/rotate'] = 'go';
        let passes = 0;
        while (world.status?.lastRotation?.outcome !== 'Completed') {
          if (++passes > 400)
            throw new Error(`no completion with crashAt=${crashAt}: ${world.status?.phase ?? ''}`);
          // Crash on every other pass after `crashAt` writes; time moves on either way.
          world.pass(passes % 2 === 0 ? crashAt : Number.POSITIVE_INFINITY);
          const values = world.secret?.values ?? {};
          // The invariant: a key that validates issued tokens is always in the Secret.
          expect(values.JWT_SECRET, `JWT_SECRET present (pass ${passes})`).to.be.a('string');
          if (values.JWT_SECRET_NEW !== undefined) expect(values.JWT_SECRET_CURRENT).to.equal(original);
          world.now += SECOND;
        }
        expect(world.keysMade, 'exactly one new key').to.equal(2);
        expect(world.status.history).to.have.length(1);
      }
    });

    it('still completes when every pass is killed right after its first write (the fault switch at 1)', () => {
      const world = idleWorld();
      const original = world.secret?.values.JWT_SECRET;
      world.annotations['jwtrotation.io/rotate'] = 'go';
      let passes = 0;
      while (world.status?.lastRotation?.outcome !== 'Completed') {
        if (++passes > 400) throw new Error(`no completion: ${world.status?.phase ?? 'no status'}`);
        world.pass(1);
        const values = world.secret?.values ?? {};
        expect(values.JWT_SECRET, `JWT_SECRET present (pass ${passes})`).to.be.a('string');
        if (values.JWT_SECRET_NEW !== undefined) expect(values.JWT_SECRET_CURRENT).to.equal(original);
        world.now += SECOND;
      }
      expect(world.keysMade, 'exactly one new key').to.equal(2);
    });

    it('rebuilds a lost status from the Secret in the middle of a rotation', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      Object.assign(world, { status: undefined });
      world.settle();
      expect(world.status?.phase).to.be.oneOf(['DualKey', 'Monitoring']);
      expect(world.keysMade).to.equal(2);
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation?.outcome).to.equal('Completed');
    });
  });

  describe('rollback', () => {
    function rollbackFrom(phase: 'DualKey' | 'Monitoring' | 'Completing'): SimulatedWorld {
      const world = idleWorld();
      world.rolloutLooks = phase === 'Completing' ? 5 : 1;
      world.annotations['jwtrotation.io/rotate'] = 'go';
      if (phase === 'Completing') {
        runUntil(world, 'Monitoring');
        world.rolloutLooks = 50;
        // Past minDuration (30s) and the old key's tokens (refreshTokenTTL 40s after the switch).
        world.now += 45 * SECOND;
        world.pass();
        world.pass();
        expect(world.status?.phase).to.equal('Completing');
      } else {
        runUntil(world, phase);
      }
      world.rolloutLooks = 1;
      world.annotations['jwtrotation.io/rollback'] = `from-${phase}`;
      return world;
    }

    for (const phase of ['DualKey', 'Monitoring', 'Completing'] as const) {
      it(`restores the original key from ${phase} and rolls the targets`, () => {
        const world = rollbackFrom(phase);
        const original = world.backupOriginal();
        runUntil(world, 'Idle');
        expect(world.secret?.values.JWT_SECRET).to.equal(original);
        for (const key of ['JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE']) {
          expect(world.secret?.values).to.not.have.property(key);
        }
        expect(world.status?.lastRotation).to.include({ outcome: 'RolledBack', reason: 'RollbackRequested' });
        expect(world.events.map((e) => e.reason)).to.include.members(['RollbackStarted', 'RolledBack']);
      });
    }

    it('records an emergency rotation requested in the same second as the rollback before it finished', () => {
      const world = rollbackFrom('DualKey');
      // The rollback and the emergency rotation after it happen within one second of the clock.
      const second = Math.floor(world.now / 1000) * 1000;
      world.now = second;
      for (let i = 0; i < 10 && world.status?.lastRotation?.outcome !== 'RolledBack'; i++) world.pass();
      expect(world.status?.lastRotation?.outcome).to.equal('RolledBack');
      world.annotations['jwtrotation.io/emergency-rotate'] = 'leak';
      for (let i = 0; i < 10; i++) {
        world.now = Math.min(world.now + 10, second + 999);
        world.pass();
      }
      expect(world.status?.lastRotation).to.include({ trigger: 'Emergency', outcome: 'Completed' });
      expect(world.status?.lastRotation?.startedAt).to.not.equal(world.status?.history?.[1]?.startedAt);
    });

    it('restores the original key after completion while it is retained, once per value', () => {
      const world = idleWorld();
      const original = world.secret?.values.JWT_SECRET;
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      runUntil(world, 'Idle');
      expect(world.secret?.values.JWT_SECRET).to.not.equal(original);
      world.annotations['jwtrotation.io/rollback'] = 'after';
      world.settle();
      runUntil(world, 'Idle');
      expect(world.secret?.values.JWT_SECRET).to.equal(original);
      expect(world.status?.history).to.have.length(2);
      const writes = world.writes;
      world.now += SECOND;
      world.settle();
      expect(world.writes, 'the same value does nothing').to.equal(writes);
    });

    it('says RollbackImpossible when no original key is retained', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rollback'] = 'nothing';
      world.settle();
      expect(world.events.map((e) => e.reason)).to.include('RollbackImpossible');
      expect(world.status?.handledRequests?.rollback).to.equal('nothing');
    });

    it('deletes the original key when its retention ends', () => {
      const world = idleWorld({ ...fast, rollback: { retention: '1m' } });
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      runUntil(world, 'Idle');
      expect(world.backup).to.not.equal(undefined);
      world.now += 61 * SECOND;
      world.settle();
      expect(world.backup).to.equal(undefined);
      expect(world.status).to.not.have.property('originalKeyFingerprint');
    });

    it("starts a due rotation on the copy its checklist saved, even when the last original key's retention has ended", () => {
      // fast rotates every hour; the retention of the last original key (1m) ended long before.
      const world = idleWorld({ ...fast, rollback: { retention: '1m' } });
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      runUntil(world, 'Idle');
      const key = world.secret?.values.JWT_SECRET;
      world.now += 2 * HOUR;
      expect(actionTypes(world.pass().actions), 'the checklist saves the copy').to.deep.equal([
        'SaveOriginal',
      ]);
      expect(world.backupOriginal(), 'the copy of the current key').to.equal(key);
      const start = world.pass();
      expect(actionTypes(start.actions)).to.not.include('DeleteBackup');
      expect(start.status.phase).to.equal('DualKey');
      expect(start.status.originalKeyFingerprint).to.equal(fingerprint(key ?? ''));
    });
  });

  describe('emergency rotation', () => {
    it('replaces the key at once, without a dual-key phase', () => {
      const world = idleWorld();
      const original = world.secret?.values.JWT_SECRET;
      world.annotations['jwtrotation.io/emergency-rotate'] = 'leak-42';
      const first = world.pass();
      expect(first.status.phase).to.equal('Completing');
      expect(first.events.map((e) => e.reason)).to.include('EmergencyRotation');
      expect(world.secret?.values.JWT_SECRET).to.not.equal(original);
      expect(world.secret?.values).to.not.have.property('JWT_SECRET_NEW');
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation).to.include({ outcome: 'Completed', trigger: 'Emergency' });
    });

    it('keeps no copy of the replaced key, so a later rollback cannot restore a leaked key', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      runUntil(world, 'Idle');
      expect(world.backup).to.not.equal(undefined);
      const leaked = world.secret?.values.JWT_SECRET;
      world.annotations['jwtrotation.io/emergency-rotate'] = 'leak';
      runUntil(world, 'Idle');
      expect(world.backup, 'backup deleted').to.equal(undefined);
      expect(world.status?.lastRotation?.previousKeyFingerprint).to.have.length(12);
      world.annotations['jwtrotation.io/rollback'] = 'please';
      world.settle();
      expect(world.secret?.values.JWT_SECRET).to.not.equal(leaked);
      expect(world.events.map((e) => e.reason)).to.include('RollbackImpossible');
    });

    it('overrides a rotation in progress', () => {
      const world = idleWorld();
      world.annotations['jwtrotation.io/rotate'] = 'go';
      runUntil(world, 'Monitoring');
      const pending = world.secret?.values.JWT_SECRET_NEW;
      world.annotations['jwtrotation.io/emergency-rotate'] = 'now';
      runUntil(world, 'Idle');
      expect(world.secret?.values.JWT_SECRET).to.not.equal(pending);
      expect(world.secret?.values).to.not.have.property('JWT_SECRET_CURRENT');
      expect(world.status?.lastRotation?.trigger).to.equal('Emergency');
    });
  });

  describe('suspend and invalid specs', () => {
    it('shows no next rotation while suspended', () => {
      const status = {
        observedGeneration: 1,
        phase: 'Idle' as const,
        nextRotationAt: '2026-04-01T00:00:00Z',
      };
      const decision = decide(anInput({ resource: aJwtRotation({ spec: { suspend: true }, status }) }));
      expect(decision.status).to.not.have.property('nextRotationAt');
    });

    it('takes no action while suspended', () => {
      const decision = decide(
        anInput({
          now: T0 + 3000 * HOUR,
          resource: aJwtRotation({ spec: { suspend: true }, annotations: { 'jwtrotation.io/rotate': 'x' } }),
        }),
      );
      expect(decision.actions).to.deep.equal([]);
      expect(condition(decision.status, 'Ready')).to.include({ reason: 'Suspended' });
    });

    it('reports a spec the schema would reject as Stalled InvalidSpec instead of failing', () => {
      const decision = decide(anInput({ resource: aJwtRotation({ spec: { tokenTTL: 'one day' } }) }));
      expect(decision.actions).to.deep.equal([]);
      expect(condition(decision.status, 'Stalled')).to.include({ status: 'True', reason: 'InvalidSpec' });
      expect(condition(decision.status, 'Stalled')?.status).to.equal('True');
      expect(decision.events[0]?.message).to.contain('spec.tokenTTL');
    });
  });

  describe('conditions', () => {
    it('keep lastTransitionTime while their status does not change', () => {
      const first = decide(anInput());
      const later = decide(
        anInput({ now: T0 + 30 * MINUTE, resource: aJwtRotation({ status: first.status }) }),
      );
      expect(condition(later.status, 'Ready')).to.deep.equal(condition(first.status, 'Ready'));
    });

    it('carry observedGeneration', () => {
      const decision = decide(anInput({ resource: aJwtRotation({ generation: 7 }) }));
      expect(decision.status.observedGeneration).to.equal(7);
      expect(decision.status.conditions?.every((c) => c.observedGeneration === 7)).to.equal(true);
    });
  });
});
