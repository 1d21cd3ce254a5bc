import type { GateVerdict, ResolvedGateThresholdsSpec } from '../api/types.ts';

/**
 * What a metrics gate reads and decides. The Prometheus adapter fills GateReadings;
 * evaluateGate (pure) turns readings + thresholds into a GateResult.
 */

/** One reading per default query; undefined when the query returned no sample. */
export interface GateReadings {
  /** Share of successful validations that used the new key, 0..1. */
  newKeyShare?: number | undefined;
  /** Successful validations / (successes + errors + rejections no key could verify), 0..1; see docs/metrics-contract.md. */
  authSuccessRate?: number | undefined;
  /** p99 token validation latency in seconds. */
  validationLatencyP99Seconds?: number | undefined;
  /** Validations that errored (not merely rejected) / all validations, 0..1. */
  errorRate?: number | undefined;
  /** Active sessions now. */
  activeSessions?: number | undefined;
  /** Active sessions at the baseline (before the rotation started), for the drop check. */
  activeSessionsBaseline?: number | undefined;
  /** Validations counted in the query window; below minSamples the gate is inconclusive. */
  samples?: number | undefined;
}

/** The thresholds as spec.monitoring.prometheus.thresholds declares them, defaults applied. */
export type GateThresholds = ResolvedGateThresholdsSpec;

export type { GateVerdict };

/** The gate's answer for one look. `health` is about staying in the rotation; `completion` about finishing it. */
export interface GateResult {
  /** Fail: a health threshold is breached (triggers failurePolicy). Inconclusive: not enough data. */
  health: GateVerdict;
  /** Pass: the new-key share threshold is met. Never Pass on missing data. */
  completion: GateVerdict;
  /** CamelCase reason of the first check that did not pass, or 'AllChecksPassed'. */
  reason: string;
  /** One human sentence; never contains key material. */
  message: string;
  readings: GateReadings;
}
