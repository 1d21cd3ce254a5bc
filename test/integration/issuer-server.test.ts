/**
 * The issuer server against the real API server, as it ships (node .build/test/src/issuer/main.js)
 * and with exactly the RBAC of deploy/components/issuer/rbac.yaml (a ServiceAccount token): two
 * issuers behind one host, the documents and their headers over HTTPS with a test CA, a new key set
 * served and reported in status by server-side apply, a certificate rotated under it as kubelet
 * rotates a mounted Secret, least privilege, two replicas with their own entries and Leases, and
 * SIGTERM deleting the Lease.
 *
 * Runs beside other files: its own namespaces, and the cluster-wide ClusterRole and binding it needs
 * under names of its own, deleted at the end.
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { parseAllDocuments, stringify } from 'yaml';
import { clusterDir, repoRoot, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import {
  issuerRequest,
  startIssuerProcess,
  type IssuerProcess,
  type IssuerResponse,
} from '../support/issuer.ts';
import { serviceAccountAccess, statusOf, type ServiceAccountAccess } from '../support/service-account.ts';
import { registerTeardown } from '../support/teardown.ts';
import { makeTestPki, writeSecretVolume, type TestPki } from '../support/tls.ts';

const GROUP = 'jwtrotation.io';
const VERSION = 'v1alpha1';
const PLURAL = 'publishedkeysets';

interface ServerEntry {
  name: string;
  lease?: string;
  version?: string;
  since?: string;
  fetchers?: { client: string; version: string; at: string }[];
}
interface KeySetObject {
  metadata: {
    name: string;
    managedFields?: { manager?: string; subresource?: string; operation?: string }[];
  };
  spec: { version: string; jwks: string };
  status?: { servers?: ServerEntry[] };
}

/** A JWK Set of `n` fresh ES256 public keys, each with its RFC 7638 thumbprint as kid, and its version. */
async function keySet(n: number): Promise<{ jwks: string; version: string; kids: string[] }> {
  const keys: JWK[] = [];
  for (let i = 0; i < n; i++) {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    keys.push({ ...jwk, kid: await calculateJwkThumbprint(jwk), use: 'sig', alg: 'ES256' });
  }
  const jwks = JSON.stringify({ keys });
  return {
    jwks,
    version: createHash('sha256').update(jwks).digest('hex').slice(0, 16),
    kids: keys.map((k) => k.kid ?? ''),
  };
}

