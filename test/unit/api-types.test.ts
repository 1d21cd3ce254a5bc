/**
 * One source of truth for the API: the CRD in crds/. The generated types must be what the generator
 * makes from it now, and every example in deploy/examples must pass its schema. (The CRD's CEL rules
 * are checked against a real API server in test/integration/crd-validation.test.ts.)
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';

import {
  CONDITION_STATUSES,
  FAILURE_POLICIES,
  GATE_VERDICTS,
  ON_TIMEOUT_POLICIES,
  OUTCOMES,
  PHASES,
  SPEC_DEFAULTS,
  TARGET_KINDS,
  TRIGGERS,
  isOneOf,
  resolveJwtRotationSpec,
  resolvePrometheusSpec,
  type JwtRotationSpec,
} from '../../src/api/types.ts';
import { API_VERSION, KIND } from '../../src/api/constants.ts';
import { DEFAULT_INTERVAL } from '../../src/rotation/spec.ts';
import {
  GENERATED_PATH,
  REPO_ROOT,
  generate,
  specDefaults,
  type JsonSchema,
} from '../../tools/gen-api-types.ts';
import { CRD_PATH, crdSchema, exampleDocuments, validateAgainstSchema } from '../support/crd.ts';

const schema = crdSchema();
const specSchema = schema.properties?.spec as JsonSchema;

/** Every schema node under `schema`, with its path (`spec.targets[].kind`). */
function walk(node: JsonSchema, at = ''): { at: string; node: JsonSchema }[] {
  const children = Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
    walk(child, at === '' ? key : `${at}.${key}`),
  );
  const items = node.items === undefined ? [] : walk(node.items, `${at}[]`);
  return [{ at, node }, ...children, ...items];
}

function child(at: string): JsonSchema {
  const found = walk(schema).find((n) => n.at === at);
  if (found === undefined) throw new Error(`no schema at ${at}`);
  return found.node;
}

function valid(spec: unknown): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'api-jwt' }, spec };
}

