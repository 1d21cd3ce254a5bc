import { expect } from 'chai';
import type { JwtRotation } from '../../src/api/types.ts';
import { selects } from '../../src/adapters/kubernetes/cluster-cache.ts';
import { PROGRESS_BURST, progressAllowance, TokenBucket } from '../../src/adapters/kubernetes/rate-limit.ts';
import type { WorkloadLike } from '../../src/rotation/rollout.ts';
import { WakeIndex } from '../../src/reconcile/wake-index.ts';

const rotation = (namespace: string, name: string, phase = 'Idle'): JwtRotation =>
  ({
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: { namespace, name },
    spec: { secretName: `${name}-jwt`, targets: [{ kind: 'Deployment', name }] },
    status: { phase },
  }) as unknown as JwtRotation;

const deployment = (
  name: string,
  secret: string,
): WorkloadLike & { metadata: { labels?: Record<string, string> } } => ({
  metadata: { name },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { spec: { containers: [{ envFrom: [{ secretRef: { name: secret } }] }] } },
  },
});

describe('the wake index (object → JwtRotation keys)', () => {
  const workloads = new Map<string, WorkloadLike>([['ns/api', deployment('api', 'api-jwt')]]);
  const index = (): WakeIndex =>
    new WakeIndex(selects, (_kind, namespace, name) => workloads.get(`${namespace}/${name}`));

  it('maps the managed Secret, the backup and a listed target to their JwtRotation', () => {
    const i = index();
    i.set(rotation('ns', 'api'));
    i.set(rotation('ns', 'web'));
    expect(i.keysFor('Secret', 'ns', 'api-jwt', {})).to.deep.equal(['ns/api']);
    expect(i.keysFor('Secret', 'ns', 'api-jwtrotation-backup', {})).to.deep.equal(['ns/api']);
    expect(i.keysFor('Deployment', 'ns', 'web', {})).to.deep.equal(['ns/web']);
    expect(i.keysFor('Secret', 'other', 'api-jwt', {})).to.deep.equal([]);
    expect(i.keysFor('Secret', 'ns', 'unrelated', {})).to.deep.equal([]);
  });

  it('maps an unlisted workload that reads the Secret to the JwtRotation', () => {
    const i = index();
    i.set(rotation('ns', 'api'));
    expect(i.keysFor('Deployment', 'ns', 'worker', deployment('worker', 'api-jwt'))).to.deep.equal([
      'ns/api',
    ]);
    expect(i.keysFor('Deployment', 'ns', 'worker', deployment('worker', 'other'))).to.deep.equal([]);
  });

  it('maps a pod to a rotating JwtRotation whose target selects it, and not to an idle one', () => {
    const i = index();
    i.set(rotation('ns', 'api'));
    const pod = { metadata: { labels: { app: 'api' } } };
    expect(i.keysFor('Pod', 'ns', 'api-1', pod)).to.deep.equal([]);
    i.set(rotation('ns', 'api', 'DualKey'));
    expect(i.keysFor('Pod', 'ns', 'api-1', pod)).to.deep.equal(['ns/api']);
    expect(i.keysFor('Pod', 'ns', 'web-1', { metadata: { labels: { app: 'web' } } })).to.deep.equal([]);
  });

  it('checks a pod against the JwtRotations filed under its labels only, not every one in the namespace', () => {
    const many = new Map<string, WorkloadLike>();
    let checks = 0;
    const counting = new WakeIndex(
      (selector, labels) => {
        checks += 1;
        return selects(selector, labels);
      },
      (_kind, namespace, name) => many.get(`${namespace}/${name}`),
    );
    for (let n = 0; n < 1000; n += 1) {
      const d = deployment(`app-${String(n)}`, `app-${String(n)}-jwt`);
      // Every selector shares tier=web: the index passes over the pair many selectors share.
      d.spec = { ...d.spec, selector: { matchLabels: { tier: 'web', app: `app-${String(n)}` } } };
      many.set(`ns/app-${String(n)}`, d);
      counting.set(rotation('ns', `app-${String(n)}`, 'DualKey'));
    }
    checks = 0;
    const keys = counting.keysFor('Pod', 'ns', 'app-500-x', {
      metadata: { labels: { tier: 'web', app: 'app-500', 'pod-template-hash': 'h' } },
    });
    expect(keys).to.deep.equal(['ns/app-500']);
    expect(checks, 'selector checks for one pod event among 1,000 rotating').to.be.at.most(3);
    checks = 0;
    expect(counting.keysFor('Deployment', 'ns', 'reader', deployment('reader', 'app-7-jwt'))).to.deep.equal([
      'ns/app-7',
    ]);
    expect(checks, 'a workload event checks no selector').to.equal(0);
  });

  it('finds the pods of a target first seen after its JwtRotation, replaced, or selecting by expressions', () => {
    const known = new Map<string, WorkloadLike>();
    const i = new WakeIndex(selects, (_kind, namespace, name) => known.get(`${namespace}/${name}`));
    i.set(rotation('ns', 'api', 'DualKey'));
    const pod = (labels: Record<string, string>): { metadata: { labels: Record<string, string> } } => ({
      metadata: { labels },
    });
    expect(i.keysFor('Pod', 'ns', 'api-1', pod({ app: 'api' })), 'target not cached').to.deep.equal([]);
    known.set('ns/api', deployment('api', 'api-jwt'));
    expect(i.keysFor('Pod', 'ns', 'api-1', pod({ app: 'api' })), 'target cached since').to.deep.equal([
      'ns/api',
    ]);
    // Replaced by a Deployment of the same name that selects other pods: its event files the key anew.
    const replaced = deployment('api', 'api-jwt');
    replaced.spec = { ...replaced.spec, selector: { matchLabels: { app: 'api-v2' } } };
    known.set('ns/api', replaced);
    expect(i.keysFor('Deployment', 'ns', 'api', replaced)).to.deep.equal(['ns/api']);
    expect(i.keysFor('Pod', 'ns', 'api-1', pod({ app: 'api' })), 'old selector').to.deep.equal([]);
    expect(i.keysFor('Pod', 'ns', 'api-2', pod({ app: 'api-v2' })), 'new selector').to.deep.equal(['ns/api']);
    const byExpression = deployment('api', 'api-jwt');
    byExpression.spec = {
      ...byExpression.spec,
      selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['api', 'api-v3'] }] },
    };
    known.set('ns/api', byExpression);
    expect(i.keysFor('Deployment', 'ns', 'api', byExpression)).to.deep.equal(['ns/api']);
    expect(i.keysFor('Pod', 'ns', 'api-3', pod({ app: 'api-v3' })), 'matchExpressions').to.deep.equal([
      'ns/api',
    ]);
    expect(i.keysFor('Pod', 'other', 'api-3', pod({ app: 'api-v3' })), 'other namespace').to.deep.equal([]);
    i.set(rotation('ns', 'api', 'Idle'));
    expect(i.keysFor('Pod', 'ns', 'api-3', pod({ app: 'api-v3' })), 'idle again').to.deep.equal([]);
  });

  it('forgets a removed JwtRotation and an old spec', () => {
    const i = index();
    i.set(rotation('ns', 'api'));
    const moved = rotation('ns', 'api');
    moved.spec.secretName = 'moved';
    i.set(moved);
    expect(i.keysFor('Secret', 'ns', 'api-jwt', {})).to.deep.equal([]);
    expect(i.keysFor('Secret', 'ns', 'moved', {})).to.deep.equal(['ns/api']);
    i.remove('ns/api');
    expect(i.keysFor('Secret', 'ns', 'moved', {})).to.deep.equal([]);
    expect(i.size).to.equal(0);
  });

  it("tells a user's change (spec or annotations) from a change of status alone", () => {
    const i = index();
    const at = (generation: number, annotations: Record<string, string>, phase = 'Idle'): JwtRotation => {
      const r = rotation('ns', 'api', phase);
      r.metadata.generation = generation;
      r.metadata.annotations = annotations;
      return r;
    };
    expect(i.set(at(1, {})), 'first sight').to.equal(false);
    expect(i.set(at(1, {}, 'DualKey')), 'status only').to.equal(false);
    expect(i.set(at(1, { 'jwtrotation.io/rotate': 'now' }, 'DualKey')), 'a request').to.equal(true);
    expect(i.set(at(1, { 'jwtrotation.io/rotate': 'now' }, 'Monitoring')), 'status only').to.equal(false);
    expect(i.set(at(2, { 'jwtrotation.io/rotate': 'now' }, 'Monitoring')), 'a new spec').to.equal(true);
    const reordered = at(2, { b: '2', 'jwtrotation.io/rotate': 'now' });
    expect(i.set(reordered), 'an annotation added').to.equal(true);
    expect(i.set(at(2, { 'jwtrotation.io/rotate': 'now', b: '2' })), 'the same annotations').to.equal(false);
    i.remove('ns/api');
    expect(i.set(at(3, {})), 'first sight again').to.equal(false);
  });
});

