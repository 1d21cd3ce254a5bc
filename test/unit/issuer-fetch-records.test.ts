/**
 * The fetch records one replica reports per key set: which version it serves and since when, its
 * most recent distinct clients, and what counts as a change worth a status write.
 */
import { expect } from 'chai';
import { FetchLog, clientName, firstProduct } from '../../src/issuer/fetch-records.ts';
import { MAX_FETCHERS } from '../../src/api/published-key-set.ts';

const T0 = '2026-12-07T10:00:00.000Z';
const T1 = '2026-12-07T10:00:05.000Z';
const T2 = '2026-12-07T10:00:09.000Z';

describe('the client of a fetch record', () => {
  it("is the address and the User-Agent's first product", () => {
    expect(clientName('10.244.0.1', 'kube-apiserver/v1.37.2 (linux/amd64) kubernetes/abcdef')).to.equal(
      '10.244.0.1 kube-apiserver/v1.37.2',
    );
    expect(clientName('::ffff:127.0.0.1', 'Go-http-client/1.1')).to.equal('127.0.0.1 Go-http-client/1.1');
    expect(clientName('fd00::1', undefined)).to.equal('fd00::1');
    expect(clientName(undefined, '')).to.equal('unknown');
  });

  it('keeps a hostile User-Agent short and printable', () => {
    expect(firstProduct('  \u0000evil')).to.equal('');
    expect(firstProduct('a'.repeat(1000))).to.have.length(128);
    expect(clientName('10.0.0.1', `x/${'y'.repeat(1000)}`).length).to.be.at.most(256);
    expect(firstProduct('curl/8.5.0\r\nX-Injected: 1')).to.equal('curl/8.5.0');
  });
});

describe('a FetchLog', () => {
  it('reports nothing before a version is served', () => {
    expect(new FetchLog().entry('pod-a', 'ns/lease')).to.equal(undefined);
  });

  it('says a new version served is a change, and the same one again is not', () => {
    const log = new FetchLog();
    expect(log.serve('v1', T0)).to.equal('version');
    expect(log.serve('v1', T1)).to.equal('none');
    expect(log.entry('pod-a', 'ns/lease')).to.deep.equal({
      name: 'pod-a',
      lease: 'ns/lease',
      version: 'v1',
      since: T0,
      fetchers: [],
    });
    expect(log.serve('v2', T2)).to.equal('version');
    expect(log.entry('pod-a', 'ns/lease')).to.include({ version: 'v2', since: T2 });
  });

  it('says a new client, or a client with another version, is a change; the same pair again is not', () => {
    const log = new FetchLog();
    log.serve('v1', T0);
    expect(log.fetched('10.0.0.1 kube-apiserver/v1.37.2', 'v1', T0)).to.equal('fetchers');
    expect(log.fetched('10.0.0.1 kube-apiserver/v1.37.2', 'v1', T1)).to.equal('none');
    log.serve('v2', T1);
    expect(log.fetched('10.0.0.1 kube-apiserver/v1.37.2', 'v2', T2)).to.equal('fetchers');
    // One entry per client, with the version it got last, and when it first got it.
    expect(log.entry('pod-a', 'ns/l')?.fetchers).to.deep.equal([
      { client: '10.0.0.1 kube-apiserver/v1.37.2', version: 'v2', at: T2 },
    ]);
  });

  it('lists the most recent client first, a repeated fetch counting as recent', () => {
    const log = new FetchLog();
    log.serve('v1', T0);
    log.fetched('a', 'v1', T0);
    log.fetched('b', 'v1', T1);
    log.fetched('a', 'v1', T2);
    expect(log.entry('p', 'l')?.fetchers?.map((f) => [f.client, f.at])).to.deep.equal([
      ['a', T0],
      ['b', T1],
    ]);
  });

  it(`keeps at most ${MAX_FETCHERS} clients, dropping the least recent`, () => {
    const log = new FetchLog();
    log.serve('v1', T0);
    for (let i = 0; i < MAX_FETCHERS; i++) log.fetched(`c${i}`, 'v1', T0);
    log.fetched('c0', 'v1', T1); // c0 is recent again: c1 is now the least recent
    expect(log.fetched('new', 'v1', T2)).to.equal('fetchers');
    const clients = log.entry('p', 'l')?.fetchers?.map((f) => f.client) ?? [];
    expect(clients).to.have.length(MAX_FETCHERS);
    expect(clients[0]).to.equal('new');
    expect(clients[1]).to.equal('c0');
    expect(clients).to.not.include('c1');
  });

  it('carries since and fetchers over from its own status entry after a restart, with nothing to write', () => {
    const log = new FetchLog();
    const seed = {
      name: 'pod-a',
      lease: 'ns/l',
      version: 'v1',
      since: T0,
      fetchers: [
        { client: 'b', version: 'v1', at: T1 },
        { client: 'a', version: 'v0', at: T0 },
      ],
    };
    expect(log.serve('v1', T2, seed)).to.equal('none');
    expect(log.entry('pod-a', 'ns/l')).to.deep.equal(seed);
    expect(log.fetched('b', 'v1', T2)).to.equal('none');
  });

  it('writes after a restart that finds its entry on an older version, keeping the clients it had', () => {
    const log = new FetchLog();
    const seed = {
      name: 'p',
      lease: 'l',
      version: 'v0',
      since: T0,
      fetchers: [{ client: 'a', version: 'v0', at: T0 }],
    };
    expect(log.serve('v1', T2, seed)).to.equal('version');
    expect(log.entry('p', 'l')).to.deep.equal({ ...seed, version: 'v1', since: T2 });
  });
});
