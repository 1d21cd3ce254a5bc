/**
 * The issuer server's metrics, on a registry of its own. Labels are routes, statuses and results:
 * never an issuer, a client or a key (an issuer per label would grow with the key sets, and clients
 * are chosen by whoever sends requests).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Counter as CounterType } from 'prom-client';

export type WriteResult = 'success' | 'error' | 'gone';

export class IssuerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'status'>;
  /** Children of `requests` by route and status: a request increments without building a label key. */
  private readonly requestChildren = new Map<string, CounterType.Internal>();
  private readonly keySets: Gauge<'state'>;
  private readonly fetchNew: CounterType.Internal;
  private readonly fetchSeen: CounterType.Internal;
  private readonly statusWrites: Counter<'result'>;
  private readonly certReloads: Counter<'result'>;
  private readonly certExpiry: Gauge;
  private readonly leaseRenewals: Counter<'result'>;
  private readonly ready: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'jwt_issuer_requests_total',
      help: 'Requests to the issuer port, by route (discovery, jwks, unknown) and HTTP status.',
      labelNames: ['route', 'status'],
      registers,
    });
    this.keySets = new Gauge({
      name: 'jwt_issuer_keysets',
      help: 'PublishedKeySets watched, by state: served; conflicting (an older one has the same issuer); invalid (never servable).',
      labelNames: ['state'],
      registers,
    });
    const fetches = new Counter({
      name: 'jwt_issuer_fetch_records_total',
      help: 'JWKS fetches recorded (answered 200 or 304), by change: new (a new client or version: reported in status) or seen.',
      labelNames: ['change'],
      registers,
    });
    this.fetchNew = fetches.labels('new');
    this.fetchSeen = fetches.labels('seen');
    this.statusWrites = new Counter({
      name: 'jwt_issuer_status_writes_total',
      help: 'Server-side applies of this replica status entry, by result (success, error, gone).',
      labelNames: ['result'],
      registers,
    });
    this.certReloads = new Counter({
      name: 'jwt_issuer_certificate_reloads_total',
      help: 'Serving certificates loaded from TLS_DIR, by result (success; error: unreadable or key mismatch, the last good one stays).',
      labelNames: ['result'],
      registers,
    });
    this.certExpiry = new Gauge({
      name: 'jwt_issuer_certificate_expiry_timestamp_seconds',
      help: 'When the serving certificate in use expires (Unix time).',
      registers,
    });
    this.leaseRenewals = new Counter({
      name: 'jwt_issuer_lease_renewals_total',
      help: "Renewals of this replica's Lease, by result (success, error, skipped: the watch is down for longer than the lease duration).",
      labelNames: ['result'],
      registers,
    });
    this.ready = new Gauge({
      name: 'jwt_issuer_ready',
      help: 'Whether this replica is ready (1) or has dropped out (0): see /readyz.',
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  request(route: string, status: number): void {
    const key = `${route} ${status}`;
    let child = this.requestChildren.get(key);
    if (child === undefined) {
      child = this.requests.labels(route, String(status));
      this.requestChildren.set(key, child);
    }
    child.inc();
  }

  keySetCounts(counts: { served: number; conflicting: number; invalid: number }): void {
    this.keySets.set({ state: 'served' }, counts.served);
    this.keySets.set({ state: 'conflicting' }, counts.conflicting);
    this.keySets.set({ state: 'invalid' }, counts.invalid);
  }

  fetchRecorded(isNew: boolean): void {
    (isNew ? this.fetchNew : this.fetchSeen).inc();
  }

  statusWrite(result: WriteResult): void {
    this.statusWrites.inc({ result });
  }

  certificateReload(result: 'success' | 'error', notAfterMs?: number): void {
    this.certReloads.inc({ result });
    if (notAfterMs !== undefined) this.certExpiry.set(notAfterMs / 1000);
  }

  leaseRenewal(result: 'success' | 'error' | 'skipped'): void {
    this.leaseRenewals.inc({ result });
  }

  setReady(ready: boolean): void {
    this.ready.set(ready ? 1 : 0);
  }
}