describe('API types generated from the CRD', () => {
  it('src/api/generated.ts is what tools/gen-api-types.ts makes from the CRD now', async () => {
    const expected = await generate(readFileSync(CRD_PATH, 'utf8'));
    const actual = readFileSync(GENERATED_PATH, 'utf8');
    expect(
      actual === expected,
      'src/api/generated.ts is stale: run `npx tsx tools/gen-api-types.ts`',
    ).to.equal(true);
  });

  it('the enum constants list the values of the schema enums', () => {
    const cases: [string, readonly string[]][] = [
      ['spec.targets[].kind', TARGET_KINDS],
      ['spec.monitoring.onTimeout', ON_TIMEOUT_POLICIES],
      ['spec.monitoring.failurePolicy', FAILURE_POLICIES],
      ['status.phase', PHASES],
      ['status.conditions[].status', CONDITION_STATUSES],
      ['status.trigger', TRIGGERS],
      ['status.history[].outcome', OUTCOMES],
      ['status.gate.health', GATE_VERDICTS],
    ];
    for (const [at, values] of cases) expect(values, at).to.deep.equal(child(at).enum);
  });

  it('SPEC_DEFAULTS holds every default of the spec schema', () => {
    expect(SPEC_DEFAULTS).to.deep.equal(specDefaults(specSchema));
    const defaulted = walk(specSchema)
      .filter((n) => n.node.default !== undefined && n.node.type !== 'object')
      // Defaults of list items apply per item (the resolvers fill them); SPEC_DEFAULTS has no path to them.
      .filter((n) => !n.at.includes('[]'))
      .map((n) => n.at);
    expect(defaulted).to.include.members([
      'secretLength',
      'tokenTTL',
      'monitoring.prometheus.thresholds.minSamples',
    ]);
    // A default inside array items (notifications.receivers[].urlSecretRef.key) is the resolver's, per item.
    for (const at of defaulted.filter((a) => !a.includes('[]'))) {
      const value = at.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], SPEC_DEFAULTS);
      expect(value, at).to.deep.equal(child(`spec.${at}`).default);
    }
  });

  it('SPEC_DEFAULTS follows the runbook: 90-day rotation, 24h tokens, days 2-3 monitored, >95% on the new key', () => {
    // No CRD default (spec.schedule.cron is its alternative): the core falls back to 90 days.
    expect(DEFAULT_INTERVAL).to.equal('2160h');
    expect(SPEC_DEFAULTS.tokenTTL).to.equal('24h');
    expect(SPEC_DEFAULTS.secretLength).to.equal(64);
    expect([SPEC_DEFAULTS.monitoring.minDuration, SPEC_DEFAULTS.monitoring.maxDuration]).to.deep.equal([
      '48h',
      '72h',
    ]);
    expect(SPEC_DEFAULTS.monitoring.prometheus.thresholds).to.deep.equal({
      minNewKeyShare: 0.95,
      minAuthSuccessRate: 0.995,
      maxValidationLatencyP99Seconds: 0.05,
      maxErrorRate: 0.001,
      maxActiveSessionDrop: 0.2,
      minSamples: 100,
    });
  });

  it('resolveJwtRotationSpec fills in every default of a minimal spec, leaving prometheus out', () => {
    const monitoring = Object.fromEntries(
      Object.entries(SPEC_DEFAULTS.monitoring).filter(([key]) => key !== 'prometheus'),
    );
    // notifications and issuer have no default of their own: their defaults apply only when present.
    const defaults = Object.fromEntries(
      Object.entries(SPEC_DEFAULTS).filter(([key]) => key !== 'notifications' && key !== 'issuer'),
    );
    expect(resolveJwtRotationSpec({ secretName: 'api-jwt' })).to.deep.equal({
      ...defaults,
      secretName: 'api-jwt',
      monitoring,
    });
  });

  it('resolveJwtRotationSpec keeps the values that are set and defaults the rest of each object', () => {
    const spec: JwtRotationSpec = {
      secretName: 'api-jwt',
      tokenTTL: '1h',
      rollout: { signingDelay: '2m' },
      monitoring: {
        onTimeout: 'CompleteAfterTokenExpiry',
        prometheus: {
          url: 'http://prom:9090',
          thresholds: { minSamples: 5 },
          bearerTokenSecretRef: { name: 't' },
        },
      },
    };
    const resolved = resolveJwtRotationSpec(spec);
    expect(resolved.tokenTTL).to.equal('1h');
    expect(resolved.rollout).to.deep.equal({
      signingDelay: '2m',
      pollInterval: '5s',
      replaceOnDeletePods: false,
    });
    expect(resolved.monitoring.onTimeout).to.equal('CompleteAfterTokenExpiry');
    expect(resolved.monitoring.minDuration).to.equal('48h');
    expect(resolved.monitoring.prometheus?.thresholds).to.deep.equal({
      ...SPEC_DEFAULTS.monitoring.prometheus.thresholds,
      minSamples: 5,
    });
    expect(resolved.monitoring.prometheus?.bearerTokenSecretRef).to.deep.equal({ name: 't', key: 'token' });
    expect(resolved.monitoring.prometheus).to.not.have.property('queries');
  });

  it('resolvePrometheusSpec keeps query overrides', () => {
    const resolved = resolvePrometheusSpec({ url: 'https://prom', queries: { samples: 'sum(x)' } });
    expect(resolved.queries).to.deep.equal({ samples: 'sum(x)' });
    expect(resolved.window).to.equal('5m');
  });

  it('isOneOf narrows strings to an enum of the API', () => {
    expect(isOneOf(PHASES, 'Monitoring')).to.equal(true);
    expect(isOneOf(PHASES, 'monitoring')).to.equal(false);
    expect(isOneOf(TARGET_KINDS, 3)).to.equal(false);
  });
});

