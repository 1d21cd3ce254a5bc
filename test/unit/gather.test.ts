import { createHash, randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import { viewBackup, viewSecret } from '../../src/reconcile/gather.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
/** The first 12 hex digits of SHA-256, computed here independently of the code under test. */
const sha256Prefix = (text: string): string =>
  createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);

/** Keys as the operator makes them: random bytes, base64 text. */
const OLD_KEY = randomBytes(64).toString('base64');
const NEW_KEY = randomBytes(64).toString('base64');

function dualKeySecret(): V1Secret {
  return {
    metadata: {
      name: 'api-jwt',
      namespace: 'default',
      resourceVersion: '4711',
      annotations: {
        'jwtrotation.io/managed-by': 'api',
        'jwtrotation.io/operation': 'Rotate',
      },
    },
    data: {
      JWT_SECRET: b64(OLD_KEY),
      JWT_SECRET_CURRENT: b64(OLD_KEY),
      JWT_SECRET_NEW: b64(NEW_KEY),
      JWT_SECRET_ROTATION_DATE: b64('2026-01-01T00:10:00Z'),
      JWT_EXPIRATION: b64('24h'),
      JWT_REFRESH_EXPIRATION: b64('168h'),
      UNRELATED: b64('kept out'),
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
    secret.data = { ...secret.data, JWT_SECRET_CURRENT: '', JWT_SECRET_NEW: '' };
    expect(viewSecret(secret).fingerprints).to.deep.equal({ JWT_SECRET: sha256Prefix(OLD_KEY) });
  });

  it('leaves out the key slots and values the Secret does not have', () => {
    const view = viewSecret({ metadata: { resourceVersion: '1' }, data: { JWT_SECRET: b64(OLD_KEY) } });
    expect(view.fingerprints).to.deep.equal({ JWT_SECRET: sha256Prefix(OLD_KEY) });
    expect(view.rotationDate).to.equal(undefined);
    expect(view.expiration).to.equal(undefined);
    expect(view.refreshExpiration).to.equal(undefined);
  });

  it('reads stringData as well as data', () => {
    const view = viewSecret({ metadata: {}, stringData: { JWT_SECRET: OLD_KEY, JWT_EXPIRATION: '1h' } });
    expect(view.fingerprints).to.deep.equal({ JWT_SECRET: sha256Prefix(OLD_KEY) });
    expect(view.expiration).to.equal('1h');
  });

  it('gives an empty view for a Secret with no metadata and no data', () => {
    expect(viewSecret({})).to.deep.equal({
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
    expect(secret.metadata?.annotations?.['jwtrotation.io/operation']).to.equal('Rotate');
  });
});

describe('viewBackup', () => {
  const backup = (): V1Secret => ({
    metadata: {
      name: 'api-jwtrotation-backup',
      annotations: { 'jwtrotation.io/key-created-at': '2025-10-01T00:00:00Z' },
    },
    data: { JWT_SECRET_ORIGINAL: b64(OLD_KEY) },
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
    expect(viewBackup({ metadata: {} }).originalFingerprint).to.equal(undefined);
    expect(viewBackup({ data: { JWT_SECRET_ORIGINAL: '' } }).originalFingerprint).to.equal(undefined);
  });

  it('has no creation time when the annotation is missing', () => {
    expect(viewBackup({ data: { JWT_SECRET_ORIGINAL: b64(OLD_KEY) } }).keyCreatedAt).to.equal(undefined);
  });
});
