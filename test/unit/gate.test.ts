import { expect } from 'chai';

import { DEFAULT_THRESHOLDS, GateReasons, evaluateGate, sessionDrop } from '../../src/rotation/gate.ts';
import type { GateReadings, GateResult, GateThresholds, GateVerdict } from '../../src/rotation/gate-types.ts';

/** Readings of a healthy rotation that is ready to complete; each case changes what it is about. */
function healthyReadings(overrides: GateReadings = {}): GateReadings {
  return {
    newKeyShare: 0.97,
    authSuccessRate: 0.999,
    validationLatencyP99Seconds: 0.012,
    errorRate: 0,
    activeSessions: 100,
    activeSessionsBaseline: 100,
    samples: 1000,
    ...overrides,
  };
}

interface Case {
  name: string;
  readings: GateReadings;
  thresholds?: Partial<GateThresholds>;
  health: GateVerdict;
  completion: GateVerdict;
  reason: string;
  /** Substrings the message must contain. */
  message?: string[];
}

const cases: Case[] = [
  // --- pass
  {
    name: 'passes health and completion when every reading is within its threshold',
    readings: healthyReadings(),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
    message: ['97.00%', '99.90%', '12.0 ms', '1000 validations'],
  },
  {
    name: 'keeps health Pass but completion Fail while the new-key share is below the threshold',
    readings: healthyReadings({ newKeyShare: 0.5 }),
    health: 'Pass',
    completion: 'Fail',
    reason: GateReasons.NewKeyShareLow,
    message: ['50.00%', '95.00%'],
  },

  // --- samples gate everything
  {
    name: 'is inconclusive with MetricsMissing when the sample count is missing',
    readings: healthyReadings({ samples: undefined }),
    health: 'Inconclusive',
    completion: 'Inconclusive',
    reason: GateReasons.MetricsMissing,
  },
  {
    name: 'treats a NaN sample count as missing',
    readings: healthyReadings({ samples: Number.NaN }),
    health: 'Inconclusive',
    completion: 'Inconclusive',
    reason: GateReasons.MetricsMissing,
  },
  {
    name: 'is inconclusive with TooFewSamples one sample below minSamples',
    readings: healthyReadings({ samples: 99 }),
    health: 'Inconclusive',
    completion: 'Inconclusive',
    reason: GateReasons.TooFewSamples,
    message: ['99', '100'],
  },
  {
    name: 'judges at exactly minSamples',
    readings: healthyReadings({ samples: 100 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'does not fail health on a breach measured over too few samples',
    readings: healthyReadings({ samples: 10, authSuccessRate: 0.5, errorRate: 0.5 }),
    health: 'Inconclusive',
    completion: 'Inconclusive',
    reason: GateReasons.TooFewSamples,
  },
  {
    name: 'does not complete with too few samples even when the share is reached',
    readings: healthyReadings({ samples: 0, newKeyShare: 1 }),
    health: 'Inconclusive',
    completion: 'Inconclusive',
    reason: GateReasons.TooFewSamples,
  },

  // --- auth success rate
  {
    name: 'passes an auth success rate exactly at the threshold',
    readings: healthyReadings({ authSuccessRate: 0.995 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'fails health with AuthSuccessRateLow just below the threshold',
    readings: healthyReadings({ authSuccessRate: 0.9949 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.AuthSuccessRateLow,
    message: ['99.49%', '99.50%'],
  },

  // --- latency
  {
    name: 'passes a p99 latency exactly at the threshold',
    readings: healthyReadings({ validationLatencyP99Seconds: 0.05 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'fails health with ValidationLatencyHigh just above the threshold',
    readings: healthyReadings({ validationLatencyP99Seconds: 0.0501 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ValidationLatencyHigh,
    message: ['50.1 ms', '50.0 ms'],
  },
  {
    name: 'fails health when the p99 fell into the +Inf bucket',
    readings: healthyReadings({ validationLatencyP99Seconds: Number.POSITIVE_INFINITY }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ValidationLatencyHigh,
    message: ['beyond the largest histogram bucket'],
  },

  // --- error rate
  {
    name: 'passes an error rate exactly at the threshold',
    readings: healthyReadings({ errorRate: 0.001 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'fails health with ErrorRateHigh just above the threshold',
    readings: healthyReadings({ errorRate: 0.0011 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ErrorRateHigh,
    message: ['0.11%', '0.10%'],
  },
  {
    name: 'fails any error when maxErrorRate is zero, and passes none',
    readings: healthyReadings({ errorRate: 0.00001 }),
    thresholds: { maxErrorRate: 0 },
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ErrorRateHigh,
  },
  {
    name: 'passes a zero error rate when maxErrorRate is zero',
    readings: healthyReadings({ errorRate: 0 }),
    thresholds: { maxErrorRate: 0 },
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },

  // --- active sessions
  {
    name: 'passes a session drop exactly at the allowed fraction',
    readings: healthyReadings({ activeSessions: 80, activeSessionsBaseline: 100 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'fails health with ActiveSessionsDropped just beyond the allowed drop',
    readings: healthyReadings({ activeSessions: 79, activeSessionsBaseline: 100 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ActiveSessionsDropped,
    message: ['21.00%', 'from 100 to 79', '20.00%'],
  },
  {
    name: 'passes when sessions grew against the baseline',
    readings: healthyReadings({ activeSessions: 500, activeSessionsBaseline: 100 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'passes when the baseline was zero sessions',
    readings: healthyReadings({ activeSessions: 0, activeSessionsBaseline: 0 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },

  // --- missing readings: inconclusive, never pass or fail
  {
    name: 'is health-inconclusive but may complete when the latency reading is missing',
    readings: healthyReadings({ validationLatencyP99Seconds: undefined }),
    health: 'Inconclusive',
    completion: 'Pass',
    reason: GateReasons.MetricsMissing,
    message: ['p99 validation latency'],
  },
  {
    name: 'is health-inconclusive when no session baseline was recorded',
    readings: healthyReadings({ activeSessionsBaseline: undefined }),
    health: 'Inconclusive',
    completion: 'Pass',
    reason: GateReasons.MetricsMissing,
    message: ['baseline'],
  },
  {
    name: 'is health-inconclusive when the active sessions reading is NaN',
    readings: healthyReadings({ activeSessions: Number.NaN }),
    health: 'Inconclusive',
    completion: 'Pass',
    reason: GateReasons.MetricsMissing,
  },
  {
    name: 'is completion-inconclusive, not Pass, when the new-key share is missing',
    readings: healthyReadings({ newKeyShare: undefined }),
    health: 'Pass',
    completion: 'Inconclusive',
    reason: GateReasons.MetricsMissing,
    message: ['new-key share'],
  },
  {
    name: 'is inconclusive on every count when only samples are known',
    readings: { samples: 1000 },
    health: 'Inconclusive',
    completion: 'Inconclusive',
    reason: GateReasons.MetricsMissing,
    message: ['auth success rate', 'also: MetricsMissing'],
  },

  // --- ordering
  {
    name: 'names a breach before a missing reading that comes earlier in the list',
    readings: healthyReadings({ authSuccessRate: undefined, errorRate: 0.5 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ErrorRateHigh,
    message: ['also: MetricsMissing'],
  },
  {
    name: 'names the first breach in order and lists the others',
    readings: healthyReadings({ authSuccessRate: 0.9, errorRate: 0.1, newKeyShare: 0.1 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.AuthSuccessRateLow,
    message: ['also: ErrorRateHigh, NewKeyShareLow'],
  },
  {
    name: 'does not complete an unhealthy rotation even when the share is reached',
    readings: healthyReadings({ newKeyShare: 1, validationLatencyP99Seconds: 2 }),
    health: 'Fail',
    completion: 'Fail',
    reason: GateReasons.ValidationLatencyHigh,
  },

  // --- new-key share boundary
  {
    name: 'completes with a new-key share exactly at the threshold',
    readings: healthyReadings({ newKeyShare: 0.95 }),
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
  {
    name: 'does not complete with a new-key share just below the threshold',
    readings: healthyReadings({ newKeyShare: 0.9499 }),
    health: 'Pass',
    completion: 'Fail',
    reason: GateReasons.NewKeyShareLow,
  },
  {
    name: 'uses thresholds it is given rather than the defaults',
    readings: healthyReadings({ newKeyShare: 0.6 }),
    thresholds: { minNewKeyShare: 0.5 },
    health: 'Pass',
    completion: 'Pass',
    reason: GateReasons.AllChecksPassed,
  },
];

describe('evaluateGate', () => {
  for (const c of cases) {
    it(c.name, () => {
      const result = evaluateGate(c.readings, { ...DEFAULT_THRESHOLDS, ...c.thresholds });
      expect(pick(result)).to.deep.equal({ health: c.health, completion: c.completion, reason: c.reason });
      for (const fragment of c.message ?? []) expect(result.message).to.contain(fragment);
      expect(result.readings).to.equal(c.readings);
    });
  }

  it('ends every message with a period, as one sentence', () => {
    for (const c of cases) {
      const { message } = evaluateGate(c.readings, { ...DEFAULT_THRESHOLDS, ...c.thresholds });
      expect(message, c.name).to.match(/[^.]\.$/);
    }
  });

  it('keeps the runbook defaults', () => {
    expect(DEFAULT_THRESHOLDS).to.deep.equal({
      minNewKeyShare: 0.95,
      minAuthSuccessRate: 0.995,
      maxValidationLatencyP99Seconds: 0.05,
      maxErrorRate: 0.001,
      maxActiveSessionDrop: 0.2,
      minSamples: 100,
    });
    expect(Object.isFrozen(DEFAULT_THRESHOLDS)).to.equal(true);
  });
});

describe('sessionDrop', () => {
  const rows: [current: number, baseline: number, drop: number][] = [
    [80, 100, 0.2],
    [100, 100, 0],
    [150, 100, 0],
    [0, 100, 1],
    [5, 0, 0],
  ];
  for (const [current, baseline, drop] of rows) {
    it(`is ${drop} from ${baseline} to ${current} sessions`, () => {
      expect(sessionDrop(current, baseline)).to.equal(drop);
    });
  }
});

function pick(result: GateResult): Pick<GateResult, 'health' | 'completion' | 'reason'> {
  return { health: result.health, completion: result.completion, reason: result.reason };
}
