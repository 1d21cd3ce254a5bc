/**
 * The issuer server under load and at 1,000 key sets, as the image runs it (`node dist/issuer/main.js`,
 * with the Dockerfile's MALLOC_ARENA_MAX), on loopback, with the ServiceAccount and RBAC of
 * deploy/components/issuer. Prints a table and writes bench/results/<date>-issuer.json and .md.
 * Reports figures; asserts nothing.
 *
 *   npm run build && CLUSTER_REAL_NODE=0 npm run cluster:up    # a kwok-only control plane
 *   npm run bench:issuer                                         # needs wrk (apt-get install -y wrk)
 *   npm run cluster:down
 *
 * Settings: BENCH_KEYSETS (1000), BENCH_SECONDS (10 per load level), BENCH_LEVELS (1,10,100 clients).
 *
 * Measured, in one namespace of its own:
 * - RSS (VmRSS, and the peak VmHWM) of the server with no key set, then with BENCH_KEYSETS
 *   PublishedKeySets loaded (two RS256 keys each) and reported, after an idle window;
 * - how long from the first create until every key set is served and its status entry written, and
 *   how many status writes that took (one per key set is the floor), and writes in the idle window;
 * - the JWKS under wrk (keep-alive connections, 2 threads): requests/s and p50/p99 latency at each
 *   level of concurrent clients, answered 200 and answered 304 (If-None-Match), and 200 with a new
 *   TLS connection per request; the server's CPU time per request;
 * - a new client on every key set (one fetch each): how many status writes, and over how long.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { calculateJwkThumbprint, type JWK } from 'jose';
import * as prettier from 'prettier';
import { parseAllDocuments, stringify } from 'yaml';
import { makeTestPki, writeSecretVolume } from '../test/support/tls.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clusterDir = path.resolve(root, process.env.CLUSTER_DIR ?? '.cluster');
const kubeconfigPath = path.join(clusterDir, 'kubeconfig');
const kubectlPath = path.join(clusterDir, 'bin', 'kubectl');
const KEYSETS = Number(process.env.BENCH_KEYSETS ?? '1000');
const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const LEVELS = (process.env.BENCH_LEVELS ?? '1,10,100').split(',').map(Number);
const HOST = 'id.bench.example';

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function kubectl(args: string[], input?: string): string {
  const r = spawnSync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The shipped RBAC for a ServiceAccount in `ns`, under a ClusterRole name of this run; a kubeconfig with its token. */
async function serverIdentity(
  ns: string,
  suffix: string,
): Promise<{ kubeconfig: string; cleanup: () => void }> {
  const docs = parseAllDocuments(
    readFileSync(path.join(root, 'deploy/components/issuer/rbac.yaml'), 'utf8'),
  ).map(
    (d) =>
      d.toJS() as {
        kind: string;
        metadata: { name: string; namespace?: string };
        roleRef?: { name: string };
        subjects?: { namespace: string }[];
      },
  );
  for (const d of docs) {
    if (d.metadata.namespace !== undefined) d.metadata.namespace = ns;
    if (d.kind.startsWith('ClusterRole')) d.metadata.name = `jwt-issuer-bench-${suffix}`;
    if (d.kind === 'ClusterRoleBinding' && d.roleRef) d.roleRef.name = `jwt-issuer-bench-${suffix}`;
    for (const s of d.subjects ?? []) s.namespace = ns;
  }
  kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
  const token = await core.createNamespacedServiceAccountToken({
    namespace: ns,
    name: 'jwt-issuer',
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('no cluster in the kubeconfig');
  const user = new k8s.KubeConfig();
  user.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'issuer', token: token.status?.token ?? '' }],
    contexts: [{ name: 'issuer', cluster: cluster.name, user: 'issuer' }],
    currentContext: 'issuer',
  });
  const file = path.join(tmpdir(), `jwtr-bench-issuer-${String(process.pid)}.kubeconfig`);
  writeFileSync(file, user.exportConfig(), { mode: 0o600 });
  return {
    kubeconfig: file,
    cleanup: () =>
      kubectl([
        'delete',
        'clusterrolebinding,clusterrole',
        `jwt-issuer-bench-${suffix}`,
        '--ignore-not-found',
      ]),
  };
}

