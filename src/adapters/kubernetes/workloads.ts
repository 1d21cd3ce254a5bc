/** Reads the target workloads and rolls them by changing a pod-template annotation. */
import { PatchStrategy, type KubernetesObject, type KubernetesObjectApi } from '@kubernetes/client-node';
import type { TargetKind } from '../../api/types.ts';
import type { WorkloadLike } from '../../rotation/rollout.ts';
import { isNotFound } from './errors.ts';

type Workload = KubernetesObject & WorkloadLike;

/** Implements Workloads of src/reconcile/ports.ts. */
export class KubernetesWorkloads {
  constructor(
    private readonly objects: KubernetesObjectApi,
    private readonly fieldManager: string,
    private readonly onWrite: (kind: string, namespace: string) => void,
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
    await this.objects.patch(
      patch,
      undefined,
      undefined,
      this.fieldManager,
      undefined,
      PatchStrategy.MergePatch,
    );
    this.onWrite('workload-patch', namespace);
  }
}
