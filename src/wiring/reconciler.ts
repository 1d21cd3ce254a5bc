/**
 * The reconciler and what it reads and writes through: the caches first (once they show the pass's
 * own writes), the API server for what they cannot answer, Events on a lane of their own, and the
 * notifier of spec.notifications receivers.
 */
import { describeError } from '../adapters/kubernetes/errors.ts';
import { CachedSecretStore, CachedWorkloads } from '../adapters/kubernetes/cached-stores.ts';
import { KubernetesConfigMapStore } from '../adapters/kubernetes/configmaps.ts';
import { EventLane } from '../adapters/kubernetes/event-lane.ts';
import { KubernetesEventRecorder } from '../adapters/kubernetes/events.ts';
import { KubernetesJwtRotationStore } from '../adapters/kubernetes/jwt-rotations.ts';
import { KubernetesMemberClusters } from '../adapters/kubernetes/member-clusters.ts';
import { progressAllowance } from '../adapters/kubernetes/rate-limit.ts';
import { KubernetesSecretStore } from '../adapters/kubernetes/secrets.ts';
import { KubernetesWorkloads } from '../adapters/kubernetes/workloads.ts';
import type { OperatorHooks } from './hooks.ts';
import { WebhookNotifier } from '../adapters/notify/webhook-notifier.ts';
import { RelyingPartyProber } from '../adapters/oidc/relying-party-prober.ts';
import { PrometheusGateReader } from '../adapters/prometheus/gate-reader.ts';
import { signProbeToken } from '../platform/probe-token.ts';
import { BACKUP_SECRET_SUFFIX } from '../api/constants.ts';
import type { Config } from '../config.ts';
import type { Clock } from '../platform/clock.ts';
import { generateKey } from '../platform/keys.ts';
import type { Logger } from '../platform/logger.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';
import { Reconciler } from '../reconcile/reconciler.ts';
import type { RolloutBudget } from '../reconcile/rollout-budget.ts';
import type { ApiClients } from './clients.ts';
import type { OwnWriteTracking } from './own-writes.ts';
import type { Wakeable, Watches } from './watches.ts';

/** Events the lane holds before it drops new ones (client-go's broadcaster holds 1000). */
const EVENT_LANE_CAPACITY = 1000;

interface ReconcilerDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
  clients: ApiClients;
  writes: OwnWriteTracking;
  watches: Watches;
  queue: () => Wakeable | undefined;
  hooks: OperatorHooks;
  budget: RolloutBudget;
}

/** Events go out in the background on a client of their own (src/adapters/kubernetes/event-lane.ts). */
export function eventLane(deps: ReconcilerDeps): EventLane {
  const { clients, clock, writes, metrics, logger } = deps;
  return new EventLane(
    new KubernetesEventRecorder(clients.eventsCore, clock, writes.wrote),
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
}

export function makeReconciler(deps: ReconcilerDeps, events: EventLane): Reconciler {
  const { config, clock, logger, metrics, clients, writes, watches, queue, hooks, budget } = deps;
  const conflicted = (kind: string): void => {
    metrics.conflicted(kind);
    logger.debug('409 Conflict from another writer; written again on a fresh read', { kind });
  };
  const { core, custom, objects } = clients;
  const liveSecrets = new KubernetesSecretStore(core, config.fieldManager, writes.wrote, conflicted);
  const liveWorkloads = new KubernetesWorkloads(objects, core, config.fieldManager, writes.wrote);
  const liveResources = new KubernetesJwtRotationStore(custom, config.fieldManager, writes.wrote, conflicted);
  const notifier = new WebhookNotifier({
    onSettled: (namespace, name) => queue()?.enqueue(`${namespace}/${name}`),
    onAttemptFailed: (receiver, attempt, error) =>
      logger.warn('notification attempt failed', { receiver, attempt, error }),
  });
  return new Reconciler({
    clock,
    logger,
    metrics,
    // A pass reads the caches, once they show its own last writes (`freshness`); `live` reads the
    // API server, for a write the watch has not shown in time and for the signing switch's pods.
    resources: {
      get: async (namespace, name) =>
        watches.jwtRotations.cached(namespace, name) ?? (await liveResources.get(namespace, name)),
      writeStatus: (r, s) => liveResources.writeStatus(r, s),
    },
    secrets: new CachedSecretStore(watches.cache, liveSecrets, (name) => name.endsWith(BACKUP_SECRET_SUFFIX)),
    workloads: new CachedWorkloads(watches.cache, liveWorkloads),
    live: { resources: liveResources, secrets: liveSecrets, workloads: liveWorkloads },
    freshness: writes.freshness,
    events,
    // A progress-only status write goes out only while the rate limit is unused (its bucket full),
    // and a rotating JwtRotation's within a budget of its own; under load it rides along with the
    // next write that moves the rotation on (bench/README.md, fourth and fifth rounds).
    progressWriteAllowed: progressAllowance(clients.bucket, config.kubeApiQps),
    gate: new PrometheusGateReader(),
    newKey: generateKey,
    configMaps: new KubernetesConfigMapStore(core, config.fieldManager, writes.wrote),
    notifier,
    outbound: config.outbound,
    requesterIdentity: config.requesterIdentity,
    // The log line, and the tests' fault switch (kind notice-recorded stops the operator between
    // deciding a notice and delivering it).
    noticesRecorded: (namespace, name, notices) => {
      logger.debug('notices recorded', { namespace, name, notices: notices.map((n) => n.kind) });
      hooks.afterWrite?.('notice-recorded', namespace, name);
    },
    keySets: watches.keySets,
    prober: new RelyingPartyProber(clients.authentication),
    probeSigner: signProbeToken,
    // spec.clusters: a client per member kubeconfig Secret, remade when that Secret changes.
    members: new KubernetesMemberClusters(config.fieldManager),
    budget,
  });
}
