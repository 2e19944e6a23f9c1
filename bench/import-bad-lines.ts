// Memory of a count import fed a file of bad lines (prints JSON). Generates a file of --mb megabytes
// (default 1,000 MB, seed 1) of lines that are all wrong: one 200 MB line, 40 lines of 1 to 9 MB, a
// line just past the 64 KiB limit and one just under it, and millions of short bad lines (unknown SKUs
// and facilities, quantities that are not numbers or negative, bad or future dates, NUL bytes, missing
// fields, 2 KB values), plus 10,000 good rows and 1,000 repeats of them. Then imports it twice, each in
// a process of its own whose peak resident memory the kernel reports (`process.resourceUsage().maxRSS`
// at exit, bench/support/max-rss.mjs):
//   http: `switchyard serve`, the file streamed to POST /api/v1/inventory/imports;
//   cli:  `switchyard inventory import FILE --json`.
// Each path also runs once with a one-line file: its baseline (the same process doing no real work).
// Goal: peak under 300 MB on both paths.
//
// Usage: [DATABASE_URL=...] npx tsx bench/import-bad-lines.ts [--mb 1000] [--seed 1]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { makeRandom } from '../src/platform/random.js';
import { backend, childEnv, createTestDatabase } from '../test/support/backend.js';
import { ROOT } from '../test/support/child.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const targetBytes = option('mb', 1000) * 1_000_000;
const seed = option('seed', 1);
const FACILITIES = 20;
const SKUS = 5000;
const MAX_LINE = 64 * 1024;
const GOAL_MB = 300;

const testDb = await createTestDatabase();
{
  const database = await testDb.open({ onDisk: true });
  const db = database.db;
  await db.execute(
    sql`insert into products (shopify_product_id, title) select 'gid://bench/Product/' || g, 'Product ' || g from generate_series(1, ${SKUS}::int) g`,
  );
  await db.execute(
    sql`insert into variants (product_id, shopify_variant_id, shopify_inventory_item_id, sku, title)
        select id, 'gid://bench/ProductVariant/' || id, 'gid://bench/InventoryItem/' || id, 'SKU-' || id, 'Default' from products`,
  );
  await db.execute(
    sql`insert into facilities (code, name, kind) select 'F' || g, 'Facility ' || g, 'WAREHOUSE' from generate_series(1, ${FACILITIES}::int) g`,
  );
  await database.close();
}
const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-bad-'));

/** What the file holds, to check the import's report against. */
const sizes = {
  fileBytes: 0,
  lines: 0,
  tooLong: 0,
  longestLineBytes: 0,
  shortBad: 0,
  wrongFieldCount: 0,
  validRows: 10_000,
  repeats: 1000,
};

