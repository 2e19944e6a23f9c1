import { pino, type Logger } from 'pino';

export type { Logger };

// Secrets can reach a log line through config dumps, request headers or error details: redact them
// by path wherever they may appear.
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-shopify-access-token"]',
  'req.headers["x-shopify-hmac-sha256"]',
  'headers.authorization',
  'headers["x-shopify-access-token"]',
  '*.adminToken',
  '*.apiSecret',
  '*.apiToken',
  '*.accessToken',
  '*.password',
  '*.databaseUrl',
  'adminToken',
  'apiSecret',
  'apiToken',
  'accessToken',
  'password',
  'databaseUrl',
];

export function makeLogger(options: { level: string; name?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'switchyard',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
