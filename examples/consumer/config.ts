/**
 * The consumer side of docs/consumer-contract.md: from the workload Secret's variables to the keys a replica
 * verifies with and the key it signs with at a given instant.
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
  /**
   * HMAC only: HS256 (the default), HS384 or HS512, as the JwtRotation's spec.algorithm says. Set by the
   * workload (an env var), not by the operator's Secret: the algorithm is the application's choice.
   */
  algorithm: 'JWT_ALGORITHM',
  /** Asymmetric algorithms (RS256, ES256, EdDSA): PKCS#8 PEM private keys, in the same three slots. */
  privateKey: 'JWT_PRIVATE_KEY',
  privateCurrent: 'JWT_PRIVATE_KEY_CURRENT',
  privateNext: 'JWT_PRIVATE_KEY_NEW',
  /**
   * Not a Secret key: the text of the JWKS file (--jwks-file, the operator's JWKS ConfigMap mounted as a
   * volume), put here by the config source so a change of either reloads the keys.
   */
  jwks: 'JWKS_JSON',
} as const;

export const JWT_VAR_NAMES: readonly string[] = Object.values(JwtVars);

/** The HMAC algorithms (spec.algorithm HS256, HS384, HS512): the same key text, a different hash. */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];

/** The asymmetric JWT algorithms the operator makes keys for. */
export type AsymmetricAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** The value of the `key_version` metric label: which key verified or signed a token. */
export type KeyVersion = 'current' | 'new';

/** Runbook TTLs, used when the Secret does not say. */
const DEFAULT_EXPIRATION = '24h';
const DEFAULT_REFRESH_EXPIRATION = '168h';

/**
 * One key. HMAC (`new JwtKey(secret, version)`): the key is the variable's TEXT, used as UTF-8 bytes (not
 * base64-decoded): that is what the runbook's `openssl rand -base64 64` value means in every common JWT
 * library given a string secret; its kid is its fingerprint. Asymmetric (`JwtKey.fromPrivateKey`, a signing
 * key; `JwtKey.fromJwk`, a verification key from the JWKS): its kid is the RFC 7638 thumbprint of the public
 * key, as in the operator's JWKS. Key material is kept private, and the key prints as its kid, so it cannot
 * end up in a log by accident.
 */
export class JwtKey {
  readonly version: KeyVersion;
  readonly kid: string;
  /** The JWS `alg` this key signs or verifies. */
  readonly alg: HmacAlgorithm | AsymmetricAlgorithm;
  readonly #sign: Promise<CryptoKey> | KeyObject | undefined;
  readonly #verify: Promise<CryptoKey> | KeyObject;

