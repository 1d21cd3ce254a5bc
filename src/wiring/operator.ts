/**
 * The composition root of the operator process, top to bottom: clients and metrics, the HTTP
 * server, the CRD, the watches, the reconciler and its work queue, then leadership. Every part is
 * made here and passed down; no module keeps a singleton.
 */
import * as k8s from '@kubernetes/client-node';
import { LeaderElector } from '../adapters/kubernetes/leader-election.ts';
import { apiClient } from '../adapters/kubernetes/keep-alive.ts';
import type { Config } from '../config.ts';
import { startHttpServer } from '../platform/http-server.ts';
import type { Logger } from '../platform/logger.ts';
import { OperatorMetrics } from '../platform/metrics.ts';
import type { WorkQueue } from '../reconcile/queue.ts';
import { apiClients } from './clients.ts';
import type { OperatorOptions } from './hooks.ts';
import { trackOwnWrites } from './own-writes.ts';
import { eventLane, makeReconciler } from './reconciler.ts';
import { waitForCrd } from './wait-for-crd.ts';
import { makeWatches, type Watches } from './watches.ts';
import { makeRolloutBudget, rollingKeys } from './rollout-budget.ts';
import type { RolloutBudget } from '../reconcile/rollout-budget.ts';
import { makeWorkQueue, startResync } from './work-queue.ts';

/** How long stopping waits for queued Events to be sent. */
const EVENT_FLUSH_MS = 5000;

export interface RunningOperator {
  port: number;
  stop(): Promise<void>;
}

export async function startOperator(
  config: Config,
  logger: Logger,
  options: OperatorOptions,
): Promise<RunningOperator> {
  const { clock, hooks = {} } = options;
  const metrics = new OperatorMetrics();
  const clients = apiClients(config, metrics, hooks);
  const late: { watches?: Watches; queue?: WorkQueue } = {};
  const writes = trackOwnWrites({ metrics, logger, hooks, watched: () => late.watches });

  // Serve /healthz first: waiting for the CRD is not a reason for the kubelet to restart the pod.
  // A follower is ready too: it is up and waiting for the Lease.
  let started = false;
  const http = await startHttpServer({
    host: config.httpHost,
    port: config.httpPort,
    registry: metrics.registry,
    isReady: () => started,
  });
  await waitForCrd(clients.kubeConfig, logger, config.watchNamespaces);

  const queue = (): WorkQueue | undefined => late.queue;
  const budget = makeRolloutBudget(config.maxConcurrentRollouts, (key) => late.queue?.enqueue(key));
  const watches = makeWatches({
    budget,
    config,
    kubeConfig: clients.kubeConfig,
    custom: clients.custom,
    wrote: (kind, namespace, name) => {
      writes.wrote(kind, namespace, name, undefined);
    },
    logger,
    metrics,
    ownWrites: writes.ownWrites,
    queue,
  });
  late.watches = watches;
  const deps = { config, clock, logger, metrics, clients, writes, watches, queue, hooks, budget };
  const events = eventLane(deps);
  const reconciler = makeReconciler(deps, events);
  const work = makeWorkQueue({ config, clock, logger, metrics, reconciler });
  late.queue = work;

  const leadership = await lead({
    config,
    logger,
    metrics,
    options,
    clients,
    watches,
    work,
    port: http.port,
    budget,
  });
  started = true;
  return {
    port: http.port,
    async stop() {
      leadership.stop();
      await watches.stop();
      work.stop();
      await work.idle();
      await events.flush(EVENT_FLUSH_MS);
      await http.close();
    },
  };
}

/**
 * Starts the watches and the resync now (no leader election) or whenever this replica gets the
 * Lease, and stops them when it loses it.
 */
async function lead(deps: {
  config: Config;
  logger: Logger;
  metrics: OperatorMetrics;
  options: OperatorOptions;
  clients: { kubeConfig: k8s.KubeConfig };
  watches: Watches;
  work: WorkQueue;
  port: number;
  budget: RolloutBudget;
}): Promise<{ stop(): void }> {
  const { config, logger, metrics, options, clients, watches, work, port, budget } = deps;
  let stopResync = (): void => undefined;
  const start = async (): Promise<void> => {
    metrics.setLeader(true);
    const t0 = performance.now();
    await watches.start();
    logger.debug('watches started', { ms: Math.round(performance.now() - t0) });
    seedBudget(budget, watches);
    stopResync = startResync(config.resyncPeriodMs, () => watches.jwtRotations.all(), work);
    logger.info('operator started', {
      namespaces: config.watchNamespaces.length === 0 ? '(all)' : config.watchNamespaces.join(','),
      shardSelector: config.shardSelector || '(none)',
      workers: config.workers,
      maxConcurrentRollouts: config.maxConcurrentRollouts,
      rolling: budget.counts.rolling,
      httpPort: port,
      server: clients.kubeConfig.getCurrentCluster()?.server,
    });
  };
  if (config.leaderElection === undefined) {
    await start();
    return {
      stop: () => {
        stopResync();
      },
    };
  }
  const elector = new LeaderElector(
    apiClient(clients.kubeConfig, k8s.CoordinationV1Api),
    options.clock,
    logger,
    config.leaderElection,
  );
  logger.info('waiting for the lease', {
    lease: config.leaderElection.name,
    identity: config.leaderElection.identity,
    httpPort: port,
  });
  elector.run(start, () => {
    metrics.setLeader(false);
    stopResync();
    void watches.stop();
    work.stop();
    // Another replica holds the Lease now; a fresh process starts over as a follower.
    (options.onLostLeadership ?? (() => process.exit(1)))();
  });
  return {
    stop: () => {
      elector.stop();
      stopResync();
    },
  };
}

/** Who rolls now, from what the cluster shows, before anyone is admitted (docs/architecture.md). */
function seedBudget(budget: RolloutBudget, watches: Watches): void {
  budget.seed(
    rollingKeys(
      watches.jwtRotations.all(),
      (namespace, name) =>
        watches.cache.get<{ metadata?: { annotations?: Record<string, string> } }>('Secret', namespace, name)
          ?.found?.metadata?.annotations,
    ),
  );
}
