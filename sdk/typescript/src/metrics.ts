/**
 * The series of docs/metrics-contract.md, through prom-client, on a Registry of the caller's choosing (a new
 * one by default, not prom-client's global one, so an application keeps its own metrics apart).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { KeyVersion } from './keys.ts';
import type { SessionTracker } from './sessions.ts';
import type { Verification } from './tokens.ts';

/** Must include the gate's latency threshold (0.05 s) as a bound, so the p99 is not interpolated across it. */
export const VALIDATION_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface KitMetrics {
  registry: Registry;
  recordValidation(v: Pick<Verification, 'result' | 'keyVersion'>, seconds: number): void;
  recordIssued(version: KeyVersion, count?: number): void;
}

export function createKitMetrics(
  registry: Registry,
  sessions: SessionTracker,
  nowMs: () => number,
): KitMetrics {
  const validations = new Counter({
    name: 'jwt_validations_total',
    help: 'JWT validations by the key version that verified the token (none: no key did) and by result.',
    labelNames: ['key_version', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'jwt_validation_duration_seconds',
    help: 'Time to validate one JWT, in seconds.',
    buckets: VALIDATION_DURATION_BUCKETS,
    registers: [registry],
  });
  const issued = new Counter({
    name: 'jwt_tokens_issued_total',
    help: 'JWTs signed, by the key version that signed them.',
    labelNames: ['key_version'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'jwt_active_sessions',
    help: 'Distinct token subjects seen valid in the session window, with an unexpired token.',
    registers: [registry],
    collect() {
      this.set(sessions.count(nowMs()));
    },
  });
  // Every series from the start: a ratio over a series that does not exist yet is empty, and rate() needs a
  // zero before the first increment to count it.
  for (const key_version of ['current', 'new'] as const) {
    for (const result of ['success', 'rejected'] as const) validations.inc({ key_version, result }, 0);
    issued.inc({ key_version }, 0);
  }
  for (const result of ['rejected', 'error'] as const) validations.inc({ key_version: 'none', result }, 0);

  return {
    registry,
    recordValidation(v, seconds) {
      validations.inc({ key_version: v.keyVersion, result: v.result });
      duration.observe(seconds);
    },
    recordIssued(version, count = 1) {
      issued.inc({ key_version: version }, count);
    },
  };
}
