import { expect } from 'chai';
import type { TargetKind } from '../../src/api/types.ts';
import type { TargetView } from '../../src/rotation/model.ts';
import { referencesSecret, viewTarget, type WorkloadLike } from '../../src/rotation/rollout.ts';

const SECRET = 'api-jwt';
const REVISION_ANNOTATION = 'jwtrotation.io/secret-revision';

type Status = NonNullable<WorkloadLike['status']>;
type PodSpec = NonNullable<NonNullable<NonNullable<WorkloadLike['spec']>['template']>['spec']>;

/** A workload whose controller has observed its template (generation 2 = observedGeneration 2). */
function workload(
  status: Status,
  options: {
    replicas?: number;
    generation?: number;
    annotations?: Record<string, string>;
    pod?: PodSpec;
  } = {},
): WorkloadLike {
  return {
    metadata: { generation: options.generation ?? 2 },
    spec: {
      replicas: options.replicas,
      template: { metadata: { annotations: options.annotations }, spec: options.pod },
    },
    status: { observedGeneration: 2, ...status },
  };
}

interface RolloutCase {
  title: string;
  kind: TargetKind;
  workload: WorkloadLike;
  rollout: TargetView['rollout'];
  message: string;
}

const cases: RolloutCase[] = [
  // Deployment
  {
    title: 'a Deployment with fewer updated replicas than desired is Progressing',
    kind: 'Deployment',
    workload: workload({ replicas: 3, updatedReplicas: 1, availableReplicas: 3 }, { replicas: 3 }),
    rollout: 'Progressing',
    message: '1 of 3 replicas updated',
  },
  {
    title: 'a Deployment with old replicas pending termination is Progressing',
    kind: 'Deployment',
    workload: workload({ replicas: 4, updatedReplicas: 3, availableReplicas: 3 }, { replicas: 3 }),
    rollout: 'Progressing',
    message: '1 old replicas pending termination',
  },
  {
    title: 'a Deployment with fewer available than updated replicas is Progressing',
    kind: 'Deployment',
    workload: workload({ replicas: 3, updatedReplicas: 3, availableReplicas: 2 }, { replicas: 3 }),
    rollout: 'Progressing',
    message: '2 of 3 updated replicas available',
  },
  {
    title: 'a Deployment past its progress deadline is Stalled, with the controller message',
    kind: 'Deployment',
    workload: workload(
      {
        replicas: 3,
        updatedReplicas: 1,
        availableReplicas: 2,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "api-5d" has timed out progressing.',
          },
        ],
      },
      { replicas: 3 },
    ),
    rollout: 'Stalled',
    message: 'progress deadline exceeded: ReplicaSet "api-5d" has timed out progressing.',
  },
  {
    title: 'a Deployment whose controller has not observed the new generation is Progressing',
    kind: 'Deployment',
    workload: workload(
      { replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
      { replicas: 3, generation: 3 },
    ),
    rollout: 'Progressing',
    message: 'waiting for the controller to observe the new template',
  },
  {
    title: 'a Deployment with every replica updated and available is Complete',
    kind: 'Deployment',
    workload: workload({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 }, { replicas: 3 }),
    rollout: 'Complete',
    message: '3 of 3 replicas updated and available',
  },
  {
    title: 'a Deployment without spec.replicas counts one desired replica',
    kind: 'Deployment',
    workload: workload({ replicas: 1, updatedReplicas: 0, availableReplicas: 1 }),
    rollout: 'Progressing',
    message: '0 of 1 replicas updated',
  },
  {
    title: 'a Deployment scaled to zero is Complete',
    kind: 'Deployment',
    workload: workload({}, { replicas: 0 }),
    rollout: 'Complete',
    message: '0 of 0 replicas updated and available',
  },
  // StatefulSet
  {
    title: 'a StatefulSet whose current revision is not the update revision is Progressing',
    kind: 'StatefulSet',
    workload: workload(
      { readyReplicas: 3, updatedReplicas: 1, currentRevision: 'db-1', updateRevision: 'db-2' },
      { replicas: 3 },
    ),
    rollout: 'Progressing',
    message: '1 of 3 pods updated',
  },
  {
    title: 'a StatefulSet with fewer ready pods than replicas is Progressing',
    kind: 'StatefulSet',
    workload: workload(
      { readyReplicas: 2, updatedReplicas: 3, currentRevision: 'db-2', updateRevision: 'db-2' },
      { replicas: 3 },
    ),
    rollout: 'Progressing',
    message: '2 of 3 pods ready',
  },
  {
    title: 'a StatefulSet on one revision with every pod ready is Complete',
    kind: 'StatefulSet',
    workload: workload(
      { readyReplicas: 3, updatedReplicas: 3, currentRevision: 'db-2', updateRevision: 'db-2' },
      { replicas: 3 },
    ),
    rollout: 'Complete',
    message: '3 pods updated and ready',
  },
  {
    title: 'a StatefulSet whose controller has not observed the new generation is Progressing',
    kind: 'StatefulSet',
    workload: workload(
      { readyReplicas: 3, currentRevision: 'db-1', updateRevision: 'db-1' },
      { replicas: 3, generation: 5 },
    ),
    rollout: 'Progressing',
    message: 'waiting for the controller to observe the new template',
  },
  // DaemonSet
  {
    title: 'a DaemonSet with fewer updated than desired pods is Progressing',
    kind: 'DaemonSet',
    workload: workload({ desiredNumberScheduled: 4, updatedNumberScheduled: 2, numberAvailable: 4 }),
    rollout: 'Progressing',
    message: '2 of 4 pods updated',
  },
  {
    title: 'a DaemonSet with fewer available than desired pods is Progressing',
    kind: 'DaemonSet',
    workload: workload({ desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 3 }),
    rollout: 'Progressing',
    message: '3 of 4 pods available',
  },
  {
    title: 'a DaemonSet with every pod updated and available is Complete',
    kind: 'DaemonSet',
    workload: workload({ desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 }),
    rollout: 'Complete',
    message: '4 pods updated and available',
  },
  {
    title: 'a DaemonSet whose controller has not observed the new generation is Progressing',
    kind: 'DaemonSet',
    workload: workload(
      { desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 },
      { generation: 3 },
    ),
    rollout: 'Progressing',
    message: 'waiting for the controller to observe the new template',
  },
];

