/**
 * What the watch caches hold per JwtRotation, whole and trimmed (issue 27, "Memory"): the objects
 * one JwtRotation brings into the operator's informers (the JwtRotation, its Secret and backup, a
 * one-replica Deployment and its pod), shaped as the API server sends them (managedFields, the
 * last-applied annotation, a pod's full status), kept N times in maps as an informer keeps them, and
 * the V8 heap measured after a full garbage collection.
 *
 *   node --expose-gc --import tsx bench/cache-memory.bench.ts        # BENCH_N (default 5000)
 *
 * Prints bytes per object and per JwtRotation, whole against trimmed (src/adapters/kubernetes/trim.ts
 * and cluster-cache.ts trimPod). It asserts nothing. The scale bench (scale.bench.ts) measures the
 * whole process's resident size on a real control plane; this isolates the caches.
 */
import { trimPod } from '../src/adapters/kubernetes/cluster-cache.ts';
import type { WatchedObject } from '../src/adapters/kubernetes/informers.ts';
import { trimJwtRotation, trimWorkload } from '../src/adapters/kubernetes/trim.ts';

const N = Number(process.env.BENCH_N ?? '5000');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const time = '2026-12-07T08:00:00Z';
const managed = (manager: string, fields: Record<string, unknown>) => ({
  manager,
  operation: 'Update',
  apiVersion: 'apps/v1',
  time,
  fieldsType: 'FieldsV1',
  fieldsV1: fields,
});

/** A Deployment as a GitOps tool applies it and kube-controller-manager reports it. */
function deployment(i: number): WatchedObject {
  const name = `api-${i}`;
  const template = {
    metadata: {
      labels: { app: name, 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'jwtrotation.io/secret-revision': `b1946ac92492-d2e7a1c9b0f3-${i}` },
    },
    spec: {
      containers: [
        {
          name: 'api',
          image: 'registry.example.com/shop/api:1.42.0',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: `${name}-jwt`, key: 'JWT_SECRET' } } },
          ],
          envFrom: [{ secretRef: { name: `${name}-jwt` } }, { configMapRef: { name: 'shop-config' } }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      schedulerName: 'default-scheduler',
    },
  };
  const spec = {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: 600,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: `team-${i % 1000}`,
      uid: `6f1c2d3e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(100_000 + i),
      generation: 4,
      creationTimestamp: time,
      labels: { app: name },
      annotations: {
        'deployment.kubernetes.io/revision': '4',
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec }),
      },
      managedFields: [
        managed('argocd-controller', { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': {} } } } }),
        managed('jwt-rotation-operator', {
          'f:spec': {
            'f:template': { 'f:metadata': { 'f:annotations': { 'f:jwtrotation.io/secret-revision': {} } } },
          },
        }),
        managed('kube-controller-manager', {
          'f:status': { 'f:conditions': {}, 'f:replicas': {}, 'f:availableReplicas': {} },
        }),
      ],
    },
    spec,
    status: {
      observedGeneration: 4,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          lastUpdateTime: time,
          lastTransitionTime: time,
          reason: 'MinimumReplicasAvailable',
          message: 'Deployment has minimum availability.',
        },
        {
          type: 'Progressing',
          status: 'True',
          lastUpdateTime: time,
          lastTransitionTime: time,
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "${name}-7d9f8b6c5d" has successfully progressed.`,
        },
      ],
    },
  } as WatchedObject;
}

/** Its pod, as the kubelet reports it. */
function pod(i: number): WatchedObject {
  const d = deployment(i) as { spec: { template: { spec: unknown } } };
  const name = `api-${i}-7d9f8b6c5d-x${i}`;
  const condition = (type: string) => ({
    type,
    status: 'True',
    lastProbeTime: null,
    lastTransitionTime: time,
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `api-${i}-7d9f8b6c5d-`,
      namespace: `team-${i % 1000}`,
      uid: `7a1c2d3e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(200_000 + i),
      creationTimestamp: time,
      labels: { app: `api-${i}`, 'pod-template-hash': '7d9f8b6c5d' },
      annotations: { 'jwtrotation.io/secret-revision': `b1946ac92492-d2e7a1c9b0f3-${i}` },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `api-${i}-7d9f8b6c5d`,
          uid: 'u',
          controller: true,
        },
      ],
      managedFields: [
        managed('kube-controller-manager', {
          'f:metadata': { 'f:labels': {} },
          'f:spec': { 'f:containers': {} },
        }),
        managed('kubelet', { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:podIP': {} } }),
      ],
    },
    spec: { ...(d.spec.template.spec as object), nodeName: 'node-1', serviceAccountName: 'default' },
    status: {
      phase: 'Running',
      conditions: [
        'PodReadyToStartContainers',
        'Initialized',
        'Ready',
        'ContainersReady',
        'PodScheduled',
      ].map(condition),
      hostIP: '10.0.0.1',
      podIP: `10.1.${i % 250}.${i % 200}`,
      podIPs: [{ ip: `10.1.${i % 250}.${i % 200}` }],
      startTime: time,
      containerStatuses: [
        {
          name: 'api',
          state: { running: { startedAt: time } },
          ready: true,
          restartCount: 0,
          image: 'registry.example.com/shop/api:1.42.0',
          imageID: `registry.example.com/shop/api@sha256:${'ab'.repeat(32)}`,
          containerID: `containerd://${'cd'.repeat(32)}`,
          started: true,
        },
      ],
      qosClass: 'Burstable',
    },
  } as WatchedObject;
}

