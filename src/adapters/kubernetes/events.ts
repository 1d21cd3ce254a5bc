/**
 * Kubernetes Events on a JwtRotation, as `kubectl describe` shows them. A repeat of the
 * same reason and message bumps the count of the Event already there instead of adding one.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { JwtRotation } from '../../api/types.ts';
import type { Clock } from '../../platform/clock.ts';
import { describeError } from './errors.ts';

const COMPONENT = 'jwt-rotation-operator';

/** Implements EventRecorder of src/reconcile/ports.ts. */
export class KubernetesEventRecorder {
  private readonly seen = new Map<string, { name: string; count: number }>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly clock: Clock,
    private readonly onWrite: (kind: string, namespace: string, name: string) => void,
  ) {}

  /** Records an Event on the resource; a failure throws an Error that names no request body. */
  async record(
    resource: JwtRotation,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const object = {
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      namespace: resource.metadata.namespace ?? '',
      name: resource.metadata.name ?? '',
      uid: resource.metadata.uid ?? '',
    };
    try {
      await this.write(object, type, reason, message);
    } catch (error) {
      throw new Error(describeError(error), { cause: error });
    }
  }

  private async write(
    object: { apiVersion: string; kind: string; namespace: string; name: string; uid: string },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date(this.clock.now());
    const key = `${object.uid}/${type}/${reason}/${message}`;
    const previous = this.seen.get(key);
    if (previous) {
      try {
        await this.core.patchNamespacedEvent(
          {
            namespace: object.namespace,
            name: previous.name,
            body: { count: previous.count + 1, lastTimestamp: now },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        previous.count += 1;
        this.onWrite('event', object.namespace, previous.name);
        return;
      } catch {
        // Events expire (an hour by default); start a new one.
        this.seen.delete(key);
      }
    }
    const event: CoreV1Event = {
      metadata: { generateName: `${object.name}.`, namespace: object.namespace },
      involvedObject: { ...object },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: COMPONENT,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const created = await this.core.createNamespacedEvent({ namespace: object.namespace, body: event });
    this.onWrite('event', object.namespace, created.metadata.name ?? '');
    this.seen.set(key, { name: created.metadata.name ?? '', count: 1 });
    if (this.seen.size > 1000) this.seen.delete(this.seen.keys().next().value ?? '');
  }
}
