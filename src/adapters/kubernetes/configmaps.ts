/**
 * Reads and writes the ConfigMaps the operator publishes (the JWKS of an asymmetric JwtRotation).
 * They hold public keys only. A ConfigMap gets no owner reference: deleting a JwtRotation must not
 * take away the keys that verifiers run on.
 */
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { MANAGED_LABEL, MANAGED_LABEL_VALUE, SecretAnnotations } from '../../api/constants.ts';
import { ConflictError } from '../../platform/conflict.ts';
import { isConflict, isNotFound } from './errors.ts';

/** A ConfigMap as read (the shape of ConfigMapRecord in src/reconcile/ports.ts). */
interface ReadConfigMap {
  readonly resourceVersion: string;
  readonly data: Readonly<Record<string, string>>;
}

export class KubernetesConfigMapStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly fieldManager: string,
    private readonly onWrite: (kind: string, namespace: string, name: string) => void,
  ) {}

  async get(namespace: string, name: string): Promise<ReadConfigMap | undefined> {
    const object = await this.read(namespace, name);
    if (object === undefined) return undefined;
    return { resourceVersion: object.metadata?.resourceVersion ?? '', data: { ...object.data } };
  }

  /**
   * Creates the ConfigMap or sets `data`'s keys on it, keeping its other keys, labels and
   * annotations. The replace carries the resourceVersion just read: a concurrent writer makes it
   * fail with ConflictError, and the work queue runs the pass again.
   */
  async write(
    namespace: string,
    name: string,
    data: Record<string, string>,
    managedBy: string,
  ): Promise<void> {
    const current = await this.read(namespace, name);
    if (current === undefined) {
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace,
          labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
          annotations: { [SecretAnnotations.managedBy]: managedBy },
        },
        data,
      };
      try {
        await this.core.createNamespacedConfigMap({ namespace, body, fieldManager: this.fieldManager });
      } catch (error) {
        if (isConflict(error)) throw new ConflictError(`ConfigMap ${name} appeared meanwhile`);
        throw error;
      }
      this.onWrite('configmap-create', namespace, name);
      return;
    }
    const body: V1ConfigMap = {
      ...current,
      metadata: {
        ...current.metadata,
        labels: { ...current.metadata?.labels, [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
        annotations: { ...current.metadata?.annotations, [SecretAnnotations.managedBy]: managedBy },
      },
      data: { ...current.data, ...data },
    };
    try {
      await this.core.replaceNamespacedConfigMap({ namespace, name, body, fieldManager: this.fieldManager });
    } catch (error) {
      if (isConflict(error)) throw new ConflictError(`ConfigMap ${name} changed meanwhile`);
      throw error;
    }
    this.onWrite('configmap-update', namespace, name);
  }

  private async read(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ namespace, name });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
