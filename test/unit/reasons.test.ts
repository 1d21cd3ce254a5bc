import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';

import { GateReasons } from '../../src/rotation/gate.ts';
import { ConditionReasons, EventReasons } from '../../src/rotation/reasons.ts';
import { repoRoot } from '../support/cluster.ts';

describe('reasons', () => {
  const operations = readFileSync(path.join(repoRoot, 'docs', 'operations.md'), 'utf8');
  const declared = {
    condition: Object.values(ConditionReasons),
    event: Object.values(EventReasons),
    gate: Object.values(GateReasons),
  };

  for (const [kind, reasons] of Object.entries(declared)) {
    it(`documents every ${kind} reason in docs/operations.md`, () => {
      const missing = reasons.filter((reason) => !operations.includes(`\`${reason}\``));
      expect(missing).to.deep.equal([]);
    });
  }

  it('are CamelCase identifiers, each declared under its own name', () => {
    for (const table of [ConditionReasons, EventReasons, GateReasons]) {
      for (const [name, value] of Object.entries(table)) {
        expect(value).to.equal(name);
        expect(value).to.match(/^[A-Z][A-Za-z0-9]+$/);
      }
    }
  });
});
