/**
 * Composition root: configuration, logger, clock, metrics, API clients, the reconciler,
 * its work queue and the watch are built here and passed down; nothing else makes them.
 */
import * as k8s from '@kubernetes/client-node';
import { BACKUP_SECRET_SUFFIX, GROUP, PLURAL, VERSION } from './api/constants.ts';
import { KubernetesConfigMapStore } from './adapters/kubernetes/configmaps.ts';
import { describeError, isForbidden, isNotFound } from './adapters/kubernetes/errors.ts';
import { EventLane } from './adapters/kubernetes/event-lane.ts';
import { KubernetesEventRecorder } from './adapters/kubernetes/events.ts';
import { KubernetesJwtRotationStore } from './adapters/kubernetes/jwt-rotations.ts';
import { apiClient } from './adapters/kubernetes/keep-alive.ts';
import { LeaderElector } from './adapters/kubernetes/leader-election.ts';
import { KubernetesSecretStore } from './adapters/kubernetes/secrets.ts';
import { KubernetesWorkloads } from './adapters/kubernetes/workloads.ts';
import { CachedSecretStore, CachedWorkloads } from './adapters/kubernetes/cached-stores.ts';
import { ClusterCache, selects, type CachedKind } from './adapters/kubernetes/cluster-cache.ts';
import type { JwtRotation } from './api/types.ts';
import type { WatchedObject } from './adapters/kubernetes/informers.ts';
import type { WriteListener } from './adapters/kubernetes/write-listener.ts';
import { limitedClient, progressAllowance, TokenBucket } from './adapters/kubernetes/rate-limit.ts';
import type { WorkloadLike } from './rotation/rollout.ts';
import { readRefs, WakeIndex } from './reconcile/wake-index.ts';
import { objectRef, OwnWrites, type Freshness } from './reconcile/own-writes.ts';
import { JwtRotationOperator } from './adapters/operator/operator.ts';
import { WebhookNotifier } from './adapters/notify/webhook-notifier.ts';
import { PrometheusGateReader } from './adapters/prometheus/gate-reader.ts';
import { loadConfig, type Config } from './config.ts';
import { offsetClock, systemClock, type Clock } from './platform/clock.ts';
import {
  FAULT_DELAY_ENV,
  FAULT_ENV,
  faultDelayFromEnv,
  faultSwitchFromEnv,
} from './platform/fault-switch.ts';
import { startHttpServer } from './platform/http-server.ts';
import { generateKey } from './platform/keys.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { OperatorMetrics } from './platform/metrics.ts';
import { Reconciler } from './reconcile/reconciler.ts';
import { WorkQueue } from './reconcile/queue.ts';

/**
 * How long a write of the operator may wait for its watch event before passes read the API server
 * instead (a watch that is down, or one that listed again past that write).
 */
const OWN_WRITE_MAX_WAIT_MS = 10_000;
/** Events the lane holds before it drops new ones (client-go's broadcaster holds 1000). */
const EVENT_LANE_CAPACITY = 1000;
/** How long stopping waits for queued Events to be sent. */
const EVENT_FLUSH_MS = 5000;

interface RunningOperator {
  port: number;
  stop(): Promise<void>;
}

