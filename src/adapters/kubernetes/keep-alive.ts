/**
 * One keep-alive connection pool for the operator's API requests.
 *
 * client-node 1.x builds a new `https.Agent` for every request (`KubeConfig.applySecurityAuthentication`
 * calls `createAgent` each time), so every request opened a new TCP connection, made a full TLS
 * handshake with a freshly parsed CA and client certificate, and closed it. Measured here against the
 * local API server, 2,000 GETs 8 at a time: 4.9 ms of CPU per request with the agent per request,
 * 1.2 ms with one shared keep-alive agent, and 3× the wall time (bench/README.md has the figures).
 *
 * This authentication method lets the KubeConfig do what it does (headers, token refresh, the TLS
 * material it reads), then swaps the agent it made for a shared keep-alive agent built from the same
 * options. A change of those options (a rotated client certificate or CA) gets a new shared agent.
 * Proxy agents are left as they are.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';

/**
 * Idle connections are closed after this long, well before the API server's own idle timeout (90 s),
 * so a request is not sent on a connection the server is closing.
 */
const IDLE_SOCKET_MS = 30_000;
/** Idle connections kept open for reuse. */
const MAX_FREE_SOCKETS = 16;

/** The TLS options of an agent client-node made: what decides whether a connection can be reused. */
const TLS_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

export class KeepAliveAuth implements k8s.SecurityAuthentication {
  private shared: { key: string; agent: http.Agent } | undefined;

  constructor(private readonly kubeConfig: k8s.KubeConfig) {}

  getName(): string {
    return 'keep-alive';
  }

  /** The shared agent requests go through now (undefined before the first request). */
  get agent(): http.Agent | undefined {
    return this.shared?.agent;
  }

  async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    const made = context.getAgent();
    // Only the plain agents client-node makes; a proxy agent is a subclass and stays.
    if (made === undefined || (made.constructor !== https.Agent && made.constructor !== http.Agent)) return;
    const options = (made as https.Agent & { options: Record<string, unknown> }).options;
    const key = fingerprint(made.constructor.name, options);
    if (this.shared?.key !== key) {
      const settings = {
        ...options,
        keepAlive: true,
        maxFreeSockets: MAX_FREE_SOCKETS,
        timeout: IDLE_SOCKET_MS,
      };
      const agent = made.constructor === https.Agent ? new https.Agent(settings) : new http.Agent(settings);
      // The old pool is left alone: requests in flight on it finish, and its idle connections close
      // after IDLE_SOCKET_MS (destroy() would cut the requests in flight too).
      this.shared = { key, agent };
    }
    context.setAgent(this.shared.agent);
  }
}

function fingerprint(kind: string, options: Record<string, unknown>): string {
  const hash = createHash('sha256').update(kind);
  for (const name of TLS_OPTIONS) {
    const value = options[name];
    hash.update(`\0${name}=`);
    if (Buffer.isBuffer(value) || typeof value === 'string') hash.update(value);
    else hash.update(String(value));
  }
  return hash.digest('hex');
}

const pools = new WeakMap<k8s.KubeConfig, KeepAliveAuth>();

/** The one KeepAliveAuth of this KubeConfig, so every API client made from it shares the pool. */
export function keepAliveAuth(kubeConfig: k8s.KubeConfig): KeepAliveAuth {
  let auth = pools.get(kubeConfig);
  if (auth === undefined) {
    auth = new KeepAliveAuth(kubeConfig);
    pools.set(kubeConfig, auth);
  }
  return auth;
}

/**
 * `kubeConfig.makeApiClient(type)` on the shared keep-alive pool, with these middlewares (the rate
 * limit of ./rate-limit.ts, say).
 */
export function apiClient<T>(
  kubeConfig: k8s.KubeConfig,
  type: new (config: k8s.Configuration) => T,
  middleware: k8s.Middleware[] = [],
): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  const config = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: keepAliveAuth(kubeConfig) },
    promiseMiddleware: middleware,
  });
  return new type(config);
}
