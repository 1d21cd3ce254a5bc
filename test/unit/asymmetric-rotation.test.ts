/**
 * Asymmetric algorithms through the staged rotation, in the simulated world (the production
 * decideInput, decide and plannedWrites): the Secret holds PKCS#8 private keys under
 * JWT_PRIVATE_KEY*, and the JWKS ConfigMap lists every key that may sign a valid token. The
 * invariant is checked after every single write, and again with passes killed between writes.
 */
import { createPrivateKey } from 'node:crypto';

import { expect } from 'chai';

import type { Algorithm, JwtRotationSpec } from '../../src/api/types.ts';
import { kidFingerprint } from '../../src/platform/keys.ts';
import { NOT_SCHEDULED, signsWithKey, verifiesKey } from '../../src/rotation/revision.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

const base: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [
    { kind: 'Deployment', name: 'api' },
    { kind: 'Deployment', name: 'web' },
  ],
  // Short token lifetimes: by default completion waits until the old key's tokens have expired.
  tokenTTL: '20s',
  refreshTokenTTL: '40s',
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  monitoring: { minDuration: '30s', maxDuration: '60s' },
  schedule: { interval: '24h' },
};

function world(algorithm: Algorithm): { w: SimulatedWorld; startKey: string } {
  const w = new SimulatedWorld({ ...base, algorithm }, T0, ['api', 'web']);
  w.rolloutLooks = 5;
  w.settle();
  return { w, startKey: w.secretView()?.fingerprints.JWT_SECRET ?? '' };
}

/** Fingerprints of the keys the JWKS lists. */
function published(w: SimulatedWorld): string[] {
  return w.jwks().keys.map((k) => kidFingerprint(k.kid));
}

/** Every pod's revision (pods the operator never rolled hold the start key). */
function podRevisions(w: SimulatedWorld, startKey: string): string[] {
  return w.targetViews().flatMap((t) => (t.pods ?? []).map((p) => p.revision ?? `${startKey}//`));
}

/**
 * The invariants: a key any pod signs with now is in the JWKS, and every pod verifies it; the JWKS
 * lists no key the Secret does not hold (after a pass).
 */
function assertSignedKeysPublished(w: SimulatedWorld, startKey: string): void {
  const view = w.secretView();
  const keys = [view?.fingerprints.JWT_SECRET, view?.fingerprints.JWT_SECRET_NEW, startKey];
  const pods = podRevisions(w, startKey);
  for (const signer of pods) {
    for (const key of keys) {
      if (key === undefined || !signsWithKey(signer, key, w.now)) continue;
      expect(published(w), `a pod on ${signer} signs with ${key}, which the JWKS does not list`).to.include(
        key,
      );
      for (const verifier of pods) expect(verifiesKey(verifier, key), verifier).to.be.true;
    }
  }
}

function assertJwksIsTheSecretsKeys(w: SimulatedWorld): void {
  const fp = w.secretView()?.fingerprints ?? {};
  const held = [...new Set([fp.JWT_SECRET, fp.JWT_SECRET_CURRENT, fp.JWT_SECRET_NEW].filter((k) => k))];
  expect(published(w)).to.have.members(held);
}

/** Runs to Idle with a finished operation, a pass per second, optionally killing passes after `crash(i)` writes. */
function runToIdle(w: SimulatedWorld, startKey: string, crash: (i: number) => number = () => Infinity): void {
  for (let i = 0; i < 3000; i++) {
    w.pass(crash(i));
    assertSignedKeysPublished(w, startKey);
    if (w.status?.phase === 'Idle' && w.status.lastRotation !== undefined && i > 0) return;
    w.now += SECOND;
  }
  throw new Error(`did not reach Idle; phase ${w.status?.phase ?? 'none'}`);
}

