import { expect } from 'chai';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import {
  earliestInWindow,
  nextWindowOpening,
  openWindow,
  wallTimeToInstant,
  whenAllowed,
  zoneOffsetMs,
  type MaintenanceWindow,
} from '../../src/rotation/windows.ts';
import { aJwtRotation, anInput, aRollbackCopy, aSecret, HOUR, MINUTE } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z');
/** The wall time of a local date and time, as epoch ms read as if it were UTC. */
const wall = (localIso: string): number => Date.parse(`${localIso}Z`);

// Day indexes as MaintenanceWindow counts them.
const SUN = 0;
const MON = 1;
const SAT = 6;

const berlin = (days: number[], start: string, hours: number): MaintenanceWindow => ({
  days,
  startMinutes: Number(start.slice(0, 2)) * 60 + Number(start.slice(3)),
  durationMs: hours * HOUR,
  timeZone: 'Europe/Berlin',
});

describe('maintenance windows (time zones from Intl)', () => {
  describe('offsets and wall times', () => {
    it('reads the zone offset from the platform, across the 2026 changes in Berlin and New York', () => {
      expect(zoneOffsetMs(at('2026-03-29T00:59:59Z'), 'Europe/Berlin')).to.equal(1 * HOUR);
      expect(zoneOffsetMs(at('2026-03-29T01:00:00Z'), 'Europe/Berlin')).to.equal(2 * HOUR);
      expect(zoneOffsetMs(at('2026-10-25T00:59:59Z'), 'Europe/Berlin')).to.equal(2 * HOUR);
      expect(zoneOffsetMs(at('2026-10-25T01:00:00Z'), 'Europe/Berlin')).to.equal(1 * HOUR);
      expect(zoneOffsetMs(at('2026-03-08T06:59:59Z'), 'America/New_York')).to.equal(-5 * HOUR);
      expect(zoneOffsetMs(at('2026-03-08T07:00:00Z'), 'America/New_York')).to.equal(-4 * HOUR);
      expect(zoneOffsetMs(at('2026-06-01T12:00:00.750Z'), 'UTC')).to.equal(0);
    });

    it('turns a wall time into an instant; a skipped time moves forward by the gap, a repeated one takes the first', () => {
      expect(iso(wallTimeToInstant(wall('2026-03-28T02:30:00'), 'Europe/Berlin'))).to.equal(
        '2026-03-28T01:30:00Z',
      );
      // 02:30 does not exist on 2026-03-29 in Berlin: 03:30 CEST.
      expect(iso(wallTimeToInstant(wall('2026-03-29T02:30:00'), 'Europe/Berlin'))).to.equal(
        '2026-03-29T01:30:00Z',
      );
      expect(iso(wallTimeToInstant(wall('2026-03-30T02:30:00'), 'Europe/Berlin'))).to.equal(
        '2026-03-30T00:30:00Z',
      );
      // 02:30 happens twice on 2026-10-25 in Berlin: the first one, still CEST.
      expect(iso(wallTimeToInstant(wall('2026-10-25T02:30:00'), 'Europe/Berlin'))).to.equal(
        '2026-10-25T00:30:00Z',
      );
      expect(iso(wallTimeToInstant(wall('2026-10-26T02:30:00'), 'Europe/Berlin'))).to.equal(
        '2026-10-26T01:30:00Z',
      );
      // New York: 02:30 is skipped on 2026-03-08 (03:30 EDT), repeated on 2026-11-01 (first: EDT).
      expect(iso(wallTimeToInstant(wall('2026-03-08T02:30:00'), 'America/New_York'))).to.equal(
        '2026-03-08T07:30:00Z',
      );
      expect(iso(wallTimeToInstant(wall('2026-11-01T01:30:00'), 'America/New_York'))).to.equal(
        '2026-11-01T05:30:00Z',
      );
    });
  });

  describe('windows', () => {
    const sundayNight = [berlin([SUN], '02:30', 2)];

    it('opens at the same local time before, on and after the spring-forward change', () => {
      // Sunday 2026-03-22 (CET), 2026-03-29 (the change: 02:30 is skipped, 03:30 CEST), 2026-04-05 (CEST).
      expect(iso(nextWindowOpening(sundayNight, at('2026-03-20T00:00:00Z'))?.start)).to.equal(
        '2026-03-22T01:30:00Z',
      );
      expect(iso(nextWindowOpening(sundayNight, at('2026-03-23T00:00:00Z'))?.start)).to.equal(
        '2026-03-29T01:30:00Z',
      );
      expect(iso(nextWindowOpening(sundayNight, at('2026-03-30T00:00:00Z'))?.start)).to.equal(
        '2026-04-05T00:30:00Z',
      );
    });

    it('opens at the first 02:30 on the fall-back day, and lasts its duration in real time', () => {
      const w = nextWindowOpening(sundayNight, at('2026-10-20T00:00:00Z'));
      expect(iso(w?.start)).to.equal('2026-10-25T00:30:00Z');
      expect(iso(w?.end)).to.equal('2026-10-25T02:30:00Z');
      expect(iso(nextWindowOpening(sundayNight, at('2026-10-26T00:00:00Z'))?.start)).to.equal(
        '2026-11-01T01:30:00Z',
      );
    });

    it('runs past midnight into the next day', () => {
      const saturdayLate = [berlin([SAT], '23:00', 3)];
      // Saturday 2026-06-06 23:00 CEST = 21:00Z, until Sunday 02:00 CEST = 00:00Z.
      expect(openWindow(saturdayLate, at('2026-06-06T20:59:59Z'))).to.equal(undefined);
      expect(iso(openWindow(saturdayLate, at('2026-06-06T21:00:00Z'))?.start)).to.equal(
        '2026-06-06T21:00:00Z',
      );
      expect(iso(openWindow(saturdayLate, at('2026-06-06T23:59:59Z'))?.end)).to.equal('2026-06-07T00:00:00Z');
      expect(openWindow(saturdayLate, at('2026-06-07T00:00:00Z'))).to.equal(undefined);
      // Sunday is not a listed day: the next one opens the following Saturday.
      expect(iso(earliestInWindow(saturdayLate, at('2026-06-07T00:00:00Z')))).to.equal(
        '2026-06-13T21:00:00Z',
      );
    });

    it('takes every day when none is listed, and the earliest of several windows', () => {
      const daily: MaintenanceWindow = { days: [], startMinutes: 9 * 60, durationMs: HOUR, timeZone: 'UTC' };
      const mondayNewYork: MaintenanceWindow = {
        days: [MON],
        startMinutes: 1 * 60,
        durationMs: HOUR,
        timeZone: 'America/New_York',
      };
      // Sunday 2026-06-07 10:00Z: the daily window closed; Monday 01:00 EDT = 05:00Z comes before 09:00Z.
      expect(iso(earliestInWindow([daily, mondayNewYork], at('2026-06-07T10:00:00Z')))).to.equal(
        '2026-06-08T05:00:00Z',
      );
      expect(iso(earliestInWindow([daily], at('2026-06-07T09:30:00Z')))).to.equal('2026-06-07T09:30:00Z');
    });

    it('keeps a past due time while its window is open, and moves to the next opening once it closed', () => {
      const windows = [berlin([], '02:00', 2)];
      const due = at('2026-06-01T00:30:00Z'); // 02:30 CEST, inside the window
      expect(iso(whenAllowed(windows, due, at('2026-06-01T01:00:00Z')))).to.equal('2026-06-01T00:30:00Z');
      expect(iso(whenAllowed(windows, due, at('2026-06-01T03:00:00Z')))).to.equal('2026-06-02T00:00:00Z');
      expect(iso(whenAllowed([], due, at('2026-06-01T03:00:00Z')))).to.equal('2026-06-01T00:30:00Z');
    });
  });

  describe('in decide', () => {
    /** Key made 2026-03-01T00:00Z with a 27-day interval: due Saturday 2026-03-28 00:00Z (01:00 CET). */
    const spec = (extra: Partial<JwtRotationSpec['schedule']> = {}): Partial<JwtRotationSpec> => ({
      schedule: {
        interval: '648h',
        maintenanceWindows: [{ days: ['Sunday'], start: '02:30', duration: '2h', timeZone: 'Europe/Berlin' }],
        ...extra,
      },
    });
    const secret = aSecret({
      annotations: {
        'jwtrotation.io/managed-by': 'api',
        'jwtrotation.io/key-created-at': '2026-03-01T00:00:00Z',
      },
    });
    const input = (now: number, annotations: Record<string, string> = {}, extra = {}) =>
      anInput({
        now,
        secret,
        // The rollback copy is in place: these passes are about the window, not the checklist.
        backup: aRollbackCopy(),
        resource: aJwtRotation({ spec: spec(extra), annotations, status: { observedGeneration: 1 } }),
      });

    it('reports the window start across the spring-forward change as nextRotationAt and waits for it', () => {
      const due = decide(input(at('2026-03-28T00:00:00Z')));
      expect(due.actions).to.deep.equal([]);
      // Sunday 2026-03-29: 02:30 does not exist; the window opens at 03:30 CEST = 01:30Z.
      expect(due.status.nextRotationAt).to.equal('2026-03-29T01:30:00Z');
      expect(due.requeueAfterMs).to.be.at.most(10 * MINUTE);
      const started = decide(input(at('2026-03-29T01:30:00Z')));
      expect(started.status.phase).to.equal('DualKey');
      expect(started.status.trigger).to.equal('Scheduled');
    });

    it('reports the first 02:30 across the fall-back change', () => {
      const fall = anInput({
        now: at('2026-10-23T00:00:00Z'),
        secret: aSecret({
          annotations: {
            'jwtrotation.io/managed-by': 'api',
            'jwtrotation.io/key-created-at': '2026-09-26T00:00:00Z',
          },
        }),
        resource: aJwtRotation({ spec: spec(), status: { observedGeneration: 1 } }),
      });
      expect(decide(fall).status.nextRotationAt).to.equal('2026-10-25T00:30:00Z');
    });

    it('starts a requested rotation at once, or in the next window with requestsWaitForWindow', () => {
      const now = at('2026-03-10T12:00:00Z');
      const request = { 'jwtrotation.io/rotate': 'r1' };
      expect(decide(input(now, request)).status.phase).to.equal('DualKey');
      const waiting = decide(input(now, request, { requestsWaitForWindow: true }));
      expect(waiting.actions).to.deep.equal([]);
      expect(waiting.status.handledRequests).to.equal(undefined);
      expect(waiting.status.nextRotationAt).to.equal('2026-03-15T01:30:00Z');
      const inside = decide(input(at('2026-03-15T01:45:00Z'), request, { requestsWaitForWindow: true }));
      expect(inside.status.phase).to.equal('DualKey');
      expect(inside.status.trigger).to.equal('Manual');
    });

    it('never holds an emergency rotation', () => {
      const emergency = decide(
        input(
          at('2026-03-10T12:00:00Z'),
          { 'jwtrotation.io/emergency-rotate': 'e1' },
          { requestsWaitForWindow: true },
        ),
      );
      expect(emergency.status.trigger).to.equal('Emergency');
    });

    it('stalls on a time zone the platform does not know', () => {
      const bad = decide(
        anInput({
          resource: aJwtRotation({
            spec: {
              schedule: {
                maintenanceWindows: [{ start: '02:00', duration: '1h', timeZone: 'Mars/Olympus_Mons' }],
              },
            },
          }),
        }),
      );
      const stalled = bad.status.conditions?.find((c) => c.type === 'Stalled');
      expect(stalled?.reason).to.equal('InvalidSpec');
      expect(stalled?.message).to.contain('Mars/Olympus_Mons');
    });
  });
});

