// The ERP drop folder: files are claimed by an atomic rename, imported, and moved to done/ or
// failed/ with a report; a file with a bad row applies nothing; whatever is wrong with a file, it is
// set aside and the run goes on; a file the process dies on is set aside after three takes.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, serverUrl, type TestDatabase } from './support/backend.js';
import { startChild } from './support/child.js';
import type { Database } from '../src/platform/db/client.js';
import { queryRows } from '../src/platform/db/rows.js';
import { makeLogger } from '../src/platform/logger.js';
import { systemClock, type Clock } from '../src/platform/clock.js';
import type { JobContext } from '../src/platform/jobs/job.types.js';
import { seedTee } from './support/catalog.js';
import { facilities } from '../src/domains/facilities/facilities.schema.js';
import { INVENTORY_JOB_NAMES, makeInventoryJobs } from '../src/jobs/inventory.jobs.js';

let testDb: TestDatabase;
let database: Database;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-drop-'));

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
  await database.db.insert(facilities).values({ code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' });
  const now = new Date();
  await seedTee(database.db, ['A'], now);
});
afterAll(() => testDb.drop());

function context(counts: Record<string, number>, clock: Clock = systemClock): JobContext {
  return {
    db: database.db,
    clock,
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
    writeFileSync(
      path.join(dir, 'broken.jsonl'),
      `{"facility":"WH1","sku":"A","quantity":5,"counted_at":"${at}"}\n{"facility":"WH1","sku":"NOPE","quantity":1,"counted_at":"${at}"}\n`,
    );
    writeFileSync(path.join(dir, 'notes.txt'), 'not a count file');
    const job = makeInventoryJobs({ importDir: dir }).find((j) => j.name === INVENTORY_JOB_NAMES.importFolder)!;
    const counts: Record<string, number> = {};
    await job.run(context(counts));
    expect(counts).toEqual({ applied: 1, rejected: 1, rows: 3 });
    expect(readdirSync(path.join(dir, 'done')).sort()).toEqual(['morning.csv', 'morning.csv.report.json']);
    expect(readdirSync(path.join(dir, 'failed')).sort()).toEqual(['broken.jsonl', 'broken.jsonl.report.json']);
    const report = JSON.parse(readFileSync(path.join(dir, 'failed', 'broken.jsonl.report.json'), 'utf8'));
    expect(report).toMatchObject({
      status: 'rejected',
      errorCount: 1,
      errors: [{ line: 2, reason: 'unknown SKU "NOPE"' }],
    });
    expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
    const [level] = await queryRows<{ on_hand: number }>(database.db, sql`select on_hand from inventory_levels`);
    expect(level!.on_hand).toBe(12);
    // A second run finds nothing new.
    const again: Record<string, number> = {};
    await job.run(context(again));
    expect(again).toEqual({});
  });
});

/** A fresh drop folder and its job. */
function dropFolder(options: { maxLineBytes?: number } = {}) {
  const folder = mkdtempSync(path.join(dir, 'drop-'));
  const job = makeInventoryJobs({ importDir: folder, ...options }).find(
    (j) => j.name === INVENTORY_JOB_NAMES.importFolder,
  )!;
  const list = (sub: string) => readdirSync(path.join(folder, sub)).sort();
  const report = (sub: string, name: string) =>
    JSON.parse(readFileSync(path.join(folder, sub, `${name}.report.json`), 'utf8'));
  return { folder, job, list, report };
}

async function onHandA(): Promise<number> {
  const [level] = await queryRows<{ on_hand: number }>(
    database.db,
    sql`select coalesce(sum(on_hand), 0)::int as on_hand from inventory_levels`,
  );
  return level!.on_hand;
}

