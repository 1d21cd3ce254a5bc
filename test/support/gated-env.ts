/**
 * A consumer service, its load and a real Prometheus around one JwtRotation, for end-to-end
 * tests of the metrics gates. kwok runs no containers, so the reference consumer runs on
 * loopback and reads the Secret the way a pod with a mounted Secret volume does: a projector
 * copies the Secret's keys into a directory (one file per key) whenever the Secret changes.
 */
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runLoad } from '../../examples/consumer/loadgen.ts';
import { startConsumer, type RunningConsumer } from './consumer.ts';
import type { Clients } from './jwt-rotations.ts';
import { secretValues } from './jwt-rotations.ts';
import { startPrometheus, type RunningPrometheus } from './prometheus.ts';
import { registerTeardown } from './teardown.ts';
import type { TestPki } from './tls.ts';

export interface GatedEnvironment {
  consumer: RunningConsumer;
  prometheus: RunningPrometheus;
  /** The keys clients hold tokens for; the new one appears once the rotation writes it. */
  keys: { old: string; new: string | undefined };
  /** Fraction of requests that carry a new-key token from now on. */
  setNewShare(share: number): void;
  /** Total requests the load has sent. */
  sent(): number;
  stop(): Promise<void>;
}

export async function startGatedEnvironment(
  c: Clients,
  namespace: string,
  secretName: string,
  options: { rps?: number; consumerEnv?: Record<string, string>; prometheusTls?: TestPki } = {},
): Promise<GatedEnvironment> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jwtr-secret-'));
  // An object, so the loops below read the flag stop() sets (a plain let narrows to false).
  const state = { stopped: false };
  const keys: GatedEnvironment['keys'] = { old: '', new: undefined };
  // Filled in once the consumer runs; the projector's first pass comes before it.
  const consumerAt: { url?: string } = {};

  const project = async (): Promise<void> => {
    const values = await secretValues(c, namespace, secretName);
    if (values === undefined) return;
    keys.old ||= values.JWT_SECRET ?? '';
    for (const [key, value] of Object.entries(values)) {
      const partial = path.join(dir, `.${key}.tmp`);
      await writeFile(partial, value);
      await rename(partial, path.join(dir, key));
    }
    for (const file of await readdir(dir)) {
      if (!file.startsWith('.') && !(file in values)) await rm(path.join(dir, file), { force: true });
    }
    // Clients get new-key tokens only once a replica would verify them: the files are written and the
    // consumer has loaded them (it reloads every RELOAD_INTERVAL_MS). Publishing the key any earlier lets
    // the load sign with a key the consumer does not hold yet, and the failures it causes breach the gate.
    if (keys.new === undefined && values.JWT_SECRET_NEW !== undefined && consumerAt.url !== undefined) {
      const health = await fetch(`${consumerAt.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (((await health.json()) as { mode?: string }).mode === 'dual') keys.new = values.JWT_SECRET_NEW;
    }
  };
  await project();
  const projector = (async () => {
    while (!state.stopped) {
      await project().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();

  const consumer = await startConsumer({
    secretDir: dir,
    env: { ENABLE_DEBUG: '1', RELOAD_INTERVAL_MS: '250', ...options.consumerEnv },
  });
  consumerAt.url = consumer.url;
  const prometheus = await startPrometheus({
    scrapeTargets: [consumer.target],
    scrapeIntervalSeconds: 1,
    tls: options.prometheusTls,
  });

  let share = 0;
  let sent = 0;
  const load = (async () => {
    // One-second slices, so a change of share takes effect within a second; bounded by `stopped`.
    for (let slice = 0; !state.stopped && slice < 1200; slice++) {
      if (keys.old === '') {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      const summary = await runLoad({
        url: consumer.url,
        rps: options.rps ?? 40,
        durationMs: 1000,
        oldKey: keys.old,
        newKey: keys.new,
        newShare: keys.new === undefined ? 0 : share,
      }).catch(() => undefined);
      sent += summary?.sent ?? 0;
    }
  })();

  const stop = async (): Promise<void> => {
    if (state.stopped) return;
    state.stopped = true;
    await Promise.all([projector, load]);
    await consumer.stop();
    await prometheus.stop();
    await rm(dir, { recursive: true, force: true });
  };
  registerTeardown('gated environment', stop);

  return {
    consumer,
    prometheus,
    keys,
    setNewShare: (value) => {
      share = value;
    },
    sent: () => sent,
    stop,
  };
}
