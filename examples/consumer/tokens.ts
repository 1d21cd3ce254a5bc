/**
 * Issuing and verifying tokens against the key ring, the way the consumer contract asks: HS256 with the
 * Secret's keys, or RS256 / ES256 / EdDSA signed with the Secret's private key and verified by kid against the JWKS.
 */
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
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', kid: key.kid })
    .setSubject(options.subject)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.ttlSeconds)
    .sign(await key.signingKey());
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
      const { payload } = await jwtVerify(token, await key.verificationKey(), {
        algorithms: [key.alg],
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
export async function selfTest(config: JwtConfig, now: Date, strict = true): Promise<void> {
  if (config.kind === 'jwks') {
    // Each private key held must verify through the JWKS: a replica whose JWKS lacks a key it may sign
    // with must not start (strict, the first load). A later JWKS that drops a key is taken anyway (a
    // compromised key must stop verifying at once), with a warning in config.warnings.
    for (const key of [config.current, config.next]) {
      if (key === undefined) continue;
      const probe = await issueToken(key, { subject: 'self-test', use: 'access', ttlSeconds: 60, now });
      const published = await verifyToken(config, probe, 'access', now);
      if (published.result === 'success') continue;
      if (strict)
        throw new Error(`self-test failed: private key ${key.kid} does not verify through the JWKS`);
      const own = await verifyToken({ ...config, keys: [key] }, probe, 'access', now);
      if (own.result !== 'success') throw new Error(`self-test failed for key ${key.kid}`);
    }
    return;
  }
  for (const key of config.keys) {
    const probe = await issueToken(key, { subject: 'self-test', use: 'access', ttlSeconds: 60, now });
    const verification = await verifyToken({ ...config, keys: [key] }, probe, 'access', now);
    if (verification.result !== 'success') throw new Error(`self-test failed for key ${key.kid}`);
  }
}
