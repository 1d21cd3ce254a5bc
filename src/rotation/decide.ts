/**
 * The decision core: spec + what the cluster shows + gate readings + now → what to do next.
 *
 * The workload Secret is the source of truth for where a rotation stands: its shape
 * (dual-key or not) and the annotations the operator writes with every change say
 * which phase it is in, so a crash between any two writes is repaired by the next pass.
 * Status is rebuilt on every pass and carries only what the cluster cannot show
 * (history, handled requests, gate readings, a pause).
 *
 * Each pass makes at most one change of phase; actions are ordered so that doing
 * them again after a crash is harmless.
 */
import { SecretAnnotations, SecretKeys } from '../api/constants.ts';
import {
  type Condition,
  type GateReadingsStatus,
  type GateStatus,
  type HandledRequests,
  type JwtRotationStatus,
  type Phase,
  type RotationRecord,
  type TargetStatus,
  type Trigger,
  TRIGGERS,
  isOneOf,
} from '../api/types.ts';
import { mergeConditions, turnedTo, type ConditionSpec } from './conditions.ts';
import { formatDuration } from './duration.ts';
import { evaluateGate } from './gate.ts';
import type {
  Action,
  Decision,
  DecideInput,
  EventSpec,
  GateObservation,
  KeySlot,
  SecretView,
} from './model.ts';
import { pendingRequest, requestTag, type Request } from './requests.ts';
import { secretRevision } from './revision.ts';
import { resolveSpec, type PrometheusSettings, type ResolvedSpec } from './spec.ts';
import { parseInstant, toRfc3339 } from './time.ts';

/** Look again at least this often, so a missed watch event costs minutes, not days. */
export const RESYNC_MS = 10 * 60_000;
/** How many rotations status keeps in history. */
export const HISTORY_LIMIT = 10;

const ROTATION_KEYS = [SecretKeys.current, SecretKeys.next, SecretKeys.rotationDate];

interface Context {
  now: number;
  spec: ResolvedSpec;
  name: string;
  generation: number;
  prev: JwtRotationStatus;
  input: DecideInput;
  secret: SecretView;
  fp: Partial<Record<KeySlot, string>>;
  operation: string | undefined;
  operationId: string | undefined;
  trigger: Trigger | undefined;
  revision: string;
  pending: (kind: Request['kind']) => Request | undefined;
  /** Requests already present when the operator first sees the JwtRotation (see firstSightRequests). */
  firstSight: Request[];
}

/**
 * Request values already on a JwtRotation the first time the operator writes its status (a new
 * object, or one re-created or restored from git) are recorded, not acted on: only a value set
 * while the operator watches is a request. Otherwise re-creating a JwtRotation would replay the
 * last rollback or emergency rotation kept in its manifest.
 */
function firstSightRequests(input: DecideInput): Request[] {
  if (input.resource.status?.observedGeneration !== undefined) return [];
  const kinds = ['rotate', 'rollback', 'emergencyRotate'] as const;
  return kinds
    .map((kind) => pendingRequest(kind, input.resource.metadata, undefined, undefined))
    .filter((r): r is Request => r !== undefined);
}

function recordFirstSight(requests: readonly Request[]): { handled: HandledRequests; events: EventSpec[] } {
  const handled: HandledRequests = {};
  for (const r of requests) handled[r.kind] = r.value;
  const events =
    requests.length === 0
      ? []
      : [
          normal(
            'RequestsRecorded',
            `Requests present when the operator first saw this JwtRotation are recorded, not acted on: ` +
              `${requests.map((r) => requestTag(r)).join(', ')}. Set a new value to act.`,
          ),
        ];
  return { handled, events };
}

/** What one phase handler decided; finish() turns it into status and conditions. */
interface Outcome {
  phase: Phase;
  actions?: Action[];
  events?: EventSpec[];
  requeueAfterMs?: number;
  /** Fields that differ from the status rebuilt from the cluster; undefined removes a field. */
  status?: Partial<Record<keyof JwtRotationStatus, unknown>>;
  handled?: Request[];
  /** Why no progress can be made without a human or a change in the cluster. */
  stalled?: { reason: string; message: string } | undefined;
  /** What the rotation is doing now. */
  progress?: string;
}

export function decide(input: DecideInput): Decision {
  const prev = input.resource.status ?? {};
  const metadata = input.resource.metadata;
  const generation = metadata.generation ?? 0;
  const resolved = resolveSpec(input.resource.spec);
  if (!resolved.ok) {
    return invalidSpec(input, resolved.message);
  }
  const spec = resolved.spec;
  const secret = input.secret;
  const firstSight = firstSightRequests(input);
  if (secret === undefined) {
    return finishWithoutSecret(input, spec);
  }
  const ctx: Context = {
    now: input.now,
    spec,
    name: metadata.name ?? '',
    generation,
    prev,
    input,
    secret,
    fp: secret.fingerprints,
    operation: secret.annotations[SecretAnnotations.operation],
    operationId: secret.annotations[SecretAnnotations.operationId],
    trigger: asTrigger(secret.annotations[SecretAnnotations.trigger]),
    revision: secretRevision(secret),
    firstSight,
    pending: (kind) =>
      firstSight.length > 0 ? undefined : pendingRequest(kind, metadata, prev.handledRequests, secret),
  };
  const owner = secret.annotations[SecretAnnotations.managedBy];
  if (owner !== undefined && owner !== ctx.name) {
    return finish(ctx, {
      phase: 'Failed',
      stalled: {
        reason: 'SecretManagedElsewhere',
        message: `Secret ${spec.secretName} is managed by JwtRotation ${owner}; one Secret can have one JwtRotation`,
      },
    });
  }
  if (spec.suspend) {
    return finish(ctx, { phase: prev.phase ?? 'Idle', progress: 'Suspended: no action is taken' }, true);
  }
  return finish(ctx, handlePhase(ctx));
}

function handlePhase(ctx: Context): Outcome {
  const phase = observePhase(ctx);
  switch (phase.phase) {
    case 'Idle':
      return idle(ctx);
    case 'DualKey':
      return dualKey(ctx);
    case 'Monitoring':
      return monitoring(ctx);
    case 'Completing':
    case 'RollingBack':
      return rollingOut(ctx, phase.phase);
    case 'Paused':
      return paused(ctx);
    case 'Failed':
      return failed(ctx, phase.stalled);
  }
}