export async function startOperator(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
  onLostLeadership: () => void = () => {
    // Another replica holds the Lease now; a fresh process starts over as a follower.
    process.exit(1);
  },
): Promise<RunningOperator> {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  // Every request of a pass takes a token (KUBE_API_QPS, KUBE_API_BURST); the watches and the Lease
  // renewals do not, so a busy operator can neither starve its leadership nor miss events.
  const metrics = new OperatorMetrics();
  const bucket = new TokenBucket(config.kubeApiQps, config.kubeApiBurst, (seconds) => {
    metrics.throttled('passes', seconds);
  });
  // Test-only: JWTR_FAULT_EXIT_AFTER_WRITES makes the process exit right after a write, and
  // JWTR_FAULT_DELAY_FIRST_WRITE holds a write back (both off unless set).
  const faults = faultSwitchFromEnv(process.env);
  if (faults !== undefined)
    logger.warn('fault switch on: the operator exits after a write', { env: FAULT_ENV });
  const delay = faultDelayFromEnv(process.env);
  if (delay !== undefined)
    logger.warn('fault switch on: the operator holds writes back', { env: FAULT_DELAY_ENV });
  const before = delay === undefined ? undefined : delay.beforeRequest.bind(delay);
  const core = limitedClient(kubeConfig, k8s.CoreV1Api, bucket, before);
  const custom = limitedClient(kubeConfig, k8s.CustomObjectsApi, bucket, before);
  const objects = limitedClient(kubeConfig, k8s.KubernetesObjectApi, bucket, before);
  // The operator's writes that its watches have not shown yet (src/reconcile/own-writes.ts).
  const cache: { current?: ClusterCache } = {};
  const ownWrites = new OwnWrites(
    () => performance.now(),
    OWN_WRITE_MAX_WAIT_MS,
    (ref) => {
      const [kind = '', namespace = ''] = ref.split('/');
      return kind === 'JwtRotation' || (cache.current?.watches(kind, namespace) ?? false);
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
    faults?.afterWrite(kind, namespace, name);
  };

  // Serve /healthz first: waiting for the CRD is not a reason for the kubelet to restart the pod.
  let started = false;
  const http = await startHttpServer({
    host: config.httpHost,
    port: config.httpPort,
    registry: metrics.registry,
    // A follower is ready too: it is up and waiting for the Lease.
    isReady: () => started,
  });
  await waitForCrd(kubeConfig, logger, config.watchNamespaces);

  const queue: { current?: WorkQueue } = {};
  const wake = (key: string): void => queue.current?.enqueue(key);
  // From a changed Secret, workload or pod to the JwtRotations waiting on it.
  const index = new WakeIndex(
    selects,
    (kind, namespace, name) => cache.current?.get<WorkloadLike>(kind, namespace, name)?.found,
  );
  const operator = new JwtRotationOperator(
    kubeConfig,
    logger,
    { namespaces: config.watchNamespaces, labelSelector: config.shardSelector },
    (type, namespace, name, resource) => {
      const key = `${namespace}/${name}`;
      ownWrites.observed(
        objectRef('JwtRotation', namespace, name),
        type === 'DELETED' ? null : (resource.metadata.resourceVersion ?? ''),
      );
      if (type === 'DELETED') {
        index.remove(key);
        queue.current?.forget(key);
        metrics.forget(namespace, name);
      } else {
        // A user's change (a request, a new spec) waits for a worker ahead of the wakes of rollouts.
        const byUser = index.set(resource);
        queue.current?.enqueue(key, 0, byUser);
      }
    },
  );
  cache.current = new ClusterCache(
    kubeConfig,
    logger,
    config.watchNamespaces,
    (kind, namespace, name, object, deleted) => {
      ownWrites.observed(
        objectRef(kind, namespace, name),
        deleted ? null : (object.metadata?.resourceVersion ?? ''),
      );
      for (const key of index.keysFor(kind, namespace, name, object)) wake(key);
    },
  );

  const notifier = new WebhookNotifier({
    onSettled: (namespace, name) => queue.current?.enqueue(`${namespace}/${name}`),
    onAttemptFailed: (receiver, attempt, error) =>
      logger.warn('notification attempt failed', { receiver, attempt, error }),
  });
  const conflicted = (kind: string): void => {
    metrics.conflicted(kind);
    logger.debug('409 Conflict from another writer; written again on a fresh read', { kind });
  };
  const liveSecrets = new KubernetesSecretStore(core, config.fieldManager, wrote, conflicted);
  const liveWorkloads = new KubernetesWorkloads(objects, core, config.fieldManager, wrote);
  const liveResources = new KubernetesJwtRotationStore(custom, config.fieldManager, wrote, conflicted);
  // Events go out in the background on a client of their own (./adapters/kubernetes/event-lane.ts).
  const eventBucket = new TokenBucket(config.kubeApiEventQps, config.kubeApiEventBurst, (seconds) => {
    metrics.throttled('events', seconds);
  });
  const events = new EventLane(
    new KubernetesEventRecorder(limitedClient(kubeConfig, k8s.CoreV1Api, eventBucket, before), clock, wrote),
    EVENT_LANE_CAPACITY,
    {
      onQueued: (length) => {
        metrics.eventQueue(length);
      },
      onDropped: (reason) => {
        metrics.eventDropped();
        logger.debug('event dropped: the event lane is full', { reason });
      },
      onFailed: (reason, error) => {
        logger.warn('event not recorded', { reason, error: describeError(error) });
      },
    },
  );
  const fresh = (resource: JwtRotation): Freshness =>
    ownWrites.check(readRefs(resource), (ref) => {
      const [kind = '', namespace = '', name = ''] = ref.split('/');
      const found =
        kind === 'JwtRotation'
          ? operator.cached(namespace, name)
          : cache.current?.get<WatchedObject>(kind as CachedKind, namespace, name)?.found;
      return found?.metadata?.resourceVersion;
    });
  const reconciler = new Reconciler({
    clock,
    logger,
    metrics,
    // A pass reads the caches, once they show its own last writes (`freshness`); `live` reads the
    // API server, for a write the watch has not shown in time and for the signing switch's pods.
    resources: {
      get: async (namespace, name) =>
        operator.cached(namespace, name) ?? (await liveResources.get(namespace, name)),
      writeStatus: (r, s) => liveResources.writeStatus(r, s),
    },
    secrets: new CachedSecretStore(cache.current, liveSecrets, (name) => name.endsWith(BACKUP_SECRET_SUFFIX)),
    workloads: new CachedWorkloads(cache.current, liveWorkloads),
    live: { resources: liveResources, secrets: liveSecrets, workloads: liveWorkloads },
    freshness: {
      check: fresh,
      settled: (resource, timeoutMs) =>
        new Promise<boolean>((resolve) => {
          if (fresh(resource) === 'fresh') {
            resolve(true);
            return;
          }
          const finish = (result: boolean): void => {
            stop();
            clearTimeout(timer);
            resolve(result);
          };
          const stop = ownWrites.listen(() => {
            if (fresh(resource) === 'fresh') finish(true);
          });
          const timer = setTimeout(() => {
            finish(false);
          }, timeoutMs);
        }),
    },
    events,
    // A progress-only status write goes out only while the rate limit is unused (its bucket full),
    // and a rotating JwtRotation's within a budget of its own; under load it rides along with the
    // next write that moves the rotation on (bench/README.md, fourth and fifth rounds).
    progressWriteAllowed: progressAllowance(bucket, config.kubeApiQps),
    gate: new PrometheusGateReader(),
    newKey: generateKey,
    configMaps: new KubernetesConfigMapStore(core, config.fieldManager, wrote),
    notifier,
    outbound: config.outbound,
    requesterIdentity: config.requesterIdentity,
    // Wiring only: the log line, and the fault switch's notice-recorded kind (tests stop the operator
    // there, between deciding a notice and delivering it).
    noticesRecorded: (namespace, name, notices) => {
      logger.debug('notices recorded', { namespace, name, notices: notices.map((n) => n.kind) });
      faults?.afterWrite('notice-recorded', namespace, name);
    },
  });

  queue.current = new WorkQueue(
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
      // A JwtRotation deleted while its pass ran: that pass reported its phase after the deletion.
      onStarted: (waited) => {
        metrics.waitedForWorker(waited);
      },
      onDropped: (key) => {
        const [namespace = '', name = ''] = key.split('/');
        metrics.forget(namespace, name);
      },
    },
  );

  // The slow safety resync: every JwtRotation is looked at again at least every resync period,
  // spread over the period so that N of them do not all come due at once.
  let resync: NodeJS.Timeout | undefined;
  const scheduleResync = (): void => {
    resync = setTimeout(() => {
      const all = operator.all();
      all.forEach((r, i) => {
        const key = `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`;
        queue.current?.enqueue(key, Math.floor((i / Math.max(1, all.length)) * config.resyncPeriodMs));
      });
      scheduleResync();
    }, config.resyncPeriodMs);
    resync.unref();
  };

  const lead = async (): Promise<void> => {
    metrics.setLeader(true);
    // Side by side: until a cache has listed, passes read through it from the API server.
    const t0 = performance.now();
    await Promise.all([cache.current?.start(), operator.start()]);
    logger.debug('watches started', { ms: Math.round(performance.now() - t0) });
    scheduleResync();
    logger.info('operator started', {
      namespaces: config.watchNamespaces.length === 0 ? '(all)' : config.watchNamespaces.join(','),
      shardSelector: config.shardSelector || '(none)',
      workers: config.workers,
      httpPort: http.port,
      server: kubeConfig.getCurrentCluster()?.server,
    });
  };
  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector(
      apiClient(kubeConfig, k8s.CoordinationV1Api),
      clock,
      logger,
      config.leaderElection,
    );
    logger.info('waiting for the lease', {
      lease: config.leaderElection.name,
      identity: config.leaderElection.identity,
      httpPort: http.port,
    });
    elector.run(lead, () => {
      metrics.setLeader(false);
      clearTimeout(resync);
      operator.stop();
      void cache.current?.stop();
      queue.current?.stop();
      onLostLeadership();
    });
  } else {
    await lead();
  }
  started = true;

  return {
    port: http.port,
    async stop() {
      elector?.stop();
      clearTimeout(resync);
      operator.stop();
      await cache.current?.stop();
      queue.current?.stop();
      await queue.current?.idle();
      await events.flush(EVENT_FLUSH_MS);
      await http.close();
    },
  };
}

