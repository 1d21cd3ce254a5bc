/**
 * Someone else acted on a rotation in flight: the Secret's keys edited by hand, or the backup Secret
 * deleted. The keys are checked against what the operator wrote: the `previous-key` annotation of the
 * dual-key Secret (the original key, also kept in the backup) and the new key's fingerprint that status
 * recorded on an earlier pass. What cannot drop a key that verifies issued tokens is repaired; what could
 * (a key that consumers may already sign with, changed or removed) stops the rotation with a Stalled
 * reason and writes nothing and rolls nothing, so the pods keep the keys they hold until a human decides.
 */
import { SecretAnnotations, SecretKeys, keySlotName } from '../api/constants.ts';
import { saveOriginal } from './actions.ts';
import type { Context } from './context.ts';
import { warning } from './events.ts';
import type { PhaseResult, Stall, StatusDraft } from './phase-result.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';
import { isSigningScheduled } from './revision.ts';

/** The Secret says a rotation (operation Rotate) is in flight and it has not finished. */
export function rotationInFlight(ctx: Context): boolean {
  return (
    ctx.operation === 'Rotate' &&
    ctx.operationId !== undefined &&
    ctx.prev.lastRotation?.startedAt !== ctx.operationId
  );
}

/** The Secret says a rotation's completion (operation Complete, one key) is being rolled out. */
function completionInFlight(ctx: Context): boolean {
  return (
    ctx.operation === 'Complete' &&
    ctx.operationId !== undefined &&
    ctx.fp.JWT_SECRET_NEW === undefined &&
    ctx.prev.lastRotation?.startedAt !== ctx.operationId
  );
}

/** The fingerprint of the key this rotation started from, as the operator wrote it. */
export function expectedOriginal(ctx: Context): string | undefined {
  return ctx.secret.annotations[SecretAnnotations.previousKey] ?? ctx.input.backup?.originalFingerprint;
}

/** The new key's fingerprint that status recorded for this rotation on an earlier pass. */
function knownNewKey(ctx: Context): string | undefined {
  const { prev, operationId } = ctx;
  return prev.rotationStartedAt === operationId ? prev.newKeyFingerprint : undefined;
}

/** Consumers may sign with the new key: its date was set (in the Secret now, or in status before). */
export function signingSwitched(ctx: Context): boolean {
  const { prev, operationId } = ctx;
  return (
    isSigningScheduled(ctx.secret.rotationDate) ||
    (prev.rotationStartedAt === operationId &&
      (prev.rotationDate !== undefined || prev.monitoringStartedAt !== undefined))
  );
}

/**
 * A hand edit that could drop a key some token was signed with: Failed, with nothing written and
 * nothing rolled. Undefined when the Secret's keys are the ones the rotation wrote (or can be repaired).
 */
export function handEditedKeys(ctx: Context): Stall | undefined {
  const { fp } = ctx;
  const slot = (name: string): string => keySlotName(ctx.spec.algorithm, name);
  if (completionInFlight(ctx)) {
    const known = knownNewKey(ctx);
    if (known === undefined || fp.JWT_SECRET === undefined || fp.JWT_SECRET === known) return undefined;
    return {
      reason: ConditionReasons.KeyChangedByHand,
      message: `${slot(SecretKeys.secret)} holds key ${fp.JWT_SECRET}, not the new key ${known} this completion rolls out; nothing is rolled until you put the key back, roll back (the original key comes from the backup Secret), or start an emergency rotation`,
    };
  }
  if (!rotationInFlight(ctx)) return undefined;
  const original = expectedOriginal(ctx);
  const current = fp.JWT_SECRET_CURRENT;
  const fix =
    'put the key back, roll back (the original key comes from the backup Secret), or start an emergency rotation';
  if (current !== undefined && original !== undefined && current !== original) {
    return {
      reason: ConditionReasons.KeyChangedByHand,
      message: `${slot(SecretKeys.current)} holds key ${current}, not the original key ${original} this rotation started from; nothing is rolled until you ${fix}`,
    };
  }
  if (!signingSwitched(ctx)) return undefined;
  const known = knownNewKey(ctx);
  if (fp.JWT_SECRET_NEW === undefined) {
    return {
      reason: ConditionReasons.NewKeyMissing,
      message: `${slot(SecretKeys.new)} was removed after consumers were told to sign with it${known === undefined ? '' : ` (key ${known})`}; tokens it signed verify only on pods that still hold it, and nothing is rolled until you ${fix}`,
    };
  }
  if (known !== undefined && fp.JWT_SECRET_NEW !== known) {
    return {
      reason: ConditionReasons.KeyChangedByHand,
      message: `${slot(SecretKeys.new)} holds key ${fp.JWT_SECRET_NEW}, not the new key ${known} consumers were told to sign with; nothing is rolled until you ${fix}`,
    };
  }
  return undefined;
}

