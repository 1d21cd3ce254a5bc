/**
 * Completing and RollingBack: the Secret is final; roll the targets onto it, then record the
 * outcome. A rollback is still possible while Completing, not while RollingBack.
 */
import { rollTargets } from '../actions.ts';
import type { Context } from '../context.ts';
import { normal } from '../events.ts';
import { recordOutcome } from '../operations/record-outcome.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import {
  MID_ROTATION_REQUESTS,
  answerRotateDuringRotation,
  emergencyRequested,
  firstThatApplies,
} from '../request-order.ts';
import { waitForBudget } from '../rollout-budget.ts';
import { evictionMessage, onDeleteEvictions } from '../on-delete.ts';
import { describeTargets, targetRollouts, watchedWaitMs } from '../targets.ts';

export function rollingOut(ctx: Context, phase: 'Completing' | 'RollingBack'): PhaseResult {
  const requests = phase === 'Completing' ? MID_ROTATION_REQUESTS : [emergencyRequested];
  return firstThatApplies(ctx, requests) ?? answerRotateDuringRotation(ctx, rollingOutProgress(ctx, phase));
}

function rollingOutProgress(ctx: Context, phase: 'Completing' | 'RollingBack'): PhaseResult {
  const rollouts = targetRollouts(ctx);
  if (rollouts.toRoll.length > 0) {
    // A rollback and an emergency rotation never wait for the budget.
    const budgeted = phase === 'Completing' && ctx.trigger !== 'Emergency';
    const queued = budgeted ? waitForBudget(ctx, { kind: 'InFlight' }, phase, undefined) : undefined;
    if (queued) return queued;
    return {
      phase,
      ...(budgeted ? { claim: { kind: 'InFlight' as const } } : {}),
      actions: [rollTargets(ctx, rollouts.toRoll)],
      events: [
        normal(
          EventReasons.TargetsRolled,
          `Rolling ${describeTargets(rollouts.toRoll)} to read the ${phase === 'Completing' ? 'new' : 'original'} key alone`,
        ),
      ],
      progress: `Rolling ${describeTargets(rollouts.toRoll)}`,
      requeueAfterMs: ctx.spec.pollIntervalMs,
    };
  }
  if (!rollouts.complete) {
    const evictions = onDeleteEvictions(ctx);
    if (evictions.length > 0) {
      return {
        phase: phase,
        actions: evictions,
        events: [normal(EventReasons.PodEvicted, evictionMessage(evictions))],
        progress: evictionMessage(evictions),
        requeueAfterMs: ctx.spec.pollIntervalMs,
      };
    }
    return {
      phase,
      stalled: rollouts.stalled,
      progress: `Waiting for rollouts: ${rollouts.waiting}`,
      requeueAfterMs: watchedWaitMs(ctx),
    };
  }
  return recordOutcome(ctx, phase === 'Completing' ? 'Completed' : 'RolledBack');
}
