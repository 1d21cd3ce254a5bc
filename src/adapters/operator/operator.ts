/**
 * The one file that imports @dot-i/k8s-operator. The framework gives the operator its lifecycle
 * (`start()` → `init()`). The watches are client-node informers
 * (src/adapters/kubernetes/informers.ts), because the framework's own watch calls
 * `process.exit(1)` on any watch error, so an API server restart killed every replica at once
 * (issue 10), and it keeps no cache and takes no label selector (issue 13). Status is written with
 * client-node too (src/adapters/kubernetes/jwt-rotations.ts): the framework's status helper makes a
 * new HTTPS agent, so a new TLS connection, for every write, and status writes are a third of a
 * rotation's requests.
 *
 * Adapting the framework to @kubernetes/client-node 1.x:
 * - `k8sApi.basePath` no longer exists, so URIs are built from the kubeconfig's server;
 * - `registerCustomResourceDefinition` calls the 0.x API, so CRDs are installed by kubectl/Helm.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import dotI from '@dot-i/k8s-operator';
import { GROUP, PLURAL, VERSION } from '../../api/constants.ts';
import type { JwtRotation } from '../../api/types.ts';
import type { Logger } from '../../platform/logger.ts';
import { ResilientInformer } from '../kubernetes/informers.ts';
import { trimJwtRotation } from '../kubernetes/trim.ts';
import { apiClient } from '../kubernetes/keep-alive.ts';

const Operator = dotI.default;

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface JwtRotationWatchOptions {
  /** Namespaces whose JwtRotations are watched; empty for every namespace. */
  namespaces: readonly string[];
  /** Only JwtRotations matching this label selector (sharding); empty for all. */
  labelSelector?: string;
}

export class JwtRotationOperator extends Operator {
  private started = false;
  private detached = false;
  private readonly informers: ResilientInformer<JwtRotation>[];

  constructor(
    kubeConfig: KubeConfig,
    logger: Logger,
    watch: JwtRotationWatchOptions,
    private readonly onEvent: (
      type: WatchEventType,
      namespace: string,
      name: string,
      resource: JwtRotation,
    ) => void,
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

    const custom = apiClient(kubeConfig, k8s.CustomObjectsApi);
    const labelSelector = watch.labelSelector || undefined;
    const selector = labelSelector === undefined ? {} : { labelSelector };
    const scopes = watch.namespaces.length === 0 ? [undefined] : [...watch.namespaces];
    this.informers = scopes.map(
      (namespace) =>
        new ResilientInformer<JwtRotation>({
          name: namespace === undefined ? PLURAL : `${PLURAL}/${namespace}`,
          kubeConfig,
          path:
            namespace === undefined
              ? `/apis/${GROUP}/${VERSION}/${PLURAL}`
              : `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
          list: async () =>
            (namespace === undefined
              ? await custom.listClusterCustomObject({
                  group: GROUP,
                  version: VERSION,
                  plural: PLURAL,
                  ...selector,
                })
              : await custom.listNamespacedCustomObject({
                  group: GROUP,
                  version: VERSION,
                  namespace,
                  plural: PLURAL,
                  ...selector,
                })) as { items: JwtRotation[] },
          labelSelector,
          logger,
          trim: trimJwtRotation,
          onChange: (object, deleted) => {
            if (this.detached) return;
            const { namespace: ns = '', name = '' } = object.metadata;
            this.onEvent(deleted ? 'DELETED' : 'MODIFIED', ns, name, object);
          },
        }),
    );
  }

  get isWatching(): boolean {
    return this.started && !this.detached;
  }

  /** The last JwtRotation the watch delivered (may lag the API server by the watch's latency). */
  cached(namespace: string, name: string): JwtRotation | undefined {
    for (const informer of this.informers) {
      const found = informer.get(namespace, name);
      if (found) return found;
    }
    return undefined;
  }

  /** Every JwtRotation the watches hold (the slow safety resync walks it). */
  all(): JwtRotation[] {
    return this.informers.flatMap((i) => i.list());
  }

  /** Stops delivering events and closes the watches. */
  detach(): void {
    this.detached = true;
    for (const informer of this.informers) void informer.stop();
  }

  override stop(): void {
    this.detach();
  }

  protected override async init(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
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
}