/** Where the rotation stands, read from the Secret's shape and annotations. */
function observePhase(
  ctx: Context,
): { phase: Exclude<Phase, 'Failed'> } | { phase: 'Failed'; stalled: { reason: string; message: string } } {
  const { fp, prev, operation, operationId } = ctx;
  if (fp.JWT_SECRET_NEW !== undefined) {
    if (fp.JWT_SECRET_CURRENT === undefined) {
      return {
        phase: 'Failed',
        stalled: {
          reason: 'SecretInconsistent',
          message: `${SecretKeys.next} is set but ${SecretKeys.current} is missing; roll back (to the backed-up original key) or start an emergency rotation`,
        },
      };
    }
    if (prev.phase === 'Paused') return { phase: 'Paused' };
    if (prev.phase === 'Monitoring' && prev.rotationStartedAt === operationId) return { phase: 'Monitoring' };
    return { phase: 'DualKey' };
  }
  if (fp.JWT_SECRET === undefined) {
    return {
      phase: 'Failed',
      stalled: {
        reason: 'KeyMissing',
        message: `Secret ${ctx.spec.secretName} has no ${SecretKeys.secret}; start an emergency rotation or roll back`,
      },
    };
  }
  const finished = prev.lastRotation?.startedAt === operationId;
  if (operationId !== undefined && !finished) {
    if (operation === 'Rollback') return { phase: 'RollingBack' };
    if (operation === 'Complete' || operation === 'Emergency') return { phase: 'Completing' };
  }
  return { phase: 'Idle' };
}

// ---------------------------------------------------------------------------------------------
// Idle

function idle(ctx: Context): Outcome {
  const { spec, secret, now, fp, input } = ctx;
  const emergency = ctx.pending('emergencyRotate');
  if (emergency) return startEmergency(ctx, emergency);

  const rollback = ctx.pending('rollback');
  if (rollback) {
    const original = input.backup?.originalFingerprint;
    if (original !== undefined && original !== fp.JWT_SECRET) {
      return startRollback(ctx, {
        midRotation: false,
        request: rollback,
        trigger: 'Rollback',
        reason: 'RollbackRequested',
      });
    }
    return {
      ...idleOutcome(ctx),
      handled: [rollback],
      events: [
        warning(
          'NothingToRollBack',
          original === undefined
            ? 'Rollback requested, but no original key is retained'
            : `Rollback requested, but the original key ${original} is already in use`,
        ),
      ],
    };
  }

  const rotate = ctx.pending('rotate');
  if (rotate) return startRotation(ctx, 'Manual', rotate);

  // Keep the Secret's non-key values and bookkeeping in line with the spec.
  const set: Record<string, { literal: string }> = {};
  if (secret.expiration !== spec.tokenTTL) set[SecretKeys.expiration] = { literal: spec.tokenTTL };
  if (secret.refreshExpiration !== spec.refreshTokenTTL) {
    set[SecretKeys.refreshExpiration] = { literal: spec.refreshTokenTTL };
  }
  const annotations: Record<string, string> = {};
  if (secret.annotations[SecretAnnotations.managedBy] === undefined) {
    annotations[SecretAnnotations.managedBy] = ctx.name;
  }
  if (parseInstant(secret.annotations[SecretAnnotations.keyCreatedAt]) === undefined) {
    annotations[SecretAnnotations.keyCreatedAt] = toRfc3339(now);
  }
  if (Object.keys(set).length > 0 || Object.keys(annotations).length > 0) {
    const updated = Object.keys(set);
    return {
      ...idleOutcome(ctx),
      actions: [updateSecret(ctx, set, [], annotations)],
      events:
        updated.length > 0
          ? [normal('SecretUpdated', `Set ${updated.join(', ')} in Secret ${spec.secretName}`)]
          : [],
      requeueAfterMs: 0,
    };
  }

  // A TTL change gives a new revision: restart the targets the operator rolled before,
  // so they read it. Targets never rolled are left alone until the next rotation.
  const stale = ctx.input.targets.filter(
    (t) => t.found && t.revision !== undefined && t.revision !== ctx.revision,
  );
  if (stale.length > 0) {
    return { ...idleOutcome(ctx), actions: [roll(ctx, stale)], requeueAfterMs: spec.pollIntervalMs };
  }

  // The retention matters only while there is a backup to delete.
  const retainedUntil = input.backup === undefined ? undefined : retentionEnd(ctx);
  if (input.backup !== undefined && retainedUntil !== undefined && now >= retainedUntil) {
    return {
      ...idleOutcome(ctx),
      actions: [{ type: 'DeleteBackup' }],
      status: { originalKeyFingerprint: undefined, originalKeyRetainedUntil: undefined },
      events: [
        normal(
          'OriginalKeyDeleted',
          `The retention of original key ${input.backup.originalFingerprint ?? ''} ended`,
        ),
      ],
      requeueAfterMs: 0,
    };
  }

  const next = nextRotationAt(ctx);
  if (now >= next) return startRotation(ctx, 'Scheduled', undefined);

  const wake = Math.min(next, retainedUntil ?? Number.POSITIVE_INFINITY) - now;
  return { ...idleOutcome(ctx), requeueAfterMs: wake };
}

function idleOutcome(ctx: Context): Outcome {
  return { phase: 'Idle', status: { nextRotationAt: toRfc3339(nextRotationAt(ctx)) } };
}

/** The schedule counts from when the key in use was made; after a rollback, from the rollback. */
function nextRotationAt(ctx: Context): number {
  const created = parseInstant(ctx.secret.annotations[SecretAnnotations.keyCreatedAt]) ?? ctx.now;
  let next = created + ctx.spec.intervalMs;
  const last = ctx.prev.lastRotation;
  const lastFinished = parseInstant(last?.finishedAt);
  if (last?.outcome !== 'Completed' && lastFinished !== undefined) {
    next = Math.max(next, lastFinished + ctx.spec.intervalMs);
  }
  return next;
}

