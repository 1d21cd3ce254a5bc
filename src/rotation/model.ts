/**
 * What the decision core reads and what it asks for. The core never sees key material:
 * the shell hands it fingerprints, and actions name where a value comes from
 * (generate, copy a key, the backed-up original), so only the executor touches secrets.
 */
import type {
  JwtRotationSpec,
  JwtRotationStatus,
  NoticeKind,
  ObjectMeta,
  Requester,
  TargetKind,
  Trigger,
} from '../api/types.ts';
import type { RequesterIdentity } from './audit.ts';
import type { GateReadings } from './gate-types.ts';
import type { StalledReason } from './reasons.ts';
import type { RolloutBudgetObservation, RolloutClaim } from './rollout-budget.ts';

/** The Secret keys that hold key material. */
export type KeySlot = 'JWT_SECRET' | 'JWT_SECRET_CURRENT' | 'JWT_SECRET_NEW';

/** The workload Secret as the core sees it. */
export interface SecretView {
  resourceVersion: string;
  /** The Secret's `type`; the operator manages only Opaque Secrets (undefined reads as Opaque). */
  type?: string | undefined;
  /** Fingerprint of each key slot present with a non-empty value. */
  fingerprints: Partial<Record<KeySlot, string>>;
  /** The shape of each key slot present (length, encoding, what is wrong), for the checklist. */
  keyShapes?: Partial<Record<KeySlot, KeyShape>> | undefined;
  /** Non-secret values, read as they are. */
  rotationDate?: string | undefined;
  expiration?: string | undefined;
  refreshExpiration?: string | undefined;
  annotations: Record<string, string>;
}

/** What can be said about a key without handing it to the core. */
export interface KeyShape {
  /** Bytes of key material: decoded for base64 and hex, else the UTF-8 length. */
  bytes: number;
  encoding: 'base64' | 'base64url' | 'hex' | 'text' | 'pem';
  /** Why consumers may not read the key as the operator does, if anything. */
  problem?: string | undefined;
}

/** The backup Secret that keeps the original key outside the workloads' view. */
export interface BackupView {
  originalFingerprint?: string | undefined;
  keyCreatedAt?: string | undefined;
}

/** A target workload's rollout, reduced to what the decision needs. */
export interface TargetView {
  kind: TargetKind;
  name: string;
  found: boolean;
  /** Value of the pod-template revision annotation, if set. */
  revision?: string | undefined;
  /** Complete: every replica runs the current template and is available. */
  rollout: 'Complete' | 'Progressing' | 'Stalled';
  /** Why the rollout is not complete, for status and events. */
  message: string;
  /** With rollout Stalled: the reason (a Stalled condition reason) and what a human does about it. */
  stall?: { reason: StalledReason; fix: string } | undefined;
  /** A StatefulSet or DaemonSet with updateStrategy OnDelete whose pods wait to be deleted. */
  updateOnDelete?: boolean | undefined;
  /** How many pods the workload wants (replicas; a DaemonSet's desired number scheduled). */
  desiredPods?: number | undefined;
  /** Whether the pod template reads the Secret (env, envFrom or a volume). */
  referencesSecret: boolean;
  /**
   * The workload's pods that are not finished (Pending, Running, terminating): any of them may
   * serve traffic, whatever ReplicaSet or revision it belongs to. Undefined when not read.
   */
  pods?: PodView[] | undefined;
}

/** A pod as the signing switch needs it: the Secret revision it was started from. */
export interface PodView {
  name: string;
  /** The pod's jwtrotation.io/secret-revision annotation (from its template), if any. */
  revision?: string | undefined;
  /** Its Ready condition is True (undefined when not read). */
  ready?: boolean | undefined;
  /** It is being deleted. */
  terminating?: boolean | undefined;
}

/** One look at the metrics gate, taken by the shell when gateDue says so. */
export type GateObservation =
  { ok: true; readings: GateReadings } | { ok: false; reason: string; message: string };

/** A notice the notifier is done with: delivered to every receiver, or given up on. */
export interface SettledNotice {
  kind: NoticeKind;
  rotation: string;
  /** Failed notices only: the Stalled reason. */
  stallReason?: string | undefined;
  delivered: boolean;
}

/**
 * How the last delivery of notices to spec.notifications receivers went, as the notifier tells the
 * shell (undefined when none finished since the operator started), and every notice it settled since
 * it started, which the core records in status.notices (Pending → Delivered or Failed).
 */
export interface DeliveryObservation {
  ok: boolean;
  message: string;
  /** The NotificationsDelivered reason when not ok (default NotificationFailed). */
  reason?: string | undefined;
  settled?: readonly SettledNotice[] | undefined;
}

export interface DecideInput {
  /** Epoch milliseconds from the injected clock. */
  now: number;
  resource: {
    metadata: ObjectMeta;
    spec: JwtRotationSpec;
    status?: JwtRotationStatus | undefined;
  };
  /** Undefined when the Secret does not exist. */
  secret: SecretView | undefined;
  /** Undefined when no backup Secret exists. */
  backup: BackupView | undefined;
  /** In spec order. */
  targets: TargetView[];
  /** Workloads in the namespace whose pod template reads the Secret and that spec.targets does not list. */
  consumers: TargetView[];
  /** Undefined when the gate was not read on this pass. */
  gate: GateObservation | undefined;
  /**
   * With spec.schedule.cron: the first time the expression matches after `after` (the schedule's
   * base, ../rotation/schedule.ts scheduleBase), computed by the shell with a cron library, or why
   * the expression cannot be read. Undefined without spec.schedule.cron.
   */
  cron?: CronObservation | undefined;
  /** The last delivery of notices to spec.notifications receivers, if one finished. */
  delivery?: DeliveryObservation | undefined;
  /** With spec.issuer: what the issuer serves and who accepts what. */
  issuer?: IssuerObservation | undefined;
  /**
   * Where "who asked" comes from: the requester stamps of the admission policies, or the field
   * manager (unverified). Default field-manager (./audit.ts).
   */
  requesterIdentity?: RequesterIdentity | undefined;
  /**
   * Set by the shell when the operator-wide rollout budget has no room for the claim this object's
   * last decision made (./rollout-budget.ts); undefined: no limit, or room.
   */
  rolloutBudget?: RolloutBudgetObservation | undefined;
}

