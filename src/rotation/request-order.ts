/**
 * User requests, and the order in which they win: an emergency rotation beats a rollback, which
 * beats a rotation. Each phase lists the policies that apply to it; the first that acts decides
 * the pass (cert-manager's policy chains, pepr's predicates).
 */
import type { Context } from './context.ts';
import { normal } from './events.ts';
import { startEmergency } from './operations/start-emergency.ts';
import { startRollback } from './operations/start-rollback.ts';
import type { PhaseResult } from './phase-result.ts';
import { EventReasons } from './reasons.ts';

/** One rule of a phase: a result when it applies, else undefined. */
export type Policy = (ctx: Context) => PhaseResult | undefined;

/** The result of the first policy that applies. */
export function firstThatApplies(ctx: Context, policies: readonly Policy[]): PhaseResult | undefined {
  for (const policy of policies) {
    const result = policy(ctx);
    if (result !== undefined) return result;
  }
  return undefined;
}

/** An emergency rotation wins over everything, in every phase. */
export const emergencyRequested: Policy = (ctx) => {
  const request = ctx.pending('emergencyRotate');
  return request ? startEmergency(ctx, request) : undefined;
};

/** A rollback ends the rotation in flight (from DualKey, Monitoring, Paused and Completing). */
export const rollbackRequestedMidRotation: Policy = (ctx) => {
  const request = ctx.pending('rollback');
  return request
    ? startRollback(ctx, { midRotation: true, request, trigger: 'Manual', reason: 'RollbackRequested' })
    : undefined;
};

/** What a rotation in flight answers first: an emergency, then a rollback. */
export const MID_ROTATION_REQUESTS: readonly Policy[] = [emergencyRequested, rollbackRequestedMidRotation];

/** A rotate request during a rotation is answered (handled, with an Event), not acted on. */
export function answerRotateDuringRotation(ctx: Context, result: PhaseResult): PhaseResult {
  const rotate = ctx.pending('rotate');
  if (!rotate) return result;
  return {
    ...result,
    handled: [...(result.handled ?? []), rotate],
    events: [
      ...(result.events ?? []),
      normal(
        EventReasons.RotationAlreadyInProgress,
        `Rotate request "${rotate.value}" ignored: a rotation is in progress`,
      ),
    ],
  };
}