describe(`bad files in the drop folder (${backend})`, () => {
  test('every kind of bad file goes to failed/ with a report saying why; the run goes on; nothing is taken twice', async () => {
    const { folder, job, list, report } = dropFolder({ maxLineBytes: 1024 });
    const at = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(
      path.join(folder, 'a-long-line.csv'),
      `facility,sku,quantity,counted_at\nWH1,${'A'.repeat(200_000)},1,${at}\n`,
    );
    writeFileSync(
      path.join(folder, 'b-utf16.csv'),
      Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(`facility,sku,quantity,counted_at\nWH1,A,1,${at}\n`, 'utf16le'),
      ]),
    );
    mkdirSync(path.join(folder, 'c-folder.csv'));
    symlinkSync(path.join(folder, 'gone.csv'), path.join(folder, 'd-vanished.csv'));
    writeFileSync(path.join(folder, 'e-binary.jsonl'), Buffer.from([0x00, 0x01, 0xc3, 0x28, 0x0a, 0x00, 0x7b, 0x0a]));
    writeFileSync(path.join(folder, 'f-good.csv'), `facility,sku,quantity,counted_at\nWH1,A,30,${at}\n`);
    const counts: Record<string, number> = {};
    await job.run(context(counts));
    expect(counts).toEqual({ rejected: 3, failed: 2, applied: 1, rows: 1 });
    expect(await onHandA()).toBe(30);
    expect(list('done')).toEqual(['f-good.csv', 'f-good.csv.report.json']);
    expect(list('failed')).toEqual([
      'a-long-line.csv',
      'a-long-line.csv.report.json',
      'b-utf16.csv',
      'b-utf16.csv.report.json',
      'c-folder.csv',
      'c-folder.csv.report.json',
      'd-vanished.csv',
      'd-vanished.csv.report.json',
      'e-binary.jsonl',
      'e-binary.jsonl.report.json',
    ]);
    expect(list('processing')).toEqual([]);
    expect(report('failed', 'a-long-line.csv')).toMatchObject({
      status: 'rejected',
      errors: [
        {
          line: 2,
          reason: `line is ${(4 + 200_000 + 3 + at.length).toLocaleString('en-US')} bytes long, more than the 1,024 allowed: not read`,
        },
      ],
    });
    expect(report('failed', 'b-utf16.csv')).toMatchObject({
      status: 'rejected',
      errors: [{ line: 1, reason: 'the file is UTF-16 text: save it as UTF-8' }],
    });
    expect(report('failed', 'c-folder.csv')).toEqual({
      status: 'failed',
      fileName: 'c-folder.csv',
      reason: 'could not be imported: EISDIR: illegal operation on a directory, read',
      attempts: 1,
      at: expect.any(String),
    });
    expect(report('failed', 'd-vanished.csv')).toEqual({
      status: 'failed',
      fileName: 'd-vanished.csv',
      reason: `could not be imported: ENOENT: no such file or directory, open '${path.join(folder, 'processing', 'd-vanished.csv')}'`,
      attempts: 1,
      at: expect.any(String),
    });
    expect(report('failed', 'e-binary.jsonl')).toMatchObject({
      status: 'rejected',
      errors: [
        { line: 1, reason: 'line is not valid UTF-8 text (save the file as UTF-8)' },
        { line: 2, reason: 'not valid JSON' },
      ],
    });
    // Nothing left to take: failed/ and done/ are never read again.
    const again: Record<string, number> = {};
    await job.run(context(again));
    expect(again).toEqual({});
    expect(await onHandA()).toBe(30);
  });

  test('a file dropped again under the name of one already set aside is kept beside it, not over it', async () => {
    const { folder, job, list, report } = dropFolder();
    const at = new Date(Date.now() - 60_000).toISOString();
    const bad = `facility,sku,quantity,counted_at\nWH1,NOPE,1,${at}\n`;
    writeFileSync(path.join(folder, 'daily.csv'), bad);
    await job.run(context({}));
    writeFileSync(path.join(folder, 'daily.csv'), bad.replace('NOPE', 'NOPE2'));
    await job.run(context({}));
    expect(list('failed')).toEqual(['daily.2.csv', 'daily.2.csv.report.json', 'daily.csv', 'daily.csv.report.json']);
    expect(report('failed', 'daily.csv').errors).toEqual([{ line: 2, reason: 'unknown SKU "NOPE"' }]);
    expect(report('failed', 'daily.2.csv').errors).toEqual([{ line: 2, reason: 'unknown SKU "NOPE2"' }]);
  });

  test('files left in processing/ are taken again after 30 minutes, counting their takes; the third cut-short take sets the file aside unread', async () => {
    const { folder, job, list, report } = dropFolder();
    const at = new Date(Date.now() - 60_000).toISOString();
    const count = (n: number) => `facility,sku,quantity,counted_at\nWH1,A,${n},${at}\n`;
    const processing = path.join(folder, 'processing');
    const now = Date.now();
    const ago = (minutes: number) => new Date(now - minutes * 60_000).toISOString();
    writeFileSync(path.join(folder, 'x.csv'), count(1)); // makes the folders
    await job.run(context({}));
    const level = await onHandA();
    writeFileSync(path.join(processing, 'thrice.csv'), count(77));
    writeFileSync(path.join(processing, 'thrice.csv.attempt.json'), JSON.stringify({ attempts: 3, at: ago(31) }));
    writeFileSync(path.join(processing, 'twice.csv'), count(41));
    writeFileSync(path.join(processing, 'twice.csv.attempt.json'), JSON.stringify({ attempts: 2, at: ago(31) }));
    writeFileSync(path.join(processing, 'recent.csv'), count(55));
    writeFileSync(path.join(processing, 'recent.csv.attempt.json'), JSON.stringify({ attempts: 1, at: ago(5) }));
    // Taken by a run that died before it could record the take: its own time counts.
    writeFileSync(path.join(processing, 'unrecorded.csv'), count(41));
    utimesSync(path.join(processing, 'unrecorded.csv'), new Date(now - 40 * 60_000), new Date(now - 40 * 60_000));
    // A new file under the name of one still in processing/ waits.
    writeFileSync(path.join(folder, 'recent.csv'), count(56));
    const counts: Record<string, number> = {};
    await job.run(context(counts));
    expect(counts).toEqual({ failed: 1, applied: 2, rows: 2 });
    expect(report('failed', 'thrice.csv')).toEqual({
      status: 'failed',
      fileName: 'thrice.csv',
      reason:
        'its import was cut short 3 times (the process stopped or died while importing it): set aside so that it cannot stop the process again; move it back to the folder to try again',
      attempts: 3,
      at: expect.any(String),
    });
    expect(list('done')).toEqual([
      'twice.csv',
      'twice.csv.report.json',
      'unrecorded.csv',
      'unrecorded.csv.report.json',
      'x.csv',
      'x.csv.report.json',
    ]);
    expect(list('processing')).toEqual(['recent.csv', 'recent.csv.attempt.json']);
    expect(existsSync(path.join(folder, 'recent.csv'))).toBe(true);
    // The file set aside was not applied (77 would have been).
    expect(await onHandA()).toBe(level - 1 + 41);
  });
});

