/**
 * Turns a phase's result into the Decision: status rebuilt from what the cluster shows plus what
 * the phase changed, kstatus conditions, and the Events for conditions that turned.
 */
import type { Condition, HandledRequests, JwtRotationStatus, PreflightItem } from '../api/types.ts';
import { requesterFromAnnotations, type RequestedBy } from './audit.ts';
import { mergeConditions, progressing, turnedTo, type ConditionSpec } from './conditions.ts';
import type { Context } from './context.ts';
import { SecretAnnotations } from '../api/constants.ts';
import { normal } from './events.ts';
import { recordFirstSight } from './first-sight.ts';
import { dropUndefined } from './format.ts';
import { currentGate } from './gate-policy.ts';
import type { Decision, EventSpec } from './model.ts';
import { nextReminderAt, pendingNotices } from './notices.ts';
import type { PhaseResult, StatusDraft } from './phase-result.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';
import { isSigningScheduled } from './revision.ts';
import { issuerCondition, issuerRequeueMs, issuerStatus } from './issuer.ts';
import { targetRollouts, targetStatus } from './targets.ts';
import { parseInstant, toRfc3339 } from './time.ts';

/** Look again at least this often, so a missed watch event costs minutes, not days. */
export const RESYNC_MS = 10 * 60_000;

export function toDecision(ctx: Context, result: PhaseResult, suspended = false): Decision {
  const { prev, fp, input, spec, now } = ctx;
  const phase = result.phase;
  const rotating = phase !== 'Idle' && phase !== 'Failed';
  const dual = fp.JWT_SECRET_NEW !== undefined;
  // The key a rotation brings in: JWT_SECRET_NEW while dual-key, JWT_SECRET once completing.
  const newKey = dual ? fp.JWT_SECRET_NEW : phase === 'Completing' ? fp.JWT_SECRET : undefined;
  const seen = recordFirstSight(ctx.firstSight);
  const handled: HandledRequests = { ...prev.handledRequests, ...seen.handled };
  for (const request of result.handled ?? []) handled[request.kind] = request.value;

  const rebuilt: StatusDraft = {
    phase,
    observedGeneration: ctx.generation,
    currentKeyFingerprint: fp.JWT_SECRET,
    newKeyFingerprint: dual ? fp.JWT_SECRET_NEW : rotating ? prev.newKeyFingerprint : undefined,
    originalKeyFingerprint: input.backup?.originalFingerprint,
    originalKeyRetainedUntil: input.backup === undefined ? undefined : prev.originalKeyRetainedUntil,
    trigger: rotating ? (ctx.trigger ?? prev.trigger) : undefined,
    rotationStartedAt: rotating ? (ctx.operationId ?? prev.rotationStartedAt) : undefined,
    rotationDate: dual && isSigningScheduled(ctx.secret.rotationDate) ? ctx.secret.rotationDate : undefined,
    monitoringStartedAt: phase === 'Monitoring' ? prev.monitoringStartedAt : undefined,
    nextRotationAt: phase === 'Idle' && !suspended ? prev.nextRotationAt : undefined,
    preflight: prev.preflight,
    lastRotation: prev.lastRotation,
    history: prev.history,
    notices: prev.notices,
    handledRequests: Object.keys(handled).length > 0 ? handled : undefined,
    gate: phase === 'Idle' ? undefined : currentGate(ctx),
    issuer: issuerStatus(ctx),
    oldKeyTokensValidUntil: oldKeyTokensValidUntil(ctx, phase),
    unlistedConsumers:
      input.consumers.length === 0 ? undefined : input.consumers.map(({ kind, name }) => ({ kind, name })),
    targets: ctx.targets.map((t, i) =>
      targetStatus(
        t,
        { revision: ctx.revision, newKey, now, secretName: spec.secretName },
        i >= input.targets.length ? true : undefined,
      ),
    ),
    ...result.status,
  };
  const events = [...seen.events, ...(result.events ?? [])];
  const wanted = conditionsFor(ctx, result, suspended);
  const issuerCurrent = issuerCondition(ctx, rebuilt.issuer);
  if (issuerCurrent !== undefined) wanted.push(issuerCurrent);
  const conditions = mergeConditions(prev.conditions, wanted, ctx.generation, now);
  events.push(...conditionEvents(prev.conditions, wanted));
  const status = dropUndefined<JwtRotationStatus>({ ...rebuilt, conditions });
  if (suspended) {
    // Suspended: only the record of first-sight requests, nothing else happens.
    return { actions: [], status, events: seen.events, notices: [], requeueAfterMs: RESYNC_MS };
  }
  const noticed = pendingNotices(ctx, status, result.stalled, events, operationRequester(ctx, result));
  return {
    actions: result.actions ?? [],
    status: dropUndefined<JwtRotationStatus>({ ...status, notices: noticed.records }),
    events: [...events, ...noticed.events],
    notices: noticed.notices,
    requeueAfterMs: clampRequeue(
      Math.min(
        result.requeueAfterMs ?? RESYNC_MS,
        reminderWait(ctx, status),
        issuerRequeueMs(ctx, status.issuer),
      ),
    ),
    ...(result.restsOnPods ? { restsOnPods: true as const } : {}),
    ...(result.claim ? { rolloutClaim: { ...result.claim, queued: result.queued === true } } : {}),
    ...(isRolling(ctx, result) ? { rolling: true as const } : {}),
  };
}

