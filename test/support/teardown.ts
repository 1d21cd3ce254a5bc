/**
 * End-of-run teardown registry. Test support code that starts something lazily (the control
 * plane, a Prometheus, a port-forward ...) registers how to undo it; the root `afterAll` hook in
 * test/support/hooks.ts runs everything once, newest first, so later resources (e.g. namespaces)
 * go before the things they depend on (the cluster).
 *
 * A failing step does not stop the others; the failures are reported together afterwards.
 */

export type TeardownFn = () => Promise<void> | void;

interface Teardown {
  name: string;
  fn: TeardownFn;
}

// Kept on globalThis: mocha may load this file twice in one process (once through require() for
// the root hooks, once through import() for a spec), and both copies must share one registry.
const registryKey = Symbol.for('jwt-rotation-operator:test-teardowns');
const teardowns: Teardown[] = ((globalThis as unknown as Record<symbol, Teardown[] | undefined>)[
  registryKey
] ??= []);

/** Registers `fn` to run once in the root afterAll hook (in reverse order of registration). */
export function registerTeardown(name: string, fn: TeardownFn): void {
  teardowns.push({ name, fn });
}

/** Runs and forgets every registered teardown, newest first. Throws if any of them failed. */
export async function runTeardowns(): Promise<void> {
  const failures: Error[] = [];
  for (let next = teardowns.pop(); next !== undefined; next = teardowns.pop()) {
    try {
      await next.fn();
    } catch (err) {
      const error = new Error(`teardown "${next.name}" failed: ${String(err)}`, { cause: err });
      console.error(error.message);
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
  }
}
