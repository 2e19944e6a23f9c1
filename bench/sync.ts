// Shopify sync figures, against the simulator over HTTP (prints JSON):
//   1. initial load of P products (~3 variants each) and O open orders: wall time, API calls, cost points;
//   2. webhook-to-visible latency for new orders (placed one by one at a steady rate): p50/p95/max;
//   3. steady-state API budget per 1,000 orders (webhooks, the lookups they need, and the pollers).
// Usage: npx tsx bench/sync.ts [--products 10000] [--orders 20000] [--stores 8] [--latency-orders 300] [--rate 20]
// Uses PostgreSQL when DATABASE_URL is set (a fresh database beside it), else embedded PGlite.
import { freePort } from '../test/support/net.js';
import { benchDatabase } from './support/bench-database.js';
import { startSwitchyard } from '../src/main/switchyard.js';
import { startSimulator } from '../src/simulator/server.js';
import { placeOrder } from '../src/simulator/orders.js';
import { makeRandom } from '../src/simulator/seed.js';
import { getOrder } from '../src/domains/orders/index.js';
import { makeLogger } from '../src/platform/logger.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const sizes = {
  products: option('products', 10_000),
  openOrders: option('orders', 20_000),
  stores: option('stores', 8),
  latencyOrders: option('latency-orders', 300),
  ratePerSecond: option('rate', 20),
};

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

// --- the shop
const sim = await startSimulator({ bulkStepMs: 50 });
const creds = sim.createShop({
  seed: 4,
  products: sizes.products,
  stores: sizes.stores,
  maxVariants: 5,
  plan: 'plus',
} as never);
const shop = sim.shop(creds.shop);
const variants = [...shop.variants.values()];
for (const v of variants) v.inventoryPolicy = 'CONTINUE';
const random = makeRandom(99);
const now = sim.now().getTime();
for (let i = 0; i < sizes.openOrders; i++) {
  const lines = Array.from({ length: random.int(1, 4) }, () => ({
    variantId: random.pick(variants).id,
    quantity: random.int(1, 3),
  }));
  placeOrder(shop, {
    lines,
    shipping: random.chance(0.2) ? 'express' : 'standard',
    createdAt: new Date(now - random.int(1, 28 * 24 * 60) * 60_000),
  });
}

// --- Switchyard
const database = await benchDatabase();
const port = await freePort();
const config = database.config(sim.url, creds, port);
const health = async () =>
  (await (await fetch(`http://127.0.0.1:${port}/api/v1/sync/health`)).json()) as Record<string, any>;

const loadStart = performance.now();
const switchyard = await startSwitchyard(config, {
  logger: makeLogger({ level: 'warn', destination: process.stderr }),
  schedulerTickMs: 250,
});
for (;;) {
  const h = await health();
  if (h.shop.status === 'connected') break;
  await new Promise((r) => setTimeout(r, 500));
}
const loadSeconds = (performance.now() - loadStart) / 1000;
const afterLoad = (await health()).api;
const loadedCounts = (await health()).initialLoad.counts;

// --- latency: orders placed one by one; visible = in Switchyard's database
const latencies: number[] = [];
const pending = new Map<string, number>();
const interval = 1000 / sizes.ratePerSecond;
const checker = setInterval(async () => {
  for (const [id, placedAt] of [...pending]) {
    // Checks overlap (each awaits the database): an order another check already counted is skipped.
    if ((await getOrder(switchyard.database.db, id)) && pending.has(id)) {
      latencies.push(performance.now() - placedAt);
      pending.delete(id);
    }
  }
}, 20);
const steadyStart = (await health()).api;
const stores = [...shop.locations.values()].filter((l) => l.kind === 'store');
for (let i = 0; i < sizes.latencyOrders; i++) {
  const lines = Array.from({ length: random.int(1, 4) }, () => ({ variantId: random.pick(variants).id, quantity: 1 }));
  // 15% pickup at a store (those need one API lookup each: the webhook body does not name the store).
  const placed = random.chance(0.15)
    ? placeOrder(shop, { lines, shipping: 'pickup', locationId: random.pick(stores).id })
    : placeOrder(shop, { lines, shipping: 'standard' });
  if (!placed.ok) throw new Error(`bench order refused: ${JSON.stringify(placed.userErrors)}`);
  if (placed.ok) pending.set(`gid://shopify/Order/${placed.value.id}`, performance.now());
  await new Promise((r) => setTimeout(r, interval));
}
while (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
clearInterval(checker);
// The safety nets run on their schedules in production; run each once to count their cost too.
for (const job of ['sync.orders-new', 'sync.orders-updated']) await switchyard.jobs.runHere(job, 'cli');
const steadyEnd = (await health()).api;

await switchyard.stop();
await sim.close();
await database.drop();

const steadyPoints = steadyEnd.costPoints - steadyStart.costPoints;
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'shopify-sync',
      database: database.kind,
      sizes: {
        ...sizes,
        variants: variants.length,
        inventoryLevels: shop.levels.size,
        plan: 'plus (1,000 points/s)',
        warehouses: 2,
        processes: 'simulator and Switchyard in one process',
      },
      initialLoad: {
        wallSeconds: Math.round(loadSeconds * 10) / 10,
        apiCalls: afterLoad.calls,
        costPoints: afterLoad.costPoints,
        throttled: afterLoad.throttled,
        loaded: loadedCounts,
      },
      webhookToVisible: {
        orders: latencies.length,
        ratePerSecond: sizes.ratePerSecond,
        p50Ms: Math.round(percentile(latencies, 50)),
        p95Ms: Math.round(percentile(latencies, 95)),
        maxMs: Math.round(Math.max(...latencies)),
        goalP95Ms: 2000,
        met: percentile(latencies, 95) < 2000,
      },
      steadyState: {
        orders: sizes.latencyOrders,
        apiCalls: steadyEnd.calls - steadyStart.calls,
        costPoints: steadyPoints,
        costPointsPer1000Orders: Math.round((steadyPoints / sizes.latencyOrders) * 1000),
        note: 'webhook processing (with lookups for pickup orders) plus one run of each order poller over the period',
      },
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
