/**
 * Issuing and verifying the consumer's access and refresh tokens with the consumer kit: a token's
 * `token_use` claim says which it is, and verification requires the use the endpoint expects.
 */
import { randomUUID } from 'node:crypto';

import {
  selfTest as kitSelfTest,
  signWith,
  verifyToken as kitVerifyToken,
} from '@jwt-rotation-operator/consumer-kit';

import type { JwtConfig, JwtKey, KeyVersion } from './config.ts';

export type TokenUse = 'access' | 'refresh';

export interface IssueOptions {
  subject: string;
  use: TokenUse;
  ttlSeconds: number;
  now: Date;
}

/** Signs a token with `key`, naming it in the `kid` header so verifiers can pick the key without trying. */
export async function issueToken(key: JwtKey, options: IssueOptions): Promise<string> {
  const claims = { sub: options.subject, jti: randomUUID(), token_use: options.use };
  return (await signWith(key, claims, { now: options.now, ttlSeconds: options.ttlSeconds })).token;
}

/** The metric labels of one validation, plus what the caller needs. */
export type Verification =
  | { result: 'success'; keyVersion: KeyVersion; kid: string; subject: string; expiresAt: number }
  /** `keyVersion` is set when a known key verified the signature but the claims were refused (expired...). */
  | { result: 'rejected'; keyVersion: KeyVersion | 'none'; why: string }
  | { result: 'error'; keyVersion: 'none'; why: string };

/** Verifies by the contract (sdk/typescript: kid first, then each key), requiring the expected use. */
export async function verifyToken(
  config: JwtConfig,
  token: string,
  use: TokenUse,
  now: Date,
): Promise<Verification> {
  const v = await kitVerifyToken(config, token, { now, require: { token_use: use } });
  if (v.result === 'error') return { result: 'error', keyVersion: 'none', why: v.message };
  if (v.result === 'rejected') return { result: 'rejected', keyVersion: v.keyVersion, why: v.reason };
  const { sub, exp } = v.claims;
  if (typeof sub !== 'string') return { result: 'rejected', keyVersion: v.keyVersion, why: 'claims' };
  return { result: 'success', keyVersion: v.keyVersion, kid: v.kid, subject: sub, expiresAt: exp ?? 0 };
}

/** Signs and verifies a probe with every key (see the kit's selfTest). */
export function selfTest(config: JwtConfig, now: Date, strict = true): Promise<void> {
  return kitSelfTest(config, now, strict);
}