describe('viewTarget', () => {
  describe('rollout rules', () => {
    for (const c of cases) {
      it(c.title, () => {
        const view = viewTarget(c.kind, 'api', c.workload, SECRET);
        expect({ rollout: view.rollout, message: view.message }).to.deep.equal({
          rollout: c.rollout,
          message: c.message,
        });
        expect(view.found).to.equal(true);
        expect(view.kind).to.equal(c.kind);
        expect(view.name).to.equal('api');
      });
    }
  });

  it('reports a workload that was not found as not found, Progressing and not reading the Secret', () => {
    const view = viewTarget('StatefulSet', 'db', undefined, SECRET);
    expect(view).to.deep.equal({
      kind: 'StatefulSet',
      name: 'db',
      found: false,
      rollout: 'Progressing',
      message: 'StatefulSet db not found',
      referencesSecret: false,
    });
  });

  it('reads the revision from the pod-template annotation jwtrotation.io/secret-revision', () => {
    const view = viewTarget(
      'Deployment',
      'api',
      workload(
        { replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
        { annotations: { [REVISION_ANNOTATION]: 'abc123def456/24h/168h', other: 'x' } },
      ),
      SECRET,
    );
    expect(view.revision).to.equal('abc123def456/24h/168h');
  });

  it('has no revision when the pod template has no revision annotation', () => {
    const view = viewTarget(
      'Deployment',
      'api',
      workload({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 }, { annotations: { other: 'x' } }),
      SECRET,
    );
    expect(view.revision).to.equal(undefined);
  });

  it('says whether the pod template reads the Secret', () => {
    const reads = workload({}, { pod: { containers: [{ envFrom: [{ secretRef: { name: SECRET } }] }] } });
    const ignores = workload({}, { pod: { containers: [{ envFrom: [{ secretRef: { name: 'other' } }] }] } });
    expect(viewTarget('Deployment', 'api', reads, SECRET).referencesSecret).to.equal(true);
    expect(viewTarget('Deployment', 'api', ignores, SECRET).referencesSecret).to.equal(false);
  });
});

describe('referencesSecret', () => {
  const reading: [string, PodSpec][] = [
    ['envFrom secretRef', { containers: [{ envFrom: [{ secretRef: { name: SECRET } }] }] }],
    [
      'an env var from secretKeyRef',
      {
        containers: [{ env: [{}, { valueFrom: { secretKeyRef: { name: SECRET } } }] }],
      },
    ],
    ['a secret volume', { containers: [{}], volumes: [{ secret: { secretName: SECRET } }] }],
    [
      'a projected volume',
      {
        containers: [{}],
        volumes: [{ projected: { sources: [{}, { secret: { name: SECRET } }] } }],
      },
    ],
    [
      'an init container',
      {
        containers: [{ env: [] }],
        initContainers: [{ envFrom: [{ secretRef: { name: SECRET } }] }],
      },
    ],
    [
      'the second of several containers',
      {
        containers: [{ envFrom: [{}] }, { env: [{ valueFrom: { secretKeyRef: { name: SECRET } } }] }],
      },
    ],
  ];
  for (const [how, pod] of reading) {
    it(`is true when the pod template reads the Secret through ${how}`, () => {
      expect(referencesSecret(workload({}, { pod }), SECRET)).to.equal(true);
    });
  }

  const notReading: [string, PodSpec | undefined][] = [
    ['there is no pod spec', undefined],
    ['the pod spec is empty', {}],
    [
      'every reference names another Secret',
      {
        containers: [
          {
            envFrom: [{ secretRef: { name: 'other' } }],
            env: [{ valueFrom: { secretKeyRef: { name: 'other' } } }],
          },
        ],
        initContainers: [{ envFrom: [{ secretRef: { name: 'other' } }] }],
        volumes: [
          { secret: { secretName: 'other' } },
          { projected: { sources: [{ secret: { name: 'other' } }] } },
        ],
      },
    ],
    [
      'env vars and volumes come from elsewhere',
      { containers: [{ env: [{}, { valueFrom: {} }], envFrom: [{}] }], volumes: [{}, { projected: {} }] },
    ],
    [
      'a name only shares a prefix with the Secret',
      { containers: [{ envFrom: [{ secretRef: { name: `${SECRET}-backup` } }] }] },
    ],
  ];
  for (const [why, pod] of notReading) {
    it(`is false when ${why}`, () => {
      expect(referencesSecret(workload({}, pod ? { pod } : {}), SECRET)).to.equal(false);
    });
  }

  it('is false for a workload without a spec', () => {
    expect(referencesSecret({}, SECRET)).to.equal(false);
  });
});