async function writeBadFile(path: string): Promise<void> {
  const random = makeRandom(seed);
  const out = createWriteStream(path);
  let written = 0;
  const write = async (text: string | Buffer) => {
    written += typeof text === 'string' ? Buffer.byteLength(text) : text.length;
    if (!out.write(text)) await once(out, 'drain');
  };
  const at = '2026-11-28T06:00:00Z';
  const megabyte = Buffer.alloc(1_000_000, 'x');
  /** A line of `bytes` bytes (newline included), a CSV row whose SKU is the long part. */
  const longLine = async (bytes: number) => {
    await write('F1,');
    let left = bytes - 3 - `,1,${at}\n`.length;
    while (left > 0) {
      const piece = Math.min(left, megabyte.length);
      await write(piece === megabyte.length ? megabyte : megabyte.subarray(0, piece));
      left -= piece;
    }
    await write(`,1,${at}\n`);
    sizes.lines++;
    sizes.longestLineBytes = Math.max(sizes.longestLineBytes, bytes - 1);
    if (bytes - 1 > MAX_LINE) sizes.tooLong++;
    else sizes.shortBad++; // its SKU is unknown
  };
  const shortBad = () => {
    const f = random.int(1, FACILITIES);
    const s = random.int(1, SKUS);
    const kind = random.int(0, 9);
    sizes.shortBad++;
    sizes.lines++;
    switch (kind) {
      case 0:
        return `F${f},NOPE-${random.int(1, 1e9)},${random.int(0, 99)},${at}\n`;
      case 1:
        return `X${random.int(1, 1e6)},SKU-${s},${random.int(0, 99)},${at}\n`;
      case 2:
        return `F${f},SKU-${s},twelve,${at}\n`;
      case 3:
        return `F${f},SKU-${s},-${random.int(1, 99)},${at}\n`;
      case 4:
        return `F${f},SKU-${s},${random.int(0, 99)},yesterday\n`;
      case 5:
        return `F${f},SKU-${s},${random.int(0, 99)},2099-01-01T00:00:00Z\n`;
      case 6:
        return `F${f},SKU-${s}\u0000,${random.int(0, 99)},${at}\n`;
      case 7:
        sizes.wrongFieldCount++;
        return `F${f},SKU-${s}\n`;
      case 8:
        sizes.wrongFieldCount++;
        return `F${f},SKU-${s},${random.int(0, 99)},${at},extra\n`;
      default:
        return random.chance(0.01) ? `F${f},${'Q'.repeat(2000)},1,${at}\n` : `F${f},SKU-${s},1e3,${at}\n`;
    }
  };
  /** Short bad lines up to `until` bytes, written a megabyte at a time. */
  const shortBadUntil = async (until: number) => {
    while (written < until) {
      let chunk = '';
      while (chunk.length < 1_000_000 && written + chunk.length < until) chunk += shortBad();
      await write(chunk);
    }
  };

  await write('facility,sku,quantity,counted_at\n');
  sizes.lines++;
  // Good rows (each pair once) and repeats of some: staged, checked, then thrown away with the file.
  let good = '';
  for (let i = 0; i < sizes.validRows; i++)
    good += `F${(i % FACILITIES) + 1},SKU-${Math.floor(i / FACILITIES) + 1},${i % 50},${at}\n`;
  for (let i = 0; i < sizes.repeats; i++)
    good += `F${(i % FACILITIES) + 1},SKU-${Math.floor(i / FACILITIES) + 1},7,${at}\n`;
  await write(good);
  sizes.lines += sizes.validRows + sizes.repeats;
  await longLine(MAX_LINE + 2); // 64 KiB + 1 without its newline: one byte too long
  await longLine(MAX_LINE + 1); // exactly the limit: read, its SKU unknown
  const longTotal = 200_000_000 + 40 * 5_000_000;
  const shortTotal = targetBytes - longTotal - written;
  await shortBadUntil(written + shortTotal * 0.3);
  await longLine(200_000_000);
  for (let i = 0; i < 40; i++) {
    await longLine(random.int(1, 9) * 1_000_000);
    await shortBadUntil(written + (shortTotal * 0.7) / 40);
  }
  await shortBadUntil(targetBytes);
  out.end();
  await once(out, 'finish');
  sizes.fileBytes = statSync(path).size;
}

interface Measured {
  seconds: number;
  peakRssMb: number;
  sampledPeakRssMb: number;
  report: { status: string; rowsTotal: number; errorCount: number; errors: unknown[] } | null;
  httpStatus?: number;
}

/** Starts `node --import tsx --import max-rss.mjs src/main/cli.ts ...args`, sampling its resident memory from /proc. */
function run(cliArgs: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './bench/support/max-rss.mjs', 'src/main/cli.ts', ...cliArgs],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let sampled = 0;
  const sampler = setInterval(() => {
    try {
      sampled = Math.max(
        sampled,
        Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0),
      );
    } catch {
      // the process has just ended
    }
  }, 50);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async done(): Promise<{ code: number | string; peakRssMb: number; sampledPeakRssMb: number }> {
      const code = await exited;
      clearInterval(sampler);
      const kb = Number(/max-rss-kb (\d+)/.exec(stderr)?.[1]);
      if (!kb) throw new Error(`no max-rss line (exit ${code}): ${stderr.slice(-2000)}`);
      return { code, peakRssMb: Math.round(kb / 1024), sampledPeakRssMb: Math.round(sampled / 1024) };
    },
  };
}

async function viaCli(file: string): Promise<Measured> {
  const started = performance.now();
  const p = run(['inventory', 'import', file, '--json'], childEnv(testDb, { LOG_LEVEL: 'warn' }));
  const { code, peakRssMb, sampledPeakRssMb } = await p.done();
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 && code !== 1) throw new Error(`cli exited ${code}: ${p.stderr().slice(-2000)}`);
  return { seconds, peakRssMb, sampledPeakRssMb, report: JSON.parse(p.stdout()) };
}

