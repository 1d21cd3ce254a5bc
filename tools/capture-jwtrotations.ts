/**
 * `npm run capture`: JwtRotations in every state, captured from the real operator on the local
 * control plane (test/support/capture-states.ts), written into
 * deploy/argocd/jwtrotation.io/JwtRotation/testdata/: the examples docs/gitops.md and Argo CD's
 * health_test.yaml show. The health tests capture the same states afresh in their own run and
 * fail when a committed file no longer shows what the operator writes; run this then, and commit.
 *
 *   npx tsx tools/capture-jwtrotations.ts [step ...]   # needs curl, openssl and Debian's prometheus
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

import { useCluster } from '../test/support/cluster.ts';
import { CAPTURE_DIR } from '../test/support/captures.ts';
import { CAPTURE_STEPS, captureStates, type CaptureStep } from '../test/support/capture-states.ts';
import { installCrd } from '../test/support/crd.ts';
import { runTeardowns } from '../test/support/teardown.ts';

const log = (message: string): void => {
  process.stderr.write(`[capture] ${message}\n`);
};

/** The captures must never hold key material: no long base64 runs. */
function checkNoSecrets(operatorOutput: string): void {
  if (/[A-Za-z0-9+/]{80,}={0,2}/.test(operatorOutput)) log('WARNING: key-like output from the operator');
  const found = spawnSync('grep', ['-rEl', '[A-Za-z0-9+/]{40,}={0,2}', CAPTURE_DIR], { encoding: 'utf8' });
  if (found.stdout.trim() !== '') throw new Error(`key-like text in ${found.stdout.trim()}`);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((s) => !(CAPTURE_STEPS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new Error(`unknown steps ${unknown.join(', ')}; known: ${CAPTURE_STEPS.join(', ')}`);
  mkdirSync(CAPTURE_DIR, { recursive: true });
  const cluster = await useCluster();
  await installCrd(cluster);
  const output = await captureStates(cluster, {
    dir: CAPTURE_DIR,
    only: only.length > 0 ? (only as CaptureStep[]) : undefined,
    log,
  });
  checkNoSecrets(output);
}

main().then(
  async () => {
    await runTeardowns();
    log('done');
  },
  async (error: unknown) => {
    process.stderr.write(`[capture] failed: ${String(error)}\n`);
    await runTeardowns().catch(() => undefined);
    process.exit(1);
  },
);
