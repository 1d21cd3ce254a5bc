/**
 * Clients for the member clusters of a hub (docs/multi-cluster.md): one per kubeconfig Secret, made
 * from the kubeconfig it holds and kept while the Secret's resourceVersion stays the same. Members are
 * read live (no watch, no cache): the hub's kubeconfig in a member may list pods but nothing else
 * broadly, and the signing switch wants a live pod list anyway. Every request has a short timeout, so
 * an unreachable member costs a pass seconds, not minutes.
 */
import * as k8s from '@kubernetes/client-node';
import type { TargetKind } from '../../api/types.ts';
import type { PodView } from '../../rotation/model.ts';
import type { WorkloadLike } from '../../rotation/rollout.ts';
import { apiClient } from './keep-alive.ts';
import { describeError } from './errors.ts';
import { KubernetesSecretStore } from './secrets.ts';
import { KubernetesWorkloads } from './workloads.ts';

/** What the hub does in one member: the managed Secret and the targets, through the member's API server. */
export interface MemberClient {
  secrets: KubernetesSecretStore;
  workloads: {
    get(namespace: string, kind: TargetKind, name: string): Promise<WorkloadLike | undefined>;
    listPods(namespace: string, workload: WorkloadLike, annotation: string): Promise<PodView[]>;
    setTemplateAnnotation(
      namespace: string,
      kind: TargetKind,
      name: string,
      key: string,
      value: string,
    ): Promise<void>;
  };
}

/** The longest one request to a member may take. */
export const MEMBER_REQUEST_TIMEOUT_MS = 5000;

/** Every request aborts after `ms`: an API server that does not answer is an error, not a hung pass. */
function timeoutMiddleware(ms: number): k8s.Middleware {
  return {
    pre: (context) => {
      context.setSignal(AbortSignal.timeout(ms));
      return Promise.resolve(context);
    },
    post: (response) => Promise.resolve(response),
  };
}

/**
 * A member error reduced to a line fit for status: the API server's status code and message, or the
 * error's own first line. Never the request, never the kubeconfig; a message that quotes a server URL
 * keeps it (the URL is not a credential), a bearer token is cut out should a library ever echo it.
 */
export function memberError(error: unknown): string {
  const text = describeError(error).split('\n')[0] ?? '';
  return text.replace(/Bearer\s+\S+/gi, 'Bearer <redacted>').slice(0, 200);
}

export class KubernetesMemberClusters {
  private readonly cache = new Map<string, { version: string; server: string; client: MemberClient }>();

  constructor(
    private readonly fieldManager: string,
    private readonly timeoutMs = MEMBER_REQUEST_TIMEOUT_MS,
  ) {}

  /**
   * The client for the kubeconfig of Secret `secretKey` (namespace/name) at `version` (its
   * resourceVersion); made again when the Secret changes. Throws, with a credential-free message,
   * when the kubeconfig cannot be read or `refused` (the outbound allowlist) refuses its server.
   */
  client(
    secretKey: string,
    version: string,
    kubeconfig: string,
    refused: (server: string) => string | undefined,
  ): MemberClient {
    const cached = this.cache.get(secretKey);
    if (cached?.version === version) {
      const why = refused(cached.server);
      if (why !== undefined) throw new Error(`the kubeconfig's server ${why}`);
      return cached.client;
    }
    const kc = new k8s.KubeConfig();
    try {
      kc.loadFromString(kubeconfig);
    } catch {
      throw new Error('the kubeconfig cannot be read (not valid YAML or JSON)');
    }
    const server = kc.getCurrentCluster()?.server;
    if (server === undefined) throw new Error('the kubeconfig names no current cluster');
    const why = refused(server);
    if (why !== undefined) throw new Error(`the kubeconfig's server ${why}`);
    const middleware = [timeoutMiddleware(this.timeoutMs)];
    const core = apiClient(kc, k8s.CoreV1Api, middleware);
    const objects = apiClient(kc, k8s.KubernetesObjectApi, middleware);
    const none = (): void => undefined;
    const client: MemberClient = {
      secrets: new KubernetesSecretStore(core, this.fieldManager, none),
      workloads: new KubernetesWorkloads(objects, core, this.fieldManager, none),
    };
    this.cache.set(secretKey, { version, server, client });
    return client;
  }

  describe(error: unknown): string {
    return memberError(error);
  }

  /** Forgets the clients of Secrets no longer named (a JwtRotation deleted or its clusters changed). */
  retain(secretKeys: ReadonlySet<string>): void {
    for (const key of this.cache.keys()) if (!secretKeys.has(key)) this.cache.delete(key);
  }
}
