/**
 * The issuer server's composition root: the health port, then the Lease (a replica counts as alive
 * before it serves anything, so the operator waits for it rather than switching past it), the
 * PublishedKeySet watch, the certificate, and last the HTTPS port.
 *
 * Ready (/readyz) once every watch has listed, a certificate is loaded and the HTTPS port listens,
 * and only while the watch has not been down for a lease duration and the Lease is fresh: a replica
 * that may serve a stale key set stops renewing its Lease (the operator no longer waits for it) and
 * drops out of the Service. It is the same condition both ways: what the operator does not count
 * must not be what clients are sent to.
 */
import type { Server } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { apiClient } from '../adapters/kubernetes/keep-alive.ts';
import { limitedClient, TokenBucket } from '../adapters/kubernetes/rate-limit.ts';
import type { Clock } from '../platform/clock.ts';
import { startHttpServer } from '../platform/http-server.ts';
import type { Logger } from '../platform/logger.ts';
import { CertificateReloader, type CertificatePair } from './certificate.ts';
import { fieldManagerFor, type IssuerConfig } from './config.ts';
import { startIssuerServer } from './https-server.ts';
import { KeySets } from './key-sets.ts';
import { IssuerMetrics } from './metrics.ts';
import { ReplicaLease } from './replica-lease.ts';
import { StatusReporter } from './status-reporter.ts';
import { KeySetWatch } from './watch.ts';

export interface RunningIssuer {
  httpsPort: number;
  healthPort: number;
  metrics: IssuerMetrics;
  /** Stops serving, deletes the Lease, stops the rest. */
  stop(): Promise<void>;
}

/** Writes in flight at once; the rate limit (STATUS_QPS) is what bounds them over time. */
const STATUS_CONCURRENCY = 4;

/** The parts of one replica, wired to each other; nothing started yet. */
interface Parts {
  metrics: IssuerMetrics;
  lease: ReplicaLease;
  keySets: KeySets;
  reporter: StatusReporter;
  watch: KeySetWatch;
}

function makeParts(config: IssuerConfig, logger: Logger, clock: Clock): Parts {
  const metrics = new IssuerMetrics();
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  // The Lease renewals go on a client of their own, never behind the status writes' rate limit.
  const lease = new ReplicaLease(apiClient(kubeConfig, k8s.CoordinationV1Api), clock, logger, metrics, {
    namespace: config.namespace,
    name: config.leaseName,
    holder: config.replica,
    durationSeconds: config.leaseDurationSeconds,
    renewMs: config.leaseRenewMs,
  });
  const holder: { reporter?: StatusReporter } = {};
  const keySets = new KeySets({
    replica: config.replica,
    lease: lease.ref,
    clock,
    logger,
    metrics,
    onChange: (key, urgent) => holder.reporter?.changed(key, urgent),
    onForget: (key) => holder.reporter?.forget(key),
    isPending: (key) => holder.reporter?.isPending(key) ?? false,
  });
  const bucket = new TokenBucket(config.statusQps, config.statusBurst);
  const reporter = new StatusReporter({
    api: limitedClient(kubeConfig, k8s.CustomObjectsApi, bucket),
    clock,
    logger,
    metrics,
    fieldManager: fieldManagerFor(config.replica),
    minIntervalMs: config.statusIntervalMs,
    concurrency: STATUS_CONCURRENCY,
    entryOf: (key) => keySets.entryOf(key),
  });
  holder.reporter = reporter;
  const watch = new KeySetWatch({
    kubeConfig,
    namespaces: config.watchNamespaces,
    logger,
    trim: keySets.trim,
    onChange: (object, deleted) => {
      keySets.apply(object, deleted);
    },
  });
  return { metrics, lease, keySets, reporter, watch };
}

export async function startIssuer(
  config: IssuerConfig,
  logger: Logger,
  clock: Clock,
): Promise<RunningIssuer> {
  const { metrics, lease, keySets, reporter, watch } = makeParts(config, logger, clock);
  const leaseWindowMs = config.leaseDurationSeconds * 1000;
  const vouches = (): boolean => watch.staleForMs(Date.now()) < leaseWindowMs;
  let https: Server | undefined;
  const isReady = (): boolean => {
    const ready = https !== undefined && watch.synced && vouches() && lease.fresh;
    metrics.setReady(ready);
    return ready;
  };
  const health = await startHttpServer({
    host: config.healthHost,
    port: config.healthPort,
    registry: metrics.registry,
    isReady,
  });
  await lease.start(vouches);
  const certificate = new CertificateReloader(config.tlsDir, config.tlsReloadMs, logger, metrics, (pair) => {
    https?.setSecureContext({ cert: pair.cert, key: pair.key });
  });
  await watch.start();
  const pair = await firstCertificate(certificate, config.tlsReloadMs);
  certificate.start();
  const onFetch = keySets.fetched.bind(keySets);
  const started = await startIssuerServer({ index: keySets.index, metrics, onFetch }, pair, {
    host: config.httpsHost,
    port: config.httpsPort,
  });
  https = started.server;
  logger.info('issuer started', {
    httpsPort: started.port,
    healthPort: health.port,
    replica: config.replica,
    lease: lease.ref,
    namespaces: config.watchNamespaces.length === 0 ? 'all' : config.watchNamespaces.join(','),
  });
  const stop = async (): Promise<void> => {
    const server = https;
    https = undefined;
    await closeServer(server);
    await lease.release();
    certificate.stop();
    await reporter.stop();
    await watch.stop();
    await health.close();
  };
  return { httpsPort: started.port, healthPort: health.port, metrics, stop };
}

/** Waits until the certificate files are there and good (a Secret volume may be mounted late). */
async function firstCertificate(
  certificate: CertificateReloader,
  intervalMs: number,
): Promise<CertificatePair> {
  for (;;) {
    await certificate.load();
    const pair = certificate.pair;
    if (pair !== undefined) return pair;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Stops accepting connections, closes idle keep-alive ones, and gives requests in flight a moment. */
async function closeServer(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  const closed = new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  server.closeIdleConnections();
  const timer = setTimeout(() => {
    server.closeAllConnections();
  }, 2_000);
  await closed;
  clearTimeout(timer);
}
