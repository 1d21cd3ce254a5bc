/**
 * Told of every write an adapter made, for the metrics, the test-only fault switch, and the
 * "own writes" bookkeeping (src/reconcile/own-writes.ts): `kind` names the write for the metrics
 * (`secret-update`, `workload-patch`, `status`, ...); `written`, when given, names the object and the
 * resourceVersion the API server gave it (null: deleted), which its watch event will carry.
 */
export interface WrittenObject {
  kind: string;
  resourceVersion: string | null;
}

export type WriteListener = (kind: string, namespace: string, name: string, written?: WrittenObject) => void;
