/**
 * The session load generator counts what users would see: on consumers that share their keys no
 * valid token is rejected; when one replica cannot verify the other's key, every such rejection and
 * every ended session is counted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { startConsumer, writeEnvFile, type RunningConsumer } from '../../test/support/consumer.ts';
import { checkTargets, runSessionLoad, type TokenEvent } from './session-load.ts';

const A = randomBytes(64).toString('base64');
const B = randomBytes(64).toString('base64');

describe('session load generator', function () {
  this.timeout(60_000);
  let dir: string;
  const running: RunningConsumer[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'session-load-'));
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  async function consumer(name: string, vars: Record<string, string>): Promise<string> {
    const file = join(dir, `${name}.env`);
    await writeEnvFile(file, { JWT_EXPIRATION: '3s', JWT_REFRESH_EXPIRATION: '1h', ...vars });
    const c = await startConsumer({ envFile: file });
    running.push(c);
    return c.url;
  }

  it('counts no rejection across two replicas that hold the same key', async () => {
    const one = await consumer('one', { JWT_SECRET: A });
    const two = await consumer('two', { JWT_SECRET: A });
    const s = await runSessionLoad({
      login: [one, two],
      verify: [one, two],
      users: 5,
      rps: 50,
      durationMs: 4000,
      maxRequests: 1000,
      refreshAt: 0.5,
      reportEveryMs: 1000,
    });
    expect(s.verified).to.be.greaterThan(50);
    expect(s.issued, 'logins and refreshes').to.be.greaterThan(5);
    expect(s).to.include({ rejectedValid: 0, endedSessions: 0, errors: 0, failed: 0 });
  });

  it('counts rejected valid tokens and ended sessions when a replica cannot verify the signing key', async () => {
    const one = await consumer('dual', { JWT_SECRET: A });
    const other = await consumer('other', { JWT_SECRET: B });
    const s = await runSessionLoad({
      login: [one],
      verify: [other],
      users: 3,
      rps: 30,
      durationMs: 2000,
      maxRequests: 500,
      refreshAt: 0.5,
      reportEveryMs: 1000,
    });
    expect(s.rejectedValid).to.be.greaterThan(0);
    expect(Object.keys(s.rejectionReasons)).to.not.be.empty;
  });

  it('reports every token it receives and presents to onToken, counted as in the summary', async () => {
    const one = await consumer('events-one', { JWT_SECRET: A });
    const other = await consumer('events-other', { JWT_SECRET: B });
    const events: TokenEvent[] = [];
    const s = await runSessionLoad({
      login: [one],
      verify: [one, other],
      users: 3,
      rps: 30,
      durationMs: 2000,
      maxRequests: 500,
      refreshAt: 0.5,
      reportEveryMs: 1000,
      onToken: (e) => events.push(e),
    });
    const count = (what: TokenEvent['what'], use?: TokenEvent['use']): number =>
      events.filter((e) => e.what === what && (use === undefined || e.use === use)).length;
    expect(count('issued', 'access')).to.equal(s.issued);
    expect(count('issued', 'refresh')).to.equal(s.issued);
    expect(count('verified', 'access')).to.equal(s.verified);
    expect(count('rejected-valid')).to.equal(s.rejectedValid).and.to.be.greaterThan(0);
    expect(count('rejected-valid', 'refresh')).to.equal(s.endedSessions);
    expect(count('rejected-expired')).to.equal(s.rejectedExpired);
    for (const e of events) expect(e.token.split('.')).to.have.length(3);
  });

  it('refuses a host name, so it never resolves a name', () => {
    expect(() => {
      checkTargets(['http://example.com:8080']);
    }).to.throw(/IP literal/);
    expect(() => {
      checkTargets(['http://127.0.0.1:8080', 'http://[::1]:80']);
    }).to.not.throw();
  });
});
