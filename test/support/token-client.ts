/**
 * A consumer that signs JWTs exactly as docs/consumer-contract.md says for asymmetric keys and
 * presents them to relying parties that verify by the issuer's URL, counting what each answered.
 *
 * It re-reads the Secret on every tick (a consumer that reloads a mounted Secret, at its fastest),
 * signs with JWT_PRIVATE_KEY_CURRENT (or JWT_PRIVATE_KEY) before JWT_SECRET_ROTATION_DATE and with
 * JWT_PRIVATE_KEY_NEW from it on, kid = the public key's RFC 7638 thumbprint, computed here with
 * jose, not with the operator's code. Each tick it presents to every relying party:
 * - a fresh token of the signing key ("fresh");
 * - every 5th tick, the first token it signed with each key ("held": a session that goes on using
 *   the token it got, until its exp);
 * - after `emergency()`, a fresh token of the compromised key ("compromised": an attacker holding
 *   it). Every key the client had seen before the emergency is withdrawn from then on: its tokens
 *   count as "compromised" (fresh) or "withdrawn" (held), and must become refused; they are no
 *   longer valid tokens.
 *
 * Bounded: it stops by itself after maxDurationMs.
 */
import { createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, SignJWT, type CryptoKey } from 'jose';
import { parseDuration } from '../../src/rotation/duration.ts';

export type Kind = 'fresh' | 'held' | 'compromised' | 'withdrawn';
export type Result = 'accepted' | 'refused' | 'error';

export interface RelyingPartyTarget {
  name: string;
  audience: string;
  present(token: string): Promise<{ result: Result; detail: string }>;
}

export interface Outcome {
  /** When the token was sent, and when the answer came. */
  sentAt: number;
  at: number;
  rp: string;
  phase: string;
  kind: Kind;
  /** The signing key's fingerprint (first 12 hex digits of its thumbprint, as the operator shows it). */
  key: string;
  result: Result;
  detail: string;
}

interface SigningKey {
  fingerprint: string;
  kid: string;
  key: CryptoKey;
  firstSeen: number;
}

interface Token {
  rp: string;
  key: SigningKey;
  token: string;
  exp: number;
}

const HELD_EVERY = 5;
/** A held token is presented only while it has this long to live: its expiry is not what is measured. */
const HELD_MARGIN_MS = 10_000;

async function signingKey(pem: string, algorithm: string, now: number): Promise<SigningKey> {
  const jwk = await exportJWK(createPublicKey(createPrivateKey(pem)));
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return {
    kid,
    fingerprint: Buffer.from(kid, 'base64url').toString('hex').slice(0, 12),
    key: await importPKCS8(pem, algorithm),
    firstSeen: now,
  };
}

/** The private key the contract says to sign with now. */
export function signingPem(values: Readonly<Record<string, string>>, now: number): string | undefined {
  const current = values.JWT_PRIVATE_KEY_CURRENT ?? values.JWT_PRIVATE_KEY;
  const next = values.JWT_PRIVATE_KEY_NEW;
  const date = Date.parse(values.JWT_SECRET_ROTATION_DATE ?? '');
  return next !== undefined && Number.isFinite(date) && now >= date ? next : current;
}