describe('the CRD', () => {
  it('is structural: every field has a type, and none preserves unknown fields', () => {
    const text = readFileSync(CRD_PATH, 'utf8');
    expect(text).to.not.include('x-kubernetes-preserve-unknown-fields');
    for (const { at, node } of walk(schema)) expect(node.type, at || '<root>').to.be.a('string');
  });

  it('describes every spec and status field, for kubectl explain', () => {
    const undocumented = walk(schema)
      .filter(({ at }) => at.startsWith('spec') || at.startsWith('status'))
      .filter(({ node }) => node.description === undefined || node.description.trim() === '')
      .map(({ at }) => at);
    expect(undocumented).to.deep.equal([]);
  });

  it('states each default in its description, since kubectl explain does not show defaults', () => {
    const wrong = walk(specSchema)
      .filter(({ node }) => node.default !== undefined && node.type !== 'object' && node.type !== 'array')
      .filter(({ node }) => {
        const shown = node.default === '' ? 'empty' : String(node.default);
        return !node.description?.endsWith(`Defaults to ${shown}.`);
      })
      .map(({ at }) => at);
    expect(wrong).to.deep.equal([]);
  });

  it('gives each optional object with nested defaults a default of {}, so those defaults apply', () => {
    const missing = walk(specSchema)
      .filter(({ at, node }) => at !== '' && node.type === 'object' && node.default === undefined)
      .filter(({ node }) => (node.required ?? []).length === 0)
      .filter(({ node }) => walk(node).some((n) => n.node !== node && n.node.default !== undefined))
      .map(({ at }) => at);
    expect(missing).to.deep.equal([]);
  });

  it('validates every duration field with the Go duration pattern', () => {
    const durationPattern = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';
    const durations = [
      'tokenTTL',
      'refreshTokenTTL',
      'schedule.interval',
      'rollout.signingDelay',
      'rollout.pollInterval',
      'monitoring.minDuration',
      'monitoring.maxDuration',
      'monitoring.prometheus.timeout',
      'monitoring.prometheus.interval',
      'monitoring.prometheus.window',
      'rollback.retention',
      'issuer.maxAge',
      'issuer.cacheMargin',
      'issuer.probeInterval',
    ];
    for (const at of durations) expect(child(`spec.${at}`).pattern, at).to.equal(durationPattern);
    const rules = walk(schema).flatMap(({ node }) =>
      (node['x-kubernetes-validations'] ?? []).map((v) => v.rule),
    );
    const durationRules = rules.filter((rule) => rule.includes('duration('));
    expect(durationRules).to.have.length.greaterThan(8);
    for (const rule of durationRules) {
      // Guarded, so a malformed value gets the pattern's error and not also a CEL conversion error.
      expect(rule).to.include(`matches(r'${durationPattern}')`);
    }
    const pattern = new RegExp(durationPattern, 'u');
    for (const ok of ['90s', '15m', '24h', '2160h', '1h30m', '1.5h', '250ms', '10µs'])
      expect(pattern.test(ok), ok).to.equal(true);
    for (const bad of ['1day', '24', 'h', '-1h', '1 h', '']) expect(pattern.test(bad), bad).to.equal(false);
  });

  it('is documented field by field in docs/api.md', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
    const undocumented = walk(schema)
      .filter(({ at }) => /^(spec|status)\./.test(at) && !at.endsWith('[]'))
      .map(({ at }) => at)
      .filter(
        (at) =>
          !doc.includes(`\`${at}\``) &&
          !doc.includes(`\`${at.replace(/^status\.history\[\]/, 'status.lastRotation')}\``),
      );
    expect(undocumented).to.deep.equal([]);
  });

  it('is the one the Helm chart installs (its crds/ links to crds/)', () => {
    const chartCrd = path.join(REPO_ROOT, 'charts', 'jwt-rotation-operator', 'crds', path.basename(CRD_PATH));
    expect(realpathSync(chartCrd)).to.equal(realpathSync(CRD_PATH));
  });
});