describe(`a count file the process dies on (${backend})`, () => {
  test('killed three times while importing it: the fourth run sets it aside in failed/ without reading it', async () => {
    // A database of its own, on disk: the job runs in child processes that are killed.
    const crashDb = await createTestDatabase();
    try {
      const seeded = await crashDb.open({ onDisk: true });
      await seeded.db.insert(facilities).values({ code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' });
      await seeded.close();
      const folder = mkdtempSync(path.join(dir, 'crash-'));
      // 3 million bad rows: seconds of work, so each kill lands mid-import.
      const at = new Date(Date.now() - 60_000).toISOString();
      const row = `WH1,NOPE,1,${at}\n`;
      writeFileSync(path.join(folder, 'huge.csv'), `facility,sku,quantity,counted_at\n${row.repeat(3_000_000)}`);
      const marker = path.join(folder, 'processing', 'huge.csv.attempt.json');
      const where = serverUrl ? crashDb.url! : crashDb.dataDir;
      for (let take = 1; take <= 3; take++) {
        // Each run 31 minutes after the last: a file left in processing/ is taken again.
        const child = startChild(
          'test/support/import-folder-once.ts',
          [folder, String((take - 1) * 31 * 60_000), where],
          {},
        );
        const deadline = Date.now() + 60_000;
        const takes = () => (existsSync(marker) ? JSON.parse(readFileSync(marker, 'utf8')).attempts : 0);
        while (takes() !== take) {
          if (Date.now() > deadline) throw new Error(`take ${take} never started: ${child.output()}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        child.kill('SIGKILL');
        expect(await child.exited).toBe('SIGKILL');
        expect(readdirSync(path.join(folder, 'processing')).sort()).toEqual(['huge.csv', 'huge.csv.attempt.json']);
      }
      const last = startChild('test/support/import-folder-once.ts', [folder, String(3 * 31 * 60_000), where], {});
      expect(await last.exited).toBe(0);
      expect(last.output().trim()).toBe('{"failed":1}');
      expect(readdirSync(path.join(folder, 'failed')).sort()).toEqual(['huge.csv', 'huge.csv.report.json']);
      expect(JSON.parse(readFileSync(path.join(folder, 'failed', 'huge.csv.report.json'), 'utf8'))).toMatchObject({
        status: 'failed',
        attempts: 3,
      });
      expect(readdirSync(path.join(folder, 'processing'))).toEqual([]);
    } finally {
      await crashDb.drop();
    }
  }, 180_000);
});
