import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../src/rotation/duration.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('parseDuration', () => {
  const accepted: [string, number][] = [
    ['90s', 90 * SECOND],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1.5h', HOUR + 30 * MINUTE],
    ['500ms', 500],
    ['2160h', 2160 * HOUR],
    ['0', 0],
    ['15m', 15 * MINUTE],
    ['1h0m0s', HOUR],
    ['2500us', 3],
    ['1500000ns', 2],
  ];
  for (const [text, ms] of accepted) {
    it(`reads "${text}" as ${ms} milliseconds`, () => {
      expect(parseDuration(text)).to.equal(ms);
    });
  }

  const rejected = ['1day', 'h', '5', '-1s', '1h 30m', '1h30', 's30', '1.h', '.5h', '1H'];
  for (const text of rejected) {
    it(`rejects "${text}" with a message that names it`, () => {
      expect(() => parseDuration(text)).to.throw(Error, `"${text}"`);
    });
  }

  it('rejects the empty string as an empty duration', () => {
    expect(() => parseDuration('')).to.throw(Error, /empty/);
  });

  it('gives the same answer when called again after a rejected input', () => {
    expect(() => parseDuration('1h 30m')).to.throw(Error);
    expect(parseDuration('30m')).to.equal(30 * MINUTE);
    expect(parseDuration('30m')).to.equal(30 * MINUTE);
  });
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [SECOND, '1s'],
    [45 * SECOND, '45s'],
    [90 * SECOND, '1m30s'],
    [15 * MINUTE, '15m'],
    [HOUR, '1h'],
    [HOUR + 30 * MINUTE, '1h30m'],
    [HOUR + MINUTE + SECOND, '1h1m1s'],
    [2 * HOUR + 5 * SECOND, '2h5s'],
    [2160 * HOUR, '2160h'],
    [1499, '1s'],
    [1500, '2s'],
  ];
  for (const [ms, text] of cases) {
    it(`writes ${ms} milliseconds as "${text}"`, () => {
      expect(formatDuration(ms)).to.equal(text);
    });
  }

  it('writes a negative amount as 0ms', () => {
    expect(formatDuration(-5 * SECOND)).to.equal('0ms');
  });

  it('writes whole-second durations in a form parseDuration reads back to the same value', () => {
    for (const ms of [SECOND, 90 * SECOND, HOUR + 30 * MINUTE, 2160 * HOUR, HOUR + MINUTE + SECOND]) {
      expect(parseDuration(formatDuration(ms))).to.equal(ms);
    }
  });
});
