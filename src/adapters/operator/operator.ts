/**
 * The one file that imports @dot-i/k8s-operator. It supplies the watch on JwtRotations
 * (events become work-queue keys) and the status helper, and adapts the framework to
 * @kubernetes/client-node 1.x:
 * - `k8sApi.basePath` no longer exists, so URIs are built from the kubeconfig's server;
 * - `registerCustomResourceDefinition` calls the 0.x API, so CRDs are installed by kubectl/Helm;
 * - the framework's status helper logs and returns null on failure, so this adapter throws instead,
 *   letting the work queue retry with backoff.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import dotI, { type ResourceEvent } from '@dot-i/k8s-operator';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../api/constants.ts';
import type { JwtRotation, JwtRotationStatus } from '../../api/types.ts';
import type { Logger } from '../../platform/logger.ts';

const Operator = dotI.default;
const { ResourceMetaImpl } = dotI;

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export class JwtRotationOperator extends Operator {
  private started = false;

  constructor(
    kubeConfig: KubeConfig,
    logger: Logger,
    private readonly namespace: string,
    private readonly onEvent: (type: WatchEventType, namespace: string, name: string) => void,
  ) {
    super({
      debug: (message) => logger.debug(message, { component: 'k8s-operator' }),
      info: (message) => logger.info(message, { component: 'k8s-operator' }),
      warn: (message) => logger.warn(message, { component: 'k8s-operator' }),
      error: (message) => logger.error(message, { component: 'k8s-operator' }),
    });
    // The framework loads its own default kubeconfig; use the one main.ts built.
    this.kubeConfig = kubeConfig;
    this.k8sApi = kubeConfig.makeApiClient((this.k8sApi as object).constructor as never);
  }

  get isWatching(): boolean {
    return this.started && !this.detached;
  }

  private detached = false;

  /**
   * Stops delivering events without aborting the watch: the framework's watch callback calls
   * process.exit(1) on any watch error, an abort included, so an in-process stop would kill the
   * host process. The watch connection ends with the process.
   */
  detach(): void {
    this.detached = true;
  }

  protected override async init(): Promise<void> {
    await this.watchResource(
      GROUP,
      VERSION,
      PLURAL,
      (event: ResourceEvent) => {
        const { namespace = '', name } = event.meta;
        if (!this.detached) this.onEvent(event.type, namespace, name);
        return Promise.resolve();
      },
      this.namespace === '' ? undefined : this.namespace,
    );
    this.started = true;
  }

  protected override getCustomResourceApiUri(
    group: string,
    version: string,
    plural: string,
    namespace?: string,
  ): string {
    let path = group ? `/apis/${group}/${version}/` : `/api/${version}/`;
    if (namespace) path += `namespaces/${namespace}/`;
    path += plural;
    const server = this.kubeConfig.getCurrentCluster()?.server ?? '';
    return server.replace(/\/+$/, '') + path;
  }

  /** Replaces the status subresource, guarded by the resourceVersion the pass read. */
  async writeStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<void> {
    const meta = ResourceMetaImpl.createWithPlural(PLURAL, {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name: resource.metadata.name ?? '',
        namespace: resource.metadata.namespace ?? '',
        resourceVersion: resource.metadata.resourceVersion ?? '',
      },
    });
    const written = await this.setResourceStatus(meta, status);
    if (written === null) {
      throw new Error(
        `status of ${resource.metadata.namespace ?? ''}/${resource.metadata.name ?? ''} not written (conflict or API error)`,
      );
    }
  }
}
