/** The kit's own timer re-reads a mounted Secret (the conformance suite calls reload() itself). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { ConsumerKit, fingerprint } from '../src/index.ts';

const OLD = 'a'.repeat(88);
const NEW = 'b'.repeat(88);

describe('consumer kit, TypeScript: reloading', () => {
  it('re-reads a mounted Secret on its timer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kit-reload-'));
    await writeFile(join(dir, 'JWT_SECRET'), OLD);
    const kit = await ConsumerKit.open({ secretDir: dir, reloadIntervalMs: 50, log: () => undefined });
    try {
      expect((await kit.sign({ sub: 'a' })).kid).to.equal(fingerprint(OLD));
      await writeFile(join(dir, 'JWT_SECRET'), NEW);
      const deadline = Date.now() + 10_000;
      while (kit.keys.current?.kid !== fingerprint(NEW) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await kit.sign({ sub: 'a' })).kid).to.equal(fingerprint(NEW));
    } finally {
      kit.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
