// Opens the database: PostgreSQL when a URL is given, else embedded PGlite in the data dir (or in
// memory for tests). Both are driven through drizzle and return the same JS types (see types.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { queryRows } from './rows.js';
import { OID, parseDate, parseInt8, parseScalarArray } from './types.js';

/** A drizzle database or transaction: repository functions take this as their first argument. */
export type Db = PgDatabase<PgQueryResultHKT>;
export type DbKind = 'pglite' | 'postgres';

export interface Database {
  kind: DbKind;
  db: Db;
  /** The PGlite instance (embedded mode only), for pg-boss's in-process adapter. */
  pglite: PGlite | undefined;
  /** The PostgreSQL URL (server mode only), for pg-boss's own pool. */
  url: string | undefined;
  /** Applies pending migrations; safe to call from several processes at once. */
  migrate(): Promise<MigrationStatus>;
  migrationStatus(): Promise<MigrationStatus>;
  close(): Promise<void>;
}

/**
 * Whether two transactions can be open at once on this database: a PostgreSQL pool can, the embedded
 * database (one connection, transactions taken in turn) cannot.
 */
export function canRunTransactionsSideBySide(db: Db): boolean {
  const session = (db as unknown as { session?: { client?: unknown } }).session;
  return session?.client instanceof pg.Pool;
}

export interface MigrationStatus {
  /** Tag of the newest applied migration (e.g. `0001_shopify_inventory_snapshot`), null before the first. */
  version: string | null;
  applied: number;
  available: number;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations', import.meta.url));
/** Arbitrary constant: the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 7_400_223_001;

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

function readJournal(): JournalEntry[] {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: JournalEntry[];
  };
  return journal.entries;
}

async function readMigrationStatus(db: Db): Promise<MigrationStatus> {
  const journal = readJournal();
  const exists = await queryRows<{ present: boolean }>(
    db,
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`,
  );
  if (!exists[0]?.present) return { version: null, applied: 0, available: journal.length };
  const rows = await queryRows<{ created_at: number }>(
    db,
    sql`select created_at from drizzle.__drizzle_migrations order by created_at`,
  );
  const appliedWhens = new Set(rows.map((r) => Number(r.created_at)));
  const applied = journal.filter((entry) => appliedWhens.has(entry.when));
  return { version: applied.at(-1)?.tag ?? null, applied: applied.length, available: journal.length };
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; when absent the embedded database is used. */
  url?: string | undefined;
  /** Data dir for the embedded database; `memory` keeps it in memory (tests). */
  dataDir?: string | 'memory';
  /** Pool size for PostgreSQL. */
  poolSize?: number;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options.url, options.poolSize ?? 10) : openPglite(options.dataDir ?? 'memory');
}

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === OID.INT8) return parseInt8;
    if (oid === OID.INT8_ARRAY) return (v: string) => parseScalarArray(v, parseInt8);
    if (oid === OID.DATE) return parseDate;
    if (oid === OID.DATE_ARRAY) return (v: string) => parseScalarArray(v, parseDate);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as pg.CustomTypesConfig;

// drizzle's node-postgres session replaces the pool's parsers with its own per query and falls back
// to the global ones: int8 must be set there too, or counts and ids come back as strings.
pg.types.setTypeParser(OID.INT8, parseInt8);

// PostgreSQL's JIT compiles a costly-looking plan before running it: the ATP read behind publishing
// spent 1.7 s compiling for 0.1–0.6 s of execution. Switchyard's queries are short and many, so its
// connections run without JIT (the embedded database too, so both backends plan alike).
const NO_JIT = '-c jit=off';

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types: pgTypes,
    application_name: 'switchyard',
    options: NO_JIT,
    // A server that does not answer (a dropped network) fails a request in time instead of hanging it.
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = drizzlePg(pool) as unknown as Db;
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return {
    kind: 'postgres',
    db,
    pglite: undefined,
    url,
    async migrate() {
      // A dedicated connection holds the advisory lock for the whole migration.
      const client = new pg.Client({ connectionString: url, types: pgTypes, options: NO_JIT });
      await client.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await client.query('set client_min_messages = warning');
        await migratePg(drizzlePg(client), { migrationsFolder: MIGRATIONS_FOLDER });
        return await readMigrationStatus(drizzlePg(client) as unknown as Db);
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
        await client.end();
      }
    },
    migrationStatus: () => readMigrationStatus(db),
    close: async () => {
      if (!pool.ended) await pool.end();
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  let lock: DataDirLock | undefined;
  if (dataDir !== 'memory') lock = acquireDataDirLock(dataDir);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dataDir === 'memory' ? undefined : join(dataDir, 'pgdata'), {
      // PostgreSQL keeps up to max_files_per_process relation files open (default 1,000); inside
      // PGlite's file system that ran out of descriptors under load ("No file descriptors
      // available"). A smaller cache makes it close and reopen files instead.
      startParams: [...PGlite.defaultStartParams, '-c', 'max_files_per_process=128', ...NO_JIT.split(' ')],
      parsers: {
        [OID.INT8]: parseInt8,
        [OID.INT8_ARRAY]: (v: string) => parseScalarArray(v, parseInt8),
        [OID.DATE]: parseDate,
        [OID.DATE_ARRAY]: (v: string) => parseScalarArray(v, parseDate),
      },
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = drizzlePglite(pglite) as unknown as Db;
  // One session serves every caller, so an advisory lock cannot serialise them: chain them instead.
  let migrating: Promise<unknown> = Promise.resolve();
  return {
    kind: 'pglite',
    db,
    pglite,
    url: undefined,
    migrate() {
      const run = migrating
        .catch(() => {})
        .then(async () => {
          await pglite.exec('set client_min_messages = warning');
          await migratePglite(drizzlePglite(pglite), { migrationsFolder: MIGRATIONS_FOLDER });
          return readMigrationStatus(db);
        });
      migrating = run;
      return run;
    },
    migrationStatus: () => readMigrationStatus(db),
    async close() {
      try {
        if (!pglite.closed) await pglite.close();
      } finally {
        lock?.release();
      }
    },
  };
}
