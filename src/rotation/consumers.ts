/** Workloads that read the Secret without being listed in spec.targets (spec.unlistedConsumers). */
import type { Phase } from '../api/types.ts';
import type { Context } from './context.ts';
import type { PhaseResult } from './phase-result.ts';
import { ConditionReasons } from './reasons.ts';
import { describeTargets, watchedWaitMs } from './targets.ts';

/** With policy Block, a stall naming each unlisted consumer while any exists; else undefined. */
export function unlistedConsumersBlock(
  ctx: Context,
  phase: Phase = 'DualKey',
  requeueAfterMs = watchedWaitMs(ctx),
): PhaseResult | undefined {
  const consumers = ctx.input.consumers;
  if (ctx.spec.unlistedConsumers !== 'Block' || consumers.length === 0) return undefined;
  return {
    phase,
    stalled: {
      reason: ConditionReasons.UnlistedConsumers,
      message:
        `${describeTargets(consumers)} read${consumers.length === 1 ? 's' : ''} Secret ${ctx.spec.secretName} ` +
        'but spec.targets does not list it: it would never learn the new key. List it in spec.targets, ' +
        'stop it reading the Secret, or set spec.unlistedConsumers to Roll',
    },
    progress: 'Blocked by unlisted consumers of the Secret',
    requeueAfterMs,
  };
}
