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

/**
 * Errors are logged without the values a failed query carried: drizzle puts a query's parameters in
 * its error message and on the error (`params`), and those hold customers' names, addresses and whole
 * webhook bodies. The query text (with $1 placeholders) stays.
 */
function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.errWithCause(error as Error) as unknown as Record<string, unknown>;
  return scrubQueryParams(serialized, 0);
}

function scrubQueryParams(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'params') out[key] = '[redacted]';
    else if ((key === 'message' || key === 'stack') && typeof v === 'string') out[key] = v.replace(/\nparams: [\s\S]*?(?=\n {4}at |$)/, '\nparams: [redacted]');
    else if (key === 'cause' && v && typeof v === 'object' && depth < 5) out[key] = scrubQueryParams(v as Record<string, unknown>, depth + 1);
    else out[key] = v;
  }
  return out;
}

export function makeLogger(options: { level: string; name?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'switchyard',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
