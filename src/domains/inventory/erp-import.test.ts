// Count files that are wrong in every way a file can be: lines too long to hold, values too long to
// echo, control characters, the wrong encoding, more errors than a report may hold. Each gives a
// clear error with its line number, bounded in size, and changes nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { seedTee } from '../../../test/support/catalog.js';
import { facilities } from '../facilities/facilities.schema.js';
import { checkFileName, formatOf, importCountFile, type ImportReport } from './index.js';

let testDb: TestDatabase;
let db: Db;
const now = new Date('2026-11-28T10:00:00Z');
const at = '2026-11-28T06:00:00Z';
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-bad-counts-'));

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

const importFile = (
  p: string,
  options: { perRow?: boolean; maxLineBytes?: number; fileName?: string } = {},
): Promise<ImportReport> => importCountFile(db, { path: p, source: 'test', now: () => now, ...options });

/** Everything an import could have changed. */
async function state() {
  const [row] = await queryRows<{ ledger: number; on_hand: number; staged: number; marks: number }>(
    db,
    sql`select (select count(*)::int from inventory_ledger) as ledger, (select coalesce(sum(on_hand), 0)::int from inventory_levels) as on_hand,
               (select count(*)::int from inventory_import_rows) as staged, (select count(*)::int from inventory_count_marks) as marks`,
  );
  return row!;
}

