/** Monitoring (runbook phase 2): wait for the runbook's evidence, then complete. */
import type { Context } from '../context.ts';
import { formatDuration } from '../duration.ts';
import { percent } from '../format.ts';
import { currentGate, gateInterval, healthBreach } from '../gate-policy.ts';
import { backupLost } from '../interference.ts';
import { oldKeyTokensExpireAt, startCompletion } from '../operations/start-completion.ts';
import type { PhaseResult } from '../phase-result.ts';
import { ConditionReasons } from '../reasons.ts';
import { MID_ROTATION_REQUESTS, answerRotateDuringRotation, firstThatApplies } from '../request-order.ts';
import { parseInstant, toRfc3339 } from '../time.ts';

export function monitoring(ctx: Context): PhaseResult {
  return (
    firstThatApplies(ctx, MID_ROTATION_REQUESTS) ??
    answerRotateDuringRotation(ctx, backupLost(ctx) ?? monitoringProgress(ctx))
  );
}

function monitoringProgress(ctx: Context): PhaseResult {
  const { now, spec, prev } = ctx;
  const started = parseInstant(prev.monitoringStartedAt) ?? parseInstant(ctx.secret.rotationDate) ?? now;
  const elapsed = now - started;
  const minLeft = spec.minMonitoringMs - elapsed;

  if (spec.prometheus === undefined) {
    if (minLeft <= 0) {
      return (
        tokenExpiryWait(ctx) ??
        startCompletion(ctx, `monitoring.minDuration (${formatDuration(spec.minMonitoringMs)}) elapsed`)
      );
    }
    return {
      phase: 'Monitoring',
      progress: `Monitoring for ${formatDuration(minLeft)} more (no metrics source: the gate passes on time)`,
      requeueAfterMs: minLeft,
    };
  }

  const breach = healthBreach(ctx);
  if (breach) return breach;
  const gate = currentGate(ctx);
  if (gate?.completion === 'Pass' && minLeft <= 0) {
    return (
      tokenExpiryWait(ctx) ??
      startCompletion(
        ctx,
        `new-key share ${percent(gate.readings?.newKeyShare)} after ${formatDuration(elapsed)}`,
      )
    );
  }
  if (elapsed >= spec.maxMonitoringMs) {
    if (spec.onTimeout === 'CompleteAfterTokenExpiry') {
      const date = parseInstant(ctx.secret.rotationDate) ?? started;
      const expiry = date + Math.max(spec.tokenTtlMs, spec.refreshTokenTtlMs);
      if (now >= expiry) {
        return startCompletion(ctx, 'every token signed with the old key has expired (monitoring.onTimeout)');
      }
      return {
        phase: 'Monitoring',
        progress: `maxDuration passed without a gate pass; completing when old tokens have expired at ${toRfc3339(expiry)}`,
        requeueAfterMs: Math.min(expiry - now, gateInterval(ctx)),
      };
    }
    return {
      phase: 'Monitoring',
      stalled: {
        reason: ConditionReasons.MonitoringTimedOut,
        message:
          `No gate pass within monitoring.maxDuration (${formatDuration(spec.maxMonitoringMs)}): ${gate?.message ?? 'no readings'}. ` +
          'Roll back, adjust the thresholds, or set monitoring.onTimeout to CompleteAfterTokenExpiry',
      },
      progress: 'Waiting for a human',
      requeueAfterMs: gateInterval(ctx),
    };
  }
  const waiting = minLeft > 0 ? `${formatDuration(minLeft)} of monitoring.minDuration left; ` : '';
  return {
    phase: 'Monitoring',
    progress: `${waiting}gate: ${gate?.message ?? 'not read yet'}`,
    requeueAfterMs: Math.min(
      gateInterval(ctx),
      minLeft > 0 ? minLeft : Number.POSITIVE_INFINITY,
      spec.maxMonitoringMs - elapsed,
    ),
  };
}

/** With spec.monitoring.requireOldTokenExpiry, the wait for the old key's tokens to expire; else undefined. */
function tokenExpiryWait(ctx: Context): PhaseResult | undefined {
  const expiry = oldKeyTokensExpireAt(ctx);
  if (!ctx.spec.requireOldTokenExpiry || expiry === undefined || ctx.now >= expiry) return undefined;
  return {
    phase: 'Monitoring',
    progress: `Gate passed; completing when tokens signed with the old key have expired, at ${toRfc3339(expiry)} (monitoring.requireOldTokenExpiry)`,
    requeueAfterMs: Math.min(expiry - ctx.now, gateInterval(ctx)),
  };
}
