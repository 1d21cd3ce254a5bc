/**
 * The issuer port's answers, without a socket: routing by Host and issuer path (and by path alone),
 * the documents and their headers, ETag and If-None-Match, CORS, 404 and 405, and that answers are
 * the ones prepared once per key-set version.
 */
import { expect } from 'chai';
import { ifNoneMatchMatches } from '../../src/issuer/conditional.ts';
import { KeySetProblem, prepareIssuer, type PreparedIssuer } from '../../src/issuer/documents.ts';
import { IssuerIndex, normalizeHost, type IssuerEntry } from '../../src/issuer/issuer-index.ts';
import type { PublishedKeySetSpec } from '../../src/api/published-key-set.ts';
import { answer, parseTarget, type IssuerRequest } from '../../src/issuer/routes.ts';

const JWKS = JSON.stringify({
  keys: [
    {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      kid: 'k1',
      use: 'sig',
      alg: 'ES256',
    },
  ],
});

function spec(overrides: Partial<PublishedKeySetSpec> = {}): PublishedKeySetSpec {
  return {
    issuer: 'https://id.example.com/tenants/a',
    algorithm: 'ES256',
    version: 'v1',
    maxAgeSeconds: 300,
    jwks: JWKS,
    ...overrides,
  };
}

function entry(key: string, s: PublishedKeySetSpec, created = '2026-12-01T00:00:00Z'): IssuerEntry {
  const [namespace = '', name = ''] = key.split('/');
  return { key, namespace, name, created, prepared: prepareIssuer(s) };
}

function get(url: string, more: Partial<IssuerRequest> = {}): IssuerRequest {
  return { method: 'GET', host: 'id.example.com', url, ifNoneMatch: undefined, ...more };
}

describe('the issuer documents', () => {
  it('serves a discovery document whose issuer is spec.issuer byte for byte, and only truthful fields', () => {
    const prepared = prepareIssuer(spec());
    expect(JSON.parse(prepared.discovery.ok.body.toString())).to.deep.equal({
      issuer: 'https://id.example.com/tenants/a',
      jwks_uri: 'https://id.example.com/tenants/a/.well-known/jwks.json',
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
    });
    expect(prepared.discovery.ok.headers['Content-Type']).to.equal('application/json');
  });

  it('serves the JWKS as written, with the version as its strong ETag and the caching headers', () => {
    const prepared = prepareIssuer(spec());
    expect(prepared.jwks.ok.body.toString()).to.equal(JWKS);
    expect(prepared.jwks.ok.headers).to.include({
      'Content-Type': 'application/jwk-set+json',
      'Cache-Control': 'public, max-age=300',
      ETag: '"v1"',
      'X-Content-Type-Options': 'nosniff',
      'Access-Control-Allow-Origin': '*',
      'Content-Length': Buffer.byteLength(JWKS),
    });
  });

  it('gives discovery a strong ETag of its own bytes, the same whatever the key set version', () => {
    const a = prepareIssuer(spec({ version: 'v1' }));
    const b = prepareIssuer(spec({ version: 'v2', jwks: '{"keys":[]}' }));
    expect(a.discovery.etag).to.match(/^"oidc-[0-9a-f]{16}"$/);
    expect(b.discovery.etag).to.equal(a.discovery.etag);
    expect(prepareIssuer(spec({ algorithm: 'RS256' })).discovery.etag).to.not.equal(a.discovery.etag);
  });

  it('makes a 304 with the validators and caching headers of the 200 and no body', () => {
    const { notModified } = prepareIssuer(spec()).jwks;
    expect(notModified.status).to.equal(304);
    expect(notModified.body.length).to.equal(0);
    expect(notModified.headers).to.include({ ETag: '"v1"', 'Cache-Control': 'public, max-age=300' });
    expect(notModified.headers).to.not.have.property('Content-Type');
  });

  const refused: [string, Partial<PublishedKeySetSpec>, RegExp][] = [
    ['a JWKS that is not JSON', { jwks: '{keys:' }, /not JSON/],
    ['a JWKS without keys', { jwks: '{"key":[]}' }, /not a JWK Set/],
    [
      'a private EC key (d)',
      { jwks: JSON.stringify({ keys: [{ kty: 'EC', d: 'secret' }] }) },
      /private members \(d\)/,
    ],
    [
      'a symmetric key (k)',
      { jwks: JSON.stringify({ keys: [{ kty: 'oct', k: 'secret' }] }) },
      /private members \(k\)/,
    ],
    [
      'an RSA private key',
      { jwks: JSON.stringify({ keys: [{ kty: 'RSA', n: 'n', e: 'AQAB', p: 'x', q: 'y' }] }) },
      /\(p, q\)/,
    ],
    ['an http issuer', { issuer: 'http://id.example.com' }, /https URL/],
    ['an issuer with a query', { issuer: 'https://id.example.com/a?b=c' }, /without query/],
    ['an issuer ending in a slash', { issuer: 'https://id.example.com/a/' }, /slash/],
  ];
  for (const [what, overrides, message] of refused) {
    it(`refuses ${what}, saying why without the key material`, () => {
      expect(() => prepareIssuer(spec(overrides)))
        .to.throw(KeySetProblem, message)
        .with.property('message')
        .that.does.not.include('secret');
    });
  }
});