describe('disruptiveStepsWaitForWindow', () => {
  /** Every day 12:00-13:00 UTC; the steps that disturb traffic wait for it. */
  const spec: JwtRotationSpec = {
    secretName: 'api-jwt',
    targets: [{ kind: 'Deployment', name: 'api' }],
    tokenTTL: '20s',
    refreshTokenTTL: '40s',
    rollout: { signingDelay: '10s', pollInterval: '1s' },
    monitoring: { minDuration: '30s', maxDuration: '60s' },
    schedule: {
      interval: '2160h',
      maintenanceWindows: [{ start: '12:00', duration: '1h' }],
      disruptiveStepsWaitForWindow: true,
    },
  };

  it('holds the signing switch and completion until a window opens; a request itself starts at once', () => {
    // 2026-01-01T00:00Z: outside the window.
    const world = new SimulatedWorld(spec, Date.parse('2026-01-01T00:00:00Z'));
    world.settle();
    world.annotations = { 'jwtrotation.io/rotate': 'r1' };
    world.settle();
    expect(world.status?.phase).to.equal('DualKey');
    world.now += 10 * MINUTE;
    world.settle();
    expect(world.status?.phase).to.equal('DualKey');
    expect(world.secret?.values.JWT_SECRET_ROTATION_DATE).to.equal('9999-12-31T23:59:59Z');
    const ready = world.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.message).to.contain('Waiting for the maintenance window at 2026-01-01T12:00:00Z');
    // In the window: the switch, monitoring, and completion (all within the hour).
    world.now = Date.parse('2026-01-01T12:00:00Z');
    for (let i = 0; i < 200 && world.status?.lastRotation?.outcome !== 'Completed'; i++) {
      world.settle();
      world.now += 1000;
    }
    expect(world.status?.lastRotation?.outcome).to.equal('Completed');
    expect(Date.parse(world.status?.lastRotation?.finishedAt ?? '')).to.be.below(
      Date.parse('2026-01-01T13:00:00Z'),
    );
  });

  it('holds completion when the window closes during monitoring', () => {
    const world = new SimulatedWorld(spec, Date.parse('2026-01-01T12:59:00Z'));
    world.settle();
    world.annotations = { 'jwtrotation.io/rotate': 'r1' };
    for (let i = 0; i < 200 && world.status?.phase !== 'Monitoring'; i++) {
      world.settle();
      world.now += 1000;
    }
    expect(world.status?.phase).to.equal('Monitoring');
    world.now = Date.parse('2026-01-01T14:00:00Z');
    world.settle();
    expect(world.status?.phase).to.equal('Monitoring');
    world.now = Date.parse('2026-01-02T12:00:00Z');
    world.settle();
    world.now += 1000;
    world.settle();
    expect(world.status?.lastRotation?.outcome).to.equal('Completed');
  });
});
