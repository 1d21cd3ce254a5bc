/**
 * Hostile and invalid JwtRotations on the real API server. The corpus below is refused at admission
 * (the CRD's OpenAPI schema and CEL rules, and the ValidatingAdmissionPolicy of
 * deploy/admission-policy.yaml), each with a message a user understands. What only the operator can
 * tell (whose Secret it is, what a request value holds when the policy is not installed, whether a
 * bearer token Secret exists) is reported in a Stalled condition, with nothing written, and the
 * operator keeps looking without crashing or looping hot.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';

import { API_VERSION, KIND } from '../../src/api/constants.ts';
import type { JwtRotation } from '../../src/api/types.ts';
import { repoRoot, waitFor } from '../support/cluster.ts';
import {
  removeJwtRotations,
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  eventsOf,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const base = { secretName: 'api-jwt', targets: [{ kind: 'Deployment', name: 'api' }] };
const prometheus = { url: 'http://127.0.0.1:9' };
const long = (n: number): string => 'a'.repeat(n);

/** [what, the object's metadata and spec, what the API server's message must say]. */
type Case = [string, { name?: string; annotations?: Record<string, string>; spec: unknown }, string[]];

const CORPUS: Case[] = [
  // Wrong types
  [
    'secretName as a number',
    { spec: { ...base, secretName: 42 } },
    ['spec.secretName: Invalid value: "integer"', 'must be of type string'],
  ],
  [
    'targets as a string',
    { spec: { ...base, targets: 'api' } },
    ['spec.targets: Invalid value: "string"', 'must be of type array'],
  ],
  [
    'secretLength as a string',
    { spec: { ...base, secretLength: '64' } },
    ['spec.secretLength: Invalid value: "string"', 'must be of type integer'],
  ],
  [
    'suspend as a string',
    { spec: { ...base, suspend: 'yes' } },
    ['spec.suspend: Invalid value: "string"', 'must be of type boolean'],
  ],
  [
    'a threshold as a string',
    { spec: { ...base, monitoring: { prometheus: { ...prometheus, thresholds: { maxErrorRate: 'low' } } } } },
    ['spec.monitoring.prometheus.thresholds.maxErrorRate: Invalid value: "string"'],
  ],
  // Out of range
  [
    'secretLength 2048',
    { spec: { ...base, secretLength: 2048 } },
    ['spec.secretLength: Invalid value: 2048', 'less than or equal to 1024'],
  ],
  [
    'secretLength -1',
    { spec: { ...base, secretLength: -1 } },
    ['spec.secretLength: Invalid value: -1', 'greater than or equal to 32'],
  ],
  [
    'a negative error-rate threshold',
    { spec: { ...base, monitoring: { prometheus: { ...prometheus, thresholds: { maxErrorRate: -0.1 } } } } },
    ['maxErrorRate: Invalid value: -0.1', 'greater than or equal to 0'],
  ],
  [
    'a new-key share of 150%',
    { spec: { ...base, monitoring: { prometheus: { ...prometheus, thresholds: { minNewKeyShare: 1.5 } } } } },
    ['minNewKeyShare: Invalid value: 1.5', 'less than or equal to 1'],
  ],
  // Huge strings and lists
  [
    'a 300-character secretName',
    { spec: { ...base, secretName: long(300) } },
    ['spec.secretName: Too long', '253'],
  ],
  [
    'a 300-character target name',
    { spec: { ...base, targets: [{ kind: 'Deployment', name: long(300) }] } },
    ['spec.targets[0].name: Too long', '253'],
  ],
  [
    '65 targets',
    {
      spec: {
        ...base,
        targets: Array.from({ length: 65 }, (_, i) => ({ kind: 'Deployment', name: `api-${i}` })),
      },
    },
    ['spec.targets: Too many: 65', 'at most 64'],
  ],
  [
    'a 10,000-character tokenTTL',
    { spec: { ...base, tokenTTL: `${'1'.repeat(9_999)}h` } },
    ['spec.tokenTTL: Too long', '64'],
  ],
  [
    'a 5,000-character selector',
    { spec: { ...base, monitoring: { prometheus: { ...prometheus, selector: `job="${long(5_000)}"` } } } },
    ['spec.monitoring.prometheus.selector: Too long', '1024'],
  ],
  [
    'a 100 KiB custom query',
    {
      spec: { ...base, monitoring: { prometheus: { ...prometheus, queries: { errorRate: long(100_000) } } } },
    },
    ['spec.monitoring.prometheus.queries.errorRate: Too long', '4096'],
  ],
  // Malformed durations
  [
    'tokenTTL "1day"',
    { spec: { ...base, tokenTTL: '1day' } },
    ['spec.tokenTTL: Invalid value: "1day"', 'should match'],
  ],
  ['tokenTTL "-5m"', { spec: { ...base, tokenTTL: '-5m' } }, ['spec.tokenTTL: Invalid value: "-5m"']],
  [
    'schedule.interval "90" (no unit)',
    { spec: { ...base, schedule: { interval: '90' } } },
    ['spec.schedule.interval: Invalid value: "90"'],
  ],
  [
    'signingDelay "PT10M" (ISO 8601)',
    { spec: { ...base, rollout: { signingDelay: 'PT10M' } } },
    ['spec.rollout.signingDelay: Invalid value: "PT10M"'],
  ],
  [
    'monitoring.minDuration "1h30" (a bare number at the end)',
    { spec: { ...base, monitoring: { minDuration: '1h30' } } },
    ['spec.monitoring.minDuration: Invalid value: "1h30"'],
  ],
  ['a zero tokenTTL', { spec: { ...base, tokenTTL: '0s' } }, ['tokenTTL must be greater than 0']],
  // Unknown fields
  ['an unknown spec field', { spec: { ...base, secretNmae: 'x' } }, ['unknown field "spec.secretNmae"']],
  [
    'a namespace on a target (cross-namespace reach)',
    { spec: { ...base, targets: [{ kind: 'Deployment', name: 'api', namespace: 'kube-system' }] } },
    ['unknown field "spec.targets[0].namespace"'],
  ],
  [
    'an unknown field under rollout',
    { spec: { ...base, rollout: { maxSurge: 3 } } },
    ['unknown field "spec.rollout.maxSurge"'],
  ],
  // Injection into PromQL, paths and logs
  [
    'a selector that closes the brace and appends or vector(1)',
    { spec: { ...base, monitoring: { prometheus: { ...prometheus, selector: 'job="a"} or vector(1)' } } } },
    ['spec.monitoring.prometheus.selector: Invalid value'],
  ],
  [
    'a selector with a newline and a second query',
    { spec: { ...base, monitoring: { prometheus: { ...prometheus, selector: 'job="a"\nup' } } } },
    ['spec.monitoring.prometheus.selector: Invalid value'],
  ],
  [
    'a secretName with a quote and a brace',
    { spec: { ...base, secretName: 'api"} or vector(1)' } },
    ['spec.secretName: Invalid value', 'should match'],
  ],
  [
    'a secretName that climbs a path',
    { spec: { ...base, secretName: '../kube-system/x' } },
    ['spec.secretName: Invalid value', 'should match'],
  ],
  [
    'a JwtRotation name with a newline',
    { name: 'api\n{"level":"error"}', spec: base },
    ['metadata.name: Invalid value'],
  ],
  [
    'a Prometheus URL that is a file',
    { spec: { ...base, monitoring: { prometheus: { url: 'file:///etc/passwd' } } } },
    ['spec.monitoring.prometheus.url: Invalid value', 'should match'],
  ],
  [
    'a bearer token Secret name with a slash',
    {
      spec: {
        ...base,
        monitoring: { prometheus: { ...prometheus, bearerTokenSecretRef: { name: 'kube-system/token' } } },
      },
    },
    ['bearerTokenSecretRef.name: Invalid value'],
  ],
  // References that would send keys out (issue 25: keys never leave the operator)
  [
    "a bearer token read from the JwtRotation's own Secret",
    {
      spec: {
        ...base,
        monitoring: {
          prometheus: { ...prometheus, bearerTokenSecretRef: { name: 'api-jwt', key: 'JWT_SECRET' } },
        },
      },
    },
    ['bearerTokenSecretRef names a Secret of JWT keys'],
  ],
  [
    'a CA bundle read from a backup Secret',
    {
      spec: {
        ...base,
        monitoring: {
          prometheus: {
            url: 'https://127.0.0.1:9',
            tls: { caSecretRef: { name: 'billing-jwtrotation-backup' } },
          },
        },
      },
    },
    ['caSecretRef names a Secret of JWT keys'],
  ],
  [
    "a receiver URL read from the JwtRotation's own Secret",
    {
      spec: {
        ...base,
        notifications: {
          receivers: [{ name: 'x', type: 'Slack', urlSecretRef: { name: 'api-jwt', key: 'JWT_SECRET' } }],
        },
      },
    },
    ["a notification receiver's urlSecretRef or signingSecretRef names a Secret of JWT keys"],
  ],
  [
    'a generic Webhook receiver without a signing key',
    {
      spec: {
        ...base,
        notifications: { receivers: [{ name: 'x', type: 'Webhook', urlSecretRef: { name: 'hooks' } }] },
      },
    },
    ['a Webhook receiver needs signingSecretRef'],
  ],
  // Secrets the operator must not touch
  [
    'a Helm release Secret',
    { spec: { ...base, secretName: 'sh.helm.release.v1.payments.v3' } },
    ['secretName names a Helm release Secret'],
  ],
  [
    "another JwtRotation's backup Secret",
    { spec: { ...base, secretName: 'billing-jwtrotation-backup' } },
    ['secretName ends with -jwtrotation-backup'],
  ],
  // Enums and the rest
  [
    'an unknown unlistedConsumers policy',
    { spec: { ...base, unlistedConsumers: 'Maybe' } },
    ['spec.unlistedConsumers: Unsupported value: "Maybe"'],
  ],
  [
    'a CronJob target',
    { spec: { ...base, targets: [{ kind: 'CronJob', name: 'api' }] } },
    ['spec.targets[0].kind: Unsupported value: "CronJob"'],
  ],
  ['a missing secretName', { spec: { targets: [] } }, ['spec.secretName: Required value']],
  ['no spec at all', { spec: undefined }, ['spec: Required value']],
  // Request annotations (the ValidatingAdmissionPolicy)
  [
    'a 200 KiB rotate request',
    { annotations: { 'jwtrotation.io/rotate': long(200 * 1024) }, spec: base },
    ['jwtrotation.io/rotate must be 1-128 letters'],
  ],
  [
    'a rollback request that forges a log line',
    {
      annotations: { 'jwtrotation.io/rollback': 'x\n{"level":"info","message":"rotation completed"}' },
      spec: base,
    },
    ['jwtrotation.io/rollback must be 1-128 letters'],
  ],
  [
    'an emergency request with an ANSI escape',
    { annotations: { 'jwtrotation.io/emergency-rotate': '\u001b[2Jnow' }, spec: base },
    ['jwtrotation.io/emergency-rotate must be 1-128 letters'],
  ],
];