export class TokenClient {
  readonly outcomes: Outcome[] = [];
  /** Every key seen, by PEM. */
  private readonly keys = new Map<string, SigningKey>();
  private readonly held: Token[] = [];
  private phaseName = 'start';
  private withdrawn = new Set<string>();
  private compromised: SigningKey | undefined;
  /** Each emergency: when, and the fingerprint of the key that was signing then. */
  readonly emergencies: { at: number; compromised: string }[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private tick = 0;
  /** Why the last Secret read failed, if it did. */
  lastReadError: string | undefined;

  constructor(
    private readonly options: {
      readSecret: () => Promise<Record<string, string> | undefined>;
      issuer: string;
      algorithm: string;
      subject: string;
      relyingParties: RelyingPartyTarget[];
      intervalMs: number;
      maxDurationMs: number;
    },
  ) {}

  start(): void {
    const until = Date.now() + this.options.maxDurationMs;
    this.running = (async () => {
      while (!this.stopping && Date.now() < until) {
        const started = Date.now();
        await this.once().catch((error: unknown) => {
          this.lastReadError = String(error);
        });
        const left = this.options.intervalMs - (Date.now() - started);
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Labels the outcomes from now on. */
  phase(name: string): void {
    this.phaseName = name;
  }

  /** The key was compromised: every key seen so far is withdrawn; the one signing now is the attacker's. */
  emergency(at: number): void {
    const values = this.lastValues;
    const pem = values === undefined ? undefined : signingPem(values, at);
    this.compromised = pem === undefined ? undefined : this.keys.get(pem);
    this.withdrawn = new Set([...this.keys.values()].map((k) => k.fingerprint));
    this.emergencies.push({ at, compromised: this.compromised?.fingerprint ?? '' });
  }

  /** When each key was first seen in the Secret, by fingerprint. */
  keysSeen(): { fingerprint: string; firstSeen: number }[] {
    return [...this.keys.values()].map((k) => ({ fingerprint: k.fingerprint, firstSeen: k.firstSeen }));
  }

  private lastValues: Record<string, string> | undefined;

  /** Signs one token with the key the Secret says to sign with now and presents it to each relying party; records nothing. */
  async presentNow(): Promise<Record<string, string>> {
    const now = Date.now();
    const values = await this.options.readSecret();
    const pem = values === undefined ? undefined : signingPem(values, now);
    if (pem === undefined) return {};
    const key = await this.keyOf(pem, now);
    const answers: Record<string, string> = {};
    for (const rp of this.options.relyingParties) {
      const token = await this.sign(rp, key, now, 60_000);
      const answer = await rp
        .present(token.token)
        .catch((error: unknown) => ({ result: 'error', detail: String(error) }));
      answers[rp.name] = `${answer.result} (${answer.detail})`;
    }
    return answers;
  }

  private async once(): Promise<void> {
    const now = Date.now();
    const values = await this.options.readSecret();
    if (values === undefined) return;
    this.lastValues = values;
    const pem = signingPem(values, now);
    if (pem === undefined) return;
    const key = await this.keyOf(pem, now);
    const ttlMs = Math.min(parseDuration(values.JWT_EXPIRATION ?? '5m'), 10 * 60_000);
    const presentations: Promise<void>[] = [];
    for (const rp of this.options.relyingParties) {
      const fresh = await this.sign(rp, key, now, ttlMs);
      if (!this.held.some((h) => h.rp === rp.name && h.key === key)) this.held.push(fresh);
      presentations.push(this.present(rp, fresh, false));
      const attacker = this.compromised;
      if (attacker !== undefined && attacker !== key)
        presentations.push(this.present(rp, await this.sign(rp, attacker, now, ttlMs), false));
      if (this.tick % HELD_EVERY === 0) {
        for (const h of this.held)
          if (h.rp === rp.name && h.key !== key && h.exp > now + HELD_MARGIN_MS)
            presentations.push(this.present(rp, h, true));
      }
    }
    this.tick++;
    await Promise.all(presentations);
  }

  private async keyOf(pem: string, now: number): Promise<SigningKey> {
    let key = this.keys.get(pem);
    if (key === undefined) {
      key = await signingKey(pem, this.options.algorithm, now);
      this.keys.set(pem, key);
    }
    return key;
  }

  private async sign(rp: RelyingPartyTarget, key: SigningKey, now: number, ttlMs: number): Promise<Token> {
    const seconds = Math.floor(now / 1000);
    const exp = seconds + Math.floor(ttlMs / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: this.options.algorithm, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setSubject(this.options.subject)
      .setAudience(rp.audience)
      .setIssuedAt(seconds)
      .setNotBefore(seconds - 30)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key.key);
    return { rp: rp.name, key, token, exp: exp * 1000 };
  }

  private async present(rp: RelyingPartyTarget, token: Token, held: boolean): Promise<void> {
    const withdrawn = this.withdrawn.has(token.key.fingerprint);
    const kind: Kind = withdrawn ? (held ? 'withdrawn' : 'compromised') : held ? 'held' : 'fresh';
    const phase = this.phaseName;
    const sentAt = Date.now();
    const answer = await rp.present(token.token).catch((error: unknown) => ({
      result: 'error' as const,
      detail: error instanceof Error ? error.message : String(error),
    }));
    this.outcomes.push({
      sentAt,
      at: Date.now(),
      rp: rp.name,
      phase,
      kind,
      key: token.key.fingerprint,
      result: answer.result,
      detail: answer.detail,
    });
  }
}

/** Counts of outcomes by relying party, phase, kind, key and result, as printable rows. */
export function countOutcomes(outcomes: readonly Outcome[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const key = `${o.rp}\t${o.phase}\t${o.kind}\t${o.key}\t${o.result}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}
