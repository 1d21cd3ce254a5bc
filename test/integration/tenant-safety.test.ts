/**
 * Safe to hand to tenants (issue 25), on the real control plane. A ServiceAccount that may create
 * JwtRotations in namespace A but may not read Secrets tries each way of reaching a Secret through the
 * operator (a Prometheus bearer token, a CA bundle, a receiver's URL or signing key, an outside URL,
 * taking a Secret over): nothing is read or sent, the victim Secret is unchanged, no reader is
 * restarted, and a condition and an Event say why; with the Secret's consent, each route works.
 * A request set by user bob with --field-manager=alice is recorded as bob (the requester-identity
 * admission policies of deploy/requester-identity.yaml, bound to this file's namespace only), and a
 * stamp written by hand is refused. Notices are signed (verified with the standardwebhooks library),
 * and an operator killed between deciding each notice and delivering it still delivers every one,
 * at least once, under one webhook id.
 *
 * Own namespaces, own operators limited to them (WATCH_NAMESPACE); the admission policies are
 * cluster-scoped objects, so their bindings select only namespaces labelled for this file.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { parseAllDocuments, stringify } from 'yaml';

import { webhookId } from '../../src/adapters/notify/signature.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { installCrd } from '../support/crd.ts';
import { repoRoot, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  removeJwtRotations,
  secretValues,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { serviceAccountAccess, type ServiceAccountAccess } from '../support/service-account.ts';
import { makeTestPki, type TestPki } from '../support/tls.ts';
import {
  aSigningSecret,
  startWebhookReceiver,
  verifies,
  type ReceivedPost,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';

const CONSENT = 'jwtrotation.io/allow-references';
const POLICY_LABEL = 'jwtrotation.io/test-requester-identity';
const FAULT_EXIT_CODE = 86;

/** A rotation that ends in seconds: no targets, short waits. */
const quick = (extra: Partial<JwtRotationSpec> = {}): JwtRotationSpec => ({
  secretName: 'unused',
  targets: [],
  rollout: { signingDelay: '1s', pollInterval: '500ms' },
  monitoring: { minDuration: '1s', maxDuration: '1m', requireOldTokenExpiry: false },
  ...extra,
});

interface PolicyObject {
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  spec: { policyName?: string; matchResources?: unknown; [k: string]: unknown };
}

