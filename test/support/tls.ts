/**
 * A private CA and a serving certificate signed by it, made with the openssl CLI, for tests of
 * components behind TLS (a Prometheus with a web config, the issuer server); and a directory
 * updated the way kubelet updates a mounted Secret.
 */
import { execFile } from 'node:child_process';
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
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

/**
 * Writes files into `dir` the way kubelet updates a mounted Secret (its AtomicWriter): into a new
 * timestamped directory, then a `..data` symlink swapped to it with a rename, the visible names being
 * symlinks through `..data`. A reader sees the old files or the new ones, never half of a file.
 */
export async function writeSecretVolume(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${Math.random().toString(36).slice(2, 8)}`;
  await mkdir(path.join(dir, stamp));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, stamp, name), content);
  const old = await readlink(path.join(dir, '..data')).catch(() => undefined);
  await symlink(stamp, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  const present = new Set(await readdir(dir));
  for (const name of Object.keys(files)) {
    if (!present.has(name)) await symlink(path.join('..data', name), path.join(dir, name));
  }
  if (old !== undefined) await rm(path.join(dir, old), { recursive: true, force: true });
}
