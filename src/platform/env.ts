/**
 * Reading settings from the environment, as both processes (the operator, src/config.ts, and the issuer
 * server, src/issuer/config.ts) do: checked once at start, with a message that names the variable.
 */
export interface EnvReader {
  /** The value, or the fallback when unset or empty (charts often render `value: ""`). */
  text: (name: string, fallback: string) => string;
  /** A whole number within [min, max], or the fallback when unset or empty. */
  int: (name: string, fallback: number, min?: number, max?: number) => number;
  /** LOG_LEVEL: error, warn, info (the default) or debug. */
  logLevel: () => string;
  /** WATCH_NAMESPACE plus the comma-separated WATCH_NAMESPACES (namespace names), without blanks and repeats; empty for all. */
  watchNamespaces: () => string[];
}

export function envReader(env: NodeJS.ProcessEnv): EnvReader {
  const text = (name: string, fallback: string): string => env[name] || fallback;
  return {
    text,
    int: (name, fallback, min = 0, max = Number.MAX_SAFE_INTEGER) => {
      const raw = env[name];
      if (raw === undefined || raw === '') return fallback;
      if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
      const value = Number(raw);
      if (value < min || value > max)
        throw new Error(`${name} must be between ${min} and ${max}, got ${raw}`);
      return value;
    },
    logLevel: () => {
      const level = text('LOG_LEVEL', 'info');
      if (!['error', 'warn', 'info', 'debug'].includes(level))
        throw new Error(`LOG_LEVEL must be one of error, warn, info, debug; got "${level}"`);
      return level;
    },
    watchNamespaces: () => {
      const names = [env.WATCH_NAMESPACE ?? '', ...(env.WATCH_NAMESPACES ?? '').split(',')]
        .map((n) => n.trim())
        .filter((n) => n !== '');
      for (const n of names) {
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) || n.length > 63)
          throw new Error(`WATCH_NAMESPACES must hold namespace names, got "${n}"`);
      }
      return [...new Set(names)];
    },
  };
}
