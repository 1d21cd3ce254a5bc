/**
 * @jwt-rotation-operator/consumer-kit: what a service must do so that the operator's key rotations log nobody
 * out (docs/consumer-contract.md, docs/metrics-contract.md), with jose and prom-client.
 */
export {
  ConsumerKit,
  readSecretDir,
  type KitLogger,
  type KitOptions,
  type LogLevel,
  type ReloadResult,
} from './kit.ts';
export {
  ASYMMETRIC_ALGORITHMS,
  ConfigError,
  HMAC_ALGORITHMS,
  JWT_VAR_NAMES,
  JwtKey,
  JwtVars,
  NOT_SCHEDULED,
  describeKeyRing,
  parseKeyRing,
  signingKeyAt,
  type Algorithm,
  type AsymmetricAlgorithm,
  type HmacAlgorithm,
  type KeyRing,
  type KeyVersion,
  type ParseOptions,
  type Vars,
} from './keys.ts';
export { VALIDATION_DURATION_BUCKETS, createKitMetrics, type KitMetrics } from './metrics.ts';
export { SessionTracker } from './sessions.ts';
export {
  CLOCK_TOLERANCE_SECONDS,
  NoSigningKeyError,
  selfTest,
  signToken,
  signWith,
  verifyToken,
  type RejectReason,
  type Signed,
  type Verification,
  type VerifyOptions,
} from './tokens.ts';
export { fingerprint, jwkThumbprint } from './fingerprint.ts';
export { parseGoDuration } from './duration.ts';
