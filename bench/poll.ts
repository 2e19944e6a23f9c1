// The order poller's cost (prints JSON): `sync.orders-new` over a window of orders of which some
// webhooks were lost, as in real life. Each round places N orders with a share of their
// orders/create webhooks dropped, waits until the rest are applied and routed, then runs the poll
// once and records its wall time, API calls, cost points and what it did with each order.
// Usage: npx tsx bench/poll.ts [--orders 2000] [--drop 0.3] [--rounds 3] [--products 500]
// Uses PostgreSQL when DATABASE_URL is set (a fresh database beside it), else embedded PGlite.
import { sql } from 'drizzle-orm';
import { freePort } from '../test/support/net.js';
import { benchDatabase } from './support/bench-database.js';
import { startSwitchyard } from '../src/main/switchyard.js';
import { startSimulator } from '../src/simulator/server.js';
import { placeOrder } from '../src/simulator/orders.js';
import { makeRandom } from '../src/simulator/seed.js';
import { queryRows } from '../src/platform/db/rows.js';
import { makeLogger } from '../src/platform/logger.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const sizes = {
  ordersPerRound: option('orders', 2000),
  dropRate: option('drop', 0.3),
  rounds: option('rounds', 3),
  products: option('products', 500),
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

// --- the shop
const sim = await startSimulator({ webhookTimeScale: 0.0005, bulkStepMs: 20 });
const creds = sim.createShop({ seed: 12, products: sizes.products, stores: 8, plan: 'plus' });
const shop = sim.shop(creds.shop);
const variants = [...shop.variants.values()];
for (const v of variants) v.inventoryPolicy = 'CONTINUE';
const random = makeRandom(7);

// --- Switchyard
const database = await benchDatabase();
const port = await freePort();
const config = database.config(sim.url, creds, port);
const health = async () =>
  (await (await fetch(`http://127.0.0.1:${port}/api/v1/sync/health`)).json()) as Record<string, any>;
// Read everything up to now (no delay), with the production overlap of 5 minutes.
const switchyard = await startSwitchyard(config, {
  logger: makeLogger({ level: 'warn', destination: process.stderr }),
  schedulerTickMs: 250,
  syncSettings: { overlapMs: 300_000, delayMs: 0, defaultLookbackMs: 86_400_000 },
});
while ((await health()).shop.status !== 'connected') await new Promise((r) => setTimeout(r, 500));
// The bench runs the poll itself, at chosen moments.
for (const job of ['sync.orders-new', 'sync.orders-updated', 'sync.reconcile'])
  await switchyard.jobs.setSchedule(job, { enabled: false }, 'bench');

const db = switchyard.database.db;
async function quiet(): Promise<void> {
  for (;;) {
    const [row] = await queryRows<{ n: number }>(
      db,
      sql`select (select count(*)::int from webhook_inbox where status = 'pending') + (select count(*)::int from outbox where status = 'pending')
               + (select count(*)::int from order_lines where status in ('created', 'approved')) + (select count(*)::int from inventory_publish_queue) as n`,
    );
    if (row!.n === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const rounds: Array<Record<string, unknown>> = [];
for (let round = 0; round < sizes.rounds; round++) {
  sim.setWebhookFaults(creds.shop, { dropRate: sizes.dropRate });
  for (let i = 0; i < sizes.ordersPerRound; i++) {
    const lines = Array.from({ length: random.int(1, 4) }, () => ({
      variantId: random.pick(variants).id,
      quantity: random.int(1, 2),
    }));
    placeOrder(shop, { lines, shipping: random.chance(0.2) ? 'express' : 'standard' });
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
  }
  await sim.webhooks(creds.shop).idle();
  sim.setWebhookFaults(creds.shop, { dropRate: 0 });
  await quiet();
  const [known] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from orders`);
  const before = (await health()).api;
  const started = performance.now();
  const run = await switchyard.jobs.runHere('sync.orders-new', 'cli');
  const seconds = (performance.now() - started) / 1000;
  const after = (await health()).api;
  if (run.status !== 'succeeded') throw new Error(`the poll failed: ${run.error}`);
  const [total] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from orders`);
  rounds.push({
    ordersPlaced: sizes.ordersPerRound,
    missingBeforePoll: total!.n - known!.n,
    pollSeconds: Math.round(seconds * 100) / 100,
    apiCalls: after.calls - before.calls,
    costPoints: after.costPoints - before.costPoints,
    counts: run.counts,
  });
  await quiet();
}

await switchyard.stop();
await sim.close();
await database.drop();

const windowOrders = (r: Record<string, any>) =>
  Object.entries(r['counts'] as Record<string, number>)
    .filter(([k]) => k.startsWith('orders_'))
    .reduce((s, [, n]) => s + n, 0);
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'order-poll',
      database: database.kind,
      sizes: { ...sizes, plan: 'plus (1,000 points/s)', processes: 'simulator and Switchyard in one process' },
      median: {
        windowOrders: median(rounds.map(windowOrders)),
        pollSeconds: median(rounds.map((r) => r['pollSeconds'] as number)),
        apiCalls: median(rounds.map((r) => r['apiCalls'] as number)),
        costPoints: median(rounds.map((r) => r['costPoints'] as number)),
        ordersPerSecond: median(rounds.map((r) => Math.round(windowOrders(r) / (r['pollSeconds'] as number)))),
      },
      rounds,
    },
    null,
    2,
  )}\n`,
);
