import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { JwtRotation } from '../../src/api/types.ts';
import { plannedWrites } from '../../src/reconcile/execute.ts';
import { ConflictError, type SecretRecord } from '../../src/reconcile/ports.ts';
import { applyToSecret, backupContent, viewBackup, viewSecret } from '../../src/reconcile/secret-data.ts';
import type { ValueSource } from '../../src/rotation/model.ts';

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
      type: undefined,
      fingerprints: {},
      keyShapes: {},
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

describe('applyToSecret', () => {
  const keyFactory = () => {
    const made: number[] = [];
    return { made, newKey: (bytes: number) => (made.push(bytes), `generated-${made.length}`) };
  };
  const current = () => ({
    values: { JWT_SECRET: OLD_KEY, JWT_SECRET_NEW: NEW_KEY, OTHER: 'kept' },
    annotations: { 'jwtrotation.io/operation': 'Rotate', 'jwtrotation.io/request': 'go' },
  });

  it('creates a Secret from every source: a generated key of the asked length, literals and annotations', () => {
    const { made, newKey } = keyFactory();
    const content = applyToSecret(
      undefined,
      {
        type: 'CreateSecret',
        data: { JWT_SECRET: { generate: 64 }, JWT_EXPIRATION: { literal: '24h' } },
        annotations: { 'jwtrotation.io/managed-by': 'api' },
      },
      { backup: {}, newKey },
    );
    expect(content).to.deep.equal({
      values: { JWT_SECRET: 'generated-1', JWT_EXPIRATION: '24h' },
      annotations: { 'jwtrotation.io/managed-by': 'api' },
    });
    expect(made).to.deep.equal([64]);
  });

  it('resolves every value before removing any, so a copy can read a key the same update removes', () => {
    const before = current();
    const content = applyToSecret(
      before,
      {
        type: 'UpdateSecret',
        resourceVersion: '1',
        set: { JWT_SECRET: { copy: 'JWT_SECRET_NEW' } },
        remove: ['JWT_SECRET_NEW'],
        annotations: { 'jwtrotation.io/operation': 'Complete', 'jwtrotation.io/request': null },
      },
      { backup: {}, newKey: keyFactory().newKey },
    );
    expect(content.values).to.deep.equal({ JWT_SECRET: NEW_KEY, OTHER: 'kept' });
    expect(content.annotations).to.deep.equal({ 'jwtrotation.io/operation': 'Complete' });
    expect(before, 'the input is not changed').to.deep.equal(current());
  });

  it('restores the original key from the backup values', () => {
    const content = applyToSecret(
      current(),
      {
        type: 'UpdateSecret',
        resourceVersion: '1',
        set: { JWT_SECRET: { original: true } },
        remove: ['JWT_SECRET_NEW'],
        annotations: {},
      },
      { backup: { JWT_SECRET_ORIGINAL: 'the-original' }, newKey: keyFactory().newKey },
    );
    expect(content.values.JWT_SECRET).to.equal('the-original');
  });

  it('refuses to copy a key the Secret does not have, or to restore without a backup', () => {
    const update = (set: Record<string, ValueSource>) =>
      applyToSecret(
        { values: { JWT_SECRET: OLD_KEY }, annotations: {} },
        { type: 'UpdateSecret', resourceVersion: '1', set, remove: [], annotations: {} },
        { backup: {}, newKey: keyFactory().newKey },
      );
    expect(() => update({ JWT_SECRET: { copy: 'JWT_SECRET_NEW' } })).to.throw(/cannot copy JWT_SECRET_NEW/);
    expect(() => update({ JWT_SECRET: { original: true } })).to.throw(/original key is not in the backup/);
  });
});

describe('backupContent', () => {
  const save = {
    type: 'SaveOriginal',
    fingerprint: sha256Prefix(OLD_KEY),
    keyCreatedAt: '2026-01-01T00:00:00Z',
  } as const;

  it('holds JWT_SECRET as the original key, when it still has the fingerprint the decision saw', () => {
    expect(backupContent({ JWT_SECRET: OLD_KEY }, save, 'api')).to.deep.equal({
      values: { JWT_SECRET_ORIGINAL: OLD_KEY },
      annotations: {
        'jwtrotation.io/key-created-at': '2026-01-01T00:00:00Z',
        'jwtrotation.io/managed-by': 'api',
      },
    });
  });

  it('refuses a JWT_SECRET whose fingerprint changed, naming the fingerprint, not the key', () => {
    expect(() => backupContent({ JWT_SECRET: NEW_KEY }, save, 'api'))
      .to.throw(/no longer has fingerprint/)
      .with.property('message')
      .that.does.not.contain(NEW_KEY);
  });
});

describe('plannedWrites', () => {
  const resource: JwtRotation = {
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: { name: 'api', namespace: 'ns', uid: 'uid-1' },
    spec: { secretName: 'api-jwt' },
  };
  const secret: SecretRecord = { resourceVersion: '5', values: { JWT_SECRET: OLD_KEY }, annotations: {} };
  const noKeys = () => {
    throw new Error('no key expected');
  };

  it('fails with a ConflictError, before writing, when the Secret is not the version the decision saw', () => {
    const writes = plannedWrites(
      [{ type: 'UpdateSecret', resourceVersion: '4', set: {}, remove: [], annotations: {} }],
      resource,
      { secret, backup: undefined },
      noKeys,
      0,
    );
    expect(() => writes.next()).to.throw(ConflictError);
  });

  it('saves the original to an owned backup Secret, and a later action of the pass reads it from there', () => {
    const writes = [
      ...plannedWrites(
        [
          { type: 'SaveOriginal', fingerprint: sha256Prefix(OLD_KEY), keyCreatedAt: 'then' },
          {
            type: 'UpdateSecret',
            resourceVersion: '5',
            set: { JWT_SECRET_CURRENT: { original: true } },
            remove: [],
            annotations: {},
          },
        ],
        resource,
        { secret, backup: undefined },
        noKeys,
        0,
      ),
    ];
    expect(writes[0]).to.deep.include({
      type: 'WriteBackup',
      namespace: 'ns',
      name: 'api-jwtrotation-backup',
      owner: { apiVersion: 'jwtrotation.io/v1alpha1', kind: 'JwtRotation', name: 'api', uid: 'uid-1' },
      existing: undefined,
    });
    expect(writes[1]).to.deep.include({ type: 'ReplaceSecret', current: secret });
    expect(writes[1]?.type === 'ReplaceSecret' && writes[1].content.values.JWT_SECRET_CURRENT).to.equal(
      OLD_KEY,
    );
  });

  it('plans each write only after the previous one was taken, so a crash leaves exactly the writes before it', () => {
    const writes = plannedWrites(
      [
        { type: 'DeleteBackup' },
        { type: 'UpdateSecret', resourceVersion: '4', set: {}, remove: [], annotations: {} },
      ],
      resource,
      { secret, backup: undefined },
      noKeys,
      0,
    );
    expect(writes.next().value).to.deep.equal({
      type: 'DeleteSecret',
      namespace: 'ns',
      name: 'api-jwtrotation-backup',
    });
    expect(() => writes.next()).to.throw(ConflictError);
  });
});
