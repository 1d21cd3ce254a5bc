/**
 * The serving certificate, read from a directory in the layout cert-manager writes into a Secret
 * (`tls.crt`: the certificate and its chain, `tls.key`; `ca.crt`, the issuing CA, is for clients and
 * is not sent), mounted as a volume. Reloaded without a restart when the files change.
 *
 * kubelet updates a mounted Secret by writing a new timestamped directory and swapping the `..data`
 * symlink, so a file is never half-written, but the two files may be read across a swap (the old
 * certificate with the new key). A pair whose key does not match its certificate is refused by
 * `tls.createSecureContext`, and the next look (the poll, or the watch that sees the swap) reads
 * both again. The last good pair stays in use meanwhile.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../platform/logger.ts';
import type { IssuerMetrics } from './metrics.ts';

export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

export class CertificateReloader {
  private current: { digest: string; pair: CertificatePair } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private loading: Promise<boolean> | undefined;
  private again = false;
  /** The digest of the last pair refused, so a pair that stays broken is reported once. */
  private refused: string | undefined;

  constructor(
    private readonly dir: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly metrics: IssuerMetrics,
    /** Called with each new good pair after the first (which `load` returns). */
    private readonly onChange: (pair: CertificatePair) => void,
  ) {}

  get pair(): CertificatePair | undefined {
    return this.current?.pair;
  }

  /** Reads the files; true when a new good pair was taken (onChange was called unless it is the first). */
  load(): Promise<boolean> {
    if (this.loading !== undefined) {
      // A change seen during a read: read once more after it, so the last change is never missed.
      this.again = true;
      return this.loading;
    }
    this.loading = this.read().finally(() => {
      this.loading = undefined;
      if (this.again) {
        this.again = false;
        void this.load();
      }
    });
    return this.loading;
  }

  /** Polls every intervalMs, and looks at once when the directory changes. */
  start(): void {
    this.timer = setInterval(() => void this.load(), this.intervalMs);
    this.timer.unref();
    try {
      this.watcher = watch(this.dir, () => void this.load());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No watch (the directory is missing, or the platform has none): the poll still looks.
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.watcher?.close();
  }

  private async read(): Promise<boolean> {
    let pair: CertificatePair;
    try {
      const [cert, key] = await Promise.all([
        readFile(path.join(this.dir, 'tls.crt')),
        readFile(path.join(this.dir, 'tls.key')),
      ]);
      pair = { cert, key };
    } catch (error) {
      if (this.current === undefined) {
        this.logger.warn('no serving certificate yet', { dir: this.dir, error: String(error) });
      }
      return false;
    }
    const digest = createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
    if (digest === this.current?.digest || digest === this.refused) return false;
    let notAfter: number;
    try {
      createSecureContext(pair); // throws on a key that does not match the certificate
      notAfter = Date.parse(new X509Certificate(pair.cert).validTo);
    } catch (error) {
      this.refused = digest;
      this.metrics.certificateReload('error');
      this.logger.warn('serving certificate not loaded; keeping the one in use', {
        dir: this.dir,
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
    const first = this.current === undefined;
    this.current = { digest, pair };
    this.metrics.certificateReload('success', notAfter);
    this.logger.info(first ? 'serving certificate loaded' : 'serving certificate reloaded', {
      dir: this.dir,
      notAfter: new Date(notAfter).toISOString(),
      fingerprint: new X509Certificate(pair.cert).fingerprint256.replace(/:/g, '').slice(0, 12).toLowerCase(),
    });
    if (!first) this.onChange(pair);
    return true;
  }
}
