/**
 * How the metrics gate steers a rotation: when the shell reads Prometheus, what this pass's
 * reading means for status, and what the failure policy does on a health breach.
 */
import type { GateReadingsStatus, GateStatus } from '../api/types.ts';
import type { Context } from './context.ts';
import { warning } from './events.ts';
import { dropUndefined } from './format.ts';
import { evaluateGate } from './gate.ts';
import type { DecideInput } from './model.ts';
import { startRollback } from './operations/start-rollback.ts';
import type { PhaseResult } from './phase-result.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';
import { resolveSpec, type PrometheusSettings } from './spec.ts';
import { targetRollouts } from './targets.ts';
import { parseInstant, toRfc3339 } from './time.ts';

/** How often the gate is read, or Infinity without a metrics source. */
export function gateInterval(ctx: Context): number {
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
  // In Idle, only for the pre-rotation checklist: while it waits for a reading or has failed.
  const checklistWaits =
    status?.phase === 'Idle' &&
    (status.preflight ?? []).some((i) => i.result === 'Pending' || i.result === 'Failed');
  if (checklistWaits) return resolved.spec.prometheus;
  if (!['DualKey', 'Monitoring', 'Paused'].includes(status?.phase ?? '')) return undefined;
  const checkedAt = parseInstant(status?.gate?.checkedAt);
  const due = checkedAt === undefined || input.now - checkedAt >= resolved.spec.prometheus.intervalMs;
  return due ? resolved.spec.prometheus : undefined;
}

/**
 * The gate status after this pass: a fresh reading evaluated, or the last one, with the record of
 * when the targets last settled brought up to date on every pass (a roll may fall between readings).
 *
 * Active sessions are compared only between rolls, from one metrics window after the last roll
 * settled: consumers that count sessions in memory start from zero when they restart, and a metrics
 * source reports the replaced pods for a while after they are gone. The first reading from then on
 * is the baseline, so restarted pods never count as lost sessions and a reading inflated by pods on
 * their way out never becomes the baseline.
 */
export function currentGate(ctx: Context): GateStatus | undefined {
  const { input, prev, spec, now } = ctx;
  const settings = spec.prometheus;
  if (settings === undefined) return undefined;
  const rolling = !targetRollouts(ctx).complete;
  const settledAt = rolling ? undefined : (prev.gate?.rolloutSettledAt ?? toRfc3339(now));
  const settledMs = parseInstant(settledAt);
  const comparable = settledMs !== undefined && now - settledMs >= settings.windowMs;
  const keptBaseline = comparable ? prev.gate?.readings?.activeSessionsBaseline : undefined;
  const kept =
    prev.gate === undefined
      ? undefined
      : dropUndefined<GateStatus>({
          ...prev.gate,
          rolloutSettledAt: settledAt,
          readings:
            prev.gate.readings === undefined
              ? undefined
              : dropUndefined<GateReadingsStatus>({
                  ...prev.gate.readings,
                  activeSessionsBaseline: keptBaseline,
                }),
        });
  const observation = input.gate;
  if (observation === undefined) {
    // Before the first reading there is no gate status; the first reading then starts the clock.
    return kept;
  }
  const checkedAt = toRfc3339(now);
  if (!observation.ok) {
    return dropUndefined<GateStatus>({
      ...kept,
      health: 'Inconclusive',
      completion: 'Inconclusive',
      reason: observation.reason,
      message: observation.message,
      checkedAt,
      rolloutSettledAt: settledAt,
    });
  }
  const readings = dropUndefined<GateReadingsStatus>({
    ...observation.readings,
    activeSessionsBaseline: comparable ? (keptBaseline ?? observation.readings.activeSessions) : undefined,
  });
  const result = evaluateGate(readings, settings.thresholds, { sessionsComparable: comparable });
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
    rolloutSettledAt: settledAt,
    readings: finite,
  });
}

/** The failure policy's result when the health gate failed on this pass's reading. */
export function healthBreach(ctx: Context): PhaseResult | undefined {
  if (ctx.input.gate === undefined) return undefined;
  const gate = currentGate(ctx);
  if (gate?.health !== 'Fail') return undefined;
  if (ctx.spec.failurePolicy === 'Rollback') {
    const result = startRollback(ctx, {
      midRotation: true,
      trigger: 'Automatic',
      reason: 'HealthGateFailed',
      detail: gate.message ?? '',
    });
    return { ...result, status: { ...result.status, gate } };
  }
  return {
    phase: 'Paused',
    status: { gate },
    stalled: {
      reason: ConditionReasons.HealthGateFailed,
      message: `Paused by monitoring.failurePolicy: ${gate.message ?? ''}`,
    },
    events: [
      warning(EventReasons.RotationPaused, `Health gate failed: ${gate.message ?? ''}; waiting for a human`),
    ],
    progress: 'Paused: roll back, or set a new rotate annotation to resume',
  };
}
