/**
 * Where the targets stand against the Secret's current revision: their rollouts (by the rules of
 * `kubectl rollout status`) and, for the signing switch, their pods (by the revision each pod was
 * started from, which says which keys it verifies).
 */
import type { TargetKind } from '../api/types.ts';
import type { Context } from './context.ts';
import type { TargetView } from './model.ts';
import type { Stall } from './phase-result.ts';
import { ConditionReasons } from './reasons.ts';
import { verifiesKey } from './revision.ts';

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

export function targetRollouts(ctx: Context): Rollouts {
  const targets = ctx.targets;
  const missing = targets.filter((t) => !t.found);
  const toRoll = targets.filter((t) => t.found && t.revision !== ctx.revision);
  const behind = targets.filter(
    (t) =>
      t.found &&
      t.revision === ctx.revision &&
      (t.rollout !== 'Complete' || podsOffRevision(t, ctx.revision) > 0),
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

function describeWait(target: TargetView, revision: string): string {
  if (!target.found || target.rollout !== 'Complete') return target.message;
  return `${podsOffRevision(target, revision)} pod(s) from an earlier revision still running`;
}

/**
 * Whether every pod of every target verifies the new key: the condition for letting any pod sign
 * with it. Pods not read count as not verifying.
 */
export function everyPodVerifies(ctx: Context, fingerprint: string | undefined): boolean {
  return ctx.targets.every(
    (t) => t.found && t.pods !== undefined && t.pods.every((p) => verifiesKey(p.revision, fingerprint)),
  );
}

export function describeTargets(targets: readonly { kind: string; name: string }[]): string {
  return targets.map((t) => `${t.kind} ${t.name}`).join(', ');
}
