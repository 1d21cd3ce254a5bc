/**
 * The rollout budget (MAX_CONCURRENT_ROLLOUTS; src/reconcile/rollout-budget.ts), and who the
 * cluster shows rolling when this replica starts leading: it counts, before admitting anyone.
 */
import { SecretAnnotations } from '../api/constants.ts';
import type { JwtRotation } from '../api/types.ts';
import { RolloutBudget } from '../reconcile/rollout-budget.ts';

const ROLLING_PHASES = new Set(['DualKey', 'Completing', 'RollingBack']);
const RESTING_PHASES = new Set(['Monitoring', 'Paused']);
const FINAL_OPERATIONS = new Set(['Complete', 'Rollback', 'Emergency']);

/**
 * Whether the cluster shows this JwtRotation in a rolling step: its status says so, or its Secret
 * shows a step in flight that its status does not record (a crash right after the Secret write).
 * Counting one too many only delays others until its first pass; counting too few could let the
 * budget be exceeded, so every doubt counts as rolling.
 */
export function rollingInCluster(
  resource: JwtRotation,
  secretAnnotations: Readonly<Record<string, string>> | undefined,
): boolean {
  const phase = resource.status?.phase;
  if (phase !== undefined && ROLLING_PHASES.has(phase)) return true;
  const operation = secretAnnotations?.[SecretAnnotations.operation];
  if (operation === 'Rotate') return phase === undefined || !RESTING_PHASES.has(phase);
  if (operation !== undefined && FINAL_OPERATIONS.has(operation)) {
    const id = secretAnnotations?.[SecretAnnotations.operationId];
    return id !== undefined && resource.status?.lastRotation?.startedAt !== id;
  }
  return false;
}

export function makeRolloutBudget(limit: number, wake: (key: string) => void): RolloutBudget {
  return new RolloutBudget(limit, wake);
}

/** The keys of the JwtRotations the cluster shows rolling. */
export function rollingKeys(
  resources: readonly JwtRotation[],
  secretAnnotations: (namespace: string, name: string) => Record<string, string> | undefined,
): string[] {
  return resources
    .filter((r) => rollingInCluster(r, secretAnnotations(r.metadata.namespace ?? '', r.spec.secretName)))
    .map((r) => `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`);
}
