/** The issuer server's settings, from the environment, checked once at start. */
import { envReader } from '../platform/env.ts';

export interface IssuerConfig {
  /** Namespaces whose PublishedKeySets are served (WATCH_NAMESPACES, plus WATCH_NAMESPACE); empty for all. */
  watchNamespaces: string[];
  httpsHost: string;
  httpsPort: number;
  healthHost: string;
  healthPort: number;
  /** Where the mounted TLS Secret is: tls.crt, tls.key (and ca.crt, unused). */
  tlsDir: string;
  /** How often the certificate files are read again (a directory watch also triggers a look). */
  tlsReloadMs: number;
  /** This replica: its pod name, namespace, and the Lease it renews there. */
  replica: string;
  namespace: string;
  leaseName: string;
  leaseDurationSeconds: number;
  leaseRenewMs: number;
  /** Least time between two status writes of one key set. */
  statusIntervalMs: number;
  /** Client-side rate limit of status writes, over all key sets. */
  statusQps: number;
  statusBurst: number;
  logLevel: string;
}

/** A Lease name from the pod name: `jwt-issuer-<pod>`, cut to a valid name. */
export function leaseNameFor(replica: string): string {
  return `jwt-issuer-${replica}`
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .slice(0, 253)
    .replace(/[^a-z0-9]+$/, '');
}

export function loadIssuerConfig(env: NodeJS.ProcessEnv): IssuerConfig {
  const { text, int, logLevel: readLogLevel, watchNamespaces: readNamespaces } = envReader(env);
  const logLevel = readLogLevel();
  const watchNamespaces = readNamespaces();
  const replica = text('POD_NAME', `${text('HOSTNAME', 'jwt-issuer')}-${String(process.pid)}`);
  const leaseDurationSeconds = int('LEASE_DURATION_SECONDS', 30, 2, 3600);
  const leaseRenewMs = int('LEASE_RENEW_MS', 10_000, 100);
  if (leaseRenewMs >= leaseDurationSeconds * 1000) {
    throw new Error('LEASE_RENEW_MS must be shorter than LEASE_DURATION_SECONDS');
  }
  return {
    watchNamespaces: [...new Set(watchNamespaces)],
    httpsHost: text('HTTPS_HOST', '0.0.0.0'),
    // 0 picks a free port (tests and benches).
    httpsPort: int('HTTPS_PORT', 8443, 0, 65535),
    healthHost: text('HEALTH_HOST', '0.0.0.0'),
    healthPort: int('HEALTH_PORT', 8081, 0, 65535),
    tlsDir: text('TLS_DIR', '/etc/jwt-issuer/tls'),
    tlsReloadMs: int('TLS_RELOAD_MS', 5_000, 100),
    replica,
    namespace: text('POD_NAMESPACE', 'default'),
    leaseName: text('LEASE_NAME', leaseNameFor(replica)),
    leaseDurationSeconds,
    leaseRenewMs,
    statusIntervalMs: int('STATUS_INTERVAL_MS', 2_000, 100),
    statusQps: int('STATUS_QPS', 20, 1, 10_000),
    statusBurst: int('STATUS_BURST', 40, 1, 10_000),
    logLevel,
  };
}

/** The field manager of this replica's status entries: `jwt-issuer/<replica>` (at most 128 characters). */
export function fieldManagerFor(replica: string): string {
  return `jwt-issuer/${replica}`.slice(0, 128);
}
