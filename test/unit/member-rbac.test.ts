/**
 * deploy/components/member: what the hub may do in a member cluster (docs/multi-cluster.md, "Least
 * privilege in the members"), read from the manifests as kustomize would apply them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';

import { repoRoot } from '../support/cluster.ts';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
  nonResourceURLs?: string[];
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

const dir = path.join(repoRoot, 'deploy', 'components', 'member');
const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
  kind: string;
  resources: string[];
};
const manifests = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((d) => d.toJS() as Manifest),
);
const role = manifests.find((m) => m.kind === 'Role');
const rules = role?.rules ?? [];
const WORKLOADS = ['deployments', 'statefulsets', 'daemonsets'];

function rulesOn(resource: string): Rule[] {
  return rules.filter((r) => r.resources?.includes(resource) ?? false);
}

describe('the member-side RBAC (deploy/components/member)', () => {
  it('is a kustomize Component of a ServiceAccount, its token Secret, a Role and a RoleBinding, and no cluster-wide kind', () => {
    expect(kustomization.kind).to.equal('Component');
    expect(manifests.map((m) => m.kind)).to.have.members(['ServiceAccount', 'Secret', 'Role', 'RoleBinding']);
    expect(manifests.map((m) => m.kind)).to.not.include.members(['ClusterRole', 'ClusterRoleBinding']);
  });

  it('grants Secrets only by name, and only get, update and patch: no list, watch or create', () => {
    const secretRules = rulesOn('secrets');
    expect(secretRules).to.have.length.greaterThan(0);
    for (const rule of secretRules) {
      expect(rule.resourceNames, 'a Secret rule without resourceNames').to.be.an('array').that.is.not.empty;
      expect(['get', 'update', 'patch']).to.include.members(rule.verbs ?? []);
    }
  });

  it('grants the target workloads only by name, to read and roll them', () => {
    for (const resource of WORKLOADS) {
      const workloadRules = rulesOn(resource);
      expect(workloadRules, resource).to.have.length.greaterThan(0);
      for (const rule of workloadRules) {
        expect(rule.resourceNames, resource).to.be.an('array').that.is.not.empty;
        expect(['get', 'patch']).to.include.members(rule.verbs ?? []);
      }
    }
  });

  it('grants nothing else than pods (list, watch) and Events (create, patch), and no wildcard', () => {
    const allowed = ['secrets', ...WORKLOADS, 'pods', 'events'];
    for (const rule of rules) {
      expect(rule.nonResourceURLs).to.equal(undefined);
      expect(allowed).to.include.members(rule.resources ?? []);
      for (const list of [rule.apiGroups, rule.resources, rule.verbs]) expect(list).to.not.include('*');
    }
    for (const rule of rulesOn('pods')) expect(['list', 'watch']).to.include.members(rule.verbs ?? []);
    for (const rule of rulesOn('events')) expect(['create', 'patch']).to.include.members(rule.verbs ?? []);
  });

  it('binds the Role to the hub’s ServiceAccount, all in one namespace, with the token Secret for that account', () => {
    const account = manifests.find((m) => m.kind === 'ServiceAccount');
    const binding = manifests.find((m) => m.kind === 'RoleBinding');
    const token = manifests.find((m) => m.kind === 'Secret');
    expect(binding?.roleRef).to.deep.include({ kind: 'Role', name: role?.metadata.name });
    expect(binding?.subjects).to.deep.equal([
      { kind: 'ServiceAccount', name: account?.metadata.name, namespace: account?.metadata.namespace },
    ]);
    expect(new Set(manifests.map((m) => m.metadata.namespace))).to.have.property('size', 1);
    expect(token?.metadata.annotations?.['kubernetes.io/service-account.name']).to.equal(
      account?.metadata.name,
    );
  });

  it('keeps the rule order that kustomization.yaml’s example patch names: 0 the Secret, 1 the targets', () => {
    const text = readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8');
    expect(text).to.include('path: /rules/0/resourceNames').and.include('path: /rules/1/resourceNames');
    expect(rules[0]?.resources).to.deep.equal(['secrets']);
    expect(rules[1]?.resources).to.deep.equal(WORKLOADS);
  });
});
