/**
 * Reads the target workloads and their pods, finds the workloads that read a Secret, and rolls a
 * workload by changing a pod-template annotation.
 */
import {
  PatchStrategy,
  type CoreV1Api,
  type V1Pod,
  type KubernetesObject,
  type KubernetesObjectApi,
} from '@kubernetes/client-node';
import type { TargetKind } from '../../api/types.ts';
import type { PodView } from '../../rotation/model.ts';
import { referencesSecret, type WorkloadLike } from '../../rotation/rollout.ts';
import { describeError, isNotFound, statusCode } from './errors.ts';
import type { WriteListener } from './write-listener.ts';

type Workload = KubernetesObject & WorkloadLike;

/** Implements Workloads of src/reconcile/ports.ts. */
export class KubernetesWorkloads {
  constructor(
    private readonly objects: KubernetesObjectApi,
    private readonly core: CoreV1Api,
    private readonly fieldManager: string,
    private readonly onWrite: WriteListener,
  ) {}

  async get(namespace: string, kind: TargetKind, name: string): Promise<Workload | undefined> {
    try {
      return await this.objects.read<Workload>({
        apiVersion: 'apps/v1',
        kind,
        metadata: { name, namespace },
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Every workload of this kind in the namespace whose pod template reads the Secret. */
  async listReferencing(namespace: string, kind: TargetKind, secretName: string): Promise<Workload[]> {
    const list = await this.objects.list<Workload>('apps/v1', kind, namespace);
    return list.items.filter((w) => referencesSecret(w, secretName));
  }

  /**
   * The pods of a workload that have not finished (Pending, Running, or terminating): any may
   * serve traffic. Selected by the workload's label selector, so pods of old ReplicaSets count.
   * Each carries the annotation of the template it was created from.
   */
  async listPods(namespace: string, workload: WorkloadLike, annotation: string): Promise<PodView[]> {
    const selector = labelSelector(workload.spec?.selector);
    if (selector === undefined) return [];
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: selector });
    return podViews(pods.items, annotation);
  }

  /**
   * Evicts the pod (policy/v1 Eviction): the API server refuses with 429 what a PodDisruptionBudget
   * does not allow now. A pod already gone counts as evicted.
   */
  async evictPod(namespace: string, name: string): Promise<string | undefined> {
    try {
      await this.core.createNamespacedPodEviction({
        name,
        namespace,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
      });
      return undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      // 429: a disruption budget allows none now; 500 with several budgets matching the pod.
      if (statusCode(error) === 429) return describeError(error);
      throw error;
    }
  }

  /** A new annotation value on the pod template makes the workload controller roll every pod, as `kubectl rollout restart` does. */
  async setTemplateAnnotation(
    namespace: string,
    kind: TargetKind,
    name: string,
    key: string,
    value: string,
  ): Promise<void> {
    const patch = {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace },
      spec: { template: { metadata: { annotations: { [key]: value } } } },
    };
    const patched = await this.objects.patch(
      patch,
      undefined,
      undefined,
      this.fieldManager,
      undefined,
      PatchStrategy.MergePatch,
    );
    this.onWrite('workload-patch', namespace, name, {
      kind,
      resourceVersion: (patched as KubernetesObject).metadata?.resourceVersion ?? '',
    });
  }
}

/** A label selector as a query string; undefined for none (which would select every pod). */
export function labelSelector(selector: NonNullable<WorkloadLike['spec']>['selector']): string | undefined {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length === 0 ? undefined : parts.join(',');
}

/** The pods that have not finished, as the core sees them (a cached pod is trimmed to these fields). */
export function podViews(pods: readonly Pick<V1Pod, 'metadata' | 'status'>[], annotation: string): PodView[] {
  return pods
    .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .map((p) => ({
      name: p.metadata?.name ?? '',
      revision: p.metadata?.annotations?.[annotation],
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      terminating: p.metadata?.deletionTimestamp != null,
    }));
}
