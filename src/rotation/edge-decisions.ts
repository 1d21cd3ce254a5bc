/**
 * The decisions made before any phase applies: a spec that cannot be resolved, and a Secret
 * that does not exist yet (created with a new key).
 */
import { SecretAnnotations, SecretKeys, keySlotName } from '../api/constants.ts';
import type { JwtRotationStatus } from '../api/types.ts';
import { mergeConditions, progressing, turnedTo } from './conditions.ts';
import { normal, warning } from './events.ts';
import { withFirstSight } from './first-sight.ts';
import { dropUndefined } from './format.ts';
import type { DecideInput, Decision, EventSpec } from './model.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';
import type { ResolvedSpec } from './spec.ts';
import { RESYNC_MS } from './status.ts';
import { toRfc3339 } from './time.ts';

export function createSecretDecision(input: DecideInput, spec: ResolvedSpec): Decision {
  const now = input.now;
  const { prev, events: seenEvents } = withFirstSight(input);
  const generation = input.resource.metadata.generation ?? 0;
  const name = input.resource.metadata.name ?? '';
  if (spec.suspend) {
    return {
      notices: [],
      actions: [],
      status: dropUndefined<JwtRotationStatus>({
        ...prev,
        observedGeneration: generation,
        nextRotationAt: undefined,
      }),
      events: seenEvents,
      requeueAfterMs: RESYNC_MS,
    };
  }
  const restored = restoreFromBackup(input, spec, prev, seenEvents);
  if (restored) return restored;
  const creating = `Creating Secret ${spec.secretName}`;
  const conditions = mergeConditions(
    prev.conditions,
    progressing(ConditionReasons.CreatingSecret, creating),
    generation,
    now,
  );
  return {
    notices: [],
    actions: [
      {
        type: 'CreateSecret',
        data: {
          [SecretKeys.secret]: { generate: spec.secretLength },
          [SecretKeys.expiration]: { literal: spec.tokenTTL },
          [SecretKeys.refreshExpiration]: { literal: spec.refreshTokenTTL },
        },
        annotations: {
          [SecretAnnotations.managedBy]: name,
          [SecretAnnotations.operation]: 'Create',
          [SecretAnnotations.trigger]: 'Initial',
          [SecretAnnotations.keyCreatedAt]: toRfc3339(now),
        },
      },
    ],
    status: dropUndefined<JwtRotationStatus>({
      ...prev,
      phase: 'Idle',
      observedGeneration: generation,
      conditions,
    }),
    events: [...seenEvents, createdEvent(spec, prev)],
    requeueAfterMs: 0,
  };
}

/**
 * SecretCreated for a first Secret; a Warning SecretRecreated when status shows the Secret held keys
 * before (it was deleted and nothing kept them): tokens they signed stop verifying as the targets roll.
 */
function createdEvent(spec: ResolvedSpec, prev: JwtRotationStatus): EventSpec {
  const created = `Created Secret ${spec.secretName} with a new ${describeNewKey(spec)}`;
  const lost = [prev.currentKeyFingerprint, prev.newKeyFingerprint].filter((k) => k !== undefined);
  if (lost.length === 0) return normal(EventReasons.SecretCreated, created);
  return warning(
    EventReasons.SecretRecreated,
    `Secret ${spec.secretName} was deleted and no copy of its keys is kept. ${created}; the targets are rolled onto it, ` +
      `so tokens signed with key ${lost.join(' or ')} stop verifying`,
  );
}

/**
 * The Secret was deleted while a rotation was in flight (status says so) and the backup still holds
 * the original key: recreate the Secret with that key, as a rollback, rather than with a new key that
 * no token verifies against. The targets are then rolled back to it (RollingBack) and the outcome is
 * recorded as RolledBack with reason SecretRestoredFromBackup. Tokens signed with the rotation's new
 * key after the signing switch no longer verify once a pod restarts; the Event says so.
 */
function restoreFromBackup(
  input: DecideInput,
  spec: ResolvedSpec,
  prev: JwtRotationStatus,
  seenEvents: Decision['events'],
): Decision | undefined {
  const backup = input.backup;
  // A rotation in flight: a phase other than Idle that names the rotation's start.
  if (
    backup?.originalFingerprint === undefined ||
    prev.phase === 'Idle' ||
    prev.rotationStartedAt === undefined
  ) {
    return undefined;
  }
  const now = input.now;
  const generation = input.resource.metadata.generation ?? 0;
  const name = input.resource.metadata.name ?? '';
  const id = prev.rotationStartedAt ?? toRfc3339(now);
  const withdrawn = prev.newKeyFingerprint;
  const message =
    `Secret ${spec.secretName} was deleted during the rotation; recreated with the original key ` +
    `${backup.originalFingerprint} from the backup Secret, and the targets are rolled back to it` +
    (withdrawn === undefined
      ? ''
      : `. Tokens signed with the new key ${withdrawn} verify only on pods that still hold it`);
  const conditions = mergeConditions(
    prev.conditions,
    progressing(EventReasons.SecretRestoredFromBackup, message),
    generation,
    now,
  );
  return {
    notices: [],
    actions: [
      {
        type: 'CreateSecret',
        data: {
          [SecretKeys.secret]: { original: true },
          [SecretKeys.expiration]: { literal: spec.tokenTTL },
          [SecretKeys.refreshExpiration]: { literal: spec.refreshTokenTTL },
        },
        annotations: dropUndefined<Record<string, string>>({
          [SecretAnnotations.managedBy]: name,
          [SecretAnnotations.operation]: 'Rollback',
          [SecretAnnotations.operationId]: id,
          [SecretAnnotations.trigger]: 'Rollback',
          [SecretAnnotations.previousKey]: withdrawn,
          [SecretAnnotations.keyCreatedAt]: backup.keyCreatedAt ?? toRfc3339(now),
        }),
      },
    ],
    status: dropUndefined<JwtRotationStatus>({
      ...prev,
      phase: 'RollingBack',
      observedGeneration: generation,
      rotationStartedAt: id,
      rotationDate: undefined,
      monitoringStartedAt: undefined,
      conditions,
    }),
    events: [...seenEvents, warning(EventReasons.SecretRestoredFromBackup, message)],
    requeueAfterMs: 0,
  };
}

export function invalidSpecDecision(input: DecideInput, message: string): Decision {
  const { prev, events: seenEvents } = withFirstSight(input);
  const generation = input.resource.metadata.generation ?? 0;
  const reason = ConditionReasons.InvalidSpec;
  const conditions = mergeConditions(
    prev.conditions,
    [
      { type: 'Ready', status: 'False', reason, message },
      { type: 'Reconciling', status: 'False', reason, message },
      { type: 'Stalled', status: 'True', reason, message },
    ],
    generation,
    input.now,
  );
  const turned = turnedTo(prev.conditions, 'Stalled', 'True', reason);
  return {
    notices: [],
    actions: [],
    status: { ...prev, observedGeneration: generation, conditions },
    events: [...seenEvents, ...(turned ? [warning(EventReasons.InvalidSpec, message)] : [])],
    requeueAfterMs: RESYNC_MS,
  };
}

/** The key a new Secret gets, for the Event: its size for HMAC, its algorithm otherwise. */
function describeNewKey(spec: ResolvedSpec): string {
  if (spec.algorithm.startsWith('HS')) return `${spec.secretLength}-byte key`;
  const kind = spec.algorithm === 'RS256' ? `RS256 (RSA ${spec.rsaKeySize}-bit)` : spec.algorithm;
  return `${kind} private key in ${keySlotName(spec.algorithm, SecretKeys.secret)}, its public key published in the JWKS`;
}
