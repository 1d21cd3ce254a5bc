import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { SecretRecord } from '../../src/reconcile/ports.ts';
import { viewBackup, viewSecret } from '../../src/reconcile/secret-data.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
/** The first 12 hex digits of SHA-256, computed here independently of the code under test. */
const sha256Prefix = (text: string): string =>
  createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);

/** Keys as the operator makes them: random bytes, base64 text. */
const OLD_KEY = randomBytes(64).toString('base64');
const NEW_KEY = randomBytes(64).toString('base64');

/** A Secret as the SecretStore port returns it: decoded values. */
function dualKeySecret(): SecretRecord & {
  values: Record<string, string>;
  annotations: Record<string, string>;
} {
  return {
    resourceVersion: '4711',
    annotations: {
      'jwtrotation.io/managed-by': 'api',
      'jwtrotation.io/operation': 'Rotate',
    },
    values: {
      JWT_SECRET: OLD_KEY,
      JWT_SECRET_CURRENT: OLD_KEY,
      JWT_SECRET_NEW: NEW_KEY,
      JWT_SECRET_ROTATION_DATE: '2026-01-01T00:10:00Z',
      JWT_EXPIRATION: '24h',
      JWT_REFRESH_EXPIRATION: '168h',
      UNRELATED: 'kept out',
    },
  };
}

describe('viewSecret', () => {
  it('turns each key slot into the SHA-256 prefix of its value', () => {
    const view = viewSecret(dualKeySecret());
    expect(view.fingerprints).to.deep.equal({
      JWT_SECRET: sha256Prefix(OLD_KEY),
      JWT_SECRET_CURRENT: sha256Prefix(OLD_KEY),
      JWT_SECRET_NEW: sha256Prefix(NEW_KEY),
    });
    expect(view.fingerprints.JWT_SECRET).to.match(/^[0-9a-f]{12}$/);
  });

  it('reads the non-secret values, the resourceVersion and the annotations as they are', () => {
    const view = viewSecret(dualKeySecret());
    expect(view).to.deep.include({
      resourceVersion: '4711',
      rotationDate: '2026-01-01T00:10:00Z',
      expiration: '24h',
      refreshExpiration: '168h',
      annotations: { 'jwtrotation.io/managed-by': 'api', 'jwtrotation.io/operation': 'Rotate' },
    });
  });

  it('holds no key material, neither as text nor as base64', () => {
    const json = JSON.stringify(viewSecret(dualKeySecret()));
    for (const key of [OLD_KEY, NEW_KEY]) {
      expect(json).to.not.include(key);
      expect(json).to.not.include(b64(key));
    }
    expect(json).to.not.include('kept out');
  });

  it('leaves out the fingerprint of a key slot whose value is empty', () => {
    const secret = dualKeySecret();
    secret.values = { ...secret.values, JWT_SECRET_CURRENT: '', JWT_SECRET_NEW: '' };
    expect(viewSecret(secret).fingerprints).to.deep.equal({ JWT_SECRET: sha256Prefix(OLD_KEY) });
  });

  it('leaves out the key slots and values the Secret does not have', () => {
    const view = viewSecret({ resourceVersion: '1', annotations: {}, values: { JWT_SECRET: OLD_KEY } });
    expect(view.fingerprints).to.deep.equal({ JWT_SECRET: sha256Prefix(OLD_KEY) });
    expect(view.rotationDate).to.equal(undefined);
    expect(view.expiration).to.equal(undefined);
    expect(view.refreshExpiration).to.equal(undefined);
  });

  it('gives an empty view for a Secret with no data', () => {
    expect(viewSecret({ resourceVersion: '', annotations: {}, values: {} })).to.deep.equal({
      resourceVersion: '',
      fingerprints: {},
      rotationDate: undefined,
      expiration: undefined,
      refreshExpiration: undefined,
      annotations: {},
    });
  });

  it('copies the annotations, so changing the view leaves the Secret as it was', () => {
    const secret = dualKeySecret();
    const view = viewSecret(secret);
    view.annotations['jwtrotation.io/operation'] = 'Complete';
    expect(secret.annotations['jwtrotation.io/operation']).to.equal('Rotate');
  });
});

describe('viewBackup', () => {
  const backup = (): SecretRecord => ({
    resourceVersion: '7',
    annotations: { 'jwtrotation.io/key-created-at': '2025-10-01T00:00:00Z' },
    values: { JWT_SECRET_ORIGINAL: OLD_KEY },
  });

  it('gives the fingerprint of the original key and when it was made', () => {
    expect(viewBackup(backup())).to.deep.equal({
      originalFingerprint: sha256Prefix(OLD_KEY),
      keyCreatedAt: '2025-10-01T00:00:00Z',
    });
  });

  it('holds no key material', () => {
    const json = JSON.stringify(viewBackup(backup()));
    expect(json).to.not.include(OLD_KEY);
    expect(json).to.not.include(b64(OLD_KEY));
  });

  it('has no original fingerprint when the backup holds no original key or an empty one', () => {
    const record = (values: Record<string, string>): SecretRecord => ({
      resourceVersion: '1',
      annotations: {},
      values,
    });
    expect(viewBackup(record({})).originalFingerprint).to.equal(undefined);
    expect(viewBackup(record({ JWT_SECRET_ORIGINAL: '' })).originalFingerprint).to.equal(undefined);
  });

  it('has no creation time when the annotation is missing', () => {
    expect(
      viewBackup({ resourceVersion: '1', annotations: {}, values: { JWT_SECRET_ORIGINAL: OLD_KEY } })
        .keyCreatedAt,
    ).to.equal(undefined);
  });
});
