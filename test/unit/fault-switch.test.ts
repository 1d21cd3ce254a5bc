import { expect } from 'chai';

import {
  FAULT_DELAY_ENV,
  FAULT_ENV,
  FAULT_EXIT_CODE,
  faultDelayFromEnv,
  faultSwitchFromEnv,
  requestWrite,
  writeKind,
} from '../support/fault-switch.ts';

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
    for (const bad of ['0', 'x', '1:', '-1', '1:Secret', '1:secret-updat']) {
      expect(() => armed(bad), bad).to.throw(FAULT_ENV);
    }
  });
});

describe('the fault delay (tests only)', () => {
  const api = 'https://127.0.0.1:6443';

  function armed(value: string | undefined) {
    const slept: number[] = [];
    const lines: string[] = [];
    const delay = faultDelayFromEnv(
      value === undefined ? {} : { [FAULT_DELAY_ENV]: value },
      (ms) => {
        slept.push(ms);
        return Promise.resolve();
      },
      (line) => lines.push(line),
    );
    return { delay, slept, lines };
  }

  it('is off unless its variable is set', () => {
    expect(armed(undefined).delay).to.equal(undefined);
    expect(armed('').delay).to.equal(undefined);
  });

  it('tells the write a request makes from its method and path', () => {
    const secret = `${api}/api/v1/namespaces/prod/secrets/api-jwt?fieldManager=jwt-rotation-operator`;
    expect(requestWrite('PUT', secret)).to.deep.equal({
      kind: 'secret-update',
      namespace: 'prod',
      name: 'api-jwt',
    });
    expect(requestWrite('GET', secret)).to.equal(undefined);
    expect(requestWrite('DELETE', `${api}/api/v1/namespaces/prod/secrets/api-jwtrotation-backup`)).to.include(
      {
        kind: 'backup-delete',
      },
    );
    expect(requestWrite('POST', `${api}/api/v1/namespaces/prod/secrets`)).to.include({
      kind: 'secret-create',
    });
    const resource = `${api}/apis/jwtrotation.io/v1alpha1/namespaces/prod/jwtrotations/api`;
    expect(requestWrite('PUT', `${resource}/status`)).to.include({ kind: 'status', name: 'api' });
    expect(requestWrite('PATCH', resource)).to.equal(undefined);
    expect(requestWrite('PATCH', `${api}/apis/apps/v1/namespaces/prod/deployments/api`)).to.include({
      kind: 'workload-patch',
    });
    expect(requestWrite('POST', `${api}/api/v1/namespaces/prod/events`)).to.include({ kind: 'event' });
    expect(requestWrite('PUT', `${api}/api/v1/namespaces/prod/configmaps/jwks`)).to.include({
      kind: 'configmap-update',
    });
    expect(requestWrite('GET', `${api}/api/v1/pods`)).to.equal(undefined);
  });

  it('holds back the first write of its kind to each object, and only that one', async () => {
    const { delay, slept, lines } = armed('1500:secret-update');
    const secret = (name: string): string => `${api}/api/v1/namespaces/prod/secrets/${name}`;
    await delay?.beforeRequest('GET', secret('api-jwt'));
    await delay?.beforeRequest(
      'PUT',
      `${api}/apis/jwtrotation.io/v1alpha1/namespaces/prod/jwtrotations/api/status`,
    );
    expect(slept).to.deep.equal([]);
    await delay?.beforeRequest('PUT', secret('api-jwt'));
    expect(slept).to.deep.equal([1500]);
    // The retry after the 409 goes out at once; another object's first write is held back too.
    await delay?.beforeRequest('PUT', secret('api-jwt'));
    await delay?.beforeRequest('PUT', secret('web-jwt'));
    expect(slept).to.deep.equal([1500, 1500]);
    expect(lines).to.have.length(2);
    expect(JSON.parse(lines[0] ?? '{}')).to.include({
      message: 'fault delay: write held back',
      kind: 'secret-update',
      name: 'api-jwt',
      ms: 1500,
    });
  });

  it('refuses a malformed setting at start', () => {
    for (const bad of ['x', '1000', '0:status', '1000:', '1000:Secret', 'status:1000']) {
      expect(() => armed(bad), bad).to.throw(FAULT_DELAY_ENV);
    }
  });
});