/** `n` JWK Sets of two RS256 public keys each (from a pool, so making them is quick), each set distinct. */
async function keySets(n: number): Promise<{ jwks: string; version: string }[]> {
  const pool: JWK[] = [];
  for (let i = 0; i < 8; i++) {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      format: 'jwk',
    }) as JWK;
    pool.push({ ...jwk, kid: await calculateJwkThumbprint(jwk), use: 'sig', alg: 'RS256' });
  }
  return Array.from({ length: n }, (_, i) => {
    const keys = [pool[i % 8], pool[(i + 1) % 8]].map((k) => ({ ...k, kid: `${k?.kid ?? ''}-${i}` }));
    return { jwks: JSON.stringify({ keys }), version: `v${String(i)}-1` };
  });
}

interface Proc {
  child: ChildProcess;
  httpsPort: number;
  healthPort: number;
  output: () => string;
}

async function startServer(kubeconfig: string, ns: string, tlsDir: string): Promise<Proc> {
  const child = spawn(process.execPath, [path.join(root, 'dist/issuer/main.js')], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      MALLOC_ARENA_MAX: '2',
      KUBECONFIG: kubeconfig,
      WATCH_NAMESPACES: ns,
      POD_NAME: 'bench-issuer',
      POD_NAMESPACE: ns,
      TLS_DIR: tlsDir,
      HTTPS_HOST: '127.0.0.1',
      HTTPS_PORT: '0',
      HEALTH_HOST: '127.0.0.1',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr.on('data', (c: Buffer) => (text += c.toString()));
  const started = await waitUntil('the issuer to start', () => {
    const line = text.split('\n').find((l) => l.includes('"issuer started"'));
    return Promise.resolve(
      line === undefined ? undefined : (JSON.parse(line) as { httpsPort: number; healthPort: number }),
    );
  });
  return { child, httpsPort: started.httpsPort, healthPort: started.healthPort, output: () => text };
}

function procStatus(pid: number): { rssMiB: number; hwmMiB: number; cpuS: number } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat =
    readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
      .split(') ')[1]
      ?.split(' ') ?? [];
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0); // utime + stime, in clock ticks (100/s)
  return {
    rssMiB: +(kb('VmRSS') / 1024).toFixed(1),
    hwmMiB: +(kb('VmHWM') / 1024).toFixed(1),
    cpuS: ticks / 100,
  };
}

/** The server's memory now: from /proc, and the heap figures of its own /metrics. */
async function memory(proc: Proc) {
  const { rssMiB, hwmMiB } = procStatus(proc.child.pid ?? 0);
  const mib = async (name: string): Promise<number> => +((await metric(proc, name)) / 2 ** 20).toFixed(1);
  return {
    rssMiB,
    peakRssMiB: hwmMiB,
    heapUsedMiB: await mib('nodejs_heap_size_used_bytes'),
    externalMiB: await mib('nodejs_external_memory_bytes'),
  };
}

async function metric(proc: Proc, name: string, labels = ''): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${String(proc.healthPort)}/metrics`)).text();
  let sum = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      if (labels === '' || line.includes(labels)) sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
}

interface LoadRow {
  case: string;
  clients: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  serverCpuUsPerRequest: number;
}

/** wrk's latency figure (`1.23ms`, `456.00us`, `1.02s`) in ms. */
function ms(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (m === null) return Number.NaN;
  const value = Number(m[1]);
  return +(m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value).toFixed(3);
}

function wrk(proc: Proc, label: string, clients: number, url: string, headers: string[]): LoadRow {
  const before = procStatus(proc.child.pid ?? 0).cpuS;
  const threads = Math.min(2, clients);
  const args = [
    '-t',
    String(threads),
    '-c',
    String(clients),
    '-d',
    `${String(SECONDS)}s`,
    '--latency',
    '--timeout',
    '5s',
  ];
  for (const h of headers) args.push('-H', h);
  const r = spawnSync('wrk', [...args, url], { encoding: 'utf8', timeout: (SECONDS + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk: ${r.stderr}`);
  const out = r.stdout;
  const cpu = procStatus(proc.child.pid ?? 0).cpuS - before;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errors =
    [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0) +
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    case: label,
    clients,
    requestsPerSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)),
    p50Ms: ms(/\s50%\s+(\S+)/.exec(out)?.[1]),
    p99Ms: ms(/\s99%\s+(\S+)/.exec(out)?.[1]),
    requests,
    errors,
    serverCpuUsPerRequest: requests === 0 ? 0 : Math.round((cpu * 1e6) / requests),
  };
}

