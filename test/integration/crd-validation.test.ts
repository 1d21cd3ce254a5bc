/**
 * The CRD against a real API server: defaulting, OpenAPI and CEL validation, printer columns,
 * the status subresource and kubectl explain.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';
import { parse } from 'yaml';

import { API_VERSION, KIND } from '../../src/api/constants.ts';
import { resolveJwtRotationSpec, type JwtRotation, type JwtRotationSpec } from '../../src/api/types.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { EXAMPLES_DIR, exampleDocuments, installCrd } from '../support/crd.ts';

describe('the JwtRotation CRD on a real API server', function () {
  let cluster: TestCluster;
  let namespace: string;

  before(async function () {
    this.timeout(600_000);
    cluster = await useCluster();
    await installCrd(cluster);
    namespace = await cluster.newNamespace('crd-validation');
  });

  function manifest(name: string, spec: unknown): string {
    return JSON.stringify({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec });
  }

  /** `kubectl create` of a JwtRotation; the stored object, or the error kubectl printed. */
  async function create(
    input: string,
    into = namespace,
  ): Promise<{ ok: true; object: JwtRotation } | { ok: false; error: string }> {
    const result = await cluster.kubectl(['create', '-f', '-', '-o', 'json'], { input, namespace: into });
    if (result.code !== 0) return { ok: false, error: result.stderr };
    return { ok: true, object: JSON.parse(result.stdout) as JwtRotation };
  }

  async function rejection(name: string, spec: unknown): Promise<string> {
    const result = await create(manifest(name, spec));
    if (result.ok) throw new Error(`the API server accepted ${JSON.stringify(spec)}`);
    return result.error;
  }

  const base = (name: string): JwtRotationSpec => ({
    secretName: name,
    targets: [{ kind: 'Deployment', name: 'api' }],
  });
  const prometheus = { url: 'http://prometheus.monitoring:9090' };

  it('accepts the minimal example and fills in the same defaults as resolveJwtRotationSpec', async () => {
    const text = readFileSync(path.join(EXAMPLES_DIR, 'minimal.yaml'), 'utf8');
    const example = parse(text) as JwtRotation;
    const result = await create(text);
    if (!result.ok) throw new Error(result.error);
    const spec = result.object.spec;
    expect(spec.secretLength).to.equal(64);
    expect(spec.tokenTTL).to.equal('24h');
    expect(spec.refreshTokenTTL).to.equal('168h');
    // No interval default (cron is its alternative): the operator takes 2160h when neither is set.
    expect(spec.schedule).to.deep.equal({
      cronTimeZone: 'UTC',
      requestsWaitForWindow: false,
      disruptiveStepsWaitForWindow: false,
    });
    expect(spec.rollout).to.deep.equal({
      signingDelay: '10m',
      pollInterval: '5s',
      replaceOnDeletePods: false,
    });
    expect(spec.monitoring).to.deep.equal({
      minDuration: '48h',
      maxDuration: '72h',
      onTimeout: 'Wait',
      requireOldTokenExpiry: true,
      failurePolicy: 'Rollback',
    });
    expect(spec.unlistedConsumers).to.equal('Roll');
    expect(spec.rollback).to.deep.equal({ retention: '720h' });
    expect(spec.suspend).to.equal(false);
    expect(spec).to.deep.equal(resolveJwtRotationSpec(example.spec));
  });

  it('fills in the defaults inside monitoring.prometheus when it is present', async () => {
    const result = await create(
      manifest('prometheus-defaults', { ...base('prometheus-defaults'), monitoring: { prometheus } }),
    );
    if (!result.ok) throw new Error(result.error);
    expect(result.object.spec).to.deep.equal(
      resolveJwtRotationSpec({ ...base('prometheus-defaults'), monitoring: { prometheus } }),
    );
    expect(result.object.spec.monitoring?.prometheus?.thresholds?.minNewKeyShare).to.equal(0.95);
  });

  it('accepts every example in deploy/examples, side by side in one namespace', async () => {
    const examples = exampleDocuments();
    expect(examples).to.have.length.greaterThan(2);
    const examplesNamespace = await cluster.newNamespace('crd-examples');
    for (const { file, documents } of examples) {
      for (const doc of documents) {
        const result = await create(JSON.stringify(doc), examplesNamespace);
        if (!result.ok) throw new Error(`${file}: ${result.error}`);
        // What comes back is defaulted: what the example sets wins, the rest is filled in.
        const spec = (doc as JwtRotation).spec;
        expect(result.object.spec, file).to.deep.equal(resolveJwtRotationSpec(spec));
      }
    }
  });

  describe('rejects with a clear message', () => {
    it('a missing secretName', async () => {
      expect(await rejection('no-secret', { targets: [] })).to.include('spec.secretName: Required value');
    });

    it('an unknown target kind', async () => {
      const error = await rejection('cronjob', {
        secretName: 'x',
        targets: [{ kind: 'CronJob', name: 'api' }],
      });
      expect(error).to.include('spec.targets[0].kind: Unsupported value: "CronJob"');
      expect(error).to.include('"Deployment", "StatefulSet", "DaemonSet"');
    });

    it('secretLength 31', async () => {
      const error = await rejection('short', { ...base('short'), secretLength: 31 });
      expect(error).to.include('spec.secretLength: Invalid value: 31');
      expect(error).to.include('should be greater than or equal to 32');
    });

    it('a malformed duration (tokenTTL: 1day)', async () => {
      const error = await rejection('one-day', { ...base('one-day'), tokenTTL: '1day' });
      expect(error).to.include('spec.tokenTTL: Invalid value: "1day"');
      expect(error).to.include('should match');
      // The CEL rule skips what the pattern rejects, so there is no second, cryptic error.
      expect(error).to.not.include('type conversion error');
    });

    it('a zero tokenTTL', async () => {
      expect(await rejection('zero-ttl', { ...base('zero-ttl'), tokenTTL: '0s' })).to.include(
        'tokenTTL must be greater than 0',
      );
    });

    // Communication plan and audit (issue 11).
    it('a historyLimit outside 1..50, and notifications that no receiver could take', async () => {
      expect(await rejection('history-0', { ...base('history-0'), historyLimit: 0 })).to.include(
        'should be greater than or equal to 1',
      );
      expect(await rejection('history-51', { ...base('history-51'), historyLimit: 51 })).to.include(
        'should be less than or equal to 50',
      );
      const receiver = { name: 'slack', type: 'Slack', urlSecretRef: { name: 'hooks' } };
      expect(
        await rejection('email', {
          ...base('email'),
          notifications: { receivers: [{ ...receiver, type: 'Email' }] },
        }),
      ).to.include('Unsupported value: "Email"');
      expect(
        await rejection('slow-hook', {
          ...base('slow-hook'),
          notifications: { receivers: [receiver], timeout: '2m' },
        }),
      ).to.include('notifications.timeout must be between 100ms and 60s');
      expect(
        await rejection('no-url', {
          ...base('no-url'),
          notifications: { receivers: [{ name: 'slack', type: 'Slack' }] },
        }),
      ).to.include('urlSecretRef: Required value');
      expect(
        await rejection('same-name', {
          ...base('same-name'),
          notifications: { receivers: [receiver, receiver] },
        }),
      ).to.include('Duplicate value');
    });

    it('a schedule interval under a second', async () => {
      expect(
        await rejection('fast-schedule', { ...base('fast-schedule'), schedule: { interval: '500ms' } }),
      ).to.include('schedule.interval must be at least 1s');
    });

    it('interval and cron together', async () => {
      expect(
        await rejection('interval-cron', {
          ...base('interval-cron'),
          schedule: { interval: '1h', cron: '0 3 * * 1' },
        }),
      ).to.include('set schedule.interval or schedule.cron, not both');
    });

    it('a cron expression without five fields', async () => {
      expect(await rejection('cron-4', { ...base('cron-4'), schedule: { cron: '0 3 * *' } })).to.include(
        'spec.schedule.cron',
      );
    });

    it('a maintenance window with a bad start, duration or time zone', async () => {
      const window = (w: Record<string, unknown>) => ({
        ...base('window'),
        schedule: { maintenanceWindows: [{ start: '02:00', duration: '2h', ...w }] },
      });
      expect(await rejection('window-start', window({ start: '25:00' }))).to.include(
        'spec.schedule.maintenanceWindows[0].start',
      );
      expect(await rejection('window-long', window({ duration: '200h' }))).to.include(
        "a maintenance window's duration must be between 1m and 168h",
      );
      expect(await rejection('window-zone', window({ timeZone: 'Europe/Berlin; rm' }))).to.include(
        'spec.schedule.maintenanceWindows[0].timeZone',
      );
      expect(await rejection('window-day', window({ days: ['Funday'] }))).to.include('Unsupported value');
    });

    it('minDuration > maxDuration', async () => {
      const error = await rejection('min-max', {
        ...base('min-max'),
        monitoring: { minDuration: '96h', maxDuration: '72h' },
      });
      expect(error).to.include('monitoring.minDuration must not exceed monitoring.maxDuration');
    });

    it('minDuration > the default maxDuration', async () => {
      const error = await rejection('min-default-max', {
        ...base('min-default-max'),
        monitoring: { minDuration: '100h' },
      });
      expect(error).to.include('monitoring.minDuration must not exceed monitoring.maxDuration');
    });

    it('a pollInterval not shorter than signingDelay', async () => {
      const error = await rejection('slow-poll', { ...base('slow-poll'), rollout: { pollInterval: '10m' } });
      expect(error).to.include('rollout.pollInterval must be shorter than rollout.signingDelay');
    });

    it('a threshold > 1', async () => {
      const error = await rejection('threshold', {
        ...base('threshold'),
        monitoring: { prometheus: { ...prometheus, thresholds: { minNewKeyShare: 1.5 } } },
      });
      expect(error).to.include('spec.monitoring.prometheus.thresholds.minNewKeyShare: Invalid value: 1.5');
      expect(error).to.include('should be less than or equal to 1');
    });

    it('prometheus without url', async () => {
      const error = await rejection('no-url', {
        ...base('no-url'),
        monitoring: { prometheus: { window: '5m' } },
      });
      expect(error).to.include('spec.monitoring.prometheus.url: Required value');
    });

    it('a duplicate target', async () => {
      const error = await rejection('duplicate', {
        secretName: 'duplicate',
        targets: [
          { kind: 'Deployment', name: 'api' },
          { kind: 'Deployment', name: 'api' },
        ],
      });
      expect(error).to.include('spec.targets[1]: Duplicate value');
    });

    it('an unknown field', async () => {
      const error = await rejection('typo', { ...base('typo'), secretNmae: 'x' });
      expect(error).to.include('unknown field "spec.secretNmae"');
    });

    it('a secretName change on update (immutable)', async () => {
      const created = await create(manifest('immutable', base('immutable')));
      if (!created.ok) throw new Error(created.error);
      const patch = await cluster.kubectl(
        ['patch', 'jwtrotation', 'immutable', '--type=merge', '-p', '{"spec":{"secretName":"other"}}'],
        { namespace },
      );
      expect(patch.code).to.not.equal(0);
      expect(patch.stderr).to.include('secretName is immutable; create a new JwtRotation');
      const allowed = await cluster.kubectl(
        ['patch', 'jwtrotation', 'immutable', '--type=merge', '-p', '{"spec":{"tokenTTL":"12h"}}'],
        { namespace },
      );
      expect(allowed.stderr).to.equal('');
      expect(allowed.code).to.equal(0);
    });
  });

  it('keeps status in a subresource and prints the columns PHASE, READY, LAST ROTATION, NEXT ROTATION, AGE', async () => {
    const created = await create(manifest('columns', base('columns')));
    if (!created.ok) throw new Error(created.error);
    const status = {
      phase: 'Monitoring',
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Monitoring',
          message: 'Waiting for the gate.',
          lastTransitionTime: '2026-11-28T10:00:00Z',
        },
      ],
      gate: { health: 'Pass', completion: 'Fail', readings: { newKeyShare: 0.42 } },
      lastRotation: { trigger: 'Initial', outcome: 'Completed', finishedAt: '2026-08-30T10:00:00Z' },
      nextRotationAt: '2027-02-26T10:00:00Z',
    };
    const patched = await cluster.kubectl(
      [
        'patch',
        'jwtrotation',
        'columns',
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status }),
      ],
      { namespace },
    );
    expect(patched.stderr).to.equal('');

    const table = await cluster.kubectl(['get', 'jwtrotations', 'columns'], { namespace });
    expect(table.code, table.stderr).to.equal(0);
    const [header = '', row = ''] = table.stdout.split('\n');
    expect(header.split(/\s{2,}/)).to.deep.equal([
      'NAME',
      'PHASE',
      'READY',
      'LAST ROTATION',
      'NEXT ROTATION',
      'AGE',
    ]);
    expect(row.split(/\s+/).slice(0, 3)).to.deep.equal(['columns', 'Monitoring', 'False']);

    const wide = await cluster.kubectl(['get', 'jwtr', 'columns', '-o', 'wide'], { namespace });
    expect(wide.stdout.split('\n')[0]).to.include('NEW KEY');
    expect(wide.stdout.split('\n')[1]).to.include('0.42');

    // The main resource ignores status; the category lists JwtRotations.
    await cluster.kubectl(
      ['patch', 'jwtrotation', 'columns', '--type=merge', '-p', '{"status":{"phase":"Failed"}}'],
      {
        namespace,
      },
    );
    const phase = await cluster.kubectl(['get', 'jwt', '-o', 'jsonpath={.items[*].status.phase}'], {
      namespace,
    });
    expect(phase.stdout.split(' ')).to.include('Monitoring').and.not.include('Failed');
  });

  it('is described by kubectl explain jwtrotation.spec.monitoring', async () => {
    const explained = await waitFor('kubectl explain to know the CRD', async () => {
      const result = await cluster.kubectl(['explain', 'jwtrotation.spec.monitoring']);
      return result.code === 0 && result.stdout.includes('minDuration') ? result.stdout : undefined;
    });
    expect(explained).to.match(/GROUP:\s+jwtrotation\.io/);
    expect(explained).to.match(/maxDuration\s+<string>/);
    expect(explained).to.match(/onTimeout\s+<string>/);
    expect(explained).to.include('Longest monitoring phase');
  });
});
