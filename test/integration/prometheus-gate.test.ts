/**
 * The gate end to end without Kubernetes: reference consumers serve load, a real Prometheus scrapes them every
 * second, the adapter runs the default queries and evaluateGate judges the readings. Each scenario has its own
 * consumer and selects it with the `selector` setting, so all run in parallel in one 30s window.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { runLoad, type LoadSummary } from '../../examples/consumer/loadgen.ts';
import {
  DEFAULT_QUERIES,
  PrometheusClient,
  PrometheusError,
  PrometheusErrorReasons,
  buildGateQueries,
  readGate,
} from '../../src/adapters/prometheus/client.ts';
import { DEFAULT_THRESHOLDS, GateReasons, evaluateGate } from '../../src/rotation/gate.ts';
import type { GateReadings, GateResult, GateThresholds } from '../../src/rotation/gate-types.ts';
import { startConsumer, writeEnvFile, type RunningConsumer } from '../support/consumer.ts';
import { startPrometheus, waitForQuery, type RunningPrometheus } from '../support/prometheus.ts';

const WINDOW = '30s';
const RPS = 40;
const LOAD_MS = 8000;
const USERS = 50;

type Scenario = 'ready' | 'halfway' | 'failing' | 'slow';
const newShares: Record<Scenario, number> = { ready: 0.97, halfway: 0.5, failing: 0.97, slow: 0.97 };

/**
 * Test machines are shared (control planes, compilers, other suites): a p99 of a few hundred requests there
 * measures the scheduler as much as the consumer, and went from 2 ms to 130 ms between runs. So only the
 * latency scenario, whose injected 80 ms cannot come in under 50 ms, uses the default latency bound; the
 * others relax it, and stay about what they test.
 */
const thresholdsFor: Record<Scenario, GateThresholds> = {
  ready: { ...DEFAULT_THRESHOLDS, maxValidationLatencyP99Seconds: 1 },
  halfway: { ...DEFAULT_THRESHOLDS, maxValidationLatencyP99Seconds: 1 },
  failing: { ...DEFAULT_THRESHOLDS, maxValidationLatencyP99Seconds: 1 },
  slow: DEFAULT_THRESHOLDS,
};

