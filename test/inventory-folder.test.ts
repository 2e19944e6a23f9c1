// The ERP drop folder: files are claimed by an atomic rename, imported, and moved to done/ or
// failed/ with a report; a file with a bad row applies nothing.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from './support/backend.js';
import type { Database } from '../src/platform/db/client.js';
import { queryRows } from '../src/platform/db/rows.js';
import { makeLogger } from '../src/platform/logger.js';
import { systemClock } from '../src/platform/clock.js';
import type { JobContext } from '../src/platform/jobs/job.types.js';
import { applyProductSnapshot } from '../src/domains/catalog/index.js';
import { facilities } from '../src/domains/facilities/index.js';
import { INVENTORY_JOB_NAMES, makeInventoryJobs } from '../src/jobs/inventory.jobs.js';

let testDb: TestDatabase;
let database: Database;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-drop-'));

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
  await database.db.insert(facilities).values({ code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' });
  const now = new Date();
  await applyProductSnapshot(
    database.db,
    {
      shopifyProductId: 'gid://shopify/Product/1',
      handle: 'p',
      title: 'P',
      status: 'ACTIVE',
      vendor: null,
      productType: null,
      tags: [],
      imageUrl: null,
      updatedAt: now,
      variants: [{ shopifyVariantId: 'gid://shopify/ProductVariant/1', shopifyInventoryItemId: 'gid://shopify/InventoryItem/1', sku: 'A', barcode: null, title: 'A', price: null, weightGrams: null, inventoryPolicy: 'DENY', updatedAt: now }],
    },
    now,
  );
});
afterAll(() => testDb.drop());

function context(counts: Record<string, number>): JobContext {
  return {
    db: database.db,
    clock: systemClock,
    log: makeLogger({ level: 'silent' }),
    runId: 1,
    trigger: 'cli',
    signal: new AbortController().signal,
    count: (name, by = 1) => void (counts[name] = (counts[name] ?? 0) + by),
    progress: () => {},
  };
}

describe(`ERP drop folder (${backend})`, () => {
  test('good files are applied and moved to done/, bad ones to failed/ with their report; nothing is taken twice', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(path.join(dir, 'morning.csv'), `facility,sku,quantity,counted_at\nWH1,A,12,${at}\n`);
    writeFileSync(path.join(dir, 'broken.jsonl'), `{"facility":"WH1","sku":"A","quantity":5,"counted_at":"${at}"}\n{"facility":"WH1","sku":"NOPE","quantity":1,"counted_at":"${at}"}\n`);
    writeFileSync(path.join(dir, 'notes.txt'), 'not a count file');
    const job = makeInventoryJobs({ importDir: dir }).find((j) => j.name === INVENTORY_JOB_NAMES.importFolder)!;
    const counts: Record<string, number> = {};
    await job.run(context(counts));
    expect(counts).toEqual({ applied: 1, rejected: 1, rows: 3 });
    expect(readdirSync(path.join(dir, 'done')).sort()).toEqual(['morning.csv', 'morning.csv.report.json']);
    expect(readdirSync(path.join(dir, 'failed')).sort()).toEqual(['broken.jsonl', 'broken.jsonl.report.json']);
    const report = JSON.parse(readFileSync(path.join(dir, 'failed', 'broken.jsonl.report.json'), 'utf8'));
    expect(report).toMatchObject({ status: 'rejected', errorCount: 1, errors: [{ line: 2, reason: 'unknown SKU "NOPE"' }] });
    expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
    const [level] = await queryRows<{ on_hand: number }>(database.db, sql`select on_hand from inventory_levels`);
    expect(level!.on_hand).toBe(12);
    // A second run finds nothing new.
    const again: Record<string, number> = {};
    await job.run(context(again));
    expect(again).toEqual({});
  });
});
