import { createPrivateKey } from 'node:crypto';

import { expect } from 'chai';
import type { JwtRotationStatus } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { DecideInput, Decision } from '../../src/rotation/model.ts';
import { generateKey } from '../../src/platform/keys.ts';
import { keyShape } from '../../src/reconcile/secret-data.ts';
import {
  aJwtRotation,
  anInput,
  aRollbackCopy,
  aSecret,
  aTarget,
  HOUR,
  SECOND,
  T0,
} from '../support/builders.ts';

/** A JwtRotation seen before, asked to rotate. */
function requested(
  status: JwtRotationStatus = { observedGeneration: 1, phase: 'Idle' },
  extra: Partial<DecideInput> = {},
) {
  return anInput({
    resource: aJwtRotation({ annotations: { 'jwtrotation.io/rotate': 'r1' }, status }),
    ...extra,
  });
}
const item = (d: Decision, name: string) => d.status.preflight?.find((i) => i.name === name);
const cond = (d: Decision, type: string) => d.status.conditions?.find((c) => c.type === type);

describe('the pre-rotation checklist', () => {
  it('passes and starts the rotation, recording every item and PreflightPassed=True', () => {
    const d = decide(requested(undefined, { backup: aRollbackCopy() }));
    expect(d.status.phase).to.equal('DualKey');
    expect(d.status.preflight?.map((i) => [i.name, i.result])).to.deep.equal([
      ['CurrentKey', 'Passed'],
      ['TokenTTLs', 'Passed'],
      ['Targets', 'Passed'],
      ['Metrics', 'Skipped'],
      ['RollbackCopy', 'Passed'],
      ['MaintenanceWindow', 'Skipped'],
    ]);
    expect(cond(d, 'PreflightPassed')).to.include({ status: 'True', reason: 'PreflightPassed' });
  });

  describe('RollbackCopy', () => {
    it('saves the current key to the backup Secret in a pass of its own, and starts only once the copy holds it', () => {
      const saving = decide(requested());
      expect(saving.status.phase).to.equal('Idle');
      expect(item(saving, 'RollbackCopy')).to.include({ result: 'Pending' });
      expect(item(saving, 'RollbackCopy')?.message).to.contain('saving the current key aaaaaaaaaaaa');
      expect(saving.actions).to.deep.equal([
        { type: 'SaveOriginal', fingerprint: 'aaaaaaaaaaaa', keyCreatedAt: '2026-01-01T00:00:00Z' },
      ]);
      expect(saving.requeueAfterMs).to.equal(0);
      expect(saving.status.handledRequests, 'the request waits for the copy').to.equal(undefined);

      const started = decide(requested(saving.status, { backup: aRollbackCopy() }));
      expect(started.status.phase).to.equal('DualKey');
      expect(item(started, 'RollbackCopy')).to.include({ result: 'Passed' });
      expect(item(started, 'RollbackCopy')?.message).to.contain('holds the current key aaaaaaaaaaaa');
    });

    it("replaces a copy of another key (an earlier rotation's original) before starting", () => {
      const d = decide(
        requested(undefined, { backup: aRollbackCopy({ originalFingerprint: 'bbbbbbbbbbbb' }) }),
      );
      expect(d.status.phase).to.equal('Idle');
      expect(item(d, 'RollbackCopy')?.message).to.contain('which holds key bbbbbbbbbbbb');
      expect(d.actions.map((a) => a.type)).to.deep.equal(['SaveOriginal']);
    });

    it('fails when the backup Secret does not hold the current key after the operator saved it, and saves it again at each retry', () => {
      const saving = decide(requested());
      const lost = decide(requested(saving.status, { now: T0 + SECOND }));
      expect(lost.status.phase).to.equal('Idle');
      expect(item(lost, 'RollbackCopy')).to.include({ result: 'Failed' });
      expect(item(lost, 'RollbackCopy')?.message).to.contain('is missing, not the current key aaaaaaaaaaaa');
      expect(cond(lost, 'Stalled')).to.include({ status: 'True', reason: 'PreflightFailed' });
      expect(lost.actions.map((a) => a.type)).to.deep.equal(['SaveOriginal']);
      expect(lost.requeueAfterMs).to.be.greaterThan(0);

      const still = decide(
        requested(lost.status, { backup: aRollbackCopy({ originalFingerprint: 'cccccccccccc' }) }),
      );
      expect(item(still, 'RollbackCopy')).to.include({ result: 'Failed' });
      expect(item(still, 'RollbackCopy')?.message).to.contain('holds key cccccccccccc');

      const held = decide(requested(still.status, { backup: aRollbackCopy() }));
      expect(held.status.phase).to.equal('DualKey');
      expect(held.events.map((e) => e.reason)).to.include.members(['PreflightPassed', 'RotationStarted']);
    });

    it('does not replace the copy while another item fails', () => {
      const kept = aRollbackCopy({ originalFingerprint: 'bbbbbbbbbbbb' });
      const d = decide(
        requested(undefined, { backup: kept, targets: [aTarget({ found: false, pods: undefined })] }),
      );
      expect(d.actions).to.deep.equal([]);
      expect(item(d, 'RollbackCopy')).to.include({ result: 'Pending' });
      expect(item(d, 'RollbackCopy')?.message).to.contain('once the other items pass');
      // Fixed: the copy is saved now, not failed for a save that never happened.
      const fixed = decide(requested(d.status, { backup: kept }));
      expect(item(fixed, 'RollbackCopy')).to.include({ result: 'Pending' });
      expect(fixed.actions.map((a) => a.type)).to.deep.equal(['SaveOriginal']);
      expect(fixed.events.map((e) => e.message)).to.deep.equal([
        'Pre-rotation checklist passed: the requested rotation starts once RollbackCopy is done',
      ]);
      const started = decide(requested(fixed.status, { backup: aRollbackCopy() }));
      expect(started.status.phase).to.equal('DualKey');
      expect(
        started.events.map((e) => e.reason),
        'said once',
      ).to.not.include('PreflightPassed');
    });
  });

  const cases: [string, Partial<DecideInput>, string, string][] = [
    [
      'a missing target',
      { targets: [aTarget({ found: false, pods: undefined })] },
      'Targets',
      'Deployment api: not found',
    ],
    [
      'a target not fully available',
      { targets: [aTarget({ rollout: 'Progressing', message: '1 of 3 replicas available' })] },
      'Targets',
      'Deployment api: 1 of 3 replicas available',
    ],
    [
      'a malformed current key',
      {
        secret: aSecret({
          keyShapes: { JWT_SECRET: keyShape('a-key-with-a-newline\n') },
        }),
      },
      'CurrentKey',
      'whitespace or a newline',
    ],
  ];
  for (const [what, input, name, text] of cases) {
    it(`blocks on ${what}: Idle, Stalled PreflightFailed naming ${name}, the request kept, a retry later`, () => {
      const d = decide(requested(undefined, input));
      expect(d.actions).to.deep.equal([]);
      expect(d.status.phase).to.equal('Idle');
      expect(d.status.handledRequests).to.equal(undefined);
      expect(item(d, name)).to.include({ result: 'Failed' });
      expect(item(d, name)?.message).to.contain(text);
      expect(cond(d, 'Stalled')).to.include({ status: 'True', reason: 'PreflightFailed' });
      expect(cond(d, 'Stalled')?.message).to.contain(name);
      expect(cond(d, 'PreflightPassed')).to.include({ status: 'False', reason: 'PreflightFailed' });
      expect(d.events.filter((e) => e.reason === 'PreflightFailed')).to.have.length(1);
      expect(d.requeueAfterMs).to.be.greaterThan(0).and.at.most(60_000);

      // The next pass, still failing: no new Event, nothing to write.
      const again = decide(requested(d.status, input));
      expect(again.events).to.deep.equal([]);
      expect(again.status).to.deep.equal(d.status);

      // Fixed: an Event says the checklist passed, and the rotation starts.
      const fixed = decide(requested(d.status, { backup: aRollbackCopy() }));
      expect(fixed.status.phase).to.equal('DualKey');
      expect(cond(fixed, 'Stalled')?.status).to.equal('False');
      expect(fixed.events.map((e) => e.reason)).to.include.members(['PreflightPassed', 'RotationStarted']);
    });
  }

  it('names a new failing item in an Event when the set of failed items changes', () => {
    const first = decide(requested(undefined, { targets: [aTarget({ found: false, pods: undefined })] }));
    const second = decide(
      requested(first.status, {
        targets: [aTarget({ found: false, pods: undefined })],
        secret: aSecret({ keyShapes: { JWT_SECRET: keyShape(' padded') } }),
      }),
    );
    expect(second.events.map((e) => [e.reason, e.type])).to.deep.equal([['PreflightFailed', 'Warning']]);
    expect(second.events[0]?.message).to.contain('CurrentKey').and.contain('Targets');
  });

  it('fails TTLs when tokenTTL is longer than refreshTokenTTL', () => {
    const d = decide(
      anInput({
        secret: aSecret({ expiration: '48h', refreshExpiration: '24h' }),
        resource: aJwtRotation({
          spec: { tokenTTL: '48h', refreshTokenTTL: '24h' },
          annotations: { 'jwtrotation.io/rotate': 'r1' },
          status: { observedGeneration: 1 },
        }),
      }),
    );
    expect(item(d, 'TokenTTLs')?.result).to.equal('Failed');
    expect(d.status.phase).to.equal('Idle');
  });

  describe('with a metrics source', () => {
    const prometheus = { url: 'http://prometheus:9090', selector: 'job="api"' };
    const input = (status: JwtRotationStatus | undefined, gate: DecideInput['gate']) =>
      anInput({
        gate,
        resource: aJwtRotation({
          spec: { monitoring: { prometheus } },
          annotations: { 'jwtrotation.io/rotate': 'r1' },
          status: status ?? { observedGeneration: 1, phase: 'Idle' },
        }),
      });
    const readings = (samples: number) => ({
      ok: true as const,
      readings: {
        newKeyShare: 0,
        authSuccessRate: 1,
        validationLatencyP99Seconds: 0.01,
        errorRate: 0,
        activeSessions: 1,
        samples,
      },
    });

    it('asks for a reading first (Pending), then blocks when the queries return no data, and starts when they do', () => {
      const pending = decide(input(undefined, undefined));
      expect(item(pending, 'Metrics')?.result).to.equal('Pending');
      expect(pending.status.phase).to.equal('Idle');
      expect(pending.requeueAfterMs).to.equal(0);
      expect(cond(pending, 'PreflightPassed')).to.include({ status: 'Unknown', reason: 'PreflightRunning' });
      const empty = decide(input(pending.status, readings(0)));
      expect(item(empty, 'Metrics')?.result).to.equal('Failed');
      expect(item(empty, 'Metrics')?.message).to.contain('no data for the selector job="api"');
      const down = decide(
        input(pending.status, { ok: false, reason: 'PrometheusUnreachable', message: 'refused' }),
      );
      expect(item(down, 'Metrics')?.message).to.contain('PrometheusUnreachable');
      const ok = decide({ ...input(empty.status, readings(50)), backup: aRollbackCopy() });
      expect(ok.status.phase).to.equal('DualKey');
    });
  });

  it('is skipped by an emergency rotation, which says so in status and an Event', () => {
    const d = decide(
      anInput({
        targets: [aTarget({ found: false, pods: undefined })],
        resource: aJwtRotation({
          annotations: { 'jwtrotation.io/emergency-rotate': 'e1' },
          status: { observedGeneration: 1 },
        }),
      }),
    );
    expect(d.status.trigger).to.equal('Emergency');
    expect(d.status.preflight?.every((i) => i.result === 'Skipped')).to.equal(true);
    expect(d.events.map((e) => e.reason)).to.include('PreflightSkipped');
    expect(cond(d, 'PreflightPassed')).to.include({ status: 'Unknown', reason: 'PreflightSkipped' });
  });

  it('also runs before a scheduled rotation', () => {
    const d = decide(
      anInput({
        now: Date.parse('2026-01-01T00:00:00Z') + 2160 * HOUR,
        targets: [aTarget({ found: false, pods: undefined })],
      }),
    );
    expect(d.status.phase).to.equal('Idle');
    expect(item(d, 'Targets')?.result).to.equal('Failed');
  });

  describe('keyShape (in the shell)', () => {
    it('tells length and encoding, and what consumers may read differently', () => {
      expect(keyShape(Buffer.alloc(64, 7).toString('base64'))).to.deep.equal({
        bytes: 64,
        encoding: 'base64',
        problem: undefined,
      });
      expect(keyShape('abcdef0123')).to.include({ bytes: 5, encoding: 'hex' });
      expect(keyShape('original-key-value')).to.include({ encoding: 'base64url' });
      expect(keyShape('key\n').problem).to.contain('newline');
      expect(keyShape('k\u0000y').problem).to.contain('control characters');
      expect(keyShape('plain text key!').problem).to.equal(undefined);
    });

    it('asks node:crypto whether an asymmetric key is a PKCS#8 private key of the algorithm', () => {
      const es256 = { algorithm: 'ES256', rsaKeySize: 2048 } as const;
      const pkcs8 = generateKey(0, es256);
      expect(keyShape(pkcs8, es256)).to.include({ encoding: 'pem', problem: undefined });
      // The right label around a body that is no key: a pattern of the label alone accepts it.
      const forged = `-----BEGIN PRIVATE KEY-----\n${Buffer.alloc(48, 1).toString('base64')}\n-----END PRIVATE KEY-----\n`;
      expect(keyShape(forged, es256).problem).to.equal('it is not a PEM private key');
      expect(keyShape(generateKey(0, { algorithm: 'EdDSA', rsaKeySize: 2048 }), es256).problem).to.equal(
        'it is a ed25519 key, which does not fit ES256',
      );
      const sec1 = createPrivateKey(pkcs8).export({ type: 'sec1', format: 'pem' }).toString();
      expect(keyShape(sec1, es256).problem).to.contain('not PKCS#8');
    });
  });
});
