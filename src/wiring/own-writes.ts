/**
 * The operator's writes that its watches have not shown yet (src/reconcile/own-writes.ts), the
 * listener every adapter calls after a write, and the freshness check a pass makes before it reads
 * the caches.
 */
import type { WriteListener } from '../adapters/kubernetes/write-listener.ts';
import type { JwtRotation } from '../api/types.ts';
import type { Logger } from '../platform/logger.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';
import { objectRef, OwnWrites, type Freshness, type ObjectRef } from '../reconcile/own-writes.ts';
import { readRefs } from '../reconcile/wake-index.ts';
import type { OperatorHooks } from './hooks.ts';

/**
 * How long a write of the operator may wait for its watch event before passes read the API server
 * instead (a watch that is down, or one that listed again past that write).
 */
const OWN_WRITE_MAX_WAIT_MS = 10_000;

/** What the watches answer about an object (they are made after this, once the CRD is served). */
export interface WatchedVersions {
  /** Whether a watch cache holds this kind in this namespace. */
  watches(kind: string, namespace: string): boolean;
  /** The resourceVersion the caches hold for this object, if any. */
  version(ref: ObjectRef): string | undefined;
}

export interface OwnWriteTracking {
  ownWrites: OwnWrites;
  wrote: WriteListener;
  freshness: {
    check(resource: JwtRotation): Freshness;
    /** Resolves true once the caches show the pass's writes, false after timeoutMs. */
    settled(resource: JwtRotation, timeoutMs: number): Promise<boolean>;
  };
}

export function trackOwnWrites(deps: {
  metrics: OperatorMetrics;
  logger: Logger;
  hooks: OperatorHooks;
  watched: () => WatchedVersions | undefined;
}): OwnWriteTracking {
  const { metrics, logger, hooks, watched } = deps;
  const ownWrites = new OwnWrites(
    () => performance.now(),
    OWN_WRITE_MAX_WAIT_MS,
    (ref) => {
      const [kind = '', namespace = ''] = ref.split('/');
      return kind === 'JwtRotation' || (watched()?.watches(kind, namespace) ?? false);
    },
    (ref, wrote, cached) => {
      metrics.ownWriteLate(ref.split('/')[0] ?? '');
      logger.debug('own write not seen by the watch in time; the pass reads from the API server', {
        object: ref,
        wrote: wrote ?? '(deleted)',
        cached: cached ?? '(absent)',
      });
    },
  );
  const wrote: WriteListener = (kind, namespace, name, written) => {
    if (written !== undefined)
      ownWrites.wrote(objectRef(written.kind, namespace, name), written.resourceVersion);
    metrics.wrote(kind, namespace);
    hooks.afterWrite?.(kind, namespace, name);
  };
  const check = (resource: JwtRotation): Freshness =>
    ownWrites.check(readRefs(resource), (ref) => watched()?.version(ref));
  const settled = (resource: JwtRotation, timeoutMs: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      if (check(resource) === 'fresh') {
        resolve(true);
        return;
      }
      const finish = (result: boolean): void => {
        stop();
        clearTimeout(timer);
        resolve(result);
      };
      const stop = ownWrites.listen(() => {
        if (check(resource) === 'fresh') finish(true);
      });
      const timer = setTimeout(() => {
        finish(false);
      }, timeoutMs);
    });
  return { ownWrites, wrote, freshness: { check, settled } };
}
