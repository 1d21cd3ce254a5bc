/**
 * The leak scan: every key value that ever appeared in a Secret of the test cluster, searched for in
 * everything the operator shows the world.
 *
 * A witness watches every Secret of the cluster from the moment a test run first uses it, and
 * remembers each value held under a key-material name (`JWT_SECRET*`, the backup's original, PEM
 * private keys): the keys the tests plant and every key the operator makes, including the ones a
 * later rotation replaced. At the end of the run (a teardown, before the test namespaces go) it
 * searches, for each value in every form a leak could take (the value as stored, its base64 as in
 * `data`, base64url, and for a base64 key its raw bytes as hex and base64url):
 * - the whole output (stdout and stderr, debug level) of every operator process the run started;
 * - `/metrics` of each of them, fetched just before it stopped;
 * - every Event in the cluster (core/v1 and events.k8s.io/v1);
 * - every JwtRotation, status included;
 * - anything else a test registers (`leakScan.addOutput`), e.g. in-cluster operator pods' logs.
 *
 * A finding names where and the key's fingerprint, never the key.
 */
import { createHash } from 'node:crypto';

import * as k8s from '@kubernetes/client-node';

import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';

/** Secret data keys whose values are key material. */
export function isKeyMaterialName(name: string): boolean {
  return /^JWT_(SECRET|PRIVATE_KEY)(_(CURRENT|NEW|ORIGINAL))?$/.test(name) || /PRIVATE_KEY/.test(name);
}

/** The forms a value may take when it leaks, each at least 16 characters long. */
/** The shortest form searched for (shorter strings are not telling). */
const PREFIX = 16;

export function leakForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const bytes = Buffer.from(value, 'utf8');
  forms.add(bytes.toString('base64'));
  forms.add(bytes.toString('base64url'));
  // A base64 key (the runbook's `openssl rand -base64 64`): its raw bytes in other encodings.
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const raw = Buffer.from(value, 'base64');
    if (raw.length >= 16) {
      forms.add(raw.toString('base64url'));
      forms.add(raw.toString('hex'));
      forms.add(raw.toString('base64').replace(/=+$/, ''));
    }
  }
  // A PEM key: its body is the tell-tale part, whatever the line breaks.
  const pem = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END/.exec(value);
  if (pem?.[1] !== undefined) {
    const body = pem[1].replace(/\s+/g, '');
    forms.add(body.slice(0, 64));
  }
  return [...forms].filter((form) => form.length >= PREFIX);
}

