/**
 * The clocks tests run the operator by; none of them ships (src/platform/clock.ts has the system
 * clock only).
 *
 * - `fileOffsetClock(file)`: the wall clock plus an offset in milliseconds read from `file` at every
 *   look; the operator process of an integration test runs on it (test/support/operator-entry.ts,
 *   TEST_CLOCK_FILE), and the test moves it days ahead by writing the file (`setClock`).
 * - `ManualClock`: moves only when told to; unit tests step it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { systemClock, type Clock, type Timer } from '../../src/platform/clock.ts';

/** Sets the clock of the operator reading `file` to `at` (epoch ms) from now on. */
export function setClock(file: string, at: number): void {
  writeFileSync(file, String(Math.round(at - Date.now())));
}

/**
 * For tests of the operator process: the wall clock plus an offset in milliseconds read from a file
 * at every look, so a test moves the operator days ahead by writing a number.
 */
export function fileOffsetClock(file: string): Clock {
  const offset = (): number => {
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      return Number.isFinite(value) ? value : 0;
    } catch {
      return 0;
    }
  };
  const now = (): number => Date.now() + offset();
  return {
    now,
    // Timers follow this clock: moving it ahead makes a timer that is now due fire at once.
    schedule(ms, fn) {
      const due = now() + Math.max(0, ms);
      let timer: Timer | undefined;
      const tick = (): void => {
        const left = due - now();
        if (left <= 0) fn();
        else timer = systemClock.schedule(Math.min(left, 250), tick);
      };
      timer = systemClock.schedule(Math.min(Math.max(0, ms), 250), tick);
      return {
        cancel: () => {
          timer?.cancel();
        },
      };
    },
  };
}

/** A clock that moves only when told to; timers fire as it passes them. For tests. */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  constructor(private current = 0) {}

  now(): number {
    return this.current;
  }

  schedule(ms: number, fn: () => void): Timer {
    const timer = { at: this.current + Math.max(0, ms), fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.current = Math.max(this.current, due.at);
      due.cancelled = true;
      due.fn();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = target;
  }
}
