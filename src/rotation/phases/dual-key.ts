/**
 * DualKey (runbook phase 1): every target must verify the new key before anyone signs with it.
 * Requests first (emergency, rollback), then repairs of a Secret the operator did not write
 * (or that lost a value), the health gate, rolling the targets, and the signing date.
 */
import { SecretAnnotations, SecretKeys, keySlotName } from '../../api/constants.ts';
import { rollTargets, updateSecret } from '../actions.ts';
import type { Context } from '../context.ts';
import { holdForWindow } from '../window-hold.ts';
import { waitForBudget } from '../rollout-budget.ts';
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
import { evictionMessage, onDeleteEvictions } from '../on-delete.ts';
import { describeTargets, everyPodVerifies, targetRollouts, watchedWaitMs } from '../targets.ts';
import { isSigningScheduled, NOT_SCHEDULED } from '../revision.ts';
import { unlistedConsumersBlock } from '../consumers.ts';
import { issuerHold } from '../issuer.ts';
import {
  backupLost,
  newKeyReplacedBeforeSwitch,
  rotationInFlight,
  signingSwitched,
} from '../interference.ts';
import { parseInstant, toRfc3339 } from '../time.ts';
import { rollAfterSecretWrite, rolledAfterSecretWrite } from '../operations/roll-with-write.ts';

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
        // The original of this rotation is the key in JWT_SECRET_CURRENT, not what an earlier operation replaced.
        [SecretAnnotations.previousKey]: ctx.fp.JWT_SECRET_CURRENT ?? null,
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

/**
 * The rotation date, JWT_SECRET, JWT_SECRET_CURRENT or (before the signing switch) JWT_SECRET_NEW went
 * missing: put them back. A lost date becomes the verify-only placeholder, which is safe whatever the
 * pods hold: the switch is then made again. A lost JWT_SECRET_CURRENT is copied from JWT_SECRET, which
 * observePhase checked still holds the original key. A lost JWT_SECRET_NEW that no consumer signed with
 * is replaced by a new key, published for verification only (the rotation goes on from there).
 */
const restoreMissingValues: Policy = (ctx) => {
  const { spec, secret, fp } = ctx;
  const newLost = fp.JWT_SECRET_NEW === undefined && rotationInFlight(ctx) && !signingSwitched(ctx);
  const dateMissing = parseInstant(secret.rotationDate) === undefined;
  const currentLost = fp.JWT_SECRET_CURRENT === undefined && fp.JWT_SECRET !== undefined;
  if (!dateMissing && fp.JWT_SECRET !== undefined && !currentLost && !newLost) return undefined;
  const set: Record<string, { literal: string } | { copy: KeySlot } | { generate: number }> = {};
  if (dateMissing || newLost) set[SecretKeys.rotationDate] = { literal: NOT_SCHEDULED };
  if (fp.JWT_SECRET === undefined) set[SecretKeys.secret] = { copy: 'JWT_SECRET_CURRENT' };
  if (currentLost) set[SecretKeys.current] = { copy: 'JWT_SECRET' };
  if (newLost) set[SecretKeys.new] = { generate: spec.secretLength };
  const restored = Object.keys(set).filter((key) => key !== SecretKeys.new);
  const message = newLost
    ? `${keySlotName(spec.algorithm, SecretKeys.new)} was removed from Secret ${spec.secretName} before any consumer signed with it: a new key is made and published for verification only` +
      (restored.length > 0 ? `; restored ${restored.join(', ')}` : '')
    : `Restored ${restored.join(', ')} in Secret ${spec.secretName}`;
  return {
    phase: 'DualKey',
    actions: [updateSecret(ctx, set, [], {})],
    // The lost key is no longer this rotation's new key: the next pass records the one made here.
    ...(newLost ? { status: { newKeyFingerprint: undefined } } : {}),
    events: [warning(EventReasons.SecretRepaired, message)],
    requeueAfterMs: 0,
  };
};

/** Before any progress: repairs, then the health gate. */
const DUAL_KEY_CHECKS: readonly Policy[] = [
  adoptDualKeySecret,
  restoreMissingValues,
  newKeyReplacedBeforeSwitch,
  backupLost,
  healthBreach,
];

export function dualKey(ctx: Context): PhaseResult {
  return (
    firstThatApplies(ctx, MID_ROTATION_REQUESTS) ??
    answerRotateDuringRotation(ctx, firstThatApplies(ctx, DUAL_KEY_CHECKS) ?? dualKeyProgress(ctx))
  );
}

