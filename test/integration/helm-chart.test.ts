/**
 * The Helm chart, checked by helm itself (built from its Go module by tools/helm/build.sh) and
 * by the real API server: `helm lint --strict`, values.schema.json errors, `helm template` of
 * every values combination that matters piped to `kubectl apply --dry-run=server` (with the
 * prometheus-operator CRDs from their Go module installed), NOTES, a real install, and the
 * RBAC and alert rules compared with what deploy/ installs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import { parse, parseAllDocuments, stringify } from 'yaml';

import { repoRoot, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import { helmPath, prometheusOperatorCrdDir, run, type CommandResult } from '../support/tools.ts';

const CHART = path.join(repoRoot, 'charts/jwt-rotation-operator');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

function documents(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null);
}

/** Every (apiGroup, resource, resourceName, verb) a set of rules grants, sorted: rules compared by meaning, not text. */
function grants(rules: PolicyRule[]): string[] {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups ?? [''])
      for (const res of r.resources ?? [])
        for (const name of r.resourceNames ?? ['*'])
          for (const verb of r.verbs) out.add(`${g}|${res}|${name}|${verb}`);
  return [...out].sort();
}

describe('the Helm chart (helm from its Go module, the real API server)', function () {
  this.timeout(600_000);
  let cluster: TestCluster;
  let helm: string;
  let ns: string;
  let env: NodeJS.ProcessEnv;
  const scratch = mkdtempSync(path.join(tmpdir(), 'jwtr-helm-'));

  before(async function () {
    this.timeout(1_800_000); // cold builds: the control plane, helm
    [cluster, helm] = await Promise.all([useCluster(), helmPath()]);
    await installCrd(cluster);
    env = {
      ...process.env,
      KUBECONFIG: cluster.kubeconfigPath,
      HELM_CONFIG_HOME: path.join(scratch, 'config'),
      HELM_CACHE_HOME: path.join(scratch, 'cache'),
      HELM_DATA_HOME: path.join(scratch, 'data'),
    };
    // ServiceMonitor and PrometheusRule CRDs, from the prometheus-operator Go module.
    const crdDir = await prometheusOperatorCrdDir();
    for (const file of [
      'monitoring.coreos.com_servicemonitors.yaml',
      'monitoring.coreos.com_prometheusrules.yaml',
    ]) {
      const applied = await cluster.kubectl(['apply', '--server-side', '-f', path.join(crdDir, file)]);
      expect(applied.code, applied.stderr).to.equal(0);
    }
    const established = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
      '--timeout=60s',
    ]);
    expect(established.code, established.stderr).to.equal(0);
    ns = await cluster.newNamespace('helm');
  });

  const helmRun = (args: string[]): Promise<CommandResult> => run(helm, args, { env });

  async function template(values: Record<string, unknown>, release = 'jwtr'): Promise<CommandResult> {
    const file = path.join(scratch, `values-${Math.random().toString(36).slice(2)}.yaml`);
    // The local cluster runs only localhost/ images (tools/cluster/local-images-only.yaml): the operator's
    // and, by default, the helm test Pod's.
    const local = {
      image: { repository: 'localhost/jwt-rotation-operator', tag: 'dev', pullPolicy: 'Never' },
    };
    writeFileSync(file, stringify({ ...local, ...values }));
    return helmRun(['template', release, CHART, '--namespace', ns, '-f', file]);
  }

  async function renderOk(values: Record<string, unknown>): Promise<K8sObject[]> {
    const out = await template(values);
    expect(out.code, out.stderr).to.equal(0);
    return documents(out.stdout);
  }

  it('reports its version (built from helm.sh/helm/v3)', async () => {
    const out = await helmRun(['version', '--short']);
    expect(out.code, out.stderr).to.equal(0);
    const pinned = /helm\.sh\/helm\/v3 (v[0-9.]+)/.exec(
      readFileSync(path.join(repoRoot, 'tools/helm/go.mod'), 'utf8'),
    );
    expect(out.stdout.trim()).to.equal(pinned?.[1]);
  });

  it('passes helm lint --strict, with the defaults and with every option on', async () => {
    const defaults = await helmRun(['lint', '--strict', CHART]);
    expect(defaults.code, defaults.stdout + defaults.stderr).to.equal(0);
    const all = await helmRun([
      'lint',
      '--strict',
      CHART,
      '--set',
      'serviceMonitor.enabled=true,prometheusRule.enabled=true,networkPolicy.enabled=true,networkPolicy.egress.enabled=true',
    ]);
    expect(all.code, all.stdout + all.stderr).to.equal(0);
    const issuer = await helmRun([
      'lint',
      '--strict',
      CHART,
      '--set',
      'issuer.enabled=true,issuer.ingress.enabled=true,issuer.ingress.host=id.example.com,issuer.watchNamespaces={a,b}',
    ]);
    expect(issuer.code, issuer.stdout + issuer.stderr).to.equal(0);
  });

  const badValues: [string, Record<string, unknown>, RegExp][] = [
    ['replicaCount: 0', { replicaCount: 0 }, /replicaCount.*(minimum|must be >= 1|less than)/is],
    ['a misspelt key', { replicas: 2 }, /additional propert(y|ies).*replicas|replicas.*not allowed/is],
    ['an unknown log level', { logLevel: 'verbose' }, /logLevel.*(must be one of|enum|value must be)/is],
    ['a watchNamespace that is no namespace name', { watchNamespace: 'Prod_1' }, /watchNamespace/],
    ['a string for httpPort', { httpPort: '8080' }, /httpPort.*(integer|number)/is],
    ['a bad scrape interval', { serviceMonitor: { interval: '30 seconds' } }, /serviceMonitor.*interval/is],
    ['an unknown rbac.scope', { rbac: { scope: 'namespace' } }, /rbac.*scope.*(Cluster|one of)/is],
    ['issuer.replicas: 0', { issuer: { replicas: 0 } }, /issuer.*replicas/is],
    [
      'a misspelt issuer key',
      { issuer: { replicaCount: 2 } },
      /issuer.*(additional propert(y|ies).*replicaCount|replicaCount.*not allowed)/is,
    ],
    [
      'an issuer lease shorter than its renewal',
      { issuer: { leaseDurationSeconds: 10 } },
      /issuer.*leaseDurationSeconds/is,
    ],
    [
      'an issuer Ingress host with a scheme',
      { issuer: { ingress: { host: 'https://id.example.com' } } },
      /issuer.*ingress.*host/is,
    ],
  ];
  for (const [what, values, message] of badValues) {
    it(`rejects ${what} with a message naming the value`, async () => {
      const out = await template(values);
      expect(out.code).to.not.equal(0);
      expect(out.stderr).to.match(/values don't meet the specifications of the schema/);
      expect(out.stderr).to.match(message);
    });
  }

  const combinations: { name: string; values: Record<string, unknown>; has: string[]; hasNot: string[] }[] = [
    {
      name: 'the defaults (2 replicas)',
      values: {},
      has: [
        'Deployment',
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Service',
        'PodDisruptionBudget',
        'Pod',
      ],
      hasNot: ['ServiceMonitor', 'PrometheusRule', 'NetworkPolicy'],
    },
    {
      name: 'one replica (no PodDisruptionBudget)',
      values: { replicaCount: 1 },
      has: ['Deployment'],
      hasNot: ['PodDisruptionBudget'],
    },
    {
      name: 'ServiceMonitor and PrometheusRule',
      values: {
        serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus' } },
        prometheusRule: { enabled: true, labels: { release: 'kube-prometheus' } },
      },
      has: ['ServiceMonitor', 'PrometheusRule', 'Service'],
      hasNot: [],
    },
    {
      name: 'NetworkPolicy with restricted egress',
      values: {
        networkPolicy: {
          enabled: true,
          ingressFrom: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
          ],
          egress: {
            enabled: true,
            apiServerTo: [{ ipBlock: { cidr: '10.0.0.1/32' } }],
            extraTo: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 9090, protocol: 'TCP' }] }],
          },
        },
      },
      has: ['NetworkPolicy'],
      hasNot: [],
    },
    {
      name: 'one namespace, RBAC and ServiceAccount managed elsewhere, no Service',
      values: {
        watchNamespace: 'prod',
        rbac: { create: false },
        serviceAccount: { create: false, name: 'jwtr' },
        service: { enabled: false },
      },
      has: ['Deployment', 'PodDisruptionBudget'],
      hasNot: ['ClusterRole', 'Role', 'ServiceAccount', 'Service', 'Pod'],
    },
    {
      name: 'the issuer server (two replicas, its PodDisruptionBudget, no Ingress)',
      values: { issuer: { enabled: true } },
      has: [
        'Deployment',
        'Service',
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'PodDisruptionBudget',
      ],
      hasNot: ['Ingress'],
    },
    {
      name: 'the issuer server behind an Ingress, one replica of each (no PodDisruptionBudget)',
      values: {
        replicaCount: 1,
        issuer: {
          enabled: true,
          replicas: 1,
          watchNamespaces: ['tenants'],
          tls: { secretName: 'issuer-serving' },
          ingress: {
            enabled: true,
            host: 'id.example.com',
            className: 'nginx',
            annotations: { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' },
            path: '/tenants',
            tls: [{ secretName: 'issuer-public', hosts: ['id.example.com'] }],
          },
        },
      },
      has: ['Ingress', 'Deployment'],
      hasNot: ['PodDisruptionBudget'],
    },
    {
      name: 'PodDisruptionBudget by maxUnavailable, three replicas',
      values: { replicaCount: 3, podDisruptionBudget: { maxUnavailable: 1 } },
      has: ['PodDisruptionBudget'],
      hasNot: [],
    },
  ];
  for (const combo of combinations) {
    it(`renders ${combo.name}, and the API server accepts it (apply --dry-run=server)`, async () => {
      const objects = await renderOk(combo.values);
      const kinds = objects.map((o) => o.kind);
      expect(kinds).to.include.members(combo.has);
      for (const kind of combo.hasNot) expect(kinds, kind).to.not.include(kind);
      const applied = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: objects.map((o) => stringify(o)).join('---\n'),
      });
      expect(applied.code, applied.stderr).to.equal(0);
      expect(applied.stdout.trim().split('\n')).to.have.length(objects.length);
    });
  }

  it('renders the PDB and the NetworkPolicy as asked', async () => {
    const objects = await renderOk({
      replicaCount: 3,
      networkPolicy: { enabled: true, egress: { enabled: true } },
    });
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget');
    expect(pdb?.spec).to.deep.include({ minAvailable: 1 });
    const netpol = objects.find((o) => o.kind === 'NetworkPolicy');
    expect(netpol?.spec?.policyTypes).to.deep.equal(['Ingress', 'Egress']);
    const test = objects.find((o) => o.kind === 'Pod');
    expect(test?.metadata.annotations?.['helm.sh/hook']).to.equal('test');
    expect(JSON.stringify(test?.spec)).to.include(`/healthz`);
  });

  it('binds its admission policies to the watched namespaces when set, and to every namespace otherwise', async () => {
    const BINDINGS = ['ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicyBinding'];
    const bindings = (objects: K8sObject[]): K8sObject[] => objects.filter((o) => BINDINGS.includes(o.kind));
    const everywhere = bindings(await renderOk({ admissionPolicy: { requesterIdentity: true } }));
    expect(everywhere).to.have.length(3);
    for (const b of everywhere) expect(b.spec?.matchResources, b.metadata.name).to.equal(undefined);
    const objects = await renderOk({
      watchNamespace: 'team-a',
      watchNamespaces: ['team-b', 'team-a'],
      admissionPolicy: { requesterIdentity: true },
    });
    const scoped = bindings(objects);
    expect(scoped).to.have.length(3);
    for (const b of scoped)
      expect(b.spec?.matchResources, b.metadata.name).to.deep.equal({
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] },
          ],
        },
      });
    const applied = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: objects.map((o) => stringify(o)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);
  });

  it('installs for real, with NOTES that say what to do next, and uninstalls', async () => {
    const release = `jwtr-${ns.slice(-6)}`;
    const fullname = `${release}-jwt-rotation-operator`; // the chart's fullname: release name + chart name
    const dry = await helmRun(['install', release, CHART, '--namespace', ns, '--dry-run=server']);
    expect(dry.code, dry.stderr).to.equal(0);
    const notes = dry.stdout.slice(dry.stdout.indexOf('NOTES:'));
    expect(notes).to.include(`rollout status deployment/${fullname}\n`);
    expect(notes).to.include('kind: JwtRotation');
    expect(notes).to.include('kubectl jwtrotation status');
    expect(notes).to.include('kubectl wait --for=condition=Ready');

    const installed = await helmRun([
      'install',
      release,
      CHART,
      '--namespace',
      ns,
      '--set',
      'prometheusRule.enabled=true',
      // Its admission policies then bind in this namespace only: files running beside this one make
      // JwtRotations the policies would refuse or stamp, on purpose.
      '--set',
      `watchNamespace=${ns}`,
    ]);
    expect(installed.code, installed.stderr).to.equal(0);
    const deployment = await waitFor('the operator Deployment', async () => {
      const got = await cluster.kubectl(['get', 'deployment', fullname, '-o', 'json'], { namespace: ns });
      return got.code === 0 ? (JSON.parse(got.stdout) as { spec: { replicas: number } }) : undefined;
    });
    expect(deployment.spec.replicas).to.equal(2);
    const rule = await cluster.kubectl(['get', 'prometheusrule', fullname, '-o', 'name'], { namespace: ns });
    expect(rule.code, rule.stderr).to.equal(0);
    const uninstalled = await helmRun(['uninstall', release, '--namespace', ns]);
    expect(uninstalled.code, uninstalled.stderr).to.equal(0);
  });

  it('grants exactly the RBAC that deploy/ grants (compared rule by rule)', async () => {
    const kustomized = await cluster.kubectl(['kustomize', path.join(repoRoot, 'deploy')]);
    expect(kustomized.code, kustomized.stderr).to.equal(0);
    const fromDeploy = documents(kustomized.stdout);
    const fromChart = await renderOk({});
    for (const kind of ['ClusterRole', 'Role']) {
      const a = fromDeploy.filter((o) => o.kind === kind);
      const b = fromChart.filter((o) => o.kind === kind);
      expect(a, `${kind} in deploy/`).to.have.length(1);
      expect(b, `${kind} in the chart`).to.have.length(1);
      expect(grants(b[0]?.rules ?? []), kind).to.deep.equal(grants(a[0]?.rules ?? []));
    }
    // Each binding binds its role to the ServiceAccount the Deployment runs as.
    for (const objects of [fromDeploy, fromChart]) {
      const deployment = objects.find((o) => o.kind === 'Deployment');
      const sa = (deployment?.spec as { template: { spec: { serviceAccountName: string } } }).template.spec
        .serviceAccountName;
      for (const [binding, role] of [
        ['ClusterRoleBinding', 'ClusterRole'],
        ['RoleBinding', 'Role'],
      ] as const) {
        const b = objects.find((o) => o.kind === binding);
        expect(b?.roleRef?.name).to.equal(objects.find((o) => o.kind === role)?.metadata.name);
        expect(b?.subjects?.map((s) => `${s.kind}/${s.name}`)).to.deep.equal([`ServiceAccount/${sa}`]);
      }
    }
  });

  it('renders the issuer server as deploy/components/issuer: its own pods, RBAC and TLS volume, the operator securityContext', async () => {
    const objects = await renderOk({ issuer: { enabled: true, watchNamespaces: ['a', 'b'] } });
    type Pod = {
      serviceAccountName: string;
      securityContext: unknown;
      containers: {
        name: string;
        command?: string[];
        securityContext: unknown;
        env: { name: string; value?: string }[];
      }[];
      volumes: { name: string; secret?: { secretName: string } }[];
    };
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const spec = (d: K8sObject | undefined) =>
      d?.spec as {
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> }; spec: Pod };
      };
    const operator = spec(deployments.find((d) => !d.metadata.name.endsWith('-issuer')));
    const issuer = spec(deployments.find((d) => d.metadata.name.endsWith('-issuer')));
    const container = issuer.template.spec.containers[0];
    expect(container?.command).to.deep.equal(['node', 'dist/issuer/main.js']);
    expect(container?.securityContext).to.deep.equal(operator.template.spec.containers[0]?.securityContext);
    expect(issuer.template.spec.securityContext).to.deep.equal(operator.template.spec.securityContext);
    expect(container?.env).to.deep.include({ name: 'WATCH_NAMESPACES', value: 'a,b' });
    expect(issuer.template.spec.volumes).to.deep.include({
      name: 'tls',
      secret: { secretName: 'jwtr-jwt-rotation-operator-issuer-tls' },
    });
    // Neither Deployment selects the other's pods.
    const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(operator.selector.matchLabels, issuer.template.metadata.labels)).to.equal(false);
    expect(selects(issuer.selector.matchLabels, operator.template.metadata.labels)).to.equal(false);
    // Its RBAC is the component's, bound to the ServiceAccount it runs as, and nothing on Secrets.
    const kustomized = documents(
      readFileSync(path.join(repoRoot, 'deploy/components/issuer/rbac.yaml'), 'utf8'),
    );
    for (const kind of ['ClusterRole', 'Role']) {
      const fromChart = objects.find((o) => o.kind === kind && o.metadata.name.includes('-issuer'));
      const fromComponent = kustomized.find((o) => o.kind === kind);
      expect(grants(fromChart?.rules ?? []), kind).to.deep.equal(grants(fromComponent?.rules ?? []));
      expect(grants(fromChart?.rules ?? []).join(' ')).to.not.match(/secrets|configmaps/);
    }
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const binding = objects.find((o) => o.kind === kind && o.metadata.name.includes('-issuer'));
      expect(binding?.subjects?.map((s) => s.name)).to.deep.equal([issuer.template.spec.serviceAccountName]);
    }
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-issuer'));
    expect((service?.spec as { ports: { name: string; port: number }[] }).ports).to.deep.include({
      name: 'https',
      port: 443,
      targetPort: 'https',
      protocol: 'TCP',
    });
  });

  it('deploy/components/issuer builds on deploy/ with kustomize, and the API server accepts it (dry-run)', async () => {
    const overlay = mkdtempSync(path.join(tmpdir(), 'jwtr-kustomize-issuer-'));
    const rel = path.relative(overlay, path.join(repoRoot, 'deploy'));
    writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        namespace: ns,
        resources: [rel],
        components: [path.join(rel, 'components/issuer')],
      }),
    );
    const kustomized = await cluster.kubectl(['kustomize', overlay]);
    expect(kustomized.code, kustomized.stderr).to.equal(0);
    // The test namespace exists already; cluster-scoped objects are checked, not kept (dry-run).
    const objects = documents(kustomized.stdout).filter((o) => o.kind !== 'Namespace');
    const issuer = objects.filter((o) => o.metadata.name.startsWith('jwt-issuer'));
    expect(issuer.map((o) => o.kind)).to.have.members([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
      'PodDisruptionBudget',
    ]);
    const applied = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: objects.map((o) => stringify(o)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);
  });

  it('an issuer Ingress without a host fails, saying what to set', async () => {
    const out = await template({ issuer: { enabled: true, ingress: { enabled: true } } });
    expect(out.code).to.not.equal(0);
    expect(out.stderr).to.include('issuer.ingress.host');
  });

  it('rbac.scope Namespaced without watched namespaces fails, saying what to set', async () => {
    const out = await template({ rbac: { scope: 'Namespaced' } });
    expect(out.code).to.not.equal(0);
    expect(out.stderr).to.include('rbac.scope=Namespaced').and.to.include('set watchNamespaces');
  });

  it('renders rbac.scope Namespaced as Roles in each watched namespace, accepted by the API server', async () => {
    const other = await cluster.newNamespace('helm-watched');
    const objects = await renderOk({
      rbac: { scope: 'Namespaced' },
      watchNamespace: other,
      watchNamespaces: [ns, other], // a repeat: one Role per namespace all the same
    });
    const kinds = objects.map((o) => o.kind);
    expect(kinds).to.not.include('ClusterRole');
    expect(kinds).to.not.include('ClusterRoleBinding');
    const where = (kind: string): string[] =>
      objects.filter((o) => o.kind === kind).map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(where('Role')).to.have.members([
      `${other}/jwtr-jwt-rotation-operator`,
      `${ns}/jwtr-jwt-rotation-operator`,
      `${ns}/jwtr-jwt-rotation-operator-leader-election`,
    ]);
    expect(where('RoleBinding')).to.have.members(where('Role'));
    const env = (
      objects.find((o) => o.kind === 'Deployment')?.spec as {
        template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
      }
    ).template.spec.containers[0]?.env;
    expect(env).to.deep.include.members([
      { name: 'WATCH_NAMESPACE', value: other },
      { name: 'WATCH_NAMESPACES', value: `${ns},${other}` },
      { name: 'MAX_CONCURRENT_ROLLOUTS', value: '20' },
      // The heap limit: 75% (heapLimitPercent) of the default 256Mi memory limit.
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=192' },
    ]);
    const applied = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: objects.map((o) => stringify(o)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);
  });

  it('namespaced: the chart, deploy/components/namespaced and the ClusterRole grant the same (but the cluster-scoped CRD read and TokenReviews)', async () => {
    // An overlay of deploy/ with the component, next to it as a user's would be (kustomize refuses
    // a base that contains its overlay, and paths outside the overlay that are not relative).
    const overlay = mkdtempSync(path.join(tmpdir(), 'jwtr-kustomize-'));
    const rel = path.relative(overlay, path.join(repoRoot, 'deploy'));
    writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [rel],
        components: [path.join(rel, 'components/namespaced')],
      }),
    );
    const kustomized = await cluster.kubectl(['kustomize', overlay]);
    expect(kustomized.code, kustomized.stderr).to.equal(0);
    const fromDeploy = documents(kustomized.stdout);
    const fromChart = await renderOk({ rbac: { scope: 'Namespaced' }, watchNamespaces: ['apps'] });
    const clusterWide = documents(
      (await cluster.kubectl(['kustomize', path.join(repoRoot, 'deploy')])).stdout,
    ).find((o) => o.kind === 'ClusterRole');
    // Cluster-scoped resources no Role can grant: the CRD read, and TokenReviews (the issuer's probes).
    const crdRead = (g: string): boolean => g.startsWith('apiextensions.k8s.io|');
    const tokenReviews = (g: string): boolean => g.startsWith('authentication.k8s.io|tokenreviews|');
    const expected = grants(clusterWide?.rules ?? []).filter((g) => !crdRead(g) && !tokenReviews(g));
    expect(grants(clusterWide?.rules ?? []).filter(crdRead)).to.have.length(1);
    expect(grants(clusterWide?.rules ?? []).filter(tokenReviews)).to.have.length(1);
    for (const objects of [fromDeploy, fromChart]) {
      const kinds = objects.map((o) => o.kind);
      expect(kinds).to.not.include('ClusterRole');
      expect(kinds).to.not.include('ClusterRoleBinding');
      const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'apps');
      expect(grants(role?.rules ?? [])).to.deep.equal(expected);
      const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'apps');
      expect(binding?.roleRef).to.deep.include({ kind: 'Role', name: role?.metadata.name });
      const sa = (
        objects.find((o) => o.kind === 'Deployment')?.spec as {
          template: {
            spec: { serviceAccountName: string; containers: { env: { name: string; value?: string }[] }[] };
          };
        }
      ).template.spec;
      expect(binding?.subjects?.map((s) => `${s.kind}/${s.name}`)).to.deep.equal([
        `ServiceAccount/${sa.serviceAccountName}`,
      ]);
      // The Deployment watches exactly the namespace the Role is in.
      const watched = sa.containers[0]?.env
        .filter((e) => e.name === 'WATCH_NAMESPACE' || e.name === 'WATCH_NAMESPACES')
        .flatMap((e) => (e.value ?? '').split(','))
        .filter((n) => n !== '');
      expect(watched).to.deep.equal(['apps']);
    }
  });

  it('ships the requester-identity policies of deploy/requester-identity.yaml, and the outbound settings, as values say', async () => {
    const env = (objects: K8sObject[]): Record<string, string | undefined> =>
      Object.fromEntries(
        (
          objects.find((o) => o.kind === 'Deployment')?.spec as {
            template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
          }
        ).template.spec.containers[0]?.env.map((e) => [e.name, e.value]) ?? [],
      );
    const policyKinds = [
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ];
    const fromDeploy = documents(readFileSync(path.join(repoRoot, 'deploy/requester-identity.yaml'), 'utf8'));
    const defaults = await renderOk({});
    const shipped = defaults.filter(
      (o) => policyKinds.includes(o.kind) && o.metadata.name === 'jwtrotation-requester-identity',
    );
    const withoutLabels = (o: K8sObject) => ({ ...o, metadata: { name: o.metadata.name } });
    expect(shipped.map(withoutLabels)).to.deep.equal(fromDeploy.map(withoutLabels));
    expect(env(defaults)).to.include({
      REQUESTER_IDENTITY: 'admission',
      OUTBOUND_HOSTS: '',
      NOTIFICATIONS_ALLOW_HTTP: 'false',
    });
    const off = await renderOk({
      admissionPolicy: { requesterIdentity: false },
      outbound: { hosts: ['hooks.slack.com', '*.logic.azure.com'], allowHttpReceivers: true },
    });
    expect(off.map((o) => o.metadata.name)).to.not.include('jwtrotation-requester-identity');
    expect(env(off)).to.include({
      REQUESTER_IDENTITY: 'field-manager',
      OUTBOUND_HOSTS: 'hooks.slack.com,*.logic.azure.com',
      NOTIFICATIONS_ALLOW_HTTP: 'true',
    });
    const bad = await template({ outbound: { hosts: ['https://hooks.slack.com/services'] } });
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/outbound/);
  });

  it('ships the alert rules of deploy/prometheus/rules.yaml in the PrometheusRule, unchanged', async () => {
    const rules = parse(readFileSync(path.join(repoRoot, 'deploy/prometheus/rules.yaml'), 'utf8')) as {
      groups: unknown;
    };
    const fromChart = (await renderOk({ prometheusRule: { enabled: true } })).find(
      (o) => o.kind === 'PrometheusRule',
    );
    expect(fromChart?.spec?.groups).to.deep.equal(rules.groups);
    const kustomized = await cluster.kubectl(['kustomize', path.join(repoRoot, 'deploy/prometheus')]);
    expect(kustomized.code, kustomized.stderr).to.equal(0);
    const fromDeploy = documents(kustomized.stdout);
    expect(fromDeploy.map((o) => o.kind)).to.deep.equal(['PrometheusRule']);
    expect(fromDeploy[0]?.spec?.groups).to.deep.equal(rules.groups);
    // In the test namespace: jwt-rotation-system does not exist here.
    const applied = await cluster.kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], {
      input: stringify({ ...fromDeploy[0], metadata: { ...fromDeploy[0]?.metadata, namespace: ns } }),
    });
    expect(applied.code, applied.stderr).to.equal(0);
  });
});
