/**
 * Someone else acts on a rotation in flight (src/rotation/interference.ts, and the Secret deleted in
 * edge-decisions.ts): keys edited or removed by hand, the backup Secret deleted, the Secret deleted.
 * test/integration/interference.test.ts runs the same cases on a real control plane.
 */
import { expect } from 'chai';

import type { JwtRotationStatus } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { Decision, SecretView } from '../../src/rotation/model.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { aJwtRotation, anInput, aSecret, aTarget } from '../support/builders.ts';

const OLD = 'aaaaaaaaaaaa';
const NEW = 'bbbbbbbbbbbb';
const HAND = 'cccccccccccc';
const STARTED = '2026-01-01T00:00:00Z';
const DATE = '2026-01-01T00:00:10Z';
const BACKUP = { originalFingerprint: OLD, keyCreatedAt: '2025-12-01T00:00:00Z' };

function rotating(overrides: Partial<SecretView> = {}): SecretView {
  return aSecret({
    fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: NEW },
    rotationDate: NOT_SCHEDULED,
    annotations: {
      ...aSecret().annotations,
      'jwtrotation.io/operation': 'Rotate',
      'jwtrotation.io/operation-id': STARTED,
      'jwtrotation.io/trigger': 'Manual',
      'jwtrotation.io/previous-key': OLD,
    },
    ...overrides,
  });
}

/** Status as the operator left it on the pass before the edit. */
function statusIn(phase: 'DualKey' | 'Monitoring', extra: JwtRotationStatus = {}): JwtRotationStatus {
  return {
    observedGeneration: 1,
    phase,
    rotationStartedAt: STARTED,
    trigger: 'Manual',
    newKeyFingerprint: NEW,
    ...(phase === 'Monitoring' ? { rotationDate: DATE, monitoringStartedAt: DATE } : {}),
    ...extra,
  };
}

function stalled(decision: Decision) {
  return decision.status.conditions?.find((c) => c.type === 'Stalled');
}

function reasons(decision: Decision): string[] {
  return decision.events.map((e) => e.reason);
}

const monitoringSecret = (fingerprints: SecretView['fingerprints']): SecretView =>
  rotating({ fingerprints, rotationDate: DATE });