describe('hostile and invalid JwtRotations', function () {
  this.timeout(300_000);
  const suite = operatorSuite();
  let ns: string;

  before(async () => {
    ns = await suite.cluster.newNamespace('hostile');
  });

  after(async () => {
    await removeJwtRotations(suite.cluster, [ns]);
    // The policy is cluster-wide and Helm installs it too: leave no copy Helm could not adopt.
    await suite.cluster.kubectl([
      'delete',
      '-f',
      path.join(repoRoot, 'deploy/admission-policy.yaml'),
      '--ignore-not-found',
    ]);
  });

  describe('what only the operator can tell: Stalled, nothing written, still looking', () => {
    async function stalledWith(name: string, reason: string): Promise<JwtRotation> {
      return waitFor(`${name} Stalled ${reason}`, async () => {
        const r = await getJwtRotation(suite.c, ns, name);
        const stalled = r.status?.conditions?.find((c) => c.type === 'Stalled');
        return stalled?.status === 'True' && stalled.reason === reason ? r : undefined;
      });
    }

    /** Proves the Secret was left as it was: the operator looked again after a nudge, and its resourceVersion did not move. */
    async function untouchedAfterANudge(
      jwtName: string,
      secretName: string,
      resourceVersion: string,
    ): Promise<void> {
      const nudged = await annotate(suite.c, ns, jwtName, { 'example.com/nudge': String(Date.now()) });
      await suite.operator.lookedAt(ns, jwtName, nudged);
      const secret = await suite.c.core.readNamespacedSecret({ namespace: ns, name: secretName });
      expect(secret.metadata?.resourceVersion).to.equal(resourceVersion);
    }

    it('a ServiceAccount token Secret: SecretTypeNotManaged, the token untouched, even on an emergency request', async () => {
      await suite.c.core.createNamespacedServiceAccount({
        namespace: ns,
        body: { metadata: { name: 'robot' } },
      });
      const created = await suite.c.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'robot-token', annotations: { 'kubernetes.io/service-account.name': 'robot' } },
          type: 'kubernetes.io/service-account-token',
        },
      });
      // The token controller fills it in; then it is the version the operator must leave alone.
      const filled = await waitFor('the token controller to fill robot-token', async () => {
        const s = await suite.c.core.readNamespacedSecret({ namespace: ns, name: 'robot-token' });
        return s.data?.token ? s : undefined;
      });
      expect(created.metadata?.name).to.equal('robot-token');
      await createJwtRotation(suite.c, ns, 'robot', { secretName: 'robot-token', targets: [] });
      const r = await stalledWith('robot', 'SecretTypeNotManaged');
      expect(r.status?.phase).to.equal('Failed');
      expect(r.status?.conditions?.find((c) => c.type === 'Stalled')?.message).to.include(
        'kubernetes.io/service-account-token',
      );
      await annotate(suite.c, ns, 'robot', { 'jwtrotation.io/emergency-rotate': 'now-1' });
      await untouchedAfterANudge('robot', 'robot-token', filled.metadata?.resourceVersion ?? '');
      const events = await eventsOf(suite.c, ns, 'robot');
      expect(events.map((e) => e.reason)).to.include('SecretTypeNotManaged');
    });

    it('a Helm release Secret under another name: SecretTypeNotManaged, untouched', async () => {
      const created = await suite.c.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'release-state' },
          type: 'helm.sh/release.v1',
          data: { release: Buffer.from('H4sI').toString('base64') },
        },
      });
      await createJwtRotation(suite.c, ns, 'release', { secretName: 'release-state', targets: [] });
      await stalledWith('release', 'SecretTypeNotManaged');
      await untouchedAfterANudge('release', 'release-state', created.metadata?.resourceVersion ?? '');
    });

    it("another JwtRotation's Secret: SecretManagedElsewhere, and the owner's key untouched", async () => {
      await createConsumerDeployment(suite.c, ns, 'owner-app', 'shared-jwt', 1);
      await createJwtRotation(suite.c, ns, 'owner', {
        secretName: 'shared-jwt',
        targets: [{ kind: 'Deployment', name: 'owner-app' }],
      });
      const owned = await waitFor('the owner to create its Secret', async () => {
        const r = await getJwtRotation(suite.c, ns, 'owner');
        return r.status?.phase === 'Idle'
          ? suite.c.core.readNamespacedSecret({ namespace: ns, name: 'shared-jwt' })
          : undefined;
      });
      await createJwtRotation(
        suite.c,
        ns,
        'intruder',
        { secretName: 'shared-jwt', targets: [] },
        { 'jwtrotation.io/emergency-rotate': 'take-1' },
      );
      const r = await stalledWith('intruder', 'SecretManagedElsewhere');
      expect(r.status?.conditions?.find((c) => c.type === 'Stalled')?.message).to.include('owner');
      await untouchedAfterANudge('intruder', 'shared-jwt', owned.metadata?.resourceVersion ?? '');
    });

    it('a bearer token Secret that does not exist: Stalled, and the rotation neither completes nor rolls back', async () => {
      await createConsumerDeployment(suite.c, ns, 'gated', 'gated-jwt', 1);
      await createJwtRotation(suite.c, ns, 'gated', {
        secretName: 'gated-jwt',
        targets: [{ kind: 'Deployment', name: 'gated' }],
        monitoring: {
          minDuration: '0s',
          prometheus: { ...prometheus, bearerTokenSecretRef: { name: 'no-such-token' } },
        },
      });
      await waitFor(
        'gated Idle',
        async () => (await getJwtRotation(suite.c, ns, 'gated')).status?.phase === 'Idle' || undefined,
      );
      await annotate(suite.c, ns, 'gated', { 'jwtrotation.io/rotate': 'go' });
      const r = await waitFor(
        'the missing token reported',
        async () => {
          const got = await getJwtRotation(suite.c, ns, 'gated');
          const metrics = got.status?.conditions?.find((c) => c.type === 'MetricsAvailable');
          return metrics?.status === 'False' ? got : undefined;
        },
        { timeoutMs: 90_000 },
      );
      expect(JSON.stringify(r.status?.conditions)).to.include('no-such-token');
      const looked = await annotate(suite.c, ns, 'gated', { 'example.com/nudge': '1' });
      const pass = await suite.operator.lookedAt(ns, 'gated', looked);
      // The checklist refuses to start without a readable metrics source; a rotation under way would hold.
      expect(pass.phase).to.be.oneOf(['Idle', 'DualKey', 'Monitoring']);
      expect((await getJwtRotation(suite.c, ns, 'gated')).status?.lastRotation).to.equal(undefined);
    });

    it('a bearer token Secret holding garbage (a newline, binary): the read fails without echoing it, nothing completes', async () => {
      const garbage = 'tok\r\nX-Injected: 1\u0000\u00ff';
      await suite.c.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'garbage-token', annotations: { 'jwtrotation.io/allow-references': 'garbage' } },
          data: { token: Buffer.from(garbage, 'latin1').toString('base64') },
        },
      });
      await createConsumerDeployment(suite.c, ns, 'garbage', 'garbage-jwt', 1);
      await createJwtRotation(suite.c, ns, 'garbage', {
        secretName: 'garbage-jwt',
        targets: [{ kind: 'Deployment', name: 'garbage' }],
        monitoring: {
          minDuration: '0s',
          prometheus: { ...prometheus, bearerTokenSecretRef: { name: 'garbage-token' } },
        },
      });
      await waitFor(
        'garbage Idle',
        async () => (await getJwtRotation(suite.c, ns, 'garbage')).status?.phase === 'Idle' || undefined,
      );
      await annotate(suite.c, ns, 'garbage', { 'jwtrotation.io/rotate': 'go' });
      const r = await waitFor(
        'the failed read reported',
        async () => {
          const got = await getJwtRotation(suite.c, ns, 'garbage');
          const metrics = got.status?.conditions?.find((c) => c.type === 'MetricsAvailable');
          return metrics?.status === 'False' ? got : undefined;
        },
        { timeoutMs: 90_000 },
      );
      expect(JSON.stringify(r.status)).to.not.include('X-Injected');
      expect(suite.operator.output()).to.not.include('X-Injected');
      const looked = await annotate(suite.c, ns, 'garbage', { 'example.com/nudge': '1' });
      expect((await suite.operator.lookedAt(ns, 'garbage', looked)).phase).to.be.oneOf([
        'Idle',
        'DualKey',
        'Monitoring',
      ]);
      expect((await getJwtRotation(suite.c, ns, 'garbage')).status?.lastRotation).to.equal(undefined);
    });

    it('a request value stored before the admission policy existed: InvalidRequest, never echoed, nothing done', async () => {
      await createConsumerDeployment(suite.c, ns, 'forged', 'forged-jwt', 1);
      await createJwtRotation(suite.c, ns, 'forged', {
        secretName: 'forged-jwt',
        targets: [{ kind: 'Deployment', name: 'forged' }],
      });
      await waitFor(
        'forged Idle',
        async () => (await getJwtRotation(suite.c, ns, 'forged')).status?.phase === 'Idle' || undefined,
      );
      const before = await suite.c.core.readNamespacedSecret({ namespace: ns, name: 'forged-jwt' });
      const forged = 'go\n{"level":"info","message":"rotation completed","forged":true}';
      await annotate(suite.c, ns, 'forged', { 'jwtrotation.io/rotate': forged });
      const r = await stalledWith('forged', 'InvalidRequest');
      expect(JSON.stringify(r.status)).to.not.include('rotation completed');
      await untouchedAfterANudge('forged', 'forged-jwt', before.metadata?.resourceVersion ?? '');
      // No log line was forged: every line the operator printed is one JSON object, none of them ours.
      expect(suite.operator.logs.some((l) => l.forged === true)).to.equal(false);
      expect(suite.operator.output()).to.not.include('"forged":true');
      // Fixing the value lets it act.
      await annotate(suite.c, ns, 'forged', { 'jwtrotation.io/rotate': 'go-2' });
      await waitFor('the fixed request to start a rotation', async () => {
        const got = await getJwtRotation(suite.c, ns, 'forged');
        return got.status?.handledRequests?.rotate === 'go-2' || undefined;
      });
    });
  });

  describe(`a corpus of ${CORPUS.length} invalid or hostile objects, refused at admission`, () => {
    let bindingName: string | undefined;
    let policyName: string | undefined;
    after(async () => {
      if (policyName !== undefined)
        await suite.cluster.kubectl(['delete', 'validatingadmissionpolicy', policyName, '--wait=false']);
      if (bindingName !== undefined)
        await suite.cluster.kubectl([
          'delete',
          'validatingadmissionpolicybinding',
          bindingName,
          '--wait=false',
        ]);
    });
    before(async () => {
      // The shipped policy, with its binding limited to this file's namespace: other test files run
      // side by side and some make JwtRotations that the policy would refuse on purpose.
      const docs = parseAllDocuments(
        readFileSync(path.join(repoRoot, 'deploy/admission-policy.yaml'), 'utf8'),
      );
      const objects = docs.map(
        (d) => d.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> },
      );
      // The policy under a name of this file's own too: the Helm chart's test installs the shipped one.
      for (const object of objects) {
        object.metadata.name = `${object.metadata.name}-${ns}`;
        if (object.kind === 'ValidatingAdmissionPolicy') policyName = object.metadata.name;
        if (object.kind !== 'ValidatingAdmissionPolicyBinding') continue;
        object.spec.policyName = `${String(object.spec.policyName)}-${ns}`;
        object.spec.matchResources = {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        };
        bindingName = object.metadata.name;
      }
      const applied = await suite.cluster.kubectl(['apply', '--server-side', '-f', '-'], {
        input: objects.map((o) => JSON.stringify(o)).join('\n---\n'),
      });
      if (applied.code !== 0) throw new Error(applied.stderr);
      // A new policy takes a moment to be enforced: wait until it refuses a known-bad object.
      await waitFor('the admission policy to be enforced', async () => {
        const result = await create('policy-probe', {
          annotations: { 'jwtrotation.io/rotate': ' ' },
          spec: base,
        });
        if (result.code === 0)
          await suite.cluster.kubectl(['delete', 'jwtrotation', 'policy-probe', '--wait=false'], {
            namespace: ns,
          });
        return result.code !== 0 || undefined;
      });
    });

    function create(name: string, object: Case[1]) {
      const manifest = {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: object.name ?? name, annotations: object.annotations ?? {} },
        ...(object.spec === undefined ? {} : { spec: object.spec }),
      };
      return suite.cluster.kubectl(['create', '-f', '-', '-o', 'name'], {
        input: JSON.stringify(manifest),
        namespace: ns,
      });
    }

    it('has at least 30 entries', () => {
      expect(CORPUS.length).to.be.at.least(30);
    });

    CORPUS.forEach(([what, object, messages], i) => {
      it(`refuses ${what}`, async () => {
        const result = await create(`hostile-${i}`, object);
        expect(result.code, `accepted: ${result.stdout}`).to.not.equal(0);
        for (const message of messages) expect(result.stderr).to.include(message);
      });
    });
  });
});
