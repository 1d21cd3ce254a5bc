/**
 * The operator's entry point as it ships (`node dist/main.js`): configuration from the environment,
 * the logger, the system clock, and the composition root (src/wiring/operator.ts). Test-only clocks
 * and fault switches live in the tests' own entry point (test/support/operator-entry.ts), never here.
 */
import { describeError } from './adapters/kubernetes/errors.ts';
import { loadConfig } from './config.ts';
import { systemClock } from './platform/clock.ts';
import { createLogger } from './platform/logger.ts';
import { startOperator } from './wiring/operator.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const running = await startOperator(config, logger, { clock: systemClock });
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

main().catch((error: unknown) => {
  process.stderr.write(`jwt-rotation-operator failed to start: ${describeError(error)}\n`);
  process.exit(1);
});
