/**
 * What one watch event costs the wake index (`src/reconcile/wake-index.ts`) as the JwtRotations of
 * one namespace grow: the lookup from a changed pod or workload to the JwtRotations waiting on it.
 * Prints figures; asserts nothing.
 *
 *   npx tsx bench/wake-index.bench.ts     # or: npm run bench:wake-index
 *
 * N JwtRotations, all rotating, in one namespace, each with a one-replica Deployment whose selector
 * is `app: app-<n>`; then pod and Deployment events for random ones, each looked up as the watches'
 * handler does.
 */
import { cpus } from 'node:os';
import { selects } from '../src/adapters/kubernetes/cluster-cache.ts';
import type { JwtRotation } from '../src/api/types.ts';
import type { WorkloadLike } from '../src/rotation/rollout.ts';
import { WakeIndex } from '../src/reconcile/wake-index.ts';

const EVENTS = 20_000;

function deployment(n: number): WorkloadLike & { metadata: { labels?: Record<string, string> } } {
  return {
    metadata: { name: `app-${String(n)}` },
    spec: {
      selector: { matchLabels: { app: `app-${String(n)}` } },
      template: { spec: { containers: [{ envFrom: [{ secretRef: { name: `app-${String(n)}-jwt` } }] }] } },
    },
  };
}

function rotation(n: number): JwtRotation {
  return {
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: { namespace: 'bench', name: `app-${String(n)}` },
    spec: { secretName: `app-${String(n)}-jwt`, targets: [{ kind: 'Deployment', name: `app-${String(n)}` }] },
    status: { phase: 'DualKey' },
  } as unknown as JwtRotation;
}

function measure(n: number): { podUs: number; workloadUs: number } {
  const workloads = new Map(Array.from({ length: n }, (_, i) => [`app-${String(i)}`, deployment(i)]));
  const index = new WakeIndex(selects, (_kind, _namespace, name) => workloads.get(name));
  for (let i = 0; i < n; i += 1) index.set(rotation(i));
  const pick = (e: number): number => (e * 7919) % n;
  const time = (fn: (e: number) => string[]): number => {
    for (let e = 0; e < 1000; e += 1) fn(e); // warm-up
    const start = performance.now();
    let found = 0;
    for (let e = 0; e < EVENTS; e += 1) found += fn(e).length;
    const us = ((performance.now() - start) * 1000) / EVENTS;
    if (found !== EVENTS) throw new Error(`expected one JwtRotation per event, found ${String(found)}`);
    return us;
  };
  const podUs = time((e) =>
    index.keysFor('Pod', 'bench', `app-${String(pick(e))}-x`, {
      metadata: { labels: { app: `app-${String(pick(e))}`, 'pod-template-hash': 'h' } },
    }),
  );
  // A Deployment no JwtRotation lists that reads one's Secret (an unlisted consumer).
  const workloadUs = time((e) => index.keysFor('Deployment', 'bench', 'reader', deployment(pick(e))));
  return { podUs, workloadUs };
}

process.stdout.write(`wake index, ${String(EVENTS)} events per figure, ${cpus()[0]?.model ?? ''}\n`);
process.stdout.write(
  '| JwtRotations rotating in the namespace | µs per pod event | µs per workload event |\n',
);
process.stdout.write('| --- | --- | --- |\n');
for (const n of [100, 1000, 5000]) {
  const { podUs, workloadUs } = measure(n);
  process.stdout.write(`| ${String(n)} | ${podUs.toFixed(2)} | ${workloadUs.toFixed(2)} |\n`);
}
