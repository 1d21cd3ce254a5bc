/** Identity of the JwtRotation API; the CRD in crds/ is its source of truth. */
export const GROUP = 'jwtrotation.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'JwtRotation';
export const PLURAL = 'jwtrotations';

/** Annotations a user sets on a JwtRotation. Each distinct value acts once. */
export const Annotations = {
  /** A new value starts a rotation now (or resumes a paused one). */
  rotate: `${GROUP}/rotate`,
  /** A new value reverts the Secret to the original key and rolls the targets. */
  rollback: `${GROUP}/rollback`,
  /** A new value replaces the key at once, without a dual-key phase (runbook: emergency rotation). */
  emergencyRotate: `${GROUP}/emergency-rotate`,
} as const;

/**
 * Stamps the requester-identity MutatingAdmissionPolicy writes next to each request annotation when
 * it changes (deploy/components/requester-identity): JSON of the request value and the authenticated
 * user's name, uid and groups. Its ValidatingAdmissionPolicy refuses any other write of them.
 */
export const RequesterStamps = {
  rotate: `${GROUP}/rotate-requester`,
  rollback: `${GROUP}/rollback-requester`,
  emergencyRotate: `${GROUP}/emergency-rotate-requester`,
} as const;

/** Annotations the operator writes on the Secrets it manages, so their state is self-describing. */
export const SecretAnnotations = {
  /** Name of the JwtRotation that manages this Secret. */
  managedBy: `${GROUP}/managed-by`,
  /** The last operation the operator wrote: Create | Rotate | Complete | Rollback | Emergency | Adopt. */
  operation: `${GROUP}/operation`,
  /** Identifies the rotation in flight: its start time (RFC 3339, whole seconds). */
  operationId: `${GROUP}/operation-id`,
  /** What started the operation: Initial | Manual | Scheduled | Emergency | Rollback | Automatic. */
  trigger: `${GROUP}/trigger`,
  /** The user request (`kind=value`) the operation answered, so a crash cannot act on it twice. */
  request: `${GROUP}/request`,
  /** Fingerprint of the key the operation replaces, for the history record. */
  previousKey: `${GROUP}/previous-key`,
  /** When the key now in JWT_SECRET was made or adopted; the schedule counts from it. */
  keyCreatedAt: `${GROUP}/key-created-at`,
  // Audit (issue 11): who asked for the operation, kept with it for the history record.
  /**
   * Who set the request annotation the operation answered: the authenticated user (a requester stamp)
   * or the field manager (metadata.managedFields); see requestedByVerified.
   */
  requestedBy: `${GROUP}/requested-by`,
  /** When it was set (its managedFields time). */
  requestedAt: `${GROUP}/requested-at`,
  /** The authenticated user's groups, as a JSON array (verified requesters only). */
  requestedByGroups: `${GROUP}/requested-by-groups`,
  /** "true": requestedBy is the authenticated user; "false": a field manager any client can set. */
  requestedByVerified: `${GROUP}/requested-by-verified`,
} as const;

/**
 * Annotation on a Secret that a JwtRotation names as a reference (a Prometheus bearer token or CA
 * bundle, a receiver's URL or signing secret): the JwtRotations of its namespace allowed to use it,
 * comma-separated, or `*` for every one. Without it the operator does not use the Secret: whoever may
 * create a JwtRotation would otherwise read, through the operator, any Secret of the namespace.
 */
export const ALLOW_REFERENCES_ANNOTATION = `${GROUP}/allow-references`;

/** Pod-template annotation whose change rolls a target; its value names the Secret revision. */
export const POD_TEMPLATE_REVISION_ANNOTATION = `${GROUP}/secret-revision`;

/** Label on Secrets the operator creates. */
export const MANAGED_LABEL = `app.kubernetes.io/managed-by`;
export const MANAGED_LABEL_VALUE = 'jwt-rotation-operator';

/**
 * Label on every Secret the operator writes (created, adopted or rotated), so its Secret watch can
 * select them and never caches every Secret in the cluster. Not `app.kubernetes.io/managed-by`,
 * which Helm and others set on Secrets they own.
 */
export const WATCH_LABEL = `${GROUP}/managed`;
export const WATCH_LABEL_VALUE = 'true';

/** Keys of the workload Secret, exactly as in the runbook. */
export const SecretKeys = {
  secret: 'JWT_SECRET',
  current: 'JWT_SECRET_CURRENT',
  new: 'JWT_SECRET_NEW',
  rotationDate: 'JWT_SECRET_ROTATION_DATE',
  expiration: 'JWT_EXPIRATION',
  refreshExpiration: 'JWT_REFRESH_EXPIRATION',
} as const;

/** Key of the backup Secret that keeps the original key out of the workloads' view. */
export const BACKUP_ORIGINAL_KEY = 'JWT_SECRET_ORIGINAL';

/** Name of the backup Secret for a JwtRotation. */
export const BACKUP_SECRET_SUFFIX = '-jwtrotation-backup';

export function backupSecretName(jwtRotationName: string): string {
  return `${jwtRotationName}${BACKUP_SECRET_SUFFIX}`;
}

/**
 * Keys of the workload Secret for asymmetric algorithms (spec.algorithm RS256, ES256, EdDSA): PKCS#8 PEM
 * private keys in the runbook's three slots. JWT_SECRET_ROTATION_DATE, JWT_EXPIRATION and
 * JWT_REFRESH_EXPIRATION keep their names. The decision core names the slots by the HMAC names
 * (SecretKeys); the shell maps them (src/reconcile/secret-data.ts).
 */
export const PrivateKeys = {
  secret: 'JWT_PRIVATE_KEY',
  current: 'JWT_PRIVATE_KEY_CURRENT',
  new: 'JWT_PRIVATE_KEY_NEW',
} as const;

/**
 * The Secret key that holds a key slot the core names by its HMAC name (JWT_SECRET...): the same
 * name for HMAC algorithms, JWT_PRIVATE_KEY... for asymmetric ones.
 */
export function keySlotName(algorithm: string, slot: string): string {
  if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm)) return slot;
  const names: Record<string, string> = {
    [SecretKeys.secret]: PrivateKeys.secret,
    [SecretKeys.current]: PrivateKeys.current,
    [SecretKeys.new]: PrivateKeys.new,
  };
  return names[slot] ?? slot;
}

/** Key of the JWKS ConfigMap that holds the JWK Set (RFC 7517), as JSON. */
export const JWKS_DATA_KEY = 'jwks.json';

/** Name of the JWKS ConfigMap when spec.jwks.configMapName is not set. */
export function defaultJwksConfigMapName(secretName: string): string {
  return `${secretName}-jwks`;
}

/** Algorithms whose keys are key pairs: the Secret holds private keys, the JWKS ConfigMap the public keys. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
