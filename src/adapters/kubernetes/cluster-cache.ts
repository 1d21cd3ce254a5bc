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
import { secretsReferenced } from '../../rotation/rollout.ts';
import { ResilientInformer, type WatchedObject } from './informers.ts';
import { apiClient } from './keep-alive.ts';
import { trimWorkload } from './trim.ts';

export type CachedKind = 'Secret' | 'Pod' | TargetKind;

type Listed<T> = Promise<{ metadata?: { resourceVersion?: string | undefined }; items: T[] }>;

interface Resource<T extends WatchedObject> {
  kind: CachedKind;
  /** Drops what no pass reads (see ResilientInformer's `trim`). */
  trim?: (object: T) => void;
  /** The path segment before the plural: `/api/v1` or `/apis/apps/v1`. */
  prefix: string;
  plural: string;
  labelSelector?: string;
  listAll: (labelSelector: string | undefined) => Listed<T>;
  listIn: (namespace: string, labelSelector: string | undefined) => Listed<T>;
}

/**
 * Object names in a namespace by an index key, kept up to date from the watch events, so a pass finds
 * a target's pods and a Secret's readers without scanning every object of the namespace.
 */
export class NameIndex {
  private readonly names = new Map<string, Set<string>>();
  private readonly keysOf = new Map<string, readonly string[]>();

  /** Indexes `name` under these keys (and no longer under the ones it had). */
  set(namespace: string, name: string, keys: readonly string[]): void {
    this.delete(namespace, name);
    this.keysOf.set(`${namespace}/${name}`, keys);
    for (const key of keys) {
      const at = `${namespace}\n${key}`;
      let set = this.names.get(at);
      if (set === undefined) this.names.set(at, (set = new Set()));
      set.add(name);
    }
  }

  delete(namespace: string, name: string): void {
    const id = `${namespace}/${name}`;
    for (const key of this.keysOf.get(id) ?? []) {
      const at = `${namespace}\n${key}`;
      const set = this.names.get(at);
      set?.delete(name);
      if (set?.size === 0) this.names.delete(at);
    }
    this.keysOf.delete(id);
  }

  get(namespace: string, key: string): ReadonlySet<string> {
    return this.names.get(`${namespace}\n${key}`) ?? EMPTY;
  }
}
const EMPTY: ReadonlySet<string> = new Set();

type Selector = Parameters<typeof selects>[0];

export class ClusterCache {
  private readonly informers = new Map<CachedKind, Map<string, ResilientInformer<WatchedObject>>>();
  /** Pods by `label=value`. */
  private readonly podsByLabel = new NameIndex();
  /** Workloads of each kind by the Secrets their pod templates read. */
  private readonly bySecret = new Map<CachedKind, NameIndex>();

