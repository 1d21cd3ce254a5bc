/** The operator's settings, from the environment, checked once at start. */
import { envReader } from './platform/env.ts';
import { DEFAULT_OUTBOUND_HOSTS, HOST_PATTERN, type OutboundPolicy } from './platform/outbound.ts';
import type { RequesterIdentity } from './rotation/audit.ts';

export interface Config {
  /** Namespaces to watch (WATCH_NAMESPACES, comma-separated, plus WATCH_NAMESPACE); empty for all. */
  watchNamespaces: string[];
  /** Label selector on JwtRotations: this replica (shard) reconciles only those that match; empty for all. */
  shardSelector: string;
  /** Most passes running at once (over different keys; one key never has two). */
  workers: number;
  /** Client-side rate limit on API requests: sustained requests per second (0: none) and burst. */
  kubeApiQps: number;
  kubeApiBurst: number;
  /** The same for Events, which a background lane sends with a client of their own (0: none). */
  kubeApiEventQps: number;
  kubeApiEventBurst: number;
  /**
   * Most JwtRotations in a rolling step at once (MAX_CONCURRENT_ROLLOUTS; 0: no limit). Scheduled and
   * requested rotations past it wait in a queue; emergency rotations and rollbacks never wait.
   */
  maxConcurrentRollouts: number;
  /** Every JwtRotation is looked at again at least this often (the safety resync). */
  resyncPeriodMs: number;
  logLevel: string;
  httpHost: string;
  httpPort: number;
  /** Fewest milliseconds between two passes over one resource after a failure. */
  retryBaseMs: number;
  /** Most milliseconds between two passes after repeated failures. */
  retryMaxMs: number;
  /** Field manager name for server-side bookkeeping. */
  fieldManager: string;
  /**
   * Where the issuer server replicas keep their Leases (ISSUER_SERVER_NAMESPACE; default the
   * operator's own namespace, POD_NAMESPACE; empty outside a pod: every namespace).
   */
  issuerServerNamespace: string;
  /** Where the operator may send requests for a JwtRotation (OUTBOUND_HOSTS, NOTIFICATIONS_ALLOW_HTTP). */
  outbound: OutboundPolicy;
  /**
   * Where "who asked" comes from (REQUESTER_IDENTITY; docs/operations.md, "Who asked"): `admission`
   * when the requester-identity admission policies are installed (the chart's
   * admissionPolicy.requesterIdentity, deploy/components/requester-identity); `field-manager` (the
   * default), the request annotation's field manager, recorded as unverified.
   */
  requesterIdentity: RequesterIdentity;
  /** Only the holder of the Lease acts; undefined when leader election is off. */
  leaderElection:
    | { namespace: string; name: string; identity: string; leaseDurationMs: number; retryPeriodMs: number }
    | undefined;
}

/**
 * The client-side rate limit's defaults: controller-runtime's, inside the API server's default
 * priority-and-fairness share for a ServiceAccount's requests (docs/operations.md, "Scale").
 */
export const DEFAULT_KUBE_API_QPS = 20;
export const DEFAULT_KUBE_API_BURST = 30;
/**
 * Events have a rate limit of their own (src/adapters/kubernetes/event-lane.ts), as
 * controller-runtime's recorder has its own client; the burst is client-go's event spam filter's.
 */
export const DEFAULT_KUBE_API_EVENT_QPS = 10;
/**
 * The rollout budget's default: at most this many JwtRotations roll their targets at once
 * (docs/operations.md, "Rollout budget").
 */
export const DEFAULT_MAX_CONCURRENT_ROLLOUTS = 20;
/**
 * WORKERS when unset: 8, or one per 10 requests/s of KUBE_API_QPS when that is more. A pass makes
 * its requests one after another (a step is about 4: backup, Secret, patch, status), so a worker
 * under a loaded API server (30-80 ms a request) makes about 10 a second. At 8 workers and a limit of
 * 300/s, 1,000 rotations requested at once reached their first template patch in 46 s where a client
 * with all 1,000 in flight took 8.5 s (bench/README.md): the workers, not the limit, set the pace.
 */
