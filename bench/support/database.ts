// A fresh, migrated database for a benchmark: a new PostgreSQL database beside DATABASE_URL's, or an
// embedded PGlite in a temporary folder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readTestEnvironment } from '../../src/main/config.js';
import { openDatabase, type Database } from '../../src/platform/db/client.js';

export async function openBenchDatabase(): Promise<{ database: Database; kind: 'postgres' | 'pglite'; url: string | undefined; dataDir: string; close(): Promise<void> }> {
  const serverUrl = readTestEnvironment().databaseUrl;
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-db-'));
  let url: string | undefined;
  let name: string | undefined;
  if (serverUrl) {
    name = `sy_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const parsed = new URL(serverUrl);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
  }
  const database = await openDatabase({ url, dataDir: url ? undefined : dataDir });
  await database.migrate();
  return {
    database,
    kind: url ? 'postgres' : 'pglite',
    url,
    dataDir,
    async close() {
      await database.close();
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
