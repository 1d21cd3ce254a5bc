/**
 * `npm run demo`: a full rotation on a local control plane. Brings the cluster up (built
 * from Go modules on first use), installs the CRD, applies deploy/demo/demo.yaml, runs the
 * operator, asks for a rotation and prints each phase until it completes. The manifest keeps the
 * default completion (after the old key's tokens expired), so no Event says a session ended.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/constants.ts';
import type { JwtRotation } from '../src/api/types.ts';
import { loadConfig } from '../src/config.ts';
import { startOperator } from '../src/wiring/operator.ts';
import { systemClock } from '../src/platform/clock.ts';
import { fingerprint } from '../src/platform/fingerprint.ts';
import { createLogger } from '../src/platform/logger.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kubeconfig = path.join(root, '.cluster', 'kubeconfig');
const kubectlBin = path.join(root, '.cluster', 'bin', 'kubectl');
const namespace = 'jwt-demo';
const run = promisify(execFile);
const started = Date.now();

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
function say(message: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`${t}s  ${message}`);
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(kubectlBin, ['--kubeconfig', kubeconfig, ...args], {
    maxBuffer: 10 * 1024 * 1024,
  });
  return stdout;
}

async function clusterUp(): Promise<void> {
  say(
    'starting the local control plane (npm run cluster:up; the first run builds it from Go modules, ~15 min)',
  );
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [path.join(root, 'tools/cluster/up.sh')], { stdio: 'inherit' });
    child.once('exit', (code) => {
      code === 0 ? resolve() : reject(new Error(`cluster:up failed (exit ${String(code)})`));
    });
  });
}

function describe(r: JwtRotation): string {
  const s = r.status ?? {};
  const ready = (s.targets ?? []).filter((t) => t.ready).length;
  const parts = [`key ${s.currentKeyFingerprint ?? '-'}`];
  if (s.newKeyFingerprint) parts.push(`new ${s.newKeyFingerprint}`);
  if (s.rotationDate) parts.push(`signing switches at ${s.rotationDate}`);
  if (s.oldKeyTokensValidUntil) parts.push(`old-key tokens valid until ${s.oldKeyTokensValidUntil}`);
  parts.push(`targets ready ${ready}/${(s.targets ?? []).length}`);
  const reconciling = s.conditions?.find((c) => c.type === 'Reconciling' && c.status === 'True');
  if (reconciling?.message) parts.push(reconciling.message);
  return parts.join(' · ');
}

async function main(): Promise<void> {
  await clusterUp();
  process.env.KUBECONFIG = kubeconfig;
  say('installing the JwtRotation CRD');
  await kubectl('apply', '--server-side', '-f', path.join(root, 'crds'));
  await kubectl('wait', '--for=condition=Established', `crd/${PLURAL}.${GROUP}`, '--timeout=60s');

  say(
    `creating namespace ${namespace} with a 3-replica Deployment and a JwtRotation (deploy/demo/demo.yaml)`,
  );
  await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=true', '--timeout=120s');
  await kubectl('create', 'namespace', namespace);
  await kubectl('apply', '-f', path.join(root, 'deploy/demo/demo.yaml'));

  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const operator = await startOperator(
    { ...loadConfig(process.env), watchNamespaces: [namespace], httpHost: '127.0.0.1', httpPort: 0 },
    logger,
    { clock: systemClock },
  );
  say(`operator running (metrics on http://127.0.0.1:${operator.port}/metrics)`);

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const get = async (): Promise<JwtRotation> =>
    (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name: 'api',
    })) as JwtRotation;

  const deadline = Date.now() + 5 * 60_000;
  const waitUntil = async (what: string, done: (r: JwtRotation) => boolean): Promise<JwtRotation> => {
    let lastPhase = '';
    let lastLine = '';
    for (;;) {
      const r = await get();
      const phase = r.status?.phase ?? '(none)';
      const line = describe(r);
      if (phase !== lastPhase) say(`${bold(phase.padEnd(11))} ${line}`);
      else if (line !== lastLine && process.env.DEMO_VERBOSE) say(`${' '.repeat(11)} ${line}`);
      lastPhase = phase;
      lastLine = line;
      if (done(r)) return r;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; status: ${JSON.stringify(r.status)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  await waitUntil(
    'the Secret',
    (r) => r.status?.phase === 'Idle' && r.status.currentKeyFingerprint !== undefined,
  );
  const value = `demo-${String(Date.now())}`;
  say(`requesting a rotation: kubectl annotate jwtrotation api jwtrotation.io/rotate=${value}`);
  await kubectl(
    'annotate',
    '-n',
    namespace,
    'jwtrotation',
    'api',
    `jwtrotation.io/rotate=${value}`,
    '--overwrite',
  );
  const done = await waitUntil(
    'the rotation to complete',
    (r) =>
      r.status?.phase === 'Idle' &&
      r.status.handledRequests?.rotate === value &&
      r.status.lastRotation?.outcome !== undefined,
  );
  await operator.stop();

  const last = done.status?.lastRotation;
  say(
    `rotation ${last?.outcome ?? '?'}: ${last?.previousKeyFingerprint ?? '?'} → ${last?.newKeyFingerprint ?? '?'}`,
  );
  console.log(`\n$ kubectl get jwtrotations -n ${namespace}`);
  console.log(await kubectl('get', 'jwtrotations', '-n', namespace));
  console.log(`$ kubectl get secret api-jwt -n ${namespace}   (values masked: keys shown by fingerprint)`);
  const secret = await core.readNamespacedSecret({ namespace, name: 'api-jwt' });
  for (const [key, encoded] of Object.entries(secret.data ?? {}).sort()) {
    const text = Buffer.from(encoded, 'base64').toString('utf8');
    const shown =
      key.startsWith('JWT_SECRET') && key !== 'JWT_SECRET_ROTATION_DATE'
        ? `<${String(Buffer.from(text, 'base64').length)}-byte key, fingerprint ${fingerprint(text)}>`
        : text;
    console.log(`  ${key.padEnd(24)} ${shown}`);
  }
  console.log(`\n$ kubectl get events -n ${namespace} --field-selector involvedObject.kind=JwtRotation`);
  const events = await kubectl(
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    'involvedObject.kind=JwtRotation',
    '--sort-by=.firstTimestamp',
    '-o',
    'custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message',
  );
  console.log(events);
  say(
    events.includes('OldKeyTokensOutstanding')
      ? 'sessions ended at completion: see the OldKeyTokensOutstanding Event'
      : 'no session ended: the old key was removed only after every token it signed had expired',
  );
  say(
    `done. The cluster keeps running: ${kubectlBin} --kubeconfig ${kubeconfig} get jwtrotations -A; stop it with npm run cluster:down`,
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
