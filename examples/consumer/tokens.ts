/** Issuing and verifying HS256 tokens against the key ring, the way the consumer contract asks. */
import { randomUUID } from 'node:crypto';

import { SignJWT, decodeProtectedHeader, errors, jwtVerify } from 'jose';

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
  const iat = Math.floor(options.now.getTime() / 1000);
  return new SignJWT({ token_use: options.use })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
    .setSubject(options.subject)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.ttlSeconds)
    .sign(await key.hmacKey());
}

/** The metric labels of one validation, plus what the caller needs. */
export type Verification =
  | { result: 'success'; keyVersion: KeyVersion; kid: string; subject: string; expiresAt: number }
  /** `keyVersion` is set when a known key verified the signature but the claims were refused (expired...). */
  | { result: 'rejected'; keyVersion: KeyVersion | 'none'; why: string }
  | { result: 'error'; keyVersion: 'none'; why: string };

/** Clock skew we forgive between the replica that signed and the one that verifies. */
const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Verifies with the key the `kid` names, or, when the kid is absent or unknown (a token from a service that
 * does not set it), with each known key in turn. Never throws.
 */
export async function verifyToken(
  config: JwtConfig,
  token: string,
  use: TokenUse,
  now: Date,
): Promise<Verification> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return { result: 'rejected', keyVersion: 'none', why: 'malformed token' };
  }
  const named = config.keys.find((k) => k.kid === kid);
  const candidates = named === undefined ? config.keys : [named];

  for (const key of candidates) {
    try {
      const { payload } = await jwtVerify(token, await key.hmacKey(), {
        algorithms: ['HS256'],
        currentDate: now,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      if (payload.token_use !== use) {
        return { result: 'rejected', keyVersion: key.version, why: `not an ${use} token` };
      }
      return {
        result: 'success',
        keyVersion: key.version,
        kid: key.kid,
        subject: payload.sub ?? '',
        expiresAt: payload.exp ?? 0,
      };
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed) continue;
      if (error instanceof errors.JWTExpired || error instanceof errors.JWTClaimValidationFailed) {
        return { result: 'rejected', keyVersion: key.version, why: error.code };
      }
      if (error instanceof errors.JOSEError) {
        return { result: 'rejected', keyVersion: 'none', why: error.code };
      }
      return { result: 'error', keyVersion: 'none', why: error instanceof Error ? error.message : 'unknown' };
    }
  }
  return { result: 'rejected', keyVersion: 'none', why: 'no known key verifies the signature' };
}

/**
 * Signs and verifies a probe token with every key. Run before serving and after each reload: it proves the
 * keys work, and it takes the first-use cost of the crypto and JWT code paths out of users' requests.
 */
export async function selfTest(config: JwtConfig, now: Date): Promise<void> {
  for (const key of config.keys) {
    const probe = await issueToken(key, { subject: 'self-test', use: 'access', ttlSeconds: 60, now });
    const verification = await verifyToken({ ...config, keys: [key] }, probe, 'access', now);
    if (verification.result !== 'success') throw new Error(`self-test failed for key ${key.kid}`);
  }
}
