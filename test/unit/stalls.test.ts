/**
 * Targets that cannot make progress on their own (issue 27): each gets Stalled with a reason and a
 * message naming the workload and the fix; with spec.rollout.replaceOnDeletePods, the pods of an
 * OnDelete target are evicted one at a time.
 */
import { expect } from 'chai';
import { POD_TEMPLATE_REVISION_ANNOTATION } from '../../src/api/constants.ts';
import type { TargetKind } from '../../src/api/types.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { DecideInput, PodView } from '../../src/rotation/model.ts';
import { viewTarget, type WorkloadLike } from '../../src/rotation/rollout.ts';
import { aJwtRotation, anInput, aSecret } from '../support/builders.ts';

const REV = 'rev-new';

/** A workload whose template carries REV, with this spec and status. */
function workload(spec: NonNullable<WorkloadLike['spec']>, status: NonNullable<WorkloadLike['status']>) {
  return {
    metadata: { name: 'api', generation: 2 },
    spec: {
      replicas: 3,
      ...spec,
      template: { metadata: { annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: REV } } },
    },
    status: { observedGeneration: 2, ...status },
  } satisfies WorkloadLike;
}

const cases: { title: string; kind: TargetKind; w: WorkloadLike; reason: string; fix: RegExp }[] = [
  {
    title: 'a paused Deployment',
    kind: 'Deployment',
    w: workload({ paused: true }, { replicas: 3, updatedReplicas: 0, availableReplicas: 3 }),
    reason: 'TargetPaused',
    fix: /kubectl rollout resume deployment\/api/,
  },
  {
    title: 'a Deployment past its progress deadline',
    kind: 'Deployment',
    w: workload(
      {},
      {
        replicas: 4,
        updatedReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'RS api-2 has timed out',
          },
        ],
      },
    ),
    reason: 'RolloutStalled',
    fix: /kubectl describe deployment\/api/,
  },
  {
    title: 'a StatefulSet with updateStrategy OnDelete',
    kind: 'StatefulSet',
    w: workload(
      { updateStrategy: { type: 'OnDelete' } },
      { replicas: 3, readyReplicas: 3, updatedReplicas: 0, currentRevision: 'a', updateRevision: 'b' },
    ),
    reason: 'TargetUpdateOnDelete',
    fix: /replaceOnDeletePods/,
  },
  {
    title: 'a DaemonSet with updateStrategy OnDelete',
    kind: 'DaemonSet',
    w: workload(
      { updateStrategy: { type: 'OnDelete' } },
      { desiredNumberScheduled: 2, updatedNumberScheduled: 0, numberAvailable: 2 },
    ),
    reason: 'TargetUpdateOnDelete',
    fix: /delete its pods/,
  },
  {
    title: 'a StatefulSet with a partition above zero',
    kind: 'StatefulSet',
    w: workload(
      { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
      { replicas: 3, readyReplicas: 3, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' },
    ),
    reason: 'TargetPartitioned',
    fix: /partition.*0/,
  },
];

/** A dual-key Secret of a rotation in flight (publish roll). */
const dualKey = aSecret({
  fingerprints: {
    JWT_SECRET: 'aaaaaaaaaaaa',
    JWT_SECRET_CURRENT: 'aaaaaaaaaaaa',
    JWT_SECRET_NEW: 'bbbbbbbbbbbb',
  },
  rotationDate: '9999-12-31T23:59:59Z',
  annotations: {
    ...aSecret().annotations,
    'jwtrotation.io/operation': 'Rotate',
    'jwtrotation.io/operation-id': '2026-01-01T00:00:00Z',
  },
});

/** The revision the core wants for the dual-key Secret. */
function currentRevision(kind: TargetKind): string {
  const first = decide(
    anInput({
      secret: dualKey,
      resource: aJwtRotation({ spec: { targets: [{ kind, name: 'api' }] } }),
      targets: [{ kind, name: 'api', found: true, rollout: 'Complete', message: '', referencesSecret: true }],
    }),
  );
  const action = first.actions.find((a) => a.type === 'RollTargets');
  return action?.type === 'RollTargets' && typeof action.revision === 'string' ? action.revision : '';
}

function inputFor(kind: TargetKind, w: WorkloadLike, pods: PodView[], replace = false): DecideInput {
  const rev = currentRevision(kind);
  const annotated = {
    ...w,
    spec: { ...w.spec, template: { metadata: { annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: rev } } } },
  };
  return anInput({
    secret: dualKey,
    resource: aJwtRotation({
      spec: { targets: [{ kind, name: 'api' }], rollout: { replaceOnDeletePods: replace } },
    }),
    targets: [
      {
        ...viewTarget(kind, 'api', annotated, 'api-jwt'),
        pods: pods.map((p) => ({ ...p, revision: p.revision === REV ? rev : p.revision })),
      },
    ],
  });
}

