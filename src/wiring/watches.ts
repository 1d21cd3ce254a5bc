/**
 * What the operator watches: JwtRotations (through the framework adapter) and, in informer caches,
 * the Secrets, workloads and pods it waits on. A change reaches the wake index, which names the
 * JwtRotations waiting on it; those keys go on the work queue at once.
 */
import type * as k8s from '@kubernetes/client-node';
import { ClusterCache, selects, type CachedKind } from '../adapters/kubernetes/cluster-cache.ts';
import type { WatchedObject } from '../adapters/kubernetes/informers.ts';
import { KubernetesKeySetStore } from '../adapters/kubernetes/published-key-sets.ts';
import { JwtRotationOperator } from '../adapters/operator/operator.ts';
import type { JwtRotation } from '../api/types.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../platform/logger.ts';
import type { OperatorMetrics } from '../platform/metrics.ts';
import { objectRef, type OwnWrites } from '../reconcile/own-writes.ts';
import { WakeIndex } from '../reconcile/wake-index.ts';
import type { WorkloadLike } from '../rotation/rollout.ts';
import type { WatchedVersions } from './own-writes.ts';

/** Where watch events send a key: the work queue, once it exists. */
export interface Wakeable {
  enqueue(key: string, afterMs?: number, urgent?: boolean): void;
  forget(key: string): void;
}

export interface Watches extends WatchedVersions {
  jwtRotations: JwtRotationOperator;
  cache: ClusterCache;
  /** PublishedKeySets and issuer server Leases, watched from the first JwtRotation with spec.issuer. */
  keySets: KubernetesKeySetStore;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface WatchDeps {
  config: Config;
  kubeConfig: k8s.KubeConfig;
  /** The passes' rate-limited client, for the key sets' writes and live reads. */
  custom: k8s.CustomObjectsApi;
  wrote: (kind: string, namespace: string, name: string) => void;
  logger: Logger;
  metrics: OperatorMetrics;
  ownWrites: OwnWrites;
  queue: () => Wakeable | undefined;
  /** A deleted JwtRotation gives up its place in the rollout budget. */
  budget?: { forget(key: string): void };
}

export function makeWatches(deps: WatchDeps): Watches {
  const holder: { cache?: ClusterCache } = {};
  // From a changed Secret, workload or pod to the JwtRotations waiting on it.
  const index = new WakeIndex(
    selects,
    (kind, namespace, name) => holder.cache?.get<WorkloadLike>(kind, namespace, name)?.found,
  );
  const jwtRotations = watchJwtRotations(deps, index);
  const cache = (holder.cache = watchWhatRotationsWaitOn(deps, index));
  const keySets = watchKeySets(deps);
  return {
    jwtRotations,
    cache,
    keySets,
    watches: (kind, namespace) => cache.watches(kind, namespace),
    version(ref) {
      const [kind = '', namespace = '', name = ''] = ref.split('/');
      const found =
        kind === 'JwtRotation'
          ? jwtRotations.cached(namespace, name)
          : cache.get<WatchedObject>(kind as CachedKind, namespace, name)?.found;
      return found?.metadata?.resourceVersion;
    },
    // Side by side: until a cache has listed, passes read through it from the API server.
    start: async () => {
      await Promise.all([cache.start(), jwtRotations.start()]);
    },
    stop: async () => {
      jwtRotations.stop();
      await Promise.all([cache.stop(), keySets.stop()]);
    },
  };
}

/** JwtRotations: a user's change (a request, a new spec) waits for a worker ahead of the wakes of rollouts. */
function watchJwtRotations(deps: WatchDeps, index: WakeIndex): JwtRotationOperator {
  const { config, kubeConfig, logger, metrics, ownWrites, queue } = deps;
  return new JwtRotationOperator(
    kubeConfig,
    logger,
    { namespaces: config.watchNamespaces, labelSelector: config.shardSelector },
    (type, namespace, name, resource: JwtRotation) => {
      const key = `${namespace}/${name}`;
      ownWrites.observed(
        objectRef('JwtRotation', namespace, name),
        type === 'DELETED' ? null : (resource.metadata.resourceVersion ?? ''),
      );
      if (type === 'DELETED') {
        index.remove(key);
        queue()?.forget(key);
        deps.budget?.forget(key);
        metrics.forget(namespace, name);
      } else {
        const byUser = index.set(resource);
        queue()?.enqueue(key, 0, byUser);
      }
    },
  );
}

/** The Secrets, workloads and pods rotations wait on; a change wakes the JwtRotations the wake index names. */
function watchWhatRotationsWaitOn(deps: WatchDeps, index: WakeIndex): ClusterCache {
  const { config, kubeConfig, logger, ownWrites, queue } = deps;
  return new ClusterCache(
    kubeConfig,
    logger,
    config.watchNamespaces,
    (kind, namespace, name, object, deleted) => {
      ownWrites.observed(
        objectRef(kind, namespace, name),
        deleted ? null : (object.metadata?.resourceVersion ?? ''),
      );
      for (const key of index.keysFor(kind, namespace, name, object)) queue()?.enqueue(key);
    },
  );
}

/** PublishedKeySets: a server replica's report wakes the JwtRotation of the same name (its switch may wait on it). */
function watchKeySets(deps: WatchDeps): KubernetesKeySetStore {
  const { config, kubeConfig, logger, queue } = deps;
  return new KubernetesKeySetStore(
    kubeConfig,
    deps.custom,
    logger,
    config.fieldManager,
    config.watchNamespaces,
    config.issuerServerNamespace,
    deps.wrote,
    (namespace, name) => queue()?.enqueue(`${namespace}/${name}`),
  );
}
