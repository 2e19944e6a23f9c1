// Inventory figures on the database alone (prints JSON):
//   erp: import of an ERP count file of F facilities × S SKUs rows (default 20 × 50,000 = 1,000,000):
//        rows/s and peak memory, median of R runs (each run a new file counted later, so every run
//        writes its entries);
//   atp: full ATP recompute for V variants × F facilities (default 50,000 × 50), the way the hourly
//        full publish computes it (batches of 1,000 variants): seconds, median of R runs.
// Usage: npx tsx bench/inventory.ts erp|atp [--facilities 20] [--skus 50000] [--variants 50000] [--runs 3]
// Uses PostgreSQL when DATABASE_URL is set (a fresh database beside it), else embedded PGlite.
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { sql } from 'drizzle-orm';
import { computeAtp, importCountFile } from '../src/domains/inventory/index.js';
import { queryRows } from '../src/platform/db/rows.js';
import { backend, createTestDatabase } from '../test/support/backend.js';

const args = process.argv.slice(2);
const which = args[0];
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const runs = option('runs', 3);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// A fresh database beside DATABASE_URL's, or an embedded one on disk (the test suite's helper).
const testDb = await createTestDatabase();
const db = (await testDb.open({ onDisk: true })).db;

/** Products, variants (SKU-<n>) and facilities (F<n>) made by SQL, as fast as the database allows. */
async function seed(variantCount: number, facilityCount: number): Promise<void> {
  await db.execute(
    sql`insert into products (shopify_product_id, title) select 'gid://bench/Product/' || g, 'Product ' || g from generate_series(1, ${variantCount}::int) g`,
  );
  await db.execute(
    sql`insert into variants (product_id, shopify_variant_id, shopify_inventory_item_id, sku, title)
        select id, 'gid://bench/ProductVariant/' || id, 'gid://bench/InventoryItem/' || id, 'SKU-' || id, 'Default' from products`,
  );
  await db.execute(
    sql`insert into facilities (code, name, kind) select 'F' || g, 'Facility ' || g, case when g <= 5 then 'WAREHOUSE' else 'STORE' end from generate_series(1, ${facilityCount}::int) g`,
  );
}

async function writeCountFile(
  path: string,
  facilities: number,
  skus: number,
  countedAt: Date,
  salt: number,
): Promise<void> {
  const out = createWriteStream(path);
  const stamp = countedAt.toISOString();
  if (!out.write('facility,sku,quantity,counted_at\n')) await once(out, 'drain');
  for (let f = 1; f <= facilities; f++) {
    for (let s = 1; s <= skus; s++) {
      if (!out.write(`F${f},SKU-${s},${(s * 7 + f * 13 + salt) % 60},${stamp}\n`)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
}

if (which === 'erp') {
  const facilities = option('facilities', 20);
  const skus = option('skus', 50_000);
  await seed(skus, facilities);
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const results: Array<{
    seconds: number;
    rowsPerSecond: number;
    peakRssMb: number;
    peakHeapMb: number;
    entries: number;
  }> = [];
  for (let run = 0; run < runs; run++) {
    const file = join(dir, `count-${run}.csv`);
    await writeCountFile(file, facilities, skus, new Date(Date.now() - (runs - run) * 60_000), run * 11);
    global.gc?.();
    let peakRss = 0;
    let peakHeap = 0;
    const sample = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 25);
    const started = performance.now();
    const report = await importCountFile(db, { path: file, source: 'bench', now: () => new Date() });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sample);
    if (report.status !== 'applied' || report.rowsApplied !== facilities * skus)
      throw new Error(`import ${run}: ${JSON.stringify(report).slice(0, 500)}`);
    results.push({
      seconds: Math.round(seconds * 10) / 10,
      rowsPerSecond: Math.round(report.rowsTotal / seconds),
      peakRssMb: Math.round(peakRss / 1e6),
      peakHeapMb: Math.round(peakHeap / 1e6),
      entries: report.entriesWritten,
    });
    console.error(
      `run ${run + 1}/${runs}: ${JSON.stringify(results.at(-1))} (file ${Math.round(statSync(file).size / 1e6)} MB)`,
    );
    rmSync(file);
  }
  rmSync(dir, { recursive: true, force: true });
  const [ledger] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from inventory_ledger`);
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'erp-count-import',
        database: backend,
        sizes: { rows: facilities * skus, facilities, skus, runs },
        rowsPerSecond: { median: median(results.map((r) => r.rowsPerSecond)), unit: 'rows/s' },
        seconds: { median: median(results.map((r) => r.seconds)), unit: 's' },
        peakRssMb: {
          max: Math.max(...results.map((r) => r.peakRssMb)),
          unit: 'MB',
          note: 'resident memory of the whole process during the import',
        },
        peakHeapMb: { max: Math.max(...results.map((r) => r.peakHeapMb)), unit: 'MB' },
        ledgerEntries: ledger!.n,
        runs: results,
      },
      null,
      2,
    )}\n`,
  );
} else if (which === 'atp') {
  const variants = option('variants', 50_000);
  const facilities = option('facilities', 50);
  await seed(variants, facilities);
  await db.execute(
    sql`insert into inventory_levels (variant_id, facility_id, on_hand, reserved) select v.id, f.id, (v.id * 7 + f.id * 13) % 40, (v.id + f.id) % 3 from variants v cross join facilities f`,
  );
  // Some demand waiting in the queue: 10,000 open orders of 2 lines.
  await db.execute(
    sql`insert into orders (shopify_order_id, name, shopify_created_at, shopify_updated_at) select 'gid://bench/Order/' || g, '#' || g, now(), now() from generate_series(1, 10000) g`,
  );
  await db.execute(
    sql`insert into order_lines (order_id, shopify_line_item_id, variant_id, title, quantity, current_quantity)
        select o.id, 'gid://bench/LineItem/' || o.id || '-' || k, 1 + ((o.id * 31 + k * 17) % ${variants}::int), 'line', 1 + k, 1 + k from orders o, generate_series(0, 1) k`,
  );
  await db.execute(sql`analyze`);
  const ids = (await queryRows<{ id: number }>(db, sql`select id from variants order by id`)).map((r) => r.id);
  const times: number[] = [];
  let checksum = 0;
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    checksum = 0;
    for (let i = 0; i < ids.length; i += 1000) {
      const atp = await computeAtp(db, ids.slice(i, i + 1000));
      for (const a of atp.values()) checksum += a.onlineAtp;
    }
    times.push((performance.now() - started) / 1000);
    console.error(`run ${run + 1}/${runs}: ${times.at(-1)!.toFixed(1)} s`);
  }
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'atp-full-recompute',
        database: backend,
        sizes: { variants, facilities, levels: variants * facilities, openOrderLines: 20_000, batch: 1000, runs },
        seconds: { median: Math.round(median(times) * 10) / 10, unit: 's' },
        variantsPerSecond: Math.round(variants / median(times)),
        onlineAtpChecksum: checksum,
        runs: times.map((t) => Math.round(t * 10) / 10),
      },
      null,
      2,
    )}\n`,
  );
} else {
  process.stderr.write(
    'usage: npx tsx bench/inventory.ts erp|atp [--facilities N] [--skus N] [--variants N] [--runs N]\n',
  );
  process.exitCode = 2;
}
await testDb.drop();