function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)}`;
}

export interface LeakFinding {
  where: string;
  fingerprint: string;
}

/** Searches `text` for every form of every value; the findings name the place and the key's fingerprint. */
export function findLeaks(
  values: Iterable<string>,
  texts: Iterable<{ where: string; text: string }>,
): LeakFinding[] {
  // Every form is at least PREFIX long: index the needles by their first PREFIX characters, and look up
  // each window of each text once (one pass per text, however many key values there are: a run ends
  // with hundreds of values and megabytes of Events, which `includes` per needle took seconds over).
  const byPrefix = new Map<string, { form: string; fingerprint: string }[]>();
  for (const value of values) {
    for (const form of leakForms(value)) {
      const key = form.slice(0, PREFIX);
      const list = byPrefix.get(key) ?? [];
      list.push({ form, fingerprint: fingerprint(value) });
      byPrefix.set(key, list);
    }
  }
  const findings: LeakFinding[] = [];
  if (byPrefix.size === 0) return findings;
  for (const { where, text } of texts) {
    // JSON-escaped output (a PEM's newlines as \n, a / as \/) must not hide a key.
    const unescaped = text.replace(/\\n/g, '\n').replace(/\\\//g, '/');
    const found = new Set<string>();
    for (const haystack of unescaped === text ? [text] : [text, unescaped]) {
      for (let i = 0; i + PREFIX <= haystack.length; i++) {
        const candidates = byPrefix.get(haystack.slice(i, i + PREFIX));
        if (candidates === undefined) continue;
        for (const { form, fingerprint } of candidates) {
          if (found.has(fingerprint) || !haystack.startsWith(form, i)) continue;
          found.add(fingerprint);
          findings.push({ where, fingerprint });
        }
      }
    }
  }
  return findings;
}

interface Output {
  where: string;
  text: () => string;
}

interface WitnessState {
  values: Set<string>;
  outputs: Output[];
  started?: Promise<void> | undefined;
  informer?: k8s.Informer<k8s.V1Secret> | undefined;
}

// On globalThis: mocha may load support files twice (require for root hooks, import for specs).
const stateKey = Symbol.for('jwt-rotation-operator:leak-scan');
const state: WitnessState = ((globalThis as unknown as Record<symbol, WitnessState | undefined>)[stateKey] ??=
  {
    values: new Set<string>(),
    outputs: [],
  });

function remember(secret: k8s.V1Secret): void {
  for (const [name, encoded] of Object.entries(secret.data ?? {})) {
    if (!isKeyMaterialName(name)) continue;
    const value = Buffer.from(encoded, 'base64').toString('utf8');
    if (value.length >= 16) state.values.add(value);
  }
}

export const leakScan = {
  /** Starts watching every Secret of the cluster (once per test file run, until `check`). */
  watch(kubeConfig: k8s.KubeConfig): Promise<void> {
    state.started ??= (async () => {
      const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
      const informer = k8s.makeInformer(kubeConfig, '/api/v1/secrets', () =>
        core.listSecretForAllNamespaces(),
      );
      informer.on('add', remember);
      informer.on('update', remember);
      informer.on('delete', remember);
      informer.on('error', () => {
        // The API server went away (a restart test, or the end of the run): start again shortly.
        setTimeout(() => {
          informer.start().catch(() => undefined);
        }, 1_000).unref();
      });
      await informer.start();
      state.informer = informer;
    })();
    return state.started;
  },

  /** A key value the test knows of by other means (e.g. one it wrote itself). */
  addValue(value: string): void {
    state.values.add(value);
  },

  /** Something the operator printed or served, read at the end of the run. */
  addOutput(where: string, text: () => string): void {
    state.outputs.push({ where, text });
  },

  /** How many values the witness holds (for the report). */
  valueCount(): number {
    return state.values.size;
  },

  /**
   * Scans the registered outputs and the cluster's Events and JwtRotations; throws if any key value is
   * found. Prints one line with what was scanned.
   */
  async check(kubeConfig: k8s.KubeConfig): Promise<void> {
    if (state.started === undefined) return;
    await state.started.catch(() => undefined);
    const texts: { where: string; text: string }[] = state.outputs.map((o) => ({
      where: o.where,
      text: o.text(),
    }));
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const eventsV1 = kubeConfig.makeApiClient(k8s.EventsV1Api);
    const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    // Secrets still there at the end (the informer may lag the last write).
    for (const secret of (await core.listSecretForAllNamespaces()).items) remember(secret);
    const events = await core.listEventForAllNamespaces();
    for (const event of events.items) {
      texts.push({
        where: `Event ${event.metadata.namespace ?? ''}/${event.metadata.name ?? ''}`,
        text: JSON.stringify(event),
      });
    }
    const newEvents = await eventsV1.listEventForAllNamespaces();
    for (const event of newEvents.items) {
      texts.push({
        where: `events.k8s.io Event ${event.metadata?.namespace ?? ''}/${event.metadata?.name ?? ''}`,
        text: JSON.stringify(event),
      });
    }
    let rotations = 0;
    try {
      const list = (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
      })) as {
        items: { metadata: { namespace: string; name: string } }[];
      };
      rotations = list.items.length;
      for (const item of list.items) {
        texts.push({
          where: `JwtRotation ${item.metadata.namespace}/${item.metadata.name}`,
          text: JSON.stringify(item),
        });
      }
    } catch {
      // No CRD installed in this run: nothing to scan there.
    }
    await state.informer?.stop();
    // A later test file in this process (mocha --parallel reuses workers) watches and scans again;
    // the values seen so far stay, so it searches for them too.
    state.started = undefined;
    state.informer = undefined;
    state.outputs = [];
    const findings = findLeaks(state.values, texts);
    const bytes = texts.reduce((sum, t) => sum + t.text.length, 0);
    console.error(
      `[leak-scan] ${state.values.size} key values in ${state.values.size > 0 ? leakForms([...state.values][0] ?? '').length : 0}+ forms each; ` +
        `scanned ${state.outputs.length} operator outputs and metrics pages, ${events.items.length + newEvents.items.length} Events, ` +
        `${rotations} JwtRotations (${(bytes / 1024).toFixed(0)} KiB): ${findings.length} found`,
    );
    if (findings.length > 0) {
      const where = [...new Set(findings.map((f) => `${f.where} (key ${f.fingerprint})`))];
      throw new Error(`key material leaked: ${where.slice(0, 20).join('; ')}`);
    }
  },
};
