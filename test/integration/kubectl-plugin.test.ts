/**
 * The kubectl plugin (src/cli/kubectl-jwtrotation.ts) against the local control plane with the real
 * operator: help output, discovery by kubectl, status, rotate/rollback/emergency with --wait,
 * confirmation, history, kubectl's flags and exit codes. Also `kubectl wait --for=condition=Ready`
 * and `kubectl explain jwtrotation.spec`.
 */
import { chmodSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import { parse } from 'yaml';

import type { JwtRotation, JwtRotationSpec, RotationRecord } from '../../src/api/types.ts';
import { repoRoot, type TestCluster } from '../support/cluster.ts';
import {
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { run, type CommandResult } from '../support/tools.ts';

/** The package's bin, as `npm run build` compiles it: the file kubectl runs. */
const BIN = path.join(repoRoot, 'dist/cli/kubectl-jwtrotation.js');
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[`);

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  rollout: { signingDelay: '3s', pollInterval: '300ms' },
  monitoring: { minDuration: '5s', maxDuration: '1m', requireOldTokenExpiry: false },
};

describe('the kubectl plugin kubectl-jwtrotation, on a real control plane', function () {
  this.timeout(300_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  let ns: string;
  let binDir: string;

  /** The plugin as kubectl runs it: its own process, no TTY. */
  const plugin = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> =>
    run(BIN, ['--kubeconfig', cluster.kubeconfigPath, ...args], { env: { ...process.env, ...env } });

  before(async function () {
    this.timeout(600_000);
    ({ cluster, c } = suite);
    // The bin of package.json, compiled by the build (tsc -p tsconfig.build.json into dist/).
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(path.join(repoRoot, pkg.bin['kubectl-jwtrotation'] ?? '')).to.equal(BIN);
    const built = await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
    expect(built.code, built.stdout + built.stderr).to.equal(0);
    expect(readFileSync(BIN, 'utf8')).to.match(/^#!\/usr\/bin\/env node\n/);
    chmodSync(BIN, 0o755); // npm does this when it links a bin
    ns = await cluster.newNamespace('plugin');
    await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
    await createJwtRotation(c, ns, 'api', spec);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    // What `npm install` puts on PATH: a link named kubectl-jwtrotation to the bin.
    binDir = mkdtempSync(path.join(tmpdir(), 'jwtr-plugin-'));
    symlinkSync(BIN, path.join(binDir, 'kubectl-jwtrotation'));
  });

  describe('help', () => {
    it('lists every command and kubectl flag, and exit codes', async () => {
      const out = await plugin(['--help']);
      expect(out.code).to.equal(0);
      for (const word of ['status', 'rotate', 'rollback', 'emergency', 'history']) {
        expect(out.stdout).to.match(new RegExp(`^  ${word} `, 'm'));
      }
      for (const flag of [
        '-n, --namespace',
        '-A, --all-namespaces',
        '--context',
        '--kubeconfig',
        '-o, --output',
        '--yes',
        '--wait',
        '--timeout',
      ]) {
        expect(out.stdout).to.include(flag);
      }
      expect(out.stdout).to.match(
        /Exit codes: 0 success, 1 .* 2 usage error, 3 not found, 4 --wait timed out, 5 not confirmed/s,
      );
    });

    for (const [command, annotation] of [
      ['status', undefined],
      ['rotate', 'jwtrotation.io/rotate'],
      ['rollback', 'jwtrotation.io/rollback'],
      ['emergency', 'jwtrotation.io/emergency-rotate'],
      ['history', undefined],
    ] as const) {
      it(`explains ${command}`, async () => {
        const out = await plugin([command, '--help']);
        expect(out.code).to.equal(0);
        expect(out.stdout).to.include(`Usage:\n  kubectl jwtrotation ${command}`);
        if (annotation !== undefined) expect(out.stdout).to.include(annotation);
      });
    }

    it('exits 2 with a hint on usage errors', async () => {
      for (const args of [
        [],
        ['frobnicate'],
        ['rotate'],
        ['status', 'api', '-o', 'xml'],
        ['rotate', 'api', '-A'],
        ['status', '--bogus'],
      ]) {
        const out = await plugin(args);
        expect(out.code, args.join(' ')).to.equal(2);
      }
      expect((await plugin(['frobnicate'])).stderr).to.include(`See 'kubectl jwtrotation --help'`);
    });

    it('is found and run by kubectl as a plugin', async () => {
      const env = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` };
      const list = await run(cluster.kubectlPath, ['plugin', 'list'], { env });
      expect(list.stdout).to.include(path.join(binDir, 'kubectl-jwtrotation'));
      const status = await run(
        cluster.kubectlPath,
        ['jwtrotation', 'status', 'api', '-n', ns, '--kubeconfig', cluster.kubeconfigPath],
        { env },
      );
      expect(status.code, status.stderr).to.equal(0);
      expect(status.stdout).to.include(`JwtRotation ${ns}/api`);
    });
  });

  describe('status', () => {
    it('shows phase, conditions, fingerprints and targets, without colour when not on a terminal', async () => {
      const r = await getJwtRotation(c, ns, 'api');
      const out = await plugin(['status', 'api', '-n', ns]);
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.match(/^Phase: +Idle/m);
      expect(out.stdout).to.match(new RegExp(`^  current +${r.status?.currentKeyFingerprint ?? '?'}$`, 'm'));
      // In Idle the operator does not re-read rollouts: the first reading may still say "no".
      expect(out.stdout).to.match(/^ +Deployment +api +(yes|no) /m);
      expect(out.stdout).to.match(/^ +Ready +True +Idle/m);
      expect(out.stdout).to.match(/^Next rotation: \d{4}-/m);
      expect(out.stdout).to.not.match(ANSI);
    });

    it('uses colour on a terminal unless NO_COLOR is set (run under a pseudo-terminal by script(1))', async () => {
      const command = `'${BIN}' --kubeconfig '${cluster.kubeconfigPath}' status api -n ${ns}`;
      const tty = await run('script', ['-qec', command, '/dev/null'], {
        env: { ...process.env, NO_COLOR: '' },
      });
      expect(tty.code, tty.stdout).to.equal(0);
      expect(tty.stdout).to.match(ANSI);
      const noColor = await run('script', ['-qec', command, '/dev/null'], {
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(noColor.stdout).to.include(`JwtRotation ${ns}/api`);
      expect(noColor.stdout).to.not.match(ANSI);
    });

    it('prints the object with -o json and -o yaml', async () => {
      const json = await plugin(['status', 'api', '-n', ns, '-o', 'json']);
      expect(json.code).to.equal(0);
      expect((JSON.parse(json.stdout) as JwtRotation).status?.phase).to.equal('Idle');
      const yaml = await plugin(['status', 'api', '-n', ns, '-o', 'yaml']);
      expect((parse(yaml.stdout) as JwtRotation).metadata.name).to.equal('api');
    });

    it('lists JwtRotations in a namespace, and in all of them with -A', async () => {
      const one = await plugin(['status', '-n', ns]);
      expect(one.code).to.equal(0);
      expect(one.stdout).to.match(/^NAME +PHASE +READY/m);
      expect(one.stdout).to.match(/^api +Idle +True/m);
      const all = await plugin(['status', '-A']);
      expect(all.stdout).to.match(/^NAMESPACE +NAME +PHASE/m);
      expect(all.stdout).to.match(new RegExp(`^${ns} +api +Idle`, 'm'));
    });

    it('follows --context and --kubeconfig, and says what is wrong', async () => {
      expect((await plugin(['status', 'api', '-n', ns, '--context', 'no-such-context'])).code).to.equal(2);
      const missing = await run(BIN, ['status', '--kubeconfig', '/nonexistent/kubeconfig']);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.match(/kubeconfig/);
      const notFound = await plugin(['status', 'nope', '-n', ns]);
      expect(notFound.code).to.equal(3);
      expect(notFound.stderr).to.include(`jwtrotation "nope" in namespace "${ns}" not found`);
    });

    it('exits 1 and says why for a JwtRotation that needs a human', async () => {
      await createJwtRotation(c, ns, 'intruder', spec); // claims a Secret "api" already manages
      await waitForPhase(c, ns, 'intruder', 'Failed');
      const out = await plugin(['status', 'intruder', '-n', ns]);
      expect(out.code).to.equal(1);
      expect(out.stdout).to.match(/^Needs you: +Stalled: SecretManagedElsewhere/m);
      await c.custom.deleteNamespacedCustomObject({
        group: 'jwtrotation.io',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'jwtrotations',
        name: 'intruder',
      });
    });
  });

  describe('requests', () => {
    it('rotate --wait returns 0 once the rotation completed, and history shows it', async () => {
      const before = await getJwtRotation(c, ns, 'api');
      const out = await plugin(['rotate', 'api', '-n', ns, '--wait', '--timeout', '2m']);
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stderr).to.match(/annotated jwtrotation\.io\/rotate=\d{4}-/);
      expect(out.stderr).to.match(/phase DualKey/);
      expect(out.stdout).to.match(/api: Manual Completed/);
      const after = await getJwtRotation(c, ns, 'api');
      expect(after.status?.currentKeyFingerprint).to.not.equal(before.status?.currentKeyFingerprint);
      // Who asked is on record: the annotation's field manager.
      const meta = after.metadata as { managedFields?: { manager?: string }[] } | undefined;
      const managed = meta?.managedFields?.map((m) => m.manager) ?? [];
      expect(managed).to.include('kubectl-jwtrotation');

      const history = await plugin(['history', 'api', '-n', ns]);
      expect(history.code).to.equal(0);
      expect(history.stdout).to.match(/^FINISHED +TRIGGER +OUTCOME/m);
      expect(history.stdout).to.include(after.status?.currentKeyFingerprint ?? '?');
      const records = JSON.parse(
        (await plugin(['history', 'api', '-n', ns, '-o', 'json'])).stdout,
      ) as RotationRecord[];
      expect(records[0]).to.include({ trigger: 'Manual', outcome: 'Completed' });
    });

    it('rollback asks for confirmation: without a terminal and without --yes it changes nothing and exits 5', async () => {
      const before = await getJwtRotation(c, ns, 'api');
      const out = await plugin(['rollback', 'api', '-n', ns]);
      expect(out.code).to.equal(5);
      expect(out.stderr).to.match(/pass --yes/);
      const after = await getJwtRotation(c, ns, 'api');
      expect(after.metadata.annotations?.['jwtrotation.io/rollback']).to.equal(
        before.metadata.annotations?.['jwtrotation.io/rollback'],
      );
    });

    it('rollback on a terminal asks, and an answer other than yes changes nothing (exit 5)', async () => {
      const before = await getJwtRotation(c, ns, 'api');
      const command = `'${BIN}' --kubeconfig '${cluster.kubeconfigPath}' rollback api -n ${ns}`;
      const out = await run('script', ['-qec', command, '/dev/null'], { input: 'n\n' });
      expect(out.stdout).to.include(`rollback jwtrotation ${ns}/api? [y/N]`);
      expect(out.stdout).to.include('not confirmed; nothing changed');
      expect(out.code).to.equal(5);
      const after = await getJwtRotation(c, ns, 'api');
      expect(after.metadata.annotations?.['jwtrotation.io/rollback']).to.equal(
        before.metadata.annotations?.['jwtrotation.io/rollback'],
      );
    });

    it('rollback --yes --wait restores the original key', async () => {
      const before = await getJwtRotation(c, ns, 'api');
      const out = await plugin(['rollback', 'api', '-n', ns, '--yes', '--wait', '--timeout', '2m']);
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.match(/api: Rollback RolledBack/);
      const after = await getJwtRotation(c, ns, 'api');
      expect(after.status?.currentKeyFingerprint).to.equal(before.status?.originalKeyFingerprint);
    });

    it('emergency -y --wait replaces the key at once; -o json prints the result', async () => {
      const before = await getJwtRotation(c, ns, 'api');
      const out = await plugin(['emergency', 'api', '-n', ns, '-y', '--wait', '-o', 'json']);
      expect(out.code, out.stderr).to.equal(0);
      const r = JSON.parse(out.stdout) as JwtRotation;
      expect(r.status?.lastRotation).to.include({ trigger: 'Emergency', outcome: 'Completed' });
      expect(r.status?.currentKeyFingerprint).to.not.equal(before.status?.currentKeyFingerprint);
      expect(out.stderr).to.not.match(/phase DualKey/);
    });

    it('--wait gives up with exit 4 after --timeout', async () => {
      const out = await plugin(['rotate', 'api', '-n', ns, '--wait', '--timeout', '1s']);
      expect(out.code).to.equal(4);
      expect(out.stderr).to.match(/timed out after 1s/);
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.trigger === 'Manual');
    });
  });

  describe('kubectl itself', () => {
    it('kubectl wait --for=condition=Ready jwtrotation/NAME returns once the JwtRotation is Ready', async () => {
      const out = await cluster.kubectl(
        ['wait', '--for=condition=Ready', 'jwtrotation/api', '--timeout=90s'],
        { namespace: ns },
      );
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.include('jwtrotation.jwtrotation.io/api condition met');
    });

    it('kubectl wait times out while a rotation is in flight', async () => {
      await plugin(['rotate', 'api', '-n', ns]);
      await waitForPhase(c, ns, 'api', 'DualKey');
      const out = await cluster.kubectl(
        ['wait', '--for=condition=Ready', 'jwtrotation/api', '--timeout=1s'],
        { namespace: ns },
      );
      expect(out.code).to.not.equal(0);
      expect(out.stderr).to.match(/timed out/);
      await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true,
      );
    });

    it('kubectl explain jwtrotation.spec documents the fields', async () => {
      const out = await cluster.kubectl(['explain', 'jwtrotation.spec']);
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.match(/^KIND: +JwtRotation/m);
      for (const field of [
        'secretName',
        'targets',
        'tokenTTL',
        'schedule',
        'monitoring',
        'rollback',
        'suspend',
      ]) {
        expect(out.stdout).to.match(new RegExp(`^  ${field}\\b`, 'm'));
      }
    });
  });
});