describe('If-None-Match', () => {
  const cases: [string | string[] | undefined, boolean][] = [
    [undefined, false],
    ['"v1"', true],
    ['"v0"', false],
    ['W/"v1"', true],
    ['"v0", "v1"', true],
    ['"v0",W/"v1" , "v2"', true],
    ['"v0", , "v2"', false],
    ['"v0", , "v1"', true],
    ['*', true],
    [' * ', true],
    ['v1', false],
    ['"v1', false],
    ['"v1" garbage', false],
    [['"v0"', '"v1"'], true],
    ['"V1"', false],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} ${expected ? 'matches' : 'does not match'} "v1"`, () => {
      expect(ifNoneMatchMatches(header, '"v1"')).to.equal(expected);
    });
  }
});

describe('the issuer routes', () => {
  let index: IssuerIndex;
  let a: IssuerEntry;
  let b: IssuerEntry;
  let root: IssuerEntry;

  beforeEach(() => {
    index = new IssuerIndex();
    a = entry('ns/a', spec());
    b = entry('ns/b', spec({ issuer: 'https://id.example.com/tenants/b', version: 'vb' }));
    root = entry('other/root', spec({ issuer: 'https://other.example.org:8443', version: 'vr' }));
    for (const e of [a, b, root]) index.set(e);
  });

  it('splits a target into the issuer path and the document, ignoring the query', () => {
    expect(parseTarget('/tenants/a/.well-known/jwks.json?x=1')).to.deep.equal({
      issuerPath: '/tenants/a',
      route: 'jwks',
    });
    expect(parseTarget('/.well-known/openid-configuration')).to.deep.equal({
      issuerPath: '',
      route: 'discovery',
    });
    expect(parseTarget('/tenants/a')).to.deep.equal({ issuerPath: '/tenants/a', route: 'unknown' });
  });

  it('serves two issuers behind one host by their paths', () => {
    const ja = answer(index, get('/tenants/a/.well-known/jwks.json'));
    const jb = answer(index, get('/tenants/b/.well-known/jwks.json'));
    expect(ja.prepared).to.equal(a.prepared.jwks.ok);
    expect(jb.prepared).to.equal(b.prepared.jwks.ok);
    const db = answer(index, get('/tenants/b/.well-known/openid-configuration'));
    expect((JSON.parse(db.prepared.body.toString()) as { issuer: string }).issuer).to.equal(
      'https://id.example.com/tenants/b',
    );
  });

  it('answers from the answers prepared for the version, not from new ones per request', () => {
    const first = answer(index, get('/tenants/a/.well-known/jwks.json'));
    const second = answer(index, get('/tenants/a/.well-known/jwks.json'));
    expect(second.prepared).to.equal(first.prepared);
    expect(second.prepared.body).to.equal(first.prepared.body);
  });

  it('matches the Host without case, the default port or a trailing dot, and with a port when the issuer has one', () => {
    expect(normalizeHost('ID.Example.COM:443')).to.equal('id.example.com');
    expect(
      answer(index, get('/tenants/a/.well-known/jwks.json', { host: 'ID.example.com.' })).prepared,
    ).to.equal(a.prepared.jwks.ok);
    expect(
      answer(index, get('/.well-known/jwks.json', { host: 'other.example.org:8443' })).prepared,
    ).to.equal(root.prepared.jwks.ok);
  });

  it('falls back to the path alone when exactly one issuer has it (a proxy that rewrites Host)', () => {
    const viaProxy = answer(
      index,
      get('/tenants/a/.well-known/jwks.json', { host: 'issuer.svc.cluster.local' }),
    );
    expect(viaProxy.prepared).to.equal(a.prepared.jwks.ok);
    // Two issuers with the path /tenants/a on different hosts: no guess.
    index.set(entry('ns/c', spec({ issuer: 'https://other.example.org/tenants/a', version: 'vc' })));
    expect(
      answer(index, get('/tenants/a/.well-known/jwks.json', { host: 'issuer.svc' })).prepared.status,
    ).to.equal(404);
    // The exact host still wins.
    expect(answer(index, get('/tenants/a/.well-known/jwks.json')).prepared).to.equal(a.prepared.jwks.ok);
  });

  it('answers 404 with a small JSON body for an unknown issuer or document', () => {
    for (const url of [
      '/tenants/z/.well-known/jwks.json',
      '/tenants/a/keys',
      '/',
      '/tenants/a/.well-known/jwks.json/',
    ]) {
      const got = answer(index, get(url));
      expect(got.prepared.status, url).to.equal(404);
      expect(JSON.parse(got.prepared.body.toString())).to.deep.equal({ error: 'not_found' });
      expect(got.prepared.headers).to.include({
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
      });
      expect(got.fetch).to.equal(undefined);
    }
  });

  it('answers 405 with Allow to methods other than GET, HEAD and OPTIONS', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const got = answer(index, get('/tenants/a/.well-known/jwks.json', { method }));
      expect(got.prepared.status).to.equal(405);
      expect(got.prepared.headers.Allow).to.equal('GET, HEAD, OPTIONS');
      expect(got.fetch).to.equal(undefined);
    }
  });

  it('answers a CORS preflight with 204 and the methods, headers and max age', () => {
    const got = answer(index, get('/tenants/a/.well-known/jwks.json', { method: 'OPTIONS' }));
    expect(got.prepared.status).to.equal(204);
    expect(got.prepared.headers).to.include({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Max-Age': '86400',
    });
    expect(String(got.prepared.headers['Access-Control-Allow-Headers'])).to.include('If-None-Match');
    expect(got.fetch).to.equal(undefined);
  });

  it('answers If-None-Match with the current version with 304, and records the fetch either way', () => {
    const fresh = answer(index, get('/tenants/a/.well-known/jwks.json', { ifNoneMatch: '"v1"' }));
    expect(fresh.prepared).to.equal(a.prepared.jwks.notModified);
    expect(fresh.fetch).to.deep.equal({ entry: a, version: 'v1' });
    const stale = answer(index, get('/tenants/a/.well-known/jwks.json', { ifNoneMatch: '"v0"' }));
    expect(stale.prepared).to.equal(a.prepared.jwks.ok);
    expect(stale.fetch).to.deep.equal({ entry: a, version: 'v1' });
    const head = answer(index, get('/tenants/a/.well-known/jwks.json', { method: 'HEAD' }));
    expect(head.prepared).to.equal(a.prepared.jwks.ok);
    expect(head.fetch?.version).to.equal('v1');
  });

  it('does not record discovery fetches', () => {
    const got = answer(index, get('/tenants/a/.well-known/openid-configuration'));
    expect(got.route).to.equal('discovery');
    expect(got.fetch).to.equal(undefined);
    const revalidated = answer(
      index,
      get('/tenants/a/.well-known/openid-configuration', { ifNoneMatch: a.prepared.discovery.etag }),
    );
    expect(revalidated.prepared.status).to.equal(304);
  });

  it('serves the oldest of two PublishedKeySets that claim one issuer, on every replica alike', () => {
    const newer = entry('ns2/a', spec({ version: 'newer' }), '2026-12-02T00:00:00Z');
    index.set(newer);
    expect(answer(index, get('/tenants/a/.well-known/jwks.json')).fetch?.version).to.equal('v1');
    expect(index.isServed('ns2/a')).to.equal(false);
    expect(index.counts()).to.deep.equal({ total: 4, conflicting: 1 });
    index.remove('ns/a');
    expect(answer(index, get('/tenants/a/.well-known/jwks.json')).fetch?.version).to.equal('newer');
    expect(index.isServed('ns2/a')).to.equal(true);
  });

  it('forgets an issuer when its PublishedKeySet is removed', () => {
    index.remove('ns/b');
    expect(answer(index, get('/tenants/b/.well-known/jwks.json')).prepared.status).to.equal(404);
    expect(answer(index, get('/tenants/a/.well-known/jwks.json')).prepared.status).to.equal(200);
  });

  it('moves an issuer when its PublishedKeySet names another', () => {
    const moved: PreparedIssuer = prepareIssuer(
      spec({ issuer: 'https://id.example.com/tenants/z', version: 'v9' }),
    );
    index.set({ ...a, prepared: moved });
    expect(answer(index, get('/tenants/a/.well-known/jwks.json')).prepared.status).to.equal(404);
    expect(answer(index, get('/tenants/z/.well-known/jwks.json')).fetch?.version).to.equal('v9');
  });
});
