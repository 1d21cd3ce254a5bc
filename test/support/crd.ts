/**
 * The JwtRotation CRD for tests: its schema, a structural validator over it (what the API server
 * checks before CEL: types, required fields, enums, patterns, bounds, unknown fields, list-map keys),
 * and installCrd() for integration tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { parseAllDocuments } from 'yaml';

import { CRD_PATH, parseCrd, storageSchema, type JsonSchema } from '../../tools/gen-api-types.ts';
import { repoRoot, waitFor, type TestCluster } from './cluster.ts';

export { CRD_PATH };
export const CRD_NAME = 'jwtrotations.jwtrotation.io';
export const EXAMPLES_DIR = path.join(repoRoot, 'deploy', 'examples');

/** The storage version's openAPIV3Schema, read from crds/ now. */
export function crdSchema(): JsonSchema {
  return storageSchema(parseCrd(readFileSync(CRD_PATH, 'utf8'))).schema;
}

/** Every YAML document of each file in deploy/examples, by file name. */
export function exampleDocuments(): { file: string; documents: unknown[] }[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((file) => {
      const docs = parseAllDocuments(readFileSync(path.join(EXAMPLES_DIR, file), 'utf8'));
      return {
        file,
        documents: docs.map((d) => {
          if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
          return d.toJS() as unknown;
        }),
      };
    });
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function show(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

function typeMatches(type: JsonSchema['type'], value: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case undefined:
      return true;
  }
}

/**
 * Validates `value` against a structural schema the way the API server's OpenAPI validation does
 * (not CEL, not defaulting). Returns one message per problem, prefixed with the field path as in
 * API server errors (`spec.targets[0].kind: ...`); empty when valid.
 */
export function validateAgainstSchema(value: unknown, schema: JsonSchema, at = ''): string[] {
  const field = at === '' ? '<root>' : at;
  if (value === null) return schema.nullable === true ? [] : [`${field}: Invalid value: null`];
  if (!typeMatches(schema.type, value)) {
    return [`${field}: Invalid value: ${show(value)}: must be of type ${schema.type ?? '?'}`];
  }
  const errors: string[] = [];
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    const supported = schema.enum.map(show).join(', ');
    errors.push(`${field}: Unsupported value: ${show(value)}: supported values: ${supported}`);
  }
  if (typeof value === 'string') {
    const length = Array.from(value).length; // the API server counts runes
    if (schema.minLength !== undefined && length < schema.minLength) {
      errors.push(`${field}: Invalid value: should be at least ${schema.minLength} chars long`);
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      errors.push(`${field}: Too long: may not be more than ${schema.maxLength} bytes`);
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
      errors.push(`${field}: Invalid value: ${show(value)}: should match '${schema.pattern}'`);
    }
    if (schema.format === 'date-time' && !RFC3339.test(value)) {
      errors.push(`${field}: Invalid value: ${show(value)}: must be a date-time (RFC 3339)`);
    }
  }
  if (typeof value === 'number') {
    const { minimum, maximum } = schema;
    if (minimum !== undefined && (schema.exclusiveMinimum === true ? value <= minimum : value < minimum)) {
      const op = schema.exclusiveMinimum === true ? 'greater than' : 'greater than or equal to';
      errors.push(`${field}: Invalid value: ${value}: should be ${op} ${minimum}`);
    }
    if (maximum !== undefined && (schema.exclusiveMaximum === true ? value >= maximum : value > maximum)) {
      const op = schema.exclusiveMaximum === true ? 'less than' : 'less than or equal to';
      errors.push(`${field}: Invalid value: ${value}: should be ${op} ${maximum}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      errors.push(`${field}: Too many: ${value.length}: must have at most ${schema.maxItems} items`);
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errors.push(`${field}: Invalid value: must have at least ${schema.minItems} items`);
    }
    value.forEach((item: unknown, i) => {
      if (schema.items !== undefined)
        errors.push(...validateAgainstSchema(item, schema.items, `${at}[${i}]`));
    });
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'map' || listType === 'set') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set<string>();
      value.forEach((item: unknown, i) => {
        const key =
          listType === 'set' ? show(item) : show(keys.map((k) => (item as Record<string, unknown>)[k]));
        if (seen.has(key)) errors.push(`${at}[${i}]: Duplicate value: ${show(item)}`);
        seen.add(key);
      });
    }
  }
  if (schema.type === 'object' && typeMatches('object', value)) {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (object[key] === undefined) errors.push(`${at === '' ? key : `${at}.${key}`}: Required value`);
    }
    const { properties, additionalProperties } = schema;
    for (const [key, child] of Object.entries(object)) {
      const childAt = at === '' ? key : `${at}.${key}`;
      const childSchema =
        properties?.[key] ?? (typeof additionalProperties === 'object' ? additionalProperties : undefined);
      if (childSchema !== undefined) {
        errors.push(...validateAgainstSchema(child, childSchema, childAt));
      } else if (properties !== undefined || additionalProperties === false) {
        // The API server prunes (or, with fieldValidation=Strict as kubectl sends, rejects) these.
        errors.push(`${childAt}: unknown field "${childAt}"`);
      }
      // An object schema without properties (metadata) is the API server's to check.
    }
  }
  return errors;
}

const installs = new Map<string, Promise<void>>();

/**
 * Applies crds/ to the cluster and waits until the API serves JwtRotations. Idempotent (server-side
 * apply) and memoized per cluster, so every suite can call it in its before() hook.
 */
export function installCrd(cluster: TestCluster): Promise<void> {
  let install = installs.get(cluster.kubeconfigPath);
  if (install === undefined) {
    install = applyCrd(cluster);
    installs.set(cluster.kubeconfigPath, install);
    install.catch(() => installs.delete(cluster.kubeconfigPath));
  }
  return install;
}

async function applyCrd(cluster: TestCluster): Promise<void> {
  const crdsDir = path.dirname(CRD_PATH);
  const apply = await cluster.kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=jwtr-tests',
    '-f',
    crdsDir,
  ]);
  if (apply.code !== 0) throw new Error(`kubectl apply -f ${crdsDir} failed: ${apply.stderr}`);
  const established = await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    `crd/${CRD_NAME}`,
  ]);
  if (established.code !== 0) throw new Error(`CRD ${CRD_NAME} not Established: ${established.stderr}`);
  // Established means served; kubectl's discovery may still lag a moment behind.
  await waitFor('jwtrotations to be listable', async () => {
    const list = await cluster.kubectl([
      'get',
      'jwtrotations.jwtrotation.io',
      '--all-namespaces',
      '-o',
      'name',
    ]);
    return list.code === 0;
  });
}