/** Who asked for the operation in flight: the Secret's annotations as this pass's writes leave them. */
function operationRequester(ctx: Context, result: PhaseResult): RequestedBy | undefined {
  const annotations: Record<string, string> = { ...ctx.secret.annotations };
  for (const action of result.actions ?? []) {
    if (action.type !== 'UpdateSecret' && action.type !== 'CreateSecret') continue;
    for (const [key, value] of Object.entries(action.annotations)) {
      if (value === null) delete annotations[key];
      else annotations[key] = value;
    }
  }
  return requesterFromAnnotations(annotations);
}

/**
 * In a rolling step: targets rolled or evicted by this pass, or a rotation waiting for its rollouts
 * (not a stalled one: see docs/architecture.md, "The rollout budget").
 */
function isRolling(ctx: Context, result: PhaseResult): boolean {
  if ((result.actions ?? []).some((a) => a.type === 'RollTargets' || a.type === 'EvictPod')) return true;
  // Queued, or stalled until a human acts: a place held by it would block the fleet behind it.
  if (result.queued || result.stalled !== undefined) return false;
  const phase = result.phase;
  if (phase !== 'DualKey' && phase !== 'Completing' && phase !== 'RollingBack') return false;
  return !targetRollouts(ctx).complete;
}

/** While Idle, look again when the next T-7 or T-1 reminder falls due. */
function reminderWait(ctx: Context, status: JwtRotationStatus): number {
  const next = parseInstant(status.nextRotationAt);
  if (status.phase !== 'Idle' || next === undefined) return RESYNC_MS;
  const created = parseInstant(ctx.secret.annotations[SecretAnnotations.keyCreatedAt]);
  const at = nextReminderAt(ctx.now, next, created);
  return at === undefined ? RESYNC_MS : at - ctx.now;
}

