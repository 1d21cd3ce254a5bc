/**
 * The Secret adapter builds the Kubernetes objects the shell no longer sees: labels, type, owner
 * references, base64, and on a replace every field the operator does not own. Driven through a
 * stand-in for client-node's CoreV1Api that records the bodies it is given.
 */
import { ApiException, type CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import { KubernetesSecretStore } from '../../src/adapters/kubernetes/secrets.ts';
import { ConflictError } from '../../src/reconcile/ports.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function store(stored: V1Secret | undefined, fail?: number) {
  const calls: { verb: string; body?: V1Secret }[] = [];
  const writes: string[] = [];
  const answer = (verb: string, body?: V1Secret): Promise<V1Secret> => {
    calls.push({ verb, ...(body ? { body } : {}) });
    if (fail !== undefined) return Promise.reject(new ApiException(fail, 'failed', '{"message":"no"}', {}));
    return Promise.resolve(body ?? {});
  };
  const core = {
    readNamespacedSecret: () =>
      stored ? Promise.resolve(structuredClone(stored)) : Promise.reject(new ApiException(404, 'nf', '', {})),
    createNamespacedSecret: ({ body }: { body: V1Secret }) => answer('create', body),
    replaceNamespacedSecret: ({ body }: { body: V1Secret }) => answer('replace', body),
    deleteNamespacedSecret: () => answer('delete'),
  } as unknown as CoreV1Api;
  return {
    secrets: new KubernetesSecretStore(core, 'jwt-rotation-operator', (kind) => writes.push(kind)),
    calls,
    writes,
  };
}

const theirs: V1Secret = {
  metadata: {
    name: 'api-jwt',
    namespace: 'ns',
    resourceVersion: '42',
    labels: { team: 'payments' },
    annotations: { 'example.com/note': 'theirs' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' }],
  },
  type: 'Opaque',
  data: { JWT_SECRET: b64('old-key'), DATABASE_URL: b64('postgres://db') },
};

describe('the Kubernetes Secret store', () => {
  it('decodes data, and stringData over it, into the record it returns', async () => {
    const { secrets } = store({ ...theirs, stringData: { JWT_EXPIRATION: '1h' } });
    const record = await secrets.get('ns', 'api-jwt');
    expect(record).to.deep.equal({
      resourceVersion: '42',
      type: 'Opaque',
      values: { JWT_SECRET: 'old-key', DATABASE_URL: 'postgres://db', JWT_EXPIRATION: '1h' },
      annotations: { 'example.com/note': 'theirs' },
    });
  });

  it('returns undefined for a Secret that does not exist', async () => {
    expect(await store(undefined).secrets.get('ns', 'api-jwt')).to.equal(undefined);
  });

  it('replaces values and annotations, keeping the labels, owners, type and resourceVersion it read, and adds the watch label', async () => {
    const { secrets, calls, writes } = store(theirs);
    const record = await secrets.get('ns', 'api-jwt');
    await secrets.replace(record!, { values: { JWT_SECRET: 'new-key' }, annotations: { a: 'b' } });
    const body = calls[0]?.body;
    expect(body?.metadata).to.deep.equal({
      ...theirs.metadata,
      labels: { team: 'payments', 'jwtrotation.io/managed': 'true' },
      annotations: { a: 'b' },
    });
    expect(body?.type).to.equal('Opaque');
    expect(body?.data).to.deep.equal({ JWT_SECRET: b64('new-key') });
    expect(body).to.not.have.property('stringData');
    expect(writes).to.deep.equal(['secret-update']);
  });

  it('refuses to replace a record it did not hand out', async () => {
    const { secrets } = store(theirs);
    const forged = { resourceVersion: '42', values: {}, annotations: {} };
    let failure: unknown;
    await secrets.replace(forged, { values: {}, annotations: {} }).catch((e: unknown) => (failure = e));
    expect(failure)
      .to.be.instanceOf(Error)
      .with.property('message')
      .that.matches(/read through this store/);
  });

  it('creates a workload Secret labelled as managed, with no owner', async () => {
    const { secrets, calls } = store(undefined);
    await secrets.create('ns', 'api-jwt', { values: { JWT_SECRET: 'k' }, annotations: { a: 'b' } });
    expect(calls[0]?.body).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: 'api-jwt',
        namespace: 'ns',
        labels: { 'app.kubernetes.io/managed-by': 'jwt-rotation-operator', 'jwtrotation.io/managed': 'true' },
        annotations: { a: 'b' },
      },
      data: { JWT_SECRET: b64('k') },
    });
  });

  it('writes an owned Secret with a controller owner reference: created, or replaced at the version read', async () => {
    const owner = { apiVersion: 'jwtrotation.io/v1alpha1', kind: 'JwtRotation', name: 'api', uid: 'uid-1' };
    const content = { values: { JWT_SECRET_ORIGINAL: 'k' }, annotations: {} };
    const created = store(undefined);
    await created.secrets.writeOwned(owner, 'ns', 'api-jwtrotation-backup', content, undefined);
    expect(created.calls[0]?.verb).to.equal('create');
    expect(created.calls[0]?.body?.metadata?.ownerReferences).to.deep.equal([
      { ...owner, controller: true, blockOwnerDeletion: false },
    ]);
    const replaced = store(theirs);
    const existing = await replaced.secrets.get('ns', 'api-jwtrotation-backup');
    await replaced.secrets.writeOwned(owner, 'ns', 'api-jwtrotation-backup', content, existing);
    expect(replaced.calls[0]?.verb).to.equal('replace');
    expect(replaced.calls[0]?.body?.metadata?.resourceVersion).to.equal('42');
  });

  it('turns a 409 into a ConflictError that names the Secret and no value', async () => {
    const { secrets, writes } = store(theirs, 409);
    const record = await secrets.get('ns', 'api-jwt');
    let failure: unknown;
    await secrets
      .replace(record!, { values: { JWT_SECRET: 'new-key' }, annotations: {} })
      .catch((e: unknown) => (failure = e));
    expect(failure).to.be.instanceOf(ConflictError);
    expect((failure as Error).message)
      .to.contain('api-jwt')
      .and.not.contain('new-key');
    expect(writes, 'a failed write is not counted').to.deep.equal([]);
  });
});
