/**
 * Writes sdk/conformance/fixtures.json: the fixed test keys, the JWK Sets the operator would publish for
 * them, and the tokens the cases present. Tokens are made here, with jose and node:crypto, never with one of
 * the kits under test, so a kit cannot agree with itself by accident.
 *
 *   npx tsx sdk/conformance/generate.ts          # keeps existing key material and ES256 signatures
 *
 * Key material is made once and then read back from the file: HMAC, RS256 and EdDSA signatures are
 * deterministic, and an ES256 token is re-signed only when its header or claims change, so a rerun leaves the
 * file as it is.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { CompactSign, base64url } from 'jose';

import { fingerprint } from '../../src/platform/fingerprint.ts';
import { jwksOf, jwksText } from '../../src/reconcile/secret-data.ts';

const FILE = fileURLToPath(new URL('./fixtures.json', import.meta.url));
/** 2026-06-01T12:00:00Z: every token is issued at or around it. */
const T0 = 1_780_315_200;
const HOUR = 3600;

type Alg = 'HS256' | 'ES256' | 'EdDSA' | 'RS256';
interface KeyFixture {
  alg: Alg;
  kid: string;
  /** HMAC: the key text (the base64 of 64 bytes, used as its UTF-8 bytes, as the operator writes it). */
  secret?: string;
  /** Asymmetric: PKCS#8 PEM, as in JWT_PRIVATE_KEY. */
  privateKey?: string;
  /** Asymmetric: SPKI PEM of the public key, for checking a signature without a kit. */
  publicKey?: string;
}
interface TokenSpec {
  about: string;
  /** The fixture key that signs. */
  key: string;
  /** The header's alg; defaults to the key's. `none` makes an unsigned token. */
  alg?: string;
  /** The header's kid: a fixture key's name (its kid), a literal (`=abc`), or null for none. */
  kid?: string | null;
  claims?: Record<string, unknown>;
  /** HMAC-sign with the key's public PEM as the secret (the RS/HS confusion attack). */
  publicPemAsSecret?: boolean;
}

/** Clearly fake HMAC keys in the operator's shape: 88 characters of base64 over 64 bytes. */
function fakeHmacKey(letter: string): string {
  return Buffer.from(`conformance fixture key ${letter}, not a secret`.padEnd(64, '.')).toString('base64');
}

const KEYS: Record<string, Alg> = {
  'hs-a': 'HS256',
  'hs-b': 'HS256',
  'hs-c': 'HS256',
  'hs-x': 'HS256',
  'es-a': 'ES256',
  'es-b': 'ES256',
  'es-c': 'ES256',
  'es-x': 'ES256',
  'ed-a': 'EdDSA',
  'ed-b': 'EdDSA',
  'rs-a': 'RS256',
  'rs-b': 'RS256',
};

/** The JWK Sets, by name: the private keys whose public keys the operator publishes. */
const JWKS: Record<string, string[]> = {
  'es-a': ['es-a'],
  'es-b': ['es-b'],
  'es-c': ['es-c'],
  'es-ab': ['es-a', 'es-b'],
  'es-ac': ['es-a', 'es-c'],
  'ed-ab': ['ed-a', 'ed-b'],
  'rs-ab': ['rs-a', 'rs-b'],
};

const access = (sub: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub,
  iat: T0,
  exp: T0 + HOUR,
  token_use: 'access',
  ...extra,
});