function conditionsFor(ctx: Context, result: PhaseResult, suspended: boolean): ConditionSpec[] {
  const { phase, stalled } = result;
  if (result.queued && !suspended) return [...queuedConditions(result), ...extraConditions(ctx, result)];
  const idle = phase === 'Idle' && stalled === undefined && (result.actions ?? []).length === 0;
  const nextRotation = result.status?.nextRotationAt ?? ctx.prev.nextRotationAt;
  const conditions: ConditionSpec[] = [
    idle || (suspended && phase === 'Idle')
      ? {
          type: 'Ready',
          status: 'True',
          reason: suspended ? ConditionReasons.Suspended : ConditionReasons.Idle,
          message: suspended
            ? 'Suspended: no action is taken'
            : `Key ${ctx.fp.JWT_SECRET ?? ''} in use; next rotation at ${nextRotation ?? 'unknown'}`,
        }
      : {
          type: 'Ready',
          status: 'False',
          reason: suspended ? ConditionReasons.Suspended : (stalled?.reason ?? phase),
          message: suspended ? 'Suspended during a rotation' : (stalled?.message ?? result.progress ?? phase),
        },
    {
      type: 'Reconciling',
      // kstatus reads Reconciling=True as InProgress whatever Stalled says: a stall is not progress.
      status:
        !suspended && !idle && stalled === undefined && phase !== 'Failed' && phase !== 'Paused'
          ? 'True'
          : 'False',
      reason: suspended ? ConditionReasons.Suspended : idle ? ConditionReasons.Idle : phase,
      message: result.progress ?? (idle ? 'No rotation in progress' : phase),
    },
    stalled && !suspended
      ? { type: 'Stalled', status: 'True', reason: stalled.reason, message: stalled.message }
      : {
          type: 'Stalled',
          status: 'False',
          reason: ConditionReasons.NotStalled,
          message: 'Making progress or idle',
        },
  ];
  return [...conditions, ...extraConditions(ctx, result)];
}

/** Waiting in the rollout budget's queue: in progress, not stalled; the place is in the messages. */
function queuedConditions(result: PhaseResult): ConditionSpec[] {
  return progressing(
    ConditionReasons.WaitingForRolloutBudget,
    result.progress ?? 'Waiting for the rollout budget',
  );
}

/** The conditions beyond kstatus's three: the metrics gate, the checklist, the notifications. */
function extraConditions(ctx: Context, result: PhaseResult): ConditionSpec[] {
  const conditions: ConditionSpec[] = [];
  if (ctx.spec.prometheus !== undefined) conditions.push(metricsCondition(ctx));
  const preflight = preflightCondition(result.status?.preflight ?? ctx.prev.preflight);
  if (preflight !== undefined) conditions.push(preflight);
  if (ctx.spec.notifications !== undefined) conditions.push(notificationsCondition(ctx));
  return conditions;
}

/** PreflightPassed, once a checklist ran: the result of the last one. */
function preflightCondition(items: readonly PreflightItem[] | undefined): ConditionSpec | undefined {
  if (items === undefined || items.length === 0) return undefined;
  const named = (result: string): string[] => items.filter((i) => i.result === result).map((i) => i.name);
  const failed = named('Failed');
  if (failed.length > 0) {
    return {
      type: 'PreflightPassed',
      status: 'False',
      reason: ConditionReasons.PreflightFailed,
      message: `Failed: ${failed.join(', ')} (see status.preflight)`,
    };
  }
  if (items.every((i) => i.result === 'Skipped')) {
    return {
      type: 'PreflightPassed',
      status: 'Unknown',
      reason: ConditionReasons.PreflightSkipped,
      message: 'The last rotation was an emergency rotation: the checklist was skipped',
    };
  }
  const pending = named('Pending');
  if (pending.length > 0) {
    return {
      type: 'PreflightPassed',
      status: 'Unknown',
      reason: ConditionReasons.PreflightRunning,
      message: `Preparing: ${pending.join(', ')}`,
    };
  }
  return {
    type: 'PreflightPassed',
    status: 'True',
    reason: ConditionReasons.PreflightPassed,
    message: `Passed: ${named('Passed').join(', ')}`,
  };
}

/** With spec.notifications: did the last notices reach every receiver? Kept across restarts. */
function notificationsCondition(ctx: Context): ConditionSpec {
  const delivery = ctx.input.delivery;
  if (delivery === undefined) {
    const old = ctx.prev.conditions?.find((c) => c.type === 'NotificationsDelivered');
    if (old?.status === 'True' || old?.status === 'False') {
      return { type: 'NotificationsDelivered', status: old.status, reason: old.reason, message: old.message };
    }
    return {
      type: 'NotificationsDelivered',
      status: 'Unknown',
      reason: ConditionReasons.NoNotificationsYet,
      message: 'No notice delivered since the operator started',
    };
  }
  return delivery.ok
    ? {
        type: 'NotificationsDelivered',
        status: 'True',
        reason: ConditionReasons.NotificationsSent,
        message: delivery.message,
      }
    : {
        type: 'NotificationsDelivered',
        status: 'False',
        reason: delivery.reason ?? ConditionReasons.NotificationFailed,
        message: `${delivery.message}; the rotation goes on`,
      };
}