/** An HTTPS server on loopback with a certificate from `pki`: counts what reaches it past the handshake. */
async function startTlsCapture(pki: TestPki): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createHttpsServer(
    { key: await readFile(pki.keyFile), cert: await readFile(pki.certFile) },
    (req, res) => {
      hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not prometheus');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`, hits, server };
}

describe('safe to hand to tenants: no confused deputy, who really asked, notices to trust', function () {
  this.timeout(900_000);
  let cluster: TestCluster;
  let c: Clients;
  let nsA: string;
  let tenant: ServiceAccountAccess;
  let asTenant: Clients;
  let operator: OperatorProcess;
  let capture: WebhookReceiver;
  const operators: OperatorProcess[] = [];
  const policyNames: { kind: string; name: string }[] = [];
  /** Secret values that must never show up where a tenant can read. */
  const victimValues: string[] = [];

  const condition = (r: JwtRotation, type: string) => r.status?.conditions?.find((x) => x.type === type);
  const createSecret = async (
    namespace: string,
    name: string,
    data: Record<string, string>,
    annotations: Record<string, string> = {},
  ): Promise<k8s.V1Secret> =>
    c.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name, annotations, labels: { team: 'db' } }, stringData: data },
    });
  const consent = async (namespace: string, secret: string, value: string): Promise<void> => {
    const done = await cluster.kubectl(['annotate', 'secret', secret, '--overwrite', `${CONSENT}=${value}`], {
      namespace,
    });
    expect(done.code, done.stderr).to.equal(0);
  };
  /** Waits until the condition has this reason, then for one more pass (proof it looked again). */
  const refusedWith = async (name: string, type: string, reason: string): Promise<JwtRotation> => {
    const r = await waitFor(
      `${name}: ${type}=False ${reason}`,
      async () => {
        const got = await getJwtRotation(c, nsA, name);
        const found = condition(got, type);
        return (found?.status === 'False' || found?.status === 'True') && found.reason === reason && got;
      },
      { timeoutMs: 90_000 },
    );
    const rv = await annotate(c, nsA, name, { 'example.com/nudge': String(Date.now()) });
    await operator.lookedAt(nsA, name, rv);
    return r;
  };
  const eventReasons = async (name: string): Promise<string[]> =>
    (await eventsOf(c, nsA, name)).map((e) => e.reason ?? '');
  /** Waits for an Event with this reason: the event lane posts Events after the status is written. */
  const eventWith = (name: string, reason: string): Promise<true> =>
    waitFor(
      `an Event ${reason} about ${name}`,
      async () => (await eventReasons(name)).includes(reason) || undefined,
    );

  before(async function () {
    this.timeout(1_800_000);
    cluster = await useCluster();
    await installCrd(cluster);
    c = clients(cluster);
    nsA = await cluster.newNamespace('tenant');
    const labelled = await cluster.kubectl(['label', 'namespace', nsA, `${POLICY_LABEL}=${nsA}`]);
    expect(labelled.code, labelled.stderr).to.equal(0);
    await installRequesterIdentity();

    // The tenant: may create and annotate JwtRotations and read Events in A, and nothing about Secrets.
    await c.core.createNamespacedServiceAccount({ namespace: nsA, body: { metadata: { name: 'tenant' } } });
    const rbac = await cluster.kubectl(['apply', '-f', '-'], {
      namespace: nsA,
      input: stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'Role',
            metadata: { name: 'jwtrotation-editor', namespace: nsA },
            rules: [
              {
                apiGroups: ['jwtrotation.io'],
                resources: ['jwtrotations'],
                verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
              },
              { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
            ],
          },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: 'jwtrotation-editors', namespace: nsA },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jwtrotation-editor' },
            subjects: [
              { kind: 'ServiceAccount', name: 'tenant', namespace: nsA },
              { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' },
            ],
          },
        ],
      }),
    });
    expect(rbac.code, rbac.stderr).to.equal(0);
    tenant = await serviceAccountAccess(cluster, 'tenant', nsA);
    asTenant = {
      core: tenant.kubeConfig.makeApiClient(k8s.CoreV1Api),
      apps: tenant.kubeConfig.makeApiClient(k8s.AppsV1Api),
      custom: tenant.kubeConfig.makeApiClient(k8s.CustomObjectsApi),
    };
    capture = await startWebhookReceiver();
    operator = await startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: nsA,
      env: { REQUESTER_IDENTITY: 'admission' },
    });
    operators.push(operator);
  });

  after(async () => {
    await removeJwtRotations(cluster, [nsA]);
    for (const o of operators) await o.stop('SIGKILL');
    for (const { kind, name } of policyNames) {
      await cluster.kubectl(['delete', kind, name, '--ignore-not-found']);
    }
    await capture.close();
    for (const o of operators) {
      for (const value of victimValues)
        expect(o.output(), 'a victim value in the operator output').to.not.include(value);
      expect(o.output()).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
    }
  });

  /**
   * deploy/requester-identity.yaml, its objects renamed for this file and its bindings limited to
   * namespaces labelled for it: other files' namespaces never see the policies.
   */
  async function installRequesterIdentity(): Promise<void> {
    const text = readFileSync(path.join(repoRoot, 'deploy/requester-identity.yaml'), 'utf8');
    const objects = parseAllDocuments(text).map((d) => d.toJSON() as PolicyObject);
    expect(objects.map((o) => o.kind)).to.deep.equal([
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    for (const o of objects) {
      o.metadata.name = `${o.metadata.name}-${nsA}`;
      if (o.kind.endsWith('Binding')) {
        o.spec.policyName = `${o.spec.policyName ?? ''}-${nsA}`;
        o.spec.matchResources = { namespaceSelector: { matchLabels: { [POLICY_LABEL]: nsA } } };
      }
      policyNames.push({ kind: o.kind, name: o.metadata.name });
    }
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], {
      input: objects.map((o) => stringify(o)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);
    // A new policy takes a moment to be enforced: wait until a request is stamped and a hand-written
    // stamp is refused, on a JwtRotation of this namespace.
    await createJwtRotation(c, nsA, 'policy-probe', quick({ secretName: 'policy-probe-jwt' }));
    let probe = 0;
    await waitFor('the requester-identity policies to be enforced', async () => {
      probe += 1;
      await annotate(c, nsA, 'policy-probe', { 'jwtrotation.io/rotate': `probe-${String(probe)}` });
      const stamped = (await getJwtRotation(c, nsA, 'policy-probe')).metadata.annotations?.[
        'jwtrotation.io/rotate-requester'
      ];
      const forged = await cluster.kubectl(
        ['annotate', 'jwtrotation', 'policy-probe', '--overwrite', 'jwtrotation.io/rollback-requester=x'],
        { namespace: nsA },
      );
      if (forged.code === 0) {
        await cluster.kubectl(
          ['annotate', 'jwtrotation', 'policy-probe', 'jwtrotation.io/rollback-requester-'],
          {
            namespace: nsA,
          },
        );
      }
      return stamped?.includes(`"value":"probe-${String(probe)}"`) === true && forged.code !== 0;
    });
    await cluster.kubectl(['delete', 'jwtrotation', 'policy-probe', '--wait=false'], { namespace: nsA });
  }

  describe('the confused deputy: each route, refused, then with consent', () => {
    it('the tenant may create JwtRotations in A, and may not read a Secret', async () => {
      expect(await tenant.can('create', 'jwtrotations.jwtrotation.io', nsA)).to.equal(true);
      expect(await tenant.can('patch', 'jwtrotations.jwtrotation.io', nsA)).to.equal(true);
      for (const verb of ['get', 'list', 'watch', 'create', 'update']) {
        expect(await tenant.can(verb, 'secrets', nsA), `${verb} secrets`).to.equal(false);
      }
    });

    it('a bearer token: the database password is not read nor sent to the named URL; with consent it is', async () => {
      const password = `hunter2-${Date.now().toString(36)}`;
      victimValues.push(password);
      const victim = await createSecret(nsA, 'db-password', { password });
      await createConsumerDeployment(c, nsA, 'db-reader', 'db-password', 1);
      await createJwtRotation(
        asTenant,
        nsA,
        'exfil-token',
        quick({
          secretName: 'exfil-token-jwt',
          monitoring: {
            minDuration: '1s',
            prometheus: {
              url: `${capture.url}/prom`,
              interval: '1s',
              bearerTokenSecretRef: { name: 'db-password', key: 'password' },
            },
          },
        }),
      );
      await waitFor(
        'exfil-token Idle',
        async () => (await getJwtRotation(c, nsA, 'exfil-token')).status?.phase === 'Idle',
      );
      await annotate(asTenant, nsA, 'exfil-token', { 'jwtrotation.io/rotate': 'steal-1' });
      const refused = await refusedWith('exfil-token', 'MetricsAvailable', 'ReferenceNotAllowed');
      expect(condition(refused, 'MetricsAvailable')?.message).to.include('Secret db-password');
      expect(condition(refused, 'PreflightPassed')?.status).to.equal('False');
      await eventWith('exfil-token', 'ReferenceNotAllowed');
      expect(
        capture.received.filter((p) => p.path.startsWith('/prom')),
        'nothing sent',
      ).to.have.length(0);
      expect(JSON.stringify([refused.status, await eventsOf(c, nsA, 'exfil-token')])).to.not.include(
        password,
      );
      const after = await c.core.readNamespacedSecret({ namespace: nsA, name: 'db-password' });
      expect(after.metadata?.resourceVersion).to.equal(victim.metadata?.resourceVersion);

      // The Secret's owner consents: the route works (the token goes to the named Prometheus).
      await consent(nsA, 'db-password', 'exfil-token');
      const sent = await waitFor('the bearer token at the named Prometheus', () =>
        Promise.resolve(capture.received.find((p) => p.path.startsWith('/prom'))),
      );
      expect(sent.headers.authorization).to.equal(`Bearer ${password}`);
    });

    it('a CA bundle: a private CA Secret is not trusted nor read; with consent the operator trusts it', async () => {
      const pki = await makeTestPki(['127.0.0.1']);
      const tls = await startTlsCapture(pki);
      try {
        await createSecret(nsA, 'internal-ca', { 'ca.crt': pki.caPem });
        await createJwtRotation(
          asTenant,
          nsA,
          'exfil-ca',
          quick({
            secretName: 'exfil-ca-jwt',
            monitoring: {
              minDuration: '1s',
              prometheus: { url: tls.url, interval: '1s', tls: { caSecretRef: { name: 'internal-ca' } } },
            },
          }),
        );
        await waitFor(
          'exfil-ca Idle',
          async () => (await getJwtRotation(c, nsA, 'exfil-ca')).status?.phase === 'Idle',
        );
        await annotate(asTenant, nsA, 'exfil-ca', { 'jwtrotation.io/rotate': 'trust-1' });
        const refused = await refusedWith('exfil-ca', 'MetricsAvailable', 'ReferenceNotAllowed');
        expect(condition(refused, 'MetricsAvailable')?.message).to.include('Secret internal-ca');
        await eventWith('exfil-ca', 'ReferenceNotAllowed');
        expect(tls.hits, 'no request reached the server').to.deep.equal([]);

        await consent(nsA, 'internal-ca', 'exfil-ca,someone-else');
        await waitFor('a request over TLS, trusting the consented CA', () =>
          Promise.resolve(tls.hits.length > 0),
        );
      } finally {
        tls.server.close();
      }
    });

    it("a receiver's URL and signing key: nothing is posted to a URL from a Secret without consent; with it, notices go", async () => {
      const hookUrl = `${capture.url}/internal-hook?token=s3cr3t-${Date.now().toString(36)}`;
      victimValues.push(hookUrl);
      await createSecret(nsA, 'internal-hook', { url: hookUrl });
      await createJwtRotation(
        asTenant,
        nsA,
        'exfil-hook',
        quick({
          secretName: 'exfil-hook-jwt',
          notifications: {
            retries: 0,
            receivers: [{ name: 'hook', type: 'Slack', urlSecretRef: { name: 'internal-hook' } }],
          },
        }),
      );
      await waitFor(
        'exfil-hook Idle',
        async () => (await getJwtRotation(c, nsA, 'exfil-hook')).status?.phase === 'Idle',
      );
      await annotate(asTenant, nsA, 'exfil-hook', { 'jwtrotation.io/rotate': 'post-1' });
      const refused = await refusedWith('exfil-hook', 'NotificationsDelivered', 'ReferenceNotAllowed');
      expect(condition(refused, 'NotificationsDelivered')?.message).to.include('Secret internal-hook');
      await eventWith('exfil-hook', 'ReferenceNotAllowed');
      expect(refused.status?.notices?.find((n) => n.notice === 'Started')?.state).to.equal('Failed');
      expect(capture.received.filter((p) => p.path.startsWith('/internal-hook'))).to.have.length(0);
      expect(JSON.stringify([refused.status, await eventsOf(c, nsA, 'exfil-hook')])).to.not.include('s3cr3t');

      // A signing key from a Secret without consent: nothing is sent, signed or not.
      await createSecret(nsA, 'own-hook', { url: `${capture.url}/own-hook` }, { [CONSENT]: 'exfil-signing' });
      await createJwtRotation(
        asTenant,
        nsA,
        'exfil-signing',
        quick({
          secretName: 'exfil-signing-jwt',
          notifications: {
            retries: 0,
            receivers: [
              {
                name: 'hook',
                type: 'Webhook',
                urlSecretRef: { name: 'own-hook' },
                signingSecretRef: { name: 'db-password', key: 'password' },
              },
            ],
          },
        }),
      );
      await waitFor(
        'exfil-signing Idle',
        async () => (await getJwtRotation(c, nsA, 'exfil-signing')).status?.phase === 'Idle',
      );
      await annotate(asTenant, nsA, 'exfil-signing', { 'jwtrotation.io/rotate': 'sign-1' });
      const unsigned = await refusedWith('exfil-signing', 'NotificationsDelivered', 'ReferenceNotAllowed');
      expect(condition(unsigned, 'NotificationsDelivered')?.message).to.include('Secret db-password');
      expect(capture.received.filter((p) => p.path.startsWith('/own-hook'))).to.have.length(0);

      // The owner of internal-hook consents: the next notices go there.
      await consent(nsA, 'internal-hook', 'exfil-hook');
      await annotate(asTenant, nsA, 'exfil-hook', { 'jwtrotation.io/rotate': 'post-2' });
      const posted = await waitFor('a notice at the consented URL', () =>
        Promise.resolve(capture.received.find((p) => p.path.startsWith('/internal-hook'))),
      );
      expect(String(posted.body.text)).to.include(`${nsA}/exfil-hook`);
    });

    it('an outside URL: a Prometheus host the administrator did not allow is never asked (UrlNotAllowed)', async () => {
      await createJwtRotation(
        asTenant,
        nsA,
        'exfil-url',
        quick({
          secretName: 'exfil-url-jwt',
          // localhost is loopback, but not a name the test operator's OUTBOUND_HOSTS lists.
          monitoring: {
            minDuration: '1s',
            prometheus: { url: `${capture.url.replace('127.0.0.1', 'localhost')}/outside`, interval: '1s' },
          },
        }),
      );
      await waitFor(
        'exfil-url Idle',
        async () => (await getJwtRotation(c, nsA, 'exfil-url')).status?.phase === 'Idle',
      );
      await annotate(asTenant, nsA, 'exfil-url', { 'jwtrotation.io/rotate': 'out-1' });
      const refused = await refusedWith('exfil-url', 'MetricsAvailable', 'UrlNotAllowed');
      expect(condition(refused, 'MetricsAvailable')?.message).to.include(
        "host localhost is not in the operator's outbound allowlist",
      );
      await eventWith('exfil-url', 'UrlNotAllowed');
      expect(capture.received.filter((p) => p.path.startsWith('/outside'))).to.have.length(0);
    });

    it('a takeover: a Secret without a JWT key stays byte for byte, its reader is not restarted; one with a key is adopted, keeping its other keys', async () => {
      const dbPassword = `pw-${Date.now().toString(36)}`;
      victimValues.push(dbPassword);
      const victim = await createSecret(
        nsA,
        'db-credentials',
        { DB_PASSWORD: dbPassword },
        { owner: 'database-team' },
      );
      await createConsumerDeployment(c, nsA, 'credentials-reader', 'db-credentials', 1);
      const reader = await c.apps.readNamespacedDeployment({ namespace: nsA, name: 'credentials-reader' });
      await createJwtRotation(asTenant, nsA, 'takeover', quick({ secretName: 'db-credentials' }));
      const stalled = await waitFor('takeover Stalled SecretNotAdoptable', async () => {
        const r = await getJwtRotation(c, nsA, 'takeover');
        const s = condition(r, 'Stalled');
        return s?.status === 'True' && s.reason === 'SecretNotAdoptable' && r;
      });
      expect(stalled.status?.phase).to.equal('Failed');
      expect(condition(stalled, 'Stalled')?.message).to.include('Secret db-credentials holds no JWT_SECRET');
      await eventWith('takeover', 'SecretNotAdoptable');
      // Every request a tenant can make: still nothing.
      await annotate(asTenant, nsA, 'takeover', { 'jwtrotation.io/emergency-rotate': 'take-1' });
      await annotate(asTenant, nsA, 'takeover', { 'jwtrotation.io/rollback': 'take-2' });
      const rv = await annotate(asTenant, nsA, 'takeover', { 'jwtrotation.io/rotate': 'take-3' });
      await operator.lookedAt(nsA, 'takeover', rv);
      const after = await c.core.readNamespacedSecret({ namespace: nsA, name: 'db-credentials' });
      expect(after.metadata?.resourceVersion).to.equal(victim.metadata?.resourceVersion);
      expect({
        data: after.data,
        type: after.type,
        labels: after.metadata?.labels,
        annotations: after.metadata?.annotations,
      }).to.deep.equal({
        data: victim.data,
        type: victim.type,
        labels: victim.metadata?.labels,
        annotations: victim.metadata?.annotations,
      });
      const readerAfter = await c.apps.readNamespacedDeployment({
        namespace: nsA,
        name: 'credentials-reader',
      });
      expect(readerAfter.metadata?.generation).to.equal(reader.metadata?.generation);
      expect(readerAfter.spec?.template.metadata?.annotations).to.deep.equal(
        reader.spec?.template.metadata?.annotations,
      );

      // A Secret that already holds a JWT key of this shape is adopted; its other keys are kept.
      const key = Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString('base64');
      await createSecret(nsA, 'legacy-jwt', { JWT_SECRET: key, DB_URL: 'postgres://db.prod.svc/app' });
      await createJwtRotation(asTenant, nsA, 'adopt', quick({ secretName: 'legacy-jwt' }));
      await waitFor(
        'adopt Idle',
        async () => (await getJwtRotation(c, nsA, 'adopt')).status?.phase === 'Idle',
      );
      const adopted = await secretValues(c, nsA, 'legacy-jwt');
      expect(adopted).to.deep.include({ JWT_SECRET: key, DB_URL: 'postgres://db.prod.svc/app' });
      // And a second JwtRotation naming it stays refused.
      await createJwtRotation(asTenant, nsA, 'adopt-2', quick({ secretName: 'legacy-jwt' }));
      await waitFor('adopt-2 Stalled SecretManagedElsewhere', async () => {
        const s = condition(await getJwtRotation(c, nsA, 'adopt-2'), 'Stalled');
        return s?.reason === 'SecretManagedElsewhere';
      });

      // No reader of any victim Secret was restarted by any of this.
      const dbReader = await c.apps.readNamespacedDeployment({ namespace: nsA, name: 'db-reader' });
      expect(dbReader.metadata?.generation).to.equal(1);
    });
  });

  describe('who asked', () => {
    let receiver: WebhookReceiver;
    let secret: string;

    before(async () => {
      secret = aSigningSecret();
      receiver = await startWebhookReceiver({ secret });
      await createSecret(
        nsA,
        'audit-hooks',
        { url: `${receiver.url}/audit`, secret },
        { [CONSENT]: 'audited' },
      );
      await createJwtRotation(
        c,
        nsA,
        'audited',
        quick({
          secretName: 'audited-jwt',
          notifications: {
            receivers: [
              {
                name: 'audit',
                type: 'Webhook',
                urlSecretRef: { name: 'audit-hooks' },
                signingSecretRef: { name: 'audit-hooks' },
              },
            ],
          },
        }),
      );
      await waitFor(
        'audited Idle',
        async () => (await getJwtRotation(c, nsA, 'audited')).status?.phase === 'Idle',
      );
    });
    after(async () => {
      await receiver.close();
    });

    it('records bob, who set the emergency request with --field-manager=alice, as bob: history, Events, webhook body', async () => {
      const set = await cluster.kubectl(
        [
          'annotate',
          'jwtrotation',
          'audited',
          '--overwrite',
          '--as=bob',
          '--as-group=payments-oncall',
          '--field-manager=alice',
          'jwtrotation.io/emergency-rotate=inc-42',
        ],
        { namespace: nsA },
      );
      expect(set.code, set.stderr).to.equal(0);
      const stamped = (await getJwtRotation(c, nsA, 'audited')).metadata.annotations?.[
        'jwtrotation.io/emergency-rotate-requester'
      ];
      expect(JSON.parse(stamped ?? '{}')).to.deep.include({ value: 'inc-42', username: 'bob' });
      const managers = (await getJwtRotation(c, nsA, 'audited')).metadata.managedFields?.map(
        (m) => m.manager,
      );
      expect(managers, 'the field manager the client chose').to.include('alice');

      const done = await waitFor('the emergency rotation recorded', async () => {
        const r = await getJwtRotation(c, nsA, 'audited');
        return r.status?.lastRotation?.request === 'emergencyRotate=inc-42' && r;
      });
      expect(done.status?.lastRotation).to.deep.include({
        trigger: 'Emergency',
        requestedBy: 'bob',
        requestedByVerified: true,
      });
      expect(done.status?.lastRotation?.requestedByGroups).to.include('payments-oncall');
      // Events go out through their own lane, after the status write that records the rotation.
      const events = await waitFor('the EmergencyRotation and CompromisedKey Events', async () => {
        const found = await eventsOf(c, nsA, 'audited');
        const reasons = new Set(found.map((e) => e.reason));
        return reasons.has('EmergencyRotation') && reasons.has('CompromisedKey') ? found : undefined;
      });
      for (const reason of ['EmergencyRotation', 'CompromisedKey']) {
        const message = events.find((e) => e.reason === reason)?.message ?? '';
        expect(message, reason).to.include('requested by bob [groups ').and.include('payments-oncall');
        expect(message, reason).to.not.include('alice');
      }
      const posted = await waitFor('the Emergency notice at the receiver', () =>
        Promise.resolve(receiver.unique('/audit').find((p) => p.body.notice === 'Emergency')),
      );
      expect(posted.verified).to.equal(true);
      expect(posted.body.requestedBy).to.deep.include({ username: 'bob', verified: true });
      expect(JSON.stringify(posted.body)).to.not.include('alice');
    });

    it('refuses a requester stamp written by hand, by the tenant or by a cluster admin, and overwrites one sent with a request', async () => {
      const forged = JSON.stringify({ value: 'inc-42', username: 'alice', uid: '', groups: [] });
      const attempts: [string, string[]][] = [
        ['bob, naming alice', ['--as=bob', 'jwtrotation.io/emergency-rotate-requester=' + forged]],
        [
          'bob, claiming a request as his own',
          ['--as=bob', 'jwtrotation.io/rotate-requester={"value":"x","username":"bob","uid":"","groups":[]}'],
        ],
        ['a cluster admin', ['jwtrotation.io/emergency-rotate-requester=' + forged]],
        [
          'bob, removing the stamp of a request still set',
          ['--as=bob', 'jwtrotation.io/emergency-rotate-requester-'],
        ],
      ];
      for (const [who, args] of attempts) {
        const out = await cluster.kubectl(['annotate', 'jwtrotation', 'audited', '--overwrite', ...args], {
          namespace: nsA,
        });
        expect(out.code, `${who}: accepted`).to.not.equal(0);
        expect(out.stderr, who).to.include('written by the requester-identity admission policy');
      }
      // With the request it stamps: the forged value is replaced by the real requester.
      const out = await cluster.kubectl(
        [
          'annotate',
          'jwtrotation',
          'audited',
          '--overwrite',
          '--as=bob',
          'jwtrotation.io/rotate=r-7',
          'jwtrotation.io/rotate-requester=' + forged,
        ],
        { namespace: nsA },
      );
      expect(out.code, out.stderr).to.equal(0);
      const stamp = (await getJwtRotation(c, nsA, 'audited')).metadata.annotations?.[
        'jwtrotation.io/rotate-requester'
      ];
      expect(JSON.parse(stamp ?? '{}')).to.deep.include({ value: 'r-7', username: 'bob' });
    });

    it('signs every notice so that the standardwebhooks library verifies it, and rejects a tampered body', async () => {
      const posts = await waitFor('the Completed notice', () =>
        Promise.resolve(
          receiver.unique('/audit').some((p) => p.body.notice === 'Completed') && receiver.at('/audit'),
        ),
      );
      const library = new Webhook(secret);
      for (const post of posts)
        expect(verifies(library, post.raw, post.headers), String(post.body.notice)).to.equal(true);
      const one = posts[0] as ReceivedPost;
      expect(
        verifies(
          library,
          one.raw.replace('"severity":"Warning"', '"severity":"Normal"').replace('bob', 'eve'),
          one.headers,
        ),
      ).to.equal(false);
      // The receiver itself answers 400 to a tampered delivery.
      const headers = Object.fromEntries(
        ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [
          h,
          one.headers[h] ?? '',
        ]),
      );
      const tampered = await fetch(`${receiver.url}/audit`, {
        method: 'POST',
        headers,
        body: one.raw.replace('bob', 'eve'),
      });
      expect(tampered.status).to.equal(400);
    });
  });

  describe('notices that arrive once: an operator killed between deciding and delivering', () => {
    it('delivers every notice, each id at least once, and the receiver drops the repeats', async () => {
      const nsB = await cluster.newNamespace('outbox');
      const secret = aSigningSecret();
      const receiver = await startWebhookReceiver({ secret });
      try {
        await createSecret(nsB, 'hooks', { url: `${receiver.url}/outbox`, secret }, { [CONSENT]: 'outbox' });
        await createJwtRotation(
          c,
          nsB,
          'outbox',
          quick({
            secretName: 'outbox-jwt',
            notifications: {
              retries: 2,
              receivers: [
                {
                  name: 'hook',
                  type: 'Webhook',
                  urlSecretRef: { name: 'hooks' },
                  signingSecretRef: { name: 'hooks' },
                },
              ],
            },
          }),
        );
        const start = async (fault: boolean): Promise<OperatorProcess> => {
          const o = await startOperatorProcess({
            kubeconfigPath: cluster.kubeconfigPath,
            namespace: nsB,
            env: fault ? { JWTR_FAULT_EXIT_AFTER_WRITES: '1:notice-recorded' } : {},
            waitUntil: 'spawned',
          });
          operators.push(o);
          return o;
        };
        /** The Pending notices when an operator died right after recording them, and what had arrived then. */
        const crashes: { pending: string[]; arrivedBefore: string[] }[] = [];
        const crashed = async (o: OperatorProcess): Promise<void> => {
          expect(await o.exited()).to.equal(FAULT_EXIT_CODE);
          expect(o.logs.some((l) => l.message === 'fault injected' && l.kind === 'notice-recorded')).to.equal(
            true,
          );
          const r = await getJwtRotation(c, nsB, 'outbox');
          crashes.push({
            pending: (r.status?.notices ?? []).filter((n) => n.state === 'Pending').map((n) => n.notice),
            arrivedBefore: receiver.received.map((p) => String(p.body.notice)),
          });
        };

        // 1. Idle, then a request: the Started notice is recorded, and the operator dies before sending it.
        const first = await start(true);
        await waitFor(
          'outbox Idle',
          async () => (await getJwtRotation(c, nsB, 'outbox')).status?.phase === 'Idle',
          { timeoutMs: 180_000 },
        );
        await annotate(c, nsB, 'outbox', { 'jwtrotation.io/rotate': 'go-1' });
        await crashed(first);
        // 2. The next one delivers it, goes on, records Completed, and dies before sending that.
        await crashed(await start(true));
        // 3. The next one is killed while the receiver holds its delivery of Completed, before the
        //    operator hears the answer: delivered, but not recorded as such.
        const third = await start(false);
        receiver.onPost = async (post) => {
          if (post.body.notice !== 'Completed') return;
          receiver.onPost = undefined;
          await third.stop('SIGKILL');
        };
        await third.exited();
        // 4. The last one finds Completed still Pending and sends it again, under the same id.
        await start(false);
        const settled = await waitFor(
          'every notice recorded Delivered',
          async () => {
            const r = await getJwtRotation(c, nsB, 'outbox');
            const notices = r.status?.notices ?? [];
            return notices.length === 2 && notices.every((n) => n.state === 'Delivered') && r;
          },
          { timeoutMs: 120_000 },
        );

        expect(crashes).to.have.length(2);
        expect(crashes[0]?.pending).to.deep.equal(['Started']);
        expect(crashes[1]?.pending).to.include('Completed');
        // Each time, the notice just recorded had not reached the receiver.
        expect(crashes[0]?.arrivedBefore).to.not.include('Started');
        expect(crashes[1]?.arrivedBefore).to.not.include('Completed');
        const uid = settled.metadata.uid ?? '';
        const ids = Object.fromEntries(
          (settled.status?.notices ?? []).map((n) => [
            n.notice,
            webhookId(uid, { kind: n.notice, rotation: n.rotation }),
          ]),
        );
        const byId = (id: string | undefined) =>
          receiver.received.filter((p) => p.headers['webhook-id'] === id);
        expect(byId(ids.Started).length, 'Started').to.be.at.least(1);
        expect(byId(ids.Completed).length, 'Completed, delivered twice').to.be.at.least(2);
        expect(receiver.received.every((p) => p.verified === true)).to.equal(true);
        // Every delivery of one notice is the same body, and a receiver that drops repeats sees each once.
        expect(new Set(byId(ids.Completed).map((p) => p.raw)).size).to.equal(1);
        expect(receiver.unique('/outbox').map((p) => p.body.notice)).to.deep.equal(['Started', 'Completed']);
      } finally {
        receiver.onPost = undefined;
        await receiver.close();
        await removeJwtRotations(cluster, [nsB]);
      }
    });
  });
});
