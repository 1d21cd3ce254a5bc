/**
 * Generates src/api/generated.ts from the CRD in crds/, the one source of truth of the API:
 * an interface per object schema (named from a table keyed by JSON path), a string-literal union
 * plus a const array per enum, SPEC_DEFAULTS from the schema's `default:` values, and
 * `Resolved*` types with `resolve*` functions that fill those defaults in the way the API server does.
 *
 *   npx tsx tools/gen-api-types.ts           write src/api/generated.ts
 *   npx tsx tools/gen-api-types.ts --check   exit 1 if it is not up to date
 *
 * The output is formatted with the repository's prettier config, so it is byte-for-byte stable.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { parse } from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_PATH = path.join(REPO_ROOT, 'crds', 'jwtrotation.io_jwtrotations.yaml');
export const GENERATED_PATH = path.join(REPO_ROOT, 'src', 'api', 'generated.ts');

/** The subset of the OpenAPI v3 schema a structural CRD schema uses. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minItems?: number;
  maxItems?: number;
  nullable?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export interface CustomResourceDefinition {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string; singular?: string; shortNames?: string[]; categories?: string[] };
    scope: string;
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
    }[];
  };
}

export function parseCrd(text: string): CustomResourceDefinition {
  const crd = parse(text) as CustomResourceDefinition;
  if (crd.kind !== 'CustomResourceDefinition')
    throw new Error(`expected a CustomResourceDefinition, got ${crd.kind}`);
  return crd;
}

/** The schema of the storage version: the one the operator reads and writes. */
export function storageSchema(crd: CustomResourceDefinition): { version: string; schema: JsonSchema } {
  const version = crd.spec.versions.find((v) => v.storage);
  if (version === undefined) throw new Error('the CRD has no storage version');
  return { version: version.name, schema: version.schema.openAPIV3Schema };
}

/** JSON path of a property: `spec.monitoring.prometheus`; array items add `[]`; the root is ''. */
export function childPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

interface ObjectName {
  name: string;
  /** Doc comment of the interface, when the schema's own description fits only one of its uses. */
  doc?: string;
}

