/**
 * What the reconciler needs from the outside world, as interfaces. The adapters in src/adapters
 * implement them structurally (they do not import the shell: eslint forbids it), and
 * src/main.ts, the only module that knows both, wires them; type-checking main.ts is what
 * checks that an adapter fits its port. Tests pass in-memory implementations.
 *
 * Errors: an implementation throws ConflictError when a write lost to someone else's (see
 * src/platform/conflict.ts). Other errors reach the work queue, whose error handler (in main.ts)
 * describes them for the log without the request body, which for Secrets carries key material.
 */
import type { JwtRotation, JwtRotationStatus, TargetKind } from '../api/types.ts';
import type { GateObservation, PodView } from '../rotation/model.ts';
import type { WorkloadLike } from '../rotation/rollout.ts';
import type { PrometheusSettings } from '../rotation/spec.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';

export { ConflictError } from '../platform/conflict.ts';

export interface JwtRotationStore {
  get(namespace: string, name: string): Promise<JwtRotation | undefined>;
  /** Replaces the status subresource; throws on conflict or failure. */
  writeStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<void>;
}

/** What the operator writes into a Secret: decoded values and its annotations. */
export interface SecretContent {
  values: Record<string, string>;
  annotations: Record<string, string>;
}

/** A Secret as read: its decoded values, annotations and the resourceVersion that guards a write. */
export interface SecretRecord {
  readonly resourceVersion: string;
  readonly values: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The object a backup Secret belongs to; it is garbage-collected with it. */
export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * Secrets. The adapter builds the Kubernetes objects (labels, type, owner references, base64);
 * the shell deals in decoded values only.
 */
export interface SecretStore {
  get(namespace: string, name: string): Promise<SecretRecord | undefined>;
  /** Creates a Secret labelled as managed by the operator; ConflictError if it exists. */
  create(namespace: string, name: string, content: SecretContent): Promise<void>;
  /**
   * Writes new values and annotations over `current` (a record this store returned), keeping
   * whatever else the Secret has; ConflictError if it changed since `current` was read.
   */
  replace(current: SecretRecord, content: SecretContent): Promise<void>;
  /**
   * Writes a Secret owned by `owner` (created, or replaced over `existing`, a record this store
   * returned), so it goes when its owner goes.
   */
  writeOwned(
    owner: Owner,
    namespace: string,
    name: string,
    content: SecretContent,
    existing: SecretRecord | undefined,
  ): Promise<void>;
  /** Deletes the Secret; a missing one is not an error. */
  delete(namespace: string, name: string): Promise<void>;
}

export interface Workloads {
  get(namespace: string, kind: TargetKind, name: string): Promise<WorkloadLike | undefined>;
  /** Every workload of this kind in the namespace, to find those that read a Secret. */
  list(namespace: string, kind: TargetKind): Promise<WorkloadLike[]>;
  /**
   * The workload's pods that have not finished (by its selector, old ReplicaSets included), each
   * with the value of `annotation` it was created with.
   */
  listPods(namespace: string, workload: WorkloadLike, annotation: string): Promise<PodView[]>;
  /** Sets an annotation on the pod template, which rolls the workload's pods. */
  setTemplateAnnotation(
    namespace: string,
    kind: TargetKind,
    name: string,
    key: string,
    value: string,
  ): Promise<void>;
}

/**
 * Kubernetes Events on a JwtRotation. The reconciler logs a failure and carries on, so the error
 * thrown has a message fit for a log.
 */
export interface EventRecorder {
  record(resource: JwtRotation, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Reads the metrics gate. Never throws: a failure is an observation with a reason. */
export interface GateReader {
  read(settings: PrometheusSettings, bearerToken: string | undefined): Promise<GateObservation>;
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
  /**
   * The same stores reading the API server, when `resources`, `secrets` and `workloads` read
   * informer caches: a pass that would write anything reads again from these and decides again,
   * so every write is decided on live reads (docs/architecture.md, "Reads from the caches").
   */
  live?: Pick<ReconcilerDeps, 'resources' | 'secrets' | 'workloads'>;
}
