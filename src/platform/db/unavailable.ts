// Telling "the database cannot be reached" from every other failure: the first is an outage (HTTP 503
// with Retry-After, a start-up that waits), the others are bugs or bad input.

/** Socket errors of a connection that could not be made or was cut. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * PostgreSQL SQLSTATEs of an unusable server: class 08 (connection exception), 53300 (too many
 * connections), 57P01–57P03 (shut down, crashed, starting up).
 */
const UNAVAILABLE_STATES = /^(08...|53300|57P0[123])$/;

/** Messages of node-postgres for a connection it lost or could not get in time, and of a closed embedded database. */
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/i;

/** Whether `error` (or an error it wraps, as drizzle's query errors do) says the database is out of reach. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.test(code))) return true;
    if (UNAVAILABLE_MESSAGES.test(e.message)) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}
