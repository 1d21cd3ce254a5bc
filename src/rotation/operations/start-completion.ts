import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import { ROTATION_KEYS, updateSecret } from '../actions.ts';
import type { Context } from '../context.ts';
import { holdForWindow } from '../window-hold.ts';
import { waitForBudget } from '../rollout-budget.ts';
import { normal, warning } from '../events.ts';
import { isSigningScheduled } from '../revision.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import { parseInstant, toRfc3339 } from '../time.ts';
import { rollAfterSecretWrite, rolledAfterSecretWrite } from './roll-with-write.ts';

/** Until when tokens signed with the old key can be valid (undefined before the signing switch). */
export function oldKeyTokensExpireAt(ctx: Context): number | undefined {
  const date = parseInstant(ctx.secret.rotationDate);
  if (date === undefined || !isSigningScheduled(ctx.secret.rotationDate)) return undefined;
  return date + Math.max(ctx.spec.tokenTtlMs, ctx.spec.refreshTokenTtlMs);
}

/**
 * Runbook phase 3: JWT_SECRET = the new key, the dual-key variables removed. Tokens the old key
 * signed stop verifying; if some may still be valid, an Event says until when.
 */
export function startCompletion(ctx: Context, why: string): PhaseResult {
  const held = holdForWindow(ctx, 'Monitoring', `complete (${why})`);
  if (held) return held;
  const queued = waitForBudget(ctx, { kind: 'InFlight' }, 'Monitoring', undefined);
  if (queued) return queued;
  const { fp, now, spec } = ctx;
  const expiry = oldKeyTokensExpireAt(ctx);
  const outstanding =
    expiry !== undefined && now < expiry
      ? [
          warning(
            EventReasons.OldKeyTokensOutstanding,
            `Tokens signed with the old key ${fp.JWT_SECRET_CURRENT ?? ''} before ${ctx.secret.rotationDate ?? ''} ` +
              `could stay valid until ${toRfc3339(expiry)}; they are no longer accepted, so those sessions end now. ` +
              'spec.monitoring.requireOldTokenExpiry: true (the default) waits for them',
          ),
        ]
      : [];
  return {
    phase: 'Completing',
    claim: { kind: 'InFlight' },
    actions: [
      updateSecret(ctx, { [SecretKeys.secret]: { copy: 'JWT_SECRET_NEW' } }, ROTATION_KEYS, {
        [SecretAnnotations.operation]: 'Complete',
        [SecretAnnotations.keyCreatedAt]: toRfc3339(now),
      }),
      ...rollAfterSecretWrite(ctx),
    ],
    status: { rotationDate: undefined, monitoringStartedAt: undefined },
    events: [
      normal(
        EventReasons.CompletionStarted,
        `Completing: ${why}. JWT_SECRET is now the new key ${fp.JWT_SECRET_NEW ?? ''}; ` +
          `the dual-key variables are removed from Secret ${spec.secretName}`,
      ),
      ...outstanding,
      ...rolledAfterSecretWrite(ctx, 'to read the new key alone'),
    ],
    progress: 'Writing the new key as JWT_SECRET',
    requeueAfterMs: 0,
  };
}
