/**
 * Secret data, without I/O: what the core sees of a Secret (fingerprints, never keys), and what
 * an action makes of a Secret's values. The executor and the unit tests' simulated world both
 * run these functions, so the crash tests exercise the code that ships.
 */
import {
  BACKUP_ORIGINAL_KEY,
  PrivateKeys,
  SecretAnnotations,
  SecretKeys,
  defaultJwksConfigMapName,
} from '../api/constants.ts';
import { resolveJwtRotationSpec, type JwtRotationSpec } from '../api/types.ts';
import {
  HMAC_SCHEME,
  isAsymmetric,
  keyFingerprint,
  kidFingerprint,
  privateKeyProblem,
  publicJwk,
  type KeyScheme,
  type PublicJwk,
} from '../platform/keys.ts';
import { keptForMembers, type MembersInput } from '../rotation/members.ts';
import type { Action, BackupView, KeyShape, KeySlot, SecretView, ValueSource } from '../rotation/model.ts';
import type { KeyFactory, SecretContent, SecretRecord } from './ports.ts';

export type { KeyScheme } from '../platform/keys.ts';

const KEY_SLOTS: KeySlot[] = [SecretKeys.secret, SecretKeys.current, SecretKeys.new];

/** The names the asymmetric algorithms give the key slots in the Secret. */
const PRIVATE_KEY_NAMES: Record<KeySlot, string> = {
  [SecretKeys.secret]: PrivateKeys.secret,
  [SecretKeys.current]: PrivateKeys.current,
  [SecretKeys.new]: PrivateKeys.new,
};

/** The kind of key a JwtRotation makes, from its spec (defaults applied). */
export function keyScheme(spec: JwtRotationSpec): KeyScheme {
  const resolved = resolveJwtRotationSpec(spec);
  return { algorithm: resolved.algorithm, rsaKeySize: resolved.rsaKeySize };
}

/**
 * The Secret key that holds a value the core names: the core names key slots by the runbook's HMAC
 * names (JWT_SECRET...), which asymmetric algorithms store as JWT_PRIVATE_KEY...; other keys
 * (the rotation date, the TTLs) keep their names.
 */
export function secretKeyName(scheme: KeyScheme, key: string): string {
  if (!isAsymmetric(scheme.algorithm)) return key;
  return (PRIVATE_KEY_NAMES as Record<string, string | undefined>)[key] ?? key;
}