const TOKENS: Record<string, TokenSpec> = {
  'hs-a': { about: 'signed with hs-a, kid hs-a', key: 'hs-a', claims: access('alice') },
  'hs-b': { about: 'signed with hs-b, kid hs-b', key: 'hs-b', claims: access('bob') },
  'hs-c': { about: 'signed with hs-c, kid hs-c', key: 'hs-c', claims: access('carol') },
  'hs-b-no-kid': { about: 'signed with hs-b, no kid', key: 'hs-b', kid: null, claims: access('bob') },
  'hs-a-unknown-kid': {
    about: 'signed with hs-a, a kid no key has',
    key: 'hs-a',
    kid: '=0123456789ab',
    claims: access('alice'),
  },
  'hs-x': { about: 'signed with hs-x, a key no Secret holds', key: 'hs-x', claims: access('mallory') },
  'hs-a-kid-b': {
    about: 'signed with hs-a but naming hs-b in kid',
    key: 'hs-a',
    kid: 'hs-b',
    claims: access('alice'),
  },
  'hs-none': { about: 'alg none, kid hs-a, no signature', key: 'hs-a', alg: 'none', claims: access('alice') },
  'hs-a-hs512': {
    about: 'signed with hs-a text under HS512',
    key: 'hs-a',
    alg: 'HS512',
    claims: access('alice'),
  },
  'hs-a-expired': {
    about: 'signed with hs-a, expired 60 s before T0',
    key: 'hs-a',
    claims: access('alice', { iat: T0 - HOUR - 60, exp: T0 - 60 }),
  },
  'hs-a-grace': {
    about: 'signed with hs-a, expired 10 s before T0 (within the 30 s tolerance)',
    key: 'hs-a',
    claims: access('alice', { iat: T0 - HOUR - 10, exp: T0 - 10 }),
  },
  'hs-a-refresh': {
    about: 'signed with hs-a, a refresh token',
    key: 'hs-a',
    claims: access('alice', { token_use: 'refresh' }),
  },
  'hs-a-no-exp': {
    about: 'signed with hs-a, no exp claim',
    key: 'hs-a',
    claims: { sub: 'alice', iat: T0, token_use: 'access' },
  },
  'hs-a-not-yet': {
    about: 'signed with hs-a, nbf 10 min after T0',
    key: 'hs-a',
    claims: access('alice', { nbf: T0 + 600 }),
  },
  'es-a': { about: 'signed with es-a, kid es-a', key: 'es-a', claims: access('alice') },
  'es-b': { about: 'signed with es-b, kid es-b', key: 'es-b', claims: access('bob') },
  'es-c': { about: 'signed with es-c, kid es-c', key: 'es-c', claims: access('carol') },
  'es-b-no-kid': { about: 'signed with es-b, no kid', key: 'es-b', kid: null, claims: access('bob') },
  'es-a-unknown-kid': {
    about: 'signed with es-a, a kid no JWK has',
    key: 'es-a',
    kid: '=not-a-published-kid',
    claims: access('alice'),
  },
  'es-x': { about: 'signed with es-x, never published', key: 'es-x', claims: access('mallory') },
  'es-a-kid-b': {
    about: 'signed with es-a but naming es-b in kid',
    key: 'es-a',
    kid: 'es-b',
    claims: access('alice'),
  },
  'es-none': { about: 'alg none, kid es-a, no signature', key: 'es-a', alg: 'none', claims: access('alice') },
  'es-a-hs256': {
    about: "alg HS256, kid es-a, HMAC over es-a's public key PEM (key confusion)",
    key: 'es-a',
    alg: 'HS256',
    publicPemAsSecret: true,
    claims: access('mallory'),
  },
  'es-a-expired': {
    about: 'signed with es-a, expired 60 s before T0',
    key: 'es-a',
    claims: access('alice', { iat: T0 - HOUR - 60, exp: T0 - 60 }),
  },
  'ed-a': { about: 'signed with ed-a, kid ed-a', key: 'ed-a', claims: access('alice') },
  'ed-b': { about: 'signed with ed-b, kid ed-b', key: 'ed-b', claims: access('bob') },
  'rs-a': { about: 'signed with rs-a, kid rs-a', key: 'rs-a', claims: access('alice') },
  'rs-b': { about: 'signed with rs-b, kid rs-b', key: 'rs-b', claims: access('bob') },
};

