// Publishing figures against the simulator on Shopify's Standard plan (100 points/s), prints JSON:
//   1. publish of every variant at once (about 10,000) after a change to each: API calls, cost
//      points, THROTTLED answers and wall time, median of R rounds (each round an ERP count that
//      moves every variant);
//   2. one stock change (a variance through the API) → visible in Shopify: p50/p95/max.
// Usage: npx tsx bench/inventory-publish.ts [--products 3400] [--rounds 3] [--changes 50]
// Uses PostgreSQL when DATABASE_URL is set (a fresh database beside it), else embedded PGlite.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { freePort } from '../test/support/net.js';
import { simulatedShopVariables } from '../test/support/switchyard-sim.js';
import { startSwitchyard } from '../src/main/switchyard.js';
import { startSimulator } from '../src/simulator/server.js';
import { makeRandom } from '../src/simulator/seed.js';
import { queryRows } from '../src/platform/db/rows.js';
import { makeLogger } from '../src/platform/logger.js';
import { createTestDatabase, testConfig } from '../test/support/backend.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const sizes = { products: option('products', 3400), rounds: option('rounds', 3), changes: option('changes', 50) };
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

const sim = await startSimulator({ bulkStepMs: 50 });
const creds = sim.createShop({
  seed: 8,
  products: sizes.products,
  stores: 2,
  maxVariants: 5,
  plan: 'standard',
} as never);
const shop = sim.shop(creds.shop);
const variants = [...shop.variants.values()];

