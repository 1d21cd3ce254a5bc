/** Paused and Failed: the rotation waits for a human (a request, or a repaired Secret). */
import type { Context } from '../context.ts';
import { normal, warning } from '../events.ts';
import { gateInterval } from '../gate-policy.ts';
import { heldRotationStatus, isHandEditStall } from '../interference.ts';
import { NO_ORIGINAL_KEY, startRollback } from '../operations/start-rollback.ts';
import type { PhaseResult, Stall } from '../phase-result.ts';
import { isOneOf } from '../../api/types.ts';
import { ConditionReasons, EventReasons, STALLED_REASONS } from '../reasons.ts';
import {
  MID_ROTATION_REQUESTS,
  emergencyRequested,
  firstThatApplies,
  type Policy,
} from '../request-order.ts';

/** A new rotate value resumes a paused rotation. */
const resumeRequested: Policy = (ctx) => {
  const request = ctx.pending('rotate');
  if (!request) return undefined;
  return {
    phase: 'DualKey',
    handled: [request],
    events: [normal(EventReasons.Resumed, `Resumed by rotate request "${request.value}"`)],
    requeueAfterMs: 0,
  };
};

export function paused(ctx: Context): PhaseResult {
  const acted = firstThatApplies(ctx, [...MID_ROTATION_REQUESTS, resumeRequested]);
  if (acted) return acted;
  // Keep the reason the rotation paused for.
  const stalled = ctx.prev.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  const reason = isOneOf(STALLED_REASONS, stalled?.reason)
    ? stalled.reason
    : ConditionReasons.HealthGateFailed;
  return {
    phase: 'Paused',
    stalled: { reason, message: stalled?.message ?? 'Paused by monitoring.failurePolicy' },
    progress: 'Paused: roll back, or set a new rotate annotation to resume',
    requeueAfterMs: gateInterval(ctx),
  };
}

export function failed(ctx: Context, stalled: Stall): PhaseResult {
  const rollbackToBackup: Policy = (c) => {
    const request = c.pending('rollback');
    if (!request) return undefined;
    if (c.input.backup?.originalFingerprint !== undefined) {
      return startRollback(c, {
        midRotation: false,
        request,
        trigger: 'Rollback',
        reason: 'RollbackRequested',
      });
    }
    return {
      phase: 'Failed',
      stalled,
      handled: [request],
      events: [warning(EventReasons.RollbackImpossible, NO_ORIGINAL_KEY)],
    };
  };
  return (
    firstThatApplies(ctx, [emergencyRequested, rollbackToBackup]) ?? {
      phase: 'Failed',
      stalled,
      // A hand edit stops a rotation that resumes once the keys are put back: keep what identifies it.
      ...(isHandEditStall(stalled) ? { status: heldRotationStatus(ctx) } : {}),
    }
  );
}
