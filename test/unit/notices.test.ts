import { expect } from 'chai';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { DeliveryObservation } from '../../src/rotation/model.ts';
import { aJwtRotation, anInput } from '../support/builders.ts';
import { deliverable, dueReminder, nextReminderAt, NOTICES_KEPT } from '../../src/rotation/notices.ts';
import { HOUR, MINUTE, SECOND, T0 } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

const DAY = 24 * HOUR;

/** A scheduled rotation every 10 days, quick phases. */
const tenDays: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  // Short token lifetimes: by default completion waits until the old key's tokens have expired.
  tokenTTL: '20s',
  refreshTokenTTL: '40s',
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  monitoring: { minDuration: '30s', maxDuration: '60s' },
  schedule: { interval: '240h', spreadWindow: '0s' },
};

function kinds(world: SimulatedWorld): string[] {
  return world.notices.map((n) => n.kind);
}

function runUntil(world: SimulatedWorld, phase: string, step = SECOND, limit = 500): void {
  for (let i = 0; i < limit; i++) {
    world.settle();
    if (world.status?.phase === phase) return;
    world.now += step;
  }
  throw new Error(`never reached ${phase}; phase ${world.status?.phase ?? 'none'}`);
}

describe('notices: the communication plan', () => {
  describe('dueReminder', () => {
    const next = T0 + 10 * DAY;
    it('is nothing more than 7 days ahead', () => {
      expect(dueReminder(next - 7 * DAY - SECOND, next, T0)).to.equal(undefined);
    });
    it('is T-7 from 7 days ahead, T-1 from 1 day ahead, nothing once the rotation is due', () => {
      expect(dueReminder(next - 7 * DAY, next, T0)?.kind).to.equal('Upcoming');
      expect(dueReminder(next - DAY - SECOND, next, T0)?.kind).to.equal('Upcoming');
      expect(dueReminder(next - DAY, next, T0)?.kind).to.equal('FinalReminder');
      expect(dueReminder(next, next, T0)).to.equal(undefined);
    });
    it('skips a reminder whose time fell before the key was made (an interval shorter than the lead)', () => {
      const soon = T0 + 5 * DAY;
      expect(dueReminder(T0 + MINUTE, soon, T0)).to.equal(undefined);
      expect(dueReminder(soon - DAY, soon, T0)?.kind).to.equal('FinalReminder');
      expect(dueReminder(T0 + MINUTE, T0 + 12 * HOUR, T0)).to.equal(undefined);
    });
    it('says when the next reminder falls due', () => {
      expect(nextReminderAt(T0, next, T0)).to.equal(next - 7 * DAY);
      expect(nextReminderAt(next - 7 * DAY, next, T0)).to.equal(next - DAY);
      expect(nextReminderAt(next - DAY, next, T0)).to.equal(undefined);
    });
  });

  describe('through a scheduled rotation', () => {
    it('sends T-7, T-1, start and completion once each, each with its Event', () => {
      const world = new SimulatedWorld(tenDays, T0);
      world.settle();
      expect(kinds(world)).to.deep.equal([]);

      // The core asks to be woken for the T-7 reminder (clamped to the resync period).
      world.now = T0 + 3 * DAY - MINUTE;
      world.settle();
      expect(kinds(world)).to.deep.equal([]);
      world.now = T0 + 3 * DAY + MINUTE;
      world.settle();
      world.settle();
      expect(kinds(world)).to.deep.equal(['Upcoming']);
      const upcoming = world.notices[0];
      expect(upcoming?.rotation).to.equal('2026-01-11T00:00:00Z');
      expect(upcoming?.reason).to.equal('RotationUpcoming');
      expect(upcoming?.fingerprints.current).to.match(/^[0-9a-f]{12}$/);
      expect(world.events.filter((e) => e.reason === 'RotationUpcoming')).to.have.length(1);
      expect(world.status?.notices).to.deep.equal([
        {
          notice: 'Upcoming',
          rotation: '2026-01-11T00:00:00Z',
          decidedAt: '2026-01-04T00:01:00Z',
          state: 'EventOnly',
        },
      ]);

      world.now = T0 + 9 * DAY + MINUTE;
      world.settle();
      world.now += HOUR;
      world.settle();
      expect(kinds(world)).to.deep.equal(['Upcoming', 'FinalReminder']);
      expect(world.events.filter((e) => e.reason === 'RotationFinalReminder')).to.have.length(1);

      world.now = T0 + 10 * DAY;
      runUntil(world, 'DualKey');
      runUntil(world, 'Idle');
      expect(kinds(world)).to.deep.equal(['Upcoming', 'FinalReminder', 'Started', 'Completed']);
      // The existing Events are the notices: not doubled.
      expect(world.events.filter((e) => e.reason === 'RotationStarted')).to.have.length(1);
      expect(world.events.filter((e) => e.reason === 'RotationCompleted')).to.have.length(1);
      const started = world.notices[2];
      expect(started?.message).to.match(/^Scheduled rotation of Secret api-jwt started/);
      expect(started?.trigger).to.equal('Scheduled');
      // The new key is made by the executor after the decision: the start notice names the current one.
      expect(started?.fingerprints.current).to.match(/^[0-9a-f]{12}$/);
    });

    it('sends a notice again only if the status that recorded it was lost (at most once per status write)', () => {
      const world = new SimulatedWorld(tenDays, T0);
      world.settle();
      world.now = T0 + 3 * DAY + MINUTE;
      const before = world.status;
      // A pass whose status write does not happen (a crash, or a lost conflict): nothing sent.
      const decision = world.pass(0);
      expect(decision.notices.map((n) => n.kind)).to.deep.equal(['Upcoming']);
      expect(world.status).to.equal(before);
      expect(kinds(world)).to.deep.equal([]);
      world.settle();
      world.settle();
      expect(kinds(world)).to.deep.equal(['Upcoming']);
    });

    it('sends the T-1 alone when the T-7 time was missed', () => {
      const world = new SimulatedWorld(tenDays, T0);
      world.settle();
      world.now = T0 + 9 * DAY + HOUR;
      world.settle();
      world.now += HOUR;
      world.settle();
      expect(kinds(world)).to.deep.equal(['FinalReminder']);
    });

    it('sends no reminder while suspended, nor for an interval shorter than the lead', () => {
      const suspended = new SimulatedWorld({ ...tenDays, suspend: true }, T0);
      suspended.settle();
      suspended.now = T0 + 9 * DAY + HOUR;
      suspended.settle();
      expect(kinds(suspended)).to.deep.equal([]);

      const hourly = new SimulatedWorld({ ...tenDays, schedule: { interval: '1h' } }, T0);
      hourly.settle();
      hourly.now += 30 * MINUTE;
      hourly.settle();
      expect(kinds(hourly)).to.deep.equal([]);
    });
  });

  describe('rollback, emergency and failure', () => {
    it('sends RollbackStarted and RolledBack once each on a requested rollback', () => {
      const world = new SimulatedWorld(tenDays, T0);
      world.settle();
      world.annotations['jwtrotation.io/rotate'] = 'r1';
      runUntil(world, 'Monitoring');
      world.annotations['jwtrotation.io/rollback'] = 'b1';
      runUntil(world, 'Idle');
      expect(kinds(world)).to.deep.equal(['Started', 'RollbackStarted', 'RolledBack']);
      expect(world.events.filter((e) => e.reason === 'RollbackStarted')).to.have.length(1);
      expect(world.events.filter((e) => e.reason === 'RolledBack')).to.have.length(1);
    });

    it('sends Emergency (a Warning) and then Completed once each on an emergency rotation', () => {
      const world = new SimulatedWorld(tenDays, T0);
      world.settle();
      world.annotations['jwtrotation.io/emergency-rotate'] = 'e1';
      world.settle();
      world.settle();
      expect(kinds(world)).to.deep.equal(['Emergency', 'Completed']);
      expect(world.notices[0]?.type).to.equal('Warning');
      expect(world.events.filter((e) => e.reason === 'EmergencyRotation')).to.have.length(1);
    });

    it('sends Failed once per stall reason, with the Stalled Event', () => {
      const world = new SimulatedWorld(tenDays, T0);
      world.settle();
      world.annotations['jwtrotation.io/rotate'] = 'r1';
      world.settle();
      world.targets = [];
      for (let i = 0; i < 5; i++) {
        world.now += SECOND;
        world.settle();
      }
      expect(kinds(world)).to.deep.equal(['Started', 'Failed']);
      expect(world.notices[1]?.reason).to.equal('TargetNotFound');
      expect(world.events.filter((e) => e.reason === 'TargetNotFound')).to.have.length(1);
    });

    it(`keeps at most ${String(NOTICES_KEPT)} records`, () => {
      const world = new SimulatedWorld({ ...tenDays, schedule: { interval: '1s' } }, T0);
      world.settle();
      for (let i = 0; i < 12; i++) {
        runUntil(world, 'DualKey');
        runUntil(world, 'Idle');
      }
      expect(world.status?.notices?.length).to.equal(NOTICES_KEPT);
    });
  });

  describe('the NotificationsDelivered condition', () => {
    const spec: Partial<JwtRotationSpec> = {
      notifications: { receivers: [{ name: 'hook', type: 'Webhook', urlSecretRef: { name: 'hooks' } }] },
    };
    function pass(status: Parameters<typeof aJwtRotation>[0], delivery?: DeliveryObservation) {
      return decide(anInput({ resource: aJwtRotation(status), delivery }));
    }
    const find = (d: ReturnType<typeof decide>) =>
      d.status.conditions?.find((c) => c.type === 'NotificationsDelivered');

    it('is absent without spec.notifications, Unknown before any delivery', () => {
      expect(find(pass({}))).to.equal(undefined);
      expect(find(pass({ spec }))?.status).to.equal('Unknown');
    });

    it('turns False with a Warning Event once per failure, True again with a Normal one', () => {
      const failed = pass(
        { spec },
        { ok: false, message: 'hook: Upcoming not delivered (HTTP 500 after 4 attempts)' },
      );
      expect(find(failed)).to.deep.include({ status: 'False', reason: 'NotificationFailed' });
      expect(failed.events.filter((e) => e.reason === 'NotificationFailed')).to.have.length(1);
      expect(failed.actions).to.deep.equal([]);
      const again = pass(
        { spec, status: failed.status },
        { ok: false, message: 'hook: Upcoming not delivered (HTTP 500 after 4 attempts)' },
      );
      expect(again.events.filter((e) => e.reason === 'NotificationFailed')).to.have.length(0);
      // After a restart the outcome is unknown to the process: the condition keeps its value.
      expect(find(pass({ spec, status: failed.status }))?.status).to.equal('False');
      const recovered = pass(
        { spec, status: failed.status },
        { ok: true, message: 'Started delivered to hook' },
      );
      expect(find(recovered)).to.deep.include({ status: 'True', reason: 'NotificationsSent' });
      expect(recovered.events.map((e) => e.reason)).to.include('NotificationsDelivered');
    });
  });

  describe('the outbox (status.notices with spec.notifications)', () => {
    const notified: JwtRotationSpec = {
      ...tenDays,
      notifications: {
        receivers: [
          {
            name: 'hook',
            type: 'Webhook',
            urlSecretRef: { name: 'hooks' },
            signingSecretRef: { name: 'hooks' },
          },
        ],
      },
    };
    /** A world at the T-7 reminder, decided and recorded (Pending) but not delivered. */
    function atUpcoming(): SimulatedWorld {
      const world = new SimulatedWorld(notified, T0);
      world.settle();
      world.now = T0 + 3 * DAY + MINUTE;
      world.settle();
      return world;
    }

    it('records a decided notice as Pending, with what it sends, before anything is delivered', () => {
      const world = atUpcoming();
      expect(kinds(world)).to.deep.equal(['Upcoming']);
      const record = world.status?.notices?.[0];
      expect(record).to.deep.include({
        notice: 'Upcoming',
        state: 'Pending',
        decidedAt: '2026-01-04T00:01:00Z',
      });
      expect(record?.content).to.deep.include({ severity: 'Normal', eventReason: 'RotationUpcoming' });
      expect(record?.content?.fingerprints?.current).to.match(/^[0-9a-f]{12}$/);
      // What the shell hands the notifier after this status write: the same notice.
      expect(deliverable(world.status ?? {})).to.deep.equal(world.notices);
    });

    it('keeps it Pending, and deliverable with the same content, across any number of passes until the notifier settles it', () => {
      const world = atUpcoming();
      const pending = deliverable(world.status ?? {});
      // Passes of a new process that never delivered it (the old one stopped before sending).
      for (let i = 0; i < 3; i++) {
        world.now += MINUTE;
        world.settle();
      }
      expect(kinds(world), 'decided once').to.deep.equal(['Upcoming']);
      expect(deliverable(world.status ?? {})).to.deep.equal(pending);
      expect(world.events.filter((e) => e.reason === 'RotationUpcoming')).to.have.length(1);
    });

    it('marks it Delivered (dropping its content) once the notifier reports it delivered', () => {
      const world = atUpcoming();
      world.delivery = {
        ok: true,
        message: 'Upcoming delivered to hook',
        settled: [{ kind: 'Upcoming', rotation: '2026-01-11T00:00:00Z', delivered: true }],
      };
      world.now += MINUTE;
      world.settle();
      expect(world.status?.notices?.[0]).to.deep.equal({
        notice: 'Upcoming',
        rotation: '2026-01-11T00:00:00Z',
        decidedAt: '2026-01-04T00:01:00Z',
        state: 'Delivered',
        settledAt: '2026-01-04T00:02:00Z',
      });
      expect(deliverable(world.status ?? {})).to.deep.equal([]);
      // Reported again on later passes (the notifier keeps it until it is no longer handed over): no change.
      const before = world.status;
      world.now += MINUTE;
      world.settle();
      expect(world.status?.notices).to.deep.equal(before?.notices);
    });

    it('marks it Failed when the notifier gave up, and when the receivers were removed from the spec', () => {
      const failed = atUpcoming();
      failed.delivery = {
        ok: false,
        message: 'hook: Upcoming not delivered (HTTP 500 after 4 attempts)',
        settled: [{ kind: 'Upcoming', rotation: '2026-01-11T00:00:00Z', delivered: false }],
      };
      failed.settle();
      expect(failed.status?.notices?.[0]).to.deep.include({ state: 'Failed' });
      expect(failed.status?.notices?.[0]?.content).to.equal(undefined);

      const removed = atUpcoming();
      const withoutReceivers = { ...notified };
      delete withoutReceivers.notifications;
      removed.spec = withoutReceivers;
      removed.generation += 1;
      removed.settle();
      expect(removed.status?.notices?.[0]).to.deep.include({ state: 'Failed' });
    });

    it('reads a record of an earlier version (sentAt, no state) as settled, never as one to send again', () => {
      const decision = decide(
        anInput({
          resource: aJwtRotation({
            spec: notified,
            status: {
              observedGeneration: 1,
              notices: [
                { notice: 'Upcoming', rotation: '2026-01-11T00:00:00Z', sentAt: '2026-01-04T00:00:00Z' },
              ] as never,
            },
          }),
        }),
      );
      expect(decision.status.notices?.[0]).to.deep.equal({
        notice: 'Upcoming',
        rotation: '2026-01-11T00:00:00Z',
        decidedAt: '2026-01-04T00:00:00Z',
        state: 'Delivered',
      });
      expect(deliverable(decision.status)).to.deep.equal([]);
    });
  });
});
