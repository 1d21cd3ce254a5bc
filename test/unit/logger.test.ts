import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import winston from 'winston';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { createLogger, type Logger } from '../../src/platform/logger.ts';

/** A logger from createLogger whose JSON lines land in `lines` instead of the console. */
function capture(level = 'debug'): { logger: Logger; lines: () => Promise<Record<string, unknown>[]> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level });
  logger.clear();
  logger.add(new winston.transports.Stream({ stream }));
  return {
    logger,
    lines: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

/** A key as the operator makes one: 64 random bytes, base64. */
const KEY = randomBytes(64).toString('base64');
const URL_SAFE_KEY = randomBytes(48).toString('base64url');
const HEX_KEY = randomBytes(32).toString('hex');

describe('createLogger', () => {
  it('writes one JSON object per line with the level, message, fields and a timestamp', async () => {
    const { logger, lines } = capture();
    logger.info('phase changed', { namespace: 'default', name: 'api', from: 'Idle', phase: 'DualKey' });
    const [line] = await lines();
    expect(line).to.include({
      level: 'info',
      message: 'phase changed',
      namespace: 'default',
      name: 'api',
      from: 'Idle',
      phase: 'DualKey',
    });
    expect(line?.timestamp).to.be.a('string');
  });

  it('drops messages below its level', async () => {
    const { logger, lines } = capture('info');
    logger.debug('status written');
    logger.info('acting');
    expect((await lines()).map((l) => l.message)).to.deep.equal(['acting']);
  });

  it('redacts a base64 key in a field', async () => {
    const { logger, lines } = capture();
    logger.info('acting', { value: KEY });
    const text = JSON.stringify(await lines());
    expect(text).to.not.include(KEY);
    expect(text).to.include('[redacted]');
  });

  it('redacts the shortest key the operator makes: 32 bytes, 44 base64 characters', async () => {
    const { logger, lines } = capture();
    const shortest = randomBytes(32).toString('base64');
    logger.info('acting', { value: shortest });
    const [line] = await lines();
    expect(line?.value).to.equal('[redacted]');
  });

  it('redacts a key in every field that holds one, keeping the other fields', async () => {
    const { logger, lines } = capture();
    logger.warn('odd', { first: KEY, second: `token=${URL_SAFE_KEY};`, third: HEX_KEY, phase: 'DualKey' });
    const [line] = await lines();
    expect(line).to.include({
      first: '[redacted]',
      second: 'token=[redacted];',
      third: '[redacted]',
      phase: 'DualKey',
    });
  });

  it('redacts a key in the message, keeping the words around it', async () => {
    const { logger, lines } = capture();
    logger.error(`could not parse ${KEY} as a duration`);
    const [line] = await lines();
    expect(line?.message).to.equal('could not parse [redacted] as a duration');
  });

  it('redacts every key when one string holds several', async () => {
    const { logger, lines } = capture();
    logger.info('keys', { both: `${KEY} then ${URL_SAFE_KEY}` });
    const [line] = await lines();
    expect(line?.both).to.equal('[redacted] then [redacted]');
  });

  it('redacts a key in a field set on a child logger', async () => {
    const { logger, lines } = capture();
    logger.child({ leaked: KEY }).info('pass');
    const text = JSON.stringify(await lines());
    expect(text).to.not.include(KEY);
  });

  it('redacts on every line, not only the first', async () => {
    const { logger, lines } = capture();
    for (let i = 0; i < 3; i++) logger.info('again', { value: KEY });
    expect((await lines()).map((l) => l.value)).to.deep.equal(['[redacted]', '[redacted]', '[redacted]']);
  });

  it('keeps fingerprints, which are 12 hex digits', async () => {
    const { logger, lines } = capture();
    const fp = fingerprint(KEY);
    logger.info(`Rotation completed: JWT_SECRET is key ${fp}`, { newKeyFingerprint: fp });
    const [line] = await lines();
    expect(line?.message).to.equal(`Rotation completed: JWT_SECRET is key ${fp}`);
    expect(line?.newKeyFingerprint).to.equal(fp);
  });

  it('keeps ordinary text, names, times and numbers', async () => {
    const { logger, lines } = capture();
    const fields = {
      reason: 'RotationDateMoved',
      detail: 'Rollouts not complete by 2026-01-01T00:08:00Z (Deployment api: 1 of 3 replicas updated)',
      name: 'payments-api',
      namespace: 'team-payments-production',
      at: '2026-01-01T00:10:00Z',
      url: 'http://prometheus.monitoring.svc:9090/api/v1/query',
      retryInMs: 500,
    };
    logger.info(
      'Every target verifies both keys; consumers sign with the new key from 2026-01-01T00:10:00Z',
      fields,
    );
    const [line] = await lines();
    expect(line).to.include(fields);
    expect(line?.message).to.equal(
      'Every target verifies both keys; consumers sign with the new key from 2026-01-01T00:10:00Z',
    );
  });
});
