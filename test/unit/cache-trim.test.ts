/**
 * What the watch caches keep of pods and workloads (src/adapters/kubernetes/cluster-cache.ts): what
 * a pass reads survives the trim, the rest is dropped.
 */
import { expect } from 'chai';
import { POD_TEMPLATE_REVISION_ANNOTATION } from '../../src/api/constants.ts';
import {
  dropManagedFields,
  NameIndex,
  selects,
  trimPod,
} from '../../src/adapters/kubernetes/cluster-cache.ts';
import { trimJwtRotation, trimWorkload } from '../../src/adapters/kubernetes/trim.ts';
import type { WatchedObject } from '../../src/adapters/kubernetes/informers.ts';
import { fieldManagerOf } from '../../src/rotation/audit.ts';
import { secretsReferenced, viewTarget, type WorkloadLike } from '../../src/rotation/rollout.ts';

describe('the watch caches keep what a pass reads', () => {
  it('keeps of a pod its name, labels, revision annotation, deletion and phase, and drops its spec, container statuses and managedFields', () => {
    const pod = {
      metadata: {
        name: 'api-7d9f-x',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '42',
        labels: { app: 'api' },
        annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: 'rev-2' },
        deletionTimestamp: '2026-11-30T10:00:00Z',
        managedFields: [{ manager: 'kube-controller-manager', fieldsV1: { f: 'x'.repeat(2000) } }],
        ownerReferences: [{ kind: 'ReplicaSet', name: 'api-7d9f' }],
      },
      spec: { containers: [{ name: 'api', image: 'api:1', env: [{ name: 'A', value: 'b' }] }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'api', ready: true }], podIP: '10.0.0.5' },
    };
    trimPod(pod);
    expect(pod).to.deep.equal({
      metadata: {
        name: 'api-7d9f-x',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '42',
        labels: { app: 'api' },
        annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: 'rev-2' },
        deletionTimestamp: '2026-11-30T10:00:00Z',
      },
      status: { phase: 'Running' },
    });
    expect(selects({ matchLabels: { app: 'api' } }, pod.metadata.labels)).to.equal(true);
  });

  it('drops only managedFields from a workload', () => {
    const deployment = {
      metadata: { name: 'api', resourceVersion: '7', managedFields: [{ manager: 'kubectl' }] },
      spec: { replicas: 2, selector: { matchLabels: { app: 'api' } } },
      status: { replicas: 2, updatedReplicas: 2 },
    };
    dropManagedFields(deployment);
    expect(deployment).to.deep.equal({
      metadata: { name: 'api', resourceVersion: '7' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'api' } } },
      status: { replicas: 2, updatedReplicas: 2 },
    });
  });

  it('indexes names by key and moves a name when its keys change', () => {
    const index = new NameIndex();
    index.set('ns', 'a', ['app=api', 'tier=web']);
    index.set('ns', 'b', ['app=api']);
    index.set('other', 'c', ['app=api']);
    expect([...index.get('ns', 'app=api')].sort()).to.deep.equal(['a', 'b']);
    index.set('ns', 'a', ['app=web']);
    expect([...index.get('ns', 'app=api')]).to.deep.equal(['b']);
    expect([...index.get('ns', 'tier=web')]).to.deep.equal([]);
    index.delete('ns', 'b');
    expect([...index.get('ns', 'app=api')]).to.deep.equal([]);
    expect([...index.get('other', 'app=api')]).to.deep.equal(['c']);
  });

  /** A Deployment as the API server sends it, with what the operator never reads. */
  function aFullDeployment(overrides: Record<string, unknown> = {}): WatchedObject & WorkloadLike {
    return {
      metadata: {
        name: 'api',
        namespace: 'shop',
        uid: 'u',
        resourceVersion: '9',
        generation: 3,
        labels: { app: 'api' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(3000) },
        managedFields: [{ manager: 'kubectl', fieldsV1: { f: 'x'.repeat(2000) } }],
      },
      spec: {
        replicas: 3,
        paused: false,
        selector: { matchLabels: { app: 'api' } },
        strategy: { type: 'RollingUpdate' },
        template: {
          metadata: {
            labels: { app: 'api' },
            annotations: { [POD_TEMPLATE_REVISION_ANNOTATION]: 'rev-1', 'other/annotation': 'x' },
          },
          spec: {
            containers: [
              {
                name: 'api',
                image: 'api:1',
                env: [
                  { name: 'PLAIN', value: 'v' },
                  { name: 'KEY', valueFrom: { secretKeyRef: { name: 'api-jwt', key: 'JWT_SECRET' } } },
                ],
                envFrom: [{ configMapRef: { name: 'cm' } }, { secretRef: { name: 'other' } }],
                resources: { limits: { memory: '1Gi' } },
              },
            ],
            initContainers: [{ name: 'init', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
            volumes: [
              { name: 'v1', secret: { secretName: 'mounted' } },
              {
                name: 'v2',
                projected: { sources: [{ secret: { name: 'projected' } }, { configMap: { name: 'c' } }] },
              },
              { name: 'v3', emptyDir: {} },
            ],
          },
        },
      },
      status: {
        observedGeneration: 3,
        replicas: 3,
        updatedReplicas: 1,
        availableReplicas: 3,
        readyReplicas: 3,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'ok' },
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' },
        ],
      },
      ...overrides,
    } as unknown as WatchedObject & WorkloadLike;
  }

  it('keeps of a workload what a pass decides on, and it decides as the whole one does', () => {
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet'] as const) {
      const whole = aFullDeployment();
      const trimmed = aFullDeployment();
      trimWorkload(trimmed);
      expect(viewTarget(kind, 'api', trimmed, 'api-jwt')).to.deep.equal(
        viewTarget(kind, 'api', whole, 'api-jwt'),
      );
      expect(secretsReferenced(trimmed).sort()).to.deep.equal(secretsReferenced(whole).sort());
      expect(secretsReferenced(trimmed).sort()).to.deep.equal([
        'api-jwt',
        'init-secret',
        'mounted',
        'other',
        'projected',
      ]);
      expect(trimmed.metadata).to.not.have.property('managedFields');
      expect(trimmed.metadata).to.not.have.property('annotations');
      expect(JSON.stringify(trimmed).length).to.be.lessThan(JSON.stringify(whole).length / 5);
    }
    // The stall cases read paused and the update strategy.
    const paused = aFullDeployment();
    (paused.spec as { paused?: boolean }).paused = true;
    (paused.status as { conditions?: unknown[] }).conditions = [];
    trimWorkload(paused);
    expect(viewTarget('Deployment', 'api', paused, 'api-jwt').stall?.reason).to.equal('TargetPaused');
    const onDelete = aFullDeployment();
    (onDelete.spec as Record<string, unknown>).updateStrategy = { type: 'OnDelete' };
    onDelete.status = { observedGeneration: 3, currentRevision: 'a', updateRevision: 'b', readyReplicas: 3 };
    trimWorkload(onDelete);
    expect(viewTarget('StatefulSet', 'api', onDelete, 'api-jwt').stall?.reason).to.equal(
      'TargetUpdateOnDelete',
    );
  });

  it("keeps a pod's Ready condition, for the eviction of OnDelete pods one at a time", () => {
    const pod = {
      metadata: { name: 'p' },
      status: {
        phase: 'Running',
        conditions: [
          { type: 'Initialized', status: 'True' },
          { type: 'Ready', status: 'False', lastTransitionTime: 'x' },
        ],
      },
    };
    trimPod(pod);
    expect(pod.status).to.deep.equal({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] });
  });

  it("keeps of a JwtRotation's managedFields only who set a request annotation, and when", () => {
    const resource = {
      metadata: {
        name: 'api',
        annotations: { 'jwtrotation.io/rotate': 'go', note: 'x' },
        managedFields: [
          {
            manager: 'kubectl-create',
            operation: 'Update',
            time: '2026-01-01T00:00:00Z',
            fieldsType: 'FieldsV1',
            fieldsV1: {
              'f:spec': { 'f:secretName': {} },
              'f:metadata': { 'f:annotations': { 'f:note': {} } },
            },
          },
          {
            manager: 'alice',
            operation: 'Update',
            time: '2026-01-02T00:00:00Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:jwtrotation.io/rotate': {}, 'f:note': {} } } },
          },
          {
            manager: 'op',
            operation: 'Update',
            subresource: 'status',
            fieldsV1: { 'f:status': { x: 'y'.repeat(500) } },
          },
        ],
      },
    };
    const before = fieldManagerOf(resource.metadata, 'jwtrotation.io/rotate');
    trimJwtRotation(resource);
    expect(fieldManagerOf(resource.metadata, 'jwtrotation.io/rotate')).to.deep.equal(before);
    expect(before).to.deep.equal({ manager: 'alice', time: '2026-01-02T00:00:00Z' });
    expect(resource.metadata.managedFields).to.deep.equal([
      {
        manager: 'alice',
        operation: 'Update',
        time: '2026-01-02T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:jwtrotation.io/rotate': {} } } },
      },
    ]);
    const none = { metadata: { name: 'b', managedFields: [{ manager: 'x', fieldsV1: {} }] } };
    trimJwtRotation(none);
    expect(none.metadata).to.not.have.property('managedFields');
  });
});
