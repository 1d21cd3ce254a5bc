/**
 * What a JwtRotation may make the operator read and where it may make it send: a referenced Secret
 * must name the JwtRotation in its jwtrotation.io/allow-references annotation, and a URL must pass
 * the administrator's outbound allowlist.
 */
import { expect } from 'chai';

import { DEFAULT_OUTBOUND_HOSTS, hostAllowed, refusedUrl } from '../../src/platform/outbound.ts';
import { allowsReference, readReference } from '../../src/reconcile/references.ts';
import { MemorySecrets } from '../support/memory-ports.ts';

describe('references to Secrets need their consent', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['no annotation', {}, false],
    ['the JwtRotation by name', { 'jwtrotation.io/allow-references': 'api' }, true],
    ['a list with spaces that names it', { 'jwtrotation.io/allow-references': 'billing, api ,x' }, true],
    ['*', { 'jwtrotation.io/allow-references': '*' }, true],
    ['other JwtRotations only', { 'jwtrotation.io/allow-references': 'billing,api-2' }, false],
    ['a prefix of the name', { 'jwtrotation.io/allow-references': 'ap' }, false],
    ['an empty value', { 'jwtrotation.io/allow-references': '' }, false],
    ['a look-alike annotation', { 'jwtrotation.io/allow-reference': 'api' }, false],
  ];
  for (const [what, annotations, allowed] of cases) {
    it(`${allowed ? 'allows' : 'refuses'} JwtRotation api for a Secret with ${what}`, () => {
      expect(allowsReference(annotations, 'api')).to.equal(allowed);
    });
  }

  const referrer = { name: 'api', secretName: 'api-jwt' };
  const ref = { name: 'db', key: 'password' };

  it('reads the value of a Secret that allows it, and undefined for a key it does not have', async () => {
    const secrets = new MemorySecrets();
    secrets.put('ns', 'db', { password: 'hunter2' }, { 'jwtrotation.io/allow-references': 'api' });
    expect(await readReference(secrets, 'ns', referrer, ref, 'the token')).to.deep.equal({
      ok: true,
      value: 'hunter2',
    });
    expect(await readReference(secrets, 'ns', referrer, { name: 'db', key: 'x' }, 'the token')).to.deep.equal(
      { ok: true, value: undefined },
    );
  });

  it('says the same for a missing Secret as for one that does not consent, and never shows a value', async () => {
    const secrets = new MemorySecrets();
    secrets.put('ns', 'db', { password: 'hunter2' });
    const refused = await readReference(secrets, 'ns', referrer, ref, 'the token');
    const missing = await readReference(
      secrets,
      'ns',
      referrer,
      { name: 'nope', key: 'password' },
      'the token',
    );
    expect(refused).to.include({ ok: false, reason: 'ReferenceNotAllowed' });
    expect(missing).to.include({ ok: false, reason: 'ReferenceNotAllowed' });
    if (refused.ok || missing.ok) return;
    expect(missing.message.replace('nope', 'db')).to.equal(refused.message);
    expect(refused.message).to.include('jwtrotation.io/allow-references: api');
    expect(refused.message).to.not.include('hunter2');
  });

  for (const name of ['api-jwt', 'billing-jwtrotation-backup']) {
    it(`never uses ${name} (a Secret of keys), even when it says *`, async () => {
      const secrets = new MemorySecrets();
      secrets.put('ns', name, { JWT_SECRET: 'k' }, { 'jwtrotation.io/allow-references': '*' });
      const read = await readReference(secrets, 'ns', referrer, { name, key: 'JWT_SECRET' }, 'the token');
      expect(read).to.include({ ok: false, reason: 'ReferenceNotAllowed' });
    });
  }
});

describe('the outbound allowlist', () => {
  const cases: [string, readonly string[], string, boolean][] = [
    ['a Service by its .svc name', DEFAULT_OUTBOUND_HOSTS, 'prometheus.monitoring.svc', true],
    ['a Service by its full name', DEFAULT_OUTBOUND_HOSTS, 'prometheus.monitoring.svc.cluster.local', true],
    [
      'a full name with the root dot',
      DEFAULT_OUTBOUND_HOSTS,
      'prometheus.monitoring.svc.cluster.local.',
      true,
    ],
    ['an outside host', DEFAULT_OUTBOUND_HOSTS, 'evil.example.com', false],
    ['a short Service name (a search-path lookup)', DEFAULT_OUTBOUND_HOSTS, 'prometheus.monitoring', false],
    ['a name that only contains .svc', DEFAULT_OUTBOUND_HOSTS, 'x.svc.evil.example', false],
    ['a look-alike suffix', DEFAULT_OUTBOUND_HOSTS, 'evilsvc', false],
    ['an IP address', DEFAULT_OUTBOUND_HOSTS, '10.96.0.1', false],
    ['loopback when listed', ['127.0.0.1'], '127.0.0.1', true],
    ['an exact host in capitals', ['hooks.slack.com'], 'HOOKS.slack.com', true],
    ['a sub-domain of an exact host', ['hooks.slack.com'], 'x.hooks.slack.com', false],
    ['the suffix itself of a *. pattern', ['*.logic.azure.com'], 'logic.azure.com', false],
    ['anything under *', ['*'], 'anything.example', true],
  ];
  for (const [what, patterns, host, allowed] of cases) {
    it(`${allowed ? 'allows' : 'refuses'} ${what}`, () => {
      expect(hostAllowed(patterns, host)).to.equal(allowed);
    });
  }

  const policy = { hosts: ['*.svc', '127.0.0.1'], allowHttpReceivers: false };

  it('refuses an http:// receiver unless the administrator allows them; Prometheus may be http://', () => {
    expect(refusedUrl(policy, 'http://hook.ns.svc/x', 'receiver', false)).to.include(
      'NOTIFICATIONS_ALLOW_HTTP',
    );
    expect(refusedUrl(policy, 'https://hook.ns.svc/x', 'receiver', false)).to.equal(undefined);
    expect(
      refusedUrl({ ...policy, allowHttpReceivers: true }, 'http://hook.ns.svc/x', 'receiver', false),
    ).to.equal(undefined);
    expect(refusedUrl(policy, 'http://prometheus.ns.svc:9090', 'prometheus', true)).to.equal(undefined);
  });

  it('names the host of a spec URL, never the host of a URL from a Secret', () => {
    expect(refusedUrl(policy, 'https://evil.example/t', 'prometheus', true)).to.include('host evil.example ');
    const hidden = refusedUrl(policy, 'https://evil.example/secret-path', 'receiver', false);
    expect(hidden).to.include("not in the operator's outbound allowlist");
    expect(hidden).to.not.include('evil.example');
  });

  it('refuses what is not an http(s) URL', () => {
    for (const url of ['file:///etc/passwd', 'gopher://x.svc', 'not a url', 'https://']) {
      expect(refusedUrl(policy, url, 'receiver', false)).to.equal('is not an http(s) URL');
    }
  });
});
