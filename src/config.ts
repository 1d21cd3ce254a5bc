/** The operator's settings, from the environment, checked once at start. */

export interface Config {
  /** Namespace to watch; empty for all namespaces. */
  watchNamespace: string;
  logLevel: string;
  httpHost: string;
  httpPort: number;
  /** Fewest milliseconds between two passes over one resource after a failure. */
  retryBaseMs: number;
  /** Most milliseconds between two passes after repeated failures. */
  retryMaxMs: number;
  /** Field manager name for server-side bookkeeping. */
  fieldManager: string;
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`${name} must be a whole number, got "${raw}"`);
    return value;
  };
  const level = env.LOG_LEVEL ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) {
    throw new Error(`LOG_LEVEL must be one of error, warn, info, debug; got "${level}"`);
  }
  return {
    watchNamespace: env.WATCH_NAMESPACE ?? '',
    logLevel: level,
    httpHost: env.HTTP_HOST ?? '0.0.0.0',
    httpPort: int('HTTP_PORT', 8080),
    retryBaseMs: int('RETRY_BASE_MS', 500),
    retryMaxMs: int('RETRY_MAX_MS', 60_000),
    fieldManager: env.FIELD_MANAGER ?? 'jwt-rotation-operator',
  };
}