/** One GET per key set's JWKS, each with a User-Agent of its own: a new client on every key set. */
async function fetchEach(proc: Proc, ca: string, n: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca });
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < n; i = next++) {
        await new Promise<void>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: proc.httpsPort,
              path: `/k${String(i)}/.well-known/jwks.json`,
              servername: HOST,
              agent,
              headers: { Host: HOST, 'User-Agent': `bench-verifier/${String(i)}` },
            },
            (res) => {
              res.resume();
              res.on('end', () => {
                resolve();
              });
            },
          );
          req.on('error', reject);
          req.end();
        });
      }
    }),
  );
  agent.destroy();
}

/** The PublishedKeySets, created 20 at a time. */
async function createKeySets(ns: string, sets: { jwks: string; version: string }[]): Promise<void> {
  for (let i = 0; i < sets.length; i += 20) {
    await Promise.all(
      sets.slice(i, i + 20).map((s, j) =>
        custom.createNamespacedCustomObject({
          group: 'jwtrotation.io',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'publishedkeysets',
          body: {
            apiVersion: 'jwtrotation.io/v1alpha1',
            kind: 'PublishedKeySet',
            metadata: { name: `k${String(i + j)}` },
            spec: {
              issuer: `https://${HOST}/k${String(i + j)}`,
              algorithm: 'RS256',
              version: s.version,
              maxAgeSeconds: 300,
              jwks: s.jwks,
              keyCount: 2,
            },
          },
        }),
      ),
    );
  }
}

const writes = (proc: Proc, labels = ''): Promise<number> =>
  metric(proc, 'jwt_issuer_status_writes_total', labels);

/** From the first create until all are served and reported; then an idle window. */
async function loadKeySets(proc: Proc, ns: string, sets: { jwks: string; version: string }[]) {
  const t0 = Date.now();
  await createKeySets(ns, sets);
  const createdMs = Date.now() - t0;
  const served = async (): Promise<true | undefined> =>
    (await metric(proc, 'jwt_issuer_keysets', 'state="served"')) >= sets.length ? true : undefined;
  await waitUntil('all served', served);
  const servedMs = Date.now() - t0;
  const reported = async (): Promise<true | undefined> =>
    (await writes(proc, 'result="success"')) >= sets.length ? true : undefined;
  await waitUntil('all reported', reported);
  const reportedMs = Date.now() - t0;
  const statusWritesForLoad = await writes(proc);
  await sleep(30_000);
  const statusWritesIdle30s = (await writes(proc)) - statusWritesForLoad;
  return { createdMs, servedMs, reportedMs, statusWritesForLoad, statusWritesIdle30s };
}

/** wrk at each level, 200 and 304, and one level with a new TLS connection per request. */
function loadTest(proc: Proc, version: string): LoadRow[] {
  const url = `https://127.0.0.1:${String(proc.httpsPort)}/k7/.well-known/jwks.json`;
  const host = `Host: ${HOST}`;
  const rows: LoadRow[] = [];
  for (const clients of LEVELS) {
    rows.push(wrk(proc, 'JWKS 200', clients, url, [host]));
    rows.push(wrk(proc, 'JWKS 304', clients, url, [host, `If-None-Match: "${version}"`]));
  }
  rows.push(wrk(proc, 'JWKS 200, new TLS connection per request', 10, url, [host, 'Connection: close']));
  return rows;
}

/** A new client on every key set: how many writes, over how long. */
async function newClients(proc: Proc, ca: string, n: number) {
  const before = await writes(proc);
  const t1 = Date.now();
  await fetchEach(proc, ca, n);
  const fetchMs = Date.now() - t1;
  await waitUntil('the fetch records written', async () =>
    (await writes(proc)) - before >= n ? true : undefined,
  );
  const writtenMs = Date.now() - t1;
  await sleep(5_000);
  return { fetchMs, writtenMs, statusWrites: (await writes(proc)) - before };
}

