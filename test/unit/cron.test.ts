import { expect } from 'chai';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import { nextCronTime } from '../../src/reconcile/cron.ts';
import { anInput, aJwtRotation } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z');

describe('spec.schedule.cron', () => {
  describe('nextCronTime (cron-parser, in the shell)', () => {
    it('finds the next match after an instant, in a time zone, across daylight-saving changes', () => {
      const next = (expr: string, tz: string, after: string) => {
        const r = nextCronTime(expr, tz, at(after));
        return r.error === undefined ? iso(r.next) : r.error;
      };
      expect(next('0 3 * * 1', 'UTC', '2026-01-01T00:00:00Z')).to.equal('2026-01-05T03:00:00Z');
      expect(next('0 3 * * 1', 'UTC', '2026-01-05T03:00:00Z')).to.equal('2026-01-12T03:00:00Z');
      expect(next('0 3 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z')).to.equal('2026-03-29T01:00:00Z');
      expect(next('0 3 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z')).to.equal('2026-03-28T02:00:00Z');
      expect(next('0 12 * * *', 'America/New_York', '2026-11-01T00:00:00Z')).to.equal('2026-11-01T17:00:00Z');
      expect(next('0 12 * * *', 'America/New_York', '2026-10-31T00:00:00Z')).to.equal('2026-10-31T16:00:00Z');
    });

    it('refuses expressions that are not five valid fields', () => {
      expect(nextCronTime('* * * *', 'UTC', 0).error).to.contain('has 4 fields');
      expect(nextCronTime('0 0 * * * *', 'UTC', 0).error).to.contain('has 6 fields');
      expect(nextCronTime('61 * * * *', 'UTC', 0).error).to.contain('cannot be read');
    });
  });

  describe('in decide', () => {
    const spec = (schedule: NonNullable<JwtRotationSpec['schedule']>): JwtRotationSpec => ({
      secretName: 'api-jwt',
      targets: [{ kind: 'Deployment', name: 'api' }],
      rollout: { signingDelay: '10s', pollInterval: '1s' },
      monitoring: { minDuration: '30s', maxDuration: '60s' },
      schedule,
    });

    it('starts the rotation at the first match after the key was made', () => {
      // The key is made at 2026-01-01T00:00Z (a Thursday); Mondays at 03:00 UTC.
      const world = new SimulatedWorld(spec({ cron: '0 3 * * 1' }), at('2026-01-01T00:00:00Z'));
      world.settle();
      expect(world.status?.nextRotationAt).to.equal('2026-01-05T03:00:00Z');
      world.now = at('2026-01-05T02:59:59Z');
      world.settle();
      expect(world.status?.phase).to.equal('Idle');
      world.now = at('2026-01-05T03:00:00Z');
      world.settle();
      expect(world.status?.phase).to.equal('DualKey');
      expect(world.status?.trigger).to.equal('Scheduled');
    });

    it('moves a cron time outside the maintenance windows to the next window', () => {
      const world = new SimulatedWorld(
        spec({
          cron: '0 3 * * 1',
          maintenanceWindows: [
            { days: ['Tuesday'], start: '02:00', duration: '2h', timeZone: 'Europe/Berlin' },
          ],
        }),
        at('2026-01-01T00:00:00Z'),
      );
      world.settle();
      // Monday 03:00 UTC is due; Tuesday 02:00 CET = 01:00 UTC is the window.
      expect(world.status?.nextRotationAt).to.equal('2026-01-06T01:00:00Z');
    });

    it('stalls with the parser’s words on an expression it cannot read, and on interval with cron', () => {
      const world = new SimulatedWorld(spec({ cron: '0 25 * * *' }), at('2026-01-01T00:00:00Z'));
      world.settle();
      const stalled = world.status?.conditions?.find((c) => c.type === 'Stalled');
      expect(stalled?.reason).to.equal('InvalidSpec');
      expect(stalled?.message).to.match(/^spec\.schedule\.cron: "0 25 \* \* \*" cannot be read/);
      const both = decide(
        anInput({ resource: aJwtRotation({ spec: { schedule: { interval: '1h', cron: '0 3 * * 1' } } }) }),
      );
      expect(both.status.conditions?.find((c) => c.type === 'Stalled')?.message).to.equal(
        'set spec.schedule.interval or spec.schedule.cron, not both',
      );
    });
  });
});
