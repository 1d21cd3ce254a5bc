/**
 * A private CA and a serving certificate signed by it, made with the openssl CLI, for tests of
 * components behind TLS (a Prometheus with a web config).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface TestPki {
  /** PEM of the CA certificate: what a client must trust. */
  caPem: string;
  /** Files of the serving certificate and its key. */
  certFile: string;
  keyFile: string;
  dir: string;
}

/** A CA, and a server certificate for `names` (DNS names, and IP addresses like 127.0.0.1), valid one day. */
export async function makeTestPki(names: string[]): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jwtr-pki-'));
  const file = (name: string): string => path.join(dir, name);
  const openssl = (args: string[]) => execFileAsync('openssl', args);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=jwtr test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
  ]);
  await openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    `/CN=${names[0] ?? 'localhost'}`,
    '-keyout',
    file('tls.key'),
    '-out',
    file('tls.csr'),
  ]);
  const san = names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  await writeFile(file('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await openssl([
    'x509',
    '-req',
    '-in',
    file('tls.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    file('ext.cnf'),
    '-out',
    file('tls.crt'),
  ]);
  return {
    caPem: await readFile(file('ca.crt'), 'utf8'),
    certFile: file('tls.crt'),
    keyFile: file('tls.key'),
    dir,
  };
}
