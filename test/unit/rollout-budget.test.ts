/**
 * The rollout budget: the core's half (a claim, and a wait in the queue when the shell says there is
 * no room: src/rotation/rollout-budget.ts), the shell's bookkeeping (src/reconcile/rollout-budget.ts)
 * and who the cluster shows rolling at start (src/wiring/rollout-budget.ts).
 */
import { expect } from 'chai';
import type { JwtRotation, JwtRotationStatus } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { DecideInput } from '../../src/rotation/model.ts';
import { RolloutBudget } from '../../src/reconcile/rollout-budget.ts';
import { Reconciler } from '../../src/reconcile/reconciler.ts';
import { memoryDeps } from '../support/memory-ports.ts';
import { SECOND } from '../support/builders.ts';
import { aRollbackCopy } from '../support/builders.ts';
import { rollingInCluster } from '../../src/wiring/rollout-budget.ts';
import { aJwtRotation, anInput, aSecret, aTarget, HOUR, T0 } from '../support/builders.ts';

const due = T0 + 2160 * HOUR;
const full = { admitted: false as const, position: 2, waiting: 3, rolling: 20, limit: 20, countedAt: T0 };

function condition(status: JwtRotationStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

describe('the rollout budget', () => {
  describe('in the core', () => {
    it('claims a place when a scheduled rotation starts, and says it rolls', () => {
      const decision = decide(anInput({ backup: aRollbackCopy(), now: due }));
      expect(decision.status.phase).to.equal('DualKey');
      expect(decision.rolloutClaim).to.deep.equal({ kind: 'Scheduled', dueAt: due, queued: false });
      expect(decision.rolling).to.equal(true);
    });

    it('waits in the queue, with its place in Ready and Reconciling, when the shell says there is no room', () => {
      const decision = decide(anInput({ backup: aRollbackCopy(), now: due, rolloutBudget: full }));
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.phase).to.equal('Idle');
      expect(decision.status.nextRotationAt).to.equal('2026-04-01T00:00:00Z');
      expect(decision.rolloutClaim).to.deep.include({ kind: 'Scheduled', queued: true });
      expect(decision.rolling).to.equal(undefined);
      for (const type of ['Ready', 'Reconciling']) {
        expect(condition(decision.status, type)).to.include({
          reason: 'WaitingForRolloutBudget',
          status: type === 'Ready' ? 'False' : 'True',
        });
        expect(condition(decision.status, type)?.message).to.contain('place 2 of 3 in the queue');
      }
      expect(condition(decision.status, 'Stalled')).to.include({ status: 'False' });
      // A scheduled rotation is told by its conditions only (a fleet's queue is no flood of Events).
      expect(decision.events).to.deep.equal([]);
    });

    it("tells a user's request that it waits, once, with an Event", () => {
      const resource = aJwtRotation({
        annotations: { 'jwtrotation.io/rotate': 'go' },
        status: { observedGeneration: 1 },
      });
      const first = decide(anInput({ backup: aRollbackCopy(), resource, rolloutBudget: full }));
      expect(first.rolloutClaim).to.deep.include({ kind: 'Request', queued: true });
      expect(first.events.map((e) => e.reason)).to.deep.equal(['RotationQueued']);
      const again = decide(
        anInput({
          backup: aRollbackCopy(),
          resource: { ...resource, status: first.status },
          rolloutBudget: { ...full, position: 1 },
        }),
      );
      expect(again.events).to.deep.equal([]);
      expect(condition(again.status, 'Ready')?.message).to.contain('place 1 of 3');
      // The request is not used up by waiting: admitted, it starts.
      const admitted = decide(
        anInput({ backup: aRollbackCopy(), resource: { ...resource, status: again.status } }),
      );
      expect(admitted.status.phase).to.equal('DualKey');
      expect(admitted.status.trigger).to.equal('Manual');
    });

    it('never makes an emergency rotation wait', () => {
      const resource = aJwtRotation({
        annotations: { 'jwtrotation.io/emergency-rotate': 'leak' },
        status: { observedGeneration: 1 },
      });
      const decision = decide(anInput({ backup: aRollbackCopy(), resource, rolloutBudget: full }));
      expect(decision.status.phase).to.equal('Completing');
      expect(decision.rolloutClaim).to.equal(undefined);
      expect(decision.rolling).to.equal(true);
    });

    it('holds no place once its targets have rolled, nor while stalled', () => {
      const dualKeySecret = aSecret({
        fingerprints: {
          JWT_SECRET: 'aaaaaaaaaaaa',
          JWT_SECRET_CURRENT: 'aaaaaaaaaaaa',
          JWT_SECRET_NEW: 'bbbbbbbbbbbb',
        },
        rotationDate: '9999-12-31T23:59:59Z',
        annotations: {
          ...aSecret().annotations,
          'jwtrotation.io/operation': 'Rotate',
          'jwtrotation.io/operation-id': '2026-01-01T00:00:00Z',
        },
      });
      const input = (target: Parameters<typeof aTarget>[0]): DecideInput =>
        anInput({ backup: aRollbackCopy(), secret: dualKeySecret, targets: [aTarget(target)] });
      const revision = decide(input({})).actions.find((a) => a.type === 'RollTargets');
      const rev =
        revision?.type === 'RollTargets' && typeof revision.revision === 'string' ? revision.revision : '';
      const rollingOut = decide(input({ revision: rev, rollout: 'Progressing', message: '1 of 3 updated' }));
      expect(rollingOut.rolling).to.equal(true);
      const stalled = decide(
        input({
          revision: rev,
          rollout: 'Stalled',
          message: 'paused',
          stall: { reason: 'TargetPaused', fix: 'resume it' },
        }),
      );
      expect(stalled.rolling).to.equal(undefined);
      expect(condition(stalled.status, 'Stalled')).to.include({ status: 'True', reason: 'TargetPaused' });
    });
  });

  describe('in the shell', () => {
    const claim = (kind: 'InFlight' | 'Request' | 'Scheduled', dueAt?: number) => ({ kind, dueAt });

    it('admits up to the limit, then queues in order: rotations in flight, requests, the schedule by due time', () => {
      const woken: string[] = [];
      const budget = new RolloutBudget(2, (key) => woken.push(key));
      budget.seed([]);
      expect(budget.admit('a', claim('Scheduled', 10), 0)).to.equal(undefined);
      expect(budget.admit('b', claim('Scheduled', 20), 0)).to.equal(undefined);
      expect(budget.admit('c', claim('Scheduled', 5), 0)).to.deep.include({
        position: 1,
        rolling: 2,
        limit: 2,
      });
      expect(budget.admit('d', claim('Request'), 0)).to.deep.include({ position: 1, waiting: 2 });
      expect(budget.admit('e', claim('InFlight'), 0)).to.deep.include({ position: 1, waiting: 3 });
      expect(budget.admit('c', claim('Scheduled', 5), 0)).to.deep.include({ position: 3 });
      for (const k of ['c', 'd', 'e']) budget.settle(k, false, true);
      // A place frees: the head of the queue (not the others) is woken, and only it is admitted.
      budget.settle('a', false, false);
      expect(woken).to.deep.equal(['e']);
      expect(budget.admit('c', claim('Scheduled', 5), 0)).to.deep.include({ position: 3 });
      expect(budget.admit('e', claim('InFlight'), 0)).to.equal(undefined);
      expect(budget.counts).to.deep.equal({ rolling: 2, waiting: 2 });
    });

    it('counts a waiting place again only once it has halved or doubled, and says when it was counted', () => {
      const budget = new RolloutBudget(1, () => undefined);
      budget.seed(['rolling']);
      const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      keys.forEach((k, i) => budget.admit(k, claim('Scheduled', i), i));
      const last = 'k39';
      expect(budget.admit(last, claim('Scheduled', 39), 100)).to.deep.include({
        position: 40,
        waiting: 40,
        countedAt: 39,
      });
      // The 19 ahead leave the queue: the place is 21, shown as counted (40 of 40, at 39).
      for (const k of keys.slice(0, 19)) budget.forget(k);
      expect(budget.admit(last, claim('Scheduled', 39), 200)).to.deep.include({
        position: 40,
        waiting: 40,
        countedAt: 39,
      });
      // One more leaves: 20 is half of 40, counted again now.
      budget.forget(keys[19] ?? '');
      expect(budget.admit(last, claim('Scheduled', 39), 300)).to.deep.include({
        position: 20,
        waiting: 20,
        countedAt: 300,
      });
      // 21 new claims that go first double it: counted again.
      for (let i = 0; i < 21; i++) budget.admit(`r${i}`, claim('Request'), 400);
      expect(budget.admit(last, claim('Scheduled', 39), 500)).to.deep.include({
        position: 41,
        countedAt: 500,
      });
      // The core's message carries the count's time, so an unchanged place is an unchanged status.
      const decision = decide(
        anInput({
          backup: aRollbackCopy(),
          now: due,
          rolloutBudget: { ...full, countedAt: T0 + 5 * SECOND },
        }),
      );
      expect(condition(decision.status, 'Ready')?.message).to.contain('counted at 2026-01-01T00:00:05Z');
    });

    it('keeps a place for the next step of a JwtRotation that holds one, and frees it when the rollouts end', () => {
      const budget = new RolloutBudget(1, () => undefined);
      budget.seed([]);
      expect(budget.admit('a', claim('Scheduled', 1), 0)).to.equal(undefined);
      budget.settle('a', true, false);
      expect(budget.admit('a', claim('InFlight'), 0)).to.equal(undefined);
      expect(budget.admit('b', claim('InFlight'), 0)).to.not.equal(undefined);
      budget.settle('a', false, false);
      expect(budget.admit('b', claim('InFlight'), 0)).to.equal(undefined);
    });

    it('admits no one before it knows who the cluster shows rolling, and counts those', () => {
      const woken: string[] = [];
      const budget = new RolloutBudget(2, (key) => woken.push(key));
      expect(budget.admit('a', claim('Scheduled', 1), 0)).to.deep.include({ position: 1 });
      budget.settle('a', false, true);
      budget.seed(['x']);
      expect(woken).to.deep.equal(['a']);
      expect(budget.admit('a', claim('Scheduled', 1), 0)).to.equal(undefined);
      expect(budget.admit('b', claim('Request'), 0)).to.deep.include({ rolling: 2 });
      // A deleted JwtRotation frees its place.
      budget.forget('x');
      expect(budget.admit('b', claim('Request'), 0)).to.equal(undefined);
    });

    it('has no limit at 0', () => {
      const budget = new RolloutBudget(0, () => undefined);
      for (const k of ['a', 'b', 'c']) expect(budget.admit(k, claim('Scheduled', 1), 0)).to.equal(undefined);
    });

    it('lets only one of two passes side by side take the last place', () => {
      const budget = new RolloutBudget(1, () => undefined);
      budget.seed([]);
      const answers = ['a', 'b'].map((k) => budget.admit(k, claim('Scheduled', 1), 0));
      expect(answers.filter((a) => a === undefined)).to.have.length(1);
    });
  });

  describe('at start, from what the cluster shows', () => {
    const rotation = (status: JwtRotationStatus | undefined): JwtRotation => {
      const { metadata, spec } = aJwtRotation();
      return {
        apiVersion: 'jwtrotation.io/v1alpha1',
        kind: 'JwtRotation',
        metadata,
        spec,
        ...(status === undefined ? {} : { status }),
      };
    };
    const op = (operation: string, id = '2026-01-01T00:00:00Z') => ({
      'jwtrotation.io/operation': operation,
      'jwtrotation.io/operation-id': id,
    });

    it('counts a rolling phase, or a Secret whose step in flight status does not record', () => {
      expect(rollingInCluster(rotation({ phase: 'DualKey' }), undefined)).to.equal(true);
      expect(rollingInCluster(rotation({ phase: 'Completing' }), op('Complete'))).to.equal(true);
      expect(rollingInCluster(rotation({ phase: 'Monitoring' }), op('Rotate'))).to.equal(false);
      expect(rollingInCluster(rotation({ phase: 'Idle' }), op('Rotate'))).to.equal(true);
      expect(rollingInCluster(rotation(undefined), op('Rotate'))).to.equal(true);
      const done = {
        phase: 'Idle',
        lastRotation: { startedAt: '2026-01-01T00:00:00Z' },
      } as JwtRotationStatus;
      expect(rollingInCluster(rotation(done), op('Complete'))).to.equal(false);
      expect(rollingInCluster(rotation({ phase: 'Idle' }), op('Emergency'))).to.equal(true);
      expect(rollingInCluster(rotation({ phase: 'Idle' }), undefined)).to.equal(false);
    });
  });

  describe('through the reconciler', () => {
    it('makes a second due rotation wait while the first rolls, and wakes it when the first is done rolling', async () => {
      const deps = memoryDeps('a-jwt', T0);
      const woken: string[] = [];
      const budget = new RolloutBudget(1, (key) => woken.push(key));
      budget.seed([]);
      for (const name of ['a', 'b']) {
        deps.resources.byKey.set(`default/${name}`, {
          apiVersion: 'jwtrotation.io/v1alpha1',
          kind: 'JwtRotation',
          metadata: { name, namespace: 'default', uid: `uid-${name}`, generation: 1, annotations: {} },
          spec: {
            secretName: `${name}-jwt`,
            targets: [{ kind: 'Deployment', name: `${name}-api` }],
            schedule: { interval: '1h', spreadWindow: '0s' },
            rollout: { signingDelay: '10s', pollInterval: '1s' },
            monitoring: { minDuration: '1s', maxDuration: '1m' },
          },
        });
      }
      const reconciler = new Reconciler({ ...deps, budget });
      const pass = (name: string) => reconciler.reconcile('default', name);
      const status = (name: string) => deps.resources.byKey.get(`default/${name}`)?.status;
      const reason = (name: string, type: string) =>
        status(name)?.conditions?.find((c) => c.type === type)?.reason;
      // Both get their Secret and settle Idle; then both come due at once.
      for (let i = 0; i < 3; i++) for (const name of ['a', 'b']) await pass(name);
      deps.clock.advance(3600 * SECOND);
      // The checklist first saves each one's rollback copy and reads it back (passes of their own).
      for (let i = 0; i < 3 && status('a')?.phase !== 'DualKey'; i++) await pass('a');
      expect(status('a')?.phase).to.equal('DualKey');
      for (let i = 0; i < 3 && reason('b', 'Reconciling') !== 'WaitingForRolloutBudget'; i++) await pass('b');
      expect(status('b')?.phase).to.equal('Idle');
      expect(reason('b', 'Reconciling')).to.equal('WaitingForRolloutBudget');
      expect(woken).to.deep.equal([]);
      // a rolls again for the signing switch (its place is kept), then waits for the date: the place frees.
      for (let i = 0; i < 4 && woken.length === 0; i++) {
        await pass('a');
        deps.clock.advance(SECOND);
      }
      expect(status('a')?.phase).to.equal('DualKey');
      expect(status('a')?.rotationDate).to.be.a('string');
      expect(woken).to.deep.equal(['default/b']);
      await pass('b');
      expect(status('b')?.phase).to.equal('DualKey');
      expect(reason('b', 'Reconciling')).to.equal('DualKey');
    });
  });
});
