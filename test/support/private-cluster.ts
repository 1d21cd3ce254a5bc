/**
 * A control plane of a test file's own: the same cached binaries and tools/cluster/up.sh as the
 * shared one, in a directory of its own (CLUSTER_DIR) on free loopback ports, kwok pods only (the
 * machine's one real node belongs to the shared cluster). For a file that must stop or restart
 * etcd or kube-apiserver: it can then run side by side with the others instead of alone after them,
 * and it cannot break another file's watch.
 *
 * Stopped (tools/cluster/down.sh, the same CLUSTER_DIR) by stop(), or at the end of the run by the
 * root teardown if a test did not.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot, waitFor, type KubectlOptions, type KubectlResult, type TestCluster } from './cluster.ts';
import { registerTeardown } from './teardown.ts';

export interface PrivateCluster extends TestCluster {
  /** Its CLUSTER_DIR. */
  dir: string;
  /**
   * Stops a component and starts it again with the same command line (tools/cluster/restart.sh);
   * resolves when it is healthy again, with the time (epoch ms) it was.
   */
  restart(component: 'kube-apiserver' | 'etcd', downSeconds: number): Promise<number>;
  /** Stops every process of this control plane and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

function script(
  name: string,
  args: string[],
  dir: string,
  input?: string,
): Promise<{ code: number; out: string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(name, args, {
      env: { ...process.env, CLUSTER_DIR: dir, CLUSTER_REAL_NODE: '0', CLUSTER_AUDIT: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
      stderr += d.toString();
    });
    child.stdin.end(input ?? '');
    child.once('close', (code) => {
      resolve({ code: code ?? 1, out, stdout, stderr });
    });
  });
}

const tool = (name: string): string => path.join(repoRoot, 'tools/cluster', name);

/** Starts a control plane of its own (about 7 s on a warm cache). */
export async function startPrivateCluster(prefix: string): Promise<PrivateCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), `jwtr-${prefix}-`));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const down = await script('bash', [tool('down.sh')], dir);
    if (down.code !== 0)
      throw new Error(`down.sh (${dir}) failed (exit ${down.code}):\n${down.out.slice(-2000)}`);
    rmSync(dir, { recursive: true, force: true });
  };
  registerTeardown(`stop the private control plane ${dir}`, async () => {
    await stop();
  });
  const up = await script('bash', [tool('up.sh')], dir);
  if (up.code !== 0) {
    await stop().catch(() => undefined);
    throw new Error(`up.sh (${dir}) failed (exit ${up.code}):\n${up.out.slice(-3000)}`);
  }

  const kubeconfigPath = path.join(dir, 'kubeconfig');
  const kubectlPath = path.join(dir, 'bin', 'kubectl');
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);

  const kubectl = async (args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> => {
    const ns = opts.namespace === undefined ? [] : ['--namespace', opts.namespace];
    const r = await script(kubectlPath, ['--kubeconfig', kubeconfigPath, ...ns, ...args], dir, opts.input);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  };
  const newNamespace = async (name = 'test'): Promise<string> => {
    await core.createNamespace({ body: { metadata: { name } } });
    await waitFor(`ServiceAccount ${name}/default`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
    );
    return name;
  };
  const restart = async (component: 'kube-apiserver' | 'etcd', downSeconds: number): Promise<number> => {
    const r = await script('bash', [tool('restart.sh'), component, String(downSeconds)], dir);
    if (r.code !== 0) throw new Error(`restart.sh ${component} failed (${r.code}):\n${r.out}`);
    return Date.now();
  };
  return { dir, kubeconfigPath, kubeConfig, kubectlPath, kubectl, newNamespace, restart, stop };
}
