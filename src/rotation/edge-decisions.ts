/**
 * The decisions made before any phase applies: a spec that cannot be resolved, and a Secret
 * that does not exist yet (created with a new key).
 */
import { SecretAnnotations, SecretKeys, keySlotName } from '../api/constants.ts';
import type { JwtRotationStatus } from '../api/types.ts';
import { mergeConditions, turnedTo } from './conditions.ts';
import { normal, warning } from './events.ts';
import { withFirstSight } from './first-sight.ts';
import { dropUndefined } from './format.ts';
import type { DecideInput, Decision } from './model.ts';
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
  const creating = `Creating Secret ${spec.secretName}`;
  const conditions = mergeConditions(
    prev.conditions,
    [
      { type: 'Ready', status: 'False', reason: ConditionReasons.CreatingSecret, message: creating },
      { type: 'Reconciling', status: 'True', reason: ConditionReasons.CreatingSecret, message: creating },
      {
        type: 'Stalled',
        status: 'False',
        reason: ConditionReasons.NotStalled,
        message: 'Making progress or idle',
      },
    ],
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
    events: [
      ...seenEvents,
      normal(
        EventReasons.SecretCreated,
        `Created Secret ${spec.secretName} with a new ${describeNewKey(spec)}`,
      ),
    ],
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
