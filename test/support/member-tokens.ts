/**
 * A model of a member's pods for token checks (docs/multi-cluster.md): kwok pods run no code, so the
 * consumer's own verification and signing code (examples/consumer) holds the keys the member's latest
 * rolled Deployment template would give its pods. Shared by test/integration/multi-cluster.test.ts
 * (both members, a token stream across a partition) and test/e2e/multi-cluster-real.test.ts (east).
 */
import { parseJwtConfig, signingKeyAt, type JwtConfig } from '../../examples/consumer/config.ts';
import { issueToken, verifyToken } from '../../examples/consumer/tokens.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { waitFor } from './cluster.ts';
import { secretValues, type Clients } from './jwt-rotations.ts';
import { REVISION, type MemberView } from './member-timeline.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A member's pods as a key ring: looks at the member's Deployment `api` every 100 ms; when its template
 * carries a new revision, reads the member's Secret then (as a pod started from that template would) and
 * verifies and signs with exactly those keys. While the member's API server does not answer, the ring
 * stays what it was (the pods keep running) and the looks resume when it answers again.
 */
export class MemberVerifier {
  ring: JwtConfig | undefined;
  revision: string | undefined;
  /** Each template seen: when (ms since start), and whether the Secret read then is the revision's. */
  readonly loads: { at: number; revision: string; secretMatches: boolean }[] = [];
  private stopped = false;
  private readonly t0 = Date.now();
  constructor(
    private readonly c: Clients,
    private readonly ns: string,
    readonly name = 'member',
  ) {}

  async start(): Promise<void> {
    await waitFor(`${this.name} verifier keys`, async () => {
      await this.look();
      return this.ring !== undefined;
    });
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await sleep(100);
      await this.look().catch(() => undefined);
    }
  }

  private async look(): Promise<void> {
    const d = await this.c.apps.readNamespacedDeployment({ namespace: this.ns, name: 'api' });
    const revision = d.spec?.template.metadata?.annotations?.[REVISION];
    if (revision === undefined || revision === this.revision) return;
    const values = (await secretValues(this.c, this.ns, 'api-jwt')) ?? {};
    this.ring = parseJwtConfig(values);
    this.revision = revision;
    // The revision names the fingerprints and the date (src/rotation/revision.ts secretRevision).
    const current = values.JWT_SECRET === undefined ? 'none' : fingerprint(values.JWT_SECRET);
    const next = values.JWT_SECRET_NEW;
    const date = Date.parse(values.JWT_SECRET_ROTATION_DATE ?? '');
    const expected =
      next === undefined
        ? `${current}/`
        : `${current}+${fingerprint(next)}@${Number.isNaN(date) ? '' : String(Math.floor(date / 1000))}/`;
    this.loads.push({ at: Date.now() - this.t0, revision, secretMatches: revision.startsWith(expected) });
  }

  verify(token: string, use: 'access' | 'refresh'): ReturnType<typeof verifyToken> {
    if (this.ring === undefined) throw new Error(`${this.name} verifier has no keys`);
    return verifyToken(this.ring, token, use, new Date());
  }
}

/** What one member's model did in a token stream. */
export interface MemberStreamCounts {
  /** Tokens this member's model signed, and of those, with its ring's NEW key (the date had come). */
  signed: number;
  signedWithNew: number;
  /** Tokens issued (by any member) while this member's API server was down. */
  issuedWhileDown: number;
  verified: number;
  rejected: number;
  rejections: Record<string, number>;
}

/**
 * A stream of access tokens across members: every `everyMs`, a signer member chosen in turn signs a token
 * with the key the reference consumer would choose then (examples/consumer/config.ts signingKeyAt, by
 * JWT_SECRET_ROTATION_DATE), and every member's model verifies it at once. Every token is valid (60 s TTL,
 * verified within milliseconds), so any refusal is a rejected valid token.
 */
export class TokenStream {
  readonly verifiers: MemberVerifier[];
  readonly counts = new Map<string, MemberStreamCounts>();
  issued = 0;
  private readonly down = new Set<string>();
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    members: readonly MemberView[],
    ns: string,
    private readonly options: { everyMs: number; maxTokens: number } = { everyMs: 150, maxTokens: 2_000 },
  ) {
    this.verifiers = members.map((m) => new MemberVerifier(m.c, ns, m.name));
    for (const m of members)
      this.counts.set(m.name, {
        signed: 0,
        signedWithNew: 0,
        issuedWhileDown: 0,
        verified: 0,
        rejected: 0,
        rejections: {},
      });
  }

  async start(): Promise<void> {
    await Promise.all(this.verifiers.map((v) => v.start()));
    this.running = this.loop();
  }

  /** Marks a member's API server down (or up again): its pods, and so its model, keep their keys. */
  setDown(name: string, down: boolean): void {
    if (down) this.down.add(name);
    else this.down.delete(name);
  }

  private count(name: string): MemberStreamCounts {
    const c = this.counts.get(name);
    if (c === undefined) throw new Error(`no member ${name}`);
    return c;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.issued < this.options.maxTokens) {
      const signer = this.verifiers[this.issued % this.verifiers.length] as MemberVerifier;
      const ring = signer.ring as JwtConfig;
      const now = new Date();
      const key = signingKeyAt(ring, now);
      const token = await issueToken(key, {
        subject: `stream-${String(this.issued)}`,
        use: 'access',
        ttlSeconds: 60,
        now,
      });
      this.issued++;
      const s = this.count(signer.name);
      s.signed++;
      if (ring.next !== undefined && key.kid === ring.next.kid && key.kid !== ring.current.kid)
        s.signedWithNew++;
      for (const name of this.down) this.count(name).issuedWhileDown++;
      for (const v of this.verifiers) {
        const r = await v.verify(token, 'access');
        const c = this.count(v.name);
        if (r.result === 'success') c.verified++;
        else {
          c.rejected++;
          const why = `${r.why} (signed by ${signer.name} with ${key.kid})`;
          c.rejections[why] = (c.rejections[why] ?? 0) + 1;
        }
      }
      await sleep(this.options.everyMs);
    }
  }

  /** Stops the stream and the models; prints the counts under `title`. */
  async stop(title: string): Promise<void> {
    this.stopped = true;
    await this.running;
    for (const v of this.verifiers) v.stop();
    console.log(
      `      token stream, ${title}: ${String(this.issued)} access tokens issued, each verified by every member's model:`,
    );
    for (const [name, c] of this.counts)
      console.log(
        `        ${name}: signed ${String(c.signed)} (${String(c.signedWithNew)} with the NEW key of a two-key ring, before its completion), issued while ${name} was down ${String(c.issuedWhileDown)}, verified ${String(c.verified)}, rejected ${String(c.rejected)}${c.rejected > 0 ? ` ${JSON.stringify(c.rejections)}` : ''}`,
      );
  }
}