interface Fixtures {
  about: string;
  t0: number;
  keys: Record<string, KeyFixture>;
  jwks: Record<string, string>;
  tokens: Record<string, { about: string; key: string; header: object; claims: object; jwt: string }>;
}

function makeKey(name: string, alg: Alg, previous: KeyFixture | undefined): KeyFixture {
  if (alg === 'HS256') {
    const secret = fakeHmacKey(name.slice(3).toUpperCase());
    return { alg, kid: fingerprint(secret), secret };
  }
  const privateKey =
    previous?.privateKey ??
    (alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519').privateKey
        : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    )
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const scheme = { algorithm: alg, rsaKeySize: 2048 };
  const kid = jwksOf({ JWT_PRIVATE_KEY: privateKey }, scheme).keys[0]?.kid ?? '';
  return { alg, kid, privateKey, publicKey };
}

async function makeToken(
  spec: TokenSpec,
  keys: Record<string, KeyFixture>,
  previous?: Fixtures['tokens'][string],
) {
  const key = keys[spec.key];
  if (key === undefined) throw new Error(`token signed by unknown key ${spec.key}`);
  const alg = spec.alg ?? key.alg;
  const header: { alg: string; typ: string; kid?: string } = { alg, typ: 'JWT' };
  if (spec.kid !== null) {
    const kid = spec.kid ?? spec.key;
    header.kid = kid.startsWith('=') ? kid.slice(1) : (keys[kid]?.kid ?? '');
  }
  const claims = spec.claims ?? {};
  if (
    previous !== undefined &&
    JSON.stringify([previous.key, previous.header, previous.claims]) ===
      JSON.stringify([spec.key, header, claims])
  ) {
    return { about: spec.about, key: spec.key, header, claims, jwt: previous.jwt };
  }
  const payload = new TextEncoder().encode(JSON.stringify(claims));
  let jwt: string;
  if (alg === 'none') {
    jwt = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(payload)}.`;
  } else {
    const secret = spec.publicPemAsSecret === true ? key.publicKey : key.secret;
    const signingKey =
      secret !== undefined ? new TextEncoder().encode(secret) : createPrivateKey(key.privateKey ?? '');
    jwt = await new CompactSign(payload).setProtectedHeader(header).sign(signingKey);
  }
  return { about: spec.about, key: spec.key, header, claims, jwt };
}

async function main(): Promise<void> {
  const previous = existsSync(FILE) ? (JSON.parse(readFileSync(FILE, 'utf8')) as Fixtures) : undefined;
  const keys: Record<string, KeyFixture> = {};
  for (const [name, alg] of Object.entries(KEYS)) keys[name] = makeKey(name, alg, previous?.keys[name]);
  const jwks: Record<string, string> = {};
  for (const [name, members] of Object.entries(JWKS)) {
    const alg = keys[members[0] ?? '']?.alg ?? 'ES256';
    const slots = ['JWT_PRIVATE_KEY', 'JWT_PRIVATE_KEY_NEW'];
    const values = Object.fromEntries(members.map((m, i) => [slots[i] ?? '', keys[m]?.privateKey ?? '']));
    jwks[name] = jwksText(jwksOf(values, { algorithm: alg, rsaKeySize: 2048 }));
  }
  const tokens: Fixtures['tokens'] = {};
  for (const [name, spec] of Object.entries(TOKENS))
    tokens[name] = await makeToken(spec, keys, previous?.tokens[name]);
  const fixtures: Fixtures = {
    about:
      'Generated by sdk/conformance/generate.ts: fixed, fake test keys; the JWK Sets the operator publishes for them; the tokens the cases present. Do not edit by hand.',
    t0: T0,
    keys,
    jwks,
    tokens,
  };
  writeFileSync(FILE, `${JSON.stringify(fixtures, null, 2)}\n`);
  process.stdout.write(
    `wrote ${FILE}: ${Object.keys(keys).length} keys, ${Object.keys(jwks).length} JWK Sets, ${Object.keys(tokens).length} tokens\n`,
  );
}

await main();