  constructor(
    kubeConfig: k8s.KubeConfig,
    logger: Logger,
    /** Watched namespaces; empty for every namespace. */
    private readonly namespaces: readonly string[],
    onChange: (
      kind: CachedKind,
      namespace: string,
      name: string,
      object: WatchedObject,
      deleted: boolean,
    ) => void,
  ) {
    const core = apiClient(kubeConfig, k8s.CoreV1Api);
    const apps = apiClient(kubeConfig, k8s.AppsV1Api);
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
        trim: trimWorkload,
        listAll: (s) => apps.listDeploymentForAllNamespaces(sel(s)),
        listIn: (namespace, s) => apps.listNamespacedDeployment({ namespace, ...sel(s) }),
      },
      {
        kind: 'StatefulSet',
        prefix: '/apis/apps/v1',
        plural: 'statefulsets',
        trim: trimWorkload,
        listAll: (s) => apps.listStatefulSetForAllNamespaces(sel(s)),
        listIn: (namespace, s) => apps.listNamespacedStatefulSet({ namespace, ...sel(s) }),
      },
      {
        kind: 'DaemonSet',
        prefix: '/apis/apps/v1',
        plural: 'daemonsets',
        trim: trimWorkload,
        listAll: (s) => apps.listDaemonSetForAllNamespaces(sel(s)),
        listIn: (namespace, s) => apps.listNamespacedDaemonSet({ namespace, ...sel(s) }),
      },
      {
        kind: 'Pod',
        prefix: '/api/v1',
        plural: 'pods',
        trim: trimPod,
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
            trim: r.trim,
            logger,
            onChange: (object, deleted) => {
              const namespace = object.metadata?.namespace ?? '';
              const name = object.metadata?.name ?? '';
              this.index(r.kind, namespace, name, object, deleted);
              onChange(r.kind, namespace, name, object, deleted);
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

  private index(
    kind: CachedKind,
    namespace: string,
    name: string,
    object: WatchedObject,
    deleted: boolean,
  ): void {
    if (kind === 'Secret') return;
    if (kind === 'Pod') {
      if (deleted) this.podsByLabel.delete(namespace, name);
      else
        this.podsByLabel.set(
          namespace,
          name,
          Object.entries(object.metadata?.labels ?? {}).map(([k, v]) => `${k}=${v}`),
        );
      return;
    }
    let index = this.bySecret.get(kind);
    if (index === undefined) this.bySecret.set(kind, (index = new NameIndex()));
    if (deleted) index.delete(namespace, name);
    else index.set(namespace, name, secretsReferenced(object));
  }

  /**
   * The cached pods of the namespace that the selector selects; undefined when pods of this namespace
   * are not cached. Looked up by the selector's rarest label, then checked against the whole selector.
   */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind's type
  podsSelectedBy<T extends WatchedObject>(namespace: string, selector: Selector): T[] | undefined {
    const informer = this.informer('Pod', namespace);
    if (informer === undefined) return undefined;
    const pairs = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) =>
      this.podsByLabel.get(namespace, `${k}=${v}`),
    );
    const candidates =
      pairs.length === 0
        ? informer.list(namespace)
        : [...pairs.reduce((a, b) => (b.size < a.size ? b : a))].flatMap((n) => {
            const pod = informer.get(namespace, n);
            return pod === undefined ? [] : [pod];
          });
    return candidates.filter((p) => selects(selector, p.metadata?.labels)) as T[];
  }

  /** The cached workloads of this kind in the namespace that read the Secret; undefined when not cached. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind's type
  workloadsReading<T extends WatchedObject>(
    kind: CachedKind,
    namespace: string,
    secretName: string,
  ): T[] | undefined {
    const informer = this.informer(kind, namespace);
    if (informer === undefined) return undefined;
    const names = this.bySecret.get(kind)?.get(namespace, secretName) ?? EMPTY;
    return [...names].flatMap((n) => {
      const w = informer.get(namespace, n);
      return w === undefined ? [] : [w as T];
    });
  }

  /** Whether a watch covers this kind in this namespace (listed or not yet). */
  watches(kind: string, namespace: string): boolean {
    const byScope = this.informers.get(kind as CachedKind);
    return byScope?.has(this.namespaces.length === 0 ? '' : namespace) ?? false;
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

/**
 * Workloads are patched, never replaced from the cache, so what the API server records of who set
 * which field (often the largest part of the object) is not needed.
 * Secrets are not trimmed: a Secret write is a replace of the object read, which keeps every field.
 */
export function dropManagedFields(object: WatchedObject): void {
  const metadata = object.metadata as { managedFields?: unknown } | undefined;
  if (metadata !== undefined) delete metadata.managedFields;
}

/**
 * A pod as the passes read it: its name, labels and annotations (the revision it was started from;
 * the selector that finds it), whether it is being deleted, its phase and its Ready condition. The rest (spec, the
 * container statuses, managedFields) is most of a pod and is dropped.
 */
export function trimPod(object: WatchedObject): void {
  const pod = object as {
    metadata?: Record<string, unknown>;
    spec?: unknown;
    status?: { phase?: string | undefined } & Record<string, unknown>;
  };
  if (pod.metadata !== undefined) {
    const { name, namespace, uid, resourceVersion, labels, annotations, deletionTimestamp } = pod.metadata;
    pod.metadata = { name, namespace, uid, resourceVersion, labels, annotations, deletionTimestamp };
  }
  delete pod.spec;
  if (pod.status !== undefined) {
    // Readiness: an OnDelete target's next pod is evicted only while every other one is ready.
    const ready = (pod.status.conditions as { type?: string; status?: string }[] | undefined)?.find(
      (c) => c.type === 'Ready',
    );
    pod.status = {
      phase: pod.status.phase,
      ...(ready === undefined ? {} : { conditions: [{ type: 'Ready', status: ready.status }] }),
    };
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
