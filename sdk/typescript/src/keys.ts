/**
 * From the Secret's variables (and the JWKS, for asymmetric keys) to the keys a replica verifies with and the
 * key it signs with at a given instant: docs/consumer-contract.md.
 */
import { createPrivateKey, createPublicKey, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';

import type { CryptoKey } from 'jose';

import { parseGoDuration } from './duration.ts';
import { fingerprint, jwkThumbprint } from './fingerprint.ts';

/** The Secret's keys, exactly as the operator writes them. */
export const JwtVars = {
  secret: 'JWT_SECRET',
  current: 'JWT_SECRET_CURRENT',
  next: 'JWT_SECRET_NEW',
  rotationDate: 'JWT_SECRET_ROTATION_DATE',
  expiration: 'JWT_EXPIRATION',
  refreshExpiration: 'JWT_REFRESH_EXPIRATION',
  /** HMAC only: HS256 (the default), HS384 or HS512. The workload's setting, not the operator's. */
  algorithm: 'JWT_ALGORITHM',
  /** Asymmetric algorithms (RS256, ES256, EdDSA): PKCS#8 PEM private keys, in the same three slots. */
  privateKey: 'JWT_PRIVATE_KEY',
  privateCurrent: 'JWT_PRIVATE_KEY_CURRENT',
  privateNext: 'JWT_PRIVATE_KEY_NEW',
} as const;

export const JWT_VAR_NAMES: readonly string[] = Object.values(JwtVars);

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export type Algorithm = HmacAlgorithm | AsymmetricAlgorithm;

/** The `key_version` metric label of a key: which slot verified or signed a token. */
export type KeyVersion = 'current' | 'new';

/** The runbook's TTLs, used when the Secret does not say. */
const DEFAULT_EXPIRATION = '24h';
const DEFAULT_REFRESH_EXPIRATION = '168h';
/** What the operator writes while the new key is published for verification only. */
export const NOT_SCHEDULED = '9999-12-31T23:59:59Z';

interface AsymmetricParts {
  alg: AsymmetricAlgorithm;
  kid: string;
  sign: KeyObject | undefined;
  verify: KeyObject;
}

/**
 * One key. HMAC (`new JwtKey(text, version)`): the key is the variable's TEXT, used as UTF-8 bytes (never
 * base64-decoded); its kid is its fingerprint. Asymmetric (`JwtKey.fromPrivateKey`, `JwtKey.fromJwk`): its kid
 * is the RFC 7638 thumbprint of the public key, as in the operator's JWKS. Key material stays private and the
 * key prints as its kid, so it cannot end up in a log by accident.
 */
export class JwtKey {
  readonly version: KeyVersion;
  readonly kid: string;
  readonly alg: Algorithm;
  readonly #sign: Promise<CryptoKey> | KeyObject | undefined;
  readonly #verify: Promise<CryptoKey> | KeyObject;

  constructor(secret: string, version: KeyVersion, hmac?: HmacAlgorithm);
  constructor(secret: undefined, version: KeyVersion, asymmetric: AsymmetricParts);
  constructor(secret: string | undefined, version: KeyVersion, option?: HmacAlgorithm | AsymmetricParts) {
    this.version = version;
    if (typeof option === 'object') {
      this.kid = option.kid;
      this.alg = option.alg;
      this.#sign = option.sign;
      this.#verify = option.verify;
      return;
    }
    this.kid = fingerprint(secret ?? '');
    this.alg = option ?? 'HS256';
    // Imported once: jose would otherwise import the raw bytes again on every sign and verify.
    const key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: `SHA-${this.alg.slice(2)}` },
      false,
      ['sign', 'verify'],
    );
    this.#sign = key;
    this.#verify = key;
  }

  /** A signing key from a PKCS#8 PEM private key; its algorithm follows from its type. */
  static fromPrivateKey(pem: string, version: KeyVersion): JwtKey {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new ConfigError('a JWT_PRIVATE_KEY* value is not a PEM private key');
    }
    const verify = createPublicKey(key);
    return new JwtKey(undefined, version, {
      alg: algorithmOf(verify),
      kid: jwkThumbprint(verify.export({ format: 'jwk' })),
      sign: key,
      verify,
    });
  }

  /** A verification key from a JWK of the JWKS; a JWK whose `alg` does not fit its key is refused. */
  static fromJwk(jwk: JsonWebKey & { kid?: string; alg?: string }, version: KeyVersion): JwtKey {
    const verify = createPublicKey({ key: jwk, format: 'jwk' });
    const alg = algorithmOf(verify);
    if (jwk.alg !== undefined && jwk.alg !== alg)
      throw new ConfigError(`JWK alg ${jwk.alg} does not fit its key`);
    return new JwtKey(undefined, version, {
      alg,
      kid: jwk.kid ?? jwkThumbprint(verify.export({ format: 'jwk' })),
      sign: undefined,
      verify,
    });
  }

  get canSign(): boolean {
    return this.#sign !== undefined;
  }

  /** What jose signs with; rejects for a verification-only key. */
  signingKey(): Promise<CryptoKey | KeyObject> {
    if (this.#sign === undefined) return Promise.reject(new Error(`key ${this.kid} cannot sign`));
    return Promise.resolve(this.#sign);
  }

  /** What jose verifies with. HMAC keys are not extractable: the key cannot be read back from it. */
  verificationKey(): Promise<CryptoKey | KeyObject> {
    return Promise.resolve(this.#verify);
  }

  toJSON(): { version: KeyVersion; kid: string } {
    return { version: this.version, kid: this.kid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `JwtKey(${this.version} ${this.kid})`;
  }
}

/** The keys of one version of the Secret (and JWKS). Immutable: a reload makes a new ring. */
export interface KeyRing {
  /** `dual` while a rotation is in flight (a NEW key is held), `steady` otherwise. */
  mode: 'steady' | 'dual';
  /** `hmac`: JWT_SECRET*; `jwks`: JWT_PRIVATE_KEY* to sign, the JWKS to verify. */
  kind: 'hmac' | 'jwks';
  /** Every key a token may be verified with. */
  keys: readonly JwtKey[];
  /** The key signed with before the rotation date; undefined for a verify-only replica (a JWKS alone). */
  current: JwtKey | undefined;
  next: JwtKey | undefined;
  /** From this instant on, sign with `next`. Undefined in steady mode, or when the date is missing/invalid. */
  rotationDate: Date | undefined;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  /** What an operator should see in the log (an unparseable date...). Never key material. */
  warnings: readonly string[];
  /** jwks: kids of the private keys held that the JWKS does not list. */
  unpublished: readonly string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Vars = Readonly<Record<string, string | undefined>>;

export interface ParseOptions {
  /** HS256, HS384 or HS512 for JWT_SECRET keys (default: JWT_ALGORITHM, else HS256); checked for others. */
  algorithm?: string | undefined;
  /** The JWKS text; present means asymmetric keys, verified by kid against it. */
  jwks?: string | undefined;
}

/** Throws ConfigError when no key is usable or a duration is malformed; the message never holds a key. */
export function parseKeyRing(vars: Vars, options: ParseOptions = {}): KeyRing {
  const algorithm = nonEmpty(options.algorithm) ?? nonEmpty(vars[JwtVars.algorithm]);
  const asymmetric =
    options.jwks !== undefined ||
    nonEmpty(vars[JwtVars.privateKey]) !== undefined ||
    nonEmpty(vars[JwtVars.privateCurrent]) !== undefined;
  const ttls = {
    accessTtlSeconds: ttl(vars, JwtVars.expiration, DEFAULT_EXPIRATION),
    refreshTtlSeconds: ttl(vars, JwtVars.refreshExpiration, DEFAULT_REFRESH_EXPIRATION),
  };
  return asymmetric
    ? { ...parseAsymmetric(vars, options.jwks, algorithm), ...ttls }
    : { ...parseHmac(vars, hmacAlgorithm(algorithm)), ...ttls };
}

type Parsed = Omit<KeyRing, 'accessTtlSeconds' | 'refreshTtlSeconds'>;

function parseHmac(vars: Vars, alg: HmacAlgorithm): Parsed {
  const warnings: string[] = [];
  const secret = nonEmpty(vars[JwtVars.secret]);
  const currentText = nonEmpty(vars[JwtVars.current]) ?? secret;
  if (currentText === undefined)
    throw new ConfigError(`Neither ${JwtVars.secret} nor ${JwtVars.current} is set`);
  const current = new JwtKey(currentText, 'current', alg);
  const keys: JwtKey[] = [current];
  // The contract says JWT_SECRET equals JWT_SECRET_CURRENT during a rotation. If a hand-edited Secret breaks
  // that, keep accepting tokens signed with either rather than logging users out.
  if (secret !== undefined && secret !== currentText) {
    keys.push(new JwtKey(secret, 'current', alg));
    warnings.push(`${JwtVars.secret} differs from ${JwtVars.current}; both are accepted as the current key`);
  }
  const nextText = nonEmpty(vars[JwtVars.next]);
  let next: JwtKey | undefined;
  if (nextText !== undefined && nextText !== currentText) {
    next = new JwtKey(nextText, 'new', alg);
    keys.push(next);
  } else if (nextText !== undefined) {
    warnings.push(`${JwtVars.next} equals the current key; running in steady mode`);
  }
  const rotationDate =
    next === undefined ? undefined : parseRotationDate(vars[JwtVars.rotationDate], warnings);
  return {
    mode: next === undefined ? 'steady' : 'dual',
    kind: 'hmac',
    keys,
    current,
    next,
    rotationDate,
    warnings,
    unpublished: [],
  };
}

/**
 * Asymmetric: sign with JWT_PRIVATE_KEY_CURRENT (or JWT_PRIVATE_KEY) before the date and JWT_PRIVATE_KEY_NEW
 * from it on; verify with the JWKS, by kid. A JWK verifies as `new` when its kid is JWT_PRIVATE_KEY_NEW's.
 */
function parseAsymmetric(vars: Vars, jwksText: string | undefined, algorithm: string | undefined): Parsed {
  const warnings: string[] = [];
  const currentPem = nonEmpty(vars[JwtVars.privateCurrent]) ?? nonEmpty(vars[JwtVars.privateKey]);
  const current = currentPem === undefined ? undefined : JwtKey.fromPrivateKey(currentPem, 'current');
  const nextPem = nonEmpty(vars[JwtVars.privateNext]);
  let next: JwtKey | undefined;
  if (current !== undefined && nextPem !== undefined) {
    const candidate = JwtKey.fromPrivateKey(nextPem, 'new');
    if (candidate.kid !== current.kid) next = candidate;
    else warnings.push(`${JwtVars.privateNext} equals the current key; running in steady mode`);
  }
  for (const key of [current, next])
    if (key !== undefined && algorithm !== undefined && key.alg !== algorithm)
      throw new ConfigError(`a JWT_PRIVATE_KEY* key is ${key.alg}, not ${algorithm}`);
  if (jwksText === undefined)
    throw new ConfigError(`${JwtVars.privateKey} is set but no JWKS was read: give a JWKS file or URL`);
  const keys = parseJwks(jwksText, next?.kid, warnings);
  const unpublished = [current, next]
    .filter((k): k is JwtKey => k !== undefined && !keys.some((p) => p.kid === k.kid))
    .map((k) => k.kid);
  for (const kid of unpublished) warnings.push(`private key ${kid} is not in the JWKS`);
  const rotationDate =
    next === undefined ? undefined : parseRotationDate(vars[JwtVars.rotationDate], warnings);
  return {
    mode: next === undefined ? 'steady' : 'dual',
    kind: 'jwks',
    keys,
    current,
    next,
    rotationDate,
    warnings,
    unpublished,
  };
}

function parseJwks(text: string, nextKid: string | undefined, warnings: string[]): JwtKey[] {
  let parsed: { keys?: unknown };
  try {
    parsed = JSON.parse(text) as { keys?: unknown };
  } catch {
    throw new ConfigError('the JWKS is not JSON');
  }
  if (!Array.isArray(parsed.keys)) throw new ConfigError('the JWKS has no keys array');
  const keys: JwtKey[] = [];
  for (const jwk of parsed.keys as (JsonWebKey & { kid?: string })[]) {
    try {
      keys.push(JwtKey.fromJwk(jwk, jwk.kid !== undefined && jwk.kid === nextKid ? 'new' : 'current'));
    } catch {
      warnings.push(`JWKS key ${String(jwk.kid)} is not a usable public key; skipped`);
    }
  }
  return keys;
}

function hmacAlgorithm(text: string | undefined): HmacAlgorithm {
  const value = text ?? 'HS256';
  if ((HMAC_ALGORITHMS as readonly string[]).includes(value)) return value as HmacAlgorithm;
  throw new ConfigError(
    `${JwtVars.algorithm} must be one of ${HMAC_ALGORITHMS.join(', ')} for a JWT_SECRET key`,
  );
}

/** The JWS algorithm of a public key, from its type. */
function algorithmOf(key: KeyObject): AsymmetricAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (type === 'ed25519') return 'EdDSA';
  throw new ConfigError(`unsupported key type ${type ?? 'unknown'}`);
}

/**
 * The key to sign with at `now`: CURRENT before the rotation date, NEW from it on. Without a valid date, stay on
 * CURRENT: signing with NEW before every replica can verify it would log users out. Undefined when no private
 * key is held (a verify-only replica).
 */
export function signingKeyAt(ring: KeyRing, now: Date): JwtKey | undefined {
  if (ring.next === undefined || ring.rotationDate === undefined) return ring.current;
  return now.getTime() >= ring.rotationDate.getTime() ? ring.next : ring.current;
}

/** What may be logged about a ring: fingerprints and dates only. */
export function describeKeyRing(ring: KeyRing): Record<string, unknown> {
  return {
    mode: ring.mode,
    kind: ring.kind,
    currentKid: ring.current?.kid,
    newKid: ring.next?.kid,
    rotationDate: ring.rotationDate?.toISOString(),
    accessTtlSeconds: ring.accessTtlSeconds,
    refreshTtlSeconds: ring.refreshTtlSeconds,
    ...(ring.kind === 'jwks' ? { jwksKids: ring.keys.map((k) => k.kid) } : {}),
  };
}

/** RFC 3339 needs a date, a time and an offset; Date.parse alone would also take "2026" or local times. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function parseRotationDate(text: string | undefined, warnings: string[]): Date | undefined {
  const value = nonEmpty(text);
  if (value === undefined || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    warnings.push(
      `${JwtVars.rotationDate} is ${value === undefined ? 'missing' : 'not an RFC 3339 instant'}; signing with the current key`,
    );
    return undefined;
  }
  return new Date(value);
}

function ttl(vars: Vars, name: string, fallback: string): number {
  const text = nonEmpty(vars[name]) ?? fallback;
  let seconds: number;
  try {
    seconds = parseGoDuration(text);
  } catch (error) {
    throw new ConfigError(`${name}: ${(error as Error).message}`);
  }
  if (seconds < 1) throw new ConfigError(`${name} must be at least 1s, got "${text}"`);
  return Math.floor(seconds);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