describe('metrics gate against a real Prometheus and reference consumers', function () {
  this.timeout(120_000);

  const oldKey = randomBytes(64).toString('base64');
  const newKey = randomBytes(64).toString('base64');
  let dir: string;
  let prometheus: RunningPrometheus | undefined;
  let client: PrometheusClient;
  const consumers = {} as Record<Scenario, RunningConsumer>;
  const results = {} as Record<Scenario, GateResult>;
  const loads = {} as Record<Scenario, LoadSummary>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gate-it-'));
    const envFile = join(dir, 'keys.env');
    // Mid-rotation, past ROTATION_DATE: every replica verifies both keys and signs with the new one.
    await writeEnvFile(envFile, {
      JWT_SECRET: oldKey,
      JWT_SECRET_CURRENT: oldKey,
      JWT_SECRET_NEW: newKey,
      JWT_SECRET_ROTATION_DATE: '2020-01-01T00:00:00Z',
      JWT_EXPIRATION: '1h',
    });
    const extraEnv: Record<Scenario, Record<string, string>> = {
      ready: {},
      halfway: {},
      failing: { FAIL_VALIDATIONS: '0.05', FAIL_MODE: 'error' },
      slow: { ENABLE_DEBUG: '1' },
    };
    await Promise.all(
      (Object.keys(newShares) as Scenario[]).map(async (scenario) => {
        consumers[scenario] = await startConsumer({ envFile, env: extraEnv[scenario] });
      }),
    );
    // The slow one gets its latency through the debug endpoint, the failing one through the environment.
    const slowed = await fetch(`${consumers.slow.url}/debug/fail?latencyMs=80`, { method: 'POST' });
    expect(slowed.status).to.equal(200);

    prometheus = await startPrometheus({
      scrapeTargets: Object.values(consumers).map((c) => c.target),
      scrapeIntervalSeconds: 1,
    });
    client = new PrometheusClient({ url: prometheus.url, timeoutMs: 5000 });
    await waitForQuery(prometheus.url, 'sum(up{job="consumer"})', (v) => v === 4);

    await Promise.all(
      (Object.keys(newShares) as Scenario[]).map(async (scenario) => {
        loads[scenario] = await runLoad({
          url: consumers[scenario].url,
          rps: RPS,
          durationMs: LOAD_MS,
          oldKey,
          newKey,
          newShare: newShares[scenario],
          users: USERS,
          // Every request of the load may be in flight at once, so a machine short of CPU slows the
          // load down rather than dropping requests (the shares below count them all).
          maxInFlight: (RPS * LOAD_MS) / 1000,
        });
      }),
    );
    // Wait until Prometheus has scraped the last request of every load, then read each consumer's gate.
    await Promise.all(
      (Object.keys(newShares) as Scenario[]).map(async (scenario) => {
        const sent = loads[scenario].sent;
        await waitForQuery(
          prometheus!.url,
          `sum(jwt_validations_total{instance="${consumers[scenario].target}"})`,
          (v) => v === sent,
        );
        const queries = buildGateQueries({
          window: WINDOW,
          selector: `instance="${consumers[scenario].target}"`,
        });
        const readings: GateReadings = {
          ...(await readGate(client, queries)),
          activeSessionsBaseline: USERS,
        };
        results[scenario] = evaluateGate(readings, thresholdsFor[scenario]);
      }),
    );
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all(Object.values(consumers).map((c) => c.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('sent every request of every load and got an answer', () => {
    for (const [scenario, load] of Object.entries(loads)) {
      expect(load.sent, scenario).to.equal((RPS * LOAD_MS) / 1000);
      expect(load.failed, scenario).to.equal(0);
      expect(load.dropped, scenario).to.equal(0);
    }
  });

  it('completes when 97% of validations use the new key and traffic is healthy', () => {
    const { health, completion, reason, readings, message } = results.ready;
    expect({ health, completion, reason }, message).to.deep.equal({
      health: 'Pass',
      completion: 'Pass',
      reason: GateReasons.AllChecksPassed,
    });
    expect(readings.newKeyShare).to.be.closeTo(0.97, 0.005);
    expect(readings.authSuccessRate).to.equal(1);
    expect(readings.errorRate).to.equal(0);
    expect(readings.activeSessions).to.equal(USERS);
    expect(readings.validationLatencyP99Seconds).to.be.below(1);
    expect(readings.samples).to.be.at.least(DEFAULT_THRESHOLDS.minSamples);
  });

  it('stays healthy but does not complete at a 50% new-key share', () => {
    const { health, completion, reason, readings, message } = results.halfway;
    expect({ health, completion, reason }, message).to.deep.equal({
      health: 'Pass',
      completion: 'Fail',
      reason: GateReasons.NewKeyShareLow,
    });
    expect(readings.newKeyShare).to.be.closeTo(0.5, 0.01);
    expect(message).to.match(/New-key share 5\d\.\d\d% is below the 95\.00%/);
  });

  it('fails health when 5% of validations error', () => {
    const { health, completion, reason, readings, message } = results.failing;
    expect({ health, completion }, message).to.deep.equal({ health: 'Fail', completion: 'Fail' });
    expect(reason).to.be.oneOf([GateReasons.AuthSuccessRateLow, GateReasons.ErrorRateHigh]);
    expect(readings.errorRate).to.be.closeTo(0.05, 0.01);
    expect(message).to.contain('ErrorRateHigh');
  });

  it('fails health with ValidationLatencyHigh when validations take 80 ms', () => {
    const { health, completion, reason, readings, message } = results.slow;
    expect({ health, completion, reason }, message).to.deep.equal({
      health: 'Fail',
      completion: 'Fail',
      reason: GateReasons.ValidationLatencyHigh,
    });
    expect(readings.validationLatencyP99Seconds).to.be.above(0.05);
  });

  it('runs the default queries (5m window, no selector) as valid PromQL', async () => {
    const readings = await readGate(client, DEFAULT_QUERIES);
    expect(readings.samples).to.be.above(0);
    expect(readings.activeSessions).to.equal(4 * USERS);
  });

  it('reports a broken override as PrometheusQueryFailed for its reading', async () => {
    const queries = buildGateQueries({
      window: WINDOW,
      overrides: { samples: 'sum(rate(jwt_validations_total[$window])' },
    });
    const error = await rejection(readGate(client, queries));
    expect(error.reason).to.equal(PrometheusErrorReasons.QueryFailed);
    expect(error.reading).to.equal('samples');
    expect(error.message).to.contain('parse error');
  });

  it('refuses a query that returns one series per consumer', async () => {
    const error = await rejection(client.query('jwt_active_sessions'));
    expect(error.reason).to.equal(PrometheusErrorReasons.AmbiguousResult);
    expect(error.message).to.contain('returned 4 series');
  });

  it('throws PrometheusUnreachable while Prometheus is down, and reads again after it restarts', async () => {
    await prometheus!.kill();
    const error = await rejection(client.query('1'));
    expect(error.reason).to.equal(PrometheusErrorReasons.Unreachable);
    expect(error.message)
      .to.contain(`Prometheus at ${prometheus!.url} is unreachable`)
      .and.to.contain('ECONNREFUSED');
    const gateError = await rejection(readGate(client, DEFAULT_QUERIES));
    expect(gateError.reason).to.equal(PrometheusErrorReasons.Unreachable);

    await prometheus!.restart();
    expect(await client.query('vector(1)')).to.equal(1);
  });
});

async function rejection(promise: Promise<unknown>): Promise<PrometheusError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(PrometheusError);
    return error as PrometheusError;
  }
  throw new Error('expected a rejection');
}
