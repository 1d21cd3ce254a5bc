/**
 * Structured JSON logs: a fixed message plus fields. A last line of defence drops
 * anything that looks like key material, in case a future change logs a value by mistake.
 */
import winston from 'winston';

export type Logger = winston.Logger;

/** Base64 runs this long are keys or tokens, never something a log needs. */
const KEY_LIKE = /[A-Za-z0-9+/_-]{40,}={0,2}/g;

const redact = winston.format((info) => {
  for (const [field, value] of Object.entries(info)) {
    if (typeof value === 'string' && KEY_LIKE.test(value)) {
      info[field] = value.replace(KEY_LIKE, '[redacted]');
    }
    KEY_LIKE.lastIndex = 0;
  }
  return info;
});

export function createLogger(options: { level: string; silent?: boolean }): Logger {
  return winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}
