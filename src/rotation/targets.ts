/** Where the targets' rollouts stand against the Secret's current revision. */
import type { TargetKind } from '../api/types.ts';
import type { Context } from './context.ts';
import type { Stall } from './phase-result.ts';
import { ConditionReasons } from './reasons.ts';

export interface Rollouts {
  /** Found targets whose template does not carry the current revision yet. */
  toRoll: { kind: TargetKind; name: string }[];
  /** Every target found, on the current revision, and its rollout finished. */
  complete: boolean;
  /** What is still waited for, for messages. */
  waiting: string;
  stalled: Stall | undefined;
}

export function targetRollouts(ctx: Context): Rollouts {
  const targets = ctx.input.targets;
  const missing = targets.filter((t) => !t.found);
  const toRoll = targets.filter((t) => t.found && t.revision !== ctx.revision);
  const behind = targets.filter((t) => t.found && t.revision === ctx.revision && t.rollout !== 'Complete');
  const stuck = targets.filter((t) => t.rollout === 'Stalled');
  const waiting = [...missing, ...behind].map((t) => `${t.kind} ${t.name}: ${t.message}`).join('; ');
  let stalled: Stall | undefined;
  if (missing.length > 0) {
    stalled = {
      reason: ConditionReasons.TargetNotFound,
      message: `${describeTargets(missing)} not found in namespace`,
    };
  } else if (stuck.length > 0) {
    stalled = {
      reason: ConditionReasons.RolloutStalled,
      message: stuck.map((t) => `${t.kind} ${t.name}: ${t.message}`).join('; '),
    };
  }
  return {
    toRoll: toRoll.map(({ kind, name }) => ({ kind, name })),
    complete: missing.length === 0 && toRoll.length === 0 && behind.length === 0,
    waiting,
    stalled,
  };
}

export function describeTargets(targets: readonly { kind: string; name: string }[]): string {
  return targets.map((t) => `${t.kind} ${t.name}`).join(', ');
}