describe('the schema validator', () => {
  const base = { secretName: 'api-jwt', targets: [{ kind: 'Deployment', name: 'api' }] };
  const prometheus = { url: 'http://prom:9090' };
  const cases: [string, unknown, string][] = [
    ['rejects a missing secretName', { targets: [] }, 'spec.secretName: Required value'],
    [
      'rejects an unknown target kind',
      { ...base, targets: [{ kind: 'CronJob', name: 'api' }] },
      'spec.targets[0].kind: Unsupported value: "CronJob"',
    ],
    [
      'rejects secretLength 31',
      { ...base, secretLength: 31 },
      'spec.secretLength: Invalid value: 31: should be greater than or equal to 32',
    ],
    [
      'rejects a malformed duration',
      { ...base, tokenTTL: '1day' },
      'spec.tokenTTL: Invalid value: "1day": should match',
    ],
    [
      'rejects a threshold above 1',
      { ...base, monitoring: { prometheus: { ...prometheus, thresholds: { minNewKeyShare: 1.5 } } } },
      'spec.monitoring.prometheus.thresholds.minNewKeyShare: Invalid value: 1.5: should be less than or equal to 1',
    ],
    [
      'rejects a zero latency threshold',
      {
        ...base,
        monitoring: { prometheus: { ...prometheus, thresholds: { maxValidationLatencyP99Seconds: 0 } } },
      },
      'should be greater than 0',
    ],
    [
      'rejects prometheus without url',
      { ...base, monitoring: { prometheus: {} } },
      'spec.monitoring.prometheus.url: Required value',
    ],
    [
      'rejects a prometheus url that is not http(s)',
      { ...base, monitoring: { prometheus: { url: 'prom:9090' } } },
      'spec.monitoring.prometheus.url: Invalid value',
    ],
    [
      'rejects a selector that closes the braces to change the query (PromQL injection)',
      { ...base, monitoring: { prometheus: { ...prometheus, selector: 'job="api"} or vector(1) #' } } },
      'spec.monitoring.prometheus.selector: Invalid value',
    ],
    [
      'rejects a selector that is not label matchers',
      { ...base, monitoring: { prometheus: { ...prometheus, selector: 'job=api' } } },
      'spec.monitoring.prometheus.selector: Invalid value',
    ],
    [
      'rejects an unknown unlistedConsumers policy',
      { ...base, unlistedConsumers: 'Always' },
      'spec.unlistedConsumers: Unsupported value: "Always"',
    ],
    [
      'rejects a duplicate target',
      { ...base, targets: [...base.targets, { kind: 'Deployment', name: 'api' }] },
      'spec.targets[1]: Duplicate value',
    ],
    ['rejects an unknown field', { ...base, secretNmae: 'x' }, 'spec.secretNmae: unknown field'],
    [
      'rejects a wrong type',
      { ...base, suspend: 'yes' },
      'spec.suspend: Invalid value: "yes": must be of type boolean',
    ],
    [
      'rejects a secretName that is not a DNS subdomain',
      { ...base, secretName: 'API_JWT' },
      'spec.secretName: Invalid value',
    ],
    [
      'rejects more than 64 targets',
      { ...base, targets: Array.from({ length: 65 }, (_, i) => ({ kind: 'Deployment', name: `api-${i}` })) },
      'spec.targets: Too many: 65',
    ],
  ];
  for (const [name, spec, message] of cases) {
    it(name, () => {
      const errors = validateAgainstSchema(valid(spec), schema);
      expect(errors.join('\n')).to.include(message);
    });
  }

  it('accepts a status as the operator writes it', () => {
    const status = {
      phase: 'Monitoring',
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Rotating',
          message: 'monitoring',
          lastTransitionTime: '2026-11-28T10:00:00Z',
        },
      ],
      lastRotation: { trigger: 'Scheduled', outcome: 'Completed', finishedAt: '2026-08-30T10:00:00Z' },
      gate: { health: 'Pass', completion: 'Fail', readings: { newKeyShare: 0.5 } },
      targets: [{ kind: 'Deployment', name: 'api', ready: true, revision: 'abc' }],
    };
    expect(validateAgainstSchema({ ...valid(base), status }, schema)).to.deep.equal([]);
  });
});