/** Readable names of the object schemas, by JSON path. A path missing here fails the generation. */
const OBJECT_NAMES: Record<string, ObjectName> = {
  '': { name: 'JwtRotation' },
  spec: { name: 'JwtRotationSpec' },
  'spec.targets[]': { name: 'Target' },
  'spec.schedule': { name: 'ScheduleSpec' },
  'spec.schedule.maintenanceWindows[]': { name: 'MaintenanceWindowSpec' },
  'spec.rollout': { name: 'RolloutSpec' },
  'spec.monitoring': { name: 'MonitoringSpec' },
  'spec.monitoring.prometheus': { name: 'PrometheusSpec' },
  'spec.monitoring.prometheus.bearerTokenSecretRef': { name: 'SecretKeyReference' },
  'spec.monitoring.prometheus.tls': { name: 'PrometheusTlsSpec' },
  'spec.monitoring.prometheus.tls.caSecretRef': { name: 'CaSecretKeyReference' },
  'spec.monitoring.prometheus.queries': { name: 'PrometheusQueries' },
  'spec.monitoring.prometheus.thresholds': { name: 'GateThresholdsSpec' },
  'spec.rollback': { name: 'RollbackSpec' },
  'spec.jwks': { name: 'JwksSpec' },
  status: { name: 'JwtRotationStatus' },
  'status.conditions[]': { name: 'Condition' },
  'status.lastRotation': {
    name: 'RotationRecord',
    doc: 'A finished operation (rotation, emergency rotation or rollback), as kept in lastRotation and history.',
  },
  'status.history[]': { name: 'RotationRecord' },
  'status.handledRequests': { name: 'HandledRequests' },
  'status.gate': { name: 'GateStatus' },
  'status.gate.readings': { name: 'GateReadingsStatus' },
  'status.targets[]': { name: 'TargetStatus' },
  'status.unlistedConsumers[]': { name: 'WorkloadReference' },
  'status.preflight[]': { name: 'PreflightItem' },
  // Communication plan and audit (issue 11).
  'spec.notifications': { name: 'NotificationsSpec' },
  'spec.notifications.receivers[]': { name: 'NotificationReceiver' },
  'spec.notifications.receivers[].urlSecretRef': { name: 'UrlSecretReference' },
  'status.notices[]': { name: 'NoticeRecord' },
  'status.notices[].content': { name: 'NoticeContent' },
  'status.notices[].content.fingerprints': { name: 'NoticeFingerprints' },
  'status.notices[].content.requestedBy': { name: 'Requester' },
  'spec.notifications.receivers[].signingSecretRef': { name: 'SigningSecretReference' },
  'status.lastRotation.finalGate': { name: 'GateStatus' },
  'status.history[].finalGate': { name: 'GateStatus' },
  'status.lastRotation.finalGate.readings': { name: 'GateReadingsStatus' },
  'status.history[].finalGate.readings': { name: 'GateReadingsStatus' },
  // The OIDC issuer (issue 26).
  'spec.issuer': { name: 'IssuerSpec' },
  'spec.issuer.relyingParties[]': { name: 'RelyingPartySpec' },
  'spec.issuer.relyingParties[].kubernetes': { name: 'KubernetesProbeSpec' },
  'spec.issuer.relyingParties[].http': { name: 'HttpProbeSpec' },
  'status.issuer': { name: 'IssuerStatus' },
  'status.issuer.versions[]': { name: 'KeySetVersionStatus' },
  'status.issuer.relyingParties[]': { name: 'RelyingPartyStatus' },
  'status.issuer.compromisedKey': { name: 'CompromisedKeyStatus' },
  // One key across clusters (issue 24).
  'spec.clusters[]': { name: 'MemberCluster' },
  'spec.clusters[].kubeconfigSecretRef': { name: 'KubeconfigSecretReference' },
  'status.members[]': { name: 'MemberClusterStatus' },
  'status.members[].targets[]': { name: 'TargetStatus' },
  'status.members[].podsByKey[]': { name: 'MemberPodsByKey' },
};

interface EnumType {
  constant: string;
  /** Doc comment of the type; the schema's descriptions describe fields, not the type. */
  doc: string;
}

/** The enums' types: a string-literal union plus a const array of its values. */
const ENUM_TYPES: Record<string, EnumType> = {
  TargetKind: { constant: 'TARGET_KINDS', doc: 'Kind of a workload that reads the Secret (apps/v1).' },
  OnTimeoutPolicy: {
    constant: 'ON_TIMEOUT_POLICIES',
    doc: 'What happens when monitoring.maxDuration passes before the completion gate passes.',
  },
  FailurePolicy: {
    constant: 'FAILURE_POLICIES',
    doc: 'What happens when a health threshold is breached during a rotation.',
  },
  Phase: { constant: 'PHASES', doc: 'Where a JwtRotation is in its rotation.' },
  ConditionStatus: { constant: 'CONDITION_STATUSES', doc: 'Status of a condition.' },
  Trigger: {
    constant: 'TRIGGERS',
    doc: 'What started an operation (rotation, emergency rotation or rollback).',
  },
  Outcome: { constant: 'OUTCOMES', doc: 'How a finished operation ended.' },
  GateVerdict: { constant: 'GATE_VERDICTS', doc: "The metrics gate's answer for one look." },
  Algorithm: { constant: 'ALGORITHMS', doc: 'JWT signing algorithm of the keys a JwtRotation makes.' },
  Weekday: { constant: 'WEEKDAYS', doc: 'A day of the week, as a maintenance window names it.' },
  PreflightResult: { constant: 'PREFLIGHT_RESULTS', doc: 'The result of one pre-rotation checklist item.' },
  UnlistedConsumersPolicy: {
    constant: 'UNLISTED_CONSUMERS_POLICIES',
    doc: 'What happens with workloads that read the Secret but are not listed in spec.targets.',
  },
  // Communication plan (issue 11).
  ReceiverType: { constant: 'RECEIVER_TYPES', doc: 'The payload format a notification receiver accepts.' },
  NoticeKind: { constant: 'NOTICE_KINDS', doc: "A notice of the runbook's communication plan." },
  // Tenant safety (issue 25): the notices' outbox.
  NoticeState: { constant: 'NOTICE_STATES', doc: 'How the delivery of a notice stands.' },
  Severity: { constant: 'SEVERITIES', doc: 'The type of a Kubernetes Event.' },
  MemberPhase: { constant: 'MEMBER_PHASES', doc: 'Where a member cluster stands (spec.clusters).' },
};

