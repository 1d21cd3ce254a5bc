/**
 * spec.schedule.disruptiveStepsWaitForWindow: the steps that disturb traffic (the signing switch,
 * and completion, which ends the old key's sessions) wait for a maintenance window. An emergency
 * rotation never waits.
 */
import type { Phase } from '../api/types.ts';
import type { Context } from './context.ts';
import { gateInterval } from './gate-policy.ts';
import type { PhaseResult } from './phase-result.ts';
import { inWindow, nextWindowAt } from './schedule.ts';
import { toRfc3339 } from './time.ts';

/** A hold until the next window, or undefined when the step may go ahead now. */
export function holdForWindow(ctx: Context, phase: Phase, step: string): PhaseResult | undefined {
  if (!ctx.spec.disruptiveStepsWaitForWindow || ctx.trigger === 'Emergency' || inWindow(ctx))
    return undefined;
  const at = nextWindowAt(ctx);
  return {
    phase,
    progress: `Waiting for the maintenance window at ${toRfc3339(at)} to ${step}`,
    // Keep reading the gate meanwhile: a breach still pauses or rolls back.
    requeueAfterMs: Math.min(at - ctx.now, gateInterval(ctx)),
  };
}
