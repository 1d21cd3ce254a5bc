/**
 * Key generation and the published JWK Set, per algorithm. The JWKS is checked by two independent
 * verifiers: jose's createLocalJWKSet, and node:crypto alone (the public key imported from the JWK,
 * the signature checked with crypto.verify over the JWS signing input).
 */
import { createPrivateKey, createPublicKey, verify as cryptoVerify, type JsonWebKey } from 'node:crypto';

import { expect } from 'chai';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, importPKCS8, jwtVerify } from 'jose';

import type { Algorithm } from '../../src/api/types.ts';
import {
  KeyMaterialError,
  generateKey,
  jwkThumbprint,
  keyFingerprint,
  kidFingerprint,
  publicJwk,
} from '../../src/platform/keys.ts';
import { jwksOf, jwksText, jwksUnion, parseJwks, secretKeyName } from '../../src/reconcile/secret-data.ts';

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA'] as const;
const scheme = (algorithm: Algorithm) => ({ algorithm, rsaKeySize: 2048 });

async function sign(pem: string, algorithm: Algorithm, kid: string): Promise<string> {
  const key = await importPKCS8(pem, algorithm);
  return new SignJWT({ sub: 'alice' })
    .setProtectedHeader({ alg: algorithm, kid, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

/** A second verifier: node:crypto only, picking the key by kid from the JWK Set. */
function cryptoVerifies(token: string, jwks: { keys: Record<string, unknown>[] }): boolean {
  const [header = '', payload = '', signature = ''] = token.split('.');
  const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as {
    alg: string;
    kid: string;
  };
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (jwk === undefined) return false;
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  if (alg === 'RS256') return cryptoVerify('sha256', data, key, sig);
  if (alg === 'ES256') return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (alg === 'EdDSA') return cryptoVerify(null, data, key, sig);
  return false;
}

describe('keys', () => {
  it('HMAC algorithms make secretLength random bytes as base64 text, a new value each time', () => {
    for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
      const key = generateKey(64, scheme(algorithm));
      expect(Buffer.from(key, 'base64')).to.have.length(64);
      expect(generateKey(64, scheme(algorithm))).to.not.equal(key);
    }
  });

  for (const algorithm of ASYMMETRIC) {
    describe(algorithm, () => {
      const current = generateKey(64, scheme(algorithm));
      const next = generateKey(64, scheme(algorithm));

      it('makes a PKCS#8 PEM private key of the algorithm', () => {
        expect(current).to.match(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
        const key = createPrivateKey(current);
        expect(key.asymmetricKeyType).to.equal({ RS256: 'rsa', ES256: 'ec', EdDSA: 'ed25519' }[algorithm]);
        if (algorithm === 'ES256') expect(key.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
        if (algorithm === 'RS256') expect(key.asymmetricKeyDetails?.modulusLength).to.equal(2048);
        expect(next).to.not.equal(current);
      });

      it("gives each key its RFC 7638 thumbprint as kid, as jose's calculateJwkThumbprint computes it", async () => {
        const jwk = publicJwk(current, algorithm);
        expect(jwk.kid).to.equal(await calculateJwkThumbprint(jwk, 'sha256'));
        expect(jwk).to.include({ use: 'sig', alg: algorithm });
        expect(jwk).to.not.have.any.keys('d', 'p', 'q', 'dp', 'dq', 'qi');
      });

      it('fingerprints a key by its public key: another encoding of the same private key has the same fingerprint', () => {
        const fp = keyFingerprint(current, scheme(algorithm));
        expect(fp).to.match(/^[0-9a-f]{12}$/);
        expect(fp).to.equal(kidFingerprint(publicJwk(current, algorithm).kid));
        const der = createPrivateKey(current).export({ type: 'pkcs8', format: 'der' });
        const reencoded = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
          format: 'jwk',
        });
        const fromJwk = createPrivateKey({ key: reencoded, format: 'jwk' })
          .export({ type: 'pkcs8', format: 'pem' })
          .toString();
        expect(keyFingerprint(`\n${fromJwk}`, scheme(algorithm))).to.equal(fp);
        expect(keyFingerprint(next, scheme(algorithm))).to.not.equal(fp);
      });

      it('publishes every private key of the Secret, once each, and both verifiers accept tokens of each', async () => {
        const values = {
          [secretKeyName(scheme(algorithm), 'JWT_SECRET')]: current,
          [secretKeyName(scheme(algorithm), 'JWT_SECRET_CURRENT')]: current,
          [secretKeyName(scheme(algorithm), 'JWT_SECRET_NEW')]: next,
          JWT_SECRET_ROTATION_DATE: '9999-12-31T23:59:59Z',
        };
        const jwks = parseJwks(jwksText(jwksOf(values, scheme(algorithm))));
        expect(jwks.keys.map((k) => k.kid)).to.deep.equal([
          publicJwk(current, algorithm).kid,
          publicJwk(next, algorithm).kid,
        ]);
        const set = createLocalJWKSet(jwks);
        for (const pem of [current, next]) {
          const token = await sign(pem, algorithm, publicJwk(pem, algorithm).kid);
          const { payload } = await jwtVerify(token, set, { algorithms: [algorithm] });
          expect(payload.sub).to.equal('alice');
          expect(cryptoVerifies(token, jwks as unknown as { keys: Record<string, unknown>[] })).to.be.true;
        }
      });

      it('a key not in the JWKS verifies with neither verifier', async () => {
        const jwks = jwksOf({ [secretKeyName(scheme(algorithm), 'JWT_SECRET')]: next }, scheme(algorithm));
        const token = await sign(current, algorithm, publicJwk(current, algorithm).kid);
        let rejected = false;
        try {
          await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: [algorithm] });
        } catch {
          rejected = true;
        }
        expect(rejected).to.be.true;
        expect(cryptoVerifies(token, jwks as unknown as { keys: Record<string, unknown>[] })).to.be.false;
        // Even when the token names the published key's kid, its signature does not verify.
        const forged = await sign(current, algorithm, publicJwk(next, algorithm).kid);
        expect(cryptoVerifies(forged, jwks as unknown as { keys: Record<string, unknown>[] })).to.be.false;
      });

      it('refuses a key of another algorithm without quoting it', () => {
        const other = generateKey(64, scheme(algorithm === 'EdDSA' ? 'ES256' : 'EdDSA'));
        expect(() => publicJwk(other, algorithm)).to.throw(KeyMaterialError);
        try {
          publicJwk(other, algorithm);
        } catch (error) {
          expect((error as Error).message).to.not.contain('PRIVATE');
          expect((error as Error).message).to.not.contain(other.slice(30, 60));
        }
        expect(() => publicJwk('not a key', algorithm)).to.throw('not a PEM private key');
      });
    });
  }

  it('makes RSA keys of rsaKeySize bits', () => {
    const pem = generateKey(64, { algorithm: 'RS256', rsaKeySize: 3072 });
    expect(createPrivateKey(pem).asymmetricKeyDetails?.modulusLength).to.equal(3072);
  });

  it('computes the RFC 7638 example thumbprint', () => {
    // RFC 7638 section 3.1.
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).to.equal('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('the union keeps what was published and adds what the Secret is about to hold', () => {
    const a = publicJwk(generateKey(0, scheme('EdDSA')), 'EdDSA');
    const b = publicJwk(generateKey(0, scheme('EdDSA')), 'EdDSA');
    expect(jwksUnion({ keys: [a] }, { keys: [b] }).keys).to.deep.equal([a, b]);
    expect(jwksUnion({ keys: [a, b] }, { keys: [b] }).keys).to.deep.equal([a, b]);
    expect(parseJwks('garbage').keys).to.deep.equal([]);
  });
});
