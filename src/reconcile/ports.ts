/** What the reconciler needs from the outside world; main.ts wires the real ones, tests may pass others. */
import type { JwtRotation, JwtRotationStatus } from '../api/types.ts';
import type { EventRecorder } from '../adapters/kubernetes/events.ts';
import type { SecretStore } from '../adapters/kubernetes/secrets.ts';
import type { Workloads } from '../adapters/kubernetes/workloads.ts';
import type { GateReader } from '../adapters/prometheus/gate-reader.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';

export interface JwtRotationStore {
  get(namespace: string, name: string): Promise<JwtRotation | undefined>;
  /** Replaces the status subresource; throws on conflict or failure. */
  writeStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<void>;
}

/** Makes new keys: random bytes from a CSPRNG, as base64 text. */
export type KeyFactory = (bytes: number) => string;

export interface ReconcilerDeps {
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
  resources: JwtRotationStore;
  secrets: SecretStore;
  workloads: Workloads;
  events: EventRecorder;
  gate: GateReader;
  newKey: KeyFactory;
}
