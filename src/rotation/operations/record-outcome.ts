import { SecretAnnotations } from '../../api/constants.ts';
import type { Outcome, RotationRecord } from '../../api/types.ts';
import { requesterFromAnnotations } from '../audit.ts';
import type { Context } from '../context.ts';
import { normal, warning } from '../events.ts';
import { currentGate } from '../gate-policy.ts';
import { dropUndefined } from '../format.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import { nextRotationAt } from '../schedule.ts';
import { toRfc3339 } from '../time.ts';

/** The operation ended (every target runs the final Secret): record it in history, back to Idle. */
export function recordOutcome(ctx: Context, outcome: Exclude<Outcome, 'Failed'>): PhaseResult {
  const { now, prev, fp, spec, input } = ctx;
  const finishedAt = toRfc3339(now);
  const annotations = ctx.secret.annotations;
  const previousKey =
    annotations[SecretAnnotations.previousKey] ??
    (outcome === 'Completed' ? input.backup?.originalFingerprint : prev.newKeyFingerprint);
  const requester = requesterFromAnnotations(annotations);
  const record = dropUndefined<RotationRecord>({
    trigger: ctx.trigger ?? prev.trigger,
    startedAt: ctx.operationId,
    finishedAt,
    outcome,
    reason: ctx.secret.annotations[SecretAnnotations.request]?.startsWith('rollback=')
      ? 'RollbackRequested'
      : outcome === 'RolledBack'
        ? // A rollback without a request and with trigger Rollback: the Secret was recreated from the backup.
          ctx.trigger === 'Rollback' && annotations[SecretAnnotations.request] === undefined
          ? EventReasons.SecretRestoredFromBackup
          : 'HealthGateFailed'
        : ctx.trigger === 'Emergency'
          ? 'EmergencyRotation'
          : 'RotationCompleted',
    previousKeyFingerprint: previousKey,
    newKeyFingerprint: fp.JWT_SECRET,
    // Audit: who asked (the authenticated user, or the request annotation's field manager), what, and for an emergency the
    // compromised key; the review: the last gate reading.
    requestedBy: requester?.username,
    requestedByGroups: requester?.groups,
    requestedByVerified: requester?.verified,
    requestedAt: requester?.time,
    request: annotations[SecretAnnotations.request],
    compromisedKeyFingerprint: ctx.trigger === 'Emergency' ? previousKey : undefined,
    finalGate: currentGate(ctx) ?? prev.gate,
  });
  const retainedUntil = toRfc3339(now + spec.retentionMs);
  const done = { ...ctx, prev: { ...prev, lastRotation: record } };
  const nextAt = nextRotationAt(done);
  return {
    phase: 'Idle',
    status: {
      lastRotation: record,
      history: [record, ...(prev.history ?? [])].slice(0, spec.historyLimit),
      originalKeyRetainedUntil: input.backup === undefined ? undefined : retainedUntil,
      trigger: undefined,
      rotationStartedAt: undefined,
      newKeyFingerprint: undefined,
      gate: undefined,
      nextRotationAt: nextAt === undefined ? undefined : toRfc3339(nextAt),
    },
    events: [
      outcome === 'Completed'
        ? normal(
            EventReasons.RotationCompleted,
            `Rotation completed: JWT_SECRET is key ${fp.JWT_SECRET ?? ''}; ` +
              (input.backup === undefined
                ? `the replaced key ${record.previousKeyFingerprint ?? ''} is not kept`
                : `the original key ${record.previousKeyFingerprint ?? ''} is kept for rollback until ${retainedUntil}`),
          )
        : warning(
            EventReasons.RolledBack,
            `Rolled back: JWT_SECRET is the original key ${fp.JWT_SECRET ?? ''} again`,
          ),
    ],
    requeueAfterMs: 0,
  };
}