describe('label selector matching', () => {
  it('matches matchLabels and every matchExpressions operator as the API server does', () => {
    const labels = { app: 'api', tier: 'web' };
    expect(selects({ matchLabels: { app: 'api' } }, labels)).to.equal(true);
    expect(selects({ matchLabels: { app: 'web' } }, labels)).to.equal(false);
    expect(
      selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'x'] }] }, labels),
    ).to.equal(true);
    expect(
      selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels),
    ).to.equal(false);
    expect(
      selects({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels),
    ).to.equal(true);
    expect(selects({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).to.equal(true);
    expect(selects({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels)).to.equal(false);
    expect(selects({}, labels)).to.equal(false);
    expect(selects(undefined, labels)).to.equal(false);
  });
});

describe('the token bucket (client-side rate limit)', () => {
  it('lets a burst through at once, then paces requests at qps', async () => {
    const bucket = new TokenBucket(100, 5);
    const started = performance.now();
    await Promise.all(Array.from({ length: 5 }, () => bucket.take()));
    expect(bucket.throttled).to.equal(0);
    await Promise.all(Array.from({ length: 5 }, () => bucket.take()));
    expect(bucket.throttled).to.equal(5);
    // Five more tokens at 100 per second take about 50 ms; only a lower bound is checked.
    expect(performance.now() - started).to.be.greaterThan(30);
  });

  it('says whether a request would go out at once: not while the bucket is empty or someone waits', async () => {
    const bucket = new TokenBucket(10, 2);
    expect(bucket.hasToken()).to.equal(true);
    await bucket.take();
    await bucket.take();
    expect(bucket.hasToken(), 'bucket empty').to.equal(false);
    const waiting = bucket.take();
    expect(bucket.hasToken(), 'a request waits').to.equal(false);
    await waiting;
    await new Promise((resolve) => setTimeout(resolve, 150)); // a token refills at 10/s
    expect(bucket.hasToken()).to.equal(true);
    expect(new TokenBucket(0, 1).hasToken(), 'no limit').to.equal(true);
  });

  it('is full while nothing has used it, and not once a request took a token', () => {
    const bucket = new TokenBucket(1, 3);
    expect(bucket.isFull()).to.equal(true);
    expect(bucket.tryTake()).to.equal(true);
    expect(bucket.isFull(), 'one below the burst still counts as full').to.equal(true);
    expect(bucket.tryTake()).to.equal(true);
    expect(bucket.isFull()).to.equal(false);
    expect(new TokenBucket(0, 1).isFull(), 'no limit').to.equal(true);
  });

  it('tryTake takes a token only when one is there, and never waits', () => {
    const bucket = new TokenBucket(1, 2);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).to.deep.equal([true, true, false]);
    expect(bucket.throttled).to.equal(0);
    const open = new TokenBucket(0, 1);
    expect([open.tryTake(), open.tryTake()]).to.deep.equal([true, true]);
  });

  it("allows progress writes only while the passes' bucket is full, and a rotating one's no more than the progress budget", () => {
    const passes = new TokenBucket(20, 30);
    // 20 × PROGRESS_SHARE_OF_QPS = 1 per second: PROGRESS_BURST at once, then none for the next 100 ms.
    const allowed = progressAllowance(passes, 20);
    const answers = Array.from({ length: PROGRESS_BURST + 3 }, () => allowed(true));
    expect(answers.filter(Boolean)).to.have.length(PROGRESS_BURST);
    expect(answers.slice(PROGRESS_BURST)).to.deep.equal([false, false, false]);
    // An idle JwtRotation's progress is not held to the budget.
    expect(Array.from({ length: 50 }, () => allowed(false)).every(Boolean), 'idle').to.equal(true);
    // A fresh budget, but the passes have used their bucket: not allowed, idle or rotating.
    const again = progressAllowance(passes, 20);
    expect(passes.tryTake() && passes.tryTake()).to.equal(true);
    expect(passes.isFull()).to.equal(false);
    expect([again(true), again(false)]).to.deep.equal([false, false]);
    // No limit: always.
    const open = progressAllowance(new TokenBucket(0, 1), 0);
    expect(Array.from({ length: 50 }, () => open(true)).every(Boolean)).to.equal(true);
  });

  it('does not limit with qps 0', async () => {
    const bucket = new TokenBucket(0, 1);
    await Promise.all(Array.from({ length: 50 }, () => bucket.take()));
    expect(bucket.throttled).to.equal(0);
  });
});
