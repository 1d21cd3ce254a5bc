import { expect } from 'chai';
import type { SecretView } from '../../src/rotation/model.ts';
import { secretRevision } from '../../src/rotation/revision.ts';

/** A dual-key Secret: every input of the revision is set. */
function dualKey(overrides: Partial<SecretView> = {}): SecretView {
  return {
    resourceVersion: '7',
    fingerprints: {
      JWT_SECRET: 'aaaaaaaaaaaa',
      JWT_SECRET_CURRENT: 'aaaaaaaaaaaa',
      JWT_SECRET_NEW: 'bbbbbbbbbbbb',
    },
    rotationDate: '2026-01-01T00:10:00Z',
    expiration: '24h',
    refreshExpiration: '168h',
    annotations: { 'jwtrotation.io/operation': 'Rotate' },
    ...overrides,
  };
}

/** A single-key Secret, as between rotations. */
function singleKey(overrides: Partial<SecretView> = {}): SecretView {
  return dualKey({ fingerprints: { JWT_SECRET: 'aaaaaaaaaaaa' }, rotationDate: undefined, ...overrides });
}

describe('secretRevision', () => {
  it('is equal for two separately built views of the same Secret', () => {
    expect(secretRevision(dualKey())).to.equal(secretRevision(dualKey()));
    expect(secretRevision(singleKey())).to.equal(secretRevision(singleKey()));
  });

  it('changes when the key changes', () => {
    const other = singleKey({ fingerprints: { JWT_SECRET: 'cccccccccccc' } });
    expect(secretRevision(other)).to.not.equal(secretRevision(singleKey()));
  });

  it('changes when a new key appears', () => {
    expect(secretRevision(dualKey())).to.not.equal(secretRevision(singleKey()));
  });

  it('changes when the new key changes', () => {
    const other = dualKey({
      fingerprints: {
        JWT_SECRET: 'aaaaaaaaaaaa',
        JWT_SECRET_CURRENT: 'aaaaaaaaaaaa',
        JWT_SECRET_NEW: 'dddddddddddd',
      },
    });
    expect(secretRevision(other)).to.not.equal(secretRevision(dualKey()));
  });

  it('changes when the rotation date moves', () => {
    const moved = dualKey({ rotationDate: '2026-01-01T00:20:00Z' });
    expect(secretRevision(moved)).to.not.equal(secretRevision(dualKey()));
  });

  it('changes when the rotation date appears on a dual-key Secret', () => {
    const undated = dualKey({ rotationDate: undefined });
    expect(secretRevision(undated)).to.not.equal(secretRevision(dualKey()));
  });

  it('changes when the token TTL changes', () => {
    expect(secretRevision(dualKey({ expiration: '1h' }))).to.not.equal(secretRevision(dualKey()));
    expect(secretRevision(singleKey({ expiration: '1h' }))).to.not.equal(secretRevision(singleKey()));
  });

  it('changes when the refresh-token TTL changes', () => {
    expect(secretRevision(dualKey({ refreshExpiration: '72h' }))).to.not.equal(secretRevision(dualKey()));
    expect(secretRevision(singleKey({ refreshExpiration: '72h' }))).to.not.equal(secretRevision(singleKey()));
  });

  it('tells the two TTLs apart when their values are swapped', () => {
    const swapped = singleKey({ expiration: '168h', refreshExpiration: '24h' });
    expect(secretRevision(swapped)).to.not.equal(secretRevision(singleKey()));
  });

  it('stays the same when only the resourceVersion or annotations change', () => {
    const touched = dualKey({ resourceVersion: '8', annotations: { 'jwtrotation.io/trigger': 'Manual' } });
    expect(secretRevision(touched)).to.equal(secretRevision(dualKey()));
  });

  it('stays the same for the same rotation date written with a different offset', () => {
    const sameInstant = dualKey({ rotationDate: '2026-01-01T01:10:00+01:00' });
    expect(secretRevision(sameInstant)).to.equal(secretRevision(dualKey()));
  });

  it('names the fingerprints and the TTLs it was built from', () => {
    const revision = secretRevision(dualKey());
    expect(revision).to.include('aaaaaaaaaaaa');
    expect(revision).to.include('bbbbbbbbbbbb');
    expect(revision).to.include('24h');
    expect(revision).to.include('168h');
  });
});
