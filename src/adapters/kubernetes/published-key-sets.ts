/**
 * The PublishedKeySets the operator writes for JwtRotations with spec.issuer (public keys only, no
 * owner reference: deleting a JwtRotation must not take away the keys verifiers run on), and the
 * Leases of the issuer server replicas, which say which replicas are alive.
 *
 * Both are watched, but only from the first JwtRotation with an issuer on (a cluster that never
 * uses one may not have the PublishedKeySet CRD). Until a watch has listed, reads go to the API
 * server. A change to a PublishedKeySet (a replica reporting what it serves) wakes the JwtRotation
 * of the same name through `onChange`.
 */
import * as k8s from '@kubernetes/client-node';
import {
  GROUP,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  SecretAnnotations,
  VERSION,
} from '../../api/constants.ts';
import {
  ISSUER_SERVER_LABEL,
  PKS_KIND,
  PKS_PLURAL,
  type Fetcher,
  type PublishedKeySet,
  type PublishedKeySetSpec,
  type ServerEntry,
} from '../../api/published-key-set.ts';
import { ConflictError } from '../../platform/conflict.ts';
import type { Logger } from '../../platform/logger.ts';
import { isConflict, isNotFound } from './errors.ts';
import { ResilientInformer, type WatchedObject } from './informers.ts';
import { apiClient } from './keep-alive.ts';

/** As the API server returns it: a field the operator always writes may still be missing. */
type PublishedKeySetObject = PublishedKeySet & WatchedObject;
/** The spec the operator writes: every field (KeySetSpec in src/reconcile/ports.ts). */
type KeySetSpec = Required<PublishedKeySetSpec>;
type ServerReport = ServerEntry & { fetchers: Fetcher[] };

interface LeaseObject extends WatchedObject {
  spec?: { renewTime?: string | Date; leaseDurationSeconds?: number; holderIdentity?: string };
}

export class KubernetesKeySetStore {
  /** By watched namespace ('' for all). */
  private readonly keySets = new Map<string, ResilientInformer<PublishedKeySetObject>>();
  private readonly leases: ResilientInformer<LeaseObject>;
  private started = false;

  constructor(
    kubeConfig: k8s.KubeConfig,
    /** For writes and the reads before the watches have listed (rate-limited like every pass request). */
    private readonly custom: k8s.CustomObjectsApi,
    private readonly logger: Logger,
    private readonly fieldManager: string,
    /** The namespaces whose JwtRotations this operator watches; empty for every namespace. */
    namespaces: readonly string[],
    /** Where the issuer server replicas keep their Leases; '' for every namespace. */
    serverNamespace: string,
    private readonly onWrite: (kind: string, namespace: string, name: string) => void,
    onChange: (namespace: string, name: string) => void,
    /** Wall-clock time, to tell a fresh Lease: the servers' clocks are real ones, whatever the operator's is. */
    private readonly wallClock: () => number = () => Date.now(),
  ) {
    const watchCustom = apiClient(kubeConfig, k8s.CustomObjectsApi);
    const coordination = apiClient(kubeConfig, k8s.CoordinationV1Api);
    // One watch per watched namespace (the namespaced RBAC mode grants nothing cluster-wide), or one
    // cluster-wide.
    const scopes = namespaces.length === 0 ? [''] : [...namespaces];
    for (const scope of scopes) {
      this.keySets.set(
        scope,
        new ResilientInformer<PublishedKeySetObject>({
          name: scope === '' ? PKS_PLURAL : `${PKS_PLURAL}/${scope}`,
          kubeConfig,
          path:
            scope === ''
              ? `/apis/${GROUP}/${VERSION}/${PKS_PLURAL}`
              : `/apis/${GROUP}/${VERSION}/namespaces/${scope}/${PKS_PLURAL}`,
          list: () =>
            (scope === ''
              ? watchCustom.listClusterCustomObject({
                  group: GROUP,
                  version: VERSION,
                  plural: PKS_PLURAL,
                })
              : watchCustom.listNamespacedCustomObject({
                  group: GROUP,
                  version: VERSION,
                  namespace: scope,
                  plural: PKS_PLURAL,
                })) as Promise<{ items: PublishedKeySetObject[] }>,
          logger,
          onChange: (object) => {
            onChange(object.metadata?.namespace ?? '', object.metadata?.name ?? '');
          },
        }),
      );
    }
    const selector = `${ISSUER_SERVER_LABEL}=true`;
    this.leases = new ResilientInformer<LeaseObject>({
      name: 'issuer-server leases',
      kubeConfig,
      path:
        serverNamespace === ''
          ? '/apis/coordination.k8s.io/v1/leases'
          : `/apis/coordination.k8s.io/v1/namespaces/${serverNamespace}/leases`,
      labelSelector: selector,
      list: () =>
        serverNamespace === ''
          ? coordination.listLeaseForAllNamespaces({ labelSelector: selector })
          : coordination.listNamespacedLease({
              namespace: serverNamespace,
              labelSelector: selector,
            }),
      logger,
      onChange: () => undefined,
    });
  }

