/**
 * Reference consumer of the JWT rotation contract.
 *
 *   npx tsx examples/consumer/main.ts                      # keys from the environment, as in a pod
 *   npx tsx examples/consumer/main.ts --secret-dir /etc/jwt # keys from a mounted Secret, hot-reloaded
 *   npx tsx examples/consumer/main.ts --env-file keys.env   # keys from KEY=VALUE lines, hot-reloaded
 *   npx tsx examples/consumer/main.ts --jwks-file /etc/jwks/jwks.json  # asymmetric: verify by kid against the
 *                                                         # mounted JWKS ConfigMap, re-read on change (any source)
 *
 * Environment: JWKS_FILE (same as --jwks-file), PORT (default 8080; 0 picks a free port), HOST (default 0.0.0.0), SESSION_WINDOW_SECONDS
 * (default 300), RELOAD_INTERVAL_MS (default 1000), SHUTDOWN_DELAY_SECONDS (default 3), ENABLE_DEBUG=1 (enables POST /debug/fail),
 * FAIL_VALIDATIONS=<0..1>, FAIL_MODE=error|rejected, FAIL_LATENCY_MS=<ms>.
 * Logs are JSON lines on stdout; the first after binding is {"msg":"listening","port":N,...}.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

import {
  pollingSource,
  readEnvFile,
  readSecretDir,
  staticSource,
  type ConfigSource,
} from './config-source.ts';
import type { Vars } from './config.ts';
import { FaultInjector, faultsFromEnv } from './faults.ts';
import { jsonLineLogger, type Logger } from './log.ts';
import { createConsumerMetrics } from './metrics.ts';
import { createConsumerServer } from './server.ts';
import { SessionTracker } from './sessions.ts';

async function main(): Promise<void> {
  const log = jsonLineLogger;
  const { values } = parseArgs({
    options: {
      'env-file': { type: 'string' },
      'secret-dir': { type: 'string' },
      'jwks-file': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const source = await openSource(
    values['env-file'],
    values['secret-dir'],
    values['jwks-file'] ?? env.JWKS_FILE,
    Number(env.RELOAD_INTERVAL_MS ?? 1000),
    log,
  );

  const now = (): Date => new Date();
  const sessions = new SessionTracker(Number(env.SESSION_WINDOW_SECONDS ?? 300));
  const metrics = createConsumerMetrics(sessions, () => now().getTime());
  const faults = new FaultInjector(faultsFromEnv(env));
  if (faults.settings.rate > 0 || faults.settings.latencyMs > 0)
    log('warn', 'failure injection on', { ...faults.settings });
  const debug = env.ENABLE_DEBUG === '1';

  let draining = false;
  const server = createConsumerServer({
    source,
    metrics,
    sessions,
    faults,
    now,
    log,
    debug,
    draining: () => draining,
  });
  server.keepAliveTimeout = 65_000; // longer than typical load balancer idle timeouts
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(env.PORT ?? 8080), env.HOST ?? '0.0.0.0', resolve);
  });
  log('info', 'listening', { port: (server.address() as AddressInfo).port, debug });

  // Graceful shutdown, as a rolling restart needs it: keep serving (failing /healthz, closing each
  // connection after its answer) for SHUTDOWN_DELAY_SECONDS while the endpoint is removed from the
  // Services, then stop accepting and finish what is in flight.
  const delayMs = Number(env.SHUTDOWN_DELAY_SECONDS ?? 3) * 1000;
  const shutdown = (signal: string): void => {
    log('info', 'shutting down', { signal, delayMs });
    draining = true;
    setTimeout(() => {
      source.close();
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      setTimeout(() => process.exit(0), 5000).unref();
    }, delayMs).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

async function openSource(
  envFile: string | undefined,
  secretDir: string | undefined,
  jwksFile: string | undefined,
  intervalMs: number,
  log: Logger,
): Promise<ConfigSource> {
  if (envFile !== undefined && secretDir !== undefined)
    throw new Error('use --env-file or --secret-dir, not both');
  if (jwksFile !== undefined) {
    // The JWKS is a mounted ConfigMap that kubelet updates in place: poll it (with the keys' source, so one
    // reload sees both), whatever the keys come from.
    const keys = (): Promise<Vars> =>
      envFile !== undefined
        ? readEnvFile(envFile)
        : secretDir !== undefined
          ? readSecretDir(secretDir)
          : Promise.resolve(process.env);
    return pollingSource(async () => ({ ...(await keys()), JWKS_JSON: await readFile(jwksFile, 'utf8') }), {
      origin: `${envFile ?? secretDir ?? 'environment'} + ${jwksFile}`,
      intervalMs,
      log,
    });
  }
  if (envFile !== undefined)
    return pollingSource(() => readEnvFile(envFile), { origin: envFile, intervalMs, log });
  if (secretDir !== undefined)
    return pollingSource(() => readSecretDir(secretDir), { origin: secretDir, intervalMs, log });
  return staticSource(process.env, log);
}

main().catch((error: unknown) => {
  jsonLineLogger('error', 'cannot start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
