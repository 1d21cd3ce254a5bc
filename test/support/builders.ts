/** Short fixtures for the pure core: aJwtRotation({...}), aSecret({...}), aTarget({...}). */
import type { JwtRotationSpec, JwtRotationStatus, ObjectMeta } from '../../src/api/types.ts';
import type { BackupView, DecideInput, SecretView, TargetView } from '../../src/rotation/model.ts';

export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export function aSpec(overrides: Partial<JwtRotationSpec> = {}): JwtRotationSpec {
  const { schedule, ...rest } = overrides;
  return {
    secretName: 'api-jwt',
    targets: [{ kind: 'Deployment', name: 'api' }],
    ...rest,
    // Without spread, unless a test asks for it, so the schedule's times are exact (test/unit/spread.test.ts).
    schedule: { spreadWindow: '0s', ...schedule },
  };
}

export function aJwtRotation(
  overrides: {
    spec?: Partial<JwtRotationSpec>;
    status?: JwtRotationStatus;
    annotations?: Record<string, string>;
    generation?: number;
  } = {},
): DecideInput['resource'] {
  const metadata: ObjectMeta = {
    name: 'api',
    namespace: 'default',
    uid: 'uid-1',
    generation: overrides.generation ?? 1,
    annotations: overrides.annotations ?? {},
  };
  return { metadata, spec: aSpec(overrides.spec), status: overrides.status };
}

export function aSecret(overrides: Partial<SecretView> = {}): SecretView {
  return {
    resourceVersion: '1',
    fingerprints: { JWT_SECRET: 'aaaaaaaaaaaa' },
    expiration: '24h',
    refreshExpiration: '168h',
    annotations: {
      'jwtrotation.io/managed-by': 'api',
      'jwtrotation.io/key-created-at': '2026-01-01T00:00:00Z',
    },
    ...overrides,
  };
}

/**
 * The backup Secret holding aSecret()'s key: what the pre-rotation checklist saves (its
 * RollbackCopy item) in the pass before a rotation can start.
 */
export function aRollbackCopy(overrides: Partial<BackupView> = {}): BackupView {
  return { originalFingerprint: 'aaaaaaaaaaaa', ...overrides };
}

export function aTarget(overrides: Partial<TargetView> = {}): TargetView {
  return {
    kind: 'Deployment',
    name: 'api',
    found: true,
    rollout: 'Complete',
    message: '3 of 3 replicas updated and available',
    referencesSecret: true,
    // One pod, started from the template's revision, unless a test says otherwise.
    pods: [{ name: `${overrides.name ?? 'api'}-pod`, revision: overrides.revision }],
    ...overrides,
  };
}

export function anInput(overrides: Partial<DecideInput> = {}): DecideInput {
  return {
    now: T0,
    resource: aJwtRotation(),
    secret: aSecret(),
    backup: undefined,
    targets: [aTarget()],
    consumers: [],
    gate: undefined,
    ...overrides,
  };
}
