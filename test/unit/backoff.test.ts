import { expect } from 'chai';

import { backoffDelay } from '../../src/platform/backoff.ts';

describe('backoffDelay', () => {
  const policy = { baseMs: 500, maxMs: 60_000 };

  it('waits the base after the first failure and doubles after each one after it', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy))).to.deep.equal([500, 1000, 2000, 4000, 8000]);
  });

  it('never waits longer than the ceiling', () => {
    expect(backoffDelay(8, policy)).to.equal(60_000);
    expect(backoffDelay(10_000, policy)).to.equal(60_000);
  });

  it('stays finite however long the run of failures', () => {
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, { baseMs: 1, maxMs: Number.POSITIVE_INFINITY })).to.equal(
      2 ** 30,
    );
  });

  it('treats no failure yet as the first', () => {
    expect(backoffDelay(0, policy)).to.equal(500);
  });
});
