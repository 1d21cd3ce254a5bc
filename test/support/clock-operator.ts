/**
 * The operator process with a clock the test controls: `src/main.ts`'s startOperator, built with a
 * clock that reads an offset (milliseconds added to the wall clock) from the file TEST_CLOCK_FILE on
 * every look. A test moves time by writing the file (`setClock`); timers fire once the moved clock
 * passes them (they are checked every 50ms of real time). Nothing sleeps through days.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config.ts';
import { startOperator } from '../../src/main.ts';
import type { Clock, Timer } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/logger.ts';

/** Sets the operator's clock to `at` (epoch ms) from now on. */
export function setClock(file: string, at: number): void {
  writeFileSync(file, String(at - Date.now()));
}

export class FileOffsetClock implements Clock {
  constructor(private readonly file: string) {}

  now(): number {
    let offset = 0;
    try {
      offset = Number(readFileSync(this.file, 'utf8')) || 0;
    } catch {
      // no file yet: wall-clock time
    }
    return Date.now() + offset;
  }

  schedule(ms: number, fn: () => void): Timer {
    const at = this.now() + Math.max(0, ms);
    const handle = setInterval(() => {
      if (this.now() < at) return;
      clearInterval(handle);
      fn();
    }, 50);
    handle.unref();
    return {
      cancel: () => {
        clearInterval(handle);
      },
    };
  }
}

async function main(): Promise<void> {
  const file = process.env.TEST_CLOCK_FILE;
  if (file === undefined || file === '') throw new Error('TEST_CLOCK_FILE is not set');
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const running = await startOperator(config, logger, new FileOffsetClock(file));
  process.once('SIGTERM', () => {
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

if (process.argv[1]?.endsWith('clock-operator.ts')) {
  main().catch((error: unknown) => {
    process.stderr.write(`clock operator failed: ${String(error)}\n`);
    process.exit(1);
  });
}
