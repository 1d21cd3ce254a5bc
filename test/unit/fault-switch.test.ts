import { expect } from 'chai';

import {
  FAULT_ENV,
  FAULT_EXIT_CODE,
  faultSwitchFromEnv,
  writeKind,
} from '../../src/platform/fault-switch.ts';

describe('the fault switch (tests only)', () => {
  function armed(value: string | undefined) {
    const exits: number[] = [];
    const lines: string[] = [];
    const faults = faultSwitchFromEnv(
      value === undefined ? {} : { [FAULT_ENV]: value },
      (code) => exits.push(code),
      (line) => lines.push(line),
    );
    return { faults, exits, lines };
  }

  it('is off unless its variable is set', () => {
    expect(armed(undefined).faults).to.equal(undefined);
    expect(armed('').faults).to.equal(undefined);
  });

  it('exits with its code after the n-th write, naming the write but nothing of its contents', () => {
    const { faults, exits, lines } = armed('2');
    faults?.afterWrite('status', 'prod', 'api');
    expect(exits).to.deep.equal([]);
    faults?.afterWrite('secret-update', 'prod', 'api-jwt');
    expect(exits).to.deep.equal([FAULT_EXIT_CODE]);
    expect(JSON.parse(lines[0] ?? '{}')).to.include({
      message: 'fault injected',
      kind: 'secret-update',
      name: 'api-jwt',
      write: 2,
    });
  });

  it('counts only the kind it is given, and tells backup Secret writes from the workload Secret', () => {
    const { faults, exits, lines } = armed('1:backup-create');
    faults?.afterWrite('secret-create', 'prod', 'api-jwt');
    expect(exits).to.deep.equal([]);
    faults?.afterWrite('secret-create', 'prod', 'api-jwtrotation-backup');
    expect(exits).to.deep.equal([FAULT_EXIT_CODE]);
    expect(lines).to.have.length(1);
    expect(writeKind('secret-delete', 'x-jwtrotation-backup')).to.equal('backup-delete');
    expect(writeKind('workload-patch', 'x-jwtrotation-backup')).to.equal('workload-patch');
  });

  it('refuses a malformed setting at start', () => {
    for (const bad of ['0', 'x', '1:', '-1', '1:Secret']) {
      expect(() => armed(bad), bad).to.throw(FAULT_ENV);
    }
  });
});