/**
 * Without the CRD the watch fails; wait for it and say why, instead of crash-looping.
 *
 * The check reads the CRD itself, which needs `get` on customresourcedefinitions: a cluster-scoped
 * grant. With namespaced RBAC (Helm `rbac.scope: Namespaced`, deploy/components/namespaced/) the operator has
 * Roles only, so that read is refused (403); it then asks each watched namespace for one JwtRotation
 * of the version it needs instead: a 404 means the CRD is missing or does not serve that version, a
 * 200 that the watches will work. No cluster-scoped grant is needed for that.
 */
async function waitForCrd(
  kubeConfig: k8s.KubeConfig,
  logger: Logger,
  namespaces: readonly string[],
): Promise<void> {
  const api = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const crdName = `${PLURAL}.${GROUP}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const crd = await api.readCustomResourceDefinition({ name: crdName });
      if (crd.spec.versions.some((v) => v.name === VERSION && v.served)) return;
      logger.error('CRD does not serve the version this operator needs', {
        crd: crdName,
        version: VERSION,
      });
    } catch (error) {
      if (isForbidden(error) && namespaces.length > 0) {
        if (await servedInEvery(custom, namespaces, logger, attempt)) {
          logger.info('CRD not readable (namespaced RBAC); every watched namespace serves it', {
            crd: crdName,
            version: VERSION,
          });
          return;
        }
      } else {
        logger.warn('waiting for the JwtRotation CRD; install crds/ with kubectl or Helm', {
          crd: crdName,
          error: describeError(error),
          attempt,
        });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5))));
  }
}

/** Whether every namespace lists JwtRotations of VERSION (at most one object is read from each). */
async function servedInEvery(
  custom: k8s.CustomObjectsApi,
  namespaces: readonly string[],
  logger: Logger,
  attempt: number,
): Promise<boolean> {
  for (const namespace of namespaces) {
    try {
      await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        limit: 1,
      });
    } catch (error) {
      logger.warn(
        isNotFound(error)
          ? 'waiting for the JwtRotation CRD; install crds/ with kubectl or Helm'
          : 'cannot list JwtRotations in a watched namespace; check the RBAC there',
        { crd: `${PLURAL}.${GROUP}`, version: VERSION, namespace, error: describeError(error), attempt },
      );
      return false;
    }
  }
  return true;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  // Tests only: CLOCK_OFFSET_FILE names a file holding milliseconds to add to the wall clock.
  const clockFile = process.env.CLOCK_OFFSET_FILE;
  const running = await startOperator(config, logger, clockFile ? offsetClock(clockFile) : systemClock);
  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.once('SIGINT', () => {
    shutdown('SIGINT');
  });
}

if (
  import.meta.url === `file://${process.argv[1] ?? ''}` ||
  process.argv[1]?.endsWith('src/main.ts') ||
  process.argv[1]?.endsWith('dist/main.js')
) {
  main().catch((error: unknown) => {
    process.stderr.write(`jwt-rotation-operator failed to start: ${describeError(error)}\n`);
    process.exit(1);
  });
}
