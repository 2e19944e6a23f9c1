// Count files through the HTTP upload and the CLI, when they are too large, have lines too long,
// carry control characters or more errors than a report may hold: a clear answer, bounded in size,
// and nothing left behind.
import { request } from 'node:http';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  backend,
  childEnv,
  createTestDatabase,
  TEST_API_TOKEN,
  TEST_AUTH,
  testConfig,
  type TestDatabase,
} from './support/backend.js';
import { CLI, startChild } from './support/child.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { queryRows } from '../src/platform/db/rows.js';
import type { Db } from '../src/platform/db/client.js';
import { seedTee } from './support/catalog.js';
import { facilities } from '../src/domains/facilities/facilities.schema.js';

const at = new Date(Date.now() - 3600_000).toISOString();
let testDb: TestDatabase;
let switchyard: Switchyard;
let db: Db;
const uploads = () => path.join(testDb.dataDir, 'uploads');

async function seed(target: Db): Promise<void> {
  const now = new Date();
  await target.insert(facilities).values([{ code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' }]);
  await seedTee(target, ['A', 'B'], now);
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  switchyard = await startSwitchyard(
    testConfig(testDb, {
      SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES: '4096',
      SWITCHYARD_IMPORT_MAX_LINE_BYTES: '1024',
      SWITCHYARD_DEMO: 'off',
      SWITCHYARD_API_TOKEN: TEST_API_TOKEN,
    }),
  );
  db = switchyard.database.db;
  await seed(db);
});
afterAll(async () => {
  await switchyard?.stop();
  await testDb.drop();
});

/** Everything an upload could leave behind. */
async function leftovers() {
  const [row] = await queryRows<{ imports: number; staged: number; ledger: number }>(
    db,
    sql`select (select count(*)::int from inventory_imports) as imports, (select count(*)::int from inventory_import_rows) as staged, (select count(*)::int from inventory_ledger) as ledger`,
  );
  let spooled: string[] = [];
  try {
    spooled = readdirSync(uploads());
  } catch {
    // never made: nothing spooled
  }
  return { ...row!, spooled };
}

/**
 * POSTs a body with node:http: whole (with content-length) or in chunks without a declared length.
 * Stops sending once the answer has come (the server may close the connection on a refused upload).
 */
function post(
  url: string,
  body: { whole: Buffer } | { chunks: number; chunk: Buffer },
  contentType = 'text/csv',
): Promise<{ status: number; body: any; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': contentType,
          ...TEST_AUTH,
          ...('whole' in body ? { 'content-length': body.whole.length } : {}),
        },
      },
      (res) => {
        answered = true;
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(text), connection: res.headers.connection }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if ('whole' in body) {
      req.end(body.whole);
      return;
    }
    let sent = 0;
    const next = () => {
      while (!answered && sent < body.chunks) {
        sent++;
        if (!req.write(body.chunk)) return void req.once('drain', next);
      }
      if (!answered) req.end();
    };
    next();
  });
}

const importsUrl = (query = 'fileName=counts.csv') => `${switchyard.url}/api/v1/inventory/imports?${query}`;

