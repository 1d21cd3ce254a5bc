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
import type {
  JwtRotation,
  JwtRotationStatus,
  ReceiverType,
  RelyingPartySpec,
  TargetKind,
} from '../api/types.ts';
import type { Fetcher, PublishedKeySetSpec, ServerEntry } from '../api/published-key-set.ts';
import type { RequesterIdentity } from '../rotation/audit.ts';
import type { DeliveryObservation, GateObservation, Notice, PodView } from '../rotation/model.ts';
import type { WorkloadLike } from '../rotation/rollout.ts';
import type { PrometheusSettings } from '../rotation/spec.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { KeyScheme } from '../platform/keys.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';
import type { OutboundPolicy } from '../platform/outbound.ts';
import type { RolloutBudget } from './rollout-budget.ts';
import type { Freshness } from './own-writes.ts';

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
  /** The Secret's `type` (e.g. Opaque, kubernetes.io/service-account-token, helm.sh/release.v1). */
  readonly type?: string | undefined;
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
  /** Every workload of this kind in the namespace whose pod template reads the Secret. */
  listReferencing(namespace: string, kind: TargetKind, secretName: string): Promise<WorkloadLike[]>;
  /**
   * The workload's pods that have not finished (by its selector, old ReplicaSets included), each
   * with the value of `annotation` it was created with.
   */
  listPods(namespace: string, workload: WorkloadLike, annotation: string): Promise<PodView[]>;
  /**
   * Evicts a pod through the Eviction API, which honours PodDisruptionBudgets: undefined when the
   * pod was evicted (or is gone already), else why the API server refused (429: a budget allows no
   * disruption now), in words fit for an Event.
   */
  evictPod(namespace: string, name: string): Promise<string | undefined>;
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

/** What the gate reader needs from Secrets: the bearer token and the CA bundle, read by the shell. */
export interface GateCredentials {
  bearerToken?: string | undefined;
  /** PEM bundle of the CA(s) to trust for an HTTPS Prometheus, instead of the system's. */
  ca?: string | undefined;
}

/** Reads the metrics gate. Never throws: a failure is an observation with a reason. */
export interface GateReader {
  read(settings: PrometheusSettings, credentials: GateCredentials): Promise<GateObservation>;
}

/**
 * Makes new keys. HMAC (HS256, HS384, HS512): `bytes` random bytes from a CSPRNG, as base64 text.
 * RS256, ES256, EdDSA: a new private key as PKCS#8 PEM (src/platform/keys.ts `generateKey`).
 */
export type KeyFactory = (bytes: number, scheme: KeyScheme) => string;

/** A ConfigMap as read: its data and the resourceVersion it had. */
export interface ConfigMapRecord {
  readonly resourceVersion: string;
  readonly data: Readonly<Record<string, string>>;
}

/**
 * ConfigMaps the operator publishes (the JWKS). The adapter builds the objects (the managed-by label,
 * the managed-by annotation); the shell deals in data.
 */
export interface ConfigMapStore {
  get(namespace: string, name: string): Promise<ConfigMapRecord | undefined>;
  /**
   * Creates the ConfigMap, or sets these data keys on it (keeping its other keys and metadata);
   * ConflictError if someone else wrote it meanwhile.
   */
  write(namespace: string, name: string, data: Record<string, string>, managedBy: string): Promise<void>;
}

/** A spec.notifications receiver, its URL and signing key read from their Secrets (or why they could not be). */
export interface NotificationTarget {
  name: string;
  type: ReceiverType;
  url?: string | undefined;
  /** The Standard Webhooks secret deliveries to it are signed with (whsec_…), if it has one. */
  signingKey?: string | undefined;
  problem?: string | undefined;
  /** The NotificationsDelivered reason for the problem: ReferenceNotAllowed, UrlNotAllowed, NotificationFailed. */
  problemReason?: string | undefined;
}

/**
 * Sends notices to the spec.notifications receivers. `send` is handed the Pending notices of the
 * status a pass wrote (the outbox; each is sent once per process), starts their delivery and returns
 * at once (a receiver never holds a pass); the outcome of the last finished delivery, with the
 * notices settled since, is read on a later pass.
 */
export interface Notifier {
  send(delivery: {
    subject: { namespace: string; name: string; uid: string };
    receivers: NotificationTarget[];
    notices: Notice[];
    timeoutMs: number;
    retries: number;
  }): void;
  outcome(namespace: string, name: string): DeliveryObservation | undefined;
}

/**
 * The PublishedKeySet of a JwtRotation with spec.issuer (crds/jwtrotation.io_publishedkeysets.yaml):
 * the public keys the issuer server serves, and what its replicas report. Public keys only.
 */
export type KeySetSpec = Required<PublishedKeySetSpec>;

