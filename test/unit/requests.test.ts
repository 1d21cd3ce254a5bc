import { expect } from 'chai';
import type { ObjectMeta } from '../../src/api/types.ts';
import type { SecretView } from '../../src/rotation/model.ts';
import { pendingRequest, requestTag } from '../../src/rotation/requests.ts';

function meta(annotations?: Record<string, string>): ObjectMeta {
  return annotations === undefined ? { name: 'api' } : { name: 'api', annotations };
}

function secret(annotations: Record<string, string> = {}): SecretView {
  return {
    resourceVersion: '1',
    fingerprints: { JWT_SECRET: 'aaaaaaaaaaaa' },
    annotations,
  };
}

describe('pendingRequest', () => {
  it('finds none when the JwtRotation has no annotations', () => {
    expect(pendingRequest('rotate', meta(), undefined, secret())).to.equal(undefined);
  });

  it('finds none when the request annotation is absent', () => {
    const metadata = meta({ 'jwtrotation.io/rollback': 'r1' });
    expect(pendingRequest('rotate', metadata, undefined, secret())).to.equal(undefined);
  });

  it('finds none when the request annotation is empty', () => {
    expect(pendingRequest('rotate', meta({ 'jwtrotation.io/rotate': '' }), undefined, secret())).to.equal(
      undefined,
    );
  });

  it('finds a new value as pending', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-1' });
    expect(pendingRequest('rotate', metadata, undefined, secret())).to.deep.equal({
      kind: 'rotate',
      value: 'now-1',
    });
  });

  it('finds a value pending when there is no Secret yet', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-1' });
    expect(pendingRequest('rotate', metadata, undefined, undefined)).to.deep.equal({
      kind: 'rotate',
      value: 'now-1',
    });
  });

  it('finds none when status records the value as handled', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-1' });
    expect(pendingRequest('rotate', metadata, { rotate: 'now-1' }, secret())).to.equal(undefined);
  });

  it('finds a value pending when status records an older value as handled', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-2' });
    expect(pendingRequest('rotate', metadata, { rotate: 'now-1' }, secret())).to.deep.equal({
      kind: 'rotate',
      value: 'now-2',
    });
  });

  it('finds a value pending when status records the same value for another kind', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'x' });
    expect(pendingRequest('rotate', metadata, { rollback: 'x' }, secret())).to.deep.equal({
      kind: 'rotate',
      value: 'x',
    });
  });

  it('finds none when the Secret records the request as rotate=<value>', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-1' });
    const recorded = secret({ 'jwtrotation.io/request': 'rotate=now-1' });
    expect(pendingRequest('rotate', metadata, undefined, recorded)).to.equal(undefined);
  });

  it('finds a value pending when the Secret records the same value for another kind', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-1' });
    const recorded = secret({ 'jwtrotation.io/request': 'rollback=now-1' });
    expect(pendingRequest('rotate', metadata, undefined, recorded)).to.deep.equal({
      kind: 'rotate',
      value: 'now-1',
    });
  });

  it('finds a value pending when the Secret records an older value', () => {
    const metadata = meta({ 'jwtrotation.io/rotate': 'now-2' });
    const recorded = secret({ 'jwtrotation.io/request': 'rotate=now-1' });
    expect(pendingRequest('rotate', metadata, undefined, recorded)).to.deep.equal({
      kind: 'rotate',
      value: 'now-2',
    });
  });

  it('reads each kind from its own annotation', () => {
    const metadata = meta({
      'jwtrotation.io/rotate': 'a',
      'jwtrotation.io/rollback': 'b',
      'jwtrotation.io/emergency-rotate': 'c',
    });
    expect(pendingRequest('rotate', metadata, undefined, secret())).to.deep.equal({
      kind: 'rotate',
      value: 'a',
    });
    expect(pendingRequest('rollback', metadata, undefined, secret())).to.deep.equal({
      kind: 'rollback',
      value: 'b',
    });
    expect(pendingRequest('emergencyRotate', metadata, undefined, secret())).to.deep.equal({
      kind: 'emergencyRotate',
      value: 'c',
    });
  });

  it('finds no emergency rotation pending when the Secret records emergencyRotate=<value>', () => {
    const metadata = meta({ 'jwtrotation.io/emergency-rotate': 'incident-7' });
    const recorded = secret({ 'jwtrotation.io/request': 'emergencyRotate=incident-7' });
    expect(pendingRequest('emergencyRotate', metadata, undefined, recorded)).to.equal(undefined);
  });
});

describe('requestTag', () => {
  it('writes a request as kind=value', () => {
    expect(requestTag({ kind: 'rollback', value: 'r-2' })).to.equal('rollback=r-2');
  });
});
