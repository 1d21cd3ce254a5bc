/**
 * How Flux judges JwtRotations, computed by Flux's own libraries (tools/kstatus) on objects
 * captured from the real operator in every phase (tools/capture-jwtrotations.ts):
 * - kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), which `wait: true` and `healthChecks` use;
 * - the healthCheckExprs of deploy/flux/jwtrotations.yaml, evaluated with cel-go.
 */
import path from 'node:path';

import { expect } from 'chai';

import { repoRoot } from '../support/cluster.ts';
import { CAPTURES, CAPTURE_DIR } from '../support/captures.ts';
import { goToolPath, jsonLines, run } from '../support/tools.ts';

interface Line {
  inputPath: string;
  status: string;
  message?: string;
  matched?: string;
  error?: string;
}

describe('Flux health of JwtRotations captured from the operator (kstatus and cel-go)', function () {
  this.timeout(600_000);
  let tool: string;
  let kstatus: Map<string, Line>;
  let cel: Map<string, Line>;
  before(async function () {
    this.timeout(1_200_000); // a cold build of the tool (cli-utils, apimachinery, cel-go)
    tool = await goToolPath('kstatus');
    const files = CAPTURES.map((c) => path.join(CAPTURE_DIR, c.file));
    const computed = await run(tool, ['compute', ...files]);
    expect(computed.code, computed.stderr).to.equal(0);
    kstatus = new Map(jsonLines<Line>(computed.stdout).map((l) => [path.basename(l.inputPath), l]));
    const evaluated = await run(tool, [
      'cel',
      path.join(repoRoot, 'deploy/flux/jwtrotations.yaml'),
      ...files,
    ]);
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
