import { expect } from 'chai';
import type { MetricValue } from 'prom-client';
import { PHASES } from '../../src/api/types.ts';
import { OperatorMetrics, type ResourceReport } from '../../src/platform/metrics.ts';

const ALLOWED_LABELS = ['namespace', 'name', 'phase', 'outcome', 'reading', 'kind', 'result', 'client'];

/** A series as prom-client hands it out; histograms name each series (`..._bucket`, `..._count`). */
type Sample = MetricValue<string> & { metricName?: string };

function report(overrides: Partial<ResourceReport> = {}): ResourceReport {
  return {
    namespace: 'default',
    name: 'api',
    phase: 'Idle',
    secondsUntilNextRotation: 3600,
    readings: undefined,
    ...overrides,
  };
}

async function series(metrics: OperatorMetrics, name: string): Promise<Sample[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values;
}

async function seriesOf(
  metrics: OperatorMetrics,
  name: string,
  resource: { namespace: string; name: string },
): Promise<Sample[]> {
  return (await series(metrics, name)).filter(
    (v) => v.labels.namespace === resource.namespace && v.labels.name === resource.name,
  );
}

/** phase → value of jwtrotation_phase for one resource. */
async function phases(
  metrics: OperatorMetrics,
  resource = { namespace: 'default', name: 'api' },
): Promise<Record<string, number>> {
  return Object.fromEntries(
    (await seriesOf(metrics, 'jwtrotation_phase', resource)).map((v) => [String(v.labels.phase), v.value]),
  );
}