function retentionEnd(ctx: Context): number | undefined {
  const until = parseInstant(ctx.prev.originalKeyRetainedUntil);
  if (until !== undefined) return until;
  const finished = parseInstant(ctx.prev.lastRotation?.finishedAt);
  return finished === undefined ? undefined : finished + ctx.spec.retentionMs;
}

function startRotation(ctx: Context, trigger: Trigger, request: Request | undefined): Outcome {
  const { now, spec, fp } = ctx;
  const id = toRfc3339(now);
  const date = toRfc3339(now + spec.signingDelayMs);
  const current = fp.JWT_SECRET ?? '';
  return {
    phase: 'DualKey',
    handled: request ? [request] : [],
    actions: [
      saveOriginal(ctx, current),
      updateSecret(
        ctx,
        {
          [SecretKeys.current]: { copy: 'JWT_SECRET' },
          [SecretKeys.next]: { generate: spec.secretLength },
          [SecretKeys.rotationDate]: { literal: date },
        },
        [],
        {
          [SecretAnnotations.operation]: 'Rotate',
          [SecretAnnotations.operationId]: id,
          [SecretAnnotations.trigger]: trigger,
          [SecretAnnotations.request]: request ? requestTag(request) : null,
          [SecretAnnotations.previousKey]: current,
          [SecretAnnotations.managedBy]: ctx.name,
        },
      ),
    ],
    status: {
      trigger,
      rotationStartedAt: id,
      rotationDate: date,
      nextRotationAt: undefined,
      monitoringStartedAt: undefined,
      gate: undefined,
    },
    events: [
      normal(
        'RotationStarted',
        `${trigger} rotation of Secret ${spec.secretName} started: current key ${current}; ` +
          `consumers sign with the new key from ${date}`,
      ),
    ],
    progress: 'Writing the dual-key Secret',
    requeueAfterMs: 0,
  };
}

/**
 * The runbook's emergency procedure: a new key at once, no dual-key phase. The replaced key is
 * compromised, so it is not kept for rollback: any backup is deleted first.
 */
function startEmergency(ctx: Context, request: Request): Outcome {
  const { now, spec, fp } = ctx;
  const id = toRfc3339(now);
  const actions: Action[] = ctx.input.backup === undefined ? [] : [{ type: 'DeleteBackup' }];
  actions.push(
    updateSecret(ctx, { [SecretKeys.secret]: { generate: spec.secretLength } }, ROTATION_KEYS, {
      [SecretAnnotations.operation]: 'Emergency',
      [SecretAnnotations.operationId]: id,
      [SecretAnnotations.trigger]: 'Emergency',
      [SecretAnnotations.request]: requestTag(request),
      [SecretAnnotations.previousKey]: fp.JWT_SECRET ?? null,
      [SecretAnnotations.keyCreatedAt]: id,
      [SecretAnnotations.managedBy]: ctx.name,
    }),
  );
  return {
    phase: 'Completing',
    handled: [request],
    actions,
    status: {
      trigger: 'Emergency',
      rotationStartedAt: id,
      originalKeyFingerprint: undefined,
      originalKeyRetainedUntil: undefined,
      rotationDate: undefined,
      monitoringStartedAt: undefined,
      nextRotationAt: undefined,
      gate: undefined,
    },
    events: [
      warning(
        'EmergencyRotation',
        `Emergency rotation of Secret ${spec.secretName}: key ${fp.JWT_SECRET ?? '(none)'} replaced at once; ` +
          'tokens signed with it are no longer accepted, and it is not kept for rollback',
      ),
    ],
    progress: 'Writing the new key',
    requeueAfterMs: 0,
  };
}

interface RollbackCause {
  /** True from DualKey, Monitoring, Paused and Completing: the rollback ends that rotation. */
  midRotation: boolean;
  request?: Request;
  trigger: Trigger;
  reason: 'RollbackRequested' | 'HealthGateFailed';
  detail?: string;
}

/**
 * Back to the original key, as the runbook's rollback plan says: JWT_SECRET = original,
 * the rotation variables removed, targets rolled. In the dual-key shape the original is
 * JWT_SECRET_CURRENT; after completion it comes from the backup Secret.
 */
