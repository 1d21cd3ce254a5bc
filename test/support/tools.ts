/**
 * The command-line tools the GitOps integration tests run, each built from a pinned Go module
 * and cached under ~/.cache/jwt-rotation-operator (as the control plane is):
 *
 *   await helmPath()                 // tools/helm/build.sh: helm.sh/helm/v3
 *   await goToolPath('argocd-health') // tools/go-tool.sh: tools/argocd-health (gopher-lua)
 *   await goToolPath('kstatus')       // tools/go-tool.sh: tools/kstatus (cli-utils kstatus, cel-go)
 *   await prometheusOperatorCrdDir()  // tools/prometheus-operator-crds/dir.sh
 *
 * and run(command, args) to run any of them. A build runs once per test run (and once per cache key).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

import { repoRoot } from './cluster.ts';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and captures its output; never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

const builds = new Map<string, Promise<string>>();

/** Runs a build script once per test run; resolves with the last line it printed. */
function lastLineOf(key: string, script: string, args: string[] = []): Promise<string> {
  let build = builds.get(key);
  if (build === undefined) {
    build = run('bash', [path.join(repoRoot, script), ...args]).then((result) => {
      const last = result.stdout.trim().split('\n').at(-1) ?? '';
      if (result.code !== 0 || last === '') {
        throw new Error(
          `${script} ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr.slice(-3000)}`,
        );
      }
      return last;
    });
    builds.set(key, build);
  }
  return build;
}

export const helmPath = (): Promise<string> => lastLineOf('helm', 'tools/helm/build.sh');
export const goToolPath = (name: 'argocd-health' | 'kstatus'): Promise<string> =>
  lastLineOf(name, 'tools/go-tool.sh', [name]);
export const prometheusOperatorCrdDir = (): Promise<string> =>
  lastLineOf('prometheus-operator-crds', 'tools/prometheus-operator-crds/dir.sh');

/** The JSON lines a tool printed. */
export function jsonLines<T>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
