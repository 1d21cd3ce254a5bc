/**
 * The operator as integration tests start it: compiled JavaScript (tsconfig.test-build.json, into
 * .build/test), the way it ships, rather than TypeScript compiled on the fly by tsx. On this 2-core
 * machine a process starts in about 3 s instead of 9-12 s and takes half the memory, and a run
 * starts a hundred of them.
 *
 * The operator's test entry is then bundled into one file (esbuild, which tsx brings): loading the
 * 1,300 files of its module graph (835 of them @kubernetes/client-node's) took 1.1-1.3 s of CPU per
 * start on an idle machine and up to 10 s while four test files ran; the bundle starts in 0.45 s. The
 * code is the same tsc-checked source, resolved once ahead of time; fault-injection alone starts ~50.
 *
 * Built at most once per test process (incrementally: seconds when nothing changed), under a lock,
 * since parallel test workers ask at the same time. The parallel runner (tools/test/run.ts) builds
 * before it starts them and says so with JWTR_TEST_BUILD=fresh. OPERATOR_RUNTIME=tsx runs the
 * TypeScript instead, e.g. while editing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cluster.ts';

const buildDir = path.join(repoRoot, '.build');
/** The compiled test entry point (test/support/operator-entry.ts). */
export const compiledEntry = path.join(buildDir, 'test/test/support/operator-entry.js');
/** The same, bundled into one file. */
const bundledEntry = path.join(buildDir, 'test/operator-entry.bundle.mjs');
const sourceEntry = path.join(repoRoot, 'test/support/operator-entry.ts');

let built: boolean | undefined;

/** Compiles src/ and the test entry point; true when the compiled entry is there to run. */
export function buildOperatorForTests(): boolean {
  if (built !== undefined) return built;
  if (process.env.JWTR_TEST_BUILD === 'fresh' && existsSync(compiledEntry)) return (built = true);
  mkdirSync(buildDir, { recursive: true });
  const started = Date.now();
  const result = spawnSync(
    'flock',
    [
      path.join(buildDir, 'build.lock'),
      process.execPath,
      path.join(repoRoot, 'node_modules/typescript/bin/tsc'),
      '-p',
      path.join(repoRoot, 'tsconfig.test-build.json'),
    ],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  // tsc emits even when it reports type errors (npm run typecheck is where those fail the run).
  if (result.status !== 0) {
    console.error(
      `[test-build] tsc exited with ${String(result.status)} after ${Date.now() - started} ms:\n${(result.stdout + result.stderr).slice(0, 2000)}`,
    );
  }
  if (!existsSync(compiledEntry)) return (built = false);
  bundle();
  return (built = true);
}

/** Bundles the compiled entry (when esbuild is there; the unbundled entry runs otherwise). */
function bundle(): void {
  const esbuild = path.join(repoRoot, 'node_modules/esbuild/bin/esbuild');
  if (!existsSync(esbuild)) return;
  const result = spawnSync(
    'flock',
    [
      path.join(buildDir, 'build.lock'),
      esbuild,
      compiledEntry,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      `--outfile=${bundledEntry}`,
      '--log-level=error',
      // CommonJS dependencies inside an ES module bundle call require().
      "--banner:js=import { createRequire as __jwtrCreateRequire } from 'node:module'; const require = __jwtrCreateRequire(import.meta.url);",
    ],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    console.error(
      `[test-build] esbuild exited with ${String(result.status)}:\n${(result.stdout + result.stderr).slice(0, 2000)}`,
    );
    rmSync(bundledEntry, { force: true });
  }
}

/** The issuer server's shipped entry point (src/issuer/main.ts), compiled with the rest of src/. */
const compiledIssuer = path.join(buildDir, 'test/src/issuer/main.js');
const sourceIssuer = path.join(repoRoot, 'src/issuer/main.ts');

/** The node arguments that start the issuer server as it ships (no test entry: it has no test hooks). */
export function issuerCommand(): string[] {
  if (process.env.OPERATOR_RUNTIME !== 'tsx' && buildOperatorForTests() && existsSync(compiledIssuer)) {
    return [compiledIssuer];
  }
  return ['--import', 'tsx', sourceIssuer];
}

/** The node arguments that start the operator's test entry point. */
export function operatorCommand(): string[] {
  if (process.env.OPERATOR_RUNTIME !== 'tsx' && buildOperatorForTests())
    return [existsSync(bundledEntry) ? bundledEntry : compiledEntry];
  return ['--import', 'tsx', sourceEntry];
}
