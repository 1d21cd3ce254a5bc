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
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

import { ConsumerKit, type KitOptions } from '@jwt-rotation-operator/consumer-kit';

import { readEnvFile } from './env-file.ts';
import { FaultInjector, faultsFromEnv } from './faults.ts';
import { jsonLineLogger } from './log.ts';
import { createConsumerServer } from './server.ts';

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
  const now = (): Date => new Date();
  const kit = await ConsumerKit.open({
    ...keySource(values['env-file'], values['secret-dir'], values['jwks-file'] ?? env.JWKS_FILE),
    reloadIntervalMs: Number(env.RELOAD_INTERVAL_MS ?? 1000),
    sessionWindowSeconds: Number(env.SESSION_WINDOW_SECONDS ?? 300),
    now,
    log,
  });
  // A consumer signs: a JWKS without a private key would make a verify-only replica, not this service.
  if (kit.keys.current === undefined) throw new Error('no JWT_SECRET or JWT_PRIVATE_KEY is set');
  const faults = new FaultInjector(faultsFromEnv(env));
  if (faults.settings.rate > 0 || faults.settings.latencyMs > 0)
    log('warn', 'failure injection on', { ...faults.settings });
  const debug = env.ENABLE_DEBUG === '1';

  let draining = false;
  const server = createConsumerServer({
    kit,
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
      kit.close();
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      setTimeout(() => process.exit(0), 5000).unref();
    }, delayMs).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** Where the kit reads the keys: --env-file or --secret-dir (re-read), else the environment; and the JWKS. */
function keySource(
  envFile: string | undefined,
  secretDir: string | undefined,
  jwksFile: string | undefined,
): KitOptions {
  if (envFile !== undefined && secretDir !== undefined)
    throw new Error('use --env-file or --secret-dir, not both');
  const options: KitOptions = jwksFile === undefined ? {} : { jwksFile };
  if (envFile !== undefined) options.read = () => readEnvFile(envFile);
  else if (secretDir !== undefined) options.secretDir = secretDir;
  return options;
}

main().catch((error: unknown) => {
  jsonLineLogger('error', 'cannot start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
