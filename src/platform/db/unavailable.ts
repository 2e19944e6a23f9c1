import { DrizzleQueryError } from 'drizzle-orm/errors';

// Telling "the database cannot be reached" from every other failure: the first is an outage (HTTP 503
// with Retry-After, a start-up that waits), the others are bugs or bad input.

/** Socket errors of a connection that could not be made or was cut. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * PostgreSQL SQLSTATEs of an unusable server: class 08 (connection exception), 53300 (too many
 * connections), 57P01–57P03 (shut down, crashed, starting up).
 */
const UNAVAILABLE_STATES = /^(08...|53300|57P0[123])$/;

/** Messages of node-postgres for a connection it lost or could not get in time, and of a closed embedded database. */
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/i;

/**
 * Whether a failed query (drizzle wraps every query's error) failed because the database is out of
 * reach. A connection reset elsewhere (a client that hung up mid-upload) is not an outage.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return isDatabaseError(error) && isConnectionFailure(error);
}

const FROM_DATABASE = Symbol('switchyard.fromDatabase');

/** Marks an error thrown by a query run outside drizzle (raw SQL through the driver): it came from the database. */
export function markDatabaseError(error: unknown): unknown {
  if (error instanceof Error) (error as Error & { [FROM_DATABASE]?: true })[FROM_DATABASE] = true;
  return error;
}

/** An error from the database layer: a query drizzle ran, one marked by the raw query helper, or PostgreSQL's own. */
function isDatabaseError(error: unknown): boolean {
  for (
    let e: unknown = error, depth = 0;
    e instanceof Error && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if (
      e instanceof DrizzleQueryError ||
      (e as { [FROM_DATABASE]?: true })[FROM_DATABASE] ||
      typeof (e as { severity?: unknown }).severity === 'string'
    )
      return true;
  }
  return false;
}

/** Whether `error` (or an error it wraps) says a connection to the database could not be made or was cut. */
export function isConnectionFailure(error: unknown): boolean {
  for (
    let e: unknown = error, depth = 0;
    e instanceof Error && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.test(code))) return true;
    if (UNAVAILABLE_MESSAGES.test(e.message)) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isConnectionFailure(inner))) return true;
  }
  return false;
}