describe('targets that cannot make progress on their own', () => {
  for (const c of cases) {
    it(`stall on ${c.title}, naming the workload and the fix`, () => {
      const view = viewTarget(c.kind, 'api', c.w, 'api-jwt');
      expect(view.rollout).to.equal('Stalled');
      expect(view.stall?.reason).to.equal(c.reason);
      expect(view.stall?.fix).to.match(c.fix);
      const decision = decide(inputFor(c.kind, c.w, []));
      const stalled = decision.status.conditions?.find((x) => x.type === 'Stalled');
      expect(stalled).to.include({ status: 'True', reason: c.reason });
      expect(stalled?.message).to.contain(`${c.kind} api`).and.to.contain('To go on:');
      expect(decision.events.map((e) => e.reason)).to.include(c.reason);
      expect(decision.actions).to.deep.equal([]);
    });
  }

  it('does not stall a paused Deployment whose rollout is done, nor a partitioned StatefulSet that is current', () => {
    const paused = workload({ paused: true }, { replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(viewTarget('Deployment', 'api', paused, 'api-jwt').rollout).to.equal('Complete');
    const partitioned = workload(
      { updateStrategy: { rollingUpdate: { partition: 1 } } },
      { replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentRevision: 'b', updateRevision: 'b' },
    );
    expect(viewTarget('StatefulSet', 'api', partitioned, 'api-jwt').rollout).to.equal('Complete');
    // OnDelete: the controller leaves currentRevision behind; every pod updated and ready is complete.
    const replaced = workload(
      { updateStrategy: { type: 'OnDelete' } },
      { replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentRevision: 'a', updateRevision: 'b' },
    );
    expect(viewTarget('StatefulSet', 'api', replaced, 'api-jwt').rollout).to.equal('Complete');
  });

  describe('with spec.rollout.replaceOnDeletePods', () => {
    const onDelete = cases[2]?.w ?? {};
    const ready = (name: string, revision?: string): PodView => ({ name, revision, ready: true });

    it('evicts the old pod with the highest ordinal, one at a time, and is not stalled', () => {
      const decision = decide(
        inputFor('StatefulSet', onDelete, [ready('api-0'), ready('api-1'), ready('api-2')], true),
      );
      expect(decision.actions).to.deep.equal([
        { type: 'EvictPod', target: { kind: 'StatefulSet', name: 'api' }, pod: 'api-2' },
      ]);
      expect(decision.events.map((e) => e.reason)).to.include('PodEvicted');
      expect(decision.status.conditions?.find((x) => x.type === 'Stalled')).to.include({ status: 'False' });
    });

    it('skips pods already on the new revision', () => {
      const decision = decide(
        inputFor('StatefulSet', onDelete, [ready('api-0'), ready('api-1'), ready('api-2', REV)], true),
      );
      expect(decision.actions).to.deep.include({
        type: 'EvictPod',
        target: { kind: 'StatefulSet', name: 'api' },
        pod: 'api-1',
      });
    });

    it('waits while a pod is missing, not ready or terminating', () => {
      for (const pods of [
        [ready('api-0'), ready('api-1')],
        [ready('api-0'), ready('api-1'), { name: 'api-2', revision: REV, ready: false }],
        [ready('api-0'), ready('api-1'), { ...ready('api-2'), terminating: true }],
      ]) {
        const decision = decide(inputFor('StatefulSet', onDelete, pods, true));
        expect(decision.actions, JSON.stringify(pods)).to.deep.equal([]);
      }
    });

    it('never evicts without the opt-in', () => {
      const decision = decide(
        inputFor('StatefulSet', onDelete, [ready('api-0'), ready('api-1'), ready('api-2')]),
      );
      expect(decision.actions).to.deep.equal([]);
    });
  });
});
