/**
 * The issuer server's view of the PublishedKeySet API (src/issuer/published-key-set.ts) against its
 * contract, crds/jwtrotation.io_publishedkeysets.yaml: every field it reads or writes is in the
 * schema, its limits are the schema's, and an entry it writes passes the schema's validation.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { parseCrd, storageSchema, REPO_ROOT, type JsonSchema } from '../../tools/gen-api-types.ts';
import { FetchLog } from '../../src/issuer/fetch-records.ts';
import {
  MAX_CLIENT_LENGTH,
  MAX_FETCHERS,
  PKS_GROUP,
  PKS_KIND,
  PKS_PLURAL,
  PKS_VERSION,
} from '../../src/api/published-key-set.ts';
import { validateAgainstSchema } from '../support/crd.ts';

const CRD_FILE = path.join(REPO_ROOT, 'crds', 'jwtrotation.io_publishedkeysets.yaml');
const crd = parseCrd(readFileSync(CRD_FILE, 'utf8'));
const { version, schema } = storageSchema(crd);

function at(fieldPath: string): JsonSchema {
  let node: JsonSchema = schema;
  for (const part of fieldPath.split('.')) {
    const next: JsonSchema | undefined = part === '[]' ? node.items : node.properties?.[part];
    if (next === undefined) throw new Error(`${fieldPath}: not in the CRD`);
    node = next;
  }
  return node;
}

describe('the issuer server against the PublishedKeySet CRD', () => {
  it('names the group, version, kind and plural the CRD serves', () => {
    expect([crd.spec.group, version, crd.spec.names.kind, crd.spec.names.plural]).to.deep.equal([
      PKS_GROUP,
      PKS_VERSION,
      PKS_KIND,
      PKS_PLURAL,
    ]);
  });

  it('reads and writes only fields the CRD has', () => {
    for (const field of [
      'spec.issuer',
      'spec.algorithm',
      'spec.version',
      'spec.maxAgeSeconds',
      'spec.jwks',
      'spec.keyCount',
      'status.servers.[].name',
      'status.servers.[].lease',
      'status.servers.[].version',
      'status.servers.[].since',
      'status.servers.[].fetchers.[].client',
      'status.servers.[].fetchers.[].version',
      'status.servers.[].fetchers.[].at',
    ])
      expect(() => at(field), field).to.not.throw();
  });

  it('keeps to the schema limits and the list-map key it applies by', () => {
    expect(at('status.servers.[].fetchers').maxItems).to.equal(MAX_FETCHERS);
    expect(at('status.servers.[].fetchers.[].client').maxLength).to.equal(MAX_CLIENT_LENGTH);
    expect(at('status.servers')['x-kubernetes-list-type']).to.equal('map');
    expect(at('status.servers')['x-kubernetes-list-map-keys']).to.deep.equal(['name']);
  });

  it('writes an entry the schema accepts, with a full list of long clients', () => {
    const log = new FetchLog();
    log.serve('v1', '2026-12-07T10:00:00.000Z');
    for (let i = 0; i < 100; i++)
      log.fetched(`${'x'.repeat(250)}${i}`.slice(-256), 'v1', '2026-12-07T10:00:01.000Z');
    const entry = log.entry('jwt-issuer-7d9f8-abcde', 'jwt-issuer/jwt-issuer-jwt-issuer-7d9f8-abcde');
    expect(validateAgainstSchema({ servers: [entry] }, at('status'), 'status')).to.deep.equal([]);
  });

  it('the Helm chart grants the issuer server the rules deploy/components/issuer grants', () => {
    const component = parseAllDocuments(
      readFileSync(path.join(REPO_ROOT, 'deploy/components/issuer/rbac.yaml'), 'utf8'),
    ).map((d) => d.toJS() as { kind: string; rules?: unknown[] });
    const chart = readFileSync(
      path.join(REPO_ROOT, 'charts/jwt-rotation-operator/templates/issuer-rbac.yaml'),
      'utf8',
    );
    const defined = (name: string): unknown[] => {
      const block = new RegExp(
        `\\{\\{- define "jwt-rotation-operator\\.${name}" \\}\\}\\n([\\s\\S]*?)\\{\\{- end \\}\\}`,
      ).exec(chart);
      if (block?.[1] === undefined) throw new Error(`no ${name} in issuer-rbac.yaml`);
      return (parse(`rules:\n${block[1]}`) as { rules: unknown[] }).rules;
    };
    expect(defined('issuerRules')).to.deep.equal(component.find((d) => d.kind === 'ClusterRole')?.rules);
    expect(defined('issuerLeaseRules')).to.deep.equal(component.find((d) => d.kind === 'Role')?.rules);
    // Nothing that reads key material or anything else of the cluster.
    const resources = [...defined('issuerRules'), ...defined('issuerLeaseRules')].flatMap(
      (r) => (r as { resources: string[] }).resources,
    );
    expect(resources).to.have.members(['publishedkeysets', 'publishedkeysets/status', 'leases']);
  });

  it('is in the chart the chart installs (its crds/ links to crds/)', () => {
    const chartCrd = path.join(REPO_ROOT, 'charts', 'jwt-rotation-operator', 'crds', path.basename(CRD_FILE));
    expect(realpathSync(chartCrd)).to.equal(realpathSync(CRD_FILE));
  });
});
