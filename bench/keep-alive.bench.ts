/**
 * What a connection per request costs: the same GETs against the local API server with client-node's
 * own API client (a new https.Agent, so a new TLS connection, per request) and with the operator's
 * (`apiClient` of dist/adapters/kubernetes/keep-alive.js: one shared keep-alive pool). Each way runs in
 * a fresh process, so its peak RSS is its own. Prints a table and writes
 * bench/results/<date>-keep-alive.json and .md. Reports figures; asserts nothing.
 *
 *   npm run build && CLUSTER_REAL_NODE=0 npm run cluster:up
 *   npx tsx bench/keep-alive.bench.ts        # BENCH_REQUESTS (2000), BENCH_CONCURRENCY (8)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as k8s from '@kubernetes/client-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kubeconfigPath = path.join(path.resolve(root, process.env.CLUSTER_DIR ?? '.cluster'), 'kubeconfig');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? '2000');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? '8');

interface Run {
  way: string;
  requests: number;
  wallMs: number;
  msPerRequest: number;
  cpuMsPerRequest: number;
  peakRssMiB: number;
}

/** One way, in this process: the child's side. */
async function measure(way: string): Promise<Run> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const shipped = (await import(
    pathToFileURL(path.join(root, 'dist/adapters/kubernetes/keep-alive.js')).href
  )) as typeof import('../src/adapters/kubernetes/keep-alive.ts');
  const core =
    way === 'keep-alive pool' ? shipped.apiClient(kc, k8s.CoreV1Api) : kc.makeApiClient(k8s.CoreV1Api);
  await core.readNamespace({ name: 'default' }); // warm up: module loading, the first handshake
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let left = REQUESTS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (; left > 0; left--) await core.readNamespace({ name: 'default' });
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return {
    way,
    requests: REQUESTS,
    wallMs: Math.round(wallMs),
    msPerRequest: +(wallMs / REQUESTS).toFixed(2),
    cpuMsPerRequest: +((cpu.user + cpu.system) / 1000 / REQUESTS).toFixed(2),
    peakRssMiB: Math.round(Number(hwm) / 1024),
  };
}

if (process.argv[2] === '--child') {
  process.stdout.write(`${JSON.stringify(await measure(process.argv[3] ?? ''))}\n`);
  process.exit(0);
}

const runs: Run[] = [];
// Twice each, alternating, so a busy moment of the machine does not land on one way only.
for (const way of ['agent per request', 'keep-alive pool', 'agent per request', 'keep-alive pool']) {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--child', way],
    {
      encoding: 'utf8',
      env: { ...process.env, MALLOC_ARENA_MAX: '2' },
    },
  );
  if (child.status !== 0) throw new Error(`${way}: ${child.stderr}`);
  runs.push(JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Run);
}
const date = new Date().toISOString();
const result = {
  date,
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '' },
  node: process.version,
  concurrency: CONCURRENCY,
  runs,
};
const header = '| way | requests | wall ms | ms/request | CPU ms/request | peak RSS MiB |';
const rows = runs.map(
  (r) =>
    `| ${r.way} | ${String(r.requests)} | ${String(r.wallMs)} | ${String(r.msPerRequest)} | ${String(r.cpuMsPerRequest)} | ${String(r.peakRssMiB)} |`,
);
const table = [header, '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
console.log(table);
const out = path.join(root, 'bench/results');
mkdirSync(out, { recursive: true });
const base = path.join(out, `${date.slice(0, 10)}-keep-alive`);
writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(
  `${base}.md`,
  `# Connection per request vs keep-alive pool (${date})\n\n${String(REQUESTS)} GETs of a namespace, ${String(CONCURRENCY)} at a time, against the local API server; each way in a fresh process (tsx), MALLOC_ARENA_MAX=2; node ${process.version}, ${String(cpus().length)} CPUs.\n\n${table}\n`,
);