/** The workload Secret as the core sees it: fingerprints and the non-secret values. */
export function viewSecret(secret: SecretRecord, scheme: KeyScheme = HMAC_SCHEME): SecretView {
  const values = secret.values;
  const fingerprints: Partial<Record<KeySlot, string>> = {};
  const keyShapes: Partial<Record<KeySlot, KeyShape>> = {};
  for (const slot of KEY_SLOTS) {
    const value = values[secretKeyName(scheme, slot)];
    if (value !== undefined && value !== '') {
      fingerprints[slot] = keyFingerprint(value, scheme);
      keyShapes[slot] = keyShape(value, scheme);
    }
  }
  // An empty value is no value, for the non-secret keys as for the key slots.
  const plain = (key: string): string | undefined => values[key] || undefined;
  return {
    resourceVersion: secret.resourceVersion,
    type: secret.type,
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
export function keyShape(value: string, scheme: KeyScheme = HMAC_SCHEME): KeyShape {
  if (isAsymmetric(scheme.algorithm)) {
    return {
      bytes: Buffer.byteLength(value, 'utf8'),
      encoding: 'pem',
      problem: privateKeyProblem(value, scheme.algorithm),
    };
  }
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
export function viewBackup(backup: SecretRecord, scheme: KeyScheme = HMAC_SCHEME): BackupView {
  const original = backup.values[BACKUP_ORIGINAL_KEY];
  return {
    originalFingerprint: original ? keyFingerprint(original, scheme) : undefined,
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
  /** The kind of key made and the Secret keys' names; HS256 when not given. */
  scheme?: KeyScheme | undefined;
}

function resolveValue(source: ValueSource, from: ValueSources): string {
  const scheme = from.scheme ?? HMAC_SCHEME;
  if ('literal' in source) return source.literal;
  if ('generate' in source) return from.newKey(source.generate, scheme);
  if ('copy' in source) {
    const value = from.secret[secretKeyName(scheme, source.copy)];
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
  const name = (key: string): string => secretKeyName(sources.scheme ?? HMAC_SCHEME, key);
  if (action.type === 'CreateSecret') {
    return {
      values: Object.fromEntries(
        Object.entries(action.data).map(([k, v]) => [name(k), resolveValue(v, from)]),
      ),
      annotations: { ...action.annotations },
    };
  }
  const values = { ...current?.values };
  const set = Object.entries(action.set).map(([k, v]) => [name(k), resolveValue(v, from)] as const);
  for (const key of action.remove) delete values[name(key)];
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
  scheme: KeyScheme = HMAC_SCHEME,
): SecretContent {
  const slot = secretKeyName(scheme, SecretKeys.secret);
  const key = secret[slot];
  if (!key || keyFingerprint(key, scheme) !== action.fingerprint) {
    throw new Error(`${slot} no longer has fingerprint ${action.fingerprint}`);
  }
  return {
    values: { [BACKUP_ORIGINAL_KEY]: key },
    annotations: {
      [SecretAnnotations.keyCreatedAt]: action.keyCreatedAt,
      [SecretAnnotations.managedBy]: ownerName,
    },
  };
}

/** Name of the JWKS ConfigMap of a JwtRotation. */
export function jwksConfigMapName(spec: JwtRotationSpec): string {
  return spec.jwks?.configMapName ?? defaultJwksConfigMapName(spec.secretName);
}

/** A JWK Set (RFC 7517) as the JWKS ConfigMap holds it. */
export interface Jwks {
  keys: PublicJwk[];
}

/**
 * The JWK Set of the public keys of every private key in the Secret's values, in slot order
 * (JWT_PRIVATE_KEY, _CURRENT, _NEW), each once. A slot that does not hold a private key of the
 * algorithm (a hand edit) is left out: no consumer can sign with it either, and the core still sees
 * it (by its text fingerprint), so an emergency rotation or a rollback can replace it.
 */
export function jwksOf(values: Readonly<Record<string, string>>, scheme: KeyScheme): Jwks {
  const keys: PublicJwk[] = [];
  for (const slot of KEY_SLOTS) {
    const value = values[secretKeyName(scheme, slot)];
    if (value === undefined || value === '') continue;
    let jwk: PublicJwk;
    try {
      jwk = publicJwk(value, scheme.algorithm);
    } catch {
      continue;
    }
    if (!keys.some((k) => k.kid === jwk.kid)) keys.push(jwk);
  }
  return { keys };
}

/**
 * Of the keys served (the JWKS ConfigMap's or the PublishedKeySet's), those kept for the members
 * beside the keys of the hub's Secret, whose annotations are given (the emergency's compromised key
 * leaves): ../rotation/members.ts, keptForMembers, which says why the served set is their source.
 */
export type MemberKeys = (
  served: readonly PublicJwk[],
  hubAnnotations: Readonly<Record<string, string>>,
) => PublicJwk[];

/** MemberKeys for the members as read; none without members (one cluster). */
export function memberKeys(members: MembersInput | undefined): MemberKeys {
  return (served, hubAnnotations) => {
    if (members === undefined) return [];
    const fingerprints = served.map((k) => kidFingerprint(k.kid));
    const kept = new Set(keptForMembers(members, fingerprints, hubAnnotations));
    return served.filter((k) => kept.has(kidFingerprint(k.kid)));
  };
}

/**
 * What a set made exact after a Secret write holds: the Secret's own keys, then those of `served`
 * (the set as published) that `forMembers` keeps for a hub's members. The JWKS ConfigMap and the
 * PublishedKeySet (./issuer-data.ts) both use it.
 */
export function heldKeys(
  own: readonly PublicJwk[],
  served: readonly PublicJwk[],
  forMembers: MemberKeys,
  hubAnnotations: Readonly<Record<string, string>>,
): PublicJwk[] {
  const others = served.filter((k) => !own.some((h) => h.kid === k.kid));
  return [...own, ...forMembers(others, hubAnnotations)];
}

/** Every key of `published` and then every key of `next` not in it: what may verify while `next` is written. */
export function jwksUnion(published: Jwks, next: Jwks): Jwks {
  return {
    keys: [...published.keys, ...next.keys.filter((k) => !published.keys.some((p) => p.kid === k.kid))],
  };
}

/** The ConfigMap value of a JWK Set: stable JSON, so the same keys give the same text. */
export function jwksText(jwks: Jwks): string {
  return `${JSON.stringify(jwks, null, 2)}\n`;
}

/** The JWK Set in a ConfigMap value; an absent or unreadable one is empty. */
export function parseJwks(text: string | undefined): Jwks {
  if (text === undefined) return { keys: [] };
  try {
    const parsed = JSON.parse(text) as { keys?: unknown };
    return Array.isArray(parsed.keys) ? { keys: parsed.keys as PublicJwk[] } : { keys: [] };
  } catch {
    return { keys: [] };
  }
}
