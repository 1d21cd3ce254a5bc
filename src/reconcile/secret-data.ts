/**
 * Secret data, without I/O: what the core sees of a Secret (fingerprints, never keys), and what
 * an action makes of a Secret's values. The executor and the unit tests' simulated world both
 * run these functions, so the crash tests exercise the code that ships.
 */
import { BACKUP_ORIGINAL_KEY, SecretAnnotations, SecretKeys } from '../api/constants.ts';
import { fingerprint } from '../platform/fingerprint.ts';
import type { Action, BackupView, KeyShape, KeySlot, SecretView, ValueSource } from '../rotation/model.ts';
import type { KeyFactory, SecretContent, SecretRecord } from './ports.ts';

const KEY_SLOTS: KeySlot[] = [SecretKeys.secret, SecretKeys.current, SecretKeys.new];

/** The workload Secret as the core sees it: fingerprints and the non-secret values. */
export function viewSecret(secret: SecretRecord): SecretView {
  const values = secret.values;
  const fingerprints: Partial<Record<KeySlot, string>> = {};
  const keyShapes: Partial<Record<KeySlot, KeyShape>> = {};
  for (const slot of KEY_SLOTS) {
    const value = values[slot];
    if (value !== undefined && value !== '') {
      fingerprints[slot] = fingerprint(value);
      keyShapes[slot] = keyShape(value);
    }
  }
  // An empty value is no value, for the non-secret keys as for the key slots.
  const plain = (key: string): string | undefined => values[key] || undefined;
  return {
    resourceVersion: secret.resourceVersion,
    fingerprints,
    keyShapes,
    rotationDate: plain(SecretKeys.rotationDate),
    expiration: plain(SecretKeys.expiration),
    refreshExpiration: plain(SecretKeys.refreshExpiration),
    annotations: { ...secret.annotations },
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A key's length and encoding, and what would make consumers read it differently from the
 * operator (pre-rotation checklist). Only these facts reach the core, never the key.
 */
export function keyShape(value: string): KeyShape {
  const encoding: KeyShape['encoding'] = HEX.test(value)
    ? 'hex'
    : BASE64.test(value) && value.length >= 4
      ? 'base64'
      : BASE64URL.test(value) && value.length >= 4
        ? 'base64url'
        : 'text';
  const bytes =
    encoding === 'hex'
      ? value.length / 2
      : encoding === 'base64' || encoding === 'base64url'
        ? Buffer.from(value, encoding).length
        : Buffer.byteLength(value, 'utf8');
  let problem: string | undefined;
  if (value.trim() !== value) {
    problem = 'it starts or ends with whitespace or a newline, which consumers may or may not strip';
  } else if (CONTROL.test(value)) {
    problem =
      'it contains control characters, which environment variables and config files do not carry reliably';
  } else if (value.includes('\uFFFD')) {
    problem = 'it is not valid UTF-8 text';
  }
  return { bytes, encoding, problem };
}

/** The backup Secret as the core sees it. */
export function viewBackup(backup: SecretRecord): BackupView {
  const original = backup.values[BACKUP_ORIGINAL_KEY];
  return {
    originalFingerprint: original ? fingerprint(original) : undefined,
    keyCreatedAt: backup.annotations[SecretAnnotations.keyCreatedAt],
  };
}

/** Where the values of one pass come from. */
interface ValueSources {
  /** The workload Secret's values as they stand before the action. */
  secret: Readonly<Record<string, string>>;
  /** The backup Secret's values. */
  backup: Readonly<Record<string, string>>;
  newKey: KeyFactory;
}

function resolveValue(source: ValueSource, from: ValueSources): string {
  if ('literal' in source) return source.literal;
  if ('generate' in source) return from.newKey(source.generate);
  if ('copy' in source) {
    const value = from.secret[source.copy];
    if (!value) throw new Error(`cannot copy ${source.copy}: it is not in the Secret`);
    return value;
  }
  const original = from.backup[BACKUP_ORIGINAL_KEY];
  if (!original) throw new Error('the original key is not in the backup Secret');
  return original;
}

type SecretAction = Extract<Action, { type: 'CreateSecret' | 'UpdateSecret' }>;

/**
 * The workload Secret's content after the action. Pure but for the key factory it is given:
 * `current` is not changed. An update resolves every value before removing any, so a copy can
 * read a key that the same action removes.
 */
export function applyToSecret(
  current: SecretContent | undefined,
  action: SecretAction,
  sources: Omit<ValueSources, 'secret'>,
): SecretContent {
  const from: ValueSources = { ...sources, secret: current?.values ?? {} };
  if (action.type === 'CreateSecret') {
    return {
      values: Object.fromEntries(Object.entries(action.data).map(([k, v]) => [k, resolveValue(v, from)])),
      annotations: { ...action.annotations },
    };
  }
  const values = { ...current?.values };
  const set = Object.entries(action.set).map(([k, v]) => [k, resolveValue(v, from)] as const);
  for (const key of action.remove) delete values[key];
  for (const [key, value] of set) values[key] = value;
  const annotations = { ...current?.annotations };
  for (const [key, value] of Object.entries(action.annotations)) {
    if (value === null) delete annotations[key];
    else annotations[key] = value;
  }
  return { values, annotations };
}

/**
 * The backup Secret's content for SaveOriginal: the workload Secret's JWT_SECRET, which must
 * still have the fingerprint the decision saw.
 */
export function backupContent(
  secret: Readonly<Record<string, string>>,
  action: Extract<Action, { type: 'SaveOriginal' }>,
  ownerName: string,
): SecretContent {
  const key = secret[SecretKeys.secret];
  if (!key || fingerprint(key) !== action.fingerprint) {
    throw new Error(`JWT_SECRET no longer has fingerprint ${action.fingerprint}`);
  }
  return {
    values: { [BACKUP_ORIGINAL_KEY]: key },
    annotations: {
      [SecretAnnotations.keyCreatedAt]: action.keyCreatedAt,
      [SecretAnnotations.managedBy]: ownerName,
    },
  };
}
