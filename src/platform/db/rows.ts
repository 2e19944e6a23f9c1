import type { SQL } from 'drizzle-orm';
import type { Db } from './client.js';
import { markDatabaseError } from './unavailable.js';

interface RawClient {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs raw SQL and returns its rows with the project's type rules (see types.ts) on both backends.
 * drizzle's own execute() turns off timestamp parsing for its column mappers, so raw SQL goes to the
 * driver client of the database or transaction directly: a pg Pool/PoolClient or a PGlite instance or
 * transaction, each configured with our parsers.
 */
export async function queryRows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const internals = db as unknown as {
    dialect: { sqlToQuery(q: SQL): { sql: string; params: unknown[] } };
    session: { client: RawClient };
  };
  const { sql, params } = internals.dialect.sqlToQuery(query);
  try {
    const result = await internals.session.client.query(sql, params);
    return result.rows as T[];
  } catch (error) {
    throw markDatabaseError(error);
  }
}

/** A PostgreSQL array literal of whole numbers, sent as one text parameter (cheaper to parse than JSON). */
export const intArray = (values: Array<number | null>) =>
  `{${values.map((v) => (v === null ? 'NULL' : String(Math.trunc(v)))).join(',')}}`;
