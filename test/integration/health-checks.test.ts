/**
 * How Argo CD and Flux judge JwtRotations, computed by their own code on objects the operator wrote
 * in this run:
 * - the Argo CD health check (deploy/argocd/jwtrotation.io/JwtRotation/health.lua) run by
 *   gopher-lua, the Lua interpreter Argo CD embeds (tools/argocd-health);
 * - kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), which Flux's `wait: true` and
 *   `healthChecks` use, and the healthCheckExprs of deploy/flux/jwtrotations.yaml with cel-go
 *   (tools/kstatus).
 * The states are captured afresh before the tests (test/support/capture-states.ts: one operator
 * watching its own namespaces), so a change in the status the operator writes reaches every
 * verdict below. The committed captures (testdata/, the examples docs and health_test.yaml show)
 * are checked against the fresh ones on what the verdicts read; `npm run capture` renews them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import { parse } from 'yaml';

import type { JwtRotation } from '../../src/api/types.ts';
import { repoRoot, useCluster } from '../support/cluster.ts';
import { CAPTURES, CAPTURE_DIR, HEALTH_DIR, captureFiles } from '../support/captures.ts';
import { captureStates } from '../support/capture-states.ts';
import { installCrd } from '../support/crd.ts';
import { goToolPath, jsonLines, run } from '../support/tools.ts';

interface Health {
  status: string;
  message: string;
}

interface Line {
  inputPath: string;
  status: string;
  message?: string;
  matched?: string;
  error?: string;
}

const read = (dir: string, file: string): JwtRotation =>
  parse(readFileSync(path.join(dir, file), 'utf8')) as JwtRotation;

/** What the health checks read of a JwtRotation: phase, generations, suspend and three conditions. */
function healthView(r: JwtRotation): Record<string, unknown> {
  const condition = (type: string) => {
    const c = r.status?.conditions?.find((x) => x.type === type);
    return c === undefined ? 'absent' : `${c.status} ${c.reason}`;
  };
  return {
    status: r.status === undefined ? 'absent' : 'present',
    phase: r.status?.phase,
    observed: r.status?.observedGeneration === r.metadata.generation,
    suspend: r.spec.suspend === true,
    Ready: condition('Ready'),
    Reconciling: condition('Reconciling'),
    Stalled: condition('Stalled'),
  };
}

