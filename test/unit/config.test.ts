import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('uses the defaults when nothing is set', () => {
    expect(loadConfig({})).to.deep.equal({
      watchNamespace: '',
      logLevel: 'info',
      httpHost: '0.0.0.0',
      httpPort: 8080,
      retryBaseMs: 500,
      retryMaxMs: 60_000,
      fieldManager: 'jwt-rotation-operator',
    });
  });

  it('reads every setting from the environment', () => {
    expect(
      loadConfig({
        WATCH_NAMESPACE: 'payments',
        LOG_LEVEL: 'debug',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '9090',
        RETRY_BASE_MS: '250',
        RETRY_MAX_MS: '30000',
        FIELD_MANAGER: 'rotator',
      }),
    ).to.deep.equal({
      watchNamespace: 'payments',
      logLevel: 'debug',
      httpHost: '127.0.0.1',
      httpPort: 9090,
      retryBaseMs: 250,
      retryMaxMs: 30_000,
      fieldManager: 'rotator',
    });
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
});
