/**
 * Member clusters for the multi-cluster tests (docs/multi-cluster.md): each is a control plane of its
 * own, started by tools/cluster/up.sh from the same cached binaries in a directory of its own
 * (CLUSTER_DIR, free loopback ports, kwok only), and stopped by tools/cluster/down.sh. Only these
 * processes are ever stopped here, found by the pid files of that directory, never the shared cluster's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';

import { repoRoot, waitFor, type KubectlResult } from './cluster.ts';
import type { Clients } from './jwt-rotations.ts';
import { startPrivateCluster } from './private-cluster.ts';

export interface MemberControlPlane {
  name: string;
  dir: string;
  /** Its admin kubeconfig: for the tests' own set-up and checks, never given to the hub. */
  admin: k8s.KubeConfig;
  server: string;
  c: Clients;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** Stops its kube-apiserver; resolves with a function that starts it again and resolves once it is ready. */
  stopApiServer(): Promise<() => Promise<void>>;
  /** Stops every process of this control plane and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      resolve({ stdout, stderr, code: code ?? 1 });
    });
    child.stdin.end(input ?? '');
  });
}

/**
 * Starts a member control plane: a control plane of the test file's own (./private-cluster.ts:
 * tools/cluster/up.sh in a fresh CLUSTER_DIR, kwok only), with what the multi-cluster tests use.
 */
export async function startMemberControlPlane(name: string): Promise<MemberControlPlane> {
  const cluster = await startPrivateCluster(`member-${name}`);
  const admin = cluster.kubeConfig;
  return {
    name,
    dir: cluster.dir,
    admin,
    server: admin.getCurrentCluster()?.server ?? '',
    c: {
      core: admin.makeApiClient(k8s.CoreV1Api),
      apps: admin.makeApiClient(k8s.AppsV1Api),
      custom: admin.makeApiClient(k8s.CustomObjectsApi),
    },
    kubectl: (args, input) => cluster.kubectl(args, input === undefined ? {} : { input }),
    stopApiServer: () => stopApiServer(cluster.dir, cluster.kubectlPath),
    stop: () => cluster.stop(),
  };
}

/** Stops the member's control plane (tools/cluster/down.sh with its CLUSTER_DIR) and deletes its directory. */
export async function stopMemberControlPlane(member: MemberControlPlane): Promise<void> {
  await member.stop();
}

/** NUL-separated /proc entries (cmdline, environ) as a list. */
function procList(pid: number, file: 'cmdline' | 'environ'): string[] {
  return readFileSync(`/proc/${String(pid)}/${file}`, 'utf8')
    .split('\0')
    .filter((s) => s !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * As tools/cluster/restart.sh, in two halves: stop the member's kube-apiserver (its pid from the
 * member's own pid file), and later start it with the same command line and environment.
 */
async function stopApiServer(dir: string, kubectlPath: string): Promise<() => Promise<void>> {
  const pidFile = path.join(dir, 'pids', 'kube-apiserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const exe = path.basename(readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8').split('\0')[0] ?? '');
  if (exe !== 'kube-apiserver')
    throw new Error(`pid ${String(pid)} in ${pidFile} is ${exe}, not kube-apiserver`);
  const argv = procList(pid, 'cmdline');
  const envv = procList(pid, 'environ');
  process.kill(pid, 'SIGKILL');
  await waitFor(`member kube-apiserver ${String(pid)} to exit`, () => Promise.resolve(!alive(pid)), {
    intervalMs: 50,
  });
  return async () => {
    const log = openSync(path.join(dir, 'logs', 'kube-apiserver.log'), 'a');
    writeFileSync(pidFile, '');
    const child = spawn(
      'setsid',
      ['env', '-i', ...envv, 'bash', '-c', 'echo $$ >"$0"; exec "$@"', pidFile, ...argv],
      { detached: true, stdio: ['ignore', log, log] },
    );
    child.unref();
    await waitFor(
      'the member kube-apiserver to be ready again',
      async () => {
        const r = await run(
          kubectlPath,
          ['--kubeconfig', path.join(dir, 'kubeconfig'), 'get', '--raw', '/readyz'],
          process.env,
        );
        return r.code === 0 && r.stdout.trim() === 'ok';
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  };
}

/**
 * In a member's namespace `ns` (which exists): deploy/components/member, its Role narrowed to the Secret
 * api-jwt and the Deployment api, and the empty managed Secret. Resolves with a kubeconfig for the hub
 * that carries the member ServiceAccount's token (never admin), and that token (for the leak checks).
 */
export async function prepareMemberNamespace(member: {
  name: string;
  server: string;
  c: Clients;
  kubectl(args: string[]): Promise<KubectlResult>;
  ns: string;
}): Promise<{ kubeconfig: string; bearer: string }> {
  const { name, server, c, ns } = member;
  const overlay = mkdtempSync(path.join(tmpdir(), 'jwtr-member-overlay-'));
  const component = path.relative(overlay, path.join(repoRoot, 'deploy/components/member'));
  writeFileSync(
    path.join(overlay, 'kustomization.yaml'),
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace: ns,
      components: [component],
      patches: [
        {
          target: { kind: 'Role', name: 'jwt-rotation-hub' },
          patch: stringify([
            { op: 'replace', path: '/rules/0/resourceNames', value: ['api-jwt'] },
            { op: 'replace', path: '/rules/1/resourceNames', value: ['api'] },
          ]),
        },
      ],
    }),
  );
  const applied = await member.kubectl(['apply', '-k', overlay]);
  rmSync(overlay, { recursive: true, force: true });
  if (applied.code !== 0) throw new Error(`kubectl apply -k in ${name}: ${applied.stderr}`);
  await c.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'api-jwt' }, type: 'Opaque' },
  });
  const token = await waitFor(`the hub's token in ${name}`, async () => {
    const s = await c.core.readNamespacedSecret({ namespace: ns, name: 'jwt-rotation-hub-token' });
    return s.data?.token === undefined ? undefined : { token: s.data.token, ca: s.data['ca.crt'] ?? '' };
  });
  const bearer = Buffer.from(token.token, 'base64').toString('utf8');
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': token.ca } }],
    users: [{ name: 'jwt-rotation-hub', user: { token: bearer } }],
    contexts: [{ name, context: { cluster: name, user: 'jwt-rotation-hub', namespace: ns } }],
    'current-context': name,
  });
  return { kubeconfig, bearer };
}
