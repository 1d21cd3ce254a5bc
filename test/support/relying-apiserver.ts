/**
 * A second kube-apiserver of the local control plane, as a relying party of the operator's OIDC
 * issuer: the same binary, etcd and PKI as the first (tools/cluster/up.sh), on a loopback port of its
 * own, with a structured AuthenticationConfiguration (--authentication-config) whose JWT issuer is
 * ours. Same cluster data, so an operator can run against it, and its TokenReview probes then ask
 * this relying party itself.
 *
 * Clients authenticate to it with the cluster's admin certificate, as to the first; tokens are
 * presented without a client certificate (a valid certificate would win over the bearer token).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { clusterDir, waitFor } from './cluster.ts';
import { freePort } from './prometheus.ts';
import { registerTeardown } from './teardown.ts';

/** One JWT issuer of the AuthenticationConfiguration (apiserver.config.k8s.io/v1, served by v1.37). */
export interface JwtIssuerConfig {
  url: string;
  audiences: string[];
  /** PEM of the CA that signed the issuer's serving certificate. */
  certificateAuthority: string;
  /** Prefix of the username taken from the `sub` claim. */
  usernamePrefix: string;
}

/** The AuthenticationConfiguration the relying API server runs with, as YAML (JSON is YAML). */
export function authenticationConfiguration(issuer: JwtIssuerConfig): string {
  return JSON.stringify(
    {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'AuthenticationConfiguration',
      jwt: [
        {
          issuer: {
            url: issuer.url,
            audiences: issuer.audiences,
            audienceMatchPolicy: 'MatchAny',
            certificateAuthority: issuer.certificateAuthority,
          },
          claimMappings: { username: { claim: 'sub', prefix: issuer.usernamePrefix } },
        },
      ],
    },
    null,
    2,
  );
}

export interface ReviewAnswer {
  /** 201 when the token authenticated, 401 when not. */
  status: number;
  username?: string | undefined;
}

export interface RelyingApiServer {
  url: string;
  /** An admin kubeconfig (the cluster's admin certificate) pointing at this API server. */
  kubeconfigPath: string;
  /** POST a SelfSubjectReview with the token as a bearer token: who it authenticates as. */
  selfSubjectReview(token: string): Promise<ReviewAnswer>;
  /** Its /metrics lines of the JWT authenticator (apiserver_authentication_jwt_authenticator_*). */
  jwtMetrics(): Promise<string[]>;
  stop(): Promise<void>;
}

/** The ports and binaries of the running control plane (tools/cluster/up.sh writes state.env). */
function clusterState(): Record<string, string> {
  const text = readFileSync(path.join(clusterDir, 'state.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  );
}

/** The flags of tools/cluster/up.sh's API server that make this one a peer of it, on `port`. */
function apiServerArgs(pki: string, etcdPort: string, port: number, configFile: string): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // The first API server owns the kubernetes Service's endpoints.
    '--endpoint-reconciler-type=none',
    `--secure-port=${port}`,
    // Its certificate names 127.0.0.1, whatever the port.
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
    `--client-ca-file=${pki}/ca.crt`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=true',
    '--disable-admission-plugins=TaintNodesByCondition',
    `--requestheader-client-ca-file=${pki}/front-proxy-ca.crt`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki}/front-proxy-client.crt`,
    `--proxy-client-key-file=${pki}/front-proxy-client.key`,
    `--authentication-config=${configFile}`,
    '--profiling=false',
    '--v=2',
  ];
}

function adminKubeconfig(pki: string, server: string): string {
  const b64 = (name: string): string => readFileSync(path.join(pki, name)).toString('base64');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'relying', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
    users: [
      {
        name: 'admin',
        user: { 'client-certificate-data': b64('admin.crt'), 'client-key-data': b64('admin.key') },
      },
    ],
    contexts: [{ name: 'relying', context: { cluster: 'relying', user: 'admin', namespace: 'default' } }],
    'current-context': 'relying',
  });
}

interface Reply {
  status: number;
  body: string;
}

function send(
  agent: Agent,
  url: string,
  options: { method: string; headers?: Record<string, string>; body?: string },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent, method: options.method, headers: options.headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Starts it (a few seconds: it serves once its post-start hooks ran) and registers its stop as a
 * teardown. Its log goes to .cluster/logs/relying-apiserver-<port>.log.
 */
export async function startRelyingApiServer(config: string): Promise<RelyingApiServer> {
  const state = clusterState();
  const pki = path.join(clusterDir, 'pki');
  const port = await freePort();
  const dir = path.join(clusterDir, 'logs', `relying-apiserver-${port}`);
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'authentication-config.yaml');
  writeFileSync(configFile, config);
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = path.join(dir, `kubeconfig-${randomBytes(3).toString('hex')}`);
  writeFileSync(kubeconfigPath, adminKubeconfig(pki, url), { mode: 0o600 });
  const binary = path.join(state.BIN_SRC ?? path.join(clusterDir, 'bin'), 'kube-apiserver');
  const log = path.join(clusterDir, 'logs', `relying-apiserver-${port}.log`);
  let output = '';
  const child: ChildProcess = spawn(binary, apiServerArgs(pki, state.ETCD_PORT ?? '', port, configFile), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      writeFileSync(log, output);
      resolve();
    }),
  );
  const keep = (chunk: Buffer): void => {
    // Enough to see why it failed; the whole log is long at --v=2.
    output = (output + chunk.toString()).slice(-4_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  };
  registerTeardown('relying kube-apiserver', stop);

  const admin = new Agent({
    keepAlive: true,
    ca: readFileSync(path.join(pki, 'ca.crt')),
    cert: readFileSync(path.join(pki, 'admin.crt')),
    key: readFileSync(path.join(pki, 'admin.key')),
  });
  // Bearer tokens only: no client certificate on these connections.
  const anonymous = new Agent({ keepAlive: true, maxSockets: 4, ca: readFileSync(path.join(pki, 'ca.crt')) });
  await waitFor(
    'the relying kube-apiserver to be ready',
    async () => {
      if (exited) throw new Error(`the relying kube-apiserver exited:\n${output.slice(-3000)}`);
      return (await send(admin, `${url}/readyz`, { method: 'GET' })).body === 'ok';
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  return {
    url,
    kubeconfigPath,
    async selfSubjectReview(token) {
      const reply = await send(anonymous, `${url}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      });
      let username: string | undefined;
      if (reply.status === 201) {
        const review = JSON.parse(reply.body) as { status?: { userInfo?: { username?: string } } };
        username = review.status?.userInfo?.username;
      }
      return { status: reply.status, username };
    },
    async jwtMetrics() {
      const reply = await send(admin, `${url}/metrics`, { method: 'GET' });
      return reply.body
        .split('\n')
        .filter((line) => line.startsWith('apiserver_authentication_jwt_authenticator_'));
    },
    async stop() {
      admin.destroy();
      anonymous.destroy();
      await stop();
    },
  };
}