describe('the issuer server (compiled, with the RBAC it ships, against the real API server)', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let custom: k8s.CustomObjectsApi;
  let leases: k8s.CoordinationV1Api;
  let ns: string;
  let serverNs: string;
  let sa: ServiceAccountAccess;
  let pki: TestPki;
  let tlsDir: string;
  let host: string;
  let a: IssuerProcess;
  const suffix = Math.random().toString(36).slice(2, 8);
  const keys: Record<string, { jwks: string; version: string; kids: string[] }> = {};

  const issuerOf = (tenant: string): string => `https://${host}/tenants/${tenant}`;
  const fetchFrom = (
    server: IssuerProcess,
    url: string,
    options: { method?: string; headers?: Record<string, string> } = {},
  ): Promise<IssuerResponse> => issuerRequest(server.httpsPort, url, { ca: pki.caPem, ...options });
  const read = async (name: string): Promise<KeySetObject> =>
    (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name,
    })) as KeySetObject;
  const entryOf = async (name: string, replica: string): Promise<ServerEntry | undefined> =>
    (await read(name)).status?.servers?.find((s) => s.name === replica);

  async function createKeySet(
    name: string,
    tenant: string,
    set: { jwks: string; version: string; kids: string[] },
  ): Promise<void> {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'PublishedKeySet',
        metadata: { name, namespace: ns },
        spec: {
          issuer: issuerOf(tenant),
          algorithm: 'ES256',
          version: set.version,
          maxAgeSeconds: 120,
          jwks: set.jwks,
          keyCount: set.kids.length,
        },
      },
    });
  }

  /** The shipped RBAC, bound to a ServiceAccount in serverNs under cluster-wide names of this run's own. */
  async function applyShippedRbac(): Promise<void> {
    const docs = parseAllDocuments(
      readFileSync(path.join(repoRoot, 'deploy/components/issuer/rbac.yaml'), 'utf8'),
    ).map(
      (d) =>
        d.toJS() as {
          kind: string;
          metadata: { name: string; namespace?: string };
          roleRef?: { name: string };
          subjects?: { namespace: string }[];
        },
    );
    expect(docs.map((d) => d.kind)).to.have.members([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
    ]);
    for (const d of docs) {
      if (d.metadata.namespace !== undefined) d.metadata.namespace = serverNs;
      if (d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding')
        d.metadata.name = `jwt-issuer-test-${suffix}`;
      if (d.kind === 'ClusterRoleBinding' && d.roleRef) d.roleRef.name = `jwt-issuer-test-${suffix}`;
      for (const s of d.subjects ?? []) s.namespace = serverNs;
    }
    registerTeardown('issuer test ClusterRole and binding', async () => {
      await cluster.kubectl([
        'delete',
        'clusterrolebinding,clusterrole',
        `jwt-issuer-test-${suffix}`,
        '--ignore-not-found',
      ]);
    });
    const applied = await cluster.kubectl(['apply', '-f', '-'], {
      input: docs.map((d) => stringify(d)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);
  }

  before(async function () {
    this.timeout(1_800_000);
    cluster = await useCluster();
    await installCrd(cluster);
    custom = cluster.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    leases = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    await waitFor('publishedkeysets to be served', async () => {
      const got = await cluster.kubectl(['get', 'publishedkeysets.jwtrotation.io', '-A', '-o', 'name']);
      return got.code === 0;
    });
    [ns, serverNs] = await Promise.all([cluster.newNamespace('issuer'), cluster.newNamespace('issuer-srv')]);
    host = `id.${ns}.test`;
    await applyShippedRbac();
    sa = await serviceAccountAccess(cluster, 'jwt-issuer', serverNs);
    pki = await makeTestPki([host, 'issuer.example.internal']);
    tlsDir = path.join(await mkdtemp(path.join(tmpdir(), 'jwtr-issuer-tls-')), 'tls');
    await writeSecretVolume(tlsDir, {
      'tls.crt': await readFile(pki.certFile, 'utf8'),
      'tls.key': await readFile(pki.keyFile, 'utf8'),
      'ca.crt': pki.caPem,
    });
    keys.a = await keySet(1);
    keys.b = await keySet(2);
    await createKeySet('tenant-a', 'a', keys.a);
    await createKeySet('tenant-b', 'b', keys.b);
    a = await startIssuerProcess({
      kubeconfigPath: sa.kubeconfigPath,
      namespaces: [ns],
      replica: 'issuer-a',
      namespace: serverNs,
      tlsDir,
    });
  });

  after(async () => {
    await a.stop('SIGTERM');
    // Never anything forbidden: the RBAC it ships is all it needs.
    expect(a.output()).to.not.match(/HTTP 403|forbidden/i);
  });

  it('serves the discovery document and JWKS of two issuers behind one host, by path', async () => {
    const jwks = await waitFor('tenant a served', async () => {
      const got = await fetchFrom(a, `${issuerOf('a')}/.well-known/jwks.json`);
      return got.status === 200 ? got : undefined;
    });
    expect(jwks.body).to.equal(keys.a?.jwks);
    expect(jwks.headers).to.include({
      'content-type': 'application/jwk-set+json',
      'cache-control': 'public, max-age=120',
      etag: `"${keys.a?.version ?? ''}"`,
      'access-control-allow-origin': '*',
      'x-content-type-options': 'nosniff',
    });
    const discovery = await fetchFrom(a, `${issuerOf('b')}/.well-known/openid-configuration`);
    expect(discovery.status).to.equal(200);
    expect(discovery.headers['content-type']).to.equal('application/json');
    expect(discovery.headers.etag).to.match(/^"oidc-[0-9a-f]{16}"$/);
    expect(JSON.parse(discovery.body)).to.deep.equal({
      issuer: issuerOf('b'),
      jwks_uri: `${issuerOf('b')}/.well-known/jwks.json`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
    });
    const b = await fetchFrom(a, `${issuerOf('b')}/.well-known/jwks.json`);
    expect((JSON.parse(b.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).to.deep.equal(
      keys.b?.kids,
    );
  });

  it('answers HEAD, If-None-Match, CORS preflight, 404 and 405 as caches and browsers expect', async () => {
    const url = `${issuerOf('a')}/.well-known/jwks.json`;
    const etag = `"${keys.a?.version ?? ''}"`;
    const head = await fetchFrom(a, url, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
    expect(head.headers['content-length']).to.equal(String(Buffer.byteLength(keys.a?.jwks ?? '')));
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const cached = await fetchFrom(a, url, { headers: { 'If-None-Match': ifNoneMatch } });
      expect(cached.status, ifNoneMatch).to.equal(304);
      expect(cached.body).to.equal('');
      expect(cached.headers).to.include({
        etag,
        'cache-control': 'public, max-age=120',
        'access-control-allow-origin': '*',
      });
    }
    expect((await fetchFrom(a, url, { headers: { 'If-None-Match': '"other"' } })).status).to.equal(200);
    const preflight = await fetchFrom(a, url, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'if-none-match',
      },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers).to.include({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD, OPTIONS',
      'access-control-max-age': '86400',
    });
    const post = await fetchFrom(a, url, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal('GET, HEAD, OPTIONS');
    const unknown = await fetchFrom(a, `${issuerOf('zzz')}/.well-known/jwks.json`);
    expect(unknown.status).to.equal(404);
    expect(JSON.parse(unknown.body)).to.deep.equal({ error: 'not_found' });
    // A proxy that sends its own Host: the path alone names one issuer.
    const proxied = await fetchFrom(a, `https://issuer.example.internal/tenants/a/.well-known/jwks.json`);
    expect(proxied.status).to.equal(200);
    expect(proxied.body).to.equal(keys.a?.jwks);
  });

  it('reports the version it serves and who fetched it in status, as its own server-side apply entry', async () => {
    await fetchFrom(a, `${issuerOf('a')}/.well-known/jwks.json`);
    const entry = await waitFor('issuer-a to report tenant-a with a fetch', async () => {
      const e = await entryOf('tenant-a', 'issuer-a');
      return e?.fetchers?.some((f) => f.client === '127.0.0.1 jwtr-test/1.0') ? e : undefined;
    });
    expect(entry).to.deep.include({ lease: `${serverNs}/jwt-issuer-issuer-a`, version: keys.a?.version });
    expect(Date.parse(entry.since ?? '')).to.be.greaterThan(Date.now() - 300_000);
    expect(entry.fetchers?.[0]).to.deep.include({
      client: '127.0.0.1 jwtr-test/1.0',
      version: keys.a?.version,
    });
    // Written by server-side apply, on the status subresource, under the replica's own field manager.
    const managers = (await read('tenant-a')).metadata.managedFields ?? [];
    const own = managers.filter((m) => m.manager === 'jwt-issuer/issuer-a');
    expect(own.map((m) => [m.operation, m.subresource])).to.deep.equal([['Apply', 'status']]);
  });

  it('serves a new key set version as soon as the watch sees it, and reports it with a fetch of it', async () => {
    const before = await entryOf('tenant-a', 'issuer-a');
    keys.a = await keySet(2);
    await custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        name: 'tenant-a',
        body: { spec: { jwks: keys.a.jwks, version: keys.a.version, keyCount: 2 } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const url = `${issuerOf('a')}/.well-known/jwks.json`;
    const served = await waitFor('the new version served', async () => {
      const got = await fetchFrom(a, url, { headers: { 'If-None-Match': `"${before?.version ?? ''}"` } });
      return got.status === 200 ? got : undefined;
    });
    expect(served.headers.etag).to.equal(`"${keys.a.version}"`);
    expect(served.body).to.equal(keys.a.jwks);
    const entry = await waitFor('the new version reported with its fetch', async () => {
      const e = await entryOf('tenant-a', 'issuer-a');
      return e?.version === keys.a?.version && e?.fetchers?.[0]?.version === keys.a?.version ? e : undefined;
    });
    expect(Date.parse(entry.since ?? '')).to.be.greaterThan(Date.parse(before?.since ?? ''));
    expect(entry.fetchers?.filter((f) => f.client === '127.0.0.1 jwtr-test/1.0')).to.have.length(1);
  });

  it('takes a rotated certificate for new connections without a restart', async () => {
    const url = `${issuerOf('b')}/.well-known/openid-configuration`;
    const old = new X509Certificate(await readFile(pki.certFile)).fingerprint256;
    expect((await fetchFrom(a, url)).certificate).to.equal(old);
    const next = await makeTestPki([host, 'issuer.example.internal']);
    await writeSecretVolume(tlsDir, {
      'tls.crt': await readFile(next.certFile, 'utf8'),
      'tls.key': await readFile(next.keyFile, 'utf8'),
      'ca.crt': next.caPem,
    });
    const fresh = new X509Certificate(await readFile(next.certFile)).fingerprint256;
    const seen = await waitFor('the new certificate served', async () => {
      const got = await issuerRequest(a.httpsPort, url, { ca: next.caPem }).catch(() => undefined);
      return got?.status === 200 ? got : undefined;
    });
    expect(seen.certificate).to.equal(fresh);
    expect(a.running()).to.equal(true);
    expect(await a.metric('jwt_issuer_certificate_reloads_total', { result: 'success' })).to.equal(2);
    pki = next;
  });

  it('may read no Secret and no ConfigMap, nor change a PublishedKeySet spec (RBAC as shipped)', async () => {
    // Granted, so the refusals below are RBAC's and not a broken token's.
    expect(await sa.can('list', 'publishedkeysets.jwtrotation.io')).to.equal(true);
    expect(await sa.can('watch', 'publishedkeysets.jwtrotation.io', ns)).to.equal(true);
    expect(await sa.can('update', 'leases.coordination.k8s.io', serverNs)).to.equal(true);
    const refused: [string, string, string?][] = [
      ['get', 'secrets'],
      ['get', 'secrets', ns],
      ['get', 'secrets', serverNs],
      ['list', 'secrets', serverNs],
      ['get', 'configmaps', ns],
      ['list', 'configmaps'],
      ['patch', 'publishedkeysets.jwtrotation.io', ns],
      ['update', 'publishedkeysets.jwtrotation.io', ns],
      ['create', 'publishedkeysets.jwtrotation.io', ns],
      ['delete', 'publishedkeysets.jwtrotation.io', ns],
      ['get', 'jwtrotations.jwtrotation.io', ns],
      ['get', 'leases.coordination.k8s.io', ns],
      ['list', 'leases.coordination.k8s.io', serverNs],
      ['create', 'events', serverNs],
    ];
    for (const [verb, resource, namespace] of refused) {
      expect(
        await sa.can(verb, resource, namespace),
        `${verb} ${resource} in ${namespace ?? 'every namespace'}`,
      ).to.equal(false);
    }
    // The same question asked by the admin on the ServiceAccount's behalf (impersonation).
    const as = `--as=system:serviceaccount:${serverNs}:jwt-issuer`;
    const impersonated = await cluster.kubectl(['auth', 'can-i', 'get', 'secrets', as, '-n', serverNs]);
    expect([impersonated.code, impersonated.stdout.trim()]).to.deep.equal([1, 'no']);
    // Everything it may do in its own namespace, kept with the cluster's logs for a reader.
    const list = await cluster.kubectl(['auth', 'can-i', '--list', as, '-n', serverNs]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.not.match(/^secrets|^configmaps|^\*\.\*/m);
    mkdirSync(path.join(clusterDir, 'logs', 'issuers'), { recursive: true });
    writeFileSync(
      path.join(clusterDir, 'logs', 'issuers', 'can-i-list.txt'),
      `kubectl auth can-i --list ${as} -n ${serverNs}\n${list.stdout}`,
    );
    const core = sa.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await cluster.kubeConfig.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({
      namespace: serverNs,
      body: { metadata: { name: 'not-for-the-issuer' }, stringData: { password: 'hunter2' } },
    });
    expect(
      await statusOf(core.readNamespacedSecret({ namespace: serverNs, name: 'not-for-the-issuer' })),
      'read a Secret in its own namespace',
    ).to.equal(403);
    expect(await statusOf(core.listSecretForAllNamespaces()), 'list Secrets').to.equal(403);
    expect(await statusOf(core.listNamespacedConfigMap({ namespace: ns })), 'list ConfigMaps').to.equal(403);
    const saCustom = sa.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    expect(
      await statusOf(
        saCustom.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: ns,
            plural: PLURAL,
            name: 'tenant-a',
            body: { spec: { maxAgeSeconds: 1 } },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        ),
      ),
      'change a PublishedKeySet spec',
    ).to.equal(403);
  });

  it('runs two replicas, each with its own status entry and its own Lease; SIGTERM deletes the Lease', async () => {
    const b = await startIssuerProcess({
      kubeconfigPath: sa.kubeconfigPath,
      namespaces: [ns],
      replica: 'issuer-b',
      namespace: serverNs,
      tlsDir,
    });
    await fetchFrom(b, `${issuerOf('b')}/.well-known/jwks.json`);
    const both = await waitFor('both replicas in the status of tenant-b', async () => {
      const servers = (await read('tenant-b')).status?.servers ?? [];
      const b2 = servers.find((s) => s.name === 'issuer-b');
      return servers.some((s) => s.name === 'issuer-a') && b2?.fetchers?.length === 1 ? servers : undefined;
    });
    expect(both.map((s) => [s.name, s.lease, s.version])).to.have.deep.members([
      ['issuer-a', `${serverNs}/jwt-issuer-issuer-a`, keys.b?.version],
      ['issuer-b', `${serverNs}/jwt-issuer-issuer-b`, keys.b?.version],
    ]);
    for (const replica of ['issuer-a', 'issuer-b']) {
      const lease = await leases.readNamespacedLease({ namespace: serverNs, name: `jwt-issuer-${replica}` });
      expect(lease.metadata?.labels?.['jwtrotation.io/issuer-server']).to.equal('true');
      expect(lease.spec).to.deep.include({ holderIdentity: replica, leaseDurationSeconds: 30 });
      expect(Date.parse(String(lease.spec?.renewTime))).to.be.greaterThan(Date.now() - 60_000);
    }
    await waitFor('issuer-b ready', async () => ((await b.readyz()) === 200 ? true : undefined));
    expect(await b.stop('SIGTERM')).to.equal(0);
    expect(
      await statusOf(leases.readNamespacedLease({ namespace: serverNs, name: 'jwt-issuer-issuer-b' })),
    ).to.equal(404);
    // The other replica's Lease is untouched.
    await leases.readNamespacedLease({ namespace: serverNs, name: 'jwt-issuer-issuer-a' });
    expect(b.output()).to.not.match(/HTTP 403|forbidden/i);
  });

  it('after a restart of the same pod, carries its entry over without writing it again', async () => {
    const before = await entryOf('tenant-b', 'issuer-a');
    expect(await a.stop('SIGTERM')).to.equal(0);
    a = await startIssuerProcess({
      kubeconfigPath: sa.kubeconfigPath,
      namespaces: [ns],
      replica: 'issuer-a',
      namespace: serverNs,
      tlsDir,
    });
    await waitFor('issuer-a ready again', async () => ((await a.readyz()) === 200 ? true : undefined));
    expect((await fetchFrom(a, `${issuerOf('b')}/.well-known/jwks.json`)).status).to.equal(200);
    expect(await a.metric('jwt_issuer_status_writes_total')).to.equal(0);
    expect(await entryOf('tenant-b', 'issuer-a')).to.deep.equal(before);
  });
});
