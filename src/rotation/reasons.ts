/**
 * Every reason the decision core writes, in one place: condition reasons (status.conditions[].reason)
 * and Event reasons. docs/operations.md documents each; a unit test fails when one is missing there.
 * The metrics gate's own reasons are GateReasons in ./gate.ts; the reasons of a failed Prometheus read
 * come from the Prometheus adapter (GateObservation.reason).
 */

/** Reasons of the Ready, Reconciling and Stalled conditions that are not a phase name. */
export const ConditionReasons = {
  /** No rotation in flight; the key in use is fine. */
  Idle: 'Idle',
  /** spec.suspend is true: nothing is done. */
  Suspended: 'Suspended',
  /** The workload Secret did not exist and is being created. */
  CreatingSecret: 'CreatingSecret',
  /** Stalled=False: making progress, or idle. */
  NotStalled: 'NotStalled',
  /** The spec cannot be resolved (normally rejected at admission already). */
  InvalidSpec: 'InvalidSpec',
  /** The Secret is managed by another JwtRotation. */
  SecretManagedElsewhere: 'SecretManagedElsewhere',
  /**
   * The Secret is not Opaque (a ServiceAccount token, a Helm release, a TLS or docker-config Secret):
   * something else owns its contents, and the operator never writes to it.
   */
  SecretTypeNotManaged: 'SecretTypeNotManaged',
  /**
   * The Secret exists, was not written by this JwtRotation and holds no key of its algorithm (a
   * database password, a Secret of another app): adopting it would overwrite what it is for and
   * restart the workloads that read it, so it is left untouched, whatever is requested.
   */
  SecretNotAdoptable: 'SecretNotAdoptable',
  /**
   * A request annotation holds a value the operator does not act on (too long, or characters other
   * than letters, digits and . _ : + @ -). Nothing is done until it is fixed.
   */
  InvalidRequest: 'InvalidRequest',
  /** JWT_SECRET_NEW is set but JWT_SECRET_CURRENT is missing (and JWT_SECRET is not the original to restore it from). */
  SecretInconsistent: 'SecretInconsistent',
  /**
   * Mid-rotation, a key was changed by hand: JWT_SECRET_CURRENT is not the original key the rotation
   * started from, or JWT_SECRET_NEW is not the key consumers were told to sign with. Nothing is
   * written or rolled until a human puts it back, rolls back or starts an emergency rotation.
   */
  KeyChangedByHand: 'KeyChangedByHand',
  /** JWT_SECRET_NEW was removed after the signing switch: consumers may have signed with it. */
  NewKeyMissing: 'NewKeyMissing',
  /** The Secret has no JWT_SECRET and is not in the dual-key shape. */
  KeyMissing: 'KeyMissing',
  /** A listed target does not exist. */
  TargetNotFound: 'TargetNotFound',
  /** A target's rollout reports ProgressDeadlineExceeded. */
  RolloutStalled: 'RolloutStalled',
  /** A Deployment target is paused (spec.paused) with its new template not rolled out: resume it. */
  TargetPaused: 'TargetPaused',
  /**
   * A StatefulSet or DaemonSet target with updateStrategy OnDelete has pods on an earlier template:
   * delete them, or set spec.rollout.replaceOnDeletePods to let the operator evict them.
   */
  TargetUpdateOnDelete: 'TargetUpdateOnDelete',
  /** A StatefulSet target's rollingUpdate.partition holds pods on the earlier template: lower it to 0. */
  TargetPartitioned: 'TargetPartitioned',
  /** The health gate failed (with failurePolicy Pause: the rotation is paused). */
  HealthGateFailed: 'HealthGateFailed',
  /** No completion-gate pass within monitoring.maxDuration, with onTimeout Wait. */
  MonitoringTimedOut: 'MonitoringTimedOut',
  /** Workloads read the Secret without being listed, and spec.unlistedConsumers is Block. */
  UnlistedConsumers: 'UnlistedConsumers',
  /**
   * Ready=False, Reconciling=True: a scheduled or requested rotation, or a completion, waits for
   * room in the operator's rollout budget (MAX_CONCURRENT_ROLLOUTS); the message gives its place.
   */
  WaitingForRolloutBudget: 'WaitingForRolloutBudget',
  /** MetricsAvailable=Unknown: Prometheus was not read yet. */
  NotQueried: 'NotQueried',
  /** MetricsAvailable=True: every query answered. */
  QuerySucceeded: 'QuerySucceeded',
  // Pre-rotation checklist (status.preflight, condition PreflightPassed).
  /** PreflightPassed=True: every item of the last checklist passed (or did not apply). */
  PreflightPassed: 'PreflightPassed',
  /** PreflightPassed=False, Stalled=True: an item failed; the rotation waits and the checklist runs again. */
  PreflightFailed: 'PreflightFailed',
  /** PreflightPassed=Unknown: an item is being prepared or read (rollback copy, metrics); one more pass. */
  PreflightRunning: 'PreflightRunning',
  /** PreflightPassed=Unknown: an emergency rotation skipped the checklist. */
  PreflightSkipped: 'PreflightSkipped',
  // Communication plan (issue 11): the NotificationsDelivered condition.
  /** NotificationsDelivered=True: the last notices reached every receiver. */
  NotificationsSent: 'NotificationsSent',
  /** NotificationsDelivered=False: a receiver did not take the last notices (after its retries). */
  NotificationFailed: 'NotificationFailed',
  /** NotificationsDelivered=Unknown: no notice was delivered since the operator started. */
  NoNotificationsYet: 'NoNotificationsYet',
  // The OIDC issuer (issue 26): the IssuerCurrent condition.
  /** IssuerCurrent=True: every live server replica serves the latest key set; every relying party accepts the key in use. */
  IssuerCurrent: 'IssuerCurrent',
  /** IssuerCurrent=False (and Stalled=True before a signing switch): no issuer server replica is alive. */
  IssuerNotServed: 'IssuerNotServed',
  /** IssuerCurrent=False: a live server replica does not serve the latest key set yet. */
  IssuerPropagating: 'IssuerPropagating',
  /** IssuerCurrent=False: a relying party has not accepted a probe signed with the key it must accept now. */
  RelyingPartyBehind: 'RelyingPartyBehind',
  /** IssuerCurrent=False: after an emergency rotation, a verifier may still accept the compromised key. */
  CompromisedKeyMayBeAccepted: 'CompromisedKeyMayBeAccepted',
} as const;

