/**
 * The clock the operator reads and schedules by. Injected everywhere, so tests can run
 * phases measured in days in seconds, and unit tests can step time by hand (the tests' clocks are
 * in test/support/test-clocks.ts: none of them ships).
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs fn after ms milliseconds of this clock's time. */
  schedule(ms: number, fn: () => void): Timer;
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    // setTimeout cannot wait longer than 2^31-1 ms; a shorter wait just means an early look.
    const handle = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    handle.unref();
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};