/** The enum type of each enum schema, by JSON path. Paths sharing a type must list the same values. */
const ENUM_PATHS: Record<string, string> = {
  'spec.targets[].kind': 'TargetKind',
  'spec.monitoring.onTimeout': 'OnTimeoutPolicy',
  'spec.monitoring.failurePolicy': 'FailurePolicy',
  'status.phase': 'Phase',
  'status.conditions[].status': 'ConditionStatus',
  'status.trigger': 'Trigger',
  'status.lastRotation.trigger': 'Trigger',
  'status.lastRotation.outcome': 'Outcome',
  'status.history[].trigger': 'Trigger',
  'status.history[].outcome': 'Outcome',
  'status.gate.health': 'GateVerdict',
  'status.gate.completion': 'GateVerdict',
  'status.targets[].kind': 'TargetKind',
  'status.members[].targets[].kind': 'TargetKind',
  'status.members[].phase': 'MemberPhase',
  'spec.unlistedConsumers': 'UnlistedConsumersPolicy',
  'spec.algorithm': 'Algorithm',
  'status.unlistedConsumers[].kind': 'TargetKind',
  'spec.schedule.maintenanceWindows[].days[]': 'Weekday',
  'status.preflight[].result': 'PreflightResult',
  // Communication plan and audit (issue 11).
  'spec.notifications.receivers[].type': 'ReceiverType',
  'status.notices[].notice': 'NoticeKind',
  'status.notices[].state': 'NoticeState',
  'status.notices[].content.severity': 'Severity',
  'status.lastRotation.finalGate.health': 'GateVerdict',
  'status.lastRotation.finalGate.completion': 'GateVerdict',
  'status.history[].finalGate.health': 'GateVerdict',
  'status.history[].finalGate.completion': 'GateVerdict',
};

/** Root fields the API server always sets; typed by hand rather than from their loose schemas. */
const ROOT_FIELDS: Record<string, string> = { apiVersion: 'string', kind: 'string', metadata: 'ObjectMeta' };

const OBJECT_META = `
/** The object metadata the operator reads and writes (a subset of metav1.ObjectMeta, as JSON). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** RFC 3339. */
  creationTimestamp?: string;
  /** RFC 3339; set once the object is being deleted. */
  deletionTimestamp?: string;
  /** Which field manager owns which fields, and since when: who set a request annotation. */
  managedFields?: ManagedFieldsEntry[];
}

/** One entry of metadata.managedFields (metav1.ManagedFieldsEntry, as JSON). */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  /** RFC 3339: when this manager last changed one of its fields. */
  time?: string;
  subresource?: string;
  fieldsType?: string;
  /** The fields owned, as a trie of "f:name" keys. */
  fieldsV1?: Record<string, unknown>;
}
`;

const HEADER = `// Code generated by tools/gen-api-types.ts from crds/jwtrotation.io_jwtrotations.yaml. DO NOT EDIT.
// Change the CRD, then run: npx tsx tools/gen-api-types.ts
`;

function isObject(schema: JsonSchema): boolean {
  return schema.type === 'object' && schema.properties !== undefined;
}

/** True when the schema or anything below it has a default: it gets a Resolved variant. */
function hasDefaults(schema: JsonSchema): boolean {
  if (schema.type === 'array') return schema.items !== undefined && hasDefaults(schema.items);
  return Object.values(schema.properties ?? {}).some((p) => p.default !== undefined || hasDefaults(p));
}

