/**
 * DualKey (runbook phase 1): every target must verify the new key before anyone signs with it.
 * Requests first (emergency, rollback), then repairs of a Secret the operator did not write
 * (or that lost a value), the health gate, rolling the targets, and the signing date.
 */
import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import { rollTargets, updateSecret } from '../actions.ts';
import type { Context } from '../context.ts';
import { normal, warning } from '../events.ts';
import { gateInterval, healthBreach } from '../gate-policy.ts';
import type { KeySlot } from '../model.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import {
  MID_ROTATION_REQUESTS,
  answerRotateDuringRotation,
  firstThatApplies,
  type Policy,
} from '../request-order.ts';
import { describeTargets, targetRollouts } from '../targets.ts';
import { parseInstant, toRfc3339 } from '../time.ts';

/** A dual-key Secret the operator did not write: take it over as a rotation in flight. */
const adoptDualKeySecret: Policy = (ctx) => {
  if (ctx.operation === 'Rotate' && ctx.operationId !== undefined) return undefined;
  return {
    phase: 'DualKey',
    actions: [
      updateSecret(ctx, {}, [], {
        [SecretAnnotations.operation]: 'Rotate',
        [SecretAnnotations.operationId]: toRfc3339(ctx.now),
        [SecretAnnotations.trigger]: 'Manual',
        [SecretAnnotations.managedBy]: ctx.name,
      }),
    ],
    events: [
      normal(
        EventReasons.RotationAdopted,
        `Secret ${ctx.spec.secretName} was already in the dual-key shape; continuing that rotation`,
      ),
    ],
    requeueAfterMs: 0,
  };
};

/** The rotation date or JWT_SECRET went missing: put them back. */
const restoreMissingValues: Policy = (ctx) => {
  const { now, spec, secret, fp } = ctx;
  const dateMissing = parseInstant(secret.rotationDate) === undefined;
  if (!dateMissing && fp.JWT_SECRET !== undefined) return undefined;
  const set: Record<string, { literal: string } | { copy: KeySlot }> = {};
  if (dateMissing) set[SecretKeys.rotationDate] = { literal: toRfc3339(now + spec.signingDelayMs) };
  if (fp.JWT_SECRET === undefined) set[SecretKeys.secret] = { copy: 'JWT_SECRET_CURRENT' };
  return {
    phase: 'DualKey',
    actions: [updateSecret(ctx, set, [], {})],
    events: [
      warning(
        EventReasons.SecretRepaired,
        `Restored ${Object.keys(set).join(', ')} in Secret ${spec.secretName}`,
      ),
    ],
    requeueAfterMs: 0,
  };
};

/** Before any progress: repairs, then the health gate. */
const DUAL_KEY_CHECKS: readonly Policy[] = [adoptDualKeySecret, restoreMissingValues, healthBreach];

export function dualKey(ctx: Context): PhaseResult {
  return (
    firstThatApplies(ctx, MID_ROTATION_REQUESTS) ??
    answerRotateDuringRotation(ctx, firstThatApplies(ctx, DUAL_KEY_CHECKS) ?? dualKeyProgress(ctx))
  );
}

function dualKeyProgress(ctx: Context): PhaseResult {
  const { now, spec, secret, fp } = ctx;
  // restoreMissingValues guarantees a date from here on.
  const date = parseInstant(secret.rotationDate) ?? now;

  const rollouts = targetRollouts(ctx);
  if (rollouts.toRoll.length > 0) {
    return {
      phase: 'DualKey',
      actions: [rollTargets(ctx, rollouts.toRoll)],
      events: [
        normal(EventReasons.TargetsRolled, `Rolling ${describeTargets(rollouts.toRoll)} to read both keys`),
      ],
      progress: `Rolling ${describeTargets(rollouts.toRoll)}`,
      requeueAfterMs: spec.pollIntervalMs,
    };
  }
  if (rollouts.complete) {
    if (now >= date) {
      return {
        phase: 'Monitoring',
        status: { monitoringStartedAt: toRfc3339(date) },
        events: [
          normal(
            EventReasons.MonitoringStarted,
            `Every target verifies both keys; consumers sign with the new key ${fp.JWT_SECRET_NEW ?? ''} since ${toRfc3339(date)}`,
          ),
        ],
        progress: 'Monitoring the transition to the new key',
        requeueAfterMs: 0,
      };
    }
    return {
      phase: 'DualKey',
      progress: `Every target verifies both keys; consumers sign with the new key from ${toRfc3339(date)}`,
      requeueAfterMs: Math.min(date - now, gateInterval(ctx)),
    };
  }
  // A rollout is late. Move the date before it arrives, so no replica signs with a key
  // that another replica cannot verify yet; the new date means a new revision and a re-roll.
  const margin = Math.max(1000, spec.signingDelayMs / 5);
  if (now >= date - margin) {
    const moved = toRfc3339(now + spec.signingDelayMs);
    return {
      phase: 'DualKey',
      actions: [updateSecret(ctx, { [SecretKeys.rotationDate]: { literal: moved } }, [], {})],
      status: { rotationDate: moved },
      events: [
        warning(
          EventReasons.RotationDateMoved,
          `Rollouts not complete by ${toRfc3339(date - margin)} (${rollouts.waiting}); moved the rotation date to ${moved}`,
        ),
      ],
      stalled: rollouts.stalled,
      progress: `Waiting for rollouts: ${rollouts.waiting}`,
      requeueAfterMs: 0,
    };
  }
  return {
    phase: 'DualKey',
    stalled: rollouts.stalled,
    progress: `Waiting for rollouts: ${rollouts.waiting}`,
    requeueAfterMs: Math.min(spec.pollIntervalMs, date - margin - now, gateInterval(ctx)),
  };
}
