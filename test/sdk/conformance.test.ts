/**
 * The consumer kits (sdk/) against the one conformance suite (sdk/conformance/cases.json): the TypeScript kit
 * in this process, the Go kit through `go test`, the Python kit through Debian's python3 and unittest. A kit
 * that disagrees with the data fails here, with its runner's output. Then each kit, made to sign with the new
 * key before the rotation date (sdk/conformance/mutate.sh, on a temporary copy), must fail the suite.
 *
 *   npx mocha test/sdk/conformance.test.ts
 *
 * Needs go (the Go module proxy for the kit's modules) and python3 with python3-jwt, python3-cryptography and
 * python3-prometheus-client (sdk/install-deps.sh).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect } from 'chai';
import { base64url, decodeProtectedHeader } from 'jose';

// Importing it also registers the TypeScript kit's own mocha suite, which runs in this process.
import { fixtures, suite } from '../../sdk/typescript/test/conformance.test.ts';
import '../../sdk/typescript/test/reload.test.ts';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CASES = suite.cases.length;
/** Debian's python3 carries the Debian packages; a python3 earlier on PATH (pyenv) may not. */
const PYTHON = process.env.SDK_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const GO = process.env.SDK_GO ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');

interface Run {
  code: number;
  output: string;
}

/** Runs a command to its end; resolves with its exit code and its whole output (stdout then stderr). */
async function run(command: string, args: string[], cwd: string): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 10 * 60_000,
      env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}` },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The end of a runner's output, where its failures and summary are. */
function tail(output: string, lines = 150): string {
  return output.split('\n').slice(-lines).join('\n');
}

describe('consumer kits: the conformance data', () => {
  it(`holds ${CASES} cases, each token as its header and claims say, each kid its key's`, () => {
    expect(CASES).to.be.greaterThan(40);
    for (const [name, token] of Object.entries(fixtures.tokens) as [
      string,
      { jwt: string; header: object; claims: object; key: string },
    ][]) {
      const [, payload] = token.jwt.split('.');
      expect(decodeProtectedHeader(token.jwt), name).to.deep.equal(token.header);
      expect(JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? ''))), name).to.deep.equal(
        token.claims,
      );
      expect(fixtures.keys[token.key], name).to.not.equal(undefined);
    }
    const names = new Set([...Object.keys(fixtures.tokens)]);
    for (const c of suite.cases)
      for (const step of c.steps)
        for (const op of step.verify ?? [])
          if (!op.token.startsWith('=')) expect(names.has(op.token), `${c.name}: ${op.token}`).to.equal(true);
  });
});

describe('consumer kits: Go (golang-jwt, go-jose, client_golang) through go test', function () {
  this.timeout(10 * 60_000);

  it(`passes all ${CASES} cases`, async () => {
    const { code, output } = await run(GO, ['test', '-count=1', '-v', './...'], join(repoRoot, 'sdk/go'));
    const passed = output.match(/^ {4}--- PASS: TestConformance\//gm)?.length ?? 0;
    expect(code, tail(output)).to.equal(0);
    expect(passed, tail(output)).to.equal(CASES);
  });
});

describe('consumer kits: Python (PyJWT, cryptography, prometheus_client) through unittest', function () {
  this.timeout(5 * 60_000);

  it(`passes all ${CASES} cases`, async () => {
    const { code, output } = await run(
      PYTHON,
      ['-m', 'unittest', 'discover', '-s', 'tests', '-v'],
      join(repoRoot, 'sdk/python'),
    );
    expect(code, tail(output)).to.equal(0);
    const passed = output.match(
      /^test_\d+_\w+ \(test_conformance\.Conformance\.test_\d+_\w+\)( \.\.\.)?.*\bok$/gm,
    );
    expect(passed?.length ?? 0, tail(output)).to.equal(CASES);
    expect(output).to.match(/^OK$/m);
  });
});

describe('consumer kits: the suite fails a kit that signs with the new key before the rotation date', function () {
  this.timeout(10 * 60_000);

  for (const kit of ['typescript', 'go', 'python']) {
    it(`${kit}: mutated by sdk/conformance/mutate.sh, it fails the suite`, async () => {
      const { code, output } = await run(
        'bash',
        [join(repoRoot, 'sdk/conformance/mutate.sh'), kit],
        repoRoot,
      );
      expect(code, tail(output, 60)).to.equal(0);
      expect(output).to.contain(`the conformance suite failed the mutated ${kit} kit`);
      // Failed where it must: the case that signs just before the date (each runner spells its name its way).
      expect(output, tail(output, 60)).to.match(/HS256[ _]dual[ _]key[ _]before[ _]the[ _]signing[ _]date/i);
    });
  }
});
