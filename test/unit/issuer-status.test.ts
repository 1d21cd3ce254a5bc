/**
 * When the issuer server writes status: KeySets (what changed) and StatusReporter (when a write goes
 * out) over a manual clock. The API is a recorder of apply calls, standing in for the one request
 * this unit makes; test/integration/issuer-server.test.ts writes to the real API server.
 */
import { ApiException, type CustomObjectsApi } from '@kubernetes/client-node';
import { expect } from 'chai';
import { KeySets } from '../../src/issuer/key-sets.ts';
import { IssuerMetrics } from '../../src/issuer/metrics.ts';
import type { PublishedKeySet, ServerEntry } from '../../src/api/published-key-set.ts';
import { StatusReporter } from '../../src/issuer/status-reporter.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { ManualClock } from '../support/test-clocks.ts';

const logger = createLogger({ level: 'error', silent: true });

interface Call {
  namespace: string;
  name: string;
  fieldManager: string;
  entry: ServerEntry;
  settle: (error?: Error) => void;
}

/** Records each apply and lets the test settle it. */
class ApplyRecorder {
  readonly calls: Call[] = [];
  readonly api = {
    patchNamespacedCustomObjectStatus: (request: {
      namespace: string;
      name: string;
      fieldManager: string;
      body: { status: { servers: ServerEntry[] } };
    }): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const entry = request.body.status.servers[0];
        if (entry === undefined) throw new Error('no entry');
        this.calls.push({
          namespace: request.namespace,
          name: request.name,
          fieldManager: request.fieldManager,
          entry: structuredClone(entry),
          settle: (error) => {
            if (error === undefined) resolve({});
            else reject(error);
          },
        });
      }),
  } as unknown as CustomObjectsApi;

  settleAll(error?: Error): void {
    for (const c of this.calls.filter((c) => !('settled' in c))) {
      Object.assign(c, { settled: true });
      c.settle(error);
    }
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function keySet(name: string, version: string, status?: PublishedKeySet['status']): PublishedKeySet {
  return {
    metadata: { namespace: 'ns', name, creationTimestamp: '2026-12-01T00:00:00Z', managedFields: [{}] },
    spec: {
      issuer: `https://id.example.com/${name}`,
      algorithm: 'ES256',
      version,
      maxAgeSeconds: 60,
      jwks: '{"keys":[]}',
    },
    ...(status === undefined ? {} : { status }),
  };
}

function world(options: { concurrency?: number } = {}) {
  const clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
  const recorder = new ApplyRecorder();
  const metrics = new IssuerMetrics({ defaultMetrics: false });
  const holder: { reporter?: StatusReporter } = {};
  const keySets = new KeySets({
    replica: 'pod-a',
    lease: 'issuer/jwt-issuer-pod-a',
    clock,
    logger,
    metrics,
    onChange: (key, urgent) => holder.reporter?.changed(key, urgent),
    onForget: (key) => holder.reporter?.forget(key),
    isPending: (key) => holder.reporter?.isPending(key) ?? false,
  });
  const reporter = new StatusReporter({
    api: recorder.api,
    clock,
    logger,
    metrics,
    fieldManager: 'jwt-issuer/pod-a',
    minIntervalMs: 2_000,
    concurrency: options.concurrency ?? 4,
    entryOf: (key) => keySets.entryOf(key),
  });
  holder.reporter = reporter;
  return { clock, recorder, keySets, reporter };
}

describe('the issuer status reports', () => {
  it('writes its own entry, with its field manager, when it starts serving a key set', async () => {
    const { recorder, keySets } = world();
    keySets.apply(keySet('a', 'v1'), false);
    await flush();
    expect(recorder.calls).to.have.length(1);
    expect(recorder.calls[0]).to.deep.include({
      namespace: 'ns',
      name: 'a',
      fieldManager: 'jwt-issuer/pod-a',
    });
    expect(recorder.calls[0]?.entry).to.deep.equal({
      name: 'pod-a',
      lease: 'issuer/jwt-issuer-pod-a',
      version: 'v1',
      since: '2026-12-07T10:00:00.000Z',
      fetchers: [],
    });
  });

  it('writes nothing for events that change nothing it reports (its own writes, other replicas)', async () => {
    const { recorder, keySets, clock } = world();
    keySets.apply(keySet('a', 'v1'), false);
    await flush();
    recorder.settleAll();
    await flush();
    const own = recorder.calls[0]?.entry;
    for (let i = 0; i < 10; i++) {
      clock.advance(5_000);
      keySets.apply(
        keySet('a', 'v1', { servers: [{ name: 'pod-b', version: 'v1' }, ...(own ? [own] : [])] }),
        false,
      );
      await flush();
    }
    expect(recorder.calls).to.have.length(1);
  });

  it('writes a repeated fetch by the same client never, and new clients at most every 2 s together', async () => {
    const { recorder, keySets, clock } = world();
    keySets.apply(keySet('a', 'v1'), false);
    await flush();
    recorder.settleAll();
    const entry = keySets.index.get('ns/a');
    if (entry === undefined) throw new Error('not indexed');
    keySets.fetched(entry, 'v1', '10.0.0.1', 'kube-apiserver/v1.37.2');
    await flush();
    // Within 2 s of the first write: held back.
    expect(recorder.calls).to.have.length(1);
    for (let i = 0; i < 100; i++) keySets.fetched(entry, 'v1', '10.0.0.1', 'kube-apiserver/v1.37.2');
    keySets.fetched(entry, 'v1', '10.0.0.2', 'curl/8.5.0');
    clock.advance(2_000);
    await flush();
    expect(recorder.calls).to.have.length(2);
    expect(recorder.calls[1]?.entry.fetchers?.map((f) => f.client)).to.deep.equal([
      '10.0.0.2 curl/8.5.0',
      '10.0.0.1 kube-apiserver/v1.37.2',
    ]);
    recorder.settleAll();
    await flush();
    for (let i = 0; i < 100; i++) keySets.fetched(entry, 'v1', '10.0.0.1', 'kube-apiserver/v1.37.2');
    clock.advance(60_000);
    await flush();
    expect(recorder.calls).to.have.length(2);
  });

  it('at 1,000 key sets, writes each once on start and then only those that change', async () => {
    const { recorder, keySets, clock } = world();
    for (let i = 0; i < 1000; i++) keySets.apply(keySet(`k${i}`, 'v1'), false);
    // Four in flight at a time (the rate limit of the real client spaces them further).
    for (let round = 0; round < 300 && recorder.calls.length < 1000; round++) {
      await flush();
      recorder.settleAll();
      await flush();
    }
    expect(recorder.calls).to.have.length(1000);
    clock.advance(10_000);
    // The watch then shows each with the entry this replica wrote; one has a new version.
    const written = new Map(recorder.calls.map((c) => [c.name, c.entry]));
    for (let i = 0; i < 1000; i++) {
      const own = written.get(`k${i}`);
      keySets.apply(keySet(`k${i}`, i === 7 ? 'v2' : 'v1', { servers: own ? [own] : [] }), false);
    }
    await flush();
    recorder.settleAll();
    await flush();
    expect(recorder.calls.slice(1000).map((c) => `${c.name} ${c.entry.version ?? ''}`)).to.deep.equal([
      'k7 v2',
    ]);
  });

  it('sends a new version ahead of fetcher changes waiting for a free writer', async () => {
    const { recorder, keySets, clock } = world({ concurrency: 1 });
    keySets.apply(keySet('a', 'v1'), false);
    keySets.apply(keySet('b', 'v1'), false);
    await flush();
    recorder.settleAll();
    await flush();
    recorder.settleAll();
    await flush();
    expect(recorder.calls.map((c) => c.name)).to.deep.equal(['a', 'b']);
    clock.advance(3_000);
    const a = keySets.index.get('ns/a');
    if (a === undefined) throw new Error('not indexed');
    keySets.fetched(a, 'v1', '10.0.0.9', 'x/1'); // goes out at once: the writer is free
    keySets.fetched(a, 'v1', '10.0.0.8', 'x/1'); // waits for 2 s after it
    keySets.apply(keySet('c', 'v1'), false); // new: waits for the writer, urgent
    await flush();
    expect(recorder.calls.map((c) => c.name)).to.deep.equal(['a', 'b', 'a']);
    clock.advance(2_000);
    recorder.settleAll();
    await flush();
    await flush();
    expect(recorder.calls.map((c) => c.name)).to.deep.equal(['a', 'b', 'a', 'c']);
  });

  it('retries a failed write with backoff, and drops a key set that is gone', async () => {
    const { recorder, keySets, clock } = world();
    keySets.apply(keySet('a', 'v1'), false);
    keySets.apply(keySet('b', 'v1'), false);
    await flush();
    const [a, b] = recorder.calls;
    a?.settle(new ApiException(500, 'boom', '{"message":"etcd"}', {}));
    b?.settle(new ApiException(404, 'gone', '{}', {}));
    Object.assign(recorder.calls[0] ?? {}, { settled: true });
    Object.assign(recorder.calls[1] ?? {}, { settled: true });
    await flush();
    clock.advance(3_999);
    await flush();
    expect(recorder.calls).to.have.length(2);
    clock.advance(1);
    await flush();
    expect(recorder.calls.map((c) => c.name)).to.deep.equal(['a', 'b', 'a']);
  });

  it('writes its entry again when status lost it (a prune of dead replicas) and nothing of its own is pending', async () => {
    const { recorder, keySets, clock } = world();
    keySets.apply(keySet('a', 'v1'), false);
    await flush();
    recorder.settleAll();
    await flush();
    clock.advance(5_000);
    keySets.apply(keySet('a', 'v1', { servers: [{ name: 'pod-b', version: 'v1' }] }), false);
    await flush();
    expect(recorder.calls).to.have.length(2);
    expect(recorder.calls[1]?.entry).to.include({ version: 'v1', since: '2026-12-07T10:00:00.000Z' });
  });

  it('does not write after a restart that finds its own entry serving the same version', async () => {
    const { recorder, keySets } = world();
    const own = {
      name: 'pod-a',
      lease: 'issuer/jwt-issuer-pod-a',
      version: 'v1',
      since: '2026-12-06T00:00:00.000Z',
      fetchers: [],
    };
    keySets.apply(keySet('a', 'v1', { servers: [own] }), false);
    await flush();
    expect(recorder.calls).to.have.length(0);
    expect(keySets.entryOf('ns/a')).to.deep.equal(own);
  });

  it('keeps serving and reporting the last good version when a new spec cannot be served', async () => {
    const { recorder, keySets, clock } = world();
    keySets.apply(keySet('a', 'v1'), false);
    await flush();
    recorder.settleAll();
    clock.advance(5_000);
    const bad = keySet('a', 'v2');
    if (bad.spec) bad.spec.jwks = JSON.stringify({ keys: [{ kty: 'EC', d: 'private' }] });
    keySets.apply(bad, false);
    await flush();
    expect(recorder.calls).to.have.length(1);
    expect(keySets.index.get('ns/a')?.prepared.version).to.equal('v1');
  });

  it('keeps only its own status entry and no managedFields in the watch cache', () => {
    const { keySets } = world();
    const object = keySet('a', 'v1', {
      servers: [
        { name: 'pod-b', version: 'v1', fetchers: [{ client: 'x', version: 'v1', at: 'now' }] },
        { name: 'pod-a', version: 'v1' },
      ],
    });
    keySets.trim(object);
    expect(object.status).to.deep.equal({ servers: [{ name: 'pod-a', version: 'v1' }] });
    expect(object.metadata).to.not.have.property('managedFields');
  });

  it('reports the next PublishedKeySet of an issuer once the one served is deleted', async () => {
    const { recorder, keySets } = world();
    keySets.apply(keySet('a', 'v1'), false);
    const rival = keySet('rival', 'r1');
    if (rival.spec && rival.metadata) {
      rival.spec.issuer = 'https://id.example.com/a';
      rival.metadata.creationTimestamp = '2026-12-05T00:00:00Z';
    }
    keySets.apply(rival, false);
    await flush();
    expect(recorder.calls.map((c) => c.name)).to.deep.equal(['a']);
    keySets.apply(keySet('a', 'v1'), true);
    await flush();
    expect(recorder.calls.map((c) => `${c.name} ${c.entry.version ?? ''}`)).to.deep.equal([
      'a v1',
      'rival r1',
    ]);
  });
});