function tsLiteral(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(tsLiteral).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : tsLiteral(k)}: ${tsLiteral(v)}`,
    );
    return `{ ${entries.join(', ')} }`;
  }
  throw new Error(`cannot write ${typeof value} as a TypeScript literal`);
}

function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** What the schema enforces besides its type, in words, for the doc comment. */
function constraints(schema: JsonSchema): string[] {
  const out: string[] = [];
  if (schema.minimum !== undefined)
    out.push(`${schema.exclusiveMinimum === true ? '>' : '≥'} ${schema.minimum}`);
  if (schema.maximum !== undefined)
    out.push(`${schema.exclusiveMaximum === true ? '<' : '≤'} ${schema.maximum}`);
  if (schema.minLength !== undefined && schema.minLength > 0) out.push(`minLength ${schema.minLength}`);
  if (schema.maxLength !== undefined) out.push(`maxLength ${schema.maxLength}`);
  if (schema.maxItems !== undefined) out.push(`maxItems ${schema.maxItems}`);
  if (schema.pattern !== undefined) out.push(`pattern \`${schema.pattern}\``);
  if (schema.format !== undefined) out.push(`format ${schema.format}`);
  if (schema['x-kubernetes-list-map-keys'] !== undefined) {
    out.push(`unique by ${schema['x-kubernetes-list-map-keys'].join(' + ')}`);
  }
  for (const v of schema['x-kubernetes-validations'] ?? []) out.push(v.message ?? `CEL \`${v.rule}\``);
  return out;
}

