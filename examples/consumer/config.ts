/**
 * The reference consumer's view of the keys: the TypeScript consumer kit (sdk/typescript,
 * @jwt-rotation-operator/consumer-kit) with the consumer's conventions on top — the JWKS text travels as the
 * JWKS_JSON variable (so one reload sees the Secret and the JWKS together), and a consumer always holds a
 * signing key (a verify-only replica is the kit's business, not this service's).
 */
import {
  ConfigError,
  JWT_VAR_NAMES as KIT_VAR_NAMES,
  JwtKey,
  JwtVars as KitVars,
  parseKeyRing,
  signingKeyAt as kitSigningKeyAt,
  type KeyRing,
  type Vars,
} from '@jwt-rotation-operator/consumer-kit';

export {
  ConfigError,
  HMAC_ALGORITHMS,
  JwtKey,
  describeKeyRing as describeConfig,
  type AsymmetricAlgorithm,
  type HmacAlgorithm,
  type KeyVersion,
  type Vars,
} from '@jwt-rotation-operator/consumer-kit';

/** The Secret's keys, plus the JWKS text the config source reads next to them. */
export const JwtVars = { ...KitVars, jwks: 'JWKS_JSON' } as const;
export const JWT_VAR_NAMES: readonly string[] = [...KIT_VAR_NAMES, JwtVars.jwks];

/** A key ring that can sign: the consumer issues tokens. */
export type JwtConfig = KeyRing & { current: JwtKey };

/** Throws ConfigError when no key is usable, a duration is malformed, or no signing key is held. */
export function parseJwtConfig(vars: Vars): JwtConfig {
  const ring = parseKeyRing(vars, { jwks: vars[JwtVars.jwks] });
  if (ring.current === undefined)
    throw new ConfigError(`Neither ${JwtVars.privateKey} nor ${JwtVars.privateCurrent} is set`);
  return { ...ring, current: ring.current };
}

/** CURRENT before JWT_SECRET_ROTATION_DATE, NEW from it on; CURRENT without a valid date. */
export function signingKeyAt(config: JwtConfig, now: Date): JwtKey {
  return kitSigningKeyAt(config, now) ?? config.current;
}
