/**
 * The issuer server's entry point as it ships (`node dist/issuer/main.js`, from the operator's image):
 * serves the PublishedKeySets over HTTPS and holds no secret. Configuration from the environment
 * (src/issuer/config.ts); SIGTERM stops serving, deletes the replica's Lease and exits.
 */
import { describeError } from '../adapters/kubernetes/errors.ts';
import { systemClock } from '../platform/clock.ts';
import { createLogger } from '../platform/logger.ts';
import { loadIssuerConfig } from './config.ts';
import { startIssuer } from './issuer.ts';

async function main(): Promise<void> {
  const config = loadIssuerConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const running = await startIssuer(config, logger, systemClock);
  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    running.stop().then(
      () => {
        logger.info('stopped', { signal });
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('stop failed', { error: describeError(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.once('SIGINT', () => {
    shutdown('SIGINT');
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`jwt-issuer failed to start: ${describeError(error)}\n`);
  process.exit(1);
});