describe('the examples in deploy/examples', () => {
  const examples = exampleDocuments();

  it('include a minimal one, a full one and one with Prometheus gates', () => {
    expect(examples.map((e) => e.file)).to.include.members([
      'minimal.yaml',
      'full.yaml',
      'prometheus-gates.yaml',
    ]);
  });

  for (const { file, documents } of examples) {
    it(`${file} is a valid JwtRotation`, () => {
      expect(documents).to.have.length.greaterThan(0);
      for (const doc of documents) {
        const object = doc as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
        expect([object.apiVersion, object.kind]).to.deep.equal([API_VERSION, KIND]);
        expect(object.metadata?.name).to.be.a('string');
        expect(validateAgainstSchema(doc, schema)).to.deep.equal([]);
      }
    });
  }

  it('full.yaml mentions every spec field', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'deploy', 'examples', 'full.yaml'), 'utf8');
    const fields = walk(specSchema)
      .filter(({ at }) => at !== '' && !at.endsWith('[]'))
      .map(({ at }) => at.split('.').at(-1)!.replace('[]', ''));
    const missing = fields.filter((f) => !new RegExp(`\\b${f}:`).test(text));
    expect(missing).to.deep.equal([]);
  });

  it('use distinct names, so they can be applied to one namespace', () => {
    const names = examples.flatMap((e) =>
      e.documents.map((d) => (d as { metadata: { name: string } }).metadata.name),
    );
    expect(new Set(names).size).to.equal(names.length);
  });
});