/**
 * The issuer (spec.issuer) as the shell saw it on this pass: the PublishedKeySet the operator
 * wrote, what the live server replicas report serving, the clients they saw fetch, and the probes
 * of relying parties made on this pass (when issuerProbePlan asked for them). Fingerprints only.
 */
export interface IssuerObservation {
  /** The PublishedKeySet as read: its version and the fingerprints of its keys; undefined if none yet. */
  published?: { version: string; keys: string[] } | undefined;
  /** Each server replica whose Lease is fresh: the version it serves now and since when (epoch ms). */
  servers: { name: string; version?: string | undefined; since?: number | undefined }[];
  /** Distinct clients that fetched the JWKS, with the last version each got. */
  fetchers: { client: string; version: string }[];
  /** The probes made on this pass. */
  probes?: ProbeResult[] | undefined;
}

/** One probe of a relying party with a token signed by the key of `fingerprint`. */
export interface ProbeResult {
  name: string;
  fingerprint: string;
  /** Epoch ms. */
  at: number;
  outcome: 'Accepted' | 'Refused' | 'Error';
  message: string;
}

export type CronObservation =
  { after: number; next: number | undefined; error?: undefined } | { after: number; error: string };

/** Where a value written to a Secret comes from. */
export type ValueSource = { literal: string } | { generate: number } | { copy: KeySlot } | { original: true };

export type Action =
  /** Create the workload Secret. */
  | { type: 'CreateSecret'; data: Record<string, ValueSource>; annotations: Record<string, string> }
  /** Change the workload Secret, guarded by the resourceVersion the decision saw. */
  | {
      type: 'UpdateSecret';
      resourceVersion: string;
      set: Record<string, ValueSource>;
      remove: string[];
      annotations: Record<string, string | null>;
    }
  /** Copy JWT_SECRET, whose fingerprint must match, into the backup Secret. */
  | { type: 'SaveOriginal'; fingerprint: string; keyCreatedAt: string }
  /** The retention of the original key has run out. */
  | { type: 'DeleteBackup' }
  /**
   * Evict a pod of an OnDelete target that runs an earlier revision, so its controller makes it
   * again from the new template (spec.rollout.replaceOnDeletePods). The Eviction API refuses what a
   * PodDisruptionBudget does not allow; a refusal is not an error, the next pass tries again.
   */
  | { type: 'EvictPod'; target: { kind: TargetKind; name: string }; pod: string }
  /** Set the pod-template revision annotation on these targets, which rolls them. */
  | {
      type: 'RollTargets';
      /** A revision, or SECRET_AS_WRITTEN: the revision of the Secret as this pass's writes leave it. */
      revision: string | typeof SECRET_AS_WRITTEN;
      targets: { kind: TargetKind; name: string }[];
    };

/**
 * RollTargets in the pass that writes the Secret: the core cannot name that revision (it holds the
 * fingerprint of a key the shell has not made yet), so the shell computes it from what it wrote.
 */
export const SECRET_AS_WRITTEN = Symbol('the Secret as this pass writes it');

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  /** Fingerprints only; never key material. */
  message: string;
}

/**
 * A notice of the runbook's communication plan (its Event is among some Decision's events; the
 * spec.notifications receivers get it, from status.notices, the outbox). Fingerprints only; never
 * key material.
 */
export interface Notice {
  kind: NoticeKind;
  /** The rotation it is about: the scheduled start (T-7, T-1) or the operation id (its start time). */
  rotation: string;
  /** Failed only: the Stalled reason (with kind and rotation, what identifies the notice). */
  stallReason?: string | undefined;
  type: 'Normal' | 'Warning';
  /** The reason of the Event that carries it. */
  reason: string;
  message: string;
  /** When it was decided (RFC 3339); the same on every delivery of it. */
  at: string;
  trigger?: Trigger;
  fingerprints: { current?: string; new?: string; original?: string };
  /** Who asked for the operation it is about, when someone did. */
  requestedBy?: Requester | undefined;
}

export interface Decision {
  actions: Action[];
  status: JwtRotationStatus;
  events: EventSpec[];
  /**
   * Notices first recorded in status.notices by this decision. What is sent is every Pending record
   * of the status written (./notices.ts deliverable), these and any a crash left undelivered.
   */
  notices: Notice[];
  /** When to look again even if nothing changes, in milliseconds. */
  requeueAfterMs: number;
  /**
   * The decision's safety rests on what every pod runs (the signing switch: no consumer may sign
   * with the new key before every pod verifies it). The shell reads the pods from the API server
   * and decides again before acting on it, as a watch cache may not show a pod created a moment ago.
   */
  restsOnPods?: true;
  /**
   * This decision starts a rolling step subject to the rollout budget (or, `queued`, waits for room
   * in it): the shell admits it or decides again with DecideInput.rolloutBudget.
   */
  rolloutClaim?: RolloutClaim & { queued: boolean };
  /**
   * This JwtRotation is in a rolling step after this decision: it rolls targets, or waits for their
   * rollouts in DualKey, Completing or RollingBack. The shell counts it against the rollout budget.
   */
  rolling?: true;
}
