/**
 * The PublishedKeySet watches: one informer over every namespace, or one per watched namespace, on
 * the project's resilient informer (src/adapters/kubernetes/informers.ts: restarts after failures,
 * keeps its cache meanwhile).
 */
import * as k8s from '@kubernetes/client-node';
import { ResilientInformer } from '../adapters/kubernetes/informers.ts';
import { apiClient } from '../adapters/kubernetes/keep-alive.ts';
import type { Logger } from '../platform/logger.ts';
import { PKS_GROUP, PKS_PLURAL, PKS_VERSION, type PublishedKeySet } from '../api/published-key-set.ts';

type Listed = Promise<{ metadata?: { resourceVersion?: string | undefined }; items: PublishedKeySet[] }>;

export class KeySetWatch {
  private readonly informers: ResilientInformer<PublishedKeySet>[];
  private readonly startedAt = Date.now();

  constructor(options: {
    kubeConfig: k8s.KubeConfig;
    namespaces: readonly string[];
    logger: Logger;
    trim: (object: PublishedKeySet) => void;
    onChange: (object: PublishedKeySet, deleted: boolean) => void;
  }) {
    const custom = apiClient(options.kubeConfig, k8s.CustomObjectsApi);
    const base = `/apis/${PKS_GROUP}/${PKS_VERSION}`;
    const scopes: (string | undefined)[] =
      options.namespaces.length === 0 ? [undefined] : [...options.namespaces];
    this.informers = scopes.map(
      (namespace) =>
        new ResilientInformer<PublishedKeySet>({
          name: namespace === undefined ? PKS_PLURAL : `${PKS_PLURAL} in ${namespace}`,
          kubeConfig: options.kubeConfig,
          path:
            namespace === undefined
              ? `${base}/${PKS_PLURAL}`
              : `${base}/namespaces/${namespace}/${PKS_PLURAL}`,
          list: () =>
            (namespace === undefined
              ? custom.listClusterCustomObject({ group: PKS_GROUP, version: PKS_VERSION, plural: PKS_PLURAL })
              : custom.listNamespacedCustomObject({
                  group: PKS_GROUP,
                  version: PKS_VERSION,
                  namespace,
                  plural: PKS_PLURAL,
                })) as Listed,
          logger: options.logger,
          trim: options.trim,
          onChange: options.onChange,
        }),
    );
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Every informer has listed once. */
  get synced(): boolean {
    return this.informers.every((i) => i.hasSynced);
  }

  /**
   * How long (ms) the cache may have been missing changes: 0 while every watch runs after its first
   * list; since start while one has not listed yet; since the oldest failure while one is down.
   */
  staleForMs(now: number): number {
    let since: number | undefined;
    for (const informer of this.informers) {
      const down = informer.hasSynced ? informer.downSinceMs : this.startedAt;
      if (down !== undefined && (since === undefined || down < since)) since = down;
    }
    return since === undefined ? 0 : Math.max(0, now - since);
  }
}