function metricsCondition(ctx: Context): ConditionSpec {
  const observation = ctx.input.gate;
  if (observation === undefined) {
    const old = ctx.prev.conditions?.find((c) => c.type === 'MetricsAvailable');
    if (old?.status === 'True' || old?.status === 'False') {
      return { type: 'MetricsAvailable', status: old.status, reason: old.reason, message: old.message };
    }
    return {
      type: 'MetricsAvailable',
      status: 'Unknown',
      reason: ConditionReasons.NotQueried,
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
    reason: ConditionReasons.QuerySucceeded,
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
      events.push({ type: 'Warning', reason: c.reason, message: c.message });
    }
    if (
      c.type === 'MetricsAvailable' &&
      c.status === 'False' &&
      turnedTo(previous, 'MetricsAvailable', 'False', c.reason)
    ) {
      events.push({ type: 'Warning', reason: c.reason, message: c.message });
    }
    if (
      c.type === 'MetricsAvailable' &&
      c.status === 'True' &&
      previous?.some((p) => p.type === c.type && p.status === 'False')
    ) {
      events.push(normal(EventReasons.MetricsAvailable, c.message));
    }
    if (
      c.type === 'NotificationsDelivered' &&
      c.status === 'False' &&
      (turnedTo(previous, c.type, 'False') || previous?.find((p) => p.type === c.type)?.message !== c.message)
    ) {
      // NotificationFailed, or why a receiver could not be used (ReferenceNotAllowed, UrlNotAllowed).
      events.push({ type: 'Warning', reason: c.reason, message: c.message });
    }
    if (
      c.type === 'IssuerCurrent' &&
      c.status === 'False' &&
      c.reason === ConditionReasons.IssuerNotServed &&
      turnedTo(previous, c.type, 'False', c.reason)
    ) {
      events.push({ type: 'Warning', reason: c.reason, message: c.message });
    }
    if (
      c.type === 'IssuerCurrent' &&
      c.reason !== ConditionReasons.CompromisedKeyMayBeAccepted &&
      previous?.some((p) => p.type === c.type && p.reason === ConditionReasons.CompromisedKeyMayBeAccepted)
    ) {
      events.push(
        normal(
          EventReasons.CompromisedKeyDropped,
          'Every relying party holds a key set without the compromised key, and every max-age since it left the issuer has passed',
        ),
      );
    }
    if (
      c.type === 'NotificationsDelivered' &&
      c.status === 'True' &&
      previous?.some((p) => p.type === c.type && p.status === 'False')
    ) {
      events.push(normal(EventReasons.NotificationsDelivered, c.message));
    }
  }
  return events;
}

/**
 * Until when tokens signed with the old key can still be valid: the signing date plus the longer
 * TTL. Kept from the signing switch until the next rotation starts.
 */
function oldKeyTokensValidUntil(ctx: Context, phase: string): string | undefined {
  const { secret, spec, prev } = ctx;
  if (secret.fingerprints.JWT_SECRET_NEW !== undefined) {
    if (!isSigningScheduled(secret.rotationDate)) return undefined;
    const date = parseInstant(secret.rotationDate);
    return date === undefined
      ? undefined
      : toRfc3339(date + Math.max(spec.tokenTtlMs, spec.refreshTokenTtlMs));
  }
  // After completion the value stays; an emergency rotation or a rollback has no old key to wait for.
  return phase === 'Failed' || ctx.trigger === 'Emergency' || ctx.operation === 'Rollback'
    ? undefined
    : prev.oldKeyTokensValidUntil;
}

export function clampRequeue(ms: number): number {
  if (!Number.isFinite(ms)) return RESYNC_MS;
  return Math.min(RESYNC_MS, Math.max(0, Math.ceil(ms)));
}
