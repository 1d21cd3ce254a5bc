/**
 * Writes this replica's entry of status.servers on the PublishedKeySets it serves: server-side apply
 * on the status subresource, field manager `jwt-issuer/<replica>`, so each replica owns its own entry
 * of the list-map and never touches another's.
 *
 * Writes happen on change only (FetchLog says what changed), at most once per `minIntervalMs` per key
 * set (changes in between go out together), and through a client-side rate limit shared by all key
 * sets, so 1,000 key sets fetched by new clients at once make a bounded stream of writes, not a storm.
 * A new version served goes ahead of fetcher-only changes: the operator waits for it.
 */
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';
import { describeError, isNotFound } from '../adapters/kubernetes/errors.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { IssuerMetrics } from './metrics.ts';
import { PKS_API_VERSION, PKS_GROUP, PKS_KIND, PKS_PLURAL, PKS_VERSION } from '../api/published-key-set.ts';
import type { ServerEntry } from '../api/published-key-set.ts';

export interface StatusReporterOptions {
  api: CustomObjectsApi;
  clock: Clock;
  logger: Logger;
  metrics: IssuerMetrics;
  fieldManager: string;
  /** Least time between two writes of one key set. */
  minIntervalMs: number;
  /** Writes in flight at once (each also waits for the client's rate limit). */
  concurrency: number;
  /** This replica's entry for a key set now; undefined when it no longer serves it (deleted). */
  entryOf: (key: string) => ServerEntry | undefined;
}

interface KeyState {
  /** When the last write started (clock ms); -Infinity before the first. */
  lastWrite: number;
  dirty: boolean;
  urgent: boolean;
  timer: Timer | undefined;
  queued: boolean;
  inFlight: boolean;
  failures: number;
}

const MAX_BACKOFF_MS = 60_000;

export class StatusReporter {
  private readonly states = new Map<string, KeyState>();
  private readonly urgentQueue = new Set<string>();
  private readonly queue = new Set<string>();
  private running = 0;
  private stopped = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: StatusReporterOptions) {}

  /** Something of this key set's entry changed; `urgent` for a new version served. */
  changed(key: string, urgent: boolean): void {
    if (this.stopped) return;
    let state = this.states.get(key);
    if (state === undefined) {
      state = {
        lastWrite: -Infinity,
        dirty: false,
        urgent: false,
        timer: undefined,
        queued: false,
        inFlight: false,
        failures: 0,
      };
      this.states.set(key, state);
    }
    state.dirty = true;
    state.urgent ||= urgent;
    if (state.queued && urgent && this.queue.delete(key)) this.urgentQueue.add(key);
    this.schedule(key, state);
  }

  /** The key set is gone: nothing more to write for it. */
  forget(key: string): void {
    const state = this.states.get(key);
    state?.timer?.cancel();
    this.states.delete(key);
    this.urgentQueue.delete(key);
    this.queue.delete(key);
  }

  /** Whether this key set has a change not yet written, or a write in flight. */
  isPending(key: string): boolean {
    const state = this.states.get(key);
    return state !== undefined && (state.dirty || state.inFlight);
  }

  /** Stops scheduling writes and waits for those in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.states.values()) state.timer?.cancel();
    this.urgentQueue.clear();
    this.queue.clear();
    if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private schedule(key: string, state: KeyState): void {
    if (!state.dirty || state.inFlight || state.queued || state.timer !== undefined) return;
    const wait = state.lastWrite + this.backoff(state) - this.options.clock.now();
    if (wait > 0) {
      state.timer = this.options.clock.schedule(wait, () => {
        state.timer = undefined;
        if (this.states.get(key) === state) this.schedule(key, state);
      });
      return;
    }
    state.queued = true;
    (state.urgent ? this.urgentQueue : this.queue).add(key);
    this.pump();
  }

  private backoff(state: KeyState): number {
    const { minIntervalMs } = this.options;
    if (state.failures === 0) return minIntervalMs;
    return Math.min(MAX_BACKOFF_MS, minIntervalMs * 2 ** Math.min(state.failures, 10));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.concurrency) {
      const [key] = this.urgentQueue.size > 0 ? this.urgentQueue : this.queue;
      if (key === undefined) return;
      this.urgentQueue.delete(key);
      this.queue.delete(key);
      const state = this.states.get(key);
      if (state === undefined) continue;
      state.queued = false;
      this.running += 1;
      void this.write(key, state).finally(() => {
        this.running -= 1;
        if (this.running === 0) this.idle?.();
        if (this.states.get(key) === state) this.schedule(key, state);
        this.pump();
      });
    }
  }

  private async write(key: string, state: KeyState): Promise<void> {
    const entry = this.options.entryOf(key);
    if (entry === undefined) {
      this.forget(key);
      return;
    }
    state.dirty = false;
    state.urgent = false;
    state.inFlight = true;
    state.lastWrite = this.options.clock.now();
    const [namespace = '', name = ''] = key.split('/');
    try {
      await this.apply(namespace, name, entry);
      state.failures = 0;
      this.options.metrics.statusWrite('success');
    } catch (error) {
      if (isNotFound(error)) {
        this.options.metrics.statusWrite('gone');
        this.forget(key);
        return;
      }
      state.failures += 1;
      state.dirty = true;
      this.options.metrics.statusWrite('error');
      this.options.logger.warn('status write failed; will retry', {
        namespace,
        name,
        error: describeError(error),
        failures: state.failures,
      });
    } finally {
      state.inFlight = false;
    }
  }

  private async apply(namespace: string, name: string, entry: ServerEntry): Promise<void> {
    await this.options.api.patchNamespacedCustomObjectStatus(
      {
        group: PKS_GROUP,
        version: PKS_VERSION,
        plural: PKS_PLURAL,
        namespace,
        name,
        fieldManager: this.options.fieldManager,
        // Only this replica writes its entry; force keeps it its own after a hand edit.
        force: true,
        body: {
          apiVersion: PKS_API_VERSION,
          kind: PKS_KIND,
          metadata: { namespace, name },
          status: { servers: [entry] },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }
}
