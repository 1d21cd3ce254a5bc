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
import { selects, type ClusterCache } from './cluster-cache.ts';
import type { KubernetesSecretStore } from './secrets.ts';
import type { KubernetesWorkloads } from './workloads.ts';

type SecretRecord = ReturnType<KubernetesSecretStore['record']>;

/** Implements SecretStore of src/reconcile/ports.ts over the cache. */
export class CachedSecretStore {
  constructor(
    private readonly cache: ClusterCache,
    private readonly live: KubernetesSecretStore,
  ) {}

  async get(namespace: string, name: string): Promise<SecretRecord | undefined> {
    const cached = this.cache.get<V1Secret>('Secret', namespace, name)?.found;
    if (cached !== undefined) return this.live.record(cached);
    // Not labelled (yet), not watched, or not listed yet: ask the API server.
    return this.live.get(namespace, name);
  }

  create: KubernetesSecretStore['create'] = (...args) => this.live.create(...args);
  replace: KubernetesSecretStore['replace'] = (...args) => this.live.replace(...args);
  writeOwned: KubernetesSecretStore['writeOwned'] = (...args) => this.live.writeOwned(...args);
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

  async list(namespace: string, kind: TargetKind): Promise<WorkloadLike[]> {
    return this.cache.list<WorkloadLike>(kind, namespace) ?? (await this.live.list(namespace, kind));
  }

  async listPods(namespace: string, workload: WorkloadLike, annotation: string): Promise<PodView[]> {
    const pods = this.cache.list<V1Pod>('Pod', namespace);
    if (pods === undefined) return this.live.listPods(namespace, workload, annotation);
    return pods
      .filter((p) => selects(workload.spec?.selector, p.metadata?.labels))
      .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      .map((p) => ({ name: p.metadata?.name ?? '', revision: p.metadata?.annotations?.[annotation] }));
  }

  setTemplateAnnotation: KubernetesWorkloads['setTemplateAnnotation'] = (...args) =>
    this.live.setTemplateAnnotation(...args);
}