// Switchyard on a fresh database (the test suite's helper): PostgreSQL beside DATABASE_URL, else embedded.
const testDb = await createTestDatabase();
const port = await freePort();
const config = testConfig(testDb, simulatedShopVariables(sim.url, creds, port));
const switchyard = await startSwitchyard(config, { logger: makeLogger({ level: 'silent' }), schedulerTickMs: 200 });
const api = async (method: string, path: string, body?: string, type = 'application/json') => {
  const response = await fetch(`${switchyard.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': type }, body }),
  });
  const json = (await response.json()) as Record<string, any>;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json;
};
const health = async () =>
  (await api('GET', '/api/v1/sync/health')) as {
    shop: { status: string };
    api: { calls: number; costPoints: number; throttled: number };
  };
const waitUntil = async (what: string, check: () => Promise<boolean>, ms: number, every = 50) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out: ${what}`);
};
const db = switchyard.database.db;
const queueEmpty = async () =>
  (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from inventory_publish_queue`))[0]!.n === 0;

await waitUntil('the initial load', async () => (await health()).shop.status === 'connected', 1_800_000, 500);
const facilities = (await api('GET', '/api/v1/facilities')).facilities as Array<{
  code: string;
  shopifyLocationId: string;
}>;
const warehouse = [...shop.locations.values()].filter((l) => l.kind === 'warehouse').sort((a, b) => a.id - b.id)[0]!;
const aggregate = facilities.find((f) => f.shopifyLocationId === `gid://shopify/Location/${warehouse.id}`)!.code;

// 1. Publish every variant: first the switch to aggregate mode, then rounds of a count that moves all.
const rounds: Array<{
  seconds: number;
  calls: number;
  costPoints: number;
  throttled: number;
  quantitiesPushed: number;
}> = [];
const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-counts-'));
for (let round = 0; round <= sizes.rounds; round++) {
  const before = (await health()).api;
  const [logBefore] = await queryRows<{ n: number }>(
    db,
    sql`select coalesce(sum(jsonb_array_length(quantities)), 0)::int as n from inventory_publish_log where outcome = 'accepted'`,
  );
  const quantityOf = (i: number) => 50 + ((i + round) % 7) + round;
  const drift = () =>
    round === 0
      ? 0
      : variants.filter((v, i) => shop.level(v.inventoryItemId, warehouse.id)!.quantities.available !== quantityOf(i))
          .length;
  const started = performance.now();
  if (round === 0) {
    // The online channel is the warehouse alone, so Shopify's available is exactly its count.
    await api('PUT', '/api/v1/inventory/online-channel', JSON.stringify({ facilities: [aggregate] }));
    await api('PATCH', `/api/v1/facilities/${aggregate}`, JSON.stringify({ publishMode: 'aggregate' }));
  } else {
    const file = join(dir, `count-${round}.csv`);
    const at = new Date().toISOString();
    writeFileSync(
      file,
      `facility,sku,quantity,counted_at\n${variants.map((v, i) => `${aggregate},${v.sku},${quantityOf(i)},${at}`).join('\n')}\n`,
    );
    await api(
      'POST',
      `/api/v1/inventory/imports?fileName=count-${round}.csv`,
      (await import('node:fs')).readFileSync(file, 'utf8'),
      'text/csv',
    );
  }
  // Done when Shopify shows every counted quantity (nothing else moves stock here: no orders, no
  // safety stock), not merely when the publish queue is empty.
  await waitUntil('publishing to finish', async () => drift() === 0 && (await queueEmpty()), 600_000, 50).catch(
    (error) => {
      throw new Error(`${(error as Error).message}: ${drift()} variants differ in Shopify after round ${round}`);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const after = (await health()).api;
  const [logAfter] = await queryRows<{ n: number }>(
    db,
    sql`select coalesce(sum(jsonb_array_length(quantities)), 0)::int as n from inventory_publish_log where outcome = 'accepted'`,
  );
  const figures = {
    seconds: Math.round(seconds * 10) / 10,
    calls: after.calls - before.calls,
    costPoints: after.costPoints - before.costPoints,
    throttled: after.throttled - before.throttled,
    quantitiesPushed: logAfter!.n - logBefore!.n,
  };
  console.error(`${round === 0 ? 'switch to aggregate' : `round ${round}`}: ${JSON.stringify(figures)}`);
  if (round > 0) rounds.push(figures);
}
rmSync(dir, { recursive: true, force: true });

// 2. One change → visible in Shopify.
const random = makeRandom(5);
const latencies: number[] = [];
for (let i = 0; i < sizes.changes; i++) {
  const v = random.pick(variants);
  const level = shop.level(v.inventoryItemId, warehouse.id)!;
  const before = level.quantities.available;
  const started = performance.now();
  await api(
    'POST',
    '/api/v1/inventory/variances',
    JSON.stringify({ facility: aggregate, sku: v.sku, kind: 'found', quantity: 1, reason: 'bench' }),
  );
  await waitUntil('the change in Shopify', async () => level.quantities.available === before + 1, 30_000, 5);
  latencies.push(performance.now() - started);
  await new Promise((r) => setTimeout(r, 200));
}

process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'inventory-publish',
      database: switchyard.database.kind,
      plan: 'standard (100 points/s restore, 2,000-point bucket)',
      sizes: {
        variants: variants.length,
        products: sizes.products,
        publishedLocations: 1,
        rounds: sizes.rounds,
        latencyChanges: sizes.changes,
      },
      publishAllVariants: {
        seconds: { median: median(rounds.map((r) => r.seconds)), unit: 's' },
        apiCalls: { median: median(rounds.map((r) => r.calls)) },
        costPoints: { median: median(rounds.map((r) => r.costPoints)) },
        throttled: { max: Math.max(...rounds.map((r) => r.throttled)) },
        quantitiesPushed: { median: median(rounds.map((r) => r.quantitiesPushed)) },
        rounds,
      },
      changeToVisibleMs: {
        p50: Math.round(percentile(latencies, 50)),
        p95: Math.round(percentile(latencies, 95)),
        max: Math.round(Math.max(...latencies)),
        goal: 'p95 < 3000',
      },
    },
    null,
    2,
  )}\n`,
);
await switchyard.stop();
await sim.close();
await testDb.drop();
