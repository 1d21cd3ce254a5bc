/**
 * Input the API server may let through but the operator must refuse without touching anything:
 * a Secret some other system owns (by its type), and request annotation values built to be huge or
 * to forge log lines. Each is reported as Stalled with a reason, never acted on, never echoed.
 */
import { expect } from 'chai';

import { decide } from '../../src/rotation/decide.ts';
import type { Decision } from '../../src/rotation/model.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { REQUEST_VALUE } from '../../src/rotation/requests.ts';
import { aJwtRotation, anInput, aSecret } from '../support/builders.ts';

function stalled(decision: Decision) {
  return decision.status.conditions?.find((c) => c.type === 'Stalled');
}

describe('hostile input the core refuses', () => {
  for (const type of ['kubernetes.io/service-account-token', 'helm.sh/release.v1', 'kubernetes.io/tls']) {
    it(`leaves a Secret of type ${type} untouched, even on an emergency request`, () => {
      const decision = decide(
        anInput({
          resource: aJwtRotation({
            annotations: { 'jwtrotation.io/emergency-rotate': 'now-1' },
            status: { observedGeneration: 1 },
          }),
          secret: aSecret({ type }),
        }),
      );
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'SecretTypeNotManaged' });
      expect(stalled(decision)?.message).to.include(type);
    });
  }

  it('manages an Opaque Secret, and one whose type is unset', () => {
    for (const type of ['Opaque', undefined]) {
      const decision = decide(anInput({ secret: aSecret({ type }) }));
      expect(stalled(decision)).to.include({ status: 'False' });
    }
  });

  const hostileValues: [string, string][] = [
    ['a megabyte', 'x'.repeat(1024 * 1024)],
    ['129 characters', 'a'.repeat(129)],
    ['a forged log line', 'go\n{"level":"info","message":"rotation completed","forged":true}'],
    ['an ANSI escape', '\u001b[2Jgo'],
    ['a PromQL injection', 'x"} or vector(1)'],
    ['spaces', 'rotate now please'],
  ];
  for (const [what, value] of hostileValues) {
    for (const annotation of [
      'jwtrotation.io/rotate',
      'jwtrotation.io/rollback',
      'jwtrotation.io/emergency-rotate',
    ]) {
      it(`does not act on ${annotation} set to ${what}, says so, and never echoes the value`, () => {
        expect(REQUEST_VALUE.test(value)).to.equal(false);
        const decision = decide(
          anInput({
            resource: aJwtRotation({
              annotations: { [annotation]: value },
              status: { observedGeneration: 1 },
            }),
            secret: aSecret({
              fingerprints: { JWT_SECRET: 'aaaa', JWT_SECRET_CURRENT: 'aaaa', JWT_SECRET_NEW: 'bbbb' },
              rotationDate: NOT_SCHEDULED,
            }),
          }),
        );
        expect(decision.actions).to.deep.equal([]);
        expect(stalled(decision)).to.include({ status: 'True', reason: 'InvalidRequest' });
        expect(stalled(decision)?.message).to.include(annotation);
        const shown = JSON.stringify([decision.status, decision.events]);
        expect(shown).to.not.include(value.slice(0, 40));
        expect(decision.status.handledRequests ?? {}).to.deep.equal({});
      });
    }
  }

  it('acts on the values users and the kubectl plugin set', () => {
    for (const value of [
      '1',
      'go',
      'incident-7',
      '2026-11-30T10:00:00Z',
      '2026-11-30T10-00-00Z-a1b2c3',
      'INC.42+retry@alice',
    ]) {
      expect(REQUEST_VALUE.test(value), value).to.equal(true);
    }
  });
});

describe('a Secret the JwtRotation did not write (no takeover)', () => {
  const foreign = (fingerprints: ReturnType<typeof aSecret>['fingerprints']) =>
    aSecret({ fingerprints, annotations: { 'example.com/owner': 'database-team' } });
  const requests: [string, Record<string, string>][] = [
    ['no request', {}],
    ['an emergency request', { 'jwtrotation.io/emergency-rotate': 'take-1' }],
    ['a rollback request', { 'jwtrotation.io/rollback': 'take-2' }],
    ['a rotate request', { 'jwtrotation.io/rotate': 'take-3' }],
  ];
  for (const [what, annotations] of requests) {
    it(`leaves one without a JWT key (a database password) untouched on ${what}: SecretNotAdoptable`, () => {
      const decision = decide(
        anInput({
          resource: aJwtRotation({ annotations, status: { observedGeneration: 1 } }),
          secret: foreign({}),
          // Even a backup to roll back to (one the tenant could have made) changes nothing.
          backup: { originalFingerprint: 'bbbbbbbbbbbb', keyCreatedAt: '2026-01-01T00:00:00Z' },
        }),
      );
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'SecretNotAdoptable' });
      expect(stalled(decision)?.message).to.include('Secret api-jwt holds no JWT_SECRET');
      expect(decision.events.map((e) => e.reason)).to.include('SecretNotAdoptable');
    });
  }

  it('does not adopt an HMAC Secret for an asymmetric JwtRotation (no JWT_PRIVATE_KEY)', () => {
    // The shell maps slots to JWT_PRIVATE_KEY for RS256: a Secret with only JWT_SECRET shows no key.
    const decision = decide(
      anInput({
        resource: aJwtRotation({
          spec: { algorithm: 'RS256' },
          annotations: { 'jwtrotation.io/emergency-rotate': 'take' },
          status: { observedGeneration: 1 },
        }),
        secret: foreign({}),
      }),
    );
    expect(decision.actions).to.deep.equal([]);
    expect(stalled(decision)?.message).to.include('holds no JWT_PRIVATE_KEY');
  });

  it('adopts one that holds a JWT_SECRET, writing only its own keys and annotations', () => {
    const decision = decide(anInput({ secret: foreign({ JWT_SECRET: 'aaaaaaaaaaaa' }) }));
    expect(stalled(decision)).to.include({ status: 'False' });
    const update = decision.actions.find((a) => a.type === 'UpdateSecret');
    expect(update?.type).to.equal('UpdateSecret');
    if (update?.type !== 'UpdateSecret') return;
    for (const key of [...Object.keys(update.set), ...update.remove])
      expect(key).to.match(/^JWT_(SECRET|EXPIRATION|REFRESH_EXPIRATION)/);
    expect(update.annotations).to.include({ 'jwtrotation.io/managed-by': 'api' });
  });

  it('still lets the JwtRotation recover its own Secret that lost its key (KeyMissing, emergency)', () => {
    const decision = decide(
      anInput({
        resource: aJwtRotation({
          annotations: { 'jwtrotation.io/emergency-rotate': 'fix' },
          status: { observedGeneration: 1, phase: 'Failed' },
        }),
        secret: aSecret({ fingerprints: {} }),
      }),
    );
    expect(decision.status.phase).to.equal('Completing');
  });
});