/**
 * Two rolls, so that no pod ever signs with a key another serving pod cannot verify, however long
 * any rollout takes:
 * 1. Publish: the new key is in the Secret for verification only (the date is NOT_SCHEDULED).
 *    Roll every target; wait until every pod of every target was started from a revision that
 *    verifies the new key, old ReplicaSets and terminating pods included.
 * 2. Switch: set the signing date and roll again. Every pod already verifies both keys, so pods
 *    may learn the date in any order. Monitoring starts when every pod runs this revision and the
 *    date has come.
 */
function dualKeyProgress(ctx: Context): PhaseResult {
  const { spec, secret } = ctx;
  const rollouts = targetRollouts(ctx);
  const scheduled = isSigningScheduled(secret.rotationDate);
  if (rollouts.toRoll.length > 0) {
    const what = scheduled ? 'to learn the signing date' : 'to verify the new key';
    const queued = waitForBudget(ctx, { kind: 'InFlight' }, 'DualKey', undefined);
    if (queued) return queued;
    return {
      phase: 'DualKey',
      claim: { kind: 'InFlight' },
      actions: [rollTargets(ctx, rollouts.toRoll)],
      events: [normal(EventReasons.TargetsRolled, `Rolling ${describeTargets(rollouts.toRoll)} ${what}`)],
      progress: `Rolling ${describeTargets(rollouts.toRoll)} ${what}`,
      requeueAfterMs: spec.pollIntervalMs,
    };
  }
  if (!rollouts.complete) {
    const evictions = onDeleteEvictions(ctx);
    if (evictions.length > 0) {
      return {
        phase: 'DualKey',
        actions: evictions,
        events: [normal(EventReasons.PodEvicted, evictionMessage(evictions))],
        progress: evictionMessage(evictions),
        requeueAfterMs: ctx.spec.pollIntervalMs,
      };
    }
    return {
      phase: 'DualKey',
      stalled: rollouts.stalled,
      progress: `Waiting for rollouts (${scheduled ? 'signing date' : 'new key, verify only'}): ${rollouts.waiting}`,
      requeueAfterMs: Math.min(watchedWaitMs(ctx), gateInterval(ctx)),
    };
  }
  return scheduled ? awaitSigningDate(ctx) : scheduleSigning(ctx);
}

/** Stage 1 done: every pod verifies the new key. Set the date from which pods sign with it. */
function scheduleSigning(ctx: Context): PhaseResult {
  const { now, spec, fp } = ctx;
  if (!everyPodVerifies(ctx, fp.JWT_SECRET_NEW)) {
    return {
      phase: 'DualKey',
      progress: 'Waiting for the pods of every target to verify the new key',
      requeueAfterMs: Math.min(watchedWaitMs(ctx), gateInterval(ctx)),
    };
  }
  const blocked = unlistedConsumersBlock(ctx) ?? issuerHold(ctx);
  if (blocked) return blocked;
  const held = holdForWindow(ctx, 'DualKey', 'switch signing to the new key');
  if (held) return held;
  const queued = waitForBudget(ctx, { kind: 'InFlight' }, 'DualKey', undefined);
  if (queued) return queued;
  const date = toRfc3339(now + spec.signingDelayMs);
  return {
    phase: 'DualKey',
    claim: { kind: 'InFlight' },
    actions: [
      updateSecret(ctx, { [SecretKeys.rotationDate]: { literal: date } }, [], {}),
      ...rollAfterSecretWrite(ctx),
    ],
    status: { rotationDate: date },
    events: [
      normal(
        EventReasons.SigningScheduled,
        `Every pod of every target verifies the new key ${fp.JWT_SECRET_NEW ?? ''}; consumers sign with it from ${date}`,
      ),
      ...rolledAfterSecretWrite(ctx, 'to learn the signing date'),
    ],
    progress: `Handing the signing date ${date} to the targets`,
    requeueAfterMs: 0,
    restsOnPods: true,
  };
}

/** Stage 2 rolled: every pod knows the date. Monitoring starts when it has come. */
function awaitSigningDate(ctx: Context): PhaseResult {
  const { now, secret, fp } = ctx;
  const date = parseInstant(secret.rotationDate) ?? now;
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
