/**
 * Where the targets stand against the Secret's current revision: their rollouts (by the rules of
 * `kubectl rollout status`) and, for the signing switch, their pods (by the revision each pod was
 * started from, which says which keys it verifies).
 */
import type { TargetKind, TargetStatus } from '../api/types.ts';
import type { Context } from './context.ts';
import { dropUndefined } from './format.ts';
import type { TargetView } from './model.ts';
import type { Stall } from './phase-result.ts';
import { ConditionReasons } from './reasons.ts';
import { signsWithKey, verifiesKey } from './revision.ts';

export interface Rollouts {
  /** Found targets whose template does not carry the current revision yet. */
  toRoll: { kind: TargetKind; name: string }[];
  /**
   * Every target found, on the current revision, its rollout finished, and no pod left that was
   * started from another revision (pods of old ReplicaSets or revisions, terminating ones included).
   */
  complete: boolean;
  /** What is still waited for, for messages. */
  waiting: string;
  stalled: Stall | undefined;
}

/** Pods of a target not started from this revision (none when the pods were not read). */
function podsOffRevision(target: TargetView, revision: string): number {
  return (target.pods ?? []).filter((p) => p.revision !== revision).length;
}

/**
 * The longest a pass waiting on the targets (a rollout, their pods, an unlisted consumer) asks to
 * wait before it looks again. The shell watches the targets, their pods and the workloads that read
 * the Secret, and every change to them wakes the JwtRotation at once (`src/reconcile/wake-index.ts`),
 * so this look is only a safety net; polling at `rollout.pollInterval` made 1,000 waiting
 * JwtRotations cost a pass every few milliseconds for nothing (bench/README.md, issue 13).
 */
export const WATCHED_WAIT_MS = 60_000;

/**
 * When a pass that waits on the targets looks again without a watch event: after `pollInterval`
 * or `WATCHED_WAIT_MS`, whichever is longer. A pass that has just rolled them looks again after
 * `pollInterval` instead (once per roll).
 */
export function watchedWaitMs(ctx: Context): number {
  return Math.max(ctx.spec.pollIntervalMs, WATCHED_WAIT_MS);
}

/**
 * Whether the target runs this revision everywhere: its template carries it, its rollout finished,
 * and no pod started from another revision is left (terminating ones included).
 */
export function isRolledOut(target: TargetView, revision: string): boolean {
  return (
    target.found &&
    target.revision === revision &&
    target.rollout === 'Complete' &&
    podsOffRevision(target, revision) === 0
  );
}

export function targetRollouts(ctx: Context): Rollouts {
  const targets = ctx.targets;
  const missing = targets.filter((t) => !t.found);
  const toRoll = targets.filter((t) => t.found && t.revision !== ctx.revision);
  const behind = targets.filter(
    (t) => t.found && t.revision === ctx.revision && !isRolledOut(t, ctx.revision),
  );
  // With spec.rollout.replaceOnDeletePods, the operator replaces an OnDelete target's pods itself.
  const stuck = targets.filter(
    (t) => t.rollout === 'Stalled' && !(t.updateOnDelete === true && ctx.spec.replaceOnDeletePods),
  );
  const waiting = [...missing, ...behind]
    .map((t) => `${t.kind} ${t.name}: ${describeWait(t, ctx.revision)}`)
    .join('; ');
  let stalled: Stall | undefined;
  if (missing.length > 0) {
    stalled = {
      reason: ConditionReasons.TargetNotFound,
      message: `${describeTargets(missing)} not found in namespace`,
    };
  } else if (stuck.length > 0) {
    stalled = {
      reason: stuck[0]?.stall?.reason ?? ConditionReasons.RolloutStalled,
      message: stuck
        .map((t) => `${t.kind} ${t.name}: ${t.message}${t.stall ? `. To go on: ${t.stall.fix}` : ''}`)
        .join('; '),
    };
  }
  return {
    toRoll: toRoll.map(({ kind, name }) => ({ kind, name })),
    complete: missing.length === 0 && toRoll.length === 0 && behind.length === 0,
    waiting,
    stalled,
  };
}

/** What a target not rolled out to this revision is waiting for, for messages. */
export function describeWait(target: TargetView, revision: string): string {
  if (!target.found || target.rollout !== 'Complete') return target.message;
  return `${podsOffRevision(target, revision)} pod(s) from an earlier revision still running`;
}

/**
 * Whether every pod of every target verifies the new key: the condition for letting any pod sign
 * with it. Pods not read count as not verifying.
 */
export function everyPodVerifies(ctx: Context, fingerprint: string | undefined): boolean {
  return ctx.targets.every((t) => podsNotVerifying(t, fingerprint) === 0);
}

/**
 * How many pods of the target do not verify the key: undefined when the target is missing or its
 * pods were not read, which no caller may read as "every pod verifies".
 */
export function podsNotVerifying(target: TargetView, fingerprint: string | undefined): number | undefined {
  if (!target.found || target.pods === undefined) return undefined;
  return target.pods.filter((p) => !verifiesKey(p.revision, fingerprint)).length;
}

/** What status says about a target against the revision it must run and the key a rotation brings in. */
export function targetStatus(
  t: TargetView,
  at: { revision: string; newKey: string | undefined; now: number; secretName: string },
  discovered?: true,
): TargetStatus {
  const pods = t.pods ?? [];
  const counted = t.pods !== undefined && at.newKey !== undefined;
  return dropUndefined<TargetStatus>({
    kind: t.kind,
    name: t.name,
    discovered,
    revision: t.revision,
    ready: t.found && t.revision === at.revision && t.rollout === 'Complete',
    pods: t.pods === undefined ? undefined : pods.length,
    podsVerifyingNewKey: counted ? pods.filter((p) => verifiesKey(p.revision, at.newKey)).length : undefined,
    podsSigningWithNewKey: counted
      ? pods.filter((p) => signsWithKey(p.revision, at.newKey, at.now)).length
      : undefined,
    message:
      t.found && !t.referencesSecret
        ? `${t.message}; its pod template does not reference Secret ${at.secretName}`
        : t.message,
  });
}

export function describeTargets(targets: readonly { kind: string; name: string }[]): string {
  return targets.map((t) => `${t.kind} ${t.name}`).join(', ');
}
