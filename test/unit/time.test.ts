import { expect } from 'chai';
import { newOperationId, parseInstant, toRfc3339 } from '../../src/rotation/time.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('toRfc3339', () => {
  it('writes an instant on a whole second without a fraction, in UTC', () => {
    expect(toRfc3339(T0)).to.equal('2026-01-01T00:00:00Z');
  });

  it('drops milliseconds, so every instant inside one second writes the same text', () => {
    expect(toRfc3339(T0 + 1)).to.equal('2026-01-01T00:00:00Z');
    expect(toRfc3339(T0 + 999)).to.equal('2026-01-01T00:00:00Z');
    expect(toRfc3339(T0 + 1000)).to.equal('2026-01-01T00:00:01Z');
  });

  it('truncates rather than rounds, so a time just before the second keeps the earlier second', () => {
    expect(toRfc3339(T0 - 1)).to.equal('2025-12-31T23:59:59Z');
    expect(toRfc3339(T0 + 59_999)).to.equal('2026-01-01T00:00:59Z');
  });
});

describe('parseInstant', () => {
  it('reads RFC 3339 in UTC as epoch milliseconds', () => {
    expect(parseInstant('2026-01-01T00:00:00Z')).to.equal(T0);
  });

  it('honours a zone offset', () => {
    expect(parseInstant('2026-01-01T01:00:00+01:00')).to.equal(T0);
  });

  it('keeps a fraction of a second', () => {
    expect(parseInstant('2026-01-01T00:00:00.250Z')).to.equal(T0 + 250);
  });

  it('gives undefined for an absent value', () => {
    expect(parseInstant(undefined)).to.equal(undefined);
  });

  it('gives undefined for an empty string', () => {
    expect(parseInstant('')).to.equal(undefined);
  });

  it('gives undefined for text that is not a date', () => {
    expect(parseInstant('tomorrow')).to.equal(undefined);
    expect(parseInstant('2026-13-45T99:00:00Z')).to.equal(undefined);
  });

  it('reads back what toRfc3339 wrote, to the whole second', () => {
    const at = T0 + 12 * 3_600_000 + 34 * 60_000 + 56_789;
    expect(parseInstant(toRfc3339(at))).to.equal(at - 789);
  });
});

describe('newOperationId', () => {
  const t = Date.parse('2026-11-30T17:42:27.250Z');
  it('is the start time in whole seconds when no operation had it', () => {
    expect(newOperationId(t, [undefined, '2026-11-30T17:42:26Z'])).to.equal('2026-11-30T17:42:27Z');
  });
  it('carries milliseconds when the one before started in the same second, one past any taken', () => {
    expect(newOperationId(t, ['2026-11-30T17:42:27Z'])).to.equal('2026-11-30T17:42:27.250Z');
    expect(newOperationId(t, ['2026-11-30T17:42:27Z', '2026-11-30T17:42:27.250Z'])).to.equal(
      '2026-11-30T17:42:27.251Z',
    );
  });
});