describe('the manifests that install the operator', () => {
  const read = (...parts: string[]): string => readFileSync(path.join(REPO_ROOT, ...parts), 'utf8');
  interface Manifest {
    kind: string;
    metadata: { name: string; namespace?: string };
    [key: string]: unknown;
  }
  const operator = parseAllDocuments(read('deploy', 'operator.yaml')).map((d) => d.toJS() as Manifest);
  const byKind = (kind: string): Manifest => {
    const found = operator.find((m) => m.kind === kind);
    if (found === undefined) throw new Error(`deploy/operator.yaml has no ${kind}`);
    return found;
  };
  // Every rule but the CRD read is namespaced: the Roles of the namespaced mode grant exactly these.
  const namespacedRules = [
    { apiGroups: ['jwtrotation.io'], resources: ['jwtrotations'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['jwtrotation.io'], resources: ['jwtrotations/status'], verbs: ['update'] },
    {
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
    },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'update'] },
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'statefulsets', 'daemonsets'],
      verbs: ['get', 'list', 'watch', 'patch'],
    },
    { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    // spec.rollout.replaceOnDeletePods: evictions, which honour PodDisruptionBudgets; no pod delete.
    { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    {
      apiGroups: ['jwtrotation.io'],
      resources: ['publishedkeysets'],
      verbs: ['get', 'list', 'watch', 'create', 'update'],
    },
  ];
  const crdRead = {
    apiGroups: ['apiextensions.k8s.io'],
    resources: ['customresourcedefinitions'],
    resourceNames: ['jwtrotations.jwtrotation.io'],
    verbs: ['get'],
  };
  // spec.issuer.relyingParties[].kubernetes: a TokenReview (cluster-scoped: no Role can grant it).
  const tokenReviews = {
    apiGroups: ['authentication.k8s.io'],
    resources: ['tokenreviews'],
    verbs: ['create'],
  };
  const leastPrivilege = [...namespacedRules, crdRead, tokenReviews];

  it('deploy/operator.yaml holds the namespace, RBAC, Deployment and metrics Service', () => {
    expect(operator.map((m) => m.kind)).to.have.members([
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
    ]);
    expect(byKind('Namespace').metadata.name).to.equal('jwt-rotation-system');
    for (const m of operator.filter(
      (o) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
    )) {
      expect(m.metadata.namespace, `${m.kind} ${m.metadata.name}`).to.equal('jwt-rotation-system');
    }
  });

  it('grants the least privilege cluster-wide, and Leases only in its own namespace', () => {
    expect(byKind('ClusterRole').rules).to.deep.equal(leastPrivilege);
    expect(byKind('Role').rules).to.deep.equal([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'list', 'watch', 'create', 'patch'],
      },
    ]);
  });

  it('the Helm chart grants the same rules as deploy/operator.yaml', () => {
    // The rules blocks of templates/rbac.yaml hold no templating but the include of the shared
    // rules (the ClusterRole's and each namespaced Role's), so they parse as YAML.
    const rbac = read('charts', 'jwt-rotation-operator', 'templates', 'rbac.yaml');
    const shared = /\{\{- define "jwt-rotation-operator\.rules" \}\}\n([\s\S]*?)\{\{- end \}\}/.exec(rbac);
    const sharedRules = parse(`rules:\n${shared?.[1] ?? ''}`) as { rules: unknown[] };
    const rules = [
      ...rbac.matchAll(
        /^rules:\n((?: {2}.*\n|\s*\n|\{\{- include "jwt-rotation-operator\.rules" \$?\.? ?\}\}\n)+)/gm,
      ),
    ].map((m) => {
      const text = m[1] ?? '';
      const included = /\{\{- include "jwt-rotation-operator\.rules"/.test(text);
      const own = parse(`rules:\n${text.replace(/^\{\{- include .*\n/m, '')}`) as { rules: unknown[] | null };
      return [...(included ? sharedRules.rules : []), ...(own.rules ?? [])];
    });
    // The namespaced Role, the ClusterRole, the leader-election Role.
    expect(rules).to.deep.equal([namespacedRules, leastPrivilege, byKind('Role').rules]);
  });

  it('deploy/components/namespaced grants the same rules as a Role, and drops the cluster-wide grants', () => {
    const dir = ['deploy', 'components', 'namespaced'];
    const role = parseAllDocuments(read(...dir, 'role.yaml')).map((d) => d.toJS() as Manifest);
    expect(role.map((m) => m.kind)).to.deep.equal(['Role', 'RoleBinding']);
    expect(role[0]?.rules).to.deep.equal(namespacedRules);
    expect(role[1]).to.deep.include({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role[0]?.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: 'jwt-rotation-operator', namespace: 'jwt-rotation-system' }],
    });
    expect(role[1]?.metadata.namespace).to.equal(role[0]?.metadata.namespace);
    const component = parse(read(...dir, 'kustomization.yaml')) as {
      kind: string;
      patches: { patch: string }[];
    };
    expect(component.kind).to.equal('Component');
    const deleted = component.patches
      .map((p) => parse(p.patch) as unknown)
      .filter((p): p is { kind: string } => typeof p === 'object' && p !== null && '$patch' in p)
      .map((p) => p.kind);
    expect(deleted).to.have.members(['ClusterRole', 'ClusterRoleBinding']);
  });

  it('runs as non-root with a read-only root filesystem, no capabilities, and probes /healthz on 8080', () => {
    const pod = (byKind('Deployment') as unknown as { spec: { template: { spec: Record<string, unknown> } } })
      .spec.template.spec;
    const container = (pod.containers as Record<string, unknown>[])[0]!;
    expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 65532 });
    expect(container.securityContext).to.deep.include({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.ports).to.deep.equal([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(container.livenessProbe).to.deep.include({ httpGet: { path: '/healthz', port: 'http' } });
    expect(container.readinessProbe).to.deep.include({ httpGet: { path: '/readyz', port: 'http' } });
    expect(container.resources).to.have.keys('requests', 'limits');
  });

  it('the kustomization lists files that exist', () => {
    const kustomization = parse(read('deploy', 'kustomization.yaml')) as { resources: string[] };
    for (const resource of kustomization.resources) expect(read('deploy', resource)).to.not.equal('');
  });

  it("the chart's Chart.yaml and values.yaml parse, and values keep the pod locked down", () => {
    const chart = parse(read('charts', 'jwt-rotation-operator', 'Chart.yaml')) as Record<string, unknown>;
    expect(chart).to.include({ apiVersion: 'v2', name: 'jwt-rotation-operator' });
    const values = parse(read('charts', 'jwt-rotation-operator', 'values.yaml')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(values.securityContext).to.deep.include({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(values.podSecurityContext).to.include({ runAsNonRoot: true, runAsUser: 65532 });
    expect(values.serviceMonitor).to.include({ enabled: false });
  });
});
