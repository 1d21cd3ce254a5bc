/**
 * The Secret and workload ports read from the informer caches (src/adapters/kubernetes/cluster-cache.ts),
 * with the API server as the fallback: an object the cache does not hold (a Secret the operator has
 * not labelled yet, a namespace that is not watched, an informer that has not listed yet) is read
 * with a GET. Writes go straight to the live stores. Why a stale cache cannot cause an unsafe write:
 * docs/architecture.md, "Reads from the caches".
 */
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { TargetKind } from '../../api/types.ts';
import type { PodView } from '../../rotation/model.ts';
import type { WorkloadLike } from '../../rotation/rollout.ts';
import { ConflictError } from '../../platform/conflict.ts';
import type { ClusterCache } from './cluster-cache.ts';
import type { WatchedObject } from './informers.ts';
import type { KubernetesSecretStore } from './secrets.ts';
import { podViews, type KubernetesWorkloads } from './workloads.ts';

type SecretRecord = ReturnType<KubernetesSecretStore['record']>;

/** Implements SecretStore of src/reconcile/ports.ts over the cache. */
export class CachedSecretStore {
  /** Secrets the cache wrongly showed as absent (a create failed with 409): read live until seen. */
  private readonly readLive = new Set<string>();

  constructor(
    private readonly cache: ClusterCache,
    private readonly live: KubernetesSecretStore,
    /**
     * Secrets that exist only as the operator writes them, always with the watch label (the backup
     * Secrets): absent from a cache that has listed means absent, with no GET.
     */
    private readonly alwaysLabelled: (name: string) => boolean = () => false,
  ) {}

  async get(namespace: string, name: string): Promise<SecretRecord | undefined> {
    const cached = this.cache.get<V1Secret>('Secret', namespace, name);
    const key = `${namespace}/${name}`;
    if (cached?.found !== undefined) {
      this.readLive.delete(key);
      return this.live.record(cached.found);
    }
    if (cached !== undefined && this.alwaysLabelled(name) && !this.readLive.has(key)) return undefined;
    // Not labelled (yet), not watched, or not listed yet: ask the API server.
    return this.live.get(namespace, name);
  }

  create: KubernetesSecretStore['create'] = (...args) => this.live.create(...args);
  replace: KubernetesSecretStore['replace'] = (...args) => this.live.replace(...args);
  writeOwned: KubernetesSecretStore['writeOwned'] = async (owner, namespace, name, content, existing) => {
    try {
      await this.live.writeOwned(owner, namespace, name, content, existing);
    } catch (error) {
      // It exists although the cache does not hold it (someone took its label off): read it live.
      if (existing === undefined && error instanceof ConflictError) this.readLive.add(`${namespace}/${name}`);
      throw error;
    }
  };
  delete: KubernetesSecretStore['delete'] = (...args) => this.live.delete(...args);
}

/** Implements Workloads of src/reconcile/ports.ts over the cache. */
export class CachedWorkloads {
  constructor(
    private readonly cache: ClusterCache,
    private readonly live: KubernetesWorkloads,
  ) {}

  async get(namespace: string, kind: TargetKind, name: string): Promise<WorkloadLike | undefined> {
    const cached = this.cache.get<WorkloadLike>(kind, namespace, name)?.found;
    if (cached !== undefined) return cached;
    return this.live.get(namespace, kind, name);
  }

  async listReferencing(namespace: string, kind: TargetKind, secretName: string): Promise<WorkloadLike[]> {
    return (
      this.cache.workloadsReading<WorkloadLike & WatchedObject>(kind, namespace, secretName) ??
      (await this.live.listReferencing(namespace, kind, secretName))
    );
  }

  async listPods(namespace: string, workload: WorkloadLike, annotation: string): Promise<PodView[]> {
    // `selects` answers false for an empty selector, as the live store lists no pods for it.
    const pods = this.cache.podsSelectedBy<V1Pod & WatchedObject>(namespace, workload.spec?.selector);
    if (pods === undefined) return this.live.listPods(namespace, workload, annotation);
    return podViews(pods, annotation);
  }

  evictPod: KubernetesWorkloads['evictPod'] = (...args) => this.live.evictPod(...args);

  setTemplateAnnotation: KubernetesWorkloads['setTemplateAnnotation'] = (...args) =>
    this.live.setTemplateAnnotation(...args);
}
