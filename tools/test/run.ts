/**
 * `npm test`: every test file, several at once, against one local control plane.
 *
 *   tsx tools/test/run.ts [--jobs N] [pattern ...]     (default: the four tiers npm test names)
 *
 * Test files share nothing but the cluster: each makes its own namespaces and starts its own
 * operators, which act only on its own JwtRotations (test/support/test-shard.ts), so
 * `mocha --parallel` runs them in worker processes side by side
 * (TEST_JOBS or --jobs, default 4: most of a file's time is spent waiting for rollouts, timers and
 * watches, not computing). The longest files start first (test/durations.json, the last measured
 * times; TEST_SAVE_DURATIONS=1 renews it), so the run ends when the longest chain of files does. A file whose header says
 * `@exclusive` (it restarts the control plane, say) runs alone, after the others.
 *
 * Before the workers start, the runner compiles the operator once (test/support/test-build.ts) and
 * registers itself as a user of the cluster, so no worker stops the control plane between files;
 * at the end it stops it if a test started it and nobody else uses it. Then it prints each file's
 * wall time and the slowest tests (also written to .build/test-times.json), and last, the summary
 * of both mocha runs in mocha's own words (`N passing`, `N failing`, `N pending`), which .ci/run reads.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const clusterDir = path.resolve(root, process.env.CLUSTER_DIR ?? '.cluster');
const DEFAULT_PATTERNS = [
  'test/unit/**/*.test.ts',
  'test/sdk/**/*.test.ts',
  'examples/**/*.test.ts',
  'test/integration/**/*.test.ts',
  'test/e2e/**/*.test.ts',
];

interface Args {
  jobs: number;
  patterns: string[];
}

function parseArgs(argv: string[]): Args {
  let jobs = Number(process.env.TEST_JOBS ?? 4);
  const patterns: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--jobs') jobs = Number(argv[++i]);
    else if (arg.startsWith('--jobs=')) jobs = Number(arg.slice('--jobs='.length));
    else patterns.push(arg);
  }
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a whole number >= 1, got ${jobs}`);
  return { jobs, patterns: patterns.length > 0 ? patterns : DEFAULT_PATTERNS };
}

/** `dir/**\/*.test.ts`, `dir/*.test.ts` or a file name: the files it names, relative to the repository. */
function expand(pattern: string): string[] {
  if (!pattern.includes('*')) return existsSync(path.join(root, pattern)) ? [pattern] : [];
  const star = pattern.indexOf('*');
  const dir = pattern.slice(0, star).replace(/\/$/, '');
  const suffix = pattern.slice(pattern.lastIndexOf('*') + 1);
  const recursive = pattern.includes('**');
  if (!existsSync(path.join(root, dir))) return [];
  return readdirSync(path.join(root, dir), { recursive })
    .map((entry) => path.join(dir, String(entry)))
    .filter((file) => file.endsWith(suffix) && !file.includes('node_modules'))
    .sort();
}

/** Longest first, by the last measured times; files never measured go first (they may be long). */
function longestFirst(files: string[]): string[] {
  let known: Record<string, number> = {};
  try {
    known = JSON.parse(readFileSync(path.join(root, 'test/durations.json'), 'utf8')) as Record<
      string,
      number
    >;
  } catch {
    // no record yet: mocha's order
  }
  const seconds = (file: string): number => known[file] ?? Number.MAX_SAFE_INTEGER;
  return [...files].sort((a, b) => seconds(b) - seconds(a));
}

/** Whether a test file's header comment asks to run alone. */
function isExclusive(file: string): boolean {
  return /^\s*\*\s*@exclusive\b/m.test(readFileSync(path.join(root, file), 'utf8').slice(0, 4000));
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
    child.on('close', (code, signal) => {
      resolve(code ?? (signal === null ? 1 : 128));
    });
  });
}

interface MochaRun {
  code: number;
  passing: number;
  failing: number;
  pending: number;
}

/** Runs mocha, its output passed through as it comes, and reads its summary lines. */
function runMocha(args: string[], env: NodeJS.ProcessEnv): Promise<MochaRun> {
  return new Promise((resolve) => {
    const color = process.stdout.isTTY ? ['--color'] : [];
    const child = spawn(
      process.execPath,
      [path.join(root, 'node_modules/mocha/bin/mocha.js'), ...color, ...args],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-20_000);
    });
    child.on('close', (code, signal) => {
      const plain = tail.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
      const count = (word: string): number =>
        Number(new RegExp(`^ *(\\d+) ${word}`, 'm').exec(plain)?.[1] ?? 0);
      resolve({
        code: code ?? (signal === null ? 1 : 128),
        passing: count('passing'),
        failing: count('failing'),
        pending: count('pending'),
      });
    });
  });
}

interface TimeRecord {
  type: 'file' | 'test';
  file?: string;
  title?: string;
  ms: number;
  state?: string;
}

