/**
 * Key material for every spec.algorithm, with the platform's crypto (node:crypto) only: making keys,
 * the public JWK of a private key, its RFC 7638 thumbprint (the JWKS `kid`), and the fingerprint the
 * operator shows for a key. Nothing here logs, and no error message carries key material.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

import { ASYMMETRIC_ALGORITHMS } from '../api/constants.ts';
import type { Algorithm } from '../api/types.ts';
import { fingerprint } from './fingerprint.ts';

/** What kind of key to make: the algorithm, the HMAC length in bytes and the RSA modulus length in bits. */
export interface KeyScheme {
  algorithm: Algorithm;
  rsaKeySize: number;
}

export const HMAC_SCHEME: KeyScheme = { algorithm: 'HS256', rsaKeySize: 2048 };

export function isAsymmetric(algorithm: Algorithm): boolean {
  return (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm);
}

/**
 * A new key: for HMAC, `bytes` random bytes as base64 text (the runbook's `openssl rand -base64 64`);
 * for RS256, ES256 (P-256) and EdDSA (Ed25519), a new private key as PKCS#8 PEM.
 */
export function generateKey(bytes: number, scheme: KeyScheme): string {
  switch (scheme.algorithm) {
    case 'HS256':
    case 'HS384':
    case 'HS512':
      return randomBytes(bytes).toString('base64');
    case 'RS256':
      return pkcs8(generateKeyPairSync('rsa', { modulusLength: scheme.rsaKeySize }).privateKey);
    case 'ES256':
      return pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    case 'EdDSA':
      return pkcs8(generateKeyPairSync('ed25519').privateKey);
  }
}

function pkcs8(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A public key as a JWK (RFC 7517), with its RFC 7638 thumbprint as `kid`. */
export interface PublicJwk {
  kty: string;
  kid: string;
  use: 'sig';
  alg: string;
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

/** Thrown for a value that is not a private key of the algorithm; the message never quotes the value. */
export class KeyMaterialError extends Error {
  override readonly name = 'KeyMaterialError';
}

/** A PEM private key parsed by node:crypto, checked against the algorithm; throws KeyMaterialError. */
function privateKeyOf(privatePem: string, algorithm: Algorithm): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: privatePem, format: 'pem' });
  } catch {
    throw new KeyMaterialError(`not a PEM private key`);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  const fits =
    (algorithm === 'RS256' && type === 'rsa' && (details?.modulusLength ?? 0) >= 2048) ||
    (algorithm === 'ES256' && type === 'ec' && details?.namedCurve === 'prime256v1') ||
    (algorithm === 'EdDSA' && type === 'ed25519');
  if (!fits) throw new KeyMaterialError(`a ${type ?? 'unknown'} key, which does not fit ${algorithm}`);
  return key;
}

/**
 * What parsing a PEM private key gave: its public JWK, or why it is not a key of the algorithm.
 * Parsing costs about a millisecond (more for RSA), and a pass looks at the same few keys several
 * times (the Secret's view, its fingerprints, the published key set), so the answers are kept for
 * the last PARSED_LIMIT keys. They are public keys and error texts; the map's keys are the PEM
 * texts, which the watch cache holds anyway.
 */
const parsed = new Map<string, PublicJwk | KeyMaterialError>();
const PARSED_LIMIT = 512;

function parse(privatePem: string, algorithm: Algorithm): PublicJwk | KeyMaterialError {
  const id = `${algorithm}\n${privatePem}`;
  const known = parsed.get(id);
  if (known !== undefined) return known;
  let answer: PublicJwk | KeyMaterialError;
  try {
    answer = jwkOf(privateKeyOf(privatePem, algorithm), algorithm);
  } catch (error) {
    if (!(error instanceof KeyMaterialError)) throw error;
    answer = error;
  }
  if (parsed.size >= PARSED_LIMIT) parsed.delete(parsed.keys().next().value ?? '');
  parsed.set(id, answer);
  return answer;
}

function jwkOf(key: KeyObject, algorithm: Algorithm): PublicJwk {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const members = Object.fromEntries(
    (['kty', 'n', 'e', 'crv', 'x', 'y'] as const)
      .filter((m) => typeof jwk[m] === 'string')
      .map((m) => [m, jwk[m] as string]),
  );
  const kty = members.kty ?? '';
  return { kty, kid: jwkThumbprint(members), use: 'sig', alg: algorithm, ...members };
}

/**
 * Why consumers could not load this value as the algorithm's private key, or undefined when they
 * can: node:crypto must parse it as a key of the algorithm, and it must be PKCS#8, the encoding the
 * operator writes and jose's importPKCS8 reads (PEM's label names the encoding, RFC 7468).
 */
export function privateKeyProblem(value: string, algorithm: Algorithm): string | undefined {
  const answer = parse(value, algorithm);
  if (answer instanceof KeyMaterialError) return `it is ${answer.message}`;
  return value.trimStart().startsWith('-----BEGIN PRIVATE KEY-----')
    ? undefined
    : 'it is not PKCS#8 (-----BEGIN PRIVATE KEY-----), the encoding consumers import';
}

/** The public JWK of a PKCS#8 (or PKCS#1/SEC1) PEM private key, checked against the algorithm. */
export function publicJwk(privatePem: string, algorithm: Algorithm): PublicJwk {
  const answer = parse(privatePem, algorithm);
  if (answer instanceof KeyMaterialError) throw answer;
  return { ...answer };
}

/** The members RFC 7638 hashes, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/**
 * RFC 7638 JWK thumbprint with SHA-256, base64url: the hash of the required members, in
 * lexicographic order, as JSON without whitespace. The operator's one copy: jose's
 * calculateJwkThumbprint is async (WebCrypto's digest), and the thumbprint is the fingerprint of
 * every asymmetric key that viewSecret, the executor and the simulated world compute synchronously
 * on each pass. The unit tests hold it to jose's answer for every algorithm and to RFC 7638's example.
 */
export function jwkThumbprint(jwk: Readonly<Record<string, string | undefined>>): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (members === undefined) throw new KeyMaterialError(`no thumbprint for key type ${jwk.kty ?? 'none'}`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m] ?? '')}`).join(',')}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/**
 * The fingerprint the operator shows for a key (status, Events, the pod-template revision). For HMAC,
 * the first 12 hex digits of SHA-256 over the key text. For an asymmetric key, the first 12 hex digits
 * of its public key's RFC 7638 thumbprint (the JWKS `kid`): it depends on the public key only, so
 * re-encoding the private key does not change it. A value that is not a key of the algorithm gets the
 * text fingerprint, so a broken key still shows (and can be replaced).
 */
export function keyFingerprint(value: string, scheme: KeyScheme): string {
  if (!isAsymmetric(scheme.algorithm)) return fingerprint(value);
  try {
    return kidFingerprint(publicJwk(value, scheme.algorithm).kid);
  } catch {
    return fingerprint(value);
  }
}

/** The fingerprint of a key whose JWKS `kid` (an RFC 7638 thumbprint) this is. */
export function kidFingerprint(kid: string): string {
  return Buffer.from(kid, 'base64url').toString('hex').slice(0, 12);
}
