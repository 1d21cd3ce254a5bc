/**
 * What a caller of startOperator may plug in besides configuration. The shipped entry point
 * (src/main.ts) passes the system clock and no hooks; the tests' entry point
 * (test/support/operator-entry.ts) passes a clock they move and the fault switches, which do not
 * ship.
 */
import type { Clock } from '../platform/clock.ts';

export interface OperatorHooks {
  /** Runs before every request of a pass, after its rate-limit token (tests hold a write back). */
  beforeRequest?: (method: string, url: string) => Promise<void>;
  /** Runs after every write the operator makes (tests end the process there). */
  afterWrite?: (kind: string, namespace: string, name: string) => void;
}

export interface OperatorOptions {
  clock: Clock;
  hooks?: OperatorHooks;
  /** Another replica holds the Lease now (default: exit, so a fresh process starts as a follower). */
  onLostLeadership?: () => void;
}
