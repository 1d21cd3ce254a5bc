/**
 * Informers on what the operator waits on (issue 13), so progress is driven by watch events and a
 * pass reads from memory instead of the API server:
 * - the Secrets it manages, selected by WATCH_LABEL (`jwtrotation.io/managed=true`, put on every
 *   Secret it writes), so it never caches every Secret in the cluster;
 * - Deployments, StatefulSets and DaemonSets (targets, and unlisted consumers of a Secret);
 * - Pods (the signing switch waits until every pod of a target runs a revision that verifies the
 *   new key).
 * One informer per resource and watched namespace (or one cluster-wide when no namespace is given).
 * Each change is passed to `onChange`, which maps it to the JwtRotations that wait on it.
 */
import * as k8s from '@kubernetes/client-node';
import { WATCH_LABEL, WATCH_LABEL_VALUE } from '../../api/constants.ts';
import type { TargetKind } from '../../api/types.ts';
import type { Logger } from '../../platform/logger.ts';
import { ResilientInformer, type WatchedObject } from './informers.ts';

export type CachedKind = 'Secret' | 'Pod' | TargetKind;

type Listed<T> = Promise<{ metadata?: { resourceVersion?: string | undefined }; items: T[] }>;

interface Resource<T extends WatchedObject> {
  kind: CachedKind;
  /** The path segment before the plural: `/api/v1` or `/apis/apps/v1`. */
  prefix: string;
  plural: string;
  labelSelector?: string;
  listAll: (labelSelector: string | undefined) => Listed<T>;
  listIn: (namespace: string, labelSelector: string | undefined) => Listed<T>;
}

export class ClusterCache {
  private readonly informers = new Map<CachedKind, Map<string, ResilientInformer<WatchedObject>>>();

  constructor(
    kubeConfig: k8s.KubeConfig,
    logger: Logger,
    /** Watched namespaces; empty for every namespace. */
    private readonly namespaces: readonly string[],
    onChange: (kind: CachedKind, namespace: string, name: string, object: WatchedObject) => void,
  ) {
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    const sel = (labelSelector: string | undefined): { labelSelector?: string } =>
      labelSelector === undefined ? {} : { labelSelector };
    const resources: Resource<WatchedObject>[] = [
      {
        kind: 'Secret',
        prefix: '/api/v1',
        plural: 'secrets',
        labelSelector: `${WATCH_LABEL}=${WATCH_LABEL_VALUE}`,
        listAll: (s) => core.listSecretForAllNamespaces(sel(s)),
        listIn: (namespace, s) => core.listNamespacedSecret({ namespace, ...sel(s) }),
      },
      {
        kind: 'Deployment',
        prefix: '/apis/apps/v1',
        plural: 'deployments',
        listAll: (s) => apps.listDeploymentForAllNamespaces(sel(s)),
        listIn: (namespace, s) => apps.listNamespacedDeployment({ namespace, ...sel(s) }),
      },
      {
        kind: 'StatefulSet',
        prefix: '/apis/apps/v1',
        plural: 'statefulsets',
        listAll: (s) => apps.listStatefulSetForAllNamespaces(sel(s)),
        listIn: (namespace, s) => apps.listNamespacedStatefulSet({ namespace, ...sel(s) }),
      },
      {
        kind: 'DaemonSet',
        prefix: '/apis/apps/v1',
        plural: 'daemonsets',
        listAll: (s) => apps.listDaemonSetForAllNamespaces(sel(s)),
        listIn: (namespace, s) => apps.listNamespacedDaemonSet({ namespace, ...sel(s) }),
      },
      {
        kind: 'Pod',
        prefix: '/api/v1',
        plural: 'pods',
        listAll: (s) => core.listPodForAllNamespaces(sel(s)),
        listIn: (namespace, s) => core.listNamespacedPod({ namespace, ...sel(s) }),
      },
    ];
    const scopes = namespaces.length === 0 ? [''] : [...namespaces];
    for (const r of resources) {
      const byScope = new Map<string, ResilientInformer<WatchedObject>>();
      for (const scope of scopes) {
        byScope.set(
          scope,
          new ResilientInformer<WatchedObject>({
            name: scope === '' ? r.plural : `${r.plural}/${scope}`,
            kubeConfig,
            path: scope === '' ? `${r.prefix}/${r.plural}` : `${r.prefix}/namespaces/${scope}/${r.plural}`,
            list: () => (scope === '' ? r.listAll(r.labelSelector) : r.listIn(scope, r.labelSelector)),
            labelSelector: r.labelSelector,
            logger,
            onChange: (object) => {
              onChange(r.kind, object.metadata?.namespace ?? '', object.metadata?.name ?? '', object);
            },
          }),
        );
      }
      this.informers.set(r.kind, byScope);
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.informers.values()].flatMap((m) => [...m.values()].map((i) => i.start())));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].flatMap((m) => [...m.values()].map((i) => i.stop())));
  }

  /** The informer holding `namespace`'s objects of this kind, once it has listed; undefined otherwise. */
  private informer(kind: CachedKind, namespace: string): ResilientInformer<WatchedObject> | undefined {
    const byScope = this.informers.get(kind);
    const informer = byScope?.get(this.namespaces.length === 0 ? '' : namespace);
    return informer?.hasSynced ? informer : undefined;
  }

  /**
   * The cached object: `{ found }` (undefined when the cache knows it does not exist), or
   * undefined when this namespace or kind is not cached (not watched, or not listed yet).
   */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind's type
  get<T>(kind: CachedKind, namespace: string, name: string): { found: T | undefined } | undefined {
    const informer = this.informer(kind, namespace);
    if (informer === undefined) return undefined;
    return { found: informer.get(namespace, name) as T | undefined };
  }

  /** Every cached object of this kind in the namespace; undefined when not cached. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind's type
  list<T>(kind: CachedKind, namespace: string): T[] | undefined {
    return this.informer(kind, namespace)?.list(namespace) as T[] | undefined;
  }
}

/** Whether a label selector (matchLabels and matchExpressions) selects these labels. */
export function selects(
  selector:
    | {
        matchLabels?: Record<string, string> | undefined;
        matchExpressions?: { key: string; operator: string; values?: string[] | undefined }[] | undefined;
      }
    | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const have = labels ?? {};
  const matchLabels = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  // An empty selector selects nothing here, as labelSelector() in workloads.ts lists no pods for it.
  if (matchLabels.length === 0 && expressions.length === 0) return false;
  if (!matchLabels.every(([k, v]) => have[k] === v)) return false;
  return expressions.every((e) => {
    const value = have[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && (e.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(e.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        return false;
    }
  });
}
