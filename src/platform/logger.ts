/**
 * Structured JSON logs: a fixed message plus fields. A last line of defence drops
 * anything that looks like key material, in case a future change logs a value by mistake.
 */
import winston from 'winston';

export type Logger = winston.Logger;

/**
 * Runs of 40+ base64/base64url characters that mix upper case, lower case and digits, and runs of
 * 40+ hex digits, are keys or tokens. Kubernetes names and file paths (lower case words) are left alone.
 */
const RUN = /[A-Za-z0-9+/_-]{40,}={0,2}/g;
const MESSAGE = Symbol.for('message');

function redactKeyLike(text: string): string {
  return text.replace(RUN, (run) =>
    (/[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)) || /^[0-9a-fA-F]+$/.test(run)
      ? '[redacted]'
      : run,
  );
}

/** Applied to the serialised line, so nested fields and arrays are covered too. */
const redactLine = winston.format((info) => {
  const line = (info as Record<symbol, unknown>)[MESSAGE];
  if (typeof line === 'string') (info as Record<symbol, unknown>)[MESSAGE] = redactKeyLike(line);
  return info;
});

export function createLogger(options: { level: string; silent?: boolean }): Logger {
  return winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json(), redactLine()),
    transports: [new winston.transports.Console()],
  });
}
