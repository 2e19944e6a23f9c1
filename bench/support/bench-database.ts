// Switchyard's configuration for a benchmark: a fresh database beside DATABASE_URL (or embedded PGlite
// in a temporary data dir), pointed at a simulated shop. `drop()` removes what it made.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, readTestEnvironment, type Config } from '../../src/main/config.js';
import type { ShopCredentials } from '../../src/simulator/server.js';

export interface BenchDatabase {
  /** `postgres` or `pglite`, for the report. */
  kind: 'postgres' | 'pglite';
  config(simulatorUrl: string, creds: ShopCredentials, port: number): Config;
  drop(): Promise<void>;
}

export async function benchDatabase(): Promise<BenchDatabase> {
  const serverUrl = readTestEnvironment().databaseUrl;
  let databaseUrl: string | undefined;
  let databaseName: string | undefined;
  if (serverUrl) {
    databaseName = `sy_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`create database ${databaseName}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${databaseName}`;
    databaseUrl = url.toString();
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'sy-bench-'));
  return {
    kind: databaseUrl ? 'postgres' : 'pglite',
    config: (simulatorUrl, creds, port) =>
      loadConfig({
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SWITCHYARD_DATA_DIR: dataDir,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        SWITCHYARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
        SHOPIFY_SHOP: creds.shop,
        SHOPIFY_ADMIN_TOKEN: creds.accessToken,
        SHOPIFY_API_SECRET: creds.clientSecret,
        SHOPIFY_API_URL: simulatorUrl,
      }),
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
      if (!databaseName) return;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`drop database if exists ${databaseName} with (force)`);
      await admin.end();
    },
  };
}
