/**
 * Work per object key (`namespace/name`): one pass at a time per key, a timer per key
 * for the next look (phases advance with the clock, not only on watch events), and
 * exponential backoff after failures. At most `workers` passes run at once (over different keys);
 * a key that comes due while all are busy waits its turn, first come first served, except that a key
 * enqueued as `urgent` (a change a user made to the JwtRotation: a request to rotate, roll back or
 * pause, a new spec) goes before every key that waits for a watch event on the objects it manages or a
 * timer. Under a wave of rollouts, an emergency rotation starts when a worker frees, not behind the
 * wave; controller-runtime's priority queue likewise serves real changes before resyncs.
 *
 * A pass that asks to run again at once (`requeueAfterMs: 0`: it wrote one step of an operation and
 * the next step is ready) continues ahead of every waiting key, urgent ones included, for at most
 * CONTINUE_AHEAD passes in a row. Work already begun then finishes before new work starts: when
 * 10,000 rotations are requested at once, the first ones reach their rollouts (and free the budget)
 * instead of every rotation saving its original key before any Deployment is patched. The limit keeps
 * a key that always asks again from holding a worker against the others.
 */
import { backoffDelay } from '../platform/backoff.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import { ConflictError } from '../platform/conflict.ts';

/** Conflicts in a row retried soon, before they back off like other failures. */
const CONFLICT_FAST_RETRIES = 5;
/** The wait before such a retry (at most retryBaseMs), jittered by ±50%. */
const CONFLICT_RETRY_MS = 100;
/** Passes in a row a key that asks to run again at once may run ahead of the waiting keys. */
export const CONTINUE_AHEAD = 8;

/** What a pass asks for: look again after this many milliseconds, or forget the key. */
export type PassResult = { requeueAfterMs: number } | 'forget';

interface WorkQueueOptions {
  clock: Clock;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Most passes at once (default: no limit). */
  workers?: number;
  onError: (key: string, error: unknown, retryInMs: number) => void;
  /** A key forgotten while its pass ran is dropped once that pass ended (what the pass reported is stale). */
  onDropped?: (key: string) => void;
  /** A pass starts after its key waited this many seconds for a free worker (0 when one was free). */
  onStarted?: (waitedSeconds: number) => void;
}

interface Entry {
  timer?: Timer | undefined;
  dueAt?: number | undefined;
  running: boolean;
  /** Asked for again while running: run once more right after. */
  dirty: boolean;
  /** Forgotten while a pass ran: dropped when the pass ends, unless asked for again. */
  forgotten: boolean;
  failures: number;
  /** Enqueued as urgent since its last pass started: waits ahead of the others. */
  urgent: boolean;
  /** Its last pass asked to run again at once: waits ahead of every other key. */
  continuing: boolean;
  /** Passes in a row that ran as continuations (at most CONTINUE_AHEAD). */
  chain: number;
}

