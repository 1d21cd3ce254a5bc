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
});
