/**
 * Turns a phase's result into the Decision: status rebuilt from what the cluster shows plus what
 * the phase changed, kstatus conditions, and the Events for conditions that turned.
 */
import type { Condition, HandledRequests, JwtRotationStatus, TargetStatus } from '../api/types.ts';
import { mergeConditions, turnedTo, type ConditionSpec } from './conditions.ts';
import type { Context } from './context.ts';
import { normal } from './events.ts';
import { recordFirstSight } from './first-sight.ts';
import { dropUndefined } from './format.ts';
import { currentGate } from './gate-policy.ts';
import type { Decision, EventSpec } from './model.ts';
import type { PhaseResult, StatusDraft } from './phase-result.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';

/** Look again at least this often, so a missed watch event costs minutes, not days. */
export const RESYNC_MS = 10 * 60_000;

export function toDecision(ctx: Context, result: PhaseResult, suspended = false): Decision {
  const { prev, fp, input, spec, now } = ctx;
  const phase = result.phase;
  const rotating = phase !== 'Idle' && phase !== 'Failed';
  const dual = fp.JWT_SECRET_NEW !== undefined;
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
    rotationDate: dual ? ctx.secret.rotationDate : undefined,
    monitoringStartedAt: phase === 'Monitoring' ? prev.monitoringStartedAt : undefined,
    nextRotationAt: phase === 'Idle' && !suspended ? prev.nextRotationAt : undefined,
    lastRotation: prev.lastRotation,
    history: prev.history,
    handledRequests: Object.keys(handled).length > 0 ? handled : undefined,
    gate: phase === 'Idle' ? undefined : currentGate(ctx),
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
    ...result.status,
  };
  const events = [...seen.events, ...(result.events ?? [])];
  const wanted = conditionsFor(ctx, result, suspended);
  const conditions = mergeConditions(prev.conditions, wanted, ctx.generation, now);
  events.push(...conditionEvents(prev.conditions, wanted));
  return {
    actions: suspended ? [] : (result.actions ?? []),
    status: dropUndefined<JwtRotationStatus>({ ...rebuilt, conditions }),
    // Suspended: only the record of first-sight requests, nothing else happens.
    events: suspended ? seen.events : events,
    requeueAfterMs: clampRequeue(suspended ? RESYNC_MS : (result.requeueAfterMs ?? RESYNC_MS)),
  };
}

function conditionsFor(ctx: Context, result: PhaseResult, suspended: boolean): ConditionSpec[] {
  const { phase, stalled } = result;
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
      status: !suspended && !idle && phase !== 'Failed' && phase !== 'Paused' ? 'True' : 'False',
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
  if (ctx.spec.prometheus !== undefined) conditions.push(metricsCondition(ctx));
  return conditions;
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
  }
  return events;
}

export function clampRequeue(ms: number): number {
  if (!Number.isFinite(ms)) return RESYNC_MS;
  return Math.min(RESYNC_MS, Math.max(0, Math.ceil(ms)));
}