function docComment(description: string | undefined, extra: string[] = []): string {
  const lines = [...wrap(description ?? '')];
  if (extra.length > 0 && lines.length > 0) lines.push('');
  lines.push(...extra);
  if (lines.length === 0) return '';
  const escaped = lines.map((l) => l.replace(/\*\//g, '*\\/'));
  if (escaped.length === 1 && escaped[0]!.length <= 100) return `/** ${escaped[0]} */\n`;
  return `/**\n${escaped.map((l) => (l === '' ? ' *' : ` * ${l}`)).join('\n')}\n */\n`;
}

function propertyDoc(schema: JsonSchema): string {
  const extra: string[] = [];
  const rules = constraints(schema);
  if (rules.length > 0) extra.push(`Validation: ${rules.join('; ')}.`);
  if (schema.default !== undefined) extra.push(`@defaultValue \`${JSON.stringify(schema.default)}\``);
  return docComment(schema.description, extra);
}

interface Generated {
  enums: Map<string, { constant: string; values: string[]; doc: string }>;
  /** Interface name -> body, in the order first met (depth first from the root). */
  interfaces: Map<string, { path: string; doc: string; members: string }>;
  resolved: Map<string, { doc: string; members: string; fn: string }>;
}

class Generator {
  readonly out: Generated = { enums: new Map(), interfaces: new Map(), resolved: new Map() };
  private readonly usedObjectPaths = new Set<string>();
  private readonly usedEnumPaths = new Set<string>();

  run(root: JsonSchema): Generated {
    this.objectType(root, '');
    const unusedObjects = Object.keys(OBJECT_NAMES).filter((p) => !this.usedObjectPaths.has(p));
    const unusedEnums = Object.keys(ENUM_PATHS).filter((p) => !this.usedEnumPaths.has(p));
    if (unusedObjects.length + unusedEnums.length > 0) {
      throw new Error(
        `name tables list paths the CRD does not have: ${[...unusedObjects, ...unusedEnums].join(', ')}`,
      );
    }
    const spec = root.properties?.spec;
    if (spec === undefined) throw new Error('the CRD schema has no spec');
    this.resolvedType(spec, 'spec');
    return this.out;
  }

  private enumType(schema: JsonSchema, path: string): string {
    const type = ENUM_PATHS[path];
    const named = type === undefined ? undefined : ENUM_TYPES[type];
    if (type === undefined || named === undefined) {
      throw new Error(`enum at ${path} has no type: add it to ENUM_PATHS (and ENUM_TYPES)`);
    }
    this.usedEnumPaths.add(path);
    const values = (schema.enum ?? []).map((v) => {
      if (typeof v !== 'string') throw new Error(`enum at ${path} has a non-string value`);
      return v;
    });
    const seen = this.out.enums.get(type);
    if (seen === undefined) {
      this.out.enums.set(type, { constant: named.constant, values, doc: named.doc });
    } else if (seen.values.join('|') !== values.join('|')) {
      throw new Error(`enum ${type} at ${path} lists other values than its other uses`);
    }
    return type;
  }

  private typeOf(schema: JsonSchema, path: string): string {
    if (schema.enum !== undefined) return this.enumType(schema, path);
    switch (schema.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        if (schema.items === undefined) throw new Error(`array at ${path} has no items`);
        const item = this.typeOf(schema.items, `${path}[]`);
        return /^[\w.]+$/.test(item) ? `${item}[]` : `(${item})[]`;
      }
      case 'object':
        if (isObject(schema)) return this.objectType(schema, path);
        if (typeof schema.additionalProperties === 'object') {
          return `Record<string, ${this.typeOf(schema.additionalProperties, `${path}{}`)}>`;
        }
        throw new Error(`object at ${path} has neither properties nor additionalProperties`);
      default:
        throw new Error(`schema at ${path} has no type`);
    }
  }

  private objectType(schema: JsonSchema, path: string): string {
    const named = OBJECT_NAMES[path];
    if (named === undefined)
      throw new Error(`object at ${path || '(root)'} has no name: add it to OBJECT_NAMES`);
    this.usedObjectPaths.add(path);
    const required = new Set(schema.required ?? []);
    const members = Object.entries(schema.properties ?? {})
      .map(([key, prop]) => {
        const p = childPath(path, key);
        if (path === '' && ROOT_FIELDS[key] !== undefined)
          return `${propertyDoc(prop)}${key}: ${ROOT_FIELDS[key]};`;
        const optional = required.has(key) ? '' : '?';
        return `${propertyDoc(prop)}${key}${optional}: ${this.typeOf(prop, p)};`;
      })
      .join('\n');
    const doc = docComment(named.doc ?? schema.description);
    const seen = this.out.interfaces.get(named.name);
    if (seen === undefined) {
      this.out.interfaces.set(named.name, { path, doc, members });
    } else if (stripComments(seen.members) !== stripComments(members)) {
      throw new Error(`${named.name} at ${path} has another shape than at ${seen.path}`);
    }
    return named.name;
  }

  /** `Resolved<Name>`: defaulted fields required, as the API server returns them. Returns the type's name. */
  private resolvedType(schema: JsonSchema, path: string): string {
    const plain = OBJECT_NAMES[path]?.name;
    if (plain === undefined) throw new Error(`object at ${path} has no name`);
    if (!hasDefaults(schema)) return plain;
    const name = `Resolved${plain}`;
    if (this.out.resolved.has(name)) return name;
    const required = new Set(schema.required ?? []);
    const members: string[] = [];
    const fields: string[] = [];
    const optionals: string[] = [];
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      const p = childPath(path, key);
      const present = required.has(key) || prop.default !== undefined;
      let type = this.typeOf(prop, p);
      let convert = (v: string): string => v;
      if (isObject(prop) && hasDefaults(prop)) {
        type = this.resolvedType(prop, p);
        convert = (v) => `resolve${type.slice('Resolved'.length)}(${v})`;
      } else if (
        prop.type === 'array' &&
        prop.items !== undefined &&
        isObject(prop.items) &&
        hasDefaults(prop.items)
      ) {
        const item = this.resolvedType(prop.items, `${p}[]`);
        type = `${item}[]`;
        convert = (v) => `${v}.map(resolve${item.slice('Resolved'.length)})`;
      }
      members.push(`${propertyDoc(prop)}${key}${present ? '' : '?'}: ${type};`);
      if (prop.default !== undefined) {
        const fallback =
          isObject(prop) || prop.type === 'array' || p.includes('[]')
            ? tsLiteral(prop.default)
            : `SPEC_DEFAULTS.${p.slice('spec.'.length)}`;
        fields.push(`${key}: ${convert(`value.${key} ?? ${fallback}`)},`);
      } else if (present) {
        fields.push(`${key}: ${convert(`value.${key}`)},`);
      } else {
        optionals.push(
          `if (value.${key} !== undefined) {\n resolved.${key} = ${convert(`value.${key}`)};\n}`,
        );
      }
    }
    const fn = [
      `/** ${plain} with every schema default filled in, as the API server stores it. Shares unchanged values with its input. */`,
      `export function resolve${plain}(value: ${plain}): ${name} {`,
      optionals.length === 0
        ? `return {\n${fields.join('\n')}\n};`
        : `const resolved: ${name} = {\n${fields.join('\n')}\n};`,
      ...optionals,
      optionals.length === 0 ? '' : 'return resolved;',
      '}',
    ].join('\n');
    const doc = docComment(`${plain} after defaulting: every field with a schema default is present.`);
    this.out.resolved.set(name, { doc, members: members.join('\n'), fn });
    return name;
  }
}

