/**
 * The metrics gate: turns Prometheus readings and thresholds into a verdict. Pure: no I/O, no clock.
 *
 * Two questions, answered separately:
 * - health: is the rotation hurting traffic? Fail only on a real breach measured over enough samples.
 * - completion: have enough clients moved to the new key to drop the old one?
 * Missing data never yields Pass or Fail: it is Inconclusive, so a Prometheus hiccup neither completes nor
 * aborts a rotation.
 */
import { SPEC_DEFAULTS } from '../api/types.ts';
import { percent } from './format.ts';
import type { GateReadings, GateResult, GateThresholds, GateVerdict } from './gate-types.ts';

/**
 * Runbook defaults ("Monitoring During Rotation" and Phase 3), as the CRD declares them: new-key share 95%,
 * auth success 99.5%, p99 50 ms, errors 0.1%, a session drop of at most a fifth (the runbook's "no unexpected
 * drops"), and at least 100 validations in the window (below that, rates are noise: 1 error in 10 is 10%).
 * Every bound is inclusive: a reading exactly at a threshold passes. The runbook writes "<50ms p99" and
 * "<0.1%"; inclusive max bounds differ only at the exact boundary, and keep `maxErrorRate: 0` meaning
 * "no errors tolerated" rather than "always fail".
 */
export const DEFAULT_THRESHOLDS: Readonly<GateThresholds> = Object.freeze({
  ...SPEC_DEFAULTS.monitoring.prometheus.thresholds,
});

/** Why the gate answered as it did. */
export const GateReasons = {
  /** Every check passed: health is Pass and the new-key share is reached. */
  AllChecksPassed: 'AllChecksPassed',
  /** A query returned no sample (or NaN), or no active-sessions baseline was recorded. */
  MetricsMissing: 'MetricsMissing',
  /** Fewer validations than minSamples in the window: rates are not trustworthy yet. */
  TooFewSamples: 'TooFewSamples',
  /** Successful validations fell below minAuthSuccessRate. */
  AuthSuccessRateLow: 'AuthSuccessRateLow',
  /** p99 validation latency rose above maxValidationLatencyP99Seconds. */
  ValidationLatencyHigh: 'ValidationLatencyHigh',
  /** Validations that errored rose above maxErrorRate. */
  ErrorRateHigh: 'ErrorRateHigh',
  /** Active sessions fell by more than maxActiveSessionDrop against the baseline. */
  ActiveSessionsDropped: 'ActiveSessionsDropped',
  /** Fewer than minNewKeyShare of successful validations used the new key: not ready to complete. */
  NewKeyShareLow: 'NewKeyShareLow',
} as const;

type GateReason = (typeof GateReasons)[keyof typeof GateReasons];

/** What a check objects to. A check that is satisfied returns undefined. */
interface Finding {
  verdict: Exclude<GateVerdict, 'Pass'>;
  reason: GateReason;
  message: string;
}

type Check = (readings: GateReadings, thresholds: GateThresholds) => Finding | undefined;

/** Checks whose failure means there is nothing trustworthy to judge; they gate every other check. */
const sampleChecks: readonly Check[] = [hasSampleCount, hasEnoughSamples];

/** Health checks, in the order their reasons are reported. */
const healthChecks: readonly Check[] = [
  authSuccessRateHolds,
  validationLatencyHolds,
  errorRateHolds,
  activeSessionsHold,
];

/** Completion checks: only the share, since health is folded in separately. */
const completionChecks: readonly Check[] = [newKeyShareReached];

export interface GateOptions {
  /**
   * False while a rolling restart is in progress: consumers that count sessions in memory report
   * fewer after a restart, so the drop check compares only readings taken between rolls.
   */
  sessionsComparable?: boolean;
}

export function evaluateGate(
  readings: GateReadings,
  thresholds: GateThresholds,
  options: GateOptions = {},
): GateResult {
  const sampleFinding = firstFinding(sampleChecks, readings, thresholds);
  if (sampleFinding !== undefined) {
    // Without enough samples neither health nor completion can be judged.
    return {
      health: sampleFinding.verdict,
      completion: sampleFinding.verdict,
      reason: sampleFinding.reason,
      message: `${sampleFinding.message}.`,
      readings,
    };
  }

  const checks =
    options.sessionsComparable === false
      ? healthChecks.filter((c) => c !== activeSessionsHold)
      : healthChecks;
  const healthFindings = allFindings(checks, readings, thresholds);
  const completionFindings = allFindings(completionChecks, readings, thresholds);
  const health = worstVerdict(healthFindings);
  // An unhealthy rotation must not complete, even with the share reached; an Inconclusive health (say, a
  // consumer without the latency histogram) does not block completion, which is about the share.
  const completion = health === 'Fail' ? 'Fail' : worstVerdict(completionFindings);

  const findings = [...healthFindings, ...completionFindings];
  const primary = findings.find((f) => f.verdict === 'Fail') ?? findings[0];
  if (primary === undefined) {
    return {
      health,
      completion,
      reason: GateReasons.AllChecksPassed,
      message: passMessage(readings),
      readings,
    };
  }
  const others = findings.filter((f) => f !== primary).map((f) => f.reason);
  const also = others.length > 0 ? ` (also: ${others.join(', ')})` : '';
  return { health, completion, reason: primary.reason, message: `${primary.message}${also}.`, readings };
}

// ---- checks -------------------------------------------------------------------------------------------------

function hasSampleCount(r: GateReadings): Finding | undefined {
  return isMissing(r.samples) ? missing('the validation count (samples)') : undefined;
}