describe('OperatorMetrics', () => {
  it('exports one series per JwtRotation: 1, labelled with the reported phase', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.report(report({ phase: 'Monitoring' }));
    expect(await phases(metrics)).to.deep.equal({ Monitoring: 1 });
  });

  it('moves the series to the new phase when a later report changes phase, through every phase', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    for (const phase of PHASES) {
      metrics.report(report({ phase }));
      expect(await phases(metrics), phase).to.deep.equal({ [phase]: 1 });
    }
  });

  it('keeps the phases of different resources apart', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.report(report({ name: 'api', phase: 'DualKey' }));
    metrics.report(report({ name: 'web', phase: 'Idle' }));
    expect(await phases(metrics, { namespace: 'default', name: 'api' })).to.deep.equal({ DualKey: 1 });
    expect(await phases(metrics, { namespace: 'default', name: 'web' })).to.deep.equal({ Idle: 1 });
  });

  it('shows the seconds until the next rotation, and removes the series when there is none', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.report(report({ secondsUntilNextRotation: 7200 }));
    expect(
      (await series(metrics, 'jwtrotation_seconds_until_next_rotation')).map((v) => v.value),
    ).to.deep.equal([7200]);
    metrics.report(report({ phase: 'DualKey', secondsUntilNextRotation: undefined }));
    expect(await series(metrics, 'jwtrotation_seconds_until_next_rotation')).to.deep.equal([]);
  });

  it('shows the gate readings reported, and removes the ones no longer reported', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.report(report({ phase: 'Monitoring', readings: { newKeyShare: 0.4, authSuccessRate: 0.999 } }));
    const first = await series(metrics, 'jwtrotation_gate_reading');
    expect(Object.fromEntries(first.map((v) => [String(v.labels.reading), v.value]))).to.deep.equal({
      newKeyShare: 0.4,
      authSuccessRate: 0.999,
    });
    metrics.report(report({ phase: 'Monitoring', readings: { newKeyShare: 0.9 } }));
    const second = await series(metrics, 'jwtrotation_gate_reading');
    expect(Object.fromEntries(second.map((v) => [String(v.labels.reading), v.value]))).to.deep.equal({
      newKeyShare: 0.9,
    });
  });

  it('removes every series of a resource it is told to forget, and only that resource', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.report(report({ name: 'api', phase: 'Monitoring', readings: { newKeyShare: 0.5 } }));
    metrics.report(report({ name: 'web', phase: 'Monitoring', readings: { newKeyShare: 0.7 } }));
    metrics.forget('default', 'api');
    for (const name of [
      'jwtrotation_phase',
      'jwtrotation_seconds_until_next_rotation',
      'jwtrotation_gate_reading',
    ]) {
      expect(await seriesOf(metrics, name, { namespace: 'default', name: 'api' }), name).to.deep.equal([]);
      expect(await seriesOf(metrics, name, { namespace: 'default', name: 'web' }), name).to.not.deep.equal(
        [],
      );
    }
  });

  it('counts finished rotations by outcome and API writes by kind', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.rotationFinished('default', 'api', 'Completed');
    metrics.rotationFinished('default', 'api', 'Completed');
    metrics.rotationFinished('default', 'api', 'RolledBack');
    metrics.wrote('secret-update', 'default');
    const rotations = await series(metrics, 'jwtrotation_rotations_total');
    expect(Object.fromEntries(rotations.map((v) => [String(v.labels.outcome), v.value]))).to.deep.equal({
      Completed: 2,
      RolledBack: 1,
    });
    const writes = await series(metrics, 'jwtrotation_api_writes_total');
    expect(writes.map((v) => [v.labels.kind, v.value])).to.deep.equal([['secret-update', 1]]);
  });

  it('counts failed passes per resource and times every pass by result', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.reconciled(0.02, 'success');
    metrics.reconciled(0.3, 'error', { namespace: 'default', name: 'api' });
    const errors = await series(metrics, 'jwtrotation_reconcile_errors_total');
    expect(errors.map((v) => [v.labels, v.value])).to.deep.equal([
      [{ namespace: 'default', name: 'api' }, 1],
    ]);
    const counts = (await series(metrics, 'jwtrotation_reconcile_duration_seconds')).filter((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(Object.fromEntries(counts.map((v) => [String(v.labels.result), v.value]))).to.deep.equal({
      success: 1,
      error: 1,
    });
  });

  it('shows 1 for leader while this replica leads, and 0 once it does not', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.setLeader(true);
    expect((await series(metrics, 'jwtrotation_leader')).map((v) => v.value)).to.deep.equal([1]);
    metrics.setLeader(false);
    expect((await series(metrics, 'jwtrotation_leader')).map((v) => v.value)).to.deep.equal([0]);
  });

  it('registers only its own metrics when default metrics are off', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).to.not.be.empty;
    expect(names.filter((n) => !n.startsWith('jwtrotation_'))).to.deep.equal([]);
  });

  it('uses no labels but namespace, name, phase, outcome, reading, kind and result', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.report(
      report({
        phase: 'Monitoring',
        secondsUntilNextRotation: 10,
        readings: {
          newKeyShare: 0.5,
          authSuccessRate: 0.99,
          validationLatencyP99Seconds: 0.01,
          errorRate: 0,
          activeSessions: 10,
          activeSessionsBaseline: 12,
          samples: 100,
        },
      }),
    );
    metrics.rotationFinished('default', 'api', 'Completed');
    metrics.reconciled(0.01, 'success');
    metrics.reconciled(0.01, 'error', { namespace: 'default', name: 'api' });
    metrics.wrote('secret-update', 'default');
    metrics.conflicted('secret');
    metrics.ownWriteLate('Secret');
    metrics.throttled('events', 0.05);
    metrics.eventQueue(3);
    metrics.eventDropped();
    metrics.decided(0.001);
    metrics.waitedForWorker(0);
    metrics.setLeader(true);

    const labels = new Set<string>();
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      const values: Sample[] = metric.values;
      expect(values, metric.name).to.not.be.empty;
      for (const value of values) {
        for (const label of Object.keys(value.labels)) {
          // `le` is the bucket bound Prometheus itself adds to every histogram bucket.
          if (label === 'le' && value.metricName === `${metric.name}_bucket`) continue;
          labels.add(label);
        }
      }
    }
    expect([...labels].filter((l) => !ALLOWED_LABELS.includes(l))).to.deep.equal([]);
    expect([...labels]).to.have.members(ALLOWED_LABELS);
  });
});