/** What one issuer server replica reports serving (status.servers[]). */
export type ServerReport = ServerEntry & { fetchers: Fetcher[] };

export interface KeySetRecord {
  readonly resourceVersion: string;
  readonly spec: KeySetSpec;
  readonly servers: readonly ServerReport[];
}

export interface KeySetStore {
  get(namespace: string, name: string): Promise<KeySetRecord | undefined>;
  /** Creates the PublishedKeySet or replaces its spec; ConflictError if someone else wrote it meanwhile. */
  write(namespace: string, name: string, spec: KeySetSpec, managedBy: string): Promise<void>;
  /** The Leases (`namespace/name`) of the issuer server replicas alive now. */
  liveServers(): Promise<ReadonlySet<string>>;
}

/** What a relying party made of a probe token. Never throws; messages never carry the token. */
export interface RelyingPartyProber {
  probe(
    rp: RelyingPartySpec,
    token: string,
  ): Promise<{ outcome: 'Accepted' | 'Refused' | 'Error'; message: string }>;
}

/** Signs a short-lived probe token with a private key (PEM) of the scheme's algorithm. */
export type ProbeSigner = (
  privatePem: string,
  scheme: KeyScheme,
  claims: { issuer: string; subject: string; audience: string; extra: Readonly<Record<string, string>> },
) => Promise<string>;

/**
 * A member cluster's API server as the hub uses it (spec.clusters): the managed Secret and the targets,
 * read live. Implemented by src/adapters/kubernetes/member-clusters.ts.
 */
export interface MemberApi {
  secrets: Pick<SecretStore, 'get' | 'replace'>;
  workloads: Pick<Workloads, 'get' | 'listPods' | 'setTemplateAnnotation'>;
}

export interface MemberClusters {
  /**
   * The API of the member whose kubeconfig Secret is `secretKey` (namespace/name) at resourceVersion
   * `version`: made from `kubeconfig`, kept until that Secret changes. Throws, with a message free of
   * credentials, when the kubeconfig cannot be used or `refused` says why its server may not be asked.
   */
  client(
    secretKey: string,
    version: string,
    kubeconfig: string,
    refused: (server: string) => string | undefined,
  ): MemberApi;
  /** An error from a member's API reduced to a credential-free first line, fit for status. */
  describe(error: unknown): string;
}

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
  configMaps: ConfigMapStore;
  /** Where the operator may send requests for a JwtRotation: its Prometheus and its receivers. */
  outbound: OutboundPolicy;
  /** Where "who asked" comes from (src/rotation/audit.ts); default field-manager, unverified. */
  requesterIdentity?: RequesterIdentity | undefined;
  /** Sends notices to spec.notifications receivers; without it, notices are Events only. */
  notifier?: Notifier | undefined;
  /** With spec.issuer: the PublishedKeySets, the relying parties' probes and the probe tokens' signer. */
  keySets?: KeySetStore | undefined;
  prober?: RelyingPartyProber | undefined;
  probeSigner?: ProbeSigner | undefined;
  /**
   * Told when a status write recorded new notices, before any is handed to the notifier: for the log,
   * and for tests that stop the operator between deciding a notice and delivering it.
   */
  noticesRecorded?: ((namespace: string, name: string, notices: readonly Notice[]) => void) | undefined;
  /**
   * The same stores reading the API server, when `resources`, `secrets` and `workloads` read
   * informer caches: read when the caches have not shown the operator's own last write in time
   * (`freshness`), and for the pods of a decision that rests on them (Decision.restsOnPods).
   */
  live?: Pick<ReconcilerDeps, 'resources' | 'secrets' | 'workloads'> | undefined;
  /** Whether the caches show the operator's own writes to what this JwtRotation reads (./own-writes.ts). */
  freshness?:
    | {
        check(resource: JwtRotation): Freshness;
        /**
         * Resolves true once `check` says fresh, false if it still does not after `timeoutMs`.
         * Without it, a pass does not wait for its own writes (see Reconciler: the second look).
         */
        settled?: ((resource: JwtRotation, timeoutMs: number) => Promise<boolean>) | undefined;
      }
    | undefined;
  /**
   * Whether a status write that only reports progress may go out now; `rotating`: the JwtRotation
   * is in a rotation (any phase but Idle). main.ts: while the client-side rate limit is unused (its
   * bucket full), and for a rotating one within the progress budget (`progressAllowance`). Without
   * it, always.
   */
  progressWriteAllowed?: ((rotating: boolean) => boolean) | undefined;
  /** The member clusters of JwtRotations with spec.clusters; without it, such a JwtRotation's members are unreachable. */
  members?: MemberClusters | undefined;
  /** The operator-wide rollout budget (./rollout-budget.ts); without it, no limit. */
  budget?: Pick<RolloutBudget, 'admit' | 'settle' | 'forget'> | undefined;
}
