/**
 * Watches that ride out API server and etcd restarts, built on client-node's informer
 * (`makeInformer`: a ListWatch with an in-memory cache).
 *
 * What the library does (node_modules/@kubernetes/client-node/dist/cache.js, watch.js, 1.4.0):
 * - `start()` lists (when it has no resourceVersion yet), then watches from the list's
 *   resourceVersion; every event moves the resourceVersion on.
 * - A watch that ends cleanly (the server's request timeout, a graceful API server shutdown)
 *   reconnects at once from the last resourceVersion, without a new list.
 * - A `410 Gone` (the resourceVersion is older than the API server's watch window, as after an API
 *   server restart that rebuilt its watch cache) arrives as an ERROR event in the stream, or as the
 *   HTTP status; either way the informer forgets its resourceVersion and lists again on the next
 *   connection. Objects deleted meanwhile are dropped from the cache with a `delete` callback.
 * - Any other failure (connection refused or reset, "Premature close", a 5xx, a failed list) calls
 *   the `error` callbacks and STOPS: the library does not retry. This wrapper restarts it after an
 *   exponential backoff (from the last resourceVersion, so nothing is missed: the server replays
 *   what happened meanwhile, or answers 410 and the informer lists again).
 * - `stop()` aborts the request, and the abort itself reaches the `error` callbacks: a stopped
 *   wrapper ignores them.
 * - The cache is kept across failures: a reader sees the last state it knew, never an empty cache.
 */
import * as k8s from '@kubernetes/client-node';
import { backoffDelay } from '../../platform/backoff.ts';
import type { Logger } from '../../platform/logger.ts';
import { describeError } from './errors.ts';

/**
 * What an informer holds: any object with metadata. Custom objects come as plain JSON (timestamps as
 * strings), which client-node's KubernetesObject (timestamps as Date) does not describe.
 */
export interface WatchedObject {
  metadata?: {
    name?: string | undefined;
    namespace?: string | undefined;
    resourceVersion?: string | undefined;
    labels?: Record<string, string> | undefined;
  };
}

export interface InformerOptions<T extends WatchedObject> {
  /** For logs: e.g. `jwtrotations` or `secrets`. */
  name: string;
  kubeConfig: k8s.KubeConfig;
  /** The watch path, e.g. `/api/v1/namespaces/ns/secrets` or `/api/v1/secrets`. */
  path: string;
  list: () => Promise<{ metadata?: { resourceVersion?: string | undefined }; items: T[] }>;
  labelSelector?: string | undefined;
  logger: Logger;
  /** Called for every object added, changed or deleted (deleted: true). */
  onChange: (object: T, deleted: boolean) => void;
  /**
   * Drops, in place, what no reader of this cache needs, before onChange sees the object. The
   * informer keeps the very object it passes to its callbacks (client-node 1.4 cache.js,
   * addOrUpdateObject), so this is what the cache holds; were that to change, the cache would only
   * hold more.
   */
  trim?: ((object: T) => void) | undefined;
  /**
   * First wait before a restart (default 250 ms); doubled after each failed one up to maxBackoffMs
   * (default 5 s: a watch is one request, and the wait bounds how late the operator notices that
   * the API server is back).
   */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** After a restart that worked: how long the watch was down. */
  onResumed?: (downMs: number) => void;
}

export class ResilientInformer<T extends WatchedObject> {
  private readonly informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  private stopped = true;
  private failures = 0;
  private downSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Counts error callbacks, so a restart can tell whether its own attempt failed. */
  private errors = 0;
  private synced = false;

  constructor(private readonly options: InformerOptions<T>) {
    this.informer = k8s.makeInformer(
      options.kubeConfig,
      options.path,
      options.list as unknown as k8s.ListPromise<k8s.KubernetesObject>,
      options.labelSelector,
    );
    const changed = (deleted: boolean) => (object: k8s.KubernetesObject) => {
      options.trim?.(object as unknown as T);
      if (!this.stopped) options.onChange(object as unknown as T, deleted);
    };
    this.informer.on('add', changed(false));
    this.informer.on('update', changed(false));
    this.informer.on('delete', changed(true));
    this.informer.on('error', (error: unknown) => {
      this.errors += 1;
      if (this.stopped) return;
      this.downSince ??= Date.now();
      this.failures += 1;
      const delay = backoffDelay(this.failures, {
        baseMs: options.minBackoffMs ?? 250,
        maxMs: options.maxBackoffMs ?? 5_000,
      });
      options.logger.warn('watch failed; restarting', {
        watch: options.name,
        path: options.path,
        error: describeError(error),
        retryInMs: delay,
        failures: this.failures,
      });
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.attempt();
      }, delay);
    });
  }

  /** Lists and starts watching; resolves once the first list is in the cache (or it failed and will retry). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.attempt();
  }

  /** True once a list has filled the cache. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * When (epoch ms) the watch last failed without having been restarted since; undefined while it
   * runs. A reader that must not act on a stale cache (the issuer server) measures from it.
   */
  get downSinceMs(): number | undefined {
    return this.downSince;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.informer.stop();
  }

  get(namespace: string, name: string): T | undefined {
    return this.informer.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): T[] {
    return [...this.informer.list(namespace)] as unknown as T[];
  }

  private failedSince(errors: number): boolean {
    return this.errors !== errors || this.stopped;
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const before = this.errors;
    try {
      await this.informer.start();
    } catch (error) {
      // start() reports through the error callbacks; a throw here is unexpected, but must not
      // leave the watch dead.
      this.errors += 1;
      this.options.logger.warn('watch start threw; restarting', {
        watch: this.options.name,
        error: describeError(error),
      });
      this.timer = setTimeout(() => void this.attempt(), this.options.maxBackoffMs ?? 5_000);
      return;
    }
    // Read through a method: the error callback and stop() may have run while start() awaited.
    if (this.failedSince(before)) return;
    this.synced = true;
    if (this.downSince !== undefined) {
      const downMs = Date.now() - this.downSince;
      this.options.logger.info('watch resumed', {
        watch: this.options.name,
        path: this.options.path,
        downMs,
        failures: this.failures,
      });
      this.options.onResumed?.(downMs);
    }
    this.downSince = undefined;
    this.failures = 0;
  }
}
