/**
 * The clock the operator reads and schedules by. Injected everywhere, so tests can run
 * phases measured in days in seconds, and unit tests can step time by hand.
 */
import { readFileSync } from 'node:fs';

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

/**
 * For tests of the operator process: the wall clock plus an offset in milliseconds read from a file
 * at every look, so a test moves the operator days ahead by writing a number.
 */
export function offsetClock(file: string): Clock {
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
