/**
 * kstatus conditions. A condition's lastTransitionTime moves only when its status
 * changes, so a pass that finds nothing new writes nothing.
 */
import type { Condition, ConditionType } from '../api/types.ts';
import { ConditionReasons } from './reasons.ts';
import { toRfc3339 } from './time.ts';

export interface ConditionSpec {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** The new condition list: `wanted` in order, keeping lastTransitionTime where status did not change. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  wanted: readonly ConditionSpec[],
  generation: number,
  now: number,
): Condition[] {
  return wanted.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = old?.status === c.status ? old.lastTransitionTime : toRfc3339(now);
    return {
      type: c.type,
      status: c.status,
      observedGeneration: generation,
      lastTransitionTime,
      reason: c.reason,
      message: c.message,
    };
  });
}

/** Whether the condition of this type turned to this status (it was absent or different before). */
export function turnedTo(
  previous: readonly Condition[] | undefined,
  type: ConditionType,
  status: string,
  reason?: string,
): boolean {
  const old = previous?.find((p) => p.type === type);
  return old?.status !== status || (reason !== undefined && old.reason !== reason);
}

/** The conditions of a pass that is making progress: not Ready, Reconciling, not Stalled. */
export function progressing(reason: string, message: string): ConditionSpec[] {
  return [
    { type: 'Ready', status: 'False', reason, message },
    { type: 'Reconciling', status: 'True', reason, message },
    {
      type: 'Stalled',
      status: 'False',
      reason: ConditionReasons.NotStalled,
      message: 'Making progress or idle',
    },
  ];
}
