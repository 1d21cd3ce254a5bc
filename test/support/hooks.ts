/**
 * Mocha root hooks (loaded via `require` in .mocharc.json for every run, unit-only runs included).
 *
 * Teardown is registered where things are started (see registerTeardown in ./teardown.ts), so
 * nothing starts (and nothing is stopped) unless a test asks for it. The control plane support
 * (./cluster.ts) registers "delete test namespaces" and "stop the local control plane"; add your own
 * with registerTeardown(name, fn). They run once, newest first, after all tests of the run, or
 * under `mocha --parallel` (tools/test/run.ts) after each file, in that file's worker.
 *
 * With JWTR_TEST_TIMES set (tools/test/run.ts sets it), each file's wall time (teardown included)
 * and each test's duration are appended to that file as JSON lines, for the runner's slow-test
 * report.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Context, Suite } from 'mocha';

import { runTeardowns } from './teardown.ts';
import { newTestShard } from './test-shard.ts';

const timesFile = process.env.JWTR_TEST_TIMES;

function record(entry: Record<string, unknown>): void {
  if (timesFile === undefined || timesFile === '') return;
  appendFileSync(timesFile, `${JSON.stringify(entry)}\n`);
}

/** The test file(s) of this run's root suite: one under `mocha --parallel`. */
function filesOf(root: Suite | undefined): string[] {
  const files = new Set<string>();
  for (const suite of root?.suites ?? []) if (suite.file !== undefined) files.add(suite.file);
  return [...files].map((f) => path.relative(process.cwd(), f));
}

let startedAt = Date.now();

export const mochaHooks = {
  beforeAll(): void {
    startedAt = Date.now();
    newTestShard();
  },
  afterEach(this: Context): void {
    const test = this.currentTest;
    if (test === undefined) return;
    record({
      type: 'test',
      file: test.file === undefined ? undefined : path.relative(process.cwd(), test.file),
      title: test.fullTitle(),
      ms: test.duration ?? 0,
      state: test.state,
    });
  },
  async afterAll(this: Context): Promise<void> {
    this.timeout(120_000);
    try {
      await runTeardowns();
    } finally {
      const files = filesOf(this.test?.parent);
      if (files.length === 1)
        record({ type: 'file', file: files[0], ms: Date.now() - startedAt, pid: process.pid });
    }
  },
};
