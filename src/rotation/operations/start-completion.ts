import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import { ROTATION_KEYS, updateSecret } from '../actions.ts';
import type { Context } from '../context.ts';
import { normal } from '../events.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import { toRfc3339 } from '../time.ts';

/** Runbook phase 3: JWT_SECRET = the new key, the dual-key variables removed. */
export function startCompletion(ctx: Context, why: string): PhaseResult {
  const { fp, now, spec } = ctx;
  return {
    phase: 'Completing',
    actions: [
      updateSecret(ctx, { [SecretKeys.secret]: { copy: 'JWT_SECRET_NEW' } }, ROTATION_KEYS, {
        [SecretAnnotations.operation]: 'Complete',
        [SecretAnnotations.keyCreatedAt]: toRfc3339(now),
      }),
    ],
    status: { rotationDate: undefined, monitoringStartedAt: undefined },
    events: [
      normal(
        EventReasons.CompletionStarted,
        `Completing: ${why}. JWT_SECRET is now the new key ${fp.JWT_SECRET_NEW ?? ''}; ` +
          `the dual-key variables are removed from Secret ${spec.secretName}`,
      ),
    ],
    progress: 'Writing the new key as JWT_SECRET',
    requeueAfterMs: 0,
  };
}
