// Test databases: each test file gets its own fresh database. With DATABASE_URL set (the CI's second
// pass) that is a new PostgreSQL database created next to the given one; otherwise in-memory PGlite.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, readTestEnvironment, type Config } from '../../src/main/config.js';
import { openDatabase, type Database } from '../../src/platform/db/client.js';

export const serverUrl = readTestEnvironment().databaseUrl;
export const backend: 'postgres' | 'pglite' = serverUrl ? 'postgres' : 'pglite';

export interface TestDatabase {
  /** PostgreSQL URL of the fresh database (postgres backend) or undefined (PGlite). */
  url: string | undefined;
  /** A data dir for the embedded database (PGlite backend), fresh per call. */
  dataDir: string;
  /** Opens a connection (PostgreSQL) or, for PGlite, an in-memory instance unless `onDisk`. */
  open(options?: { migrate?: boolean; onDisk?: boolean }): Promise<Database>;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  let url: string | undefined;
  let name: string | undefined;
  if (serverUrl) {
    name = `sy_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const parsed = new URL(serverUrl);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
  }
  const opened: Database[] = [];
  return {
    url,
    dataDir,
    async open(options = {}) {
      const database = await openDatabase({ url, dataDir: url ? undefined : options.onDisk ? dataDir : 'memory' });
      opened.push(database);
      if (options.migrate ?? true) await database.migrate();
      return database;
    },
    async drop() {
      for (const database of opened) await database.close().catch(() => {});
      if (name) {
        const admin = new pg.Client({ connectionString: serverUrl });
        await admin.connect();
        await admin.query(`drop database if exists ${name} with (force)`);
        await admin.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The API credential of tests that run Switchyard where the API is closed without one (PostgreSQL, no shop). */
export const TEST_API_TOKEN = 'test-api-token-0123456789abcdef';
export const TEST_AUTH = { authorization: `Bearer ${TEST_API_TOKEN}` };

/** A validated Config for a test process: random port, silent logs, the test database. */
export function testConfig(db: TestDatabase, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SWITCHYARD_DATA_DIR: db.dataDir,
    // End-to-end tests call from one address far faster than a person; the limit itself has its own test.
    SWITCHYARD_RATE_LIMIT_PER_MINUTE: '1000000',
    // Nothing in a test needs the production grace period: stop promptly at the end.
    SWITCHYARD_SHUTDOWN_GRACE_SECONDS: '2',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...overrides,
  });
}

/** Environment for a child `switchyard` process on the test database. */
export function childEnv(
  db: Pick<TestDatabase, 'url' | 'dataDir'>,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  // The demo (a simulated shop with traffic when no shop is configured) only where a test asks for it.
  const env: NodeJS.ProcessEnv = {
    PATH: readPath(),
    HOME: tmpdir(),
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    SWITCHYARD_DATA_DIR: db.dataDir,
    SWITCHYARD_DEMO: 'off',
    SWITCHYARD_RATE_LIMIT_PER_MINUTE: '1000000',
  };
  if (db.url) env['DATABASE_URL'] = db.url;
  return { ...env, ...overrides };
}

function readPath(): string {
  // PATH is needed to find node; read through the config module's sanctioned accessor.
  return readTestEnvironment().path ?? '/usr/local/bin:/usr/bin:/bin';
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`Timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
