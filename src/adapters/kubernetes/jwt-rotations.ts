/** Reads JwtRotations and writes their status subresource with client-node. */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, VERSION } from '../../api/constants.ts';
import type { JwtRotation, JwtRotationStatus } from '../../api/types.ts';
import { canonical } from '../../platform/canonical.ts';
import { isNotFound } from './errors.ts';
import type { WriteListener } from './write-listener.ts';

/** Implements JwtRotationStore of src/reconcile/ports.ts. */
export class KubernetesJwtRotationStore {
  constructor(
    private readonly api: CustomObjectsApi,
    private readonly fieldManager: string,
    private readonly onWrite: WriteListener,
    private readonly onConflict: (kind: string) => void = () => undefined,
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

  /**
   * Writes status, guarded by the resourceVersion the pass read. When that write is refused and the
   * object changed only where the pass did not look (another writer's labels, say: the same
   * generation, annotations and status), the decision still holds and the write is made again on
   * the fresh resourceVersion. Anything else is the caller's failure, and the next pass decides again.
   */
  async writeStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<void> {
    const namespace = resource.metadata.namespace ?? '';
    const name = resource.metadata.name ?? '';
    let target = resource;
    let resourceVersion: string;
    for (let attempt = 0; ; attempt++) {
      try {
        resourceVersion = await this.replaceStatus(target, status);
        break;
      } catch (error) {
        if (attempt >= STATUS_RETRIES) throw error;
        const fresh = await this.get(namespace, name);
        if (
          fresh === undefined ||
          fresh.metadata.resourceVersion === target.metadata.resourceVersion ||
          !onlyOthersChanged(resource, fresh)
        )
          throw error;
        this.onConflict('status');
        target = fresh;
      }
    }
    this.onWrite('status', namespace, name, { kind: 'JwtRotation', resourceVersion });
  }

  /**
   * PUT of the status subresource, guarded by `resource`'s resourceVersion (409 when it moved on);
   * the API server takes only `status` from the body. Resolves to the object's new resourceVersion.
   */
  private async replaceStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<string> {
    const namespace = resource.metadata.namespace ?? '';
    const name = resource.metadata.name ?? '';
    const written = (await this.api.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      fieldManager: this.fieldManager,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: KIND,
        metadata: { name, namespace, resourceVersion: resource.metadata.resourceVersion ?? '' },
        status,
      },
    })) as JwtRotation;
    return written.metadata.resourceVersion ?? '';
  }
}

const STATUS_RETRIES = 5;

/** Same generation, annotations (the requests), status and no deletion: what a pass decides on. */
function onlyOthersChanged(before: JwtRotation, after: JwtRotation): boolean {
  const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
  return (
    after.metadata.deletionTimestamp === undefined &&
    after.metadata.uid === before.metadata.uid &&
    after.metadata.generation === before.metadata.generation &&
    same(after.metadata.annotations ?? {}, before.metadata.annotations ?? {}) &&
    same(after.status ?? {}, before.status ?? {})
  );
}