function report(timesFile: string, wallMs: number, jobs: number): void {
  const records = existsSync(timesFile)
    ? readFileSync(timesFile, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as TimeRecord)
    : [];
  const files = records.filter((r) => r.type === 'file').sort((a, b) => b.ms - a.ms);
  const tests = records.filter((r) => r.type === 'test');
  const passedIn = (file: string | undefined): number =>
    tests.filter((t) => t.file === file && t.state === 'passed').length;
  const lines = [
    '',
    `Test files by wall time (${files.length} files, ${jobs} at once, ${(wallMs / 1000).toFixed(0)} s in all):`,
  ];
  for (const f of files) {
    lines.push(
      `${(f.ms / 1000).toFixed(1).padStart(8)} s ${String(passedIn(f.file)).padStart(5)} passed  ${f.file ?? '?'}`,
    );
  }
  const sum = files.reduce((s, f) => s + f.ms, 0);
  lines.push(
    `${(sum / 1000).toFixed(1).padStart(8)} s  summed over files (${(sum / Math.max(wallMs, 1)).toFixed(2)} files at a time on average)`,
  );
  lines.push('', 'Slowest tests:');
  for (const t of [...tests].sort((a, b) => b.ms - a.ms).slice(0, 20)) {
    lines.push(`${(t.ms / 1000).toFixed(1).padStart(8)} s  ${t.file ?? '?'}: ${t.title ?? ''}`);
  }
  console.log(lines.join('\n'));
  const summary = {
    wallSeconds: wallMs / 1000,
    jobs,
    files: Object.fromEntries(files.map((f) => [f.file ?? '?', Math.round(f.ms / 100) / 10])),
    slowest: [...tests].sort((a, b) => b.ms - a.ms).slice(0, 20),
  };
  writeFileSync(path.join(root, '.build/test-times.json'), `${JSON.stringify(summary, null, 2)}\n`);
  // TEST_SAVE_DURATIONS=1 renews the order of the next runs (commit test/durations.json).
  if (process.env.TEST_SAVE_DURATIONS === '1')
    writeFileSync(path.join(root, 'test/durations.json'), `${JSON.stringify(summary.files, null, 2)}\n`);
}

/** Registers the runner as a user of the cluster (test/support/cluster.ts), so no worker stops it. */
function registerAsClusterUser(): () => Promise<void> {
  const users = path.join(clusterDir, 'users');
  mkdirSync(users, { recursive: true });
  const me = path.join(users, String(process.pid));
  writeFileSync(me, `${new Date().toISOString()} tools/test/run.ts\n`);
  return async () => {
    rmSync(me, { force: true });
    const others = existsSync(users)
      ? readdirSync(users).filter((pid) => {
          try {
            process.kill(Number(pid), 0);
            return true;
          } catch {
            return false;
          }
        })
      : [];
    if (!existsSync(path.join(clusterDir, 'started-by-tests')) || process.env.KEEP_CLUSTER === '1') return;
    if (others.length > 0) return;
    await run('bash', [path.join(root, 'tools/cluster/down.sh')], process.env);
  };
}

async function main(): Promise<void> {
  const { jobs, patterns } = parseArgs(process.argv.slice(2));
  const files = longestFirst([...new Set(patterns.flatMap(expand))]);
  if (files.length === 0) throw new Error(`no test file matches ${patterns.join(' ')}`);
  mkdirSync(path.join(root, '.build'), { recursive: true });
  const timesFile = path.join(root, '.build/test-times.jsonl');
  rmSync(timesFile, { force: true });

  const t0 = Date.now();
  const { buildOperatorForTests } = await import('../../test/support/test-build.ts');
  const built = buildOperatorForTests();
  console.log(
    `[test] operator compiled for the tests in ${((Date.now() - t0) / 1000).toFixed(1)} s (${built ? 'ok' : 'failed: tsx instead'})`,
  );
  const release = registerAsClusterUser();
  const env = {
    ...process.env,
    JWTR_TEST_RUNNER: String(process.pid),
    JWTR_TEST_TIMES: timesFile,
    ...(built ? { JWTR_TEST_BUILD: 'fresh' } : { OPERATOR_RUNTIME: 'tsx' }),
  };
  const exclusive = files.filter(isExclusive);
  const shared = files.filter((f) => !exclusive.includes(f));
  const runs: MochaRun[] = [];
  try {
    if (shared.length > 0) runs.push(await runMocha(['--parallel', '--jobs', String(jobs), ...shared], env));
    // One mocha process per file, without --parallel: `--parallel --jobs 1` loads files through
    // require(), which fails on this project's ES modules.
    for (const file of exclusive) {
      console.log(`\n[test] now alone: ${file}`);
      runs.push(await runMocha([file], env));
    }
  } finally {
    report(timesFile, Date.now() - t0, jobs);
    await release();
  }
  const sum = (key: 'passing' | 'failing' | 'pending'): number => runs.reduce((n, r) => n + r[key], 0);
  // mocha's words, last, so that .ci/run's reading of "N passing" counts both runs.
  console.log(`\n  ${sum('passing')} passing (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
  if (sum('pending') > 0) console.log(`  ${sum('pending')} pending`);
  if (sum('failing') > 0) console.log(`  ${sum('failing')} failing`);
  process.exitCode = runs.some((r) => r.code !== 0) || runs.length === 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(`tools/test/run.ts: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
