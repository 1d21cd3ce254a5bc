/**
 * The issuer server (src/issuer/main.ts) as a host process, compiled as it ships (tsconfig.test-build.json
 * compiles all of src/), on a loopback port the OS picks, serving the PublishedKeySets of the given
 * namespaces with a test certificate. Kept to what the relying-party proof needs; the issuer
 * server's own suite has the full harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clusterDir, repoRoot, waitFor } from './cluster.ts';
import { registerTeardown } from './teardown.ts';
import { buildOperatorForTests } from './test-build.ts';

export interface IssuerServerProcess {
  httpsPort: number;
  /** namespace/name of its Lease. */
  output(): string;
  stop(): Promise<void>;
}

function issuerEntry(): string[] {
  const compiled = path.join(repoRoot, '.build/test/src/issuer/main.js');
  if (process.env.OPERATOR_RUNTIME !== 'tsx' && buildOperatorForTests() && existsSync(compiled))
    return [compiled];
  return ['--import', 'tsx', path.join(repoRoot, 'src/issuer/main.ts')];
}

export async function startIssuerServerProcess(options: {
  kubeconfigPath: string;
  /** WATCH_NAMESPACES: whose PublishedKeySets it serves. */
  namespaces: string[];
  /** POD_NAME and POD_NAMESPACE: its replica name and where its Lease lives. */
  replica: string;
  namespace: string;
  /** Holds tls.crt and tls.key. */
  tlsDir: string;
}): Promise<IssuerServerProcess> {
  const child: ChildProcess = spawn(process.execPath, issuerEntry(), {
    cwd: repoRoot,
    env: {
      ...process.env,
      KUBECONFIG: options.kubeconfigPath,
      WATCH_NAMESPACES: options.namespaces.join(','),
      WATCH_NAMESPACE: '',
      POD_NAME: options.replica,
      POD_NAMESPACE: options.namespace,
      TLS_DIR: options.tlsDir,
      HTTPS_HOST: '127.0.0.1',
      HTTPS_PORT: '0',
      HEALTH_HOST: '127.0.0.1',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      try {
        const dir = path.join(clusterDir, 'logs', 'issuers');
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          path.join(dir, `${options.replica}.log`),
          `${text}\n# exited with ${code ?? String(signal)}\n`,
        );
      } catch {
        // A courtesy to a reader of a failed run.
      }
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    await exit;
  };
  registerTeardown('issuer server process', stop);
  const started = await waitFor(
    'the issuer server to start',
    () => {
      if (exited) throw new Error(`the issuer server exited:\n${text.slice(-2000)}`);
      const line = text
        .split('\n')
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return undefined;
          }
        })
        .find((l) => l?.message === 'issuer started');
      return Promise.resolve(line);
    },
    { timeoutMs: 120_000, intervalMs: 100 },
  );
  return { httpsPort: Number(started.httpsPort), output: () => text, stop };
}
