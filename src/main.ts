/**
 * Composition root: configuration, logger, clock, metrics, API clients, the reconciler,
 * its work queue and the watch are built here and passed down; nothing else makes them.
 */
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from './api/constants.ts';
import { describeError } from './adapters/kubernetes/errors.ts';
import { KubernetesEventRecorder } from './adapters/kubernetes/events.ts';
import { KubernetesJwtRotationStore } from './adapters/kubernetes/jwt-rotations.ts';
import { LeaderElector } from './adapters/kubernetes/leader-election.ts';
import { KubernetesSecretStore } from './adapters/kubernetes/secrets.ts';
import { KubernetesWorkloads } from './adapters/kubernetes/workloads.ts';
import { JwtRotationOperator } from './adapters/operator/operator.ts';
import { PrometheusGateReader } from './adapters/prometheus/gate-reader.ts';
import { loadConfig, type Config } from './config.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { startHttpServer } from './platform/http-server.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { OperatorMetrics } from './platform/metrics.ts';
import { Reconciler } from './reconcile/reconciler.ts';
import { WorkQueue } from './reconcile/queue.ts';

interface RunningOperator {
  port: number;
  stop(): Promise<void>;
}

export async function startOperator(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
  onLostLeadership: () => void = () => {
    // Another replica holds the Lease now; a fresh process starts over as a follower.
    process.exit(1);
  },
): Promise<RunningOperator> {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  const metrics = new OperatorMetrics();
  const wrote = (kind: string, namespace: string): void => {
    metrics.wrote(kind, namespace);
  };

  // Serve /healthz first: waiting for the CRD is not a reason for the kubelet to restart the pod.
  let started = false;
  const http = await startHttpServer({
    host: config.httpHost,
    port: config.httpPort,
    registry: metrics.registry,
    // A follower is ready too: it is up and waiting for the Lease.
    isReady: () => started,
  });
  await waitForCrd(kubeConfig, logger);

  const queue: { current?: WorkQueue } = {};
  const operator = new JwtRotationOperator(
    kubeConfig,
    logger,
    { namespaces: config.watchNamespace === '' ? [] : [config.watchNamespace] },
    (type, namespace, name) => {
      const key = `${namespace}/${name}`;
      if (type === 'DELETED') {
        queue.current?.forget(key);
        metrics.forget(namespace, name);
      } else {
        queue.current?.enqueue(key);
      }
    },
  );

  const reconciler = new Reconciler({
    clock,
    logger,
    metrics,
    resources: new KubernetesJwtRotationStore(custom, (r, s) => operator.writeStatus(r, s), wrote),
    secrets: new KubernetesSecretStore(core, config.fieldManager, wrote),
    workloads: new KubernetesWorkloads(objects, core, config.fieldManager, wrote),
    events: new KubernetesEventRecorder(core, clock, wrote),
    gate: new PrometheusGateReader(),
    newKey: (bytes) => randomBytes(bytes).toString('base64'),
  });

  queue.current = new WorkQueue(
    (key) => {
      const [namespace = '', name = ''] = key.split('/');
      return reconciler.reconcile(namespace, name);
    },
    {
      clock,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      onError: (key, error, retryInMs) =>
        logger.warn('reconcile failed; retrying', { key, error: describeError(error), retryInMs }),
    },
  );

  const lead = async (): Promise<void> => {
    metrics.setLeader(true);
    await operator.start();
    logger.info('operator started', {
      namespace: config.watchNamespace || '(all)',
      httpPort: http.port,
      server: kubeConfig.getCurrentCluster()?.server,
    });
  };
  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector(
      kubeConfig.makeApiClient(k8s.CoordinationV1Api),
      clock,
      logger,
      config.leaderElection,
    );
    logger.info('waiting for the lease', {
      lease: config.leaderElection.name,
      identity: config.leaderElection.identity,
      httpPort: http.port,
    });
    elector.run(lead, () => {
      metrics.setLeader(false);
      operator.stop();
      queue.current?.stop();
      onLostLeadership();
    });
  } else {
    await lead();
  }
  started = true;

  return {
    port: http.port,
    async stop() {
      elector?.stop();
      operator.stop();
      queue.current?.stop();
      await queue.current?.idle();
      await http.close();
    },
  };
}

/** Without the CRD the watch fails; wait for it and say why, instead of crash-looping. */
async function waitForCrd(kubeConfig: k8s.KubeConfig, logger: Logger): Promise<void> {
  const api = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  for (let attempt = 0; ; attempt++) {
    try {
      const crd = await api.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
      if (crd.spec.versions.some((v) => v.name === VERSION && v.served)) return;
      logger.error('CRD does not serve the version this operator needs', {
        crd: `${PLURAL}.${GROUP}`,
        version: VERSION,
      });
    } catch (error) {
      logger.warn('waiting for the JwtRotation CRD; install crds/ with kubectl or Helm', {
        crd: `${PLURAL}.${GROUP}`,
        error: describeError(error),
        attempt,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5))));
  }
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const running = await startOperator(config, logger);
  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.once('SIGINT', () => {
    shutdown('SIGINT');
  });
}

if (
  import.meta.url === `file://${process.argv[1] ?? ''}` ||
  process.argv[1]?.endsWith('src/main.ts') ||
  process.argv[1]?.endsWith('dist/main.js')
) {
  main().catch((error: unknown) => {
    process.stderr.write(`jwt-rotation-operator failed to start: ${describeError(error)}\n`);
    process.exit(1);
  });
}