describe('someone else acts mid-rotation (decision core)', () => {
  describe('JWT_SECRET_NEW removed', () => {
    it('before the signing switch: a new key is generated and published for verification only (SecretRepaired)', () => {
      const decision = decide(
        anInput({
          secret: rotating({ fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD } }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('DualKey') }),
        }),
      );
      expect(decision.status.phase).to.equal('DualKey');
      expect(reasons(decision)).to.include('SecretRepaired');
      expect(decision.actions).to.have.length(1);
      expect(decision.actions[0]).to.deep.include({
        set: {
          JWT_SECRET_NEW: { generate: 64 },
          JWT_SECRET_ROTATION_DATE: { literal: NOT_SCHEDULED },
        },
      });
    });

    it('before the signing switch, the next pass takes the new key as the one made, without another Event', () => {
      const first = decide(
        anInput({
          secret: rotating({ fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD } }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('DualKey') }),
        }),
      );
      expect(first.status.newKeyFingerprint).to.equal(undefined);
      const next = decide(
        anInput({
          secret: rotating({
            fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: HAND },
          }),
          backup: BACKUP,
          resource: aJwtRotation({ status: first.status }),
        }),
      );
      expect(reasons(next)).to.not.include('KeyChangedByHand');
      expect(reasons(next)).to.not.include('SecretRepaired');
      expect(next.status.newKeyFingerprint).to.equal(HAND);
      expect(next.actions.map((a) => a.type)).to.deep.equal(['RollTargets']);
    });

    it('after the signing switch: Failed, NewKeyMissing, nothing written or rolled', () => {
      const decision = decide(
        anInput({
          secret: monitoringSecret({ JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'NewKeyMissing' });
      expect(reasons(decision)).to.include('NewKeyMissing');
      expect(decision.actions).to.deep.equal([]);
      // Status keeps the rotation's identity, so the next pass still knows it.
      expect(decision.status).to.include({
        rotationStartedAt: STARTED,
        newKeyFingerprint: NEW,
        rotationDate: DATE,
      });
    });

    it('after the signing switch, with the date removed too: still NewKeyMissing (status remembers the switch)', () => {
      const decision = decide(
        anInput({
          secret: rotating({ fingerprints: { JWT_SECRET: OLD }, rotationDate: undefined }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      expect(stalled(decision)).to.include({ status: 'True', reason: 'NewKeyMissing' });
      expect(decision.actions).to.deep.equal([]);
    });

    it('stays Failed on the next pass, and a rollback restores the original from the backup', () => {
      const input = anInput({
        secret: monitoringSecret({ JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD }),
        backup: BACKUP,
        resource: aJwtRotation({ status: statusIn('Monitoring') }),
      });
      const first = decide(input);
      const second = decide({ ...input, resource: aJwtRotation({ status: first.status }) });
      expect(stalled(second)).to.include({ status: 'True', reason: 'NewKeyMissing' });
      expect(reasons(second)).to.not.include('NewKeyMissing');
      const rollback = decide({
        ...input,
        resource: aJwtRotation({ status: second.status, annotations: { 'jwtrotation.io/rollback': 'now' } }),
      });
      expect(rollback.status.phase).to.equal('RollingBack');
      expect(rollback.actions[0]).to.deep.include({ set: { JWT_SECRET: { original: true } } });
    });
  });

  describe('JWT_SECRET_NEW changed', () => {
    it('after the signing switch: Failed, KeyChangedByHand, nothing written or rolled', () => {
      const decision = decide(
        anInput({
          secret: monitoringSecret({ JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: HAND }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'KeyChangedByHand' });
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.newKeyFingerprint).to.equal(NEW);
    });

    it('put back: the rotation goes on', () => {
      const failed = decide(
        anInput({
          secret: monitoringSecret({ JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: HAND }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      const revision = `${OLD}+${NEW}@${DATE}`;
      const back = decide(
        anInput({
          now: Date.parse(DATE) + 1000,
          secret: monitoringSecret({ JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: NEW }),
          backup: BACKUP,
          resource: aJwtRotation({ status: failed.status }),
          targets: [aTarget({ revision })],
        }),
      );
      expect(back.status.phase).to.not.equal('Failed');
      expect(stalled(back)).to.include({ status: 'False' });
    });

    it('before the signing switch: a Warning Event, and the new value is published', () => {
      const decision = decide(
        anInput({
          secret: rotating({
            fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: HAND },
          }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('DualKey') }),
        }),
      );
      expect(decision.status.phase).to.equal('DualKey');
      expect(reasons(decision)).to.include('KeyChangedByHand');
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.newKeyFingerprint).to.equal(HAND);
    });
  });

  describe('JWT_SECRET changed while Completing', () => {
    const completing = (key: string): SecretView =>
      aSecret({
        fingerprints: { JWT_SECRET: key },
        annotations: {
          ...aSecret().annotations,
          'jwtrotation.io/operation': 'Complete',
          'jwtrotation.io/operation-id': STARTED,
          'jwtrotation.io/trigger': 'Manual',
          'jwtrotation.io/previous-key': OLD,
        },
      });
    const status: JwtRotationStatus = { ...statusIn('DualKey'), phase: 'Completing' };

    it('to another key: Failed, KeyChangedByHand, nothing rolled', () => {
      const decision = decide(
        anInput({ secret: completing(HAND), backup: BACKUP, resource: aJwtRotation({ status }) }),
      );
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'KeyChangedByHand' });
      expect(decision.actions).to.deep.equal([]);
      expect(decision.status.newKeyFingerprint).to.equal(NEW);
    });

    it('left alone: Completing rolls the targets', () => {
      const decision = decide(
        anInput({ secret: completing(NEW), backup: BACKUP, resource: aJwtRotation({ status }) }),
      );
      expect(decision.status.phase).to.equal('Completing');
      expect(decision.actions.map((a) => a.type)).to.deep.equal(['RollTargets']);
    });
  });

  describe('JWT_SECRET_CURRENT', () => {
    it('changed: Failed, KeyChangedByHand, nothing written; a rollback takes the original from the backup', () => {
      const input = anInput({
        secret: rotating({
          fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: HAND, JWT_SECRET_NEW: NEW },
        }),
        backup: BACKUP,
        resource: aJwtRotation({ status: statusIn('DualKey') }),
      });
      const decision = decide(input);
      expect(decision.status.phase).to.equal('Failed');
      expect(stalled(decision)).to.include({ status: 'True', reason: 'KeyChangedByHand' });
      expect(decision.actions).to.deep.equal([]);
      const rollback = decide({
        ...input,
        resource: aJwtRotation({
          status: decision.status,
          annotations: { 'jwtrotation.io/rollback': 'now' },
        }),
      });
      expect(rollback.status.phase).to.equal('RollingBack');
      expect(rollback.actions[0]).to.deep.include({ set: { JWT_SECRET: { original: true } } });
    });

    it('removed while JWT_SECRET still holds the original: copied back from JWT_SECRET (SecretRepaired)', () => {
      const decision = decide(
        anInput({
          secret: rotating({ fingerprints: { JWT_SECRET: OLD, JWT_SECRET_NEW: NEW } }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('DualKey') }),
        }),
      );
      expect(decision.status.phase).to.equal('DualKey');
      expect(reasons(decision)).to.include('SecretRepaired');
      expect(decision.actions[0]).to.deep.include({ set: { JWT_SECRET_CURRENT: { copy: 'JWT_SECRET' } } });
    });

    it('removed in Monitoring: repaired the same way', () => {
      const decision = decide(
        anInput({
          secret: monitoringSecret({ JWT_SECRET: OLD, JWT_SECRET_NEW: NEW }),
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      expect(reasons(decision)).to.include('SecretRepaired');
      expect(decision.actions[0]).to.deep.include({ set: { JWT_SECRET_CURRENT: { copy: 'JWT_SECRET' } } });
    });
  });

  describe('the backup Secret deleted', () => {
    for (const phase of ['DualKey', 'Monitoring'] as const) {
      it(`in ${phase}: the original is saved again from JWT_SECRET (BackupRestored)`, () => {
        const decision = decide(
          anInput({
            secret: phase === 'DualKey' ? rotating() : monitoringSecret(rotating().fingerprints),
            backup: undefined,
            resource: aJwtRotation({ status: statusIn(phase) }),
          }),
        );
        expect(decision.status.phase).to.equal(phase);
        expect(reasons(decision)).to.include('BackupRestored');
        expect(decision.actions).to.deep.equal([
          { type: 'SaveOriginal', fingerprint: OLD, keyCreatedAt: '2026-01-01T00:00:00Z' },
        ]);
      });
    }

    it('in an adopted rotation (no previous-key): nothing to save from', () => {
      const adopted = rotating();
      delete adopted.annotations['jwtrotation.io/previous-key'];
      const decision = decide(
        anInput({
          secret: adopted,
          backup: undefined,
          resource: aJwtRotation({ status: statusIn('DualKey') }),
        }),
      );
      expect(reasons(decision)).to.not.include('BackupRestored');
    });
  });

  describe('the Secret deleted', () => {
    it('never created before (no key in status): SecretCreated, Normal', () => {
      const decision = decide(anInput({ secret: undefined, resource: aJwtRotation({ status: {} }) }));
      expect(reasons(decision)).to.deep.equal(['SecretCreated']);
    });

    it('mid-rotation without a backup (an adopted rotation): a new key, SecretRecreated names both lost keys', () => {
      const decision = decide(
        anInput({
          secret: undefined,
          resource: aJwtRotation({ status: statusIn('Monitoring', { currentKeyFingerprint: OLD }) }),
        }),
      );
      expect(reasons(decision)).to.include('SecretRecreated');
      expect(decision.events.find((e) => e.reason === 'SecretRecreated')?.message)
        .to.include(OLD)
        .and.include(NEW);
    });

    it('mid-rotation, with the backup: recreated with the original key as a rollback (SecretRestoredFromBackup)', () => {
      const decision = decide(
        anInput({
          secret: undefined,
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      expect(decision.status.phase).to.equal('RollingBack');
      expect(reasons(decision)).to.include('SecretRestoredFromBackup');
      expect(decision.actions).to.have.length(1);
      const create = decision.actions[0];
      expect(create?.type).to.equal('CreateSecret');
      if (create?.type !== 'CreateSecret') return;
      expect(create.data.JWT_SECRET).to.deep.equal({ original: true });
      expect(create.annotations).to.include({
        'jwtrotation.io/operation': 'Rollback',
        'jwtrotation.io/operation-id': STARTED,
        'jwtrotation.io/trigger': 'Rollback',
        'jwtrotation.io/previous-key': NEW,
        'jwtrotation.io/key-created-at': BACKUP.keyCreatedAt,
      });
    });

    it('the restored Secret is rolled out and recorded as RolledBack with reason SecretRestoredFromBackup', () => {
      const restored = aSecret({
        fingerprints: { JWT_SECRET: OLD },
        annotations: {
          ...aSecret().annotations,
          'jwtrotation.io/operation': 'Rollback',
          'jwtrotation.io/operation-id': STARTED,
          'jwtrotation.io/trigger': 'Rollback',
          'jwtrotation.io/previous-key': NEW,
        },
      });
      const first = decide(
        anInput({
          secret: undefined,
          backup: BACKUP,
          resource: aJwtRotation({ status: statusIn('Monitoring') }),
        }),
      );
      const rolling = decide(
        anInput({ secret: restored, backup: BACKUP, resource: aJwtRotation({ status: first.status }) }),
      );
      expect(rolling.status.phase).to.equal('RollingBack');
      const revision = rolling.actions.find((a) => a.type === 'RollTargets');
      expect(revision?.type).to.equal('RollTargets');
      if (revision?.type !== 'RollTargets') return;
      expect(revision.revision, 'a revision the core names (no Secret write in this pass)').to.be.a('string');
      if (typeof revision.revision !== 'string') return;
      const done = decide(
        anInput({
          secret: restored,
          backup: BACKUP,
          resource: aJwtRotation({ status: rolling.status }),
          targets: [aTarget({ revision: revision.revision })],
        }),
      );
      expect(done.status.phase).to.equal('Idle');
      expect(done.status.lastRotation).to.include({
        outcome: 'RolledBack',
        reason: 'SecretRestoredFromBackup',
      });
    });

    it('in Idle: created with a new key (the backup holds an older key, not the one in use), with a Warning', () => {
      const decision = decide(
        anInput({
          secret: undefined,
          backup: BACKUP,
          resource: aJwtRotation({ status: { phase: 'Idle', currentKeyFingerprint: NEW } }),
        }),
      );
      expect(reasons(decision)).to.deep.equal(['SecretRecreated']);
      expect(decision.events[0]?.type).to.equal('Warning');
      expect(decision.events[0]?.message).to.include(NEW);
      const create = decision.actions[0];
      expect(create?.type === 'CreateSecret' && create.data.JWT_SECRET).to.deep.equal({ generate: 64 });
    });
  });
});
