/** Spreading scheduled rotations over spec.schedule.spreadWindow (src/rotation/spread.ts). */
import { expect } from 'chai';
import { decide } from '../../src/rotation/decide.ts';
import { resolveSpec } from '../../src/rotation/spec.ts';
import { unitFraction } from '../../src/rotation/spread.ts';
import type { DecideInput } from '../../src/rotation/model.ts';
import { aJwtRotation, anInput, HOUR, MINUTE, SECOND, T0 } from '../support/builders.ts';
import { aRollbackCopy } from '../support/builders.ts';

/** The decision for a JwtRotation with this uid and schedule, its key made at T0. */
function idleWith(uid: string, schedule: Record<string, unknown>, now = T0): ReturnType<typeof decide> {
  const resource = aJwtRotation({ spec: { schedule } });
  const input: DecideInput = anInput({
    backup: aRollbackCopy(),
    now,
    resource: { ...resource, metadata: { ...resource.metadata, uid } },
  });
  return decide(input);
}

const nextAt = (uid: string, schedule: Record<string, unknown>): number =>
  Date.parse(idleWith(uid, schedule).status.nextRotationAt ?? '');

const uids = Array.from({ length: 200 }, (_, i) => `6f1c2d3e-0000-4000-8000-${String(i).padStart(12, '0')}`);

describe('spreading scheduled rotations', () => {
  it('gives 200 JwtRotations created together next rotations that cover the window, none after the interval', () => {
    const times = uids.map((uid) => nextAt(uid, { interval: '1h', spreadWindow: '10m' }));
    for (const t of times) {
      expect(t).to.be.greaterThan(T0 + 50 * MINUTE);
      expect(t).to.be.at.most(T0 + HOUR);
    }
    // Every minute of the 10-minute window holds some of them (a negative control: without the
    // spread, all 200 fall on the same second).
    const minutes = new Set(times.map((t) => Math.floor((T0 + HOUR - t) / MINUTE)));
    expect([...minutes].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const unspread = new Set(uids.map((uid) => nextAt(uid, { interval: '1h', spreadWindow: '0s' })));
    expect([...unspread]).to.deep.equal([T0 + HOUR]);
  });

  it('gives one object the same time on every pass (a pure function of its uid), in whole seconds', () => {
    const first = nextAt(uids[7] ?? '', { interval: '1h', spreadWindow: '10m' });
    expect(nextAt(uids[7] ?? '', { interval: '1h', spreadWindow: '10m' })).to.equal(first);
    expect(first % SECOND).to.equal(0);
    expect(unitFraction('a')).to.equal(unitFraction('a'));
    expect(unitFraction('a')).to.be.within(0, 1);
  });

  it('starts the rotation at the spread time, not before', () => {
    const uid = uids[3] ?? '';
    const at = nextAt(uid, { interval: '1h', spreadWindow: '10m' });
    expect(idleWith(uid, { interval: '1h', spreadWindow: '10m' }, at - SECOND).status.phase).to.equal('Idle');
    expect(idleWith(uid, { interval: '1h', spreadWindow: '10m' }, at).status.phase).to.equal('DualKey');
  });

  it('defaults to a tenth of the interval, at most 24h, and to none with cron', () => {
    const window = (schedule: Record<string, string>): number | undefined => {
      const r = resolveSpec({ secretName: 's', schedule });
      return r.ok ? r.spec.spreadWindowMs : undefined;
    };
    expect(window({ interval: '10h' })).to.equal(HOUR);
    expect(window({})).to.equal(24 * HOUR);
    expect(window({ cron: '0 3 * * 1' })).to.equal(0);
    expect(window({ cron: '0 3 * * 1', spreadWindow: '2h' })).to.equal(2 * HOUR);
    expect(resolveSpec({ secretName: 's', schedule: { interval: '1h', spreadWindow: '31m' } })).to.include({
      ok: false,
    });
  });

  it('still moves the spread time into a maintenance window', () => {
    // Windows open daily 02:00-03:00 UTC; the spread time falls outside them.
    const schedule = {
      interval: '24h',
      spreadWindow: '12h',
      maintenanceWindows: [{ start: '02:00', duration: '1h', timeZone: 'UTC' }],
    };
    for (const uid of uids.slice(0, 20)) {
      const t = new Date(nextAt(uid, schedule));
      expect(t.getUTCHours()).to.equal(2);
    }
  });

  it('never delays a requested rotation', () => {
    const resource = aJwtRotation({
      spec: { schedule: { interval: '1h', spreadWindow: '30m' } },
      annotations: { 'jwtrotation.io/rotate': 'now' },
      status: { observedGeneration: 1 },
    });
    const decision = decide(
      anInput({
        backup: aRollbackCopy(),
        resource: { ...resource, metadata: { ...resource.metadata, uid: uids[9] ?? '' } },
      }),
    );
    expect(decision.status.phase).to.equal('DualKey');
    expect(decision.status.trigger).to.equal('Manual');
  });
});