describe('asymmetric keys through the staged rotation', () => {
  for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
    describe(algorithm, function () {
      this.timeout(60_000);

      it('creates the Secret with a PKCS#8 private key under JWT_PRIVATE_KEY and publishes its public key', () => {
        const { w } = world(algorithm);
        const values = w.secret?.values ?? {};
        expect(Object.keys(values)).to.have.members([
          'JWT_PRIVATE_KEY',
          'JWT_EXPIRATION',
          'JWT_REFRESH_EXPIRATION',
        ]);
        expect(values.JWT_PRIVATE_KEY).to.match(/^-----BEGIN PRIVATE KEY-----/);
        expect(createPrivateKey(values.JWT_PRIVATE_KEY ?? '').type).to.equal('private');
        assertJwksIsTheSecretsKeys(w);
        expect(w.jwks().keys[0]).to.include({ alg: algorithm, use: 'sig' });
        expect(JSON.stringify(w.jwks())).to.not.contain('"d"');
      });

      it('rotates: the new key is published before the first Secret write that holds it, and the old key leaves at completion', () => {
        const { w, startKey } = world(algorithm);
        const oldKey = startKey;
        const jwksWritesBefore: string[][] = [];
        w.afterWrite = (write) => {
          assertSignedKeysPublished(w, startKey);
          if (write.type === 'ReplaceSecret') {
            // The Secret now holds the keys it holds; every one of them was published before this write.
            const fp = w.secretView()?.fingerprints ?? {};
            for (const key of [fp.JWT_SECRET, fp.JWT_SECRET_NEW]) {
              if (key !== undefined) expect(jwksWritesBefore.flat()).to.include(key);
            }
          }
          if (write.type === 'WriteJwks') jwksWritesBefore.push(published(w));
        };
        w.annotations['jwtrotation.io/rotate'] = 'go';
        w.pass(); // the checklist saves the rollback copy
        w.pass();
        const values = w.secret?.values ?? {};
        expect(values.JWT_PRIVATE_KEY_CURRENT).to.equal(values.JWT_PRIVATE_KEY);
        expect(values.JWT_PRIVATE_KEY_NEW).to.match(/^-----BEGIN PRIVATE KEY-----/);
        expect(values.JWT_SECRET_ROTATION_DATE).to.equal(NOT_SCHEDULED);
        expect(values).to.not.have.any.keys('JWT_SECRET', 'JWT_SECRET_NEW', 'JWT_SECRET_CURRENT');
        const newKey = w.secretView()?.fingerprints.JWT_SECRET_NEW ?? '';
        expect(published(w)).to.deep.equal([oldKey, newKey]);
        runToIdle(w, startKey);
        expect(w.status?.lastRotation).to.include({ outcome: 'Completed', newKeyFingerprint: newKey });
        expect(published(w)).to.deep.equal([newKey]);
        expect(Object.keys(w.secret?.values ?? {})).to.not.include.members(['JWT_PRIVATE_KEY_NEW']);
        assertJwksIsTheSecretsKeys(w);
      });

      it('keeps the invariant with passes killed after any write, and ends with exactly one new key', () => {
        // Every crash point for one algorithm; two for the others (the writes do not depend on the algorithm).
        for (const crashAt of algorithm === 'EdDSA' ? [0, 1, 2, 3, 4] : [1, 3]) {
          const { w, startKey } = world(algorithm);
          w.annotations['jwtrotation.io/rotate'] = 'go';
          // Every other pass is killed after `crashAt` writes.
          runToIdle(w, startKey, (i) => (i % 2 === 0 ? crashAt : Number.POSITIVE_INFINITY));
          expect(w.status?.lastRotation?.outcome, `crashAt=${crashAt}`).to.equal('Completed');
          assertJwksIsTheSecretsKeys(w);
          expect(w.jwks().keys).to.have.length(1);
          expect(published(w)).to.deep.equal([w.status?.lastRotation?.newKeyFingerprint]);
        }
      });

      it('on an emergency rotation, the compromised key leaves the JWKS in the same pass', () => {
        const { w, startKey } = world(algorithm);
        const seen: string[][] = [];
        w.afterWrite = (write) => {
          if (write.type === 'WriteJwks') seen.push(published(w));
        };
        w.annotations['jwtrotation.io/emergency-rotate'] = 'leak';
        w.pass();
        const now = w.secretView()?.fingerprints.JWT_SECRET ?? '';
        expect(now).to.not.equal(startKey);
        // Published before the Secret holds it (pods started meanwhile sign with it), then alone.
        expect(seen).to.deep.equal([[startKey, now], [now]]);
        expect(published(w)).to.deep.equal([now]);
      });

      it('on a rollback, the JWKS goes back to the original key alone', () => {
        const { w, startKey } = world(algorithm);
        w.annotations['jwtrotation.io/rotate'] = 'go';
        w.pass(); // the checklist saves the rollback copy
        w.pass();
        expect(published(w)).to.have.length(2);
        w.annotations['jwtrotation.io/rollback'] = 'back';
        runToIdle(w, startKey);
        expect(w.status?.lastRotation?.outcome).to.equal('RolledBack');
        expect(w.secretView()?.fingerprints.JWT_SECRET).to.equal(startKey);
        expect(published(w)).to.deep.equal([startKey]);
      });

      it('writes nothing once settled (the JWKS is compared, not rewritten)', () => {
        const { w } = world(algorithm);
        const writes = w.writes;
        for (let i = 0; i < 3; i++) w.pass();
        expect(w.writes).to.equal(writes);
      });
    });
  }
});