async function stored(importId: number) {
  const [row] = await queryRows<{
    status: string;
    file_name: string;
    error_count: number;
    errors: Array<{ line: number; reason: string }>;
  }>(db, sql`select status, file_name, error_count, errors from inventory_imports where id = ${importId}`);
  return row!;
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = (await testDb.open()).db;
  await db.insert(facilities).values([{ code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' }]);
  await seedTee(db, ['A', 'B'], now, (i) => `00${i + 1}`);
});
afterAll(() => testDb.drop());

describe(`count files with lines too long (${backend})`, () => {
  test('a 5 MB line is reported with its line number and length, not read, and nothing is applied; per-row applies the other rows', async () => {
    const text = `facility,sku,quantity,counted_at\nWH1,A,3,${at}\nWH1,${'Z'.repeat(5_000_000)},1,${at}\nWH1,B,4,${at}\n`;
    const before = await state();
    const rejected = await importFile(file('long.csv', text));
    expect(rejected).toMatchObject({ status: 'rejected', rowsTotal: 2, rowsValid: 2, errorCount: 1 });
    expect(rejected.errors).toEqual([
      { line: 3, reason: 'line is 5,000,027 bytes long, more than the 65,536 allowed: not read' },
    ]);
    expect(await state()).toEqual(before);
    expect((await stored(rejected.importId)).errors).toEqual(rejected.errors);

    const partial = await importFile(file('long-per-row.csv', text), { perRow: true });
    expect(partial).toMatchObject({ status: 'applied', rowsApplied: 2, errorCount: 1, entriesWritten: 2 });
    expect((await state()).on_hand).toBe(before.on_hand + 7);
  });

  test("the limit is the caller's; a header past it stops the file with one error", async () => {
    const short = await importFile(
      file(
        'limit.jsonl',
        `{"facility":"WH1","sku":"A","quantity":1,"counted_at":"${at}"}\n{"facility":"WH1","sku":"B","quantity":1,"counted_at":"${at}","note":"${'n'.repeat(40)}"}\n`,
      ),
      { maxLineBytes: 80 },
    );
    expect(short.errors).toEqual([{ line: 2, reason: 'line is 127 bytes long, more than the 80 allowed: not read' }]);
    const header = await importFile(
      file('long-header.csv', `facility,sku,quantity,counted_at,${'c'.repeat(200)}\nWH1,A,1,${at}\n`),
      { maxLineBytes: 100 },
    );
    expect(header).toMatchObject({ status: 'rejected', rowsTotal: 0, errorCount: 1 });
    expect(header.errors).toEqual([
      { line: 1, reason: 'header: line is 233 bytes long, more than the 100 allowed: not read' },
    ]);
  });
});

describe(`values echoed in errors (${backend})`, () => {
  test('every echoed value is cut to 80 characters with its length, in the report and in the database', async () => {
    const long = (c: string) => c.repeat(70_000);
    const lines = [
      'facility,sku,quantity,counted_at',
      `WH1,${long('s')},1,${at}`,
      `${long('f')},A,1,${at}`,
      `WH1,A,${long('9')}x,${at}`,
      `WH1,A,${long('9')},${at}`,
      `WH1,A,-${long('9')},${at}`,
      `WH1,A,1,${long('t')}`,
      // Valid: a time with 70,000 digits of fraction.
      `WH1,A,1,2026-11-28T06:00:00.${long('0')}Z`,
      `WH1,A,1,9999-12-31T00:00:00.${long('0')}Z`,
    ];
    const before = await state();
    const report = await importFile(file('echo.csv', lines.join('\n')), { maxLineBytes: 1_000_000 });
    const cut = (c: string) => `${c.repeat(80)}…" (70,000 characters)`;
    expect(report.errors).toEqual([
      { line: 2, reason: `unknown SKU "${cut('s')}` },
      { line: 3, reason: `unknown facility "${cut('f')}` },
      { line: 4, reason: `quantity "${'9'.repeat(80)}…" (70,001 characters) is not a whole number` },
      { line: 5, reason: `quantity ${'9'.repeat(80)}… (70,000 characters) is too large (at most 2,000,000,000)` },
      { line: 6, reason: `quantity -${'9'.repeat(79)}… (70,001 characters) is negative` },
      { line: 7, reason: `counted_at "${cut('t')} is not a time with a zone (e.g. 2026-11-28T06:00:00Z)` },
      { line: 9, reason: `counted_at 9999-12-31T00:00:00.${'0'.repeat(60)}… (70,021 characters) is in the future` },
    ]);
    expect(Math.max(...report.errors.map((e) => e.reason.length))).toBeLessThanOrEqual(200);
    expect((await stored(report.importId)).errors).toEqual(report.errors);
    expect(await state()).toEqual(before);
  });

  test('a header without the needed columns is quoted, cut', async () => {
    const report = await importFile(file('header.csv', `${'store,'.repeat(1000)}item\nWH1,A\n`));
    expect(report.errors).toEqual([
      {
        line: 1,
        reason: `header must name the columns facility, sku (or barcode), quantity, counted_at; missing: facility, quantity, counted_at, sku or barcode; found "${'store,'.repeat(13)}st…" (6,004 characters)`,
      },
    ]);
  });

  test('NUL, control characters and lone surrogates in fields give row errors and are stored visibly', async () => {
    const csv = [
      'facility,sku,quantity,counted_at',
      `WH1,A\u0000,1,${at}`,
      `W\u0000H1,A,1,${at}`,
      `WH1,B,1\u0000,${at}`,
      `WH1,A,1,${at}\u0000`,
      `WH1,\u001b[31mB,1,${at}`,
    ].join('\n');
    const before = await state();
    const report = await importFile(file('controls.csv', csv));
    expect(report.errors).toEqual([
      { line: 2, reason: 'unknown SKU "A\\u0000"' },
      { line: 3, reason: 'unknown facility "W\\u0000H1"' },
      { line: 4, reason: 'quantity "1\\u0000" is not a whole number' },
      { line: 5, reason: `counted_at "${at}\\u0000" is not a time with a zone (e.g. 2026-11-28T06:00:00Z)` },
      { line: 6, reason: 'unknown SKU "\\u001b[31mB"' },
    ]);
    expect((await stored(report.importId)).errors).toEqual(report.errors);
    const jsonl = [
      `{"facility":"WH1","sku":"A\\u0000","quantity":1,"counted_at":"${at}"}`,
      `{"facility":"WH1","sku":"\\ud800","quantity":1,"counted_at":"${at}"}`,
      `{"facility":"WH1","sku":{"x":"\\u0000"},"quantity":1,"counted_at":"${at}"}`,
    ].join('\n');
    const fromJson = await importFile(file('controls.jsonl', jsonl));
    expect(fromJson.errors).toEqual([
      { line: 1, reason: 'unknown SKU "A\\u0000"' },
      { line: 2, reason: 'unknown SKU "\\ud800"' },
      { line: 3, reason: 'unknown SKU "{"x":"\\u0000"}"' },
    ]);
    expect((await stored(fromJson.importId)).errors).toEqual(fromJson.errors);
    expect(await state()).toEqual(before);
  });

  test('a file name with control characters is stored visibly and cut to 255 characters', async () => {
    const good = `facility,sku,quantity,counted_at\nWH1,A,3,${at}\n`;
    const named = await importFile(file('named.csv', good), { fileName: 'morning\u0000\n.csv' });
    expect(named.fileName).toBe('morning\\u0000\\u000a.csv');
    expect((await stored(named.importId)).file_name).toBe('morning\\u0000\\u000a.csv');
    const longName = await importFile(file('named2.csv', good), { fileName: `${'n'.repeat(300)}.csv` });
    expect(longName.fileName).toBe(`${'n'.repeat(254)}…`);
  });
});

describe(`encodings and dates (${backend})`, () => {
  test('a UTF-16 file is refused with one error; a line that is not UTF-8 is a row error', async () => {
    const before = await state();
    const utf16 = await importFile(
      file(
        'excel.csv',
        Buffer.concat([
          Buffer.from([0xff, 0xfe]),
          Buffer.from(`facility,sku,quantity,counted_at\r\nWH1,A,1,${at}\r\n`, 'utf16le'),
        ]),
      ),
    );
    expect(utf16).toMatchObject({
      status: 'rejected',
      rowsTotal: 0,
      errorCount: 1,
      errors: [{ line: 1, reason: 'the file is UTF-16 text: save it as UTF-8' }],
    });
    const latin1 = await importFile(
      file(
        'latin1.csv',
        Buffer.concat([
          Buffer.from(`facility,sku,quantity,counted_at\nWH1,A,1,${at}\nWH1,caf`),
          Buffer.from([0xe9]),
          Buffer.from(`,1,${at}\n`),
        ]),
      ),
    );
    expect(latin1).toMatchObject({
      status: 'rejected',
      rowsTotal: 1,
      errorCount: 1,
      errors: [{ line: 3, reason: 'line is not valid UTF-8 text (save the file as UTF-8)' }],
    });
    expect(await state()).toEqual(before);
  });

  test('a count before 2000 (a zero date, year 0000) is a row error, not a database failure', async () => {
    const before = await state();
    const report = await importFile(
      file('old.csv', `facility,sku,quantity,counted_at\nWH1,A,1,0000-01-01T00:00:00Z\nWH1,B,1,1999-12-31T23:59:59Z\n`),
    );
    expect(report.errors).toEqual([
      { line: 2, reason: 'counted_at 0000-01-01T00:00:00Z is before 2000-01-01' },
      { line: 3, reason: 'counted_at 1999-12-31T23:59:59Z is before 2000-01-01' },
    ]);
    expect(await state()).toEqual(before);
  });
});

describe(`bounded reports (${backend})`, () => {
  test('3,000 bad rows and 1,500 repeats: all counted, the first 1,000 by line kept in the report and the database', async () => {
    const lines = ['facility,sku,quantity,counted_at', `WH1,A,1,${at}`];
    // Lines 3..: a repeat of line 2 and an unknown SKU in turn, then 1,500 more unknown SKUs.
    for (let i = 0; i < 1500; i++) lines.push(`WH1,A,1,${at}`, `WH1,NOPE-${i},1,${at}`);
    for (let i = 1500; i < 3000; i++) lines.push(`WH1,NOPE-${i},1,${at}`);
    const before = await state();
    const report = await importFile(file('many.csv', lines.join('\n')));
    expect(report).toMatchObject({ status: 'rejected', rowsTotal: 4501, rowsValid: 1, errorCount: 4500 });
    expect(report.errors).toHaveLength(1000);
    expect(report.errors.slice(0, 3)).toEqual([
      { line: 3, reason: 'the same SKU and facility as line 2' },
      { line: 4, reason: 'unknown SKU "NOPE-0"' },
      { line: 5, reason: 'the same SKU and facility as line 2' },
    ]);
    expect(report.errors.at(-1)).toEqual({ line: 1002, reason: 'unknown SKU "NOPE-499"' });
    const row = await stored(report.importId);
    expect({ count: row.error_count, kept: row.errors.length, last: row.errors.at(-1) }).toEqual({
      count: 4500,
      kept: 1000,
      last: report.errors.at(-1),
    });
    expect(await state()).toEqual(before);
  });
});

describe(`stopping an import (${backend})`, () => {
  test('a stop signal ends the import at a safe point: recorded as failed with why, no staged rows, nothing applied', async () => {
    const lines = ['facility,sku,quantity,counted_at'];
    for (let i = 0; i < 3000; i++) lines.push(`WH1,${i % 2 ? 'A' : 'B'},${i},${at}`);
    const stop = new AbortController();
    stop.abort(new Error('shutting down'));
    const before = await state();
    await expect(
      importCountFile(db, {
        path: file('stopped.csv', lines.join('\n')),
        source: 'test',
        now: () => now,
        signal: stop.signal,
      }),
    ).rejects.toThrow('shutting down');
    const [last] = await queryRows<{ id: number }>(db, sql`select max(id)::int as id from inventory_imports`);
    expect(await stored(last!.id)).toEqual({
      status: 'failed',
      file_name: 'stopped.csv',
      error_count: 0,
      errors: [{ line: 0, reason: 'the import stopped: shutting down' }],
    });
    expect(await state()).toEqual(before);
  });
});

describe('file names', () => {
  test('a client file name must be a plain name', () => {
    expect(() => checkFileName('counts-2026-11-28.csv')).not.toThrow();
    const refused = (name: string) => {
      try {
        checkFileName(name);
      } catch (error) {
        return { code: (error as { code: string }).code, message: (error as Error).message };
      }
      return undefined;
    };
    expect(refused('../../etc/passwd.csv')).toEqual({
      code: 'inventory.import_file_name',
      message:
        'fileName "../../etc/passwd.csv" names a folder or a path: give a plain file name like counts-2026-11-28.csv.',
    });
    expect(refused('a\\b.csv')?.message).toBe(
      'fileName "a\\b.csv" names a folder or a path: give a plain file name like counts-2026-11-28.csv.',
    );
    expect(refused('..')?.code).toBe('inventory.import_file_name');
    expect(refused('a\u0000b.csv')?.message).toBe(
      'fileName "a\\u0000b.csv" holds control characters: give a plain file name like counts-2026-11-28.csv.',
    );
    expect(refused(`${'n'.repeat(300)}.csv`)?.message).toBe(
      `fileName "${'n'.repeat(80)}…" (304 characters) is 304 characters long (at most 255): give a plain file name like counts-2026-11-28.csv.`,
    );
    expect(() => formatOf(`${'n'.repeat(5000)}.txt`)).toThrow(
      `Cannot tell the format of "${'n'.repeat(80)}…" (5,004 characters): name it .csv or .jsonl, or say the format (csv or jsonl).`,
    );
  });
});
