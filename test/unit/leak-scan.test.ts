/**
 * The leak scan (test/support/leak-scan.ts) must find a key in every form it can leak in; otherwise
 * the scan that runs at the end of every integration run could pass while a key sits in a log.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { expect } from 'chai';

import { findLeaks, isKeyMaterialName, leakForms } from '../support/leak-scan.ts';

describe('the leak scan', () => {
  const key = randomBytes(64).toString('base64');
  const raw = Buffer.from(key, 'base64');

  const planted: [string, string][] = [
    ['the value as stored', `{"level":"debug","message":"wrote","value":"${key}"}`],
    ['base64 of the value (Secret data)', `data: ${Buffer.from(key).toString('base64')}`],
    ['base64url of the value', `?k=${Buffer.from(key).toString('base64url')}`],
    ['the raw bytes as base64url', `kid ${raw.toString('base64url')}`],
    ['the raw bytes as hex', `bytes=${raw.toString('hex')}`],
    ['the value without padding', `token ${key.replace(/=+$/, '')}.`],
    ['the value split across a JSON-escaped slash', JSON.stringify({ m: key }).replace(/\//g, '\\/')],
  ];

  for (const [form, text] of planted) {
    it(`finds a key leaked as ${form}`, () => {
      const findings = findLeaks([key], [{ where: 'a log', text }]);
      expect(findings).to.have.length.greaterThan(0);
      expect(findings[0]?.where).to.equal('a log');
      // The finding names the key by fingerprint, never by value.
      expect(JSON.stringify(findings)).to.not.include(key.slice(0, 16));
    });
  }

  it('finds a PEM private key, also with its newlines JSON-escaped', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(findLeaks([pem], [{ where: 'json log', text: JSON.stringify({ error: pem }) }])).to.have.length(1);
  });

  it('finds nothing in text that holds other keys, fingerprints or short prefixes', () => {
    const other = randomBytes(64).toString('base64');
    const text = `${other} sha256:${raw.toString('hex').slice(0, 12)} ${key.slice(0, 12)}`;
    expect(findLeaks([key], [{ where: 'a log', text }])).to.deep.equal([]);
  });

  it('knows which Secret data keys hold key material', () => {
    for (const name of [
      'JWT_SECRET',
      'JWT_SECRET_CURRENT',
      'JWT_SECRET_NEW',
      'JWT_SECRET_ORIGINAL',
      'JWT_PRIVATE_KEY_NEW',
    ]) {
      expect(isKeyMaterialName(name), name).to.equal(true);
    }
    for (const name of ['JWT_SECRET_ROTATION_DATE', 'JWT_EXPIRATION', 'token', 'ca.crt']) {
      expect(isKeyMaterialName(name), name).to.equal(false);
    }
  });

  it('searches at least five forms of a base64 key, none shorter than 16 characters', () => {
    const forms = leakForms(key);
    expect(forms.length).to.be.at.least(5);
    for (const form of forms) expect(form.length).to.be.at.least(16);
  });
});
