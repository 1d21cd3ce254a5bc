import { expect } from 'chai';
import type { JwtRotationSpec, ManagedFieldsEntry } from '../../src/api/types.ts';
import {
  fieldManagerOf,
  ownsAnnotation,
  parseStamp,
  requestedByText,
  requesterOfRequest,
} from '../../src/rotation/audit.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

/** A managedFields entry as the API server writes it for an annotation set by `manager`. */
function owning(
  manager: string,
  annotations: string[],
  time = '2026-01-01T00:00:00Z',
  extra: Partial<ManagedFieldsEntry> = {},
): ManagedFieldsEntry {
  return {
    manager,
    operation: 'Update',
    apiVersion: 'jwtrotation.io/v1alpha1',
    time,
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:metadata': { 'f:annotations': Object.fromEntries(annotations.map((a) => [`f:${a}`, {}])) },
    },
    ...extra,
  } as ManagedFieldsEntry;
}

const fast: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  // Short token lifetimes: by default completion waits until the old key's tokens have expired.
  tokenTTL: '20s',
  refreshTokenTTL: '40s',
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  monitoring: { minDuration: '30s', maxDuration: '60s' },
  schedule: { interval: '240h' },
};

function runUntil(world: SimulatedWorld, phase: string): void {
  for (let i = 0; i < 500; i++) {
    world.settle();
    if (world.status?.phase === phase) return;
    world.now += SECOND;
  }
  throw new Error(`never reached ${phase}`);
}