export class WorkQueue {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private running = 0;
  /** Keys that came due while every worker was busy, in order. */
  private readonly ready = new Set<string>();
  /** The same for urgent keys, served before those. */
  private readonly urgentReady = new Set<string>();
  /** The same for keys continuing an operation their last pass began, served first of all. */
  private readonly continuingReady = new Set<string>();
  /** When each waiting key (urgent or not) came due (performance.now(), for the metrics). */
  private readonly readySince = new Map<string, number>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly worker: (key: string) => Promise<PassResult>,
    private readonly options: WorkQueueOptions,
  ) {}

  /**
   * Look at key after delayMs (default now). An earlier look already scheduled wins. An urgent key
   * (only with no delay) waits for a worker ahead of the others.
   */
  enqueue(key: string, delayMs = 0, urgent = false): void {
    if (this.stopped) return;
    const entry = this.entry(key);
    entry.forgotten = false;
    if (urgent && delayMs <= 0) {
      entry.urgent = true;
      if (this.ready.delete(key)) this.urgentReady.add(key);
    }
    if (entry.running && delayMs === 0) {
      entry.dirty = true;
      return;
    }
    const dueAt = this.options.clock.now() + Math.max(0, delayMs);
    if (entry.timer && entry.dueAt !== undefined && entry.dueAt <= dueAt) return;
    entry.timer?.cancel();
    entry.dueAt = dueAt;
    entry.timer = this.options.clock.schedule(Math.max(0, delayMs), () => {
      entry.timer = undefined;
      entry.dueAt = undefined;
      void this.run(key);
    });
  }

  forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.timer?.cancel();
    entry.timer = undefined;
    entry.dueAt = undefined;
    this.ready.delete(key);
    this.urgentReady.delete(key);
    this.continuingReady.delete(key);
    this.readySince.delete(key);
    // A running pass keeps its entry, so a new enqueue cannot start a second pass beside it.
    if (entry.running) entry.forgotten = true;
    else this.entries.delete(key);
  }

  stop(): void {
    this.stopped = true;
    this.ready.clear();
    this.urgentReady.clear();
    this.continuingReady.clear();
    this.readySince.clear();
    for (const entry of this.entries.values()) entry.timer?.cancel();
  }

  /** Resolves when no pass is running (for tests and graceful shutdown). */
  async idle(): Promise<void> {
    if (this.running === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private wasAskedAgain(entry: Entry): boolean {
    return entry.dirty;
  }

  private wasForgotten(entry: Entry): boolean {
    return entry.forgotten;
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = {
        running: false,
        dirty: false,
        forgotten: false,
        failures: 0,
        urgent: false,
        continuing: false,
        chain: 0,
      };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Passes waiting for a free worker. */
  get waiting(): number {
    return this.ready.size + this.urgentReady.size + this.continuingReady.size;
  }

  private async run(key: string): Promise<void> {
    if (this.stopped) return;
    const entry = this.entry(key);
    if (entry.running) {
      entry.dirty = true;
      return;
    }
    if (this.running >= (this.options.workers ?? Number.POSITIVE_INFINITY)) {
      (entry.continuing ? this.continuingReady : entry.urgent ? this.urgentReady : this.ready).add(key);
      if (!this.readySince.has(key)) this.readySince.set(key, performance.now());
      return;
    }
    const since = this.readySince.get(key);
    this.readySince.delete(key);
    this.options.onStarted?.(since === undefined ? 0 : (performance.now() - since) / 1000);
    this.running += 1;
    entry.running = true;
    entry.dirty = false;
    entry.urgent = false;
    entry.chain = entry.continuing ? entry.chain + 1 : 0;
    entry.continuing = false;
    let next: number | 'forget';
    try {
      const result = await this.worker(key);
      entry.failures = 0;
      next = result === 'forget' ? 'forget' : result.requeueAfterMs;
    } catch (error) {
      entry.failures += 1;
      // A conflict means "read again and decide again", not a fault: the first few are retried soon
      // (jittered, so two writers fall out of step), and only a run of them backs off like an error.
      const conflict = error instanceof ConflictError && entry.failures <= CONFLICT_FAST_RETRIES;
      const backoff = conflict
        ? Math.min(this.options.retryBaseMs, CONFLICT_RETRY_MS) * (0.5 + Math.random())
        : backoffDelay(entry.failures, { baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs });
      try {
        this.options.onError(key, error, backoff);
      } catch {
        // A failing error reporter must not stop the retries.
      }
      next = backoff;
    } finally {
      entry.running = false;
      this.running -= 1;
    }
    // Read through a method: the flag may have been set by enqueue() while the worker ran.
    const rerun = this.wasAskedAgain(entry);
    if ((next === 'forget' || this.wasForgotten(entry)) && !rerun) {
      this.entries.delete(key);
      if (this.wasForgotten(entry)) this.options.onDropped?.(key);
    } else {
      // Its own "again at once" continues ahead (a rerun asked for by a watch event does not).
      if (next === 0 && !rerun && entry.chain < CONTINUE_AHEAD) entry.continuing = true;
      this.enqueue(key, rerun || next === 'forget' ? 0 : next);
    }
    // A worker is free: a continuing key goes next, else the urgent key that has waited longest,
    // else the key that has.
    const from =
      this.continuingReady.size > 0
        ? this.continuingReady
        : this.urgentReady.size > 0
          ? this.urgentReady
          : this.ready;
    const waited = from.values().next();
    if (!waited.done) {
      from.delete(waited.value);
      if (this.entries.has(waited.value)) void this.run(waited.value);
    }
    // The count, not a walk over every entry: at 10,000 JwtRotations that walk copied 10,000 entries
    // at the end of each of about 240 passes a second.
    if (this.running === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
