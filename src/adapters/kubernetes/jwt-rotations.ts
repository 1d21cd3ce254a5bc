/** Reads JwtRotations with client-node; status is written through the operator adapter. */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../api/constants.ts';
import type { JwtRotation, JwtRotationStatus } from '../../api/types.ts';
import { isNotFound } from './errors.ts';

/** Implements JwtRotationStore of src/reconcile/ports.ts. */
export class KubernetesJwtRotationStore {
  constructor(
    private readonly api: CustomObjectsApi,
    private readonly statusWriter: (resource: JwtRotation, status: JwtRotationStatus) => Promise<void>,
    private readonly onWrite: (kind: string, namespace: string, name: string) => void,
  ) {}

  async get(namespace: string, name: string): Promise<JwtRotation | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
      })) as JwtRotation;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async writeStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<void> {
    await this.statusWriter(resource, status);
    this.onWrite('status', resource.metadata.namespace ?? '', resource.metadata.name ?? '');
  }
}