export function defaultWorkers(kubeApiQps: number): number {
  return Math.min(1000, Math.max(8, Math.ceil(kubeApiQps / 10)));
}
export const DEFAULT_KUBE_API_EVENT_BURST = 25;

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const { text, int, logLevel, watchNamespaces } = envReader(env);
  const level = logLevel();
  // On by default in a pod (the Deployment sets POD_NAMESPACE), off for `npm start` on a laptop.
  const election = text('LEADER_ELECTION', env.POD_NAMESPACE ? 'true' : 'false');
  if (election !== 'true' && election !== 'false') {
    throw new Error(`LEADER_ELECTION must be true or false; got "${election}"`);
  }
  const leaseDurationMs = int('LEASE_DURATION_MS', 15_000, 1000);
  const retryPeriodMs = int('LEASE_RETRY_PERIOD_MS', 2_000, 100);
  if (retryPeriodMs >= leaseDurationMs)
    throw new Error('LEASE_RETRY_PERIOD_MS must be shorter than LEASE_DURATION_MS');
  const namespaces = watchNamespaces();
  const shardSelector = (env.SHARD_SELECTOR ?? '').trim();
  // Label selector syntax: key=value, key!=value, key in (a,b), key notin (a), key, !key, comma-separated.
  if (shardSelector !== '' && !/^[A-Za-z0-9_./\-=!(), ]+$/.test(shardSelector))
    throw new Error(`SHARD_SELECTOR must be a label selector, got "${shardSelector}"`);
  const kubeApiQps = int('KUBE_API_QPS', DEFAULT_KUBE_API_QPS, 0, 10_000);
  const kubeApiBurst = int('KUBE_API_BURST', DEFAULT_KUBE_API_BURST, 1, 10_000);
  if (kubeApiQps > 0 && kubeApiBurst < 1) throw new Error('KUBE_API_BURST must be at least 1');
  const kubeApiEventQps = int('KUBE_API_EVENT_QPS', DEFAULT_KUBE_API_EVENT_QPS, 0, 10_000);
  const kubeApiEventBurst = int('KUBE_API_EVENT_BURST', DEFAULT_KUBE_API_EVENT_BURST, 1, 10_000);
  const outbound = outboundPolicy(env);
  const identity = text('REQUESTER_IDENTITY', 'field-manager');
  if (identity !== 'admission' && identity !== 'field-manager')
    throw new Error(`REQUESTER_IDENTITY must be admission or field-manager; got "${identity}"`);
  const retryBaseMs = int('RETRY_BASE_MS', 500, 1);
  const retryMaxMs = int('RETRY_MAX_MS', 60_000, 1);
  if (retryBaseMs > retryMaxMs) throw new Error('RETRY_BASE_MS must not exceed RETRY_MAX_MS');
  return {
    leaderElection:
      election === 'true'
        ? {
            namespace: text('LEASE_NAMESPACE', text('POD_NAMESPACE', 'default')),
            name: text('LEASE_NAME', 'jwt-rotation-operator'),
            identity: text('POD_NAME', `${text('HOSTNAME', 'operator')}-${String(process.pid)}`),
            leaseDurationMs,
            retryPeriodMs,
          }
        : undefined,
    watchNamespaces: namespaces,
    shardSelector,
    workers: int('WORKERS', defaultWorkers(kubeApiQps), 1, 1000),
    kubeApiQps,
    kubeApiBurst,
    kubeApiEventQps,
    kubeApiEventBurst,
    maxConcurrentRollouts: int('MAX_CONCURRENT_ROLLOUTS', DEFAULT_MAX_CONCURRENT_ROLLOUTS, 0, 100_000),
    resyncPeriodMs: int('RESYNC_PERIOD_MS', 600_000, 10_000),
    logLevel: level,
    httpHost: text('HTTP_HOST', '0.0.0.0'),
    // 0 picks a free port (tests and the demo).
    httpPort: int('HTTP_PORT', 8080, 0, 65535),
    retryBaseMs,
    retryMaxMs,
    fieldManager: text('FIELD_MANAGER', 'jwt-rotation-operator'),
    issuerServerNamespace: text('ISSUER_SERVER_NAMESPACE', env.POD_NAMESPACE ?? ''),
    outbound,
    requesterIdentity: identity,
  };
}

/** OUTBOUND_HOSTS (comma-separated host patterns; empty: the cluster's Services) and NOTIFICATIONS_ALLOW_HTTP. */
function outboundPolicy(env: NodeJS.ProcessEnv): OutboundPolicy {
  const hosts = (env.OUTBOUND_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const h of hosts) {
    if (!HOST_PATTERN.test(h))
      throw new Error(
        `OUTBOUND_HOSTS must hold host names, *.suffix patterns, IP addresses or *; got "${h.slice(0, 100)}"`,
      );
  }
  const http = env.NOTIFICATIONS_ALLOW_HTTP || 'false';
  if (http !== 'true' && http !== 'false')
    throw new Error(`NOTIFICATIONS_ALLOW_HTTP must be true or false; got "${http}"`);
  return {
    hosts: hosts.length === 0 ? DEFAULT_OUTBOUND_HOSTS : [...new Set(hosts)],
    allowHttpReceivers: http === 'true',
  };
}