async function viaHttp(file: string): Promise<Measured> {
  const p = run(['serve'], childEnv(testDb, { PORT: '0', LOG_LEVEL: 'info' }));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not start: ${p.stdout().slice(-2000)}${p.stderr().slice(-2000)}`)),
      120_000,
    );
    const check = () => {
      const line = p
        .stdout()
        .split('\n')
        .find((l) => l.includes('Switchyard is listening'));
      if (line) {
        clearTimeout(timer);
        p.child.stdout.off('data', check);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    };
    p.child.stdout.on('data', check);
  });
  const started = performance.now();
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${url}/api/v1/inventory/imports?fileName=bad-lines.csv`,
      { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': statSync(file).size } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
  const seconds = (performance.now() - started) / 1000;
  p.child.kill('SIGTERM');
  const { peakRssMb, sampledPeakRssMb } = await p.done();
  return { seconds, peakRssMb, sampledPeakRssMb, report: status === 413 ? null : JSON.parse(body), httpStatus: status };
}

const bad = join(dir, 'bad-lines.csv');
const tiny = join(dir, 'one-line.csv');
console.error(`writing ${targetBytes / 1e6} MB of bad lines...`);
await writeBadFile(bad);
{
  const out = createWriteStream(tiny);
  out.end('facility,sku,quantity,counted_at\nF1,SKU-1,5,2026-11-28T06:00:00Z\n');
  await once(out, 'finish');
}
console.error(`file: ${JSON.stringify(sizes)}`);

// What the report must say: every short bad line, every line too long and every repeat is an error;
// every line but those too long or with the wrong number of fields is a row.
const expectedErrors = sizes.shortBad + sizes.tooLong + sizes.repeats;
const expectedRows = sizes.shortBad - sizes.wrongFieldCount + sizes.validRows + sizes.repeats;
const results: Record<string, unknown> = {};
for (const [name, measure] of [
  ['http', viaHttp],
  ['cli', viaCli],
] as const) {
  const baseline = await measure(tiny);
  console.error(`${name} baseline: ${JSON.stringify({ ...baseline, report: baseline.report?.status })}`);
  const measured = await measure(bad);
  const report = measured.report!;
  console.error(
    `${name}: ${JSON.stringify({ ...measured, report: { status: report.status, rowsTotal: report.rowsTotal, errorCount: report.errorCount } })}`,
  );
  if (
    report.status !== 'rejected' ||
    report.errorCount !== expectedErrors ||
    report.rowsTotal !== expectedRows ||
    report.errors.length !== 1000
  ) {
    throw new Error(
      `${name}: unexpected report ${JSON.stringify({ ...report, errors: report.errors.slice(0, 5) })} (expected ${expectedErrors} errors, ${expectedRows} rows)`,
    );
  }
  results[name] = {
    peakRssMb: measured.peakRssMb,
    sampledPeakRssMb: measured.sampledPeakRssMb,
    baselinePeakRssMb: baseline.peakRssMb,
    importAddedMb: measured.peakRssMb - baseline.peakRssMb,
    seconds: Math.round(measured.seconds * 10) / 10,
    linesPerSecond: Math.round(sizes.lines / measured.seconds),
    megabytesPerSecond: Math.round((sizes.fileBytes / 1e6 / measured.seconds) * 10) / 10,
    ...(measured.httpStatus ? { httpStatus: measured.httpStatus } : {}),
    report: {
      status: report.status,
      rowsTotal: report.rowsTotal,
      errorCount: report.errorCount,
      errorsKept: report.errors.length,
    },
    underGoal: measured.peakRssMb < GOAL_MB,
  };
}
rmSync(dir, { recursive: true, force: true });
await testDb.drop();
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'import-bad-lines',
      database: backend,
      seed,
      sizes: { ...sizes, facilities: FACILITIES, skus: SKUS },
      limits: { maxLineBytes: MAX_LINE, maxUploadBytes: 1024 ** 3 },
      goal: { peakRssMb: `< ${GOAL_MB}`, unit: 'MB' },
      ...results,
      note: "peakRssMb: the measured process's own high-water mark (getrusage maxRSS at exit); sampledPeakRssMb: VmRSS sampled every 50 ms; baselinePeakRssMb: the same command on a one-line file",
    },
    null,
    2,
  )}\n`,
);