  constructor(secret: string, version: KeyVersion, hmac?: HmacAlgorithm);
  constructor(
    secret: undefined,
    version: KeyVersion,
    asymmetric: { alg: AsymmetricAlgorithm; kid: string; sign: KeyObject | undefined; verify: KeyObject },
  );
  constructor(
    secret: string | undefined,
    version: KeyVersion,
    option?:
      | HmacAlgorithm
      | { alg: AsymmetricAlgorithm; kid: string; sign: KeyObject | undefined; verify: KeyObject },
  ) {
    this.version = version;
    if (typeof option === 'object') {
      const asymmetric = option;
      this.kid = asymmetric.kid;
      this.alg = asymmetric.alg;
      this.#sign = asymmetric.sign;
      this.#verify = asymmetric.verify;
      return;
    }
    this.kid = fingerprint(secret ?? '');
    this.alg = option ?? 'HS256';
    // Imported once: jose would otherwise import raw bytes again on every sign and verify.
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

  /** A signing key from a PEM private key (PKCS#8); its algorithm follows from its type. */
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

  /** A verification key from a JWK of the JWKS. */
  static fromJwk(jwk: JsonWebKey & { kid?: string; alg?: string }, version: KeyVersion): JwtKey {
    const verify = createPublicKey({ key: jwk, format: 'jwk' });
    return new JwtKey(undefined, version, {
      alg: algorithmOf(verify),
      kid: jwk.kid ?? jwkThumbprint(verify.export({ format: 'jwk' })),
      sign: undefined,
      verify,
    });
  }

  /** What jose signs with; throws for a verification-only key. */
  signingKey(): Promise<CryptoKey | KeyObject> {
    if (this.#sign === undefined) return Promise.reject(new Error(`key ${this.kid} cannot sign`));
    return Promise.resolve(this.#sign);
  }

  /** What jose verifies with. HMAC keys are not extractable, so the key cannot be read back from it. */
  verificationKey(): Promise<CryptoKey | KeyObject> {
    return Promise.resolve(this.#verify);
  }

  /** The HMAC key (HS256, HS384, HS512 keys only). */
  hmacKey(): Promise<CryptoKey> {
    if (!(HMAC_ALGORITHMS as readonly string[]).includes(this.alg))
      return Promise.reject(new Error(`key ${this.kid} is not an HMAC key`));
    return this.#verify as Promise<CryptoKey>;
  }

  toJSON(): { version: KeyVersion; kid: string } {
    return { version: this.version, kid: this.kid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `JwtKey(${this.version} ${this.kid})`;
  }
}

export interface JwtConfig {
  /** `dual` while a rotation is in flight (JWT_SECRET_NEW present), `steady` otherwise. */
  mode: 'steady' | 'dual';
  /** Every key a token may be verified with. */
  keys: readonly JwtKey[];
  current: JwtKey;
  next: JwtKey | undefined;
  /** From this instant on, sign with `next`. Undefined in steady mode, or when the date is missing/invalid. */
  rotationDate: Date | undefined;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  /** Things an operator should see in the log, e.g. an unparseable rotation date. Never key material. */
  warnings: readonly string[];
  /** `hmac`: JWT_SECRET*; `jwks`: JWT_PRIVATE_KEY* to sign, the JWKS to verify (asymmetric algorithms). */
  kind: 'hmac' | 'jwks';
  /** jwks: kids of the private keys held (current, new) that the JWKS does not list. */
  unpublished: readonly string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Vars = Readonly<Record<string, string | undefined>>;

/** Throws ConfigError when no key is usable or a duration is malformed. */
export function parseJwtConfig(vars: Vars): JwtConfig {
  if (
    nonEmpty(vars[JwtVars.privateKey]) !== undefined ||
    nonEmpty(vars[JwtVars.privateCurrent]) !== undefined
  ) {
    return parseAsymmetricConfig(vars);
  }
  const warnings: string[] = [];
  const secret = nonEmpty(vars[JwtVars.secret]);
  const currentText = nonEmpty(vars[JwtVars.current]) ?? secret;
  if (currentText === undefined) {
    throw new ConfigError(`Neither ${JwtVars.secret} nor ${JwtVars.current} is set`);
  }
  const alg = hmacAlgorithm(vars[JwtVars.algorithm]);
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
  let rotationDate: Date | undefined;
  if (nextText !== undefined && nextText !== currentText) {
    next = new JwtKey(nextText, 'new', alg);
    keys.push(next);
    rotationDate = parseRotationDate(vars[JwtVars.rotationDate], warnings);
  } else if (nextText !== undefined) {
    warnings.push(`${JwtVars.next} equals the current key; running in steady mode`);
  }

  return {
    mode: next === undefined ? 'steady' : 'dual',
    keys,
    current,
    next,
    rotationDate,
    accessTtlSeconds: ttl(vars, JwtVars.expiration, DEFAULT_EXPIRATION),
    refreshTtlSeconds: ttl(vars, JwtVars.refreshExpiration, DEFAULT_REFRESH_EXPIRATION),
    warnings,
    kind: 'hmac',
    unpublished: [],
  };
}

/** JWT_ALGORITHM for HMAC keys: HS256 when unset. */
function hmacAlgorithm(text: string | undefined): HmacAlgorithm {
  const value = nonEmpty(text) ?? 'HS256';
  if ((HMAC_ALGORITHMS as readonly string[]).includes(value)) return value as HmacAlgorithm;
  throw new ConfigError(
    `${JwtVars.algorithm} must be one of ${HMAC_ALGORITHMS.join(', ')} for a JWT_SECRET key`,
  );
}

/**
 * Asymmetric mode (docs/consumer-contract.md): sign with JWT_PRIVATE_KEY_CURRENT (or JWT_PRIVATE_KEY) before
 * JWT_SECRET_ROTATION_DATE and JWT_PRIVATE_KEY_NEW from it on; verify with the JWKS, by kid. A key verifies
 * as `new` when its kid is JWT_PRIVATE_KEY_NEW's, `current` otherwise.
 */
function parseAsymmetricConfig(vars: Vars): JwtConfig {
  const warnings: string[] = [];
  const single = nonEmpty(vars[JwtVars.privateKey]);
  const currentPem = nonEmpty(vars[JwtVars.privateCurrent]) ?? single;
  if (currentPem === undefined)
    throw new ConfigError(`Neither ${JwtVars.privateKey} nor ${JwtVars.privateCurrent} is set`);
  const current = JwtKey.fromPrivateKey(currentPem, 'current');
  const nextPem = nonEmpty(vars[JwtVars.privateNext]);
  let next: JwtKey | undefined;
  let rotationDate: Date | undefined;
  if (nextPem !== undefined) {
    const candidate = JwtKey.fromPrivateKey(nextPem, 'new');
    if (candidate.kid !== current.kid) {
      next = candidate;
      rotationDate = parseRotationDate(vars[JwtVars.rotationDate], warnings);
    } else {
      warnings.push(`${JwtVars.privateNext} equals the current key; running in steady mode`);
    }
  }
  const jwksText = nonEmpty(vars[JwtVars.jwks]);
  if (jwksText === undefined) {
    throw new ConfigError(
      `${JwtVars.privateKey} is set but no JWKS was read: pass --jwks-file (the mounted JWKS ConfigMap)`,
    );
  }
  let parsed: { keys?: unknown };
  try {
    parsed = JSON.parse(jwksText) as { keys?: unknown };
  } catch {
    throw new ConfigError('the JWKS is not JSON');
  }
  if (!Array.isArray(parsed.keys)) throw new ConfigError('the JWKS has no keys array');
  const keys: JwtKey[] = [];
  for (const jwk of parsed.keys as (JsonWebKey & { kid?: string })[]) {
    try {
      keys.push(JwtKey.fromJwk(jwk, jwk.kid !== undefined && jwk.kid === next?.kid ? 'new' : 'current'));
    } catch {
      warnings.push(`JWKS key ${String(jwk.kid)} is not a usable public key; skipped`);
    }
  }
  const unpublished = [current, next]
    .filter((k): k is JwtKey => k !== undefined && !keys.some((p) => p.kid === k.kid))
    .map((k) => k.kid);
  for (const kid of unpublished) warnings.push(`private key ${kid} is not in the JWKS`);
  return {
    mode: next === undefined ? 'steady' : 'dual',
    keys,
    current,
    next,
    rotationDate,
    accessTtlSeconds: ttl(vars, JwtVars.expiration, DEFAULT_EXPIRATION),
    refreshTtlSeconds: ttl(vars, JwtVars.refreshExpiration, DEFAULT_REFRESH_EXPIRATION),
    warnings,
    kind: 'jwks',
    unpublished,
  };
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
 * The key to sign with at `now`: CURRENT before ROTATION_DATE, NEW from it on. Without a valid date, stay on
 * CURRENT: signing with NEW before every replica can verify it would log users out.
 */
export function signingKeyAt(config: JwtConfig, now: Date): JwtKey {
  if (config.next === undefined || config.rotationDate === undefined) return config.current;
  return now.getTime() >= config.rotationDate.getTime() ? config.next : config.current;
}

/** What may be logged about a config: fingerprints and dates only. */
export function describeConfig(config: JwtConfig): Record<string, unknown> {
  return {
    mode: config.mode,
    kind: config.kind,
    currentKid: config.current.kid,
    newKid: config.next?.kid,
    rotationDate: config.rotationDate?.toISOString(),
    accessTtlSeconds: config.accessTtlSeconds,
    refreshTtlSeconds: config.refreshTtlSeconds,
    ...(config.kind === 'jwks' ? { jwksKids: config.keys.map((k) => k.kid) } : {}),
  };
}

function parseRotationDate(text: string | undefined, warnings: string[]): Date | undefined {
  const value = nonEmpty(text);
  // RFC 3339 needs a date, a time and an offset; Date.parse alone would also take "2026" or local times.
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  if (value === undefined || !rfc3339.test(value) || Number.isNaN(Date.parse(value))) {
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
