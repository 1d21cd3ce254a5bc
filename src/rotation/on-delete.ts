/**
 * spec.rollout.replaceOnDeletePods: a StatefulSet or DaemonSet with updateStrategy OnDelete takes a
 * new template only into pods made after it, so the operator evicts its pods that run an earlier
 * revision, the way `kubectl rollout restart` would have replaced them: one at a time, and only
 * while every other pod of the target is ready and none is terminating. The Eviction API refuses an
 * eviction that a PodDisruptionBudget does not allow; the shell reports that and the next pass tries
 * again.
 */
import type { Context } from './context.ts';
import type { Action, TargetView } from './model.ts';

/** The pod to evict next: the highest name first, as a StatefulSet replaces from the last ordinal. */
function nextPod(target: TargetView, revision: string): string | undefined {
  const pods = target.pods ?? [];
  // One at a time: the last one evicted is back (as many pods as wanted) and ready before the next.
  if (pods.length < (target.desiredPods ?? 0)) return undefined;
  if (pods.some((p) => p.terminating === true || p.ready !== true)) return undefined;
  const stale = pods.filter((p) => p.revision !== revision).map((p) => p.name);
  return stale.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))[0];
}

/** One eviction per OnDelete target whose template carries the current revision and whose pods do not. */
export function onDeleteEvictions(ctx: Context): Action[] {
  if (!ctx.spec.replaceOnDeletePods) return [];
  return ctx.targets.flatMap((t): Action[] => {
    if (!t.found || t.updateOnDelete !== true || t.revision !== ctx.revision) return [];
    const pod = nextPod(t, ctx.revision);
    return pod === undefined ? [] : [{ type: 'EvictPod', target: { kind: t.kind, name: t.name }, pod }];
  });
}

/** The Event of a pass that evicts. */
export function evictionMessage(actions: readonly Action[]): string {
  return actions
    .flatMap((a) =>
      a.type === 'EvictPod'
        ? [
            `Evicting pod ${a.pod} of ${a.target.kind} ${a.target.name} (updateStrategy OnDelete) so it is made again from the new template`,
          ]
        : [],
    )
    .join('; ');
}
