/**
 * Signing and verifying by the contract: sign with the key the date selects, `kid` set; verify by `kid` with
 * exactly that key's algorithm (never `none`, never the algorithm from the token alone), falling back to each
 * key when the kid is absent (or, for HMAC, unknown).
 */
import { SignJWT, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';

import { signingKeyAt, type JwtKey, type KeyRing, type KeyVersion } from './keys.ts';

/** Clock skew forgiven on exp and nbf between the replica that signed and the one that verifies. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Why a token was refused; the same words in every kit (sdk/conformance). */
export type RejectReason = 'malformed' | 'algorithm' | 'unknown_kid' | 'signature' | 'expired' | 'claims';

export type Verification =
  | { result: 'success'; keyVersion: KeyVersion; kid: string; claims: JWTPayload }
  /** `keyVersion` is the verifying key's when a known key verified the signature but the claims were refused. */
  | { result: 'rejected'; keyVersion: KeyVersion | 'none'; reason: RejectReason }
  | { result: 'error'; keyVersion: 'none'; reason: 'error'; message: string };

export interface VerifyOptions {
  now: Date;
  /** Claims that must be present with exactly these values (e.g. `{ token_use: 'access' }`). */
  require?: Readonly<Record<string, string>> | undefined;
}

export interface Signed {
  token: string;
  kid: string;
  keyVersion: KeyVersion;
  /** The exp claim, seconds since the epoch. */
  expiresAt: number;
}

export class NoSigningKeyError extends Error {
  override readonly name = 'NoSigningKeyError';
  constructor() {
    super('no private key is held: this replica only verifies');
  }
}

/** Signs `claims` with `key`; iat is `now` and exp `now + ttlSeconds`, whatever the claims say. */
export async function signWith(
  key: JwtKey,
  claims: JWTPayload,
  options: { now: Date; ttlSeconds: number },
): Promise<Signed> {
  const iat = Math.floor(options.now.getTime() / 1000);
  const expiresAt = iat + options.ttlSeconds;
  const token = await new SignJWT({ ...claims, iat, exp: expiresAt })
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', kid: key.kid })
    .sign(await key.signingKey());
  return { token, kid: key.kid, keyVersion: key.version, expiresAt };
}

/** Signs with the key the rotation date selects at `now`; throws NoSigningKeyError on a verify-only ring. */
export async function signToken(
  ring: KeyRing,
  claims: JWTPayload,
  options: { now: Date; ttlSeconds?: number | undefined },
): Promise<Signed> {
  const key = signingKeyAt(ring, options.now);
  if (key === undefined || !key.canSign) throw new NoSigningKeyError();
  return signWith(key, claims, { now: options.now, ttlSeconds: options.ttlSeconds ?? ring.accessTtlSeconds });
}

/** Verifies a token against the ring. Never throws: failures are results, labelled as the metrics want. */
export async function verifyToken(
  ring: KeyRing,
  token: string,
  options: VerifyOptions,
): Promise<Verification> {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return { result: 'rejected', keyVersion: 'none', reason: 'malformed' };
  }
  const candidates = candidateKeys(ring, header);
  if (typeof candidates === 'string') return { result: 'rejected', keyVersion: 'none', reason: candidates };
  for (const key of candidates) {
    const outcome = await verifyWith(key, token, options);
    if (outcome !== undefined) return outcome;
  }
  return { result: 'rejected', keyVersion: 'none', reason: 'signature' };
}

/** The keys that may verify a token with this header, or why none may. */
function candidateKeys(
  ring: KeyRing,
  header: { alg?: unknown; kid?: unknown },
): readonly JwtKey[] | RejectReason {
  const { alg, kid } = header;
  if (typeof alg !== 'string' || alg === 'none') return 'algorithm';
  const named = typeof kid === 'string' ? ring.keys.find((k) => k.kid === kid) : undefined;
  if (named !== undefined) return named.alg === alg ? [named] : 'algorithm';
  // A JWKS names every key it holds: a kid it does not list is not ours. HMAC signers may not set kid at all.
  if (ring.kind === 'jwks' && kid !== undefined) return 'unknown_kid';
  const sameAlg = ring.keys.filter((k) => k.alg === alg);
  return sameAlg.length === 0 ? 'algorithm' : sameAlg;
}

/** One key's verdict, or undefined when its signature does not match (try the next key). */
async function verifyWith(
  key: JwtKey,
  token: string,
  options: VerifyOptions,
): Promise<Verification | undefined> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await key.verificationKey(), {
      algorithms: [key.alg],
      currentDate: options.now,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp'],
    }));
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed) return undefined;
    if (error instanceof errors.JWTExpired)
      return { result: 'rejected', keyVersion: key.version, reason: 'expired' };
    if (error instanceof errors.JWTClaimValidationFailed)
      return { result: 'rejected', keyVersion: key.version, reason: 'claims' };
    if (error instanceof errors.JOSEError)
      return { result: 'rejected', keyVersion: 'none', reason: 'malformed' };
    return {
      result: 'error',
      keyVersion: 'none',
      reason: 'error',
      message: error instanceof Error ? error.message : 'unknown',
    };
  }
  for (const [name, value] of Object.entries(options.require ?? {})) {
    if (payload[name] !== value) return { result: 'rejected', keyVersion: key.version, reason: 'claims' };
  }
  return { result: 'success', keyVersion: key.version, kid: key.kid, claims: payload };
}

/**
 * Signs and verifies a probe token with every key held. Run on every load: it proves the keys work, and
 * takes the first-use cost of the crypto paths out of users' requests. `strict` (the first load) also requires
 * every private key held to verify through the JWKS; a later JWKS that drops a key is taken (a compromised key
 * must stop verifying at once), with a warning in the ring.
 */
export async function selfTest(ring: KeyRing, now: Date, strict = true): Promise<void> {
  const probe = { sub: 'self-test' };
  if (ring.kind === 'jwks') {
    for (const key of [ring.current, ring.next]) {
      if (key === undefined) continue;
      const { token } = await signWith(key, probe, { now, ttlSeconds: 60 });
      if ((await verifyToken(ring, token, { now })).result === 'success') continue;
      if (strict)
        throw new Error(`self-test failed: private key ${key.kid} does not verify through the JWKS`);
      const own = await verifyToken({ ...ring, keys: [key] }, token, { now });
      if (own.result !== 'success') throw new Error(`self-test failed for key ${key.kid}`);
    }
    return;
  }
  for (const key of ring.keys) {
    const { token } = await signWith(key, probe, { now, ttlSeconds: 60 });
    const verification = await verifyToken({ ...ring, keys: [key] }, token, { now });
    if (verification.result !== 'success') throw new Error(`self-test failed for key ${key.kid}`);
  }
}
