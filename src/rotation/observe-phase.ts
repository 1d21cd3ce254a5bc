/** Where a rotation stands, read from the Secret's shape and annotations (the source of truth). */
import { SecretKeys, keySlotName } from '../api/constants.ts';
import type { Phase } from '../api/types.ts';
import type { Context } from './context.ts';
import { handEditedKeys, repairableLoss } from './interference.ts';
import type { Stall } from './phase-result.ts';
import { ConditionReasons } from './reasons.ts';

export type ObservedPhase = { phase: Exclude<Phase, 'Failed'> } | { phase: 'Failed'; stalled: Stall };

export function observePhase(ctx: Context): ObservedPhase {
  const { fp, prev, operation, operationId } = ctx;
  const slot = (name: string): string => keySlotName(ctx.spec.algorithm, name);
  // Someone else edited the keys of the rotation in flight (./interference.ts).
  const edited = handEditedKeys(ctx);
  if (edited) return { phase: 'Failed', stalled: edited };
  if (repairableLoss(ctx)) return { phase: 'DualKey' };
  if (fp.JWT_SECRET_NEW !== undefined) {
    if (fp.JWT_SECRET_CURRENT === undefined) {
      return {
        phase: 'Failed',
        stalled: {
          reason: ConditionReasons.SecretInconsistent,
          message: `${slot(SecretKeys.new)} is set but ${slot(SecretKeys.current)} is missing; roll back (to the backed-up original key) or start an emergency rotation`,
        },
      };
    }
    if (prev.phase === 'Paused') return { phase: 'Paused' };
    if (prev.phase === 'Monitoring' && prev.rotationStartedAt === operationId) return { phase: 'Monitoring' };
    return { phase: 'DualKey' };
  }
  if (fp.JWT_SECRET === undefined) {
    return {
      phase: 'Failed',
      stalled: {
        reason: ConditionReasons.KeyMissing,
        message: `Secret ${ctx.spec.secretName} has no ${slot(SecretKeys.secret)}; start an emergency rotation or roll back`,
      },
    };
  }
  const finished = prev.lastRotation?.startedAt === operationId;
  if (operationId !== undefined && !finished) {
    if (operation === 'Rollback') return { phase: 'RollingBack' };
    if (operation === 'Complete' || operation === 'Emergency') return { phase: 'Completing' };
  }
  return { phase: 'Idle' };
}