async function prepare(ns: string, suffix: string) {
  kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=jwtr-bench',
    '-f',
    path.join(root, 'crds'),
  ]);
  kubectl(['wait', '--for=condition=Established', 'crd/publishedkeysets.jwtrotation.io', '--timeout=60s']);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const identity = await serverIdentity(ns, suffix);
  const pki = await makeTestPki([HOST]);
  const tlsDir = path.join(pki.dir, 'volume');
  await writeSecretVolume(tlsDir, {
    'tls.crt': readFileSync(pki.certFile, 'utf8'),
    'tls.key': readFileSync(pki.keyFile, 'utf8'),
  });
  return { identity, pki, tlsDir, sets: await keySets(KEYSETS) };
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((l) => +l.toFixed(2));
  const suffix = Math.random().toString(36).slice(2, 8);
  const ns = `bench-issuer-${suffix}`;
  const { identity, pki, tlsDir, sets } = await prepare(ns, suffix);
  const proc = await startServer(identity.kubeconfig, ns, tlsDir);
  try {
    const ready = async (): Promise<true | undefined> =>
      (await fetch(`http://127.0.0.1:${String(proc.healthPort)}/readyz`)).ok ? true : undefined;
    await waitUntil('ready', ready);
    // The same 30 s of rest as after loading, so both figures are of a settled process.
    await sleep(30_000);
    const empty = await memory(proc);
    const keySetLoad = await loadKeySets(proc, ns, sets);
    const loaded = await memory(proc);
    const load = loadTest(proc, sets[7]?.version ?? '');
    const afterLoad = await memory(proc);
    const newClientOnEveryKeySet = await newClients(proc, pki.caPem, KEYSETS);
    const t2 = Date.now();
    proc.child.kill('SIGTERM');
    await new Promise((resolve) => proc.child.once('exit', resolve));
    const stopMs = Date.now() - t2;
    await write({
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model,
        memGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        // The machine is shared: its load average before the bench and after it.
        loadAverage: { before: loadBefore, after: loadavg().map((l) => +l.toFixed(2)) },
        wrk: spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0],
      },
      settings: {
        keySets: KEYSETS,
        secondsPerLevel: SECONDS,
        wrkThreads: 'min(2, clients)',
        statusQps: 20,
        statusBurst: 40,
        jwksBytes: sets[7]?.jwks.length,
      },
      // RSS, peak RSS (VmHWM, since start), and the V8 heap in use and external memory (Buffers).
      memory: { noKeySets: empty, keySetsLoaded: loaded, afterLoadTest: afterLoad },
      keySetLoad,
      load,
      newClientOnEveryKeySet,
      stopMs,
    });
  } finally {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    writeFileSync(path.join(clusterDir, 'logs', 'bench-issuer.log'), proc.output());
    identity.cleanup();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
}

/** The results as JSON and a Markdown table, formatted as the repository formats them (prettier). */
async function write(results: { date: string; load: LoadRow[]; [field: string]: unknown }): Promise<void> {
  console.log(JSON.stringify(results, null, 2));
  const dir = path.join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${results.date.slice(0, 10)}-issuer.json`);
  const formatted = async (name: string, text: string): Promise<string> =>
    prettier.format(text, { ...((await prettier.resolveConfig(name)) ?? {}), filepath: name });
  writeFileSync(file, await formatted(file, JSON.stringify(results, null, 2)));
  const table = file.replace(/\.json$/, '.md');
  writeFileSync(table, await formatted(table, markdown(results.load)));
  console.log(`wrote ${file}`);
}

function markdown(rows: LoadRow[]): string {
  const lines = [
    '| case | clients | req/s | p50 ms | p99 ms | server CPU µs/req | errors |',
    '| --- | --: | --: | --: | --: | --: | --: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.case} | ${String(r.clients)} | ${String(r.requestsPerSecond)} | ${String(r.p50Ms)} | ${String(r.p99Ms)} | ${String(r.serverCpuUsPerRequest)} | ${String(r.errors)} |`,
    );
  return `${lines.join('\n')}\n`;
}

await main();
