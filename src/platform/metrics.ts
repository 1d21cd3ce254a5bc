/**
 * The operator's own metrics, on a registry of its own (not prom-client's global one),
 * so tests and embedders get a clean set. Labels name resources and phases, never keys.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PHASES, type Phase } from '../api/types.ts';

const READINGS = [
  'newKeyShare',
  'authSuccessRate',
  'validationLatencyP99Seconds',
  'errorRate',
  'activeSessions',
  'activeSessionsBaseline',
  'samples',
] as const;

export interface ResourceReport {
  namespace: string;
  name: string;
  phase: Phase;
  secondsUntilNextRotation: number | undefined;
  readings: Partial<Record<(typeof READINGS)[number], number>> | undefined;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly phase: Gauge<'namespace' | 'name' | 'phase'>;
  private readonly rotations: Counter<'namespace' | 'name' | 'outcome'>;
  private readonly reconcileDuration: Histogram<'result'>;
  private readonly conflicts: Counter<'kind'>;
  private readonly lateOwnWrites: Counter<'kind'>;
  private readonly throttledRequests: Counter<'client'>;
  private readonly eventsQueued: Gauge;
  private readonly eventsDropped: Counter;
  private readonly decideDuration: Histogram;
  private readonly queueWait: Histogram;
  private readonly throttledSeconds: Counter<'client'>;
  private readonly reconcileErrors: Counter<'namespace' | 'name'>;
  private readonly nextRotation: Gauge<'namespace' | 'name'>;
  private readonly gateReading: Gauge<'namespace' | 'name' | 'reading'>;
  private readonly writes: Counter<'kind' | 'namespace'>;
  private readonly leader: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.phase = new Gauge({
      name: 'jwtrotation_phase',
      help: 'Phase of each JwtRotation: one series, 1, labelled with the phase it is in (no series for the others).',
      labelNames: ['namespace', 'name', 'phase'],
      registers,
    });
    this.rotations = new Counter({
      name: 'jwtrotation_rotations_total',
      help: 'Rotations finished, by outcome (Completed, RolledBack).',
      labelNames: ['namespace', 'name', 'outcome'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'jwtrotation_reconcile_duration_seconds',
      help: 'Time one reconcile pass took, by result (success, error).',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.decideDuration = new Histogram({
      name: 'jwtrotation_reconcile_decide_seconds',
      help: "Time from a pass's start to its decision, before any write: reading the caches and deciding (the operator's own time).",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'jwtrotation_queue_wait_seconds',
      help: 'Time a JwtRotation that came due waited for a free worker (WORKERS) before its pass started.',
      buckets: [0, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'jwtrotation_reconcile_errors_total',
      help: 'Reconcile passes that failed and will be retried.',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.nextRotation = new Gauge({
      name: 'jwtrotation_seconds_until_next_rotation',
      help: 'Seconds until the next scheduled rotation (negative when overdue); absent during a rotation.',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.gateReading = new Gauge({
      name: 'jwtrotation_gate_reading',
      help: 'Latest metrics-gate readings of a rotation in progress.',
      labelNames: ['namespace', 'name', 'reading'],
      registers,
    });
    this.writes = new Counter({
      name: 'jwtrotation_api_writes_total',
      help: 'Writes the operator made to the Kubernetes API, by kind of write and namespace.',
      labelNames: ['kind', 'namespace'],
      registers,
    });
    this.conflicts = new Counter({
      name: 'jwtrotation_api_conflicts_total',
      help: 'Writes refused with 409 Conflict because someone else changed the object, retried at once on a fresh read, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.lateOwnWrites = new Counter({
      name: 'jwtrotation_own_writes_late_total',
      help: 'Writes of the operator that its watch did not show within 10 s, so a pass read the API server instead of its caches, by kind of object.',
      labelNames: ['kind'],
      registers,
    });
    this.throttledRequests = new Counter({
      name: 'jwtrotation_api_client_throttled_total',
      help: 'Requests to the Kubernetes API that waited for the client-side rate limit, by client: "passes" (KUBE_API_QPS, KUBE_API_BURST) or "events" (KUBE_API_EVENT_QPS, KUBE_API_EVENT_BURST).',
      labelNames: ['client'],
      registers,
    });
    this.throttledSeconds = new Counter({
      name: 'jwtrotation_api_client_throttled_seconds_total',
      help: 'Time requests to the Kubernetes API spent waiting for the client-side rate limit, summed, by client.',
      labelNames: ['client'],
      registers,
    });
    this.eventsQueued = new Gauge({
      name: 'jwtrotation_events_queued',
      help: 'Events waiting to be sent by the background event lane.',
      registers,
    });
    this.eventsDropped = new Counter({
      name: 'jwtrotation_events_dropped_total',
      help: 'Events dropped because the event lane already held its 1000 (the API server slow or unreachable).',
      registers,
    });
    this.leader = new Gauge({
      name: 'jwtrotation_leader',
      help: '1 while this replica holds the leader Lease (or runs without leader election), else 0.',
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  report(r: ResourceReport): void {
    // One series per JwtRotation, not one per phase with zeros: 10,000 JwtRotations make 10,000 series,
    // not 70,000. `jwtrotation_phase{phase="DualKey"} == 1` and `count by (phase)` read the same.
    for (const phase of PHASES)
      if (phase === r.phase) this.phase.set({ namespace: r.namespace, name: r.name, phase }, 1);
      else this.phase.remove({ namespace: r.namespace, name: r.name, phase });
    if (r.secondsUntilNextRotation === undefined)
      this.nextRotation.remove({ namespace: r.namespace, name: r.name });
    else this.nextRotation.set({ namespace: r.namespace, name: r.name }, r.secondsUntilNextRotation);
    for (const reading of READINGS) {
      const value = r.readings?.[reading];
      const labels = { namespace: r.namespace, name: r.name, reading };
      if (value === undefined) this.gateReading.remove(labels);
      else this.gateReading.set(labels, value);
    }
  }

  forget(namespace: string, name: string): void {
    for (const phase of PHASES) this.phase.remove({ namespace, name, phase });
    this.nextRotation.remove({ namespace, name });
    for (const reading of READINGS) this.gateReading.remove({ namespace, name, reading });
  }

  rotationFinished(namespace: string, name: string, outcome: string): void {
    this.rotations.inc({ namespace, name, outcome });
  }

  reconciled(
    seconds: number,
    result: 'success' | 'error',
    resource?: { namespace: string; name: string },
  ): void {
    this.reconcileDuration.observe({ result }, seconds);
    if (result === 'error' && resource) this.reconcileErrors.inc(resource);
  }

  /** A pass reached its decision this long after it started. */
  decided(seconds: number): void {
    this.decideDuration.observe(seconds);
  }

  /** A pass started after waiting this long for a worker. */
  waitedForWorker(seconds: number): void {
    this.queueWait.observe(seconds);
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  wrote(kind: string, namespace: string): void {
    this.writes.inc({ kind, namespace });
  }

  /** A 409 met and retried on a fresh read (kind: secret, status). */
  conflicted(kind: string): void {
    this.conflicts.inc({ kind });
  }

  /** A request of this client ("passes" or "events") waited this long for its rate limit. */
  throttled(client: 'passes' | 'events', seconds: number): void {
    this.throttledRequests.inc({ client });
    this.throttledSeconds.inc({ client }, seconds);
  }

  /** Events waiting in the event lane. */
  eventQueue(length: number): void {
    this.eventsQueued.set(length);
  }

  /** An Event dropped because the event lane was full. */
  eventDropped(): void {
    this.eventsDropped.inc();
  }

  /** A write of the operator its watch did not show in time (kind: Secret, Deployment, JwtRotation, ...). */
  ownWriteLate(kind: string): void {
    this.lateOwnWrites.inc({ kind });
  }
}