describe(`count file uploads (${backend})`, () => {
  test('an upload over the limit is refused with 413 before anything is imported, whether its length is declared or not', async () => {
    const before = await leftovers();
    const declared = await post(importsUrl(), { whole: Buffer.alloc(5000, 'x') });
    expect(declared).toEqual({
      status: 413,
      connection: 'close',
      body: {
        error: {
          code: 'inventory.import_too_large',
          message:
            'The upload is larger than 4,096 bytes (SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES): nothing was imported. Split the file, or raise the limit.',
          details: { maxUploadBytes: 4096, contentLength: 5000 },
        },
      },
    });
    // 1 MB sent in chunks with no declared length: cut off past 4,096 bytes.
    const streamed = await post(importsUrl(), {
      chunks: 1024,
      chunk: Buffer.from(`WH1,A,1,${at}\n`.padEnd(1024, ' ')),
    });
    expect(streamed).toMatchObject({
      status: 413,
      connection: 'close',
      body: {
        error: { code: 'inventory.import_too_large', details: { maxUploadBytes: 4096, receivedMoreThan: 4096 } },
      },
    });
    expect(await leftovers()).toEqual({ ...before, spooled: [] });
    // The server still answers.
    const good = await post(importsUrl(), { whole: Buffer.from(`facility,sku,quantity,counted_at\nWH1,A,5,${at}\n`) });
    expect(good).toMatchObject({ status: 201, body: { status: 'applied', rowsApplied: 1 } });
  });

  test('an upload of exactly the limit is taken', async () => {
    const head = `facility,sku,quantity,counted_at\nWH1,B,2,${at}\n`;
    const exact = Buffer.from(head.padEnd(4096, '\n'));
    expect(exact.length).toBe(4096);
    expect(await post(importsUrl('fileName=exact.csv'), { whole: exact })).toMatchObject({
      status: 201,
      body: { status: 'applied', rowsTotal: 1 },
    });
    expect((await leftovers()).spooled).toEqual([]);
  });

  test('a line past the line limit is reported with its number and length; control characters are echoed visibly and stored', async () => {
    const body = `facility,sku,quantity,counted_at\nWH1,A,1,${at}\nWH1,${'Z'.repeat(3000)},1,${at}\nWH1,B\u0000,1,${at}\n`;
    const answer = await post(importsUrl('fileName=long.csv'), { whole: Buffer.from(body) });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ status: 'rejected', rowsTotal: 2, errorCount: 2 });
    expect(answer.body.errors).toEqual([
      {
        line: 3,
        reason: `line is ${(4 + 3000 + 3 + at.length).toLocaleString('en-US')} bytes long, more than the 1,024 allowed: not read`,
      },
      { line: 4, reason: 'unknown SKU "B\\u0000"' },
    ]);
    const stored = await fetch(`${switchyard.url}/api/v1/inventory/imports/${answer.body.importId}`, {
      headers: TEST_AUTH,
    }).then((r) => r.json());
    expect(stored).toMatchObject({
      status: 'rejected',
      file_name: 'long.csv',
      error_count: 2,
      errors: answer.body.errors,
    });
  });

  test('a file name with a path or a NUL is refused clearly; nothing is created', async () => {
    const before = await leftovers();
    const file = Buffer.from(`facility,sku,quantity,counted_at\nWH1,A,1,${at}\n`);
    const nul = await post(importsUrl('fileName=a%00b.csv'), { whole: file });
    expect(nul).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'request.invalid',
          message: 'querystring/fileName holds a NUL character, which no value may hold.',
        },
      },
    });
    const control = await post(importsUrl('fileName=a%07b.csv'), { whole: file });
    expect(control).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'inventory.import_file_name',
          message:
            'fileName "a\\u0007b.csv" holds control characters: give a plain file name like counts-2026-11-28.csv.',
          details: { field: 'fileName' },
        },
      },
    });
    const traversal = await post(importsUrl(`fileName=${encodeURIComponent('../../etc/counts.csv')}`), { whole: file });
    expect(traversal).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'inventory.import_file_name',
          message:
            'fileName "../../etc/counts.csv" names a folder or a path: give a plain file name like counts-2026-11-28.csv.',
        },
      },
    });
    const long = await post(importsUrl(`fileName=${'n'.repeat(2000)}.csv`), { whole: file });
    expect(long).toMatchObject({
      status: 400,
      body: {
        error: { code: 'request.invalid', message: 'querystring/fileName must NOT have more than 1000 characters' },
      },
    });
    expect(await leftovers()).toEqual({ ...before, spooled: [] });
  });
});

describe(`count files through the CLI (${backend})`, () => {
  let cliDb: TestDatabase;
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cli-counts-'));
  beforeAll(async () => {
    cliDb = await createTestDatabase();
    const database = await cliDb.open({ onDisk: true });
    await seed(database.db);
    await database.close();
  });
  afterAll(() => cliDb.drop());

  async function cli(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
    const child = startChild(
      CLI,
      ['inventory', 'import', ...args],
      childEnv(cliDb, { SWITCHYARD_IMPORT_MAX_LINE_BYTES: '1024', LOG_LEVEL: 'warn' }),
    );
    let stdout = '';
    let stderr = '';
    child.process.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.process.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await child.exited;
    return { code, stdout, stderr };
  }

  test('1,500 bad rows, a 300 KB line and a NUL: the first 1,000 errors, cut and visible, then how many more; nothing applied', async () => {
    const lines = ['facility,sku,quantity,counted_at', `WH1,A\u0000,1,${at}`, `WH1,${'L'.repeat(300_000)},1,${at}`];
    for (let i = 0; i < 1500; i++) lines.push(`WH1,${'N'.repeat(200)}${i},1,${at}`);
    const file = path.join(dir, 'bad.csv');
    writeFileSync(file, lines.join('\n'));
    const { code, stdout } = await cli([file]);
    expect(code).toBe(1);
    const out = stdout.split('\n');
    expect(out.slice(0, 3)).toEqual([
      'line 2: unknown SKU "A\\u0000"',
      `line 3: line is ${(4 + 300_000 + 3 + at.length).toLocaleString('en-US')} bytes long, more than the 1,024 allowed: not read`,
      `line 4: unknown SKU "${'N'.repeat(80)}…" (201 characters)`,
    ]);
    expect(out.slice(1000)).toEqual([
      '... and 502 more errors',
      'import #1 rejected: 1501 rows, 1502 bad, 0 applied, 0 superseded by newer counts, 0 ledger entries',
      'nothing was applied: fix the rows above, or use --per-row to apply the good rows',
      '',
    ]);
    expect(stdout).not.toContain('\u0000');
    expect(stdout.length).toBeLessThan(150_000);

    const json = await cli([file, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect({ status: report.status, errorCount: report.errorCount, kept: report.errors.length }).toEqual({
      status: 'rejected',
      errorCount: 1502,
      kept: 1000,
    });
    expect(json.stdout.length).toBeLessThan(200_000);
    const database = await cliDb.open({ onDisk: true });
    const [counts] = await queryRows<{ ledger: number; staged: number }>(
      database.db,
      sql`select (select count(*)::int from inventory_ledger) as ledger, (select count(*)::int from inventory_import_rows) as staged`,
    );
    expect(counts).toEqual({ ledger: 0, staged: 0 });
    await database.close();
  });

  test('a file that is not there is named in one line', async () => {
    const missing = path.join(dir, 'nope.csv');
    const { code, stdout, stderr } = await cli([missing]);
    expect({ code, stdout, stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchyard: cannot read "${missing}": no such file\n`,
    });
  });
});