describe('audit: who asked', () => {
  describe('managedFields', () => {
    it('finds the manager that owns the annotation, and when', () => {
      const metadata = {
        managedFields: [
          owning('kubectl-client-side-apply', ['kubectl.kubernetes.io/last-applied-configuration']),
          owning('alice', ['jwtrotation.io/rotate'], '2026-01-02T03:04:05Z'),
          owning('jwt-rotation-operator', [], '2026-01-03T00:00:00Z', { subresource: 'status' }),
        ],
      };
      expect(fieldManagerOf(metadata, 'jwtrotation.io/rotate')).to.deep.equal({
        manager: 'alice',
        time: '2026-01-02T03:04:05Z',
      });
      expect(fieldManagerOf(metadata, 'jwtrotation.io/rollback')).to.equal(undefined);
      expect(fieldManagerOf({}, 'jwtrotation.io/rotate')).to.equal(undefined);
    });

    it('takes the latest of several owners (server-side apply shares a field set to the same value)', () => {
      const metadata = {
        managedFields: [
          owning('argocd-controller', ['jwtrotation.io/rotate'], '2026-01-01T00:00:00Z', {
            operation: 'Apply',
          }),
          owning('bob', ['jwtrotation.io/rotate'], '2026-01-05T00:00:00Z', { operation: 'Apply' }),
        ],
      };
      expect(fieldManagerOf(metadata, 'jwtrotation.io/rotate')?.manager).to.equal('bob');
    });

    it('ignores status entries, other field formats and malformed tries', () => {
      expect(ownsAnnotation(owning('x', ['a'], undefined, { subresource: 'status' }), 'a')).to.equal(false);
      expect(ownsAnnotation(owning('x', ['a'], undefined, { fieldsType: 'FieldsV2' }), 'a')).to.equal(false);
      expect(ownsAnnotation({ manager: 'x', fieldsV1: { 'f:metadata': 'nonsense' } }, 'a')).to.equal(false);
      expect(ownsAnnotation({ manager: 'x' }, 'a')).to.equal(false);
    });

    it('says who asked in an Event message, and whether the name is verified', () => {
      expect(requestedByText({ username: 'alice', verified: false, time: '2026-01-02T03:04:05Z' })).to.equal(
        ' (requested by field manager alice, unverified at 2026-01-02T03:04:05Z)',
      );
      expect(
        requestedByText({ username: 'bob', groups: ['devs', 'system:authenticated'], verified: true }),
      ).to.equal(' (requested by bob [groups devs, system:authenticated])');
      expect(requestedByText(undefined)).to.equal('');
    });
  });

  describe('the admission stamp (REQUESTER_IDENTITY=admission)', () => {
    const stamp = (value: string, username = 'bob', groups = ['devs', 'system:authenticated']): string =>
      JSON.stringify({ value, username, uid: 'u-1', groups });
    const metadata = (annotations: Record<string, string>) => ({
      annotations,
      managedFields: [owning('alice', ['jwtrotation.io/rotate'], '2026-01-02T03:04:05Z')],
    });
    const request = { kind: 'rotate' as const, value: 'r1' };

    it('names the authenticated user of the stamp, not the field manager, with the managedFields time', () => {
      const m = metadata({ 'jwtrotation.io/rotate': 'r1', 'jwtrotation.io/rotate-requester': stamp('r1') });
      expect(requesterOfRequest(m, request, 'admission')).to.deep.equal({
        username: 'bob',
        groups: ['devs', 'system:authenticated'],
        verified: true,
        time: '2026-01-02T03:04:05Z',
      });
    });

    it('ignores a stamp made for another value (set before the policy existed): the field manager, unverified', () => {
      const m = metadata({ 'jwtrotation.io/rotate': 'r1', 'jwtrotation.io/rotate-requester': stamp('r0') });
      expect(requesterOfRequest(m, request, 'admission')).to.deep.include({
        username: 'alice',
        verified: false,
      });
    });

    it('ignores every stamp when the policies are not installed (anyone could have written it)', () => {
      const m = metadata({ 'jwtrotation.io/rotate': 'r1', 'jwtrotation.io/rotate-requester': stamp('r1') });
      expect(requesterOfRequest(m, request, 'field-manager')).to.deep.include({
        username: 'alice',
        verified: false,
      });
      expect(requesterOfRequest(m, request)).to.deep.include({ username: 'alice', verified: false });
    });

    it("reads CEL strings.quote's escapes (\\a, \\v, raw control characters, quotes and backslashes)", () => {
      // What strings.quote makes of the name we\ird "name" BEL VT SOH.
      const cel = '{"value":"r1","username":"we\\\\ird \\"name\\"\\a\\v\u0001","uid":"","groups":[]}';
      expect(parseStamp(cel)).to.deep.equal({
        value: 'r1',
        username: 'we\\ird "name"\u0007\u000b\u0001',
        uid: '',
        groups: [],
      });
    });

    for (const [what, text] of [
      ['not JSON', 'bob'],
      ['no username', '{"value":"r1","groups":[]}'],
      ['an empty username', '{"value":"r1","username":"","groups":[]}'],
      ['groups that are not strings', '{"value":"r1","username":"bob","groups":[1]}'],
    ]) {
      it(`refuses a stamp with ${what ?? ''}`, () => {
        expect(parseStamp(text ?? '')).to.equal(undefined);
      });
    }

    it('keeps the verified requester with the operation: Event, history and the emergency audit entry', () => {
      const world = new SimulatedWorld(fast, T0);
      world.requesterIdentity = 'admission';
      world.settle();
      world.annotations['jwtrotation.io/emergency-rotate'] = 'leak-1';
      world.annotations['jwtrotation.io/emergency-rotate-requester'] = JSON.stringify({
        value: 'leak-1',
        username: 'bob',
        uid: 'u-1',
        groups: ['security'],
      });
      world.managedFields = [owning('alice', ['jwtrotation.io/emergency-rotate'], '2026-01-01T00:00:04Z')];
      runUntil(world, 'Idle');
      world.settle();
      expect(world.status?.lastRotation).to.deep.include({
        trigger: 'Emergency',
        requestedBy: 'bob',
        requestedByGroups: ['security'],
        requestedByVerified: true,
        requestedAt: '2026-01-01T00:00:04Z',
      });
      const audit = world.events.find((e) => e.reason === 'CompromisedKey')?.message;
      expect(audit).to.include('requested by bob [groups security] at 2026-01-01T00:00:04Z');
      expect(audit).to.not.include('alice');
      const emergency = world.notices.find((n) => n.kind === 'Emergency');
      expect(emergency?.requestedBy).to.deep.equal({ username: 'bob', groups: ['security'], verified: true });
      const completed = world.notices.find((n) => n.kind === 'Completed');
      expect(completed?.requestedBy).to.deep.equal({ username: 'bob', groups: ['security'], verified: true });
    });
  });

  describe('in history and Events', () => {
    it('records who asked for a rotation, the request and the final gate, and names them in the Event', () => {
      const world = new SimulatedWorld(fast, T0);
      world.settle();
      world.annotations['jwtrotation.io/rotate'] = 'r1';
      world.managedFields = [owning('alice', ['jwtrotation.io/rotate'], '2026-01-01T00:00:05Z')];
      runUntil(world, 'DualKey');
      expect(world.events.find((e) => e.reason === 'RotationStarted')?.message).to.include(
        '(requested by field manager alice, unverified at 2026-01-01T00:00:05Z)',
      );
      // Who asked is kept with the operation (on the Secret), even if the annotation changes hands.
      world.managedFields = [];
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation).to.deep.include({
        trigger: 'Manual',
        outcome: 'Completed',
        requestedBy: 'alice',
        requestedByVerified: false,
        requestedAt: '2026-01-01T00:00:05Z',
        request: 'rotate=r1',
      });
      expect(world.status?.history?.[0]).to.deep.equal(world.status?.lastRotation);
    });

    it('records nobody for a scheduled rotation, and clears a stale requester', () => {
      const world = new SimulatedWorld({ ...fast, schedule: { interval: '1m' } }, T0);
      world.settle();
      world.annotations['jwtrotation.io/rotate'] = 'r1';
      world.managedFields = [owning('alice', ['jwtrotation.io/rotate'])];
      runUntil(world, 'DualKey');
      runUntil(world, 'Idle');
      runUntil(world, 'DualKey');
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation?.trigger).to.equal('Scheduled');
      expect(world.status?.lastRotation?.requestedBy).to.equal(undefined);
      expect(world.status?.history?.[1]?.requestedBy).to.equal('alice');
    });

    it('records the emergency audit entry: compromised key, when, by whom, and a Warning to block it', () => {
      const world = new SimulatedWorld(fast, T0);
      world.settle();
      const compromised = world.status?.currentKeyFingerprint ?? '';
      world.now += 5 * SECOND;
      world.annotations['jwtrotation.io/emergency-rotate'] = 'leak-1';
      world.managedFields = [
        owning('security-bot', ['jwtrotation.io/emergency-rotate'], '2026-01-01T00:00:04Z'),
      ];
      runUntil(world, 'Idle');
      world.settle();
      expect(world.status?.lastRotation).to.deep.include({
        trigger: 'Emergency',
        requestedBy: 'security-bot',
        requestedAt: '2026-01-01T00:00:04Z',
        request: 'emergencyRotate=leak-1',
        compromisedKeyFingerprint: compromised,
        previousKeyFingerprint: compromised,
      });
      const warning = world.events.filter((e) => e.reason === 'CompromisedKey');
      expect(warning).to.have.length(1);
      expect(warning[0]?.message).to.include(`key ${compromised} is compromised`);
      expect(warning[0]?.message).to.include(
        'requested by field manager security-bot, unverified at 2026-01-01T00:00:04Z',
      );
      expect(warning[0]?.message).to.include('audit recent token usage');
    });

    it('records who asked for a rollback', () => {
      const world = new SimulatedWorld(fast, T0);
      world.settle();
      world.annotations['jwtrotation.io/rotate'] = 'r1';
      world.managedFields = [owning('alice', ['jwtrotation.io/rotate'])];
      runUntil(world, 'Monitoring');
      world.annotations['jwtrotation.io/rollback'] = 'b1';
      world.managedFields = [
        owning('alice', ['jwtrotation.io/rotate']),
        owning('bob', ['jwtrotation.io/rollback'], '2026-01-01T00:01:00Z'),
      ];
      runUntil(world, 'Idle');
      expect(world.status?.lastRotation).to.deep.include({ outcome: 'RolledBack', requestedBy: 'bob' });
      expect(world.events.find((e) => e.reason === 'RollbackStarted')?.message).to.include(
        'requested by field manager bob',
      );
    });
  });

  describe('review rotation metrics', () => {
    it('keeps the final gate reading and the key fingerprints in the history entry', () => {
      const world = new SimulatedWorld(
        { ...fast, monitoring: { ...fast.monitoring, prometheus: { url: 'http://prom:9090' } } },
        T0,
      );
      world.settle();
      const readings = {
        newKeyShare: 0.5,
        authSuccessRate: 0.999,
        validationLatencyP99Seconds: 0.01,
        errorRate: 0,
        activeSessions: 100,
        samples: 1000,
      };
      world.gate = { ok: true, readings };
      world.annotations['jwtrotation.io/rotate'] = 'r1';
      runUntil(world, 'Monitoring');
      const before = world.status?.currentKeyFingerprint;
      world.gate = { ok: true, readings: { ...readings, newKeyShare: 0.97 } };
      runUntil(world, 'Idle');
      const record = world.status?.lastRotation;
      expect(record?.finalGate).to.deep.include({
        health: 'Pass',
        completion: 'Pass',
        reason: 'AllChecksPassed',
      });
      expect(record?.finalGate?.readings).to.deep.include({ newKeyShare: 0.97, authSuccessRate: 0.999 });
      expect(record?.finalGate?.checkedAt).to.match(/^2026-01-01T/);
      expect(record?.previousKeyFingerprint).to.equal(before);
      expect(record?.newKeyFingerprint).to.equal(world.status?.currentKeyFingerprint);
    });
  });

  describe('spec.historyLimit', () => {
    it('keeps that many entries, newest first', () => {
      const world = new SimulatedWorld({ ...fast, schedule: { interval: '1m' }, historyLimit: 2 }, T0);
      world.settle();
      for (let i = 0; i < 3; i++) {
        runUntil(world, 'DualKey');
        runUntil(world, 'Idle');
      }
      expect(world.status?.history).to.have.length(2);
      expect(world.status?.history?.[0]).to.deep.equal(world.status?.lastRotation);
    });

    it('defaults to 10', () => {
      const world = new SimulatedWorld({ ...fast, schedule: { interval: '1m' } }, T0);
      world.settle();
      for (let i = 0; i < 11; i++) {
        runUntil(world, 'DualKey');
        runUntil(world, 'Idle');
      }
      expect(world.status?.history).to.have.length(10);
    });
  });
});
