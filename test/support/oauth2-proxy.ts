/**
 * oauth2-proxy (built from its Go module by tools/oauth2-proxy/build.sh) as a relying party of the
 * operator's OIDC issuer: our issuer is one of its "extra JWT issuers" (`--skip-jwt-bearer-tokens`),
 * whose tokens it verifies with go-oidc's remote key set (fetched on a kid it does not know, with no
 * cool-down and no timer). `/oauth2/auth` answers 202 for a token it accepts and 401 for one it
 * does not.
 *
 * Every URL it is given is on loopback: its own provider (which it needs configured, and which never
 * sees these tokens: their issuer differs, so go-oidc refuses them before any key fetch) points at a
 * path of the issuer server that does not exist, and our issuer is trusted through --provider-ca-file.
 * No name lookup, no outside call.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clusterDir, repoRoot, waitFor } from './cluster.ts';
import { freePort } from './prometheus.ts';
import { registerTeardown } from './teardown.ts';
import { run } from './tools.ts';

let built: Promise<string> | undefined;

/** The oauth2-proxy binary (built once per cache key; a cold build takes minutes). */
export function oauth2ProxyPath(): Promise<string> {
  built ??= run('bash', [path.join(repoRoot, 'tools/oauth2-proxy/build.sh')]).then((result) => {
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    if (result.code !== 0 || last === '')
      throw new Error(`tools/oauth2-proxy/build.sh failed:\n${result.stderr.slice(-3000)}`);
    return last;
  });
  return built;
}

export interface Oauth2Proxy {
  /** Its /oauth2/auth: 202 with a token it accepts, 401 without. */
  authUrl: string;
  /** GET /oauth2/auth with the token as a bearer token: the HTTP status. */
  check(token: string): Promise<number>;
  output(): string;
  stop(): Promise<void>;
}

export async function startOauth2Proxy(options: {
  /** Our issuer: discovery at <issuer>/.well-known/openid-configuration. */
  issuer: string;
  /** The aud its tokens must carry. */
  audience: string;
  /** A file with the PEM of the CA that signed the issuer's certificate. */
  caFile: string;
}): Promise<Oauth2Proxy> {
  const binary = await oauth2ProxyPath();
  const port = await freePort();
  const origin = new URL(options.issuer).origin;
  // A provider path our issuer server does not serve: oauth2-proxy must have a provider of its own.
  const unused = `${origin}/oauth2-proxy-provider-unused`;
  const args = [
    `--http-address=127.0.0.1:${port}`,
    '--provider=oidc',
    `--oidc-issuer-url=${unused}`,
    '--skip-oidc-discovery=true',
    `--oidc-jwks-url=${unused}/jwks.json`,
    `--login-url=${unused}/authorize`,
    `--redeem-url=${unused}/token`,
    '--client-id=oauth2-proxy',
    '--client-secret=unused',
    `--cookie-secret=${randomBytes(16).toString('hex')}`,
    '--cookie-secure=false',
    `--redirect-url=http://127.0.0.1:${port}/oauth2/callback`,
    '--email-domain=*',
    '--upstream=static://202',
    '--skip-jwt-bearer-tokens=true',
    `--extra-jwt-issuers=${options.issuer}=${options.audience}`,
    `--provider-ca-file=${options.caFile}`,
    '--request-logging=false',
    '--silence-ping-logging=true',
  ];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      keepOutput(port, `${text}\n# exited with ${code ?? String(signal)}\n`);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    await exit;
  };
  registerTeardown('oauth2-proxy', stop);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'oauth2-proxy to answer /ping',
    async () => {
      if (exited) throw new Error(`oauth2-proxy exited:\n${text.slice(-3000)}`);
      return (await fetch(`${base}/ping`, { signal: AbortSignal.timeout(2_000) })).status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const authUrl = `${base}/oauth2/auth`;
  return {
    authUrl,
    async check(token) {
      const response = await fetch(authUrl, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
      await response.body?.cancel();
      return response.status;
    },
    output: () => text,
    stop,
  };
}

function keepOutput(port: number, text: string): void {
  try {
    const dir = path.join(clusterDir, 'logs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `oauth2-proxy-${port}.log`), text);
  } catch {
    // A courtesy to a reader of a failed run.
  }
}
