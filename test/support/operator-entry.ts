/**
 * The operator process as integration tests run it: the composition root that ships
 * (src/wiring/operator.ts), plus what only tests plug in, each off unless its variable is set:
 *
 *   TEST_CLOCK_FILE=<file>            the clock reads an offset in milliseconds from <file> at every
 *                                     look (test/support/test-clocks.ts setClock moves it)
 *   JWTR_FAULT_EXIT_AFTER_WRITES=...  exit right after a write (test/support/fault-switch.ts)
 *   JWTR_FAULT_DELAY_FIRST_WRITE=...  hold a write back, so another writer wins and it meets a 409
 *
 * The image runs src/main.ts, which has none of them.
 */
import { loadConfig } from '../../src/config.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/logger.ts';
import type { OperatorHooks } from '../../src/wiring/hooks.ts';
import { startOperator } from '../../src/wiring/operator.ts';
import { FAULT_DELAY_ENV, FAULT_ENV, faultDelayFromEnv, faultSwitchFromEnv } from './fault-switch.ts';
import { fileOffsetClock } from './test-clocks.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const hooks: OperatorHooks = {};
  const faults = faultSwitchFromEnv(process.env);
  if (faults !== undefined) {
    logger.warn('fault switch on: the operator exits after a write', { env: FAULT_ENV });
    hooks.afterWrite = (kind, namespace, name) => {
      faults.afterWrite(kind, namespace, name);
    };
  }
  const delay = faultDelayFromEnv(process.env);
  if (delay !== undefined) {
    logger.warn('fault switch on: the operator holds writes back', { env: FAULT_DELAY_ENV });
    hooks.beforeRequest = (method, url) => delay.beforeRequest(method, url);
  }
  const clockFile = process.env.TEST_CLOCK_FILE;
  const clock = clockFile ? fileOffsetClock(clockFile) : systemClock;
  const running = await startOperator(config, logger, { clock, hooks });
  const shutdown = (): void => {
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`operator (test entry) failed to start: ${String(error)}\n`);
  process.exit(1);
});
