// Routing throughput and quality. Builds a shop in the database (200 facilities at random places in
// the lower 48, 20,000 SKUs each stocked at about 15 facilities, 100,000 paid orders of about 2.5
// lines), then:
//   1. quality: routes every order in memory from the same starting stock under the default rules
//      and under a first-fit baseline (facilities in a fixed sequence, the first one holding a whole
//      line gets it), and reports fill rate, split rate and mean distance with their ratios;
//   2. throughput: routes every order for real (approval, decisions, guarded reservation writes,
//      capacity, traces, publish marks), end to end, and reports lines per second.
// Stock is written straight into the counters (no ledger entries): routing reads and moves counters.
//
// Usage: [DATABASE_URL=...] npx tsx bench/routing.ts [--orders 100000] [--facilities 200] [--skus 20000] [--batch 1000] [--rounds 1]
import { existsSync, readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { Db } from '../src/platform/db/client.js';
import { createTestDatabase } from '../test/support/backend.js';
import { queryRows } from '../src/platform/db/rows.js';
import {
  activeRules,
  defaultRuleDocument,
  measure,
  runBrokering,
  simulate,
  validateRuleDocument,
  type RoutableOrder,
  type RuleDocument,
} from '../src/domains/routing/index.js';
import { ensureQueueFacilities } from '../src/domains/facilities/index.js';
import { loadRoutingFacilities, loadStock } from '../src/domains/routing/routing.repo.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const sizes = {
  orders: option('orders', 100_000),
  facilities: option('facilities', 200),
  skus: option('skus', 20_000),
  batch: option('batch', 1000),
  rounds: option('rounds', 1),
  workers: option('workers', 1),
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function firstFitDocument(): RuleDocument {
  const doc = {
    scoring: { distance: 0, packages: 0, capacityHeadroom: 0, facilityPriority: 0 },
    scarceFirst: false,
    pickupFallback: 'queue',
    runs: [
      {
        code: 'first-fit',
        name: 'First fit',
        schedule: 'continuous',
        routings: [
          {
            name: 'all',
            orderFilters: { queues: ['brokering'] },
            orderSorts: [{ field: 'order_date', direction: 'asc' }],
            rules: [
              {
                name: 'first facility holding the line',
                filters: { capabilities: ['ship'] },
                sorts: [{ field: 'priority', direction: 'asc' }],
                useScores: false,
                assignment: { mode: 'split' },
                onUnfilled: { action: 'queue', queue: 'unfillable' },
              },
            ],
          },
        ],
      },
    ],
  };
  const checked = validateRuleDocument(doc, { groups: new Set() });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return checked.document;
}

async function build(db: Db) {
  const started = performance.now();
  await ensureQueueFacilities(db);
  // Facilities: 10 % warehouses, the rest stores (60 % of them ship); seeded random places.
  await db.execute(sql`select setseed(0.42)`);
  await db.execute(sql`
    insert into facilities (code, name, kind, latitude, longitude, can_ship, can_pickup, can_express, time_zone)
    select 'F' || lpad(g::text, 4, '0'), 'Facility ' || g, case when g % 10 = 0 then 'WAREHOUSE' else 'STORE' end,
           25 + random() * 23, -123 + random() * 53, (g % 10 = 0) or random() < 0.6, g % 10 <> 0, random() < 0.2, 'America/New_York'
    from generate_series(1, ${sizes.facilities}) g`);
  await db.execute(
    sql`insert into products (shopify_product_id, title) select 'gid://shopify/Product/' || g, 'Product ' || g from generate_series(1, ${Math.ceil(sizes.skus / 4)}) g`,
  );
  await db.execute(sql`
    insert into variants (product_id, shopify_variant_id, shopify_inventory_item_id, sku, title, price)
    select p.id, 'gid://shopify/ProductVariant/' || g, 'gid://shopify/InventoryItem/' || g, 'SKU-' || g, 'Variant ' || g, (5 + (g % 20) * 5)::numeric
    from generate_series(1, ${sizes.skus}) g join products p on p.shopify_product_id = 'gid://shopify/Product/' || ((g - 1) / 4 + 1)`);
  // Each SKU at about 15 facilities (7.5 %), 1–12 units.
  await db.execute(sql`
    insert into inventory_levels (variant_id, facility_id, on_hand)
    select v.id, f.id, 1 + floor(random() * 12)::int from variants v cross join facilities f
    where f.kind <> 'VIRTUAL' and random() < 0.075`);
  // Orders: paid, web, at random places; 1–4 lines (mean 2.5) of random SKUs, 1–2 units each.
  await db.execute(sql`
    insert into orders (shopify_order_id, name, source_name, financial_status, latitude, longitude, shipping_method, shopify_created_at, shopify_updated_at)
    select 'gid://shopify/Order/' || g, '#B' || g, 'web', 'PAID', 25 + random() * 23, -123 + random() * 53, 'standard',
           now() - interval '1 hour' + g * interval '10 milliseconds', now()
    from generate_series(1, ${sizes.orders}) g`);
  await db.execute(sql`
    insert into order_lines (order_id, shopify_line_item_id, variant_id, sku, title, quantity, current_quantity, unit_price)
    select o.id, 'gid://shopify/LineItem/' || o.id || '-' || n, v.id, v.sku, v.title, q, q, v.price
    from orders o
    cross join lateral generate_series(1, 1 + floor(random() * 4)::int + (o.id * 0)) n
    cross join lateral (select 1 + floor(random() * 2)::int + (n * 0) as q, 1 + floor(random() * ${sizes.skus})::int + (n * 0) as pick) r
    join variants v on v.shopify_variant_id = 'gid://shopify/ProductVariant/' || r.pick`);
  await db.execute(sql`analyze`);
  const [counts] = await queryRows<{ lines: number; levels: number }>(
    db,
    sql`select (select count(*)::int from order_lines) as lines, (select count(*)::int from inventory_levels) as levels`,
  );
  console.error(
    `built: ${sizes.orders} orders, ${counts!.lines} lines, ${counts!.levels} levels in ${Math.round(performance.now() - started)} ms`,
  );
  return counts!;
}

/**
 * CPU used so far by this process and, when PostgreSQL runs on this machine, by each server process
 * of this database (read from /proc; null elsewhere). Shows which side a change must make cheaper.
 */
async function cpuSeconds(db: Db): Promise<{ node: number; postgres: Map<number, number> | null }> {
  const usage = process.cpuUsage();
  const node = (usage.user + usage.system) / 1e6;
  if (!process.env['DATABASE_URL'] || !existsSync('/proc/self/stat')) return { node, postgres: null };
  const pids = await queryRows<{ pid: number }>(
    db,
    sql`select pid from pg_stat_activity where datname = current_database()`,
  );
  const postgres = new Map<number, number>();
  for (const { pid } of pids) {
    try {
      // Fields after the command name: utime and stime are the 12th and 13th (clock ticks, 100 a second).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      postgres.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      return { node, postgres: null };
    }
  }
  return { node, postgres };
}

/** CPU seconds between two readings (server processes that ended in between are not counted). */
function cpuBetween(before: Awaited<ReturnType<typeof cpuSeconds>>, after: Awaited<ReturnType<typeof cpuSeconds>>) {
  let postgres: number | null = null;
  if (before.postgres && after.postgres) {
    postgres = 0;
    for (const [pid, seconds] of after.postgres) postgres += seconds - (before.postgres.get(pid) ?? 0);
  }
  const round = (n: number) => Math.round(n * 10) / 10;
  return { node: round(after.node - before.node), postgres: postgres === null ? null : round(postgres) };
}

async function allOrders(db: Db): Promise<RoutableOrder[]> {
  const rows = await queryRows<{
    id: number;
    name: string;
    created: Date;
    lat: number;
    lon: number;
    lines: Array<{ id: number; v: number; q: number; p: string }>;
  }>(
    db,
    sql`select o.id, o.name, o.shopify_created_at as created, o.latitude as lat, o.longitude as lon,
          (select json_agg(json_build_object('id', ol.id, 'v', ol.variant_id, 'q', ol.current_quantity, 'p', ol.unit_price)) from order_lines ol where ol.order_id = o.id) as lines
        from orders o order by o.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    createdAt: r.created,
    priority: 0,
    promiseDate: null,
    shippingMethod: 'standard',
    sourceName: 'web',
    tags: [],
    latitude: r.lat,
    longitude: r.lon,
    pickupFacilityId: null,
    lines: r.lines.map((l) => ({
      id: Number(l.id),
      variantId: Number(l.v),
      sku: null,
      quantity: l.q,
      unitPrice: Number(l.p),
      groupKey: null,
      queue: 'brokering',
      excludedFacilityIds: [],
    })),
  }));
}

const runs: Array<{
  seconds: number;
  lines: number;
  linesPerSecond: number;
  conflicts: number;
  parked: number;
  phaseSeconds: Record<string, number>;
}> = [];
let quality: Record<string, unknown> = {};
let built: { lines: number; levels: number } = { lines: 0, levels: 0 };
for (let round = 0; round < sizes.rounds; round++) {
  const testDb = await createTestDatabase();
  const database = await testDb.open();
  const db = database.db;
  try {
    built = await build(db);
    if (round === 0) {
      const t0 = performance.now();
      const orders = await allOrders(db);
      const { facilities } = await loadRoutingFacilities(db, new Date());
      const { stock } = await loadStock(db, [...new Set(orders.flatMap((o) => o.lines.map((l) => l.variantId)))]);
      // Every order of the day in one decision, as the quality figures have always been measured.
      const whole = { stepOrders: Number.POSITIVE_INFINITY };
      const ours = measure(
        await simulate((await activeRules(db)).document ?? defaultRuleDocument(), orders, facilities, stock, whole),
        orders,
        facilities,
      );
      const firstFit = measure(
        await simulate(firstFitDocument(), orders, facilities, stock, whole),
        orders,
        facilities,
      );
      const ratio = (a: number | null, b: number | null) =>
        a === null || b === null || b === 0 ? null : Math.round((a / b) * 1000) / 1000;
      const slim = (m: typeof ours) => ({
        fillRate: m.fillRate,
        splitRate: m.splitRate,
        meanDistanceKm: m.meanDistanceKm,
        p95DistanceKm: m.p95DistanceKm,
        packagesPerOrder: m.packagesPerOrder,
        linesParked: m.linesParked,
      });
      quality = {
        switchyardDefaultRules: slim(ours),
        firstFitBaseline: slim(firstFit),
        ratios: {
          fillRate: ratio(ours.fillRate, firstFit.fillRate),
          splitRate: ratio(ours.splitRate, firstFit.splitRate),
          meanDistanceKm: ratio(ours.meanDistanceKm, firstFit.meanDistanceKm),
        },
        inMemorySeconds: Math.round((performance.now() - t0) / 100) / 10,
      };
      console.error(`quality: ${JSON.stringify(quality)}`);
    }
    const cpuBefore = await cpuSeconds(db);
    const started = performance.now();
    // Workers side by side, each with its own connection (on PostgreSQL); they claim disjoint orders.
    const all = await Promise.all(
      Array.from({ length: sizes.workers }, () =>
        runBrokering(db, { runs: 'all', trigger: 'bench', now: () => new Date(), batchSize: sizes.batch }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await cpuSeconds(db);
    const counts = { linesRouted: 0, linesParked: 0, conflicts: 0 };
    // Where the time went, summed over the workers (phases of one worker overlap when it pipelines).
    const phaseSeconds: Record<string, number> = {};
    for (const c of all) {
      counts.linesRouted += c.linesRouted;
      counts.linesParked += c.linesParked;
      counts.conflicts += c.conflicts;
      for (const [phase, ms] of Object.entries(c.phases))
        phaseSeconds[phase] = Math.round(((phaseSeconds[phase] ?? 0) + ms / 1000) * 100) / 100;
    }
    const lines = counts.linesRouted + counts.linesParked;
    const cpu = cpuBetween(cpuBefore, cpuAfter);
    const figures = {
      seconds: Math.round(seconds * 10) / 10,
      lines,
      linesPerSecond: Math.round(lines / seconds),
      conflicts: counts.conflicts,
      parked: counts.linesParked,
      cpuSeconds: cpu,
      phaseSeconds,
    };
    console.error(`round ${round + 1}: ${JSON.stringify(figures)}`);
    runs.push(figures);
  } finally {
    await testDb.drop();
  }
}

process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'routing',
      database: process.env['DATABASE_URL'] ? 'postgres' : 'pglite',
      sizes: {
        orders: sizes.orders,
        lines: built.lines,
        facilities: sizes.facilities,
        skus: sizes.skus,
        inventoryLevels: built.levels,
        batchSize: sizes.batch,
        workers: sizes.workers,
        rounds: sizes.rounds,
      },
      endToEnd: {
        linesPerSecond: { median: median(runs.map((r) => r.linesPerSecond)), goal: '>= 10000 on PostgreSQL' },
        rounds: runs,
      },
      quality,
    },
    null,
    2,
  )}\n`,
);