function stripComments(members: string): string {
  return members.replace(/\/\*\*[\s\S]*?\*\/\n/g, '');
}

/** SPEC_DEFAULTS: every `default:` under spec, nested as in the schema (objects without one included when they hold some). */
export function specDefaults(spec: JsonSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(spec.properties ?? {})) {
    if (isObject(prop)) {
      const nested = specDefaults(prop);
      const own = prop.default as Record<string, unknown> | undefined;
      if (own !== undefined || Object.keys(nested).length > 0) out[key] = { ...(own ?? {}), ...nested };
    } else if (prop.default !== undefined) {
      out[key] = prop.default;
    }
  }
  return out;
}

/** The text of src/api/generated.ts for a CRD. */
export async function generate(crdText: string): Promise<string> {
  const crd = parseCrd(crdText);
  const { version, schema } = storageSchema(crd);
  const spec = schema.properties?.spec;
  if (spec === undefined) throw new Error('the CRD schema has no spec');
  const { enums, interfaces, resolved } = new Generator().run(schema);

  const parts: string[] = [HEADER];
  parts.push(
    `/** The served version this file was generated from: ${crd.spec.group}/${version}. */`,
    `export const GENERATED_API_VERSION = '${crd.spec.group}/${version}';\n`,
  );
  parts.push(OBJECT_META);
  for (const [type, { constant, values, doc }] of enums) {
    parts.push(
      `${docComment(`Every ${type}, in schema order.`)}export const ${constant} = ${tsLiteral(values)} as const;`,
      `${docComment(doc)}export type ${type} = (typeof ${constant})[number];\n`,
    );
  }
  for (const [name, { doc, members }] of interfaces)
    parts.push(`${doc}export interface ${name} {\n${members}\n}\n`);
  parts.push(
    docComment(
      'Every default of the spec schema, nested as in the spec. Objects without a default of their own (prometheus, bearerTokenSecretRef) are listed for their fields: they apply only when the object is present.',
    ) + `export const SPEC_DEFAULTS = ${tsLiteral(specDefaults(spec))} as const;\n`,
  );
  for (const [name, { doc, members }] of resolved)
    parts.push(`${doc}export interface ${name} {\n${members}\n}\n`);
  for (const { fn } of resolved.values()) parts.push(`${fn}\n`);

  const config = (await prettier.resolveConfig(GENERATED_PATH)) ?? {};
  return prettier.format(parts.join('\n'), { ...config, parser: 'typescript' });
}

async function main(argv: string[]): Promise<number> {
  const text = await generate(await readFile(CRD_PATH, 'utf8'));
  const relative = path.relative(REPO_ROOT, GENERATED_PATH);
  if (argv.includes('--check')) {
    const current = await readFile(GENERATED_PATH, 'utf8').catch(() => '');
    if (current !== text) {
      console.error(`${relative} is out of date: run npx tsx tools/gen-api-types.ts`);
      return 1;
    }
    console.log(`${relative} is up to date`);
    return 0;
  }
  await writeFile(GENERATED_PATH, text);
  console.log(`wrote ${relative}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
