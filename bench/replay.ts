// What-if replays off the request path. Builds a shop (facilities at random places, SKUs stocked at a
// share of them), starts Switchyard on it, and asks for a replay of the largest size allowed (50,000
// generated orders, routed under two rule versions) through the API, while a client asks /health
// every 100 ms. Reports the replay's wall time, the process's peak memory, and /health's latency
// while it ran, next to the same replay routed in one step per day as the API used to on the
// request path (event-loop stall measured in the same run).
//
// Usage: [DATABASE_URL=...] npx tsx bench/replay.ts [--orders 50000] [--facilities 50] [--skus 5000]
import { sql } from 'drizzle-orm';
import { createTestDatabase, testConfig } from '../test/support/backend.js';
import { startSwitchyard } from '../src/main/switchyard.js';
import { createDraft, defaultRuleDocument, measure, simulate } from '../src/domains/routing/index.js';
import { ensureQueueFacilities } from '../src/domains/facilities/index.js';
import { loadRoutingFacilities, loadStock } from '../src/domains/routing/routing.repo.js';
import { queryRows } from '../src/platform/db/rows.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const sizes = { orders: option('orders', 50_000), facilities: option('facilities', 50), skus: option('skus', 5_000) };
const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;
const mb = (bytes: number) => Math.round(bytes / 1048576);

const testDb = await createTestDatabase();
const switchyard = await startSwitchyard(testConfig(testDb, { SWITCHYARD_RATE_LIMIT_PER_MINUTE: '0' }));
const db = switchyard.database.db;
try {
  await ensureQueueFacilities(db);
  await db.execute(sql`select setseed(0.42)`);
  await db.execute(sql`
    insert into facilities (code, name, kind, latitude, longitude, can_ship, can_pickup, can_express, time_zone)
    select 'F' || lpad(g::text, 4, '0'), 'Facility ' || g, case when g % 10 = 0 then 'WAREHOUSE' else 'STORE' end,
           25 + random() * 23, -123 + random() * 53, true, g % 10 <> 0, random() < 0.2, 'America/New_York'
    from generate_series(1, ${sizes.facilities}) g`);
  await db.execute(
    sql`insert into products (shopify_product_id, title) select 'gid://shopify/Product/' || g, 'Product ' || g from generate_series(1, ${sizes.skus}) g`,
  );
  await db.execute(sql`
    insert into variants (product_id, shopify_variant_id, shopify_inventory_item_id, sku, title, price)
    select p.id, 'gid://shopify/ProductVariant/' || p.id, 'gid://shopify/InventoryItem/' || p.id, 'SKU-' || p.id, 'Variant', 20 from products p`);
  await db.execute(sql`
    insert into inventory_levels (variant_id, facility_id, on_hand)
    select v.id, f.id, 1 + floor(random() * 40)::int from variants v cross join facilities f where f.kind <> 'VIRTUAL' and random() < 0.2`);
  const draft = await createDraft(
    db,
    { name: 'bench draft', document: defaultRuleDocument(), by: 'bench' },
    new Date(),
  );

  // Before: the whole replay in one step per day, as it ran on the request path (one version).
  // The longest gap between two ticks of a 10 ms timer: how long the process could answer nothing.
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    stallMs = Math.max(stallMs, t - last - 10);
    last = t;
  }, 10);
  const { facilities } = await loadRoutingFacilities(db, new Date());
  const variants = await queryRows<{ id: number }>(db, sql`select id from variants`);
  const { stock } = await loadStock(
    db,
    variants.map((v) => v.id),
  );
  const orders = Array.from({ length: sizes.orders }, (_, i) => ({
    id: -(i + 1),
    name: `#B${i}`,
    createdAt: new Date(Date.now() + i * 1000),
    priority: 0,
    promiseDate: null,
    shippingMethod: 'standard' as const,
    sourceName: 'web',
    tags: [],
    latitude: 25 + ((i * 7919) % 23),
    longitude: -123 + ((i * 104729) % 53),
    pickupFacilityId: null,
    lines: [
      {
        id: -(i + 1),
        variantId: variants[(i * 31) % variants.length]!.id,
        sku: null,
        quantity: 1,
        unitPrice: 20,
        groupKey: null,
        queue: 'brokering',
        excludedFacilityIds: [],
      },
    ],
  }));
  let started = performance.now();
  last = started;
  measure(
    await simulate(defaultRuleDocument(), orders, facilities, stock, { stepOrders: Number.POSITIVE_INFINITY }),
    orders,
    facilities,
  );
  const oneStepSeconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 50));
  const oneStepStallMs = Math.round(stallMs);
  stallMs = 0;

  // Now: through the API, as a job, with /health asked every 100 ms.
  let peakRss = process.memoryUsage().rss;
  const healthMs: number[] = [];
  let running = true;
  const prober = (async () => {
    while (running) {
      const t = performance.now();
      await fetch(`${switchyard.url}/health`).then((r) => r.arrayBuffer());
      healthMs.push(performance.now() - t);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  started = performance.now();
  const queued = (await (
    await fetch(`${switchyard.url}/api/v1/routing/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ draftId: draft.id, generated: { orders: sizes.orders, seed: 1 } }),
    })
  ).json()) as { id: number };
  const answeredMs = performance.now() - started;
  let final: { status: string; result: { candidate: { metrics: { orders: number } } } | null; error: string | null };
  for (;;) {
    final = (await (await fetch(`${switchyard.url}/api/v1/routing/replays/${queued.id}`)).json()) as typeof final;
    if (final.status === 'succeeded' || final.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const replaySeconds = (performance.now() - started) / 1000;
  clearInterval(ticker);
  running = false;
  await prober;
  if (final.status !== 'succeeded') throw new Error(`replay failed: ${final.error}`);
  console.log(
    JSON.stringify(
      {
        figure: 'what-if replay as a job: /health latency while it runs',
        backend: switchyard.database.kind,
        sizes: { ...sizes, versionsCompared: 2 },
        replay: {
          requestAnsweredMs: Math.round(answeredMs),
          seconds: Math.round(replaySeconds * 10) / 10,
          ordersPerVersion: final.result!.candidate.metrics.orders,
        },
        health: {
          samples: healthMs.length,
          p50Ms: Math.round(quantile(healthMs, 0.5)),
          p95Ms: Math.round(quantile(healthMs, 0.95)),
          maxMs: Math.round(Math.max(...healthMs)),
        },
        eventLoopStallMs: Math.round(stallMs),
        peakRssMb: mb(peakRss),
        before: {
          note: 'the same orders routed in one step (one version), as the request path did',
          seconds: Math.round(oneStepSeconds * 10) / 10,
          eventLoopStallMs: oneStepStallMs,
        },
      },
      null,
      2,
    ),
  );
} finally {
  await switchyard.stop();
  await testDb.drop();
}