describe('Argo CD and Flux health of JwtRotations captured from the operator in this run', function () {
  this.timeout(600_000);
  /** The fresh captures. */
  let dir: string;
  let argo: string;
  let kstatusTool: string;

  before(async function () {
    this.timeout(1_800_000); // a cold first start builds the control plane and the tools
    const cluster = await useCluster();
    await installCrd(cluster);
    dir = mkdtempSync(path.join(tmpdir(), 'jwtr-captures-'));
    // The operator's output goes through the run's leak scan (test/support/operator.ts).
    [, argo, kstatusTool] = await Promise.all([
      captureStates(cluster, { dir }),
      goToolPath('argocd-health'),
      goToolPath('kstatus'),
    ]);
  });

  it('holds fingerprints only: no key-like text in any capture', () => {
    for (const c of CAPTURES) {
      expect(readFileSync(path.join(dir, c.file), 'utf8'), c.file).to.not.match(/[A-Za-z0-9+/]{40,}={0,2}/);
    }
  });

  it('captured every state the table names, and the committed captures are the same states', () => {
    const fresh = CAPTURES.map((c) => c.file);
    for (const file of fresh) expect(() => read(dir, file), file).to.not.throw();
    expect(captureFiles()).to.deep.equal([...fresh].sort());
    for (const file of fresh) {
      expect(
        healthView(read(CAPTURE_DIR, file)),
        `${file}: committed vs fresh; run npm run capture`,
      ).to.deep.equal(healthView(read(dir, file)));
    }
  });

  it('has a capture of every phase', () => {
    const phases = new Set(CAPTURES.map((c) => read(dir, c.file).status?.phase));
    for (const phase of ['Idle', 'DualKey', 'Monitoring', 'Completing', 'RollingBack', 'Paused', 'Failed']) {
      expect([...phases], phase).to.include(phase);
    }
  });

  describe('Argo CD (health.lua in gopher-lua)', () => {
    async function evalAll(script: string, from = dir): Promise<Map<string, Health>> {
      const files = CAPTURES.map((c) => path.join(from, c.file));
      const out = await run(argo, ['eval', script, ...files]);
      expect(out.code, out.stderr).to.equal(0);
      return new Map(
        jsonLines<{ inputPath: string; got: Health }>(out.stdout).map((l) => [
          path.basename(l.inputPath),
          l.got,
        ]),
      );
    }
    let shipped: Map<string, Health>;
    before(async () => {
      shipped = await evalAll(path.join(HEALTH_DIR, 'health.lua'));
    });

    for (const c of CAPTURES) {
      it(`reports ${c.argo} for ${c.state} (${c.file})`, () => {
        expect(shipped.get(c.file)?.status).to.equal(c.argo);
        expect(shipped.get(c.file)?.message).to.not.equal('');
      });
    }

    it('never reports Healthy for a spec change the operator has not observed', () => {
      for (const c of CAPTURES) {
        const r = read(dir, c.file);
        if (r.status?.observedGeneration !== r.metadata.generation) {
          expect(shipped.get(c.file)?.status, c.file).to.equal('Progressing');
        }
      }
    });

    it('reports rotations in flight as Progressing with ROTATION_HEALTH = "Progressing", and nothing else changes', async () => {
      const script = readFileSync(path.join(HEALTH_DIR, 'health.lua'), 'utf8');
      expect(script).to.include('local ROTATION_HEALTH = "Healthy"');
      const variant = path.join(mkdtempSync(path.join(tmpdir(), 'jwtr-argo-')), 'health.lua');
      writeFileSync(
        variant,
        script.replace('local ROTATION_HEALTH = "Healthy"', 'local ROTATION_HEALTH = "Progressing"'),
      );
      const b = await evalAll(variant);
      for (const c of CAPTURES) {
        const inFlight = /^(DualKey|Monitoring|Completing|RollingBack)/.test(c.state);
        expect(b.get(c.file)?.status, c.file).to.equal(
          inFlight ? 'Progressing' : shipped.get(c.file)?.status,
        );
      }
    });

    it('passes health_test.yaml on the committed captures, which it covers whole', async () => {
      const out = await run(argo, ['test', HEALTH_DIR]);
      const results = jsonLines<{ inputPath: string; pass: boolean; want: Health; got: Health }>(out.stdout);
      for (const r of results) expect(r.got, r.inputPath).to.deep.equal(r.want);
      expect(out.code, out.stderr).to.equal(0);
      expect(results.map((r) => path.basename(r.inputPath)).sort()).to.deep.equal(captureFiles());
    });

    it('is the script docs/gitops.md puts in argocd-cm, verbatim', () => {
      const doc = readFileSync(path.join(repoRoot, 'docs/gitops.md'), 'utf8');
      const script = readFileSync(path.join(HEALTH_DIR, 'health.lua'), 'utf8');
      const indented = script
        .trimEnd()
        .split('\n')
        .map((l) => (l === '' ? '' : `    ${l}`))
        .join('\n');
      expect(doc).to.include(`resource.customizations.health.jwtrotation.io_JwtRotation: |\n${indented}\n`);
    });
  });

  describe('Flux', () => {
    let kstatus: Map<string, Line>;
    let cel: Map<string, Line>;
    before(async () => {
      const files = CAPTURES.map((c) => path.join(dir, c.file));
      const computed = await run(kstatusTool, ['compute', ...files]);
      expect(computed.code, computed.stderr).to.equal(0);
      kstatus = new Map(jsonLines<Line>(computed.stdout).map((l) => [path.basename(l.inputPath), l]));
      const kustomization = path.join(repoRoot, 'deploy/flux/jwtrotations.yaml');
      const evaluated = await run(kstatusTool, ['cel', kustomization, ...files]);
      expect(evaluated.code, evaluated.stderr).to.equal(0);
      cel = new Map(jsonLines<Line>(evaluated.stdout).map((l) => [path.basename(l.inputPath), l]));
    });

    describe('kstatus', () => {
      for (const c of CAPTURES) {
        it(`is ${c.kstatus} for ${c.state} (${c.file})`, () => {
          const got = kstatus.get(c.file);
          expect(got?.status, `${c.file}: ${got?.message ?? ''}`).to.equal(c.kstatus);
        });
      }

      it('is InProgress while a rotation runs, Current when settled, InProgress when observedGeneration lags', () => {
        const by = (pred: (c: (typeof CAPTURES)[number]) => boolean): string[] =>
          CAPTURES.filter(pred).map((c) => kstatus.get(c.file)?.status ?? 'missing');
        expect(by((c) => /^(DualKey|Monitoring|Completing|RollingBack)/.test(c.state))).to.satisfy(
          (s: string[]) => s.every((x) => x === 'InProgress'),
        );
        expect(by((c) => c.state.startsWith('Idle'))).to.satisfy((s: string[]) =>
          s.every((x) => x === 'Current'),
        );
        expect(by((c) => c.file === 'generation-lag.yaml')).to.deep.equal(['InProgress']);
      });
    });

    describe('healthCheckExprs of deploy/flux/jwtrotations.yaml (cel-go)', () => {
      for (const c of CAPTURES) {
        it(`is ${c.cel} for ${c.state} (${c.file})`, () => {
          const got = cel.get(c.file);
          expect(got?.status, JSON.stringify(got)).to.equal(c.cel);
        });
      }

      it('evaluates without errors on every object that has a status', () => {
        for (const c of CAPTURES.filter((x) => x.file !== 'no-status.yaml')) {
          expect(cel.get(c.file)?.error, c.file).to.equal(undefined);
        }
      });
    });
  });
});
