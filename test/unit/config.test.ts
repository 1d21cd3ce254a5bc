import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('uses the defaults when nothing is set, with leader election off outside a pod', () => {
    expect(loadConfig({})).to.deep.equal({
      leaderElection: undefined,
      watchNamespaces: [],
      shardSelector: '',
      workers: 8,
      kubeApiQps: 20,
      kubeApiBurst: 30,
      kubeApiEventQps: 10,
      kubeApiEventBurst: 25,
      maxConcurrentRollouts: 20,
      resyncPeriodMs: 600_000,
      logLevel: 'info',
      httpHost: '0.0.0.0',
      httpPort: 8080,
      retryBaseMs: 500,
      retryMaxMs: 60_000,
      fieldManager: 'jwt-rotation-operator',
      issuerServerNamespace: '',
      outbound: { hosts: ['*.svc', '*.svc.cluster.local'], allowHttpReceivers: false },
      requesterIdentity: 'field-manager',
    });
  });

  it('reads every setting from the environment', () => {
    expect(
      loadConfig({
        WATCH_NAMESPACE: 'payments',
        WATCH_NAMESPACES: 'billing, payments',
        SHARD_SELECTOR: 'shard in (a,b)',
        WORKERS: '16',
        KUBE_API_QPS: '50',
        KUBE_API_BURST: '100',
        KUBE_API_EVENT_QPS: '5',
        KUBE_API_EVENT_BURST: '10',
        RESYNC_PERIOD_MS: '300000',
        MAX_CONCURRENT_ROLLOUTS: '5',
        LOG_LEVEL: 'debug',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '9090',
        RETRY_BASE_MS: '250',
        RETRY_MAX_MS: '30000',
        FIELD_MANAGER: 'rotator',
        OUTBOUND_HOSTS: 'hooks.slack.com, *.logic.azure.com,prometheus.monitoring.svc',
        NOTIFICATIONS_ALLOW_HTTP: 'true',
        REQUESTER_IDENTITY: 'admission',
      }),
    ).to.deep.equal({
      leaderElection: undefined,
      watchNamespaces: ['payments', 'billing'],
      shardSelector: 'shard in (a,b)',
      workers: 16,
      kubeApiQps: 50,
      kubeApiBurst: 100,
      kubeApiEventQps: 5,
      kubeApiEventBurst: 10,
      maxConcurrentRollouts: 5,
      resyncPeriodMs: 300_000,
      logLevel: 'debug',
      httpHost: '127.0.0.1',
      httpPort: 9090,
      retryBaseMs: 250,
      retryMaxMs: 30_000,
      fieldManager: 'rotator',
      issuerServerNamespace: '',
      outbound: {
        hosts: ['hooks.slack.com', '*.logic.azure.com', 'prometheus.monitoring.svc'],
        allowHttpReceivers: true,
      },
      requesterIdentity: 'admission',
    });
  });

  it('rejects a watched namespace that is no namespace name, and a shard selector that is no label selector', () => {
    expect(() => loadConfig({ WATCH_NAMESPACES: 'prod,Prod_1' })).to.throw(
      Error,
      /WATCH_NAMESPACES.*"Prod_1"/,
    );
    expect(() => loadConfig({ SHARD_SELECTOR: 'shard=a}' })).to.throw(Error, /SHARD_SELECTOR/);
    expect(() => loadConfig({ WORKERS: '0' })).to.throw(Error, /WORKERS/);
  });

  it('scales the default WORKERS with KUBE_API_QPS: 8 up to 80/s, then one per 10/s; a set WORKERS wins', () => {
    expect(loadConfig({}).workers).to.equal(8);
    expect(loadConfig({ KUBE_API_QPS: '80' }).workers).to.equal(8);
    expect(loadConfig({ KUBE_API_QPS: '300' }).workers).to.equal(30);
    expect(loadConfig({ KUBE_API_QPS: '0' }).workers).to.equal(8);
    expect(loadConfig({ KUBE_API_QPS: '300', WORKERS: '12' }).workers).to.equal(12);
  });

  it('accepts each of the log levels error, warn, info and debug', () => {
    for (const level of ['error', 'warn', 'info', 'debug']) {
      expect(loadConfig({ LOG_LEVEL: level }).logLevel).to.equal(level);
    }
  });

  it('uses the default for a number set to the empty string', () => {
    expect(loadConfig({ HTTP_PORT: '', RETRY_MAX_MS: '' })).to.include({
      httpPort: 8080,
      retryMaxMs: 60_000,
    });
  });

  it('rejects an unknown LOG_LEVEL, naming the variable and the value', () => {
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).to.throw(Error, /LOG_LEVEL.*"verbose"/);
  });

  it('rejects a LOG_LEVEL in capitals', () => {
    expect(() => loadConfig({ LOG_LEVEL: 'INFO' })).to.throw(Error, /LOG_LEVEL/);
  });

  for (const port of ['80.5', 'http', '-1', '8080abc']) {
    it(`rejects HTTP_PORT "${port}", naming the variable and the value`, () => {
      expect(() => loadConfig({ HTTP_PORT: port })).to.throw(
        Error,
        `HTTP_PORT must be a whole number, got "${port}"`,
      );
    });
  }

  it('rejects a retry delay that is not a whole number', () => {
    expect(() => loadConfig({ RETRY_BASE_MS: '0.5' })).to.throw(Error, /RETRY_BASE_MS/);
    expect(() => loadConfig({ RETRY_MAX_MS: 'soon' })).to.throw(Error, /RETRY_MAX_MS/);
  });

  it('rejects an OUTBOUND_HOSTS entry that is no host pattern, naming it', () => {
    expect(() => loadConfig({ OUTBOUND_HOSTS: 'hooks.slack.com,https://evil.example' })).to.throw(
      Error,
      /OUTBOUND_HOSTS.*"https:\/\/evil.example"/,
    );
    expect(() => loadConfig({ OUTBOUND_HOSTS: 'a.*.svc' })).to.throw(Error, /OUTBOUND_HOSTS/);
  });

  it('reads * (any host), IP addresses and an empty OUTBOUND_HOSTS (the default)', () => {
    expect(loadConfig({ OUTBOUND_HOSTS: '*' }).outbound.hosts).to.deep.equal(['*']);
    expect(loadConfig({ OUTBOUND_HOSTS: '127.0.0.1,[::1]' }).outbound.hosts).to.deep.equal([
      '127.0.0.1',
      '[::1]',
    ]);
    expect(loadConfig({ OUTBOUND_HOSTS: ' , ' }).outbound.hosts).to.deep.equal([
      '*.svc',
      '*.svc.cluster.local',
    ]);
  });

  it('rejects NOTIFICATIONS_ALLOW_HTTP and REQUESTER_IDENTITY values it does not know', () => {
    expect(() => loadConfig({ NOTIFICATIONS_ALLOW_HTTP: 'yes' })).to.throw(
      Error,
      /NOTIFICATIONS_ALLOW_HTTP.*"yes"/,
    );
    expect(() => loadConfig({ REQUESTER_IDENTITY: 'webhook' })).to.throw(
      Error,
      /REQUESTER_IDENTITY.*"webhook"/,
    );
  });

  describe('leader election', () => {
    it('is on by default in a pod, with a Lease in the pod namespace named after the pod', () => {
      expect(
        loadConfig({ POD_NAMESPACE: 'jwt-system', POD_NAME: 'operator-7d9-abcde' }).leaderElection,
      ).to.deep.equal({
        namespace: 'jwt-system',
        name: 'jwt-rotation-operator',
        identity: 'operator-7d9-abcde',
        leaseDurationMs: 15_000,
        retryPeriodMs: 2_000,
      });
    });

    it('can be turned off in a pod', () => {
      expect(loadConfig({ POD_NAMESPACE: 'jwt-system', LEADER_ELECTION: 'false' }).leaderElection).to.equal(
        undefined,
      );
    });

    it('can be turned on outside a pod, with the Lease settings from the environment', () => {
      expect(
        loadConfig({
          LEADER_ELECTION: 'true',
          LEASE_NAMESPACE: 'ops',
          LEASE_NAME: 'rotator',
          POD_NAME: 'laptop',
          LEASE_DURATION_MS: '30000',
          LEASE_RETRY_PERIOD_MS: '5000',
        }).leaderElection,
      ).to.deep.equal({
        namespace: 'ops',
        name: 'rotator',
        identity: 'laptop',
        leaseDurationMs: 30_000,
        retryPeriodMs: 5_000,
      });
    });

    it('rejects a LEADER_ELECTION other than true or false, naming the value', () => {
      expect(() => loadConfig({ LEADER_ELECTION: 'yes' })).to.throw(Error, /LEADER_ELECTION.*"yes"/);
    });

    it('rejects a retry period that is not shorter than the lease duration', () => {
      expect(() => loadConfig({ LEASE_DURATION_MS: '2000', LEASE_RETRY_PERIOD_MS: '2000' })).to.throw(
        Error,
        /LEASE_RETRY_PERIOD_MS/,
      );
    });
  });
});
