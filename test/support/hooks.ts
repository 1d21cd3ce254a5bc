/**
 * Mocha root hooks (loaded via `require` in .mocharc.json for every run, unit-only runs included).
 *
 * Teardown is registered where things are started (see registerTeardown in ./teardown.ts), so
 * nothing starts (and nothing is stopped) unless a test asks for it. The control plane support
 * (./cluster.ts) registers "delete test namespaces" and "stop the local control plane"; add your own
 * with registerTeardown(name, fn). They run once, newest first, after all tests.
 */
import type { Context } from 'mocha';

import { runTeardowns } from './teardown.ts';

export const mochaHooks = {
  async afterAll(this: Context): Promise<void> {
    this.timeout(120_000);
    await runTeardowns();
  },
};
