/**
 * The serving certificate read from a Secret volume and read again when it changes: a pair swapped in
 * the way kubelet swaps it is taken, a key that does not match its certificate is refused (the last
 * good pair stays), and the same files are not taken twice. Files made with openssl in a temp dir.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { CertificateReloader, type CertificatePair } from '../../src/issuer/certificate.ts';
import { loadIssuerConfig, leaseNameFor, fieldManagerFor } from '../../src/issuer/config.ts';
import { IssuerMetrics } from '../../src/issuer/metrics.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { makeTestPki, writeSecretVolume, type TestPki } from '../support/tls.ts';

const logger = createLogger({ level: 'error', silent: true });

async function files(pki: TestPki): Promise<{ 'tls.crt': string; 'tls.key': string }> {
  return { 'tls.crt': await readFile(pki.certFile, 'utf8'), 'tls.key': await readFile(pki.keyFile, 'utf8') };
}

describe('the serving certificate', function () {
  this.timeout(30_000);
  let first: TestPki;
  let second: TestPki;

  before(async () => {
    [first, second] = await Promise.all([makeTestPki(['a.example']), makeTestPki(['b.example'])]);
  });

  it('takes the first pair, then a new pair swapped in, and calls back only for the new one', async () => {
    const dir = path.join(first.dir, 'volume-1');
    await writeSecretVolume(dir, await files(first));
    const changes: CertificatePair[] = [];
    const metrics = new IssuerMetrics({ defaultMetrics: false });
    const reloader = new CertificateReloader(dir, 60_000, logger, metrics, (p) => changes.push(p));
    expect(await reloader.load()).to.equal(true);
    expect(reloader.pair?.cert.toString()).to.equal(await readFile(first.certFile, 'utf8'));
    expect(changes).to.have.length(0);
    expect(await reloader.load()).to.equal(false); // the same files: nothing new
    await writeSecretVolume(dir, await files(second));
    expect(await reloader.load()).to.equal(true);
    expect(changes.map((c) => c.cert.toString())).to.deep.equal([await readFile(second.certFile, 'utf8')]);
  });

  it('refuses a key that does not match its certificate and keeps the pair in use', async () => {
    const dir = path.join(first.dir, 'volume-2');
    await writeSecretVolume(dir, await files(first));
    const changes: CertificatePair[] = [];
    const metrics = new IssuerMetrics({ defaultMetrics: false });
    const reloader = new CertificateReloader(dir, 60_000, logger, metrics, (p) => changes.push(p));
    await reloader.load();
    // Half a swap: the new certificate with the old key.
    await writeSecretVolume(dir, {
      'tls.crt': await readFile(second.certFile, 'utf8'),
      'tls.key': await readFile(first.keyFile, 'utf8'),
    });
    expect(await reloader.load()).to.equal(false);
    expect(reloader.pair?.cert.toString()).to.equal(await readFile(first.certFile, 'utf8'));
    const refused = (await metrics.registry.getSingleMetric('jwt_issuer_certificate_reloads_total')?.get())
      ?.values;
    expect(refused?.find((v) => v.labels.result === 'error')?.value).to.equal(1);
    await writeSecretVolume(dir, await files(second));
    expect(await reloader.load()).to.equal(true);
    expect(changes).to.have.length(1);
  });

  it('waits for files that are not there yet', async () => {
    const dir = path.join(first.dir, 'volume-3');
    const reloader = new CertificateReloader(
      dir,
      60_000,
      logger,
      new IssuerMetrics({ defaultMetrics: false }),
      () => undefined,
    );
    expect(await reloader.load()).to.equal(false);
    expect(reloader.pair).to.equal(undefined);
    await writeSecretVolume(dir, await files(first));
    await writeFile(path.join(dir, 'ignored'), 'x');
    expect(await reloader.load()).to.equal(true);
  });
});

describe('the issuer configuration', () => {
  it('has the defaults the manifests assume', () => {
    const config = loadIssuerConfig({
      POD_NAME: 'jwt-issuer-7d9f8-abcde',
      POD_NAMESPACE: 'jwt-rotation-system',
    });
    expect(config).to.deep.include({
      watchNamespaces: [],
      httpsPort: 8443,
      healthPort: 8081,
      tlsDir: '/etc/jwt-issuer/tls',
      replica: 'jwt-issuer-7d9f8-abcde',
      namespace: 'jwt-rotation-system',
      leaseName: 'jwt-issuer-jwt-issuer-7d9f8-abcde',
      leaseDurationSeconds: 30,
      leaseRenewMs: 10_000,
      statusIntervalMs: 2_000,
    });
    expect(fieldManagerFor(config.replica)).to.equal('jwt-issuer/jwt-issuer-7d9f8-abcde');
  });

  it('reads the watched namespaces from WATCH_NAMESPACES and WATCH_NAMESPACE, without repeats', () => {
    expect(
      loadIssuerConfig({ WATCH_NAMESPACE: 'a', WATCH_NAMESPACES: 'b, a,,c' }).watchNamespaces,
    ).to.deep.equal(['a', 'b', 'c']);
  });

  it('refuses settings it cannot run with, naming them', () => {
    expect(() => loadIssuerConfig({ WATCH_NAMESPACES: 'Prod_1' })).to.throw(/WATCH_NAMESPACES/);
    expect(() => loadIssuerConfig({ HTTPS_PORT: '70000' })).to.throw(/HTTPS_PORT/);
    expect(() => loadIssuerConfig({ LEASE_DURATION_SECONDS: '10' })).to.throw(/LEASE_RENEW_MS/);
    expect(() => loadIssuerConfig({ LOG_LEVEL: 'verbose' })).to.throw(/LOG_LEVEL/);
  });

  it('makes a valid Lease name of any pod name, at most 253 characters', () => {
    expect(leaseNameFor('Pod_Name.x')).to.equal('jwt-issuer-pod-name.x');
    expect(leaseNameFor('a'.repeat(300))).to.have.length(253);
    expect(fieldManagerFor('a'.repeat(300))).to.have.length(128);
  });
});