/** A JwtRotation after a few rotations, with the status the operator writes. */
function jwtRotation(i: number): WatchedObject {
  const record = (n: number) => ({
    operation: 'Rotate',
    trigger: 'Scheduled',
    outcome: 'Completed',
    startedAt: time,
    finishedAt: time,
    previousKeyFingerprint: `aaaaaaaaaa${String(n).padStart(2, '0')}`,
    newKeyFingerprint: `bbbbbbbbbb${String(n).padStart(2, '0')}`,
    message: 'Every target runs the new key alone',
  });
  return {
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: {
      name: `api-${i}`,
      namespace: `team-${i % 1000}`,
      uid: `8a1c2d3e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(300_000 + i),
      generation: 1,
      creationTimestamp: time,
      annotations: { 'jwtrotation.io/rotate': 'r-1' },
      managedFields: [
        managed('argocd-controller', { 'f:spec': { 'f:secretName': {}, 'f:targets': {}, 'f:schedule': {} } }),
        managed('kubectl-annotate', { 'f:metadata': { 'f:annotations': { 'f:jwtrotation.io/rotate': {} } } }),
        {
          ...managed('jwt-rotation-operator', { 'f:status': { 'f:conditions': {}, 'f:history': {} } }),
          subresource: 'status',
        },
      ],
    },
    spec: { secretName: `api-${i}-jwt`, targets: [{ kind: 'Deployment', name: `api-${i}` }] },
    status: {
      phase: 'Idle',
      observedGeneration: 1,
      currentKeyFingerprint: 'bbbbbbbbbb03',
      nextRotationAt: time,
      lastRotation: record(3),
      history: [record(1), record(2), record(3)],
      handledRequests: { rotate: 'r-1' },
      targets: [
        {
          kind: 'Deployment',
          name: `api-${i}`,
          ready: true,
          pods: 1,
          message: '1 of 1 replicas updated and available',
        },
      ],
      conditions: ['Ready', 'Reconciling', 'Stalled'].map((type) => ({
        type,
        status: type === 'Ready' ? 'True' : 'False',
        observedGeneration: 1,
        lastTransitionTime: time,
        reason: 'Idle',
        message: 'Key bbbbbbbbbb03 in use; next rotation at 2027-03-07T08:00:00Z',
      })),
    },
  } as WatchedObject;
}

/** The workload Secret and its backup, as the operator writes them (Secrets are not trimmed). */
function secret(i: number, suffix: string): WatchedObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: `api-${i}${suffix}`,
      namespace: `team-${i % 1000}`,
      uid: `9a1c2d3e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(400_000 + i),
      labels: { 'app.kubernetes.io/managed-by': 'jwt-rotation-operator', 'jwtrotation.io/managed': 'true' },
      annotations: {
        'jwtrotation.io/managed-by': `api-${i}`,
        'jwtrotation.io/operation': 'Complete',
        'jwtrotation.io/operation-id': time,
        'jwtrotation.io/key-created-at': time,
      },
      managedFields: [
        managed('jwt-rotation-operator', { 'f:data': {}, 'f:metadata': { 'f:annotations': {} } }),
      ],
    },
    data: {
      JWT_SECRET: Buffer.from('k'.repeat(64)).toString('base64'),
      JWT_EXPIRATION: Buffer.from('24h').toString('base64'),
      JWT_REFRESH_EXPIRATION: Buffer.from('168h').toString('base64'),
    },
  } as WatchedObject;
}

/** The heap an N-object map of these objects holds, after a full collection, in bytes per object. */
function bytesPerObject(
  make: (i: number) => WatchedObject,
  trim: ((o: WatchedObject) => void) | undefined,
): number {
  gc?.();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const cache = new Map<string, WatchedObject>();
  for (let i = 0; i < N; i++) {
    // Parsed from JSON, as the informer gets it, so no structure is shared between objects.
    const object = JSON.parse(JSON.stringify(make(i))) as WatchedObject;
    trim?.(object);
    cache.set(String(i), object);
  }
  gc?.();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (cache.size !== N) throw new Error('lost objects');
  return (after - before) / N;
}

const kinds: {
  kind: string;
  perRotation: number;
  make: (i: number) => WatchedObject;
  trim?: (o: WatchedObject) => void;
}[] = [
  { kind: 'JwtRotation', perRotation: 1, make: jwtRotation, trim: trimJwtRotation },
  { kind: 'Secret (workload and backup)', perRotation: 2, make: (i) => secret(i, '-jwt') },
  { kind: 'Deployment', perRotation: 1, make: deployment, trim: trimWorkload },
  { kind: 'Pod', perRotation: 1, make: pod, trim: trimPod },
];

const rows: string[] = [];
let whole = 0;
let trimmed = 0;
for (const k of kinds) {
  const w = bytesPerObject(k.make, undefined);
  const t = k.trim === undefined ? w : bytesPerObject(k.make, k.trim);
  whole += w * k.perRotation;
  trimmed += t * k.perRotation;
  rows.push(
    `${k.kind.padEnd(30)} ${String(k.perRotation).padStart(3)}  ${Math.round(w).toLocaleString('en').padStart(8)}  ${Math.round(t).toLocaleString('en').padStart(8)}`,
  );
}
process.stdout.write(
  [
    `N=${N} objects of each kind, Node ${process.version}`,
    '',
    'object                         per  whole B  trimmed B',
    '------------------------------ ---  -------  ---------',
    ...rows,
    '',
    `per JwtRotation (1 JwtRotation, 2 Secrets, 1 Deployment, 1 pod): ${Math.round(whole).toLocaleString('en')} B whole, ${Math.round(trimmed).toLocaleString('en')} B trimmed`,
    `at 10,000 JwtRotations: ${((whole * 10_000) / 2 ** 20).toFixed(0)} MiB whole, ${((trimmed * 10_000) / 2 ** 20).toFixed(0)} MiB trimmed`,
    '',
  ].join('\n'),
);
