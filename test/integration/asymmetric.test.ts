/**
 * Asymmetric algorithms on a real control plane, per algorithm: the Secret's PKCS#8 private keys
 * (JWT_PRIVATE_KEY*) and the JWKS ConfigMap through a full rotation, a rollback and an emergency
 * rotation; every published JWKS is checked by jose's createLocalJWKSet against tokens signed with
 * the Secret's private keys. Plus the API's rules for spec.algorithm.
 */
import { expect } from 'chai';
import { SignJWT, createLocalJWKSet, importPKCS8, jwtVerify, type JSONWebKeySet } from 'jose';

import type { Algorithm, JwtRotationSpec } from '../../src/api/types.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { keyFingerprint } from '../../src/platform/keys.ts';
import type { TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  patchSpec,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const spec = (algorithm: Algorithm): JwtRotationSpec => ({
  secretName: 'api-jwt',
  algorithm,
  targets: [{ kind: 'Deployment', name: 'api' }],
  rollout: { signingDelay: '4s', pollInterval: '500ms' },
  monitoring: { minDuration: '4s', maxDuration: '1m', requireOldTokenExpiry: false },
});

const DUAL_KEY_VARS = ['JWT_PRIVATE_KEY_CURRENT', 'JWT_PRIVATE_KEY_NEW', 'JWT_SECRET_ROTATION_DATE'];

describe('asymmetric keys and the JWKS on a real control plane', function () {
  this.timeout(300_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  before(() => ({ cluster, c } = suite));

  after(() => {
    expect(suite.operator.output()).to.not.contain('PRIVATE KEY');
  });

  async function jwks(ns: string, name = 'api-jwt-jwks'): Promise<JSONWebKeySet> {
    const map = await c.core.readNamespacedConfigMap({ namespace: ns, name });
    return JSON.parse(map.data?.['jwks.json'] ?? '{}') as JSONWebKeySet;
  }

  /** Whether a token signed with this private key verifies against the JWKS (by its kid). */
  async function verifies(pem: string, set: JSONWebKeySet, algorithm: Algorithm): Promise<boolean> {
    const fp = keyFingerprint(pem, { algorithm, rsaKeySize: 2048 });
    const kid = set.keys.find((k) =>
      Buffer.from(k.kid ?? '', 'base64url')
        .toString('hex')
        .startsWith(fp),
    )?.kid;
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: algorithm, kid: kid ?? 'unknown' })
      .setExpirationTime('5m')
      .sign(await importPKCS8(pem, algorithm));
    try {
      await jwtVerify(token, createLocalJWKSet(set), { algorithms: [algorithm] });
      return true;
    } catch {
      return false;
    }
  }

  for (const algorithm of ['RS256', 'ES256', 'EdDSA'] as const) {
    it(`${algorithm}: creates, rotates, rolls back and emergency-rotates, the JWKS listing exactly the keys that may sign`, async () => {
      const ns = await cluster.newNamespace(`asym-${algorithm.toLowerCase()}`);
      await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
      await createJwtRotation(c, ns, 'api', spec(algorithm));
      const idle = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.currentKeyFingerprint !== undefined,
      );
      const created = (await secretValues(c, ns, 'api-jwt')) ?? {};
      const original = created.JWT_PRIVATE_KEY ?? '';
      expect(original).to.match(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(created).to.not.have.property('JWT_SECRET');
      const scheme = { algorithm, rsaKeySize: 2048 };
      expect(idle.status?.currentKeyFingerprint).to.equal(keyFingerprint(original, scheme));
      let set = await jwks(ns);
      expect(set.keys).to.have.length(1);
      expect(set.keys[0]).to.include({ alg: algorithm, use: 'sig' });
      expect(JSON.stringify(set)).to.not.match(/"d"|PRIVATE/);
      expect(await verifies(original, set, algorithm)).to.equal(true);

      // A full rotation: both keys published while the new one is verify-only, the new one alone after.
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
      const dual = await waitForPhase(
        c,
        ns,
        'api',
        'DualKey',
        (r) => r.status?.newKeyFingerprint !== undefined,
      );
      const during = (await secretValues(c, ns, 'api-jwt')) ?? {};
      const next = during.JWT_PRIVATE_KEY_NEW ?? '';
      expect(during.JWT_PRIVATE_KEY_CURRENT).to.equal(original);
      expect(dual.status?.newKeyFingerprint).to.equal(keyFingerprint(next, scheme));
      set = await jwks(ns);
      expect(set.keys).to.have.length(2);
      expect(await verifies(original, set, algorithm)).to.equal(true);
      expect(await verifies(next, set, algorithm), 'published while verify-only').to.equal(true);
      if (during.JWT_SECRET_ROTATION_DATE === NOT_SCHEDULED) {
        // Still verify-only: the date is set only once every pod verifies the new key.
        expect(set.keys).to.have.length(2);
      }
      const completed = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'Completed',
        120_000,
      );
      const after = (await secretValues(c, ns, 'api-jwt')) ?? {};
      expect(after.JWT_PRIVATE_KEY).to.equal(next);
      for (const key of DUAL_KEY_VARS) expect(after).to.not.have.property(key);
      expect(completed.status?.lastRotation?.newKeyFingerprint).to.equal(keyFingerprint(next, scheme));
      set = await jwks(ns);
      expect(set.keys).to.have.length(1);
      expect(await verifies(next, set, algorithm)).to.equal(true);
      expect(await verifies(original, set, algorithm), 'the old key left at completion').to.equal(false);

      // Rollback in DualKey: the JWKS goes back to the key the Secret goes back to.
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'again' });
      await waitForPhase(c, ns, 'api', 'DualKey', (r) => r.status?.newKeyFingerprint !== undefined);
      const third = (await secretValues(c, ns, 'api-jwt'))?.JWT_PRIVATE_KEY_NEW ?? '';
      expect((await jwks(ns)).keys).to.have.length(2);
      await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'back' });
      await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'RolledBack',
        120_000,
      );
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_PRIVATE_KEY).to.equal(next);
      set = await jwks(ns);
      expect(set.keys).to.have.length(1);
      expect(await verifies(next, set, algorithm)).to.equal(true);
      expect(await verifies(third, set, algorithm), 'the abandoned key left').to.equal(false);

      // Emergency: the compromised key leaves the JWKS at once.
      await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'leak' });
      await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.trigger === 'Emergency',
        120_000,
      );
      const replaced = (await secretValues(c, ns, 'api-jwt'))?.JWT_PRIVATE_KEY ?? '';
      expect(replaced).to.not.equal(next);
      set = await jwks(ns);
      expect(set.keys).to.have.length(1);
      expect(await verifies(replaced, set, algorithm)).to.equal(true);
      expect(await verifies(next, set, algorithm), 'the compromised key left').to.equal(false);
      const emergency = (await eventsOf(c, ns)).find((e) => e.reason === 'EmergencyRotation');
      expect(emergency?.message).to.contain('leaves the JWKS');
    });
  }

  it('honours spec.jwks.configMapName and keeps the other keys of an existing ConfigMap', async () => {
    const ns = await cluster.newNamespace('asym-named');
    await c.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'public-keys' }, data: { 'README.txt': 'served by nginx' } },
    });
    await createJwtRotation(c, ns, 'api', {
      ...spec('EdDSA'),
      targets: [],
      jwks: { configMapName: 'public-keys' },
    });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    const map = await c.core.readNamespacedConfigMap({ namespace: ns, name: 'public-keys' });
    expect(map.data?.['README.txt']).to.equal('served by nginx');
    expect((JSON.parse(map.data?.['jwks.json'] ?? '{}') as JSONWebKeySet).keys).to.have.length(1);
    expect(map.metadata?.labels?.['app.kubernetes.io/managed-by']).to.equal('jwt-rotation-operator');
  });

  it('refuses to change spec.algorithm, and a secretLength too short for HS512', async () => {
    const ns = await cluster.newNamespace('asym-rules');
    await createJwtRotation(c, ns, 'api', { ...spec('ES256'), targets: [] });
    let error = '';
    try {
      await patchSpec(c, ns, 'api', { algorithm: 'RS256' });
    } catch (e) {
      error = String((e as { body?: unknown }).body ?? e);
    }
    expect(error).to.contain('algorithm is immutable');
    error = '';
    try {
      await createJwtRotation(c, ns, 'hs512', { secretName: 'other', algorithm: 'HS512', secretLength: 48 });
    } catch (e) {
      error = String((e as { body?: unknown }).body ?? e);
    }
    expect(error).to.contain('secretLength must be at least 48 for HS384 and 64 for HS512');
  });
});
