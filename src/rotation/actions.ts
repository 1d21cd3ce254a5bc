/** Builders of the actions the executor carries out. Values are named by source, never by content. */
import { SecretAnnotations, SecretKeys } from '../api/constants.ts';
import type { TargetKind } from '../api/types.ts';
import type { Context } from './context.ts';
import { SECRET_AS_WRITTEN, type Action, type SecretView, type ValueSource } from './model.ts';
import { toRfc3339 } from './time.ts';

/** The dual-key variables, removed by completion, rollback and emergency rotation. */
export const ROTATION_KEYS = [SecretKeys.current, SecretKeys.new, SecretKeys.rotationDate];

/** Change the Secret, guarded by the resourceVersion this pass read. Removing an absent key is dropped. */
export function updateSecret(
  ctx: Context,
  set: Record<string, ValueSource>,
  remove: readonly string[],
  annotations: Record<string, string | null>,
): Action {
  return {
    type: 'UpdateSecret',
    resourceVersion: ctx.secret.resourceVersion,
    set,
    remove: remove.filter((key) => key in set || hasKey(ctx.secret, key)),
    annotations,
  };
}

function hasKey(secret: SecretView, key: string): boolean {
  if (key === SecretKeys.rotationDate) return secret.rotationDate !== undefined;
  return (secret.fingerprints as Record<string, string | undefined>)[key] !== undefined;
}

/** Keep the key in JWT_SECRET (which must have this fingerprint) in the backup Secret. */
export function saveOriginal(ctx: Context, fingerprint: string): Action {
  return {
    type: 'SaveOriginal',
    fingerprint,
    keyCreatedAt: ctx.secret.annotations[SecretAnnotations.keyCreatedAt] ?? toRfc3339(ctx.now),
  };
}

/**
 * Set the targets' pod-template revision to the Secret's current revision (or, in a pass that writes
 * the Secret, to the revision that write gives: SECRET_AS_WRITTEN), which rolls them.
 */
export function rollTargets(
  ctx: Context,
  targets: readonly { kind: TargetKind; name: string }[],
  revision: string | typeof SECRET_AS_WRITTEN = ctx.revision,
): Action {
  return {
    type: 'RollTargets',
    revision,
    targets: targets.map(({ kind, name }) => ({ kind, name })),
  };
}