function hasEnoughSamples(r: GateReadings, t: GateThresholds): Finding | undefined {
  const samples = r.samples ?? 0;
  if (samples >= t.minSamples) return undefined;
  return {
    verdict: 'Inconclusive',
    reason: GateReasons.TooFewSamples,
    message: `Only ${count(samples)} validations in the window, fewer than the ${count(t.minSamples)} needed to judge`,
  };
}

function authSuccessRateHolds(r: GateReadings, t: GateThresholds): Finding | undefined {
  if (isMissing(r.authSuccessRate)) return missing('the auth success rate');
  if (r.authSuccessRate >= t.minAuthSuccessRate) return undefined;
  return breach(
    GateReasons.AuthSuccessRateLow,
    `Auth success rate ${percent(r.authSuccessRate)} is below ${percent(t.minAuthSuccessRate)} over ${count(r.samples)} validations`,
  );
}

function validationLatencyHolds(r: GateReadings, t: GateThresholds): Finding | undefined {
  // +Inf is a real reading (the quantile fell in the +Inf bucket), so only NaN/undefined count as missing.
  if (isMissing(r.validationLatencyP99Seconds)) return missing('the p99 validation latency');
  if (r.validationLatencyP99Seconds <= t.maxValidationLatencyP99Seconds) return undefined;
  return breach(
    GateReasons.ValidationLatencyHigh,
    `p99 validation latency ${millis(r.validationLatencyP99Seconds)} is above ${millis(t.maxValidationLatencyP99Seconds)}`,
  );
}

function errorRateHolds(r: GateReadings, t: GateThresholds): Finding | undefined {
  if (isMissing(r.errorRate)) return missing('the validation error rate');
  if (r.errorRate <= t.maxErrorRate) return undefined;
  return breach(
    GateReasons.ErrorRateHigh,
    `Validation error rate ${percent(r.errorRate)} is above ${percent(t.maxErrorRate)} over ${count(r.samples)} validations`,
  );
}

function activeSessionsHold(r: GateReadings, t: GateThresholds): Finding | undefined {
  if (isMissing(r.activeSessions)) return missing('the active session count');
  if (isMissing(r.activeSessionsBaseline)) return missing('the active-session baseline');
  const drop = sessionDrop(r.activeSessions, r.activeSessionsBaseline);
  if (drop <= t.maxActiveSessionDrop) return undefined;
  return breach(
    GateReasons.ActiveSessionsDropped,
    `Active sessions dropped ${percent(drop)} (from ${count(r.activeSessionsBaseline)} to ${count(r.activeSessions)}), more than the ${percent(t.maxActiveSessionDrop)} allowed`,
  );
}

function newKeyShareReached(r: GateReadings, t: GateThresholds): Finding | undefined {
  if (isMissing(r.newKeyShare)) return missing('the new-key share');
  if (r.newKeyShare >= t.minNewKeyShare) return undefined;
  // Fail here means "measured and not there yet": keep waiting. It is not an error.
  return {
    verdict: 'Fail',
    reason: GateReasons.NewKeyShareLow,
    message: `New-key share ${percent(r.newKeyShare)} is below the ${percent(t.minNewKeyShare)} needed to complete`,
  };
}

// ---- helpers ------------------------------------------------------------------------------------------------

function firstFinding(checks: readonly Check[], r: GateReadings, t: GateThresholds): Finding | undefined {
  for (const check of checks) {
    const finding = check(r, t);
    if (finding !== undefined) return finding;
  }
  return undefined;
}

function allFindings(checks: readonly Check[], r: GateReadings, t: GateThresholds): Finding[] {
  return checks.map((check) => check(r, t)).filter((f): f is Finding => f !== undefined);
}

/** Fail beats Inconclusive beats Pass: a missing latency reading must not hide a success-rate breach. */
function worstVerdict(findings: readonly Finding[]): GateVerdict {
  if (findings.some((f) => f.verdict === 'Fail')) return 'Fail';
  return findings.length > 0 ? 'Inconclusive' : 'Pass';
}

/** Fractional drop against the baseline; growth counts as no drop, and a zero baseline cannot drop. */
export function sessionDrop(current: number, baseline: number): number {
  if (baseline <= 0) return 0;
  return Math.max(0, (baseline - current) / baseline);
}

function isMissing(value: number | undefined): value is undefined {
  return value === undefined || Number.isNaN(value);
}

function missing(what: string): Finding {
  return { verdict: 'Inconclusive', reason: GateReasons.MetricsMissing, message: `No reading for ${what}` };
}

function breach(reason: GateReason, message: string): Finding {
  return { verdict: 'Fail', reason, message };
}

function passMessage(r: GateReadings): string {
  return (
    `All checks passed: new-key share ${percent(r.newKeyShare)}, auth success ${percent(r.authSuccessRate)}, ` +
    `p99 latency ${millis(r.validationLatencyP99Seconds)}, error rate ${percent(r.errorRate)}, ` +
    `active sessions ${count(r.activeSessions)} (baseline ${count(r.activeSessionsBaseline)}), ` +
    `${count(r.samples)} validations.`
  );
}

function millis(seconds: number | undefined): string {
  if (seconds === undefined) return 'n/a';
  if (!Number.isFinite(seconds)) return 'beyond the largest histogram bucket';
  return `${(seconds * 1000).toFixed(1)} ms`;
}

function count(n: number | undefined): string {
  return n === undefined ? 'n/a' : String(Math.round(n));
}
