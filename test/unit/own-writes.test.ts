/**
 * The operator's own writes not yet shown by its watches (src/reconcile/own-writes.ts): a pass
 * waits for them, without a request, and reads the API server when a watch is too late.
 */
import { expect } from 'chai';
import { objectRef, OwnWrites } from '../../src/reconcile/own-writes.ts';

const SECRET = objectRef('Secret', 'ns', 'api-jwt');
const STATUS = objectRef('JwtRotation', 'ns', 'api');

function setup(maxWaitMs = 10_000, watched: (ref: string) => boolean = () => true) {
  let now = 0;
  const cache = new Map<string, string>();
  const own = new OwnWrites(() => now, maxWaitMs, watched);
  return {
    own,
    cache,
    advance: (ms: number) => (now += ms),
    check: (...refs: string[]) => own.check(refs, (ref) => cache.get(ref)),
  };
}

describe('own writes and the watch caches', () => {
  it('is fresh when the operator wrote nothing', () => {
    const { check } = setup();
    expect(check(SECRET, STATUS)).to.equal('fresh');
  });

  it('is pending from a write until its watch event carries the written resourceVersion, whatever came before it', () => {
    const { own, check, cache } = setup();
    cache.set(SECRET, '10');
    own.wrote(SECRET, '12');
    expect(check(SECRET)).to.equal('pending');
    // An event from before the write (another writer's, or an older one of ours) settles nothing.
    own.observed(SECRET, '11');
    cache.set(SECRET, '11');
    expect(check(SECRET, STATUS)).to.equal('pending');
    own.observed(SECRET, '12');
    expect(check(SECRET, STATUS)).to.equal('fresh');
    expect(own.size).to.equal(0);
  });

  it('is settled by the cache holding the written version, as after a list that followed the write', () => {
    const { own, check, cache } = setup();
    own.wrote(STATUS, '7');
    cache.set(STATUS, '7');
    expect(check(STATUS)).to.equal('fresh');
  });

  it('waits for a deletion until the watch delivers it or the cache no longer holds the object', () => {
    const { own, check, cache } = setup();
    const backup = objectRef('Secret', 'ns', 'api-jwt-original');
    cache.set(backup, '3');
    own.wrote(backup, null);
    expect(check(backup)).to.equal('pending');
    own.observed(backup, '3');
    expect(check(backup)).to.equal('pending');
    own.observed(backup, null);
    expect(check(backup)).to.equal('fresh');
    own.wrote(backup, null);
    cache.delete(backup);
    expect(check(backup)).to.equal('fresh');
  });

  it('is stale once a write has waited longer than the limit, once: that pass reads live, the next trusts the cache', () => {
    const { own, check, advance } = setup(10_000);
    own.wrote(SECRET, '12');
    advance(10_000);
    expect(check(SECRET)).to.equal('pending');
    advance(1);
    expect(check(SECRET, STATUS)).to.equal('stale');
    expect(check(SECRET, STATUS)).to.equal('fresh');
  });

  it('says stale when one object is late and another only pending', () => {
    const { own, check, advance } = setup(100);
    own.wrote(SECRET, '12');
    advance(200);
    own.wrote(STATUS, '5');
    expect(check(STATUS, SECRET)).to.equal('stale');
  });

  it('never waits for an object no watch covers', () => {
    const { own, check } = setup(10_000, (ref) => !ref.startsWith('Secret/'));
    own.wrote(SECRET, '12');
    expect(check(SECRET)).to.equal('fresh');
    own.wrote(STATUS, '5');
    expect(check(STATUS)).to.equal('pending');
  });

  it('is not waiting for a write whose watch event came before the API server answered it, and that changed again since', () => {
    const { own, check, cache } = setup();
    const deployment = objectRef('Deployment', 'ns', 'api');
    // The patch's event (version 20), then the Deployment controller's status update (21)...
    own.observed(deployment, '20');
    own.observed(deployment, '21');
    cache.set(deployment, '21');
    // ...and only then the answer to the patch.
    own.wrote(deployment, '20');
    expect(check(deployment)).to.equal('fresh');
  });
});