export type ConditionReason = (typeof ConditionReasons)[keyof typeof ConditionReasons];

/** Why the rotation cannot go on without a human or a change in the cluster (Stalled=True). */
export const STALLED_REASONS = [
  ConditionReasons.InvalidSpec,
  ConditionReasons.SecretManagedElsewhere,
  ConditionReasons.SecretTypeNotManaged,
  ConditionReasons.SecretNotAdoptable,
  ConditionReasons.InvalidRequest,
  ConditionReasons.SecretInconsistent,
  ConditionReasons.KeyChangedByHand,
  ConditionReasons.NewKeyMissing,
  ConditionReasons.KeyMissing,
  ConditionReasons.TargetNotFound,
  ConditionReasons.RolloutStalled,
  ConditionReasons.TargetPaused,
  ConditionReasons.TargetUpdateOnDelete,
  ConditionReasons.TargetPartitioned,
  ConditionReasons.HealthGateFailed,
  ConditionReasons.MonitoringTimedOut,
  ConditionReasons.UnlistedConsumers,
  ConditionReasons.PreflightFailed,
  ConditionReasons.IssuerNotServed,
] as const;

export type StalledReason = (typeof STALLED_REASONS)[number];

/** Reasons of the Events the core writes (besides a Stalled or MetricsAvailable reason turning on). */
export const EventReasons = {
  /** The Secret was missing and was created with a new key. */
  SecretCreated: 'SecretCreated',
  /**
   * The Secret, which held keys (status shows them), was deleted and nothing kept them (no rotation in
   * flight with a backup): created again with a new key; tokens the deleted keys signed stop verifying.
   */
  SecretRecreated: 'SecretRecreated',
  /** The TTL values were written to the Secret. */
  SecretUpdated: 'SecretUpdated',
  /** Request values present when the operator first saw the JwtRotation were recorded, not acted on. */
  RequestsRecorded: 'RequestsRecorded',
  /** The dual-key Secret was written. */
  RotationStarted: 'RotationStarted',
  /** A dual-key Secret without the operator's bookkeeping was adopted. */
  RotationAdopted: 'RotationAdopted',
  /** A missing rotation value was restored in the Secret. */
  SecretRepaired: 'SecretRepaired',
  /** JWT_SECRET_NEW was changed by hand before the signing switch: the new value is published instead. */
  KeyChangedByHand: 'KeyChangedByHand',
  /** The backup Secret was deleted mid-rotation and written again with the original key. */
  BackupRestored: 'BackupRestored',
  /**
   * The managed Secret was deleted mid-rotation: recreated with the original key from the backup and the
   * targets rolled back to it (also the outcome's reason in status.lastRotation).
   */
  SecretRestoredFromBackup: 'SecretRestoredFromBackup',
  /** A pod of an OnDelete target was evicted so it comes back on the new template (spec.rollout.replaceOnDeletePods). */
  PodEvicted: 'PodEvicted',
  /** The Eviction API refused to evict a pod of an OnDelete target (its PodDisruptionBudget): tried again later. */
  EvictionRefused: 'EvictionRefused',
  /** Targets were rolled onto the Secret's current revision. */
  TargetsRolled: 'TargetsRolled',
  /** Every pod verifies the new key: the signing date was set. */
  SigningScheduled: 'SigningScheduled',
  /** Every target verifies both keys and the rotation date came. */
  MonitoringStarted: 'MonitoringStarted',
  /** JWT_SECRET is now the new key. */
  CompletionStarted: 'CompletionStarted',
  /** Completion dropped the old key while tokens it signed may still be valid. */
  OldKeyTokensOutstanding: 'OldKeyTokensOutstanding',
  /** Every target runs the new key alone. */
  RotationCompleted: 'RotationCompleted',
  /** The key was replaced at once, without a dual-key phase. */
  EmergencyRotation: 'EmergencyRotation',
  /** Rolling back to the original key. */
  RollbackStarted: 'RollbackStarted',
  /** The rollback finished. */
  RolledBack: 'RolledBack',
  /** Rollback requested, but the original key is already the key in use (e.g. right after a rollback). */
  NothingToRollBack: 'NothingToRollBack',
  /** Rollback requested, but no original key is retained: retention ended, an emergency rotation, a deleted backup. */
  RollbackImpossible: 'RollbackImpossible',
  /** A requested rotation waits for room in the rollout budget; the message gives its place in the queue. */
  RotationQueued: 'RotationQueued',
  /** A rotate request arrived during a rotation and was ignored. */
  RotationAlreadyInProgress: 'RotationAlreadyInProgress',
  /** The health gate failed with failurePolicy Pause. */
  RotationPaused: 'RotationPaused',
  /** A rotate request resumed a paused rotation. */
  Resumed: 'Resumed',
  /** rollback.retention ended; the backup Secret was deleted. */
  OriginalKeyDeleted: 'OriginalKeyDeleted',
  /** Prometheus answers again after failing. */
  MetricsAvailable: 'MetricsAvailable',
  /** The spec turned invalid. */
  InvalidSpec: 'InvalidSpec',
  // Pre-rotation checklist.
  /** The set of failed checklist items changed while the start was blocked (the first failure: Stalled's Event). */
  PreflightFailed: 'PreflightFailed',
  /** The checklist passed after having failed: the rotation starts. */
  PreflightPassed: 'PreflightPassed',
  /** An emergency rotation skipped the checklist. */
  PreflightSkipped: 'PreflightSkipped',
  // Communication plan and audit (issue 11).
  /** T-7 notice: a scheduled rotation starts in 7 days. */
  RotationUpcoming: 'RotationUpcoming',
  /** T-1 notice: final reminder, a scheduled rotation starts in 1 day. */
  RotationFinalReminder: 'RotationFinalReminder',
  /** A spec.notifications receiver did not take a notice (after its retries). */
  NotificationFailed: 'NotificationFailed',
  /** Notices reach every receiver again after a failure. */
  NotificationsDelivered: 'NotificationsDelivered',
  /** Emergency rotation: the audit entry; block the compromised key's fingerprint and audit recent usage. */
  CompromisedKey: 'CompromisedKey',
  /** After an emergency rotation: every relying party holds a set without the compromised key, and max-age has passed. */
  CompromisedKeyDropped: 'CompromisedKeyDropped',
  /** spec.clusters: a member holds the step in flight (unreachable, or not where the step needs it); names it. */
  MembersHeld: 'MembersHeld',
  /** spec.clusters: every member is reachable and where the step in flight needs it again. */
  MembersCaughtUp: 'MembersCaughtUp',
} as const;

export type EventReason = (typeof EventReasons)[keyof typeof EventReasons];