/** Whether a stall is one of handEditedKeys's (its status keeps what identifies the rotation). */
export function isHandEditStall(stall: Stall): boolean {
  return (
    stall.reason === ConditionReasons.KeyChangedByHand || stall.reason === ConditionReasons.NewKeyMissing
  );
}

/**
 * What a hand-edit stall keeps in status, so the next pass still knows which new key and which
 * signing date this rotation had (Failed status otherwise drops them).
 */
export function heldRotationStatus(ctx: Context): StatusDraft {
  const { prev, operationId } = ctx;
  const same = prev.rotationStartedAt === operationId;
  return {
    rotationStartedAt: operationId,
    trigger: ctx.trigger ?? prev.trigger,
    newKeyFingerprint: (same ? prev.newKeyFingerprint : undefined) ?? ctx.fp.JWT_SECRET_NEW,
    rotationDate: same ? prev.rotationDate : undefined,
    monitoringStartedAt: same ? prev.monitoringStartedAt : undefined,
  };
}

/**
 * A value the rotation can get back without dropping a key anyone signs with: JWT_SECRET_CURRENT
 * (JWT_SECRET still holds the original), or JWT_SECRET_NEW before the signing switch (no consumer
 * signed with it: a new key is made and published again). The DualKey repair policy writes it.
 */
export function repairableLoss(ctx: Context): boolean {
  if (!rotationInFlight(ctx)) return false;
  const { fp } = ctx;
  const original = expectedOriginal(ctx);
  const currentRecoverable =
    fp.JWT_SECRET_CURRENT === undefined && original !== undefined && fp.JWT_SECRET === original;
  const currentFine = fp.JWT_SECRET_CURRENT !== undefined || currentRecoverable;
  if (fp.JWT_SECRET_NEW === undefined) return currentFine && !signingSwitched(ctx);
  return currentRecoverable;
}

/** JWT_SECRET_NEW now holds another key than the one published, before anyone signs with it: say so once. */
export const newKeyReplacedBeforeSwitch = (ctx: Context): PhaseResult | undefined => {
  const known = knownNewKey(ctx);
  const now = ctx.fp.JWT_SECRET_NEW;
  if (!rotationInFlight(ctx) || known === undefined || now === undefined || now === known) return undefined;
  if (signingSwitched(ctx)) return undefined;
  return {
    phase: 'DualKey',
    events: [
      warning(
        EventReasons.KeyChangedByHand,
        `${keySlotName(ctx.spec.algorithm, SecretKeys.new)} was changed by hand from key ${known} to ${now} before any consumer signed with it; the targets are rolled again to verify the new value`,
      ),
    ],
    progress: 'Publishing the hand-edited new key',
    requeueAfterMs: 0,
  };
};

/**
 * The backup Secret was deleted while the rotation is in flight: write it again from JWT_SECRET,
 * which still holds the original key (its fingerprint is the previous-key annotation), so a rollback
 * after completion still has the key to restore.
 */
export const backupLost = (ctx: Context): PhaseResult | undefined => {
  if (!rotationInFlight(ctx) || ctx.input.backup !== undefined) return undefined;
  const original = ctx.secret.annotations[SecretAnnotations.previousKey];
  if (original === undefined || ctx.fp.JWT_SECRET !== original) return undefined;
  const phase = ctx.prev.phase === 'Monitoring' ? 'Monitoring' : 'DualKey';
  return {
    phase,
    actions: [saveOriginal(ctx, original)],
    events: [
      warning(
        EventReasons.BackupRestored,
        `The backup Secret was deleted during the rotation; the original key ${original} was saved in it again from ${keySlotName(ctx.spec.algorithm, SecretKeys.secret)}`,
      ),
    ],
    progress: 'Saving the original key in the backup Secret again',
    requeueAfterMs: 0,
  };
};
