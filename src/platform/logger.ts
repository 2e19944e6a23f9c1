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
  '*.refreshToken',
  '*.clientSecret',
  '*.access_token',
  '*.refresh_token',
  '*.password',
  '*.databaseUrl',
  'adminToken',
  'apiSecret',
  'apiToken',
  'accessToken',
  'refreshToken',
  'clientSecret',
  'access_token',
  'refresh_token',
  'password',
  'databaseUrl',
];

/**
 * Errors are logged without the values a failed query carried. drizzle puts a query's parameters in
 * its error message and on the error (`params`); PostgreSQL's own fields repeat row data (`detail`:
 * "Failing row contains (…)", `where`: the JSON text being read, `internalQuery`). Those hold
 * customers' names, addresses and whole webhook bodies. The query text (with $1 placeholders), the
 * SQLSTATE, the table, column and constraint stay: enough to know what failed.
 */
const ROW_DATA_FIELDS = new Set(['params', 'detail', 'where', 'internalQuery']);

function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.errWithCause(error as Error) as unknown as Record<string, unknown>;
  return scrubQueryValues(serialized, 0);
}

function scrubQueryValues(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (ROW_DATA_FIELDS.has(key)) out[key] = '[redacted]';
    else if ((key === 'message' || key === 'stack') && typeof v === 'string')
      out[key] = v.replace(/\nparams: [\s\S]*?(?=\n {4}at |$)/, '\nparams: [redacted]');
    else if (key === 'cause' && v && typeof v === 'object' && depth < 5)
      out[key] = scrubQueryValues(v as Record<string, unknown>, depth + 1);
    else if ((key === 'errors' || key === 'aggregateErrors') && Array.isArray(v) && depth < 5) {
      out[key] = v.map((e) =>
        e && typeof e === 'object' ? scrubQueryValues(e as Record<string, unknown>, depth + 1) : e,
      );
    } else out[key] = v;
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
