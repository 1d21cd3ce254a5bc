/**
 * The work queue that runs passes, and the slow safety resync that puts every JwtRotation back on
 * it at least once a resync period.
 */
import { describeError } from '../adapters/kubernetes/errors.ts';
import type { JwtRotation } from '../api/types.ts';
import type { Config } from '../config.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';
import { WorkQueue } from '../reconcile/queue.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';

export function makeWorkQueue(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
  reconciler: Reconciler;
}): WorkQueue {
  const { config, clock, logger, metrics, reconciler } = deps;
  return new WorkQueue(
    (key) => {
      const [namespace = '', name = ''] = key.split('/');
      return reconciler.reconcile(namespace, name);
    },
    {
      clock,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      workers: config.workers,
      onError: (key, error, retryInMs) =>
        logger.warn('reconcile failed; retrying', { key, error: describeError(error), retryInMs }),
      onStarted: (waited) => {
        metrics.waitedForWorker(waited);
      },
      // A JwtRotation deleted while its pass ran: that pass reported its phase after the deletion.
      onDropped: (key) => {
        const [namespace = '', name = ''] = key.split('/');
        metrics.forget(namespace, name);
      },
    },
  );
}

/**
 * Every JwtRotation is looked at again at least every resync period, spread over the period so
 * that N of them do not all come due at once. Returns the function that stops it.
 */
export function startResync(periodMs: number, all: () => JwtRotation[], queue: WorkQueue): () => void {
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(() => {
      const resources = all();
      resources.forEach((r, i) => {
        const key = `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`;
        queue.enqueue(key, Math.floor((i / Math.max(1, resources.length)) * periodMs));
      });
      schedule();
    }, periodMs);
    timer.unref();
  };
  schedule();
  return () => {
    clearTimeout(timer);
  };
}
