/**
 * The Argo CD health check (deploy/argocd/jwtrotation.io/JwtRotation/health.lua) run by
 * gopher-lua, the Lua interpreter Argo CD embeds (tools/argocd-health), on JwtRotations captured
 * from the real operator in every phase (tools/capture-jwtrotations.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import { parse } from 'yaml';

import { repoRoot } from '../support/cluster.ts';
import { CAPTURES, CAPTURE_DIR, HEALTH_DIR, captureFiles } from '../support/captures.ts';
import { goToolPath, jsonLines, run } from '../support/tools.ts';

interface Health {
  status: string;
  message: string;
}

describe('the Argo CD health check in gopher-lua, on JwtRotations captured from the operator', function () {
  this.timeout(600_000);
  let tool: string;
  before(async function () {
    this.timeout(900_000); // a cold build of the tool
    tool = await goToolPath('argocd-health');
  });

  async function evalAll(script: string): Promise<Map<string, Health>> {
    const out = await run(tool, ['eval', script, ...CAPTURES.map((c) => path.join(CAPTURE_DIR, c.file))]);
    expect(out.code, out.stderr).to.equal(0);
    return new Map(
      jsonLines<{ inputPath: string; got: Health }>(out.stdout).map((l) => [
        path.basename(l.inputPath),
        l.got,
      ]),
    );
  }

  it('passes health_test.yaml, which covers every captured object', async () => {
    const out = await run(tool, ['test', HEALTH_DIR]);
    const results = jsonLines<{ inputPath: string; pass: boolean; want: Health; got: Health }>(out.stdout);
    for (const r of results) expect(r.got, r.inputPath).to.deep.equal(r.want);
    expect(out.code, out.stderr).to.equal(0);
    const tested = results.map((r) => path.basename(r.inputPath)).sort();
    expect(tested).to.deep.equal(captureFiles());
  });

  it('has a capture of every phase, and only captures the table knows', () => {
    expect(captureFiles()).to.deep.equal(CAPTURES.map((c) => c.file).sort());
    const phases = new Set(
      captureFiles().map(
        (f) =>
          (parse(readFileSync(path.join(CAPTURE_DIR, f), 'utf8')) as { status?: { phase?: string } }).status
            ?.phase,
      ),
    );
    for (const phase of ['Idle', 'DualKey', 'Monitoring', 'Completing', 'RollingBack', 'Paused', 'Failed']) {
      expect([...phases], phase).to.include(phase);
    }
  });

  for (const c of CAPTURES) {
    it(`reports ${c.argo} for ${c.state} (${c.file})`, async () => {
      const got = (await evalAll(path.join(HEALTH_DIR, 'health.lua'))).get(c.file);
      expect(got?.status).to.equal(c.argo);
      expect(got?.message).to.not.equal('');
    });
  }

  it('never reports Healthy for a spec change the operator has not observed', async () => {
    const results = await evalAll(path.join(HEALTH_DIR, 'health.lua'));
    for (const c of CAPTURES) {
      const obj = parse(readFileSync(path.join(CAPTURE_DIR, c.file), 'utf8')) as {
        metadata: { generation?: number };
        status?: { observedGeneration?: number };
      };
      if (obj.status?.observedGeneration !== obj.metadata.generation) {
        expect(results.get(c.file)?.status, c.file).to.equal('Progressing');
      }
    }
  });

  it('reports rotations in flight as Progressing with ROTATION_HEALTH = "Progressing", and nothing else changes', async () => {
    const shipped = readFileSync(path.join(HEALTH_DIR, 'health.lua'), 'utf8');
    expect(shipped).to.include('local ROTATION_HEALTH = "Healthy"');
    const dir = mkdtempSync(path.join(tmpdir(), 'jwtr-argo-'));
    const variant = path.join(dir, 'health.lua');
    writeFileSync(
      variant,
      shipped.replace('local ROTATION_HEALTH = "Healthy"', 'local ROTATION_HEALTH = "Progressing"'),
    );
    const [a, b] = await Promise.all([evalAll(path.join(HEALTH_DIR, 'health.lua')), evalAll(variant)]);
    for (const c of CAPTURES) {
      const inFlight = /^(DualKey|Monitoring|Completing|RollingBack)/.test(c.state);
      expect(b.get(c.file)?.status, c.file).to.equal(inFlight ? 'Progressing' : a.get(c.file)?.status);
    }
  });

  it('is the script docs/gitops.md puts in argocd-cm, verbatim', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/gitops.md'), 'utf8');
    const shipped = readFileSync(path.join(HEALTH_DIR, 'health.lua'), 'utf8');
    const indented = shipped
      .trimEnd()
      .split('\n')
      .map((l) => (l === '' ? '' : `    ${l}`))
      .join('\n');
    expect(doc).to.include(`resource.customizations.health.jwtrotation.io_JwtRotation: |\n${indented}\n`);
  });
});
