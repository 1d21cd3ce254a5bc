/**
 * A pass that writes the Secret rolls the targets onto the revision that write gives, in the same
 * pass, instead of leaving the roll to the next one (issue 13: the pass between them cost a status
 * write and a trip through the work queue inside the rate limit, and held every template patch back
 * by that much).
 * Safe whatever is killed when: the shell patches the templates only after the Secret write (and the
 * JWKS write, for asymmetric keys) succeeded, and a pass killed between the two leaves the targets on
 * an older revision, which the next pass rolls (`targetRollouts().toRoll`).
 */
import { rollTargets } from '../actions.ts';
import type { Context } from '../context.ts';
import { normal } from '../events.ts';
import { SECRET_AS_WRITTEN, type Action, type EventSpec, type TargetView } from '../model.ts';
import { EventReasons } from '../reasons.ts';
import { describeTargets } from '../targets.ts';

function foundTargets(ctx: Context): TargetView[] {
  return ctx.targets.filter((t) => t.found);
}

/** After the pass's Secret write: roll every target found onto the revision it gives ([] if none). */
export function rollAfterSecretWrite(ctx: Context): Action[] {
  const targets = foundTargets(ctx);
  return targets.length === 0 ? [] : [rollTargets(ctx, targets, SECRET_AS_WRITTEN)];
}

/** The Event for rollAfterSecretWrite's roll ([] if it rolls nothing). */
export function rolledAfterSecretWrite(ctx: Context, purpose: string): EventSpec[] {
  const targets = foundTargets(ctx);
  return targets.length === 0
    ? []
    : [normal(EventReasons.TargetsRolled, `Rolling ${describeTargets(targets)} ${purpose}`)];
}
