import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import type { Trigger } from '../../api/types.ts';
import { ROTATION_KEYS, updateSecret } from '../actions.ts';
import { requestedByText, requesterAnnotations, requesterOfRequest } from '../audit.ts';
import type { Context } from '../context.ts';
import { warning } from '../events.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import { requestTag, type Request } from '../requests.ts';
import { newOperationId, toRfc3339 } from '../time.ts';
import { rollAfterSecretWrite, rolledAfterSecretWrite } from './roll-with-write.ts';

/** The one message for "no original key to roll back to", wherever a rollback is refused for it. */
export const NO_ORIGINAL_KEY =
  'Rollback requested, but no original key is retained (retention ended, an emergency rotation does not keep ' +
  'the key it replaced, or the backup Secret was deleted)';

export interface RollbackCause {
  /** True from DualKey, Monitoring, Paused and Completing: the rollback ends that rotation. */
  midRotation: boolean;
  request?: Request;
  trigger: Trigger;
  reason: 'RollbackRequested' | 'HealthGateFailed';
  detail?: string;
}

/** The fingerprint of the key a rollback would restore, if one is retained. */
export function originalKey(ctx: Context): string | undefined {
  return fromCurrent(ctx) ? ctx.fp.JWT_SECRET_CURRENT : ctx.input.backup?.originalFingerprint;
}

/**
 * The original is read from JWT_SECRET_CURRENT in the dual-key shape, unless the backup holds another
 * key (JWT_SECRET_CURRENT was changed by hand): then from the backup.
 */
function fromCurrent(ctx: Context): boolean {
  const { fp, input } = ctx;
  const backedUp = input.backup?.originalFingerprint;
  return (
    fp.JWT_SECRET_NEW !== undefined &&
    fp.JWT_SECRET_CURRENT !== undefined &&
    (backedUp === undefined || backedUp === fp.JWT_SECRET_CURRENT)
  );
}

/**
 * Back to the original key, as the runbook's rollback plan says: JWT_SECRET = original,
 * the rotation variables removed, targets rolled. In the dual-key shape the original is
 * JWT_SECRET_CURRENT; after completion it comes from the backup Secret.
 */
export function startRollback(ctx: Context, cause: RollbackCause): PhaseResult {
  const { fp, input, now, spec } = ctx;
  const dual = fp.JWT_SECRET_NEW !== undefined;
  const original = originalKey(ctx);
  if (original === undefined) {
    return {
      phase: ctx.input.resource.status?.phase ?? 'Idle',
      handled: cause.request ? [cause.request] : [],
      events: [warning(EventReasons.RollbackImpossible, NO_ORIGINAL_KEY)],
    };
  }
  const midRotation = cause.midRotation;
  const id =
    midRotation && ctx.operationId !== undefined
      ? ctx.operationId
      : newOperationId(now, [ctx.operationId, ctx.prev.lastRotation?.startedAt]);
  const withdrawn = dual ? fp.JWT_SECRET_NEW : fp.JWT_SECRET;
  const requester = requesterOfRequest(
    ctx.input.resource.metadata,
    cause.request,
    ctx.input.requesterIdentity,
  );
  const annotations: Record<string, string | null> = {
    [SecretAnnotations.operation]: 'Rollback',
    [SecretAnnotations.operationId]: id,
    [SecretAnnotations.request]: cause.request ? requestTag(cause.request) : null,
    [SecretAnnotations.previousKey]: withdrawn ?? null,
    ...requesterAnnotations(requester),
  };
  if (!midRotation) {
    annotations[SecretAnnotations.trigger] = cause.trigger;
    annotations[SecretAnnotations.keyCreatedAt] = input.backup?.keyCreatedAt ?? toRfc3339(now);
  }
  const because =
    cause.reason === 'HealthGateFailed' ? `the health gate failed: ${cause.detail ?? ''}` : 'requested';
  return {
    phase: 'RollingBack',
    handled: cause.request ? [cause.request] : [],
    actions: [
      updateSecret(
        ctx,
        { [SecretKeys.secret]: fromCurrent(ctx) ? { copy: 'JWT_SECRET_CURRENT' } : { original: true } },
        ROTATION_KEYS,
        annotations,
      ),
      ...rollAfterSecretWrite(ctx),
    ],
    status: {
      trigger: midRotation ? ctx.trigger : cause.trigger,
      rotationStartedAt: id,
      newKeyFingerprint: withdrawn,
      rotationDate: undefined,
      monitoringStartedAt: undefined,
      nextRotationAt: undefined,
    },
    events: [
      warning(
        EventReasons.RollbackStarted,
        `Rolling Secret ${spec.secretName} back to the original key ${original} (${because}); withdrawing key ${withdrawn ?? ''}` +
          requestedByText(requester),
      ),
      ...rolledAfterSecretWrite(ctx, 'to read the original key alone'),
    ],
    progress: 'Restoring the original key',
    requeueAfterMs: 0,
  };
}
