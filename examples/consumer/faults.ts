/**
 * Failure injection for tests of the gate: a fraction of validations fail (as `error` or `rejected`), and
 * every validation can be slowed down. Failures are spread evenly rather than drawn at random, so a test that
 * asks for 5% gets exactly 5 in every 100.
 */
export type FaultMode = 'error' | 'rejected';

export interface FaultSettings {
  /** Fraction of validations that fail, 0..1. */
  rate: number;
  mode: FaultMode;
  /** Added to every validation, inside the measured duration. */
  latencyMs: number;
}

export const NO_FAULTS: FaultSettings = { rate: 0, mode: 'error', latencyMs: 0 };

export class FaultInjector {
  #settings: FaultSettings;
  #count = 0;

  constructor(settings: FaultInput = NO_FAULTS) {
    this.#settings = validate(settings);
  }

  get settings(): FaultSettings {
    return this.#settings;
  }

  update(changes: Partial<FaultInput>): FaultSettings {
    this.#settings = validate({ ...this.#settings, ...changes });
    this.#count = 0;
    return this.#settings;
  }

  /** Decides the next validation's fate: its extra latency, and whether (and how) it fails. */
  next(): { latencyMs: number; fail: FaultMode | undefined } {
    const { rate, mode, latencyMs } = this.#settings;
    const n = this.#count++;
    // Validation n fails when the running total of failures owed, floor((n+1)·rate), steps up.
    const fails = Math.floor((n + 1) * rate) > Math.floor(n * rate);
    return { latencyMs, fail: fails ? mode : undefined };
  }
}

/** Reads FAIL_VALIDATIONS, FAIL_MODE and FAIL_LATENCY_MS. */
export function faultsFromEnv(env: Readonly<Record<string, string | undefined>>): FaultSettings {
  return validate({
    rate: Number(env.FAIL_VALIDATIONS ?? 0),
    mode: env.FAIL_MODE ?? 'error',
    latencyMs: Number(env.FAIL_LATENCY_MS ?? 0),
  });
}

/** Settings as they arrive from the environment or a query string: mode still an unchecked string. */
export type FaultInput = Omit<FaultSettings, 'mode'> & { mode: string };

function validate(s: FaultInput): FaultSettings {
  if (!(s.rate >= 0 && s.rate <= 1)) throw new RangeError(`failure rate must be within 0..1, got ${s.rate}`);
  if (!(s.latencyMs >= 0 && s.latencyMs <= 60_000)) throw new RangeError('latencyMs must be within 0..60000');
  if (s.mode !== 'error' && s.mode !== 'rejected')
    throw new RangeError('failure mode must be error or rejected');
  return { rate: s.rate, mode: s.mode, latencyMs: s.latencyMs };
}
