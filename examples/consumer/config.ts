/**
 * The consumer side of docs/consumer-contract.md: from the workload Secret's variables to the keys a replica
 * verifies with and the key it signs with at a given instant.
 */
import { webcrypto } from 'node:crypto';

import type { CryptoKey } from 'jose';

import { parseGoDuration } from './duration.ts';
import { fingerprint } from './fingerprint.ts';

/** The Secret's keys, exactly as the operator writes them. */
export const JwtVars = {
  secret: 'JWT_SECRET',
  current: 'JWT_SECRET_CURRENT',
  next: 'JWT_SECRET_NEW',
  rotationDate: 'JWT_SECRET_ROTATION_DATE',
  expiration: 'JWT_EXPIRATION',
  refreshExpiration: 'JWT_REFRESH_EXPIRATION',
} as const;

export const JWT_VAR_NAMES: readonly string[] = Object.values(JwtVars);

/** The value of the `key_version` metric label: which key verified or signed a token. */
export type KeyVersion = 'current' | 'new';

/** Runbook TTLs, used when the Secret does not say. */
const DEFAULT_EXPIRATION = '24h';
const DEFAULT_REFRESH_EXPIRATION = '168h';

/**
 * One HMAC key. The key is the variable's TEXT, used as UTF-8 bytes (not base64-decoded): that is what the
 * runbook's `openssl rand -base64 64` value means in every common JWT library given a string secret.
 * The text is kept private, and the key prints as its fingerprint, so it cannot end up in a log by accident.
 */
export class JwtKey {
  readonly version: KeyVersion;
  readonly kid: string;
  readonly #cryptoKey: Promise<CryptoKey>;

  constructor(secret: string, version: KeyVersion) {
    this.version = version;
    this.kid = fingerprint(secret);
    // Imported once: jose would otherwise import raw bytes again on every sign and verify.
    this.#cryptoKey = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
  }

  /** What jose signs and verifies with. Not extractable, so the key cannot be read back from it. */
  hmacKey(): Promise<CryptoKey> {
    return this.#cryptoKey;
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
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Vars = Readonly<Record<string, string | undefined>>;

/** Throws ConfigError when no key is usable or a duration is malformed. */
export function parseJwtConfig(vars: Vars): JwtConfig {
  const warnings: string[] = [];
  const secret = nonEmpty(vars[JwtVars.secret]);
  const currentText = nonEmpty(vars[JwtVars.current]) ?? secret;
  if (currentText === undefined) {
    throw new ConfigError(`Neither ${JwtVars.secret} nor ${JwtVars.current} is set`);
  }
  const current = new JwtKey(currentText, 'current');
  const keys: JwtKey[] = [current];

  // The contract says JWT_SECRET equals JWT_SECRET_CURRENT during a rotation. If a hand-edited Secret breaks
  // that, keep accepting tokens signed with either rather than logging users out.
  if (secret !== undefined && secret !== currentText) {
    keys.push(new JwtKey(secret, 'current'));
    warnings.push(`${JwtVars.secret} differs from ${JwtVars.current}; both are accepted as the current key`);
  }

  const nextText = nonEmpty(vars[JwtVars.next]);
  let next: JwtKey | undefined;
  let rotationDate: Date | undefined;
  if (nextText !== undefined && nextText !== currentText) {
    next = new JwtKey(nextText, 'new');
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
  };
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
    currentKid: config.current.kid,
    newKid: config.next?.kid,
    rotationDate: config.rotationDate?.toISOString(),
    accessTtlSeconds: config.accessTtlSeconds,
    refreshTtlSeconds: config.refreshTtlSeconds,
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