  /** Starts the watches, once, at the first use. */
  private watch(): void {
    if (this.started) return;
    this.started = true;
    this.logger.info('watching PublishedKeySets and issuer server Leases (a JwtRotation has spec.issuer)');
    for (const informer of this.keySets.values()) void informer.start();
    void this.leases.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    await Promise.all([...[...this.keySets.values()].map((i) => i.stop()), this.leases.stop()]);
  }

  async get(namespace: string, name: string): Promise<ReturnType<typeof record> | undefined> {
    this.watch();
    const informer = this.keySets.get('') ?? this.keySets.get(namespace);
    if (informer?.hasSynced === true) {
      const cached = informer.get(namespace, name);
      return cached === undefined ? undefined : record(cached);
    }
    const live = await this.read(namespace, name);
    return live === undefined ? undefined : record(live);
  }

  async write(namespace: string, name: string, spec: KeySetSpec, managedBy: string): Promise<void> {
    const current = await this.read(namespace, name);
    const metadata = {
      name,
      namespace,
      labels: { ...current?.metadata?.labels, [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
      annotations: { ...current?.metadata?.annotations, [SecretAnnotations.managedBy]: managedBy },
      ...(current === undefined ? {} : { resourceVersion: current.metadata?.resourceVersion }),
    };
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: PKS_KIND, metadata, spec };
    const target = { group: GROUP, version: VERSION, namespace, plural: PKS_PLURAL };
    try {
      if (current === undefined)
        await this.custom.createNamespacedCustomObject({ ...target, body, fieldManager: this.fieldManager });
      else
        await this.custom.replaceNamespacedCustomObject({
          ...target,
          name,
          body,
          fieldManager: this.fieldManager,
        });
    } catch (error) {
      if (isConflict(error)) throw new ConflictError(`PublishedKeySet ${name} changed meanwhile`);
      throw error;
    }
    this.onWrite(current === undefined ? 'keyset-create' : 'keyset-update', namespace, name);
  }

  /** `namespace/name` of each issuer server Lease renewed within its duration. */
  liveServers(): Promise<ReadonlySet<string>> {
    this.watch();
    const now = this.wallClock();
    const live = new Set<string>();
    for (const lease of this.leases.list()) {
      const renewed = lease.spec?.renewTime === undefined ? NaN : new Date(lease.spec.renewTime).getTime();
      const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (renewed + duration > now)
        live.add(`${lease.metadata?.namespace ?? ''}/${lease.metadata?.name ?? ''}`);
    }
    return Promise.resolve(live);
  }

  private async read(namespace: string, name: string): Promise<PublishedKeySetObject | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PKS_PLURAL,
        name,
      })) as PublishedKeySetObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

function record(object: PublishedKeySetObject): {
  resourceVersion: string;
  spec: KeySetSpec;
  servers: ServerReport[];
} {
  const spec = object.spec ?? {
    issuer: '',
    algorithm: 'ES256',
    version: '',
    maxAgeSeconds: 0,
    keyCount: 0,
    jwks: '',
    retiring: [],
  };
  return {
    resourceVersion: object.metadata?.resourceVersion ?? '',
    spec: { ...spec, keyCount: spec.keyCount ?? 0, retiring: spec.retiring ?? [] },
    servers: (object.status?.servers ?? []).map((s) => ({
      name: s.name,
      lease: s.lease,
      version: s.version,
      since: s.since,
      fetchers: s.fetchers ?? [],
    })),
  };
}