function startRollback(ctx: Context, cause: RollbackCause): Outcome {
  const { fp, input, now, spec } = ctx;
  const dual = fp.JWT_SECRET_NEW !== undefined;
  // In the dual-key shape the original is JWT_SECRET_CURRENT; otherwise (or if CURRENT is gone) the backup.
  const fromCurrent = dual && fp.JWT_SECRET_CURRENT !== undefined;
  const original = fromCurrent ? fp.JWT_SECRET_CURRENT : input.backup?.originalFingerprint;
  if (original === undefined) {
    return {
      phase: ctx.input.resource.status?.phase ?? 'Idle',
      handled: cause.request ? [cause.request] : [],
      events: [
        warning(
          'RollbackImpossible',
          'Rollback requested, but no original key is retained (an emergency rotation does not keep the key it replaced)',
        ),
      ],
    };
  }
  const midRotation = cause.midRotation;
  const id = midRotation && ctx.operationId !== undefined ? ctx.operationId : toRfc3339(now);
  const withdrawn = dual ? fp.JWT_SECRET_NEW : fp.JWT_SECRET;
  const annotations: Record<string, string | null> = {
    [SecretAnnotations.operation]: 'Rollback',
    [SecretAnnotations.operationId]: id,
    [SecretAnnotations.request]: cause.request ? requestTag(cause.request) : null,
    [SecretAnnotations.previousKey]: withdrawn ?? null,
  };
  if (!midRotation) {
    annotations[SecretAnnotations.trigger] = cause.trigger;
    annotations[SecretAnnotations.keyCreatedAt] = input.backup?.keyCreatedAt ?? toRfc3339(now);
  }
  const because =
    cause.reason === 'HealthGateFailed' ? `the health gate failed: ${cause.detail ?? ''}` : 'requested';
  return {
    phase: 'RollingBack',
    handled: cause.request ? [cause.request] : [],
    actions: [
      updateSecret(
        ctx,
        { [SecretKeys.secret]: fromCurrent ? { copy: 'JWT_SECRET_CURRENT' } : { original: true } },
        ROTATION_KEYS,
        annotations,
      ),
    ],
    status: {
      trigger: midRotation ? ctx.trigger : cause.trigger,
      rotationStartedAt: id,
      newKeyFingerprint: withdrawn,
      rotationDate: undefined,
      monitoringStartedAt: undefined,
      nextRotationAt: undefined,
    },
    events: [
      warning(
        'RollbackStarted',
        `Rolling Secret ${spec.secretName} back to the original key ${original} (${because}); withdrawing key ${withdrawn ?? ''}`,
      ),
    ],
    progress: 'Restoring the original key',
    requeueAfterMs: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// DualKey: every target must verify the new key before anyone signs with it.

/** Requests that act during a rotation (rollback only where allowed); undefined when there is none. */
function rotationRequests(ctx: Context, rollbackAllowed = true): Outcome | undefined {
  const emergency = ctx.pending('emergencyRotate');
  if (emergency) return startEmergency(ctx, emergency);
  const rollback = rollbackAllowed ? ctx.pending('rollback') : undefined;
  if (rollback)
    return startRollback(ctx, {
      midRotation: true,
      request: rollback,
      trigger: 'Manual',
      reason: 'RollbackRequested',
    });
  return undefined;
}

/** A rotate request during a rotation is answered, not acted on. */
function ignoredRotate(ctx: Context, outcome: Outcome): Outcome {
  const rotate = ctx.pending('rotate');
  if (!rotate) return outcome;
  return {
    ...outcome,
    handled: [...(outcome.handled ?? []), rotate],
    events: [
      ...(outcome.events ?? []),
      normal(
        'RotationAlreadyInProgress',
        `Rotate request "${rotate.value}" ignored: a rotation is in progress`,
      ),
    ],
  };
}

function dualKey(ctx: Context): Outcome {
  const early = rotationRequests(ctx);
  if (early) return early;
  return ignoredRotate(ctx, dualKeyProgress(ctx));
}

function dualKeyProgress(ctx: Context): Outcome {
  const { now, spec, secret, fp } = ctx;
  // Repairs: a dual-key Secret the operator did not write, or lost its date or JWT_SECRET.
  if (ctx.operation !== 'Rotate' || ctx.operationId === undefined) {
    return {
      phase: 'DualKey',
      actions: [
        updateSecret(ctx, {}, [], {
          [SecretAnnotations.operation]: 'Rotate',
          [SecretAnnotations.operationId]: toRfc3339(now),
          [SecretAnnotations.trigger]: 'Manual',
          [SecretAnnotations.managedBy]: ctx.name,
        }),
      ],
      events: [
        normal(
          'RotationAdopted',
          `Secret ${spec.secretName} was already in the dual-key shape; continuing that rotation`,
        ),
      ],
      requeueAfterMs: 0,
    };
  }
  const date = parseInstant(secret.rotationDate);
  if (date === undefined || fp.JWT_SECRET === undefined) {
    const set: Record<string, { literal: string } | { copy: KeySlot }> = {};
    if (date === undefined) set[SecretKeys.rotationDate] = { literal: toRfc3339(now + spec.signingDelayMs) };
    if (fp.JWT_SECRET === undefined) set[SecretKeys.secret] = { copy: 'JWT_SECRET_CURRENT' };
    return {
      phase: 'DualKey',
      actions: [updateSecret(ctx, set, [], {})],
      events: [
        warning('SecretRepaired', `Restored ${Object.keys(set).join(', ')} in Secret ${spec.secretName}`),
      ],
      requeueAfterMs: 0,
    };
  }

  const breach = healthBreach(ctx);
  if (breach) return breach;

  const rollouts = targetRollouts(ctx);
  if (rollouts.toRoll.length > 0) {
    return {
      phase: 'DualKey',
      actions: [roll(ctx, rollouts.toRoll)],
      events: [normal('TargetsRolled', `Rolling ${describeTargets(rollouts.toRoll)} to read both keys`)],
      progress: `Rolling ${describeTargets(rollouts.toRoll)}`,
      requeueAfterMs: spec.pollIntervalMs,
    };
  }
  if (rollouts.complete) {
    if (now >= date) {
      return {
        phase: 'Monitoring',
        status: { monitoringStartedAt: toRfc3339(date) },
        events: [
          normal(
            'MonitoringStarted',
            `Every target verifies both keys; consumers sign with the new key ${fp.JWT_SECRET_NEW ?? ''} since ${toRfc3339(date)}`,
          ),
        ],
        progress: 'Monitoring the transition to the new key',
        requeueAfterMs: 0,
      };
    }
    return {
      phase: 'DualKey',
      progress: `Every target verifies both keys; consumers sign with the new key from ${toRfc3339(date)}`,
      requeueAfterMs: Math.min(date - now, gateInterval(ctx)),
    };
  }
  // A rollout is late. Move the date before it arrives, so no replica signs with a key
  // that another replica cannot verify yet; the new date means a new revision and a re-roll.
  const margin = Math.max(1000, spec.signingDelayMs / 5);
  if (now >= date - margin) {
    const moved = toRfc3339(now + spec.signingDelayMs);
    return {
      phase: 'DualKey',
      actions: [updateSecret(ctx, { [SecretKeys.rotationDate]: { literal: moved } }, [], {})],
      status: { rotationDate: moved },
      events: [
        warning(
          'RotationDateMoved',
          `Rollouts not complete by ${toRfc3339(date - margin)} (${rollouts.waiting}); moved the rotation date to ${moved}`,
        ),
      ],
      stalled: rollouts.stalled,
      progress: `Waiting for rollouts: ${rollouts.waiting}`,
      requeueAfterMs: 0,
    };
  }
  return {
    phase: 'DualKey',
    stalled: rollouts.stalled,
    progress: `Waiting for rollouts: ${rollouts.waiting}`,
    requeueAfterMs: Math.min(spec.pollIntervalMs, date - margin - now, gateInterval(ctx)),
  };
}

// ---------------------------------------------------------------------------------------------
// Monitoring: wait for the runbook's evidence, then complete.

function monitoring(ctx: Context): Outcome {
  const early = rotationRequests(ctx);
  if (early) return early;
  return ignoredRotate(ctx, monitoringProgress(ctx));
}

function monitoringProgress(ctx: Context): Outcome {
  const { now, spec, prev } = ctx;
  const started = parseInstant(prev.monitoringStartedAt) ?? parseInstant(ctx.secret.rotationDate) ?? now;
  const elapsed = now - started;
  const minLeft = spec.minMonitoringMs - elapsed;

  if (spec.prometheus === undefined) {
    if (minLeft <= 0)
      return startCompletion(ctx, `monitoring.minDuration (${formatDuration(spec.minMonitoringMs)}) elapsed`);
    return {
      phase: 'Monitoring',
      progress: `Monitoring for ${formatDuration(minLeft)} more (no metrics source: the gate passes on time)`,
      requeueAfterMs: minLeft,
    };
  }

  const breach = healthBreach(ctx);
  if (breach) return breach;
  const gate = currentGate(ctx);
  if (gate?.completion === 'Pass' && minLeft <= 0) {
    return startCompletion(
      ctx,
      `new-key share ${percent(gate.readings?.newKeyShare)} after ${formatDuration(elapsed)}`,
    );
  }
  if (elapsed >= spec.maxMonitoringMs) {
    if (spec.onTimeout === 'CompleteAfterTokenExpiry') {
      const date = parseInstant(ctx.secret.rotationDate) ?? started;
      const expiry = date + Math.max(spec.tokenTtlMs, spec.refreshTokenTtlMs);
      if (now >= expiry) {
        return startCompletion(ctx, 'every token signed with the old key has expired (monitoring.onTimeout)');
      }
      return {
        phase: 'Monitoring',
        progress: `maxDuration passed without a gate pass; completing when old tokens have expired at ${toRfc3339(expiry)}`,
        requeueAfterMs: Math.min(expiry - now, gateInterval(ctx)),
      };
    }
    return {
      phase: 'Monitoring',
      stalled: {
        reason: 'MonitoringTimedOut',
        message:
          `No gate pass within monitoring.maxDuration (${formatDuration(spec.maxMonitoringMs)}): ${gate?.message ?? 'no readings'}. ` +
          'Roll back, adjust the thresholds, or set monitoring.onTimeout to CompleteAfterTokenExpiry',
      },
      progress: 'Waiting for a human',
      requeueAfterMs: gateInterval(ctx),
    };
  }
  const waiting = minLeft > 0 ? `${formatDuration(minLeft)} of monitoring.minDuration left; ` : '';
  return {
    phase: 'Monitoring',
    progress: `${waiting}gate: ${gate?.message ?? 'not read yet'}`,
    requeueAfterMs: Math.min(
      gateInterval(ctx),
      minLeft > 0 ? minLeft : Number.POSITIVE_INFINITY,
      spec.maxMonitoringMs - elapsed,
    ),
  };
}

function startCompletion(ctx: Context, why: string): Outcome {
  const { fp, now, spec } = ctx;
  return {
    phase: 'Completing',
    actions: [
      updateSecret(ctx, { [SecretKeys.secret]: { copy: 'JWT_SECRET_NEW' } }, ROTATION_KEYS, {
        [SecretAnnotations.operation]: 'Complete',
        [SecretAnnotations.keyCreatedAt]: toRfc3339(now),
      }),
    ],
    status: { rotationDate: undefined, monitoringStartedAt: undefined },
    events: [
      normal(
        'CompletionStarted',
        `Completing: ${why}. JWT_SECRET is now the new key ${fp.JWT_SECRET_NEW ?? ''}; ` +
          `the dual-key variables are removed from Secret ${spec.secretName}`,
      ),
    ],
    progress: 'Writing the new key as JWT_SECRET',
    requeueAfterMs: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Completing and RollingBack: the Secret is final; roll the targets, then record the outcome.

function rollingOut(ctx: Context, phase: 'Completing' | 'RollingBack'): Outcome {
  const early = rotationRequests(ctx, phase === 'Completing');
  if (early) return early;
  return ignoredRotate(ctx, rollingOutProgress(ctx, phase));
}

function rollingOutProgress(ctx: Context, phase: 'Completing' | 'RollingBack'): Outcome {
  const { spec } = ctx;
  const rollouts = targetRollouts(ctx);
  if (rollouts.toRoll.length > 0) {
    return {
      phase,
      actions: [roll(ctx, rollouts.toRoll)],
      events: [
        normal(
          'TargetsRolled',
          `Rolling ${describeTargets(rollouts.toRoll)} to read the ${phase === 'Completing' ? 'new' : 'original'} key alone`,
        ),
      ],
      progress: `Rolling ${describeTargets(rollouts.toRoll)}`,
      requeueAfterMs: spec.pollIntervalMs,
    };
  }
  if (!rollouts.complete) {
    return {
      phase,
      stalled: rollouts.stalled,
      progress: `Waiting for rollouts: ${rollouts.waiting}`,
      requeueAfterMs: spec.pollIntervalMs,
    };
  }
  return finishOperation(ctx, phase === 'Completing' ? 'Completed' : 'RolledBack');
}

function finishOperation(ctx: Context, outcome: 'Completed' | 'RolledBack'): Outcome {
  const { now, prev, fp, spec, input } = ctx;
  const finishedAt = toRfc3339(now);
  const record = dropUndefined<RotationRecord>({
    trigger: ctx.trigger ?? prev.trigger,
    startedAt: ctx.operationId,
    finishedAt,
    outcome,
    reason: ctx.secret.annotations[SecretAnnotations.request]?.startsWith('rollback=')
      ? 'RollbackRequested'
      : outcome === 'RolledBack'
        ? 'HealthGateFailed'
        : ctx.trigger === 'Emergency'
          ? 'EmergencyRotation'
          : 'RotationCompleted',
    previousKeyFingerprint:
      ctx.secret.annotations[SecretAnnotations.previousKey] ??
      (outcome === 'Completed' ? input.backup?.originalFingerprint : prev.newKeyFingerprint),
    newKeyFingerprint: fp.JWT_SECRET,
  });
  const retainedUntil = toRfc3339(now + spec.retentionMs);
  const done = { ...ctx, prev: { ...prev, lastRotation: record } };
  return {
    phase: 'Idle',
    status: {
      lastRotation: record,
      history: [record, ...(prev.history ?? [])].slice(0, HISTORY_LIMIT),
      originalKeyRetainedUntil: input.backup === undefined ? undefined : retainedUntil,
      trigger: undefined,
      rotationStartedAt: undefined,
      newKeyFingerprint: undefined,
      gate: undefined,
      nextRotationAt: toRfc3339(nextRotationAt(done)),
    },
    events: [
      outcome === 'Completed'
        ? normal(
            'RotationCompleted',
            `Rotation completed: JWT_SECRET is key ${fp.JWT_SECRET ?? ''}; ` +
              (input.backup === undefined
                ? `the replaced key ${record.previousKeyFingerprint ?? ''} is not kept`
                : `the original key ${record.previousKeyFingerprint ?? ''} is kept for rollback until ${retainedUntil}`),
          )
        : warning('RolledBack', `Rolled back: JWT_SECRET is the original key ${fp.JWT_SECRET ?? ''} again`),
    ],
    requeueAfterMs: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Paused and Failed: wait for a human.

function paused(ctx: Context): Outcome {
  const early = rotationRequests(ctx);
  if (early) return early;
  const rotate = ctx.pending('rotate');
  if (rotate) {
    return {
      phase: 'DualKey',
      handled: [rotate],
      events: [normal('Resumed', `Resumed by rotate request "${rotate.value}"`)],
      requeueAfterMs: 0,
    };
  }
  const stalled = ctx.prev.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  return {
    phase: 'Paused',
    stalled: {
      reason: stalled?.reason ?? 'HealthGateFailed',
      message: stalled?.message ?? 'Paused by monitoring.failurePolicy',
    },
    progress: 'Paused: roll back, or set a new rotate annotation to resume',
    requeueAfterMs: gateInterval(ctx),
  };
}

function failed(ctx: Context, stalled: { reason: string; message: string }): Outcome {
  const emergency = ctx.pending('emergencyRotate');
  if (emergency) return startEmergency(ctx, emergency);
  const rollback = ctx.pending('rollback');
  if (rollback && ctx.input.backup?.originalFingerprint !== undefined) {
    return startRollback(ctx, {
      midRotation: false,
      request: rollback,
      trigger: 'Rollback',
      reason: 'RollbackRequested',
    });
  }
  if (rollback) {
    return {
      phase: 'Failed',
      stalled,
      handled: [rollback],
      events: [warning('RollbackImpossible', 'Rollback requested, but no original key is retained')],
    };
  }
  return { phase: 'Failed', stalled };
}

// ---------------------------------------------------------------------------------------------
// Gates

/** The gate status after this pass: a fresh reading evaluated, or the last one. */
function currentGate(ctx: Context): GateStatus | undefined {
  const { input, prev, spec, now } = ctx;
  const settings = spec.prometheus;
  if (settings === undefined) return undefined;
  const observation: GateObservation | undefined = input.gate;
  if (observation === undefined) return prev.gate;
  const checkedAt = toRfc3339(now);
  if (!observation.ok) {
    return dropUndefined<GateStatus>({
      ...prev.gate,
      health: 'Inconclusive',
      completion: 'Inconclusive',
      reason: observation.reason,
      message: observation.message,
      checkedAt,
    });
  }
  const baseline = prev.gate?.readings?.activeSessionsBaseline ?? observation.readings.activeSessions;
  const readings = dropUndefined<GateReadingsStatus>({
    ...observation.readings,
    activeSessionsBaseline: baseline,
  });
  const result = evaluateGate(readings, settings.thresholds);
  // JSON has no Infinity or NaN (a p99 of +Inf means every sample was above the top bucket): the
  // verdict above already counts it; status keeps only the finite readings.
  const finite = Object.fromEntries(
    Object.entries(readings).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)),
  ) as GateReadingsStatus;
  return dropUndefined<GateStatus>({
    health: result.health,
    completion: result.completion,
    reason: result.reason,
    message: result.message,
    checkedAt,
    readings: finite,
  });
}

/** The failure policy's outcome when the health gate failed on this pass's reading. */
function healthBreach(ctx: Context): Outcome | undefined {
  if (ctx.input.gate === undefined) return undefined;
  const gate = currentGate(ctx);
  if (gate?.health !== 'Fail') return undefined;
  if (ctx.spec.failurePolicy === 'Rollback') {
    const outcome = startRollback(ctx, {
      midRotation: true,
      trigger: 'Automatic',
      reason: 'HealthGateFailed',
      detail: gate.message ?? '',
    });
    return { ...outcome, status: { ...outcome.status, gate } };
  }
  return {
    phase: 'Paused',
    status: { gate },
    stalled: {
      reason: 'HealthGateFailed',
      message: `Paused by monitoring.failurePolicy: ${gate.message ?? ''}`,
    },
    events: [warning('RotationPaused', `Health gate failed: ${gate.message ?? ''}; waiting for a human`)],
    progress: 'Paused: roll back, or set a new rotate annotation to resume',
  };
}

function gateInterval(ctx: Context): number {
  return ctx.spec.prometheus?.intervalMs ?? Number.POSITIVE_INFINITY;
}

/**
 * The Prometheus settings when the shell should read the gate on this pass (the core decides how
 * often), else undefined.
 */
export function gateDue(input: Pick<DecideInput, 'now' | 'resource'>): PrometheusSettings | undefined {
  const resolved = resolveSpec(input.resource.spec);
  if (!resolved.ok || resolved.spec.prometheus === undefined || resolved.spec.suspend) return undefined;
  const status = input.resource.status;
  if (!['DualKey', 'Monitoring', 'Paused'].includes(status?.phase ?? '')) return undefined;
  const checkedAt = parseInstant(status?.gate?.checkedAt);
  const due = checkedAt === undefined || input.now - checkedAt >= resolved.spec.prometheus.intervalMs;
  return due ? resolved.spec.prometheus : undefined;
}

// ---------------------------------------------------------------------------------------------
// Targets

interface Rollouts {
  toRoll: { kind: NonNullable<DecideInput['targets'][number]['kind']>; name: string }[];
  complete: boolean;
  waiting: string;
  stalled: { reason: string; message: string } | undefined;
}

function targetRollouts(ctx: Context): Rollouts {
  const targets = ctx.input.targets;
  const missing = targets.filter((t) => !t.found);
  const toRoll = targets.filter((t) => t.found && t.revision !== ctx.revision);
  const behind = targets.filter((t) => t.found && t.revision === ctx.revision && t.rollout !== 'Complete');
  const stuck = targets.filter((t) => t.rollout === 'Stalled');
  const waiting = [...missing, ...behind].map((t) => `${t.kind} ${t.name}: ${t.message}`).join('; ');
  let stalled: Rollouts['stalled'];
  if (missing.length > 0) {
    stalled = { reason: 'TargetNotFound', message: `${describeTargets(missing)} not found in namespace` };
  } else if (stuck.length > 0) {
    stalled = {
      reason: 'RolloutStalled',
      message: stuck.map((t) => `${t.kind} ${t.name}: ${t.message}`).join('; '),
    };
  }
  return {
    toRoll,
    complete: missing.length === 0 && toRoll.length === 0 && behind.length === 0,
    waiting,
    stalled,
  };
}

function describeTargets(targets: readonly { kind: string; name: string }[]): string {
  return targets.map((t) => `${t.kind} ${t.name}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Actions

function updateSecret(
  ctx: Context,
  set: Record<string, import('./model.ts').ValueSource>,
  remove: readonly string[],
  annotations: Record<string, string | null>,
): Action {
  return {
    type: 'UpdateSecret',
    resourceVersion: ctx.secret.resourceVersion,
    set,
    remove: remove.filter((key) => key in set || hasKey(ctx.secret, key)),
    annotations,
  };
}

function hasKey(secret: SecretView, key: string): boolean {
  if (key === SecretKeys.rotationDate) return secret.rotationDate !== undefined;
  return (secret.fingerprints as Record<string, string | undefined>)[key] !== undefined;
}

function saveOriginal(ctx: Context, fingerprint: string): Action {
  return {
    type: 'SaveOriginal',
    fingerprint,
    keyCreatedAt: ctx.secret.annotations[SecretAnnotations.keyCreatedAt] ?? toRfc3339(ctx.now),
  };
}

function roll(
  ctx: Context,
  targets: readonly { kind: Rollouts['toRoll'][number]['kind']; name: string }[],
): Action {
  return {
    type: 'RollTargets',
    revision: ctx.revision,
    targets: targets.map(({ kind, name }) => ({ kind, name })),
  };
}

// ---------------------------------------------------------------------------------------------
// Status

function finish(ctx: Context, outcome: Outcome, suspended = false): Decision {
  const { prev, fp, input, spec, now } = ctx;
  const phase = outcome.phase;
  const rotating = phase !== 'Idle' && phase !== 'Failed';
  const dual = fp.JWT_SECRET_NEW !== undefined;
  const seen = recordFirstSight(ctx.firstSight);
  const handled: HandledRequests = { ...prev.handledRequests, ...seen.handled };
  for (const request of outcome.handled ?? []) handled[request.kind] = request.value;

  const gate = phase === 'Idle' ? undefined : currentGate(ctx);
  const rebuilt: Record<string, unknown> = {
    phase,
    observedGeneration: ctx.generation,
    currentKeyFingerprint: fp.JWT_SECRET,
    newKeyFingerprint: dual ? fp.JWT_SECRET_NEW : rotating ? prev.newKeyFingerprint : undefined,
    originalKeyFingerprint: input.backup?.originalFingerprint,
    originalKeyRetainedUntil: input.backup === undefined ? undefined : prev.originalKeyRetainedUntil,
    trigger: rotating ? (ctx.trigger ?? prev.trigger) : undefined,
    rotationStartedAt: rotating ? (ctx.operationId ?? prev.rotationStartedAt) : undefined,
    rotationDate: dual ? ctx.secret.rotationDate : undefined,
    monitoringStartedAt: phase === 'Monitoring' ? prev.monitoringStartedAt : undefined,
    nextRotationAt: phase === 'Idle' && !suspended ? prev.nextRotationAt : undefined,
    lastRotation: prev.lastRotation,
    history: prev.history,
    handledRequests: Object.keys(handled).length > 0 ? handled : undefined,
    gate,
    targets: input.targets.map((t) =>
      dropUndefined<TargetStatus>({
        kind: t.kind,
        name: t.name,
        revision: t.revision,
        ready: t.found && t.revision === ctx.revision && t.rollout === 'Complete',
        message:
          t.found && !t.referencesSecret
            ? `${t.message}; its pod template does not reference Secret ${spec.secretName}`
            : t.message,
      }),
    ),
    ...outcome.status,
  };
  const events = [...seen.events, ...(outcome.events ?? [])];
  const wanted = conditionsFor(ctx, outcome, suspended);
  const conditions = mergeConditions(prev.conditions, wanted, ctx.generation, now);
  events.push(...conditionEvents(prev.conditions, wanted));
  const status = dropUndefined({ ...rebuilt, conditions }) as JwtRotationStatus;
  return {
    actions: suspended ? [] : (outcome.actions ?? []),
    status,
    // Suspended: only the record of first-sight requests, nothing else happens.
    events: suspended ? seen.events : events,
    requeueAfterMs: clampRequeue(suspended ? RESYNC_MS : (outcome.requeueAfterMs ?? RESYNC_MS)),
  };
}

function conditionsFor(ctx: Context, outcome: Outcome, suspended: boolean): ConditionSpec[] {
  const { phase, stalled } = outcome;
  const idle = phase === 'Idle' && stalled === undefined && (outcome.actions ?? []).length === 0;
  const nextRotation = outcome.status?.nextRotationAt ?? ctx.prev.nextRotationAt;
  const conditions: ConditionSpec[] = [
    idle || (suspended && phase === 'Idle')
      ? {
          type: 'Ready',
          status: 'True',
          reason: suspended ? 'Suspended' : 'Idle',
          message: suspended
            ? 'Suspended: no action is taken'
            : `Key ${ctx.fp.JWT_SECRET ?? ''} in use; next rotation at ${typeof nextRotation === 'string' ? nextRotation : 'unknown'}`,
        }
      : {
          type: 'Ready',
          status: 'False',
          reason: suspended ? 'Suspended' : (stalled?.reason ?? phase),
          message: suspended
            ? 'Suspended during a rotation'
            : (stalled?.message ?? outcome.progress ?? phase),
        },
    {
      type: 'Reconciling',
      status: !suspended && !idle && phase !== 'Failed' && phase !== 'Paused' ? 'True' : 'False',
      reason: suspended ? 'Suspended' : idle ? 'Idle' : phase,
      message: outcome.progress ?? (idle ? 'No rotation in progress' : phase),
    },
    stalled && !suspended
      ? { type: 'Stalled', status: 'True', reason: stalled.reason, message: stalled.message }
      : { type: 'Stalled', status: 'False', reason: 'NotStalled', message: 'Making progress or idle' },
  ];
  if (ctx.spec.prometheus !== undefined) conditions.push(metricsCondition(ctx));
  return conditions;
}

function metricsCondition(ctx: Context): ConditionSpec {
  const observation = ctx.input.gate;
  if (observation === undefined) {
    const old = ctx.prev.conditions?.find((c) => c.type === 'MetricsAvailable');
    if (old?.status === 'True' || old?.status === 'False') {
      return {
        type: 'MetricsAvailable',
        status: old.status,
        reason: old.reason,
        message: old.message,
      };
    }
    return {
      type: 'MetricsAvailable',
      status: 'Unknown',
      reason: 'NotQueried',
      message: 'Prometheus is read during rotations',
    };
  }
  if (!observation.ok) {
    return {
      type: 'MetricsAvailable',
      status: 'False',
      reason: observation.reason,
      message: `${observation.message}; holding the phase until metrics are back`,
    };
  }
  return {
    type: 'MetricsAvailable',
    status: 'True',
    reason: 'QuerySucceeded',
    message: 'Prometheus answered every query',
  };
}

/** Events for conditions that turned bad or recovered, so `kubectl describe` tells the story once. */
function conditionEvents(
  previous: readonly Condition[] | undefined,
  wanted: readonly ConditionSpec[],
): EventSpec[] {
  const events: EventSpec[] = [];
  for (const c of wanted) {
    if (c.type === 'Stalled' && c.status === 'True' && turnedTo(previous, 'Stalled', 'True', c.reason)) {
      events.push(warning(c.reason, c.message));
    }
    if (
      c.type === 'MetricsAvailable' &&
      c.status === 'False' &&
      turnedTo(previous, 'MetricsAvailable', 'False', c.reason)
    ) {
      events.push(warning(c.reason, c.message));
    }
    if (
      c.type === 'MetricsAvailable' &&
      c.status === 'True' &&
      previous?.some((p) => p.type === c.type && p.status === 'False')
    ) {
      events.push(normal('MetricsAvailable', c.message));
    }
  }
  return events;
}

/** The previous status with first-sight requests recorded, for the paths that skip finish(). */
function withFirstSight(input: DecideInput): { prev: JwtRotationStatus; events: EventSpec[] } {
  const previous = input.resource.status ?? {};
  const seen = recordFirstSight(firstSightRequests(input));
  if (seen.events.length === 0) return { prev: previous, events: [] };
  return {
    prev: { ...previous, handledRequests: { ...previous.handledRequests, ...seen.handled } },
    events: seen.events,
  };
}

function finishWithoutSecret(input: DecideInput, spec: ResolvedSpec): Decision {
  const now = input.now;
  const { prev, events: seenEvents } = withFirstSight(input);
  const generation = input.resource.metadata.generation ?? 0;
  const name = input.resource.metadata.name ?? '';
  if (spec.suspend) {
    return {
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
  const created = toRfc3339(now);
  const conditions = mergeConditions(
    prev.conditions,
    [
      {
        type: 'Ready',
        status: 'False',
        reason: 'CreatingSecret',
        message: `Creating Secret ${spec.secretName}`,
      },
      {
        type: 'Reconciling',
        status: 'True',
        reason: 'CreatingSecret',
        message: `Creating Secret ${spec.secretName}`,
      },
      { type: 'Stalled', status: 'False', reason: 'NotStalled', message: 'Making progress or idle' },
    ],
    generation,
    now,
  );
  return {
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
          [SecretAnnotations.keyCreatedAt]: created,
        },
      },
    ],
    status: dropUndefined({ ...prev, phase: 'Idle' as const, observedGeneration: generation, conditions }),
    events: [
      ...seenEvents,
      normal('SecretCreated', `Created Secret ${spec.secretName} with a new ${spec.secretLength}-byte key`),
    ],
    requeueAfterMs: 0,
  };
}

function invalidSpec(input: DecideInput, message: string): Decision {
  const { prev, events: seenEvents } = withFirstSight(input);
  const generation = input.resource.metadata.generation ?? 0;
  const conditions = mergeConditions(
    prev.conditions,
    [
      { type: 'Ready', status: 'False', reason: 'InvalidSpec', message },
      { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message },
      { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message },
    ],
    generation,
    input.now,
  );
  const events = [
    ...seenEvents,
    ...(turnedTo(prev.conditions, 'Stalled', 'True', 'InvalidSpec') ? [warning('InvalidSpec', message)] : []),
  ];
  return {
    actions: [],
    status: { ...prev, observedGeneration: generation, conditions },
    events,
    requeueAfterMs: RESYNC_MS,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function clampRequeue(ms: number): number {
  if (!Number.isFinite(ms)) return RESYNC_MS;
  return Math.min(RESYNC_MS, Math.max(0, Math.ceil(ms)));
}

function normal(reason: string, message: string): EventSpec {
  return { type: 'Normal', reason, message };
}

function warning(reason: string, message: string): EventSpec {
  return { type: 'Warning', reason, message };
}

function percent(value: number | undefined): string {
  return value === undefined ? 'unknown' : `${(value * 100).toFixed(1)}%`;
}

function asTrigger(value: string | undefined): Trigger | undefined {
  return isOneOf(TRIGGERS, value) ? value : undefined;
}

/** A copy without undefined fields, so equal status serialises equally. */
export function dropUndefined<T extends object>(value: { [K in keyof T]?: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
