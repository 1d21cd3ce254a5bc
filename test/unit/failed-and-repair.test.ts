/**
 * The branches a human causes: a Secret edited into a shape the operator did not write (adopted or
 * repaired), one with no usable key (Failed), and rollbacks with nothing to restore.
 */
import { expect } from 'chai';

import { decide } from '../../src/rotation/decide.ts';
import type { Decision, SecretView } from '../../src/rotation/model.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { aJwtRotation, anInput, aSecret } from '../support/builders.ts';

const OLD = 'aaaaaaaaaaaa';
const NEW = 'bbbbbbbbbbbb';

function reasons(decision: Decision): string[] {
  return decision.events.map((e) => e.reason);
}

function stalled(decision: Decision) {
  return decision.status.conditions?.find((c) => c.type === 'Stalled');
}

function reconciling(decision: Decision) {
  return decision.status.conditions?.find((c) => c.type === 'Reconciling');
}

function dualKeySecret(overrides: Partial<SecretView> = {}): SecretView {
  return aSecret({
    fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: NEW },
    rotationDate: NOT_SCHEDULED,
    annotations: {
      ...aSecret().annotations,
      'jwtrotation.io/operation': 'Rotate',
      'jwtrotation.io/operation-id': '2026-01-01T00:00:00Z',
    },
    ...overrides,
  });
}

describe('a Secret a human changed', () => {
  describe('JWT_SECRET_NEW without JWT_SECRET_CURRENT (SecretInconsistent)', () => {
    const inconsistent = dualKeySecret({ fingerprints: { JWT_SECRET: OLD, JWT_SECRET_NEW: NEW } });

    it('is Failed and Stalled, with Reconciling False so kstatus reads Failed, and an Event', () => {
      const decision = decide(anInput({ secret: inconsistent }));
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'SecretInconsistent' });
      expect(reconciling(decision)).to.include({ status: 'False' });
      expect(reasons(decision)).to.include('SecretInconsistent');
      expect(decision.actions).to.deep.equal([]);
    });

    it('is rolled back to the backed-up original on request', () => {
      const decision = decide(
        anInput({
          resource: aJwtRotation({
            annotations: { 'jwtrotation.io/rollback': 'fix' },
            status: { observedGeneration: 1 },
          }),
          secret: inconsistent,
          backup: { originalFingerprint: OLD, keyCreatedAt: '2026-01-01T00:00:00Z' },
        }),
      );
      expect(decision.status.phase).to.equal('RollingBack');
      const update = decision.actions.find((a) => a.type === 'UpdateSecret');
      expect(update).to.deep.include({ set: { JWT_SECRET: { original: true } } });
    });
  });

  describe('no JWT_SECRET at all (KeyMissing)', () => {
    const keyless = aSecret({ fingerprints: {} });

    it('is Failed and Stalled, and writes nothing on its own', () => {
      const decision = decide(anInput({ secret: keyless }));
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'KeyMissing' });
      expect(decision.actions).to.deep.equal([]);
    });

    it('writes the Stalled Event once, not on every pass', () => {
      const first = decide(anInput({ secret: keyless }));
      const second = decide(anInput({ secret: keyless, resource: aJwtRotation({ status: first.status }) }));
      expect(reasons(first)).to.include('KeyMissing');
      expect(reasons(second)).to.not.include('KeyMissing');
    });

    it('recovers through an emergency rotation: a new JWT_SECRET at once', () => {
      const decision = decide(
        anInput({
          secret: keyless,
          resource: aJwtRotation({
            annotations: { 'jwtrotation.io/emergency-rotate': 'fix' },
            status: { observedGeneration: 1, phase: 'Failed' },
          }),
        }),
      );
      expect(decision.status.phase).to.equal('Completing');
      const update = decision.actions.find((a) => a.type === 'UpdateSecret');
      expect(update).to.deep.include({ set: { JWT_SECRET: { generate: 64 } } });
    });

    it('refuses a rollback without a backup with RollbackImpossible, and marks the value handled', () => {
      const decision = decide(
        anInput({
          secret: keyless,
          resource: aJwtRotation({
            annotations: { 'jwtrotation.io/rollback': 'try' },
            status: { observedGeneration: 1, phase: 'Failed' },
          }),
        }),
      );
      expect(decision.status.phase).to.equal('Failed');
      expect(reasons(decision)).to.include('RollbackImpossible');
      expect(decision.status.handledRequests).to.deep.equal({ rollback: 'try' });
    });
  });

  describe('a dual-key Secret the operator did not write', () => {
    it('is adopted as a rotation in flight (RotationAdopted), without changing a key', () => {
      const foreign = dualKeySecret({ annotations: aSecret().annotations });
      const decision = decide(anInput({ secret: foreign }));
      expect(decision.status.phase).to.equal('DualKey');
      expect(reasons(decision)).to.include('RotationAdopted');
      const update = decision.actions[0];
      expect(update?.type).to.equal('UpdateSecret');
      if (update?.type !== 'UpdateSecret') return;
      expect(update.set).to.deep.equal({});
      expect(update.annotations).to.include({ 'jwtrotation.io/operation': 'Rotate' });
    });

    it('gets a lost rotation date back as the verify-only placeholder (SecretRepaired)', () => {
      const decision = decide(anInput({ secret: dualKeySecret({ rotationDate: undefined }) }));
      expect(reasons(decision)).to.include('SecretRepaired');
      expect(decision.actions[0]).to.deep.include({
        set: { JWT_SECRET_ROTATION_DATE: { literal: NOT_SCHEDULED } },
      });
    });

    it('gets a lost JWT_SECRET back from JWT_SECRET_CURRENT (SecretRepaired)', () => {
      const decision = decide(
        anInput({
          secret: dualKeySecret({ fingerprints: { JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: NEW } }),
        }),
      );
      expect(reasons(decision)).to.include('SecretRepaired');
      expect(decision.actions[0]).to.deep.include({ set: { JWT_SECRET: { copy: 'JWT_SECRET_CURRENT' } } });
    });
  });

  describe('a rollback with nothing to restore', () => {
    it('during the Completing of an emergency rotation is RollbackImpossible, and the emergency goes on', () => {
      const decision = decide(
        anInput({
          secret: aSecret({
            fingerprints: { JWT_SECRET: NEW },
            annotations: {
              ...aSecret().annotations,
              'jwtrotation.io/operation': 'Emergency',
              'jwtrotation.io/operation-id': '2026-01-01T00:00:00Z',
              'jwtrotation.io/trigger': 'Emergency',
            },
          }),
          resource: aJwtRotation({
            annotations: { 'jwtrotation.io/rollback': 'undo' },
            status: { observedGeneration: 1, phase: 'Completing' },
          }),
        }),
      );
      expect(reasons(decision)).to.include('RollbackImpossible');
      expect(decision.actions).to.deep.equal([]);
    });

    it('in Idle, when the original is already the key in use, is NothingToRollBack', () => {
      const decision = decide(
        anInput({
          backup: { originalFingerprint: OLD, keyCreatedAt: '2026-01-01T00:00:00Z' },
          resource: aJwtRotation({
            annotations: { 'jwtrotation.io/rollback': 'again' },
            status: { observedGeneration: 1 },
          }),
        }),
      );
      expect(reasons(decision)).to.include('NothingToRollBack');
      expect(decision.actions).to.deep.equal([]);
    });
  });
});
