// Shopify sync end to end, against the simulator over real HTTP with the official client:
// initial load, webhooks through the inbox, pollers, reconciliation, under faults.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { count, eq, ne, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from './support/net.js';
import { simulatedShopVariables } from './support/switchyard-sim.js';
import { backend, createTestDatabase, testConfig, waitFor, type TestDatabase } from './support/backend.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { startSimulator, type ShopCredentials, type Simulator } from '../src/simulator/server.js';
import { cancelOrder, editOrder, placeOrder, posSale, refund, type SimOrder } from '../src/simulator/orders.js';
import { createProduct, editProduct } from '../src/simulator/scenario.js';
import { makeRandom } from '../src/simulator/seed.js';
import { facilities } from '../src/domains/facilities/facilities.schema.js';
import { products as productTable } from '../src/domains/catalog/catalog.schema.js';
import { webhookInbox } from '../src/ingest/inbox.schema.js';
import { shopifyInventorySnapshot } from '../src/outbound/outbound.schema.js';
import { getOrder } from '../src/domains/orders/index.js';
import { orders } from '../src/domains/orders/orders.schema.js';

// 2,000 orders on PostgreSQL (the acceptance figure); 1,000 on the embedded database keeps CI short
// (SYNC_E2E_ORDERS=2000 runs the full size there too).
const ORDERS = Number(process.env['SYNC_E2E_ORDERS'] ?? (backend === 'postgres' ? 2000 : 1000));
const DAY = 86_400_000;

let sim: Simulator;
let creds: ShopCredentials;
let testDb: TestDatabase;
let switchyard: Switchyard;
const tooOld = new Set<number>(); // outside the 1-month window of the initial load
const closedBeforeConnect = new Set<number>(); // the initial load takes open orders only

beforeAll(async () => {
  sim = await startSimulator({ webhookTimeScale: 0.0005, bulkStepMs: 20 });
  // This test is about correctness under faults; rate limits have their own tests. Reading 2,000
  // orders three times (two polls, one reconciliation) costs about 175,000 points: a bucket that
  // holds them keeps the test from spending minutes waiting on the simulated limit.
  creds = sim.createShop({ seed: 77, products: 60, stores: 5, plan: 'enterprise', bucketFactor: 100 });
  const shop = sim.shop(creds.shop);
  for (const variant of shop.variants.values()) variant.inventoryPolicy = 'CONTINUE';
  const variants = [...shop.variants.values()];
  const now = sim.now().getTime();
  // History before the shop is connected: old orders, recent open ones, recent cancelled ones.
  for (let i = 0; i < 20; i++) {
    const old = placeOrder(shop, {
      lines: [{ variantId: variants[i]!.id, quantity: 1 }],
      shipping: 'standard',
      createdAt: new Date(now - (70 + i) * DAY),
    });
    if (old.ok) tooOld.add(old.value.id);
  }
  for (let i = 0; i < 30; i++)
    placeOrder(shop, {
      lines: [{ variantId: variants[i + 5]!.id, quantity: 2 }],
      shipping: 'standard',
      createdAt: new Date(now - (1 + i / 2) * DAY),
    });
  for (let i = 0; i < 5; i++) {
    const placed = placeOrder(shop, {
      lines: [{ variantId: variants[i]!.id, quantity: 1 }],
      shipping: 'standard',
      createdAt: new Date(now - 2 * DAY),
    });
    if (placed.ok) {
      cancelOrder(shop, placed.value.id, { reason: 'CUSTOMER', restock: true });
      closedBeforeConnect.add(placed.value.id);
    }
  }

  testDb = await createTestDatabase();
  const port = await freePort();
  const config = testConfig(testDb, simulatedShopVariables(sim.url, creds, port));
  switchyard = await startSwitchyard(config, {
    syncSettings: { overlapMs: 120_000, delayMs: 0, defaultLookbackMs: DAY },
    schedulerTickMs: 200,
  });
  // This test runs the pollers and reconciliations itself, at chosen moments. Their wall-clock
  // schedules (every 15 min, 30 min, hourly) would otherwise fire whenever the run crosses such a
  // boundary. (Open doubt, docs/STATUS.md: on PGlite such runs during the 2,000-order burst have
  // frozen the shared connection.)
  for (const job of [
    'sync.orders-new',
    'sync.orders-updated',
    'sync.products-new',
    'sync.products-refresh',
    'sync.reconcile',
    'sync.inventory-snapshot',
    'sync.webhook-subscriptions',
    'inventory.publish-all',
  ]) {
    await switchyard.jobs.setSchedule(job, { enabled: false }, 'test');
  }
}, 120_000);

afterAll(async () => {
  await switchyard?.stop();
  await sim?.close();
  await testDb?.drop();
}, 120_000);

async function health() {
  const response = await fetch(`${switchyard.url}/api/v1/sync/health`);
  return (await response.json()) as Record<string, any>;
}

describe(`Shopify sync on ${backend}`, () => {
  test('first start: the initial load brings locations, products and the open orders of the last month', async () => {
    await waitFor('the initial load', async () => (await health()).shop.status === 'connected', 90_000, 250);
    const shop = sim.shop(creds.shop);
    const db = switchyard.database.db;
    // Every Shopify location is a facility (routing adds its queues, which are not locations).
    expect((await db.select({ n: count() }).from(facilities).where(ne(facilities.kind, 'VIRTUAL')))[0]!.n).toBe(
      shop.locations.size,
    );
    expect((await db.select({ n: count() }).from(productTable))[0]!.n).toBe(shop.products.size);
    const expected = [...shop.orders.values()].filter((o) => !tooOld.has(o.id) && !closedBeforeConnect.has(o.id));
    expect((await db.select({ n: count() }).from(orders))[0]!.n).toBe(expected.length);
    for (const order of expected) expect(await getOrder(db, `gid://shopify/Order/${order.id}`)).not.toBeNull();
    const topics = [...shop.webhookSubscriptions.values()].map((s) => s.topic).sort();
    expect(topics).toEqual([
      'APP_UNINSTALLED',
      'BULK_OPERATIONS_FINISH',
      'INVENTORY_LEVELS_UPDATE',
      'ORDERS_CANCELLED',
      'ORDERS_CREATE',
      'ORDERS_EDITED',
      'ORDERS_FULFILLED',
      'ORDERS_UPDATED',
      'PRODUCTS_CREATE',
      'PRODUCTS_DELETE',
      'PRODUCTS_UPDATE',
      'REFUNDS_CREATE',
    ]);
    // Shopify's inventory snapshot: every level, with Shopify's quantities at load time.
    const snapshot = await db.select().from(shopifyInventorySnapshot);
    expect(snapshot).toHaveLength(shop.levels.size);
    for (const row of snapshot) {
      const level = shop.level(
        Number(row.shopifyInventoryItemId.split('/').pop()),
        Number(row.shopifyLocationId.split('/').pop()),
      )!;
      expect([row.available, row.committed]).toEqual([level.quantities.available, level.quantities.committed]);
    }
    const h = await health();
    expect(h.initialLoad.counts).toMatchObject({
      facilities_created: shop.locations.size,
      products_created: shop.products.size,
      orders_created: expected.length,
      inventory_levels: shop.levels.size,
    });
  }, 120_000);

  test('the subscription check is idempotent; the read API serves what was loaded', async () => {
    const check = await switchyard.jobs.runHere('sync.webhook-subscriptions', 'cli');
    expect(check).toMatchObject({ status: 'succeeded', counts: { created: 0, present: 12 } });
    const shop = sim.shop(creds.shop);
    const sku = [...shop.variants.values()][3]!.sku;
    const products = (await (await fetch(`${switchyard.url}/api/v1/products?q=${sku}`)).json()) as {
      products: Array<{ variants: Array<{ sku: string }> }>;
    };
    expect(products.products.flatMap((p) => p.variants.map((v) => v.sku))).toContain(sku);
    const list = (await (await fetch(`${switchyard.url}/api/v1/orders?status=created&limit=5`)).json()) as {
      orders: Array<{ shopifyOrderId: string; lines: unknown[] }>;
      next: number;
    };
    expect(list.orders).toHaveLength(5);
    expect(list.next).toEqual(expect.any(Number));
    const one = list.orders[0]!;
    const history = (await (
      await fetch(`${switchyard.url}/api/v1/orders/${encodeURIComponent(one.shopifyOrderId)}/history`)
    ).json()) as { history: Array<{ kind: string; source: string }> };
    expect(history.history[0]).toMatchObject({ kind: 'order.created', source: 'initial-load' });
    expect((await fetch(`${switchyard.url}/api/v1/orders/999999`)).status).toBe(404);
  });

  test('reconciliation alone repairs changes whose webhooks were all lost', async () => {
    const shop = sim.shop(creds.shop);
    sim.setWebhookFaults(creds.shop, { dropRate: 1 });
    const open = [...shop.orders.values()]
      .filter(
        (o) => !o.cancelledAt && o.sourceName === 'web' && o.lineItems[0]!.currentQuantity > 1 && !tooOld.has(o.id),
      )
      .slice(0, 5);
    expect(open).toHaveLength(5);
    for (const order of open)
      refund(shop, order.id, { lines: [{ lineItemId: order.lineItems[0]!.id, quantity: 1, restockType: 'CANCEL' }] });
    await sim.webhooks(creds.shop).idle();
    const run = await switchyard.jobs.runHere('sync.reconcile', 'cli');
    expect(run.status).toBe('succeeded');
    expect(run.counts['fixed_line_current_quantity']).toBe(5);
    for (const order of open) {
      const mine = (await getOrder(switchyard.database.db, `gid://shopify/Order/${order.id}`))!;
      expect(mine.lines[0]!.currentQuantity).toBe(order.lineItems[0]!.currentQuantity);
    }
    const h = await health();
    expect(h.lastReconciliation.fixed).toBeGreaterThanOrEqual(5);
    expect(
      h.lastReconciliation.differences.filter((d: { kind: string }) => d.kind === 'line_current_quantity'),
    ).toHaveLength(5);
    sim.setWebhookFaults(creds.shop, { dropRate: 0 });
  });

  test("a poll reads the window's ids and versions, and fetches in full only the orders Switchyard lacks, holds older, or holds without their pickup store", async () => {
    const shop = sim.shop(creds.shop);
    const db = switchyard.database.db;
    const variants = [...shop.variants.values()];
    const stores = [...shop.locations.values()].filter((l) => l.kind === 'store');
    const pickup = placeOrder(shop, {
      lines: [{ variantId: variants[4]!.id, quantity: 1 }],
      shipping: 'pickup',
      locationId: stores[0]!.id,
    });
    if (!pickup.ok) throw new Error(JSON.stringify(pickup.userErrors));
    const pickupGid = `gid://shopify/Order/${pickup.value.id}`;
    await sim.webhooks(creds.shop).idle();
    await waitFor('the pickup order with its store', async () => (await getOrder(db, pickupGid))?.pickupFacilityId);
    // Everything known at Shopify's version: ids and versions are read, no order in full.
    const quiet = await switchyard.jobs.runHere('sync.orders-updated', 'cli');
    expect(quiet.status, quiet.error ?? '').toBe('succeeded');
    expect(quiet.counts['orders_known']).toBeGreaterThan(10);
    expect(Object.keys(quiet.counts).filter((k) => k.startsWith('orders_') && k !== 'orders_known')).toEqual([]);

    // A new order and an edit whose webhooks are lost; a pickup order held without its store.
    sim.setWebhookFaults(creds.shop, { dropRate: 1 });
    const placed = placeOrder(shop, { lines: [{ variantId: variants[2]!.id, quantity: 1 }], shipping: 'standard' });
    if (!placed.ok) throw new Error(JSON.stringify(placed.userErrors));
    const edited = [...shop.orders.values()].find(
      (o) =>
        !o.cancelledAt &&
        o.sourceName === 'web' &&
        !tooOld.has(o.id) &&
        o.id !== placed.value.id &&
        o.id !== pickup.value.id,
    )!;
    expect(editOrder(shop, edited.id, { add: [{ variantId: variants[3]!.id, quantity: 1 }] }).ok).toBe(true);
    await sim.webhooks(creds.shop).idle();
    sim.setWebhookFaults(creds.shop, { dropRate: 0 });
    await db.execute(sql`update orders set pickup_facility_id = null where shopify_order_id = ${pickupGid}`);

    const run = await switchyard.jobs.runHere('sync.orders-updated', 'cli');
    expect(run.status, run.error ?? '').toBe('succeeded');
    expect(run.counts).toMatchObject({ orders_created: 1, orders_updated: 2 });
    // Nothing fetched in vain: no order read in full turned out unchanged.
    expect(
      Object.keys(run.counts)
        .filter((k) => k.startsWith('orders_'))
        .sort(),
    ).toEqual(['orders_created', 'orders_known', 'orders_updated']);
    expect((await getOrder(db, `gid://shopify/Order/${placed.value.id}`))?.name).toBe(placed.value.name);
    const mine = (await getOrder(db, `gid://shopify/Order/${edited.id}`))!;
    expect(mine.lines).toHaveLength(shop.orders.get(edited.id)!.lineItems.length);
    expect((await getOrder(db, pickupGid))?.pickupFacilityId).not.toBeNull();
  });

  test('bad webhooks are refused clearly and store nothing', async () => {
    const db = switchyard.database.db;
    const before = (await db.select({ n: count() }).from(webhookInbox))[0]!.n;
    const body = JSON.stringify({ id: 1, updated_at: new Date().toISOString() });
    const sign = (raw: string, secret = creds.clientSecret) =>
      createHmac('sha256', secret).update(raw).digest('base64');
    const post = (raw: string, headers: Record<string, string>) =>
      fetch(`${switchyard.url}/webhooks/shopify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: raw,
      });
    const base = {
      'x-shopify-topic': 'orders/create',
      'x-shopify-shop-domain': creds.shop,
      'x-shopify-webhook-id': 'bad-1',
      'x-shopify-api-version': '2026-07',
      'x-shopify-triggered-at': new Date().toISOString(),
    };
    const cases: Array<[string, Record<string, string>, number, string]> = [
      [body, { ...base, 'x-shopify-hmac-sha256': sign(body, 'wrong-secret') }, 401, 'webhook.bad_signature'],
      [body, { ...base }, 401, 'webhook.bad_signature'],
      ['{ not json', { ...base, 'x-shopify-hmac-sha256': sign('{ not json') }, 400, 'webhook.malformed_json'],
      [
        body,
        { ...base, 'x-shopify-topic': 'carts/create', 'x-shopify-hmac-sha256': sign(body) },
        400,
        'webhook.unknown_topic',
      ],
      [
        body,
        { ...base, 'x-shopify-shop-domain': 'other.myshopify.com', 'x-shopify-hmac-sha256': sign(body) },
        404,
        'webhook.unknown_shop',
      ],
    ];
    for (const [raw, headers, status, code] of cases) {
      const response = await post(raw, headers);
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect((await db.select({ n: count() }).from(webhookInbox))[0]!.n).toBe(before);
  });

  test(`${ORDERS} orders with edits and cancellations under dropped, duplicated, reordered webhooks and API errors: zero differences after sync`, async () => {
    const started = performance.now();
    const shop = sim.shop(creds.shop);
    sim.setWebhookFaults(creds.shop, { dropRate: 0.3, duplicateRate: 0.05, maxDelayMs: 300 });
    sim.setFaults(creds.shop, { errorRate: 0.02 });
    const random = makeRandom(2026);
    const variants = [...shop.variants.values()];
    const stores = [...shop.locations.values()].filter((l) => l.kind === 'store');
    const placed: SimOrder[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const lines = Array.from({ length: random.int(1, 4) }, () => ({
        variantId: random.pick(variants).id,
        quantity: random.int(1, 3),
      }));
      const kind = random.next();
      const result =
        kind < 0.1
          ? posSale(shop, { locationId: random.pick(stores).id, lines })
          : placeOrder(
              shop,
              kind < 0.25
                ? { lines, shipping: 'pickup', locationId: random.pick(stores).id }
                : { lines, shipping: kind < 0.4 ? 'express' : 'standard' },
            );
      if (result.ok) placed.push(result.value);
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5)); // let deliveries flow
    }
    // Changes after placement: partial cancellations, edits, full cancellations.
    for (const order of placed.filter((o) => o.sourceName === 'web')) {
      const roll = random.next();
      const line = order.lineItems[0]!;
      if (roll < 0.1 && line.currentQuantity > 1)
        refund(shop, order.id, { lines: [{ lineItemId: line.id, quantity: 1, restockType: 'CANCEL' }] });
      else if (roll < 0.17)
        editOrder(shop, order.id, {
          remove: [{ lineItemId: line.id, quantity: 1 }],
          add: [{ variantId: random.pick(variants).id, quantity: 1 }],
        });
      else if (roll < 0.25) cancelOrder(shop, order.id, { reason: 'CUSTOMER', restock: true });
    }
    const created = createProduct(shop, {
      title: 'Late Arrival Parka',
      variants: [{ sku: 'LATE-1' }, { sku: 'LATE-2' }],
    });
    editProduct(shop, [...shop.products.values()][0]!.id, { title: 'Renamed in Shopify admin', tags: ['renamed'] });
    expect(created.ok).toBe(true);

    const phase = (name: string) => console.log(`[sync test] ${name} at ${Math.round(performance.now() - started)} ms`);
    phase('orders placed');
    await sim.webhooks(creds.shop).idle();
    phase('webhooks delivered');
    const hooks = sim.webhooks(creds.shop).stats;
    expect(hooks.dropped).toBeGreaterThan(0);
    expect(hooks.duplicated).toBeGreaterThan(0);
    await waitFor(
      'the webhook inbox to drain',
      async () => (await health()).webhooks.pending === 0,
      300_000,
      500,
    ).catch(async (e) => {
      const { queryRows } = await import('../src/platform/db/rows.js');
      const { sql } = await import('drizzle-orm');
      console.log(
        'DEBUG',
        JSON.stringify(
          await queryRows(
            switchyard.database.db,
            sql`select topic, status, attempts, last_error, next_attempt_at from webhook_inbox where status <> 'processed' limit 10`,
          ),
        ),
      );
      console.log(
        'DEBUG counts',
        JSON.stringify(
          await queryRows(switchyard.database.db, sql`select topic, status, count(*) from webhook_inbox group by 1,2`),
        ),
      );
      console.log(
        'DEBUG runs',
        JSON.stringify(
          await queryRows(
            switchyard.database.db,
            sql`select job_name, status, count(*), max(finished_at), max(started_at) from job_runs group by 1,2`,
          ),
        ),
      );
      console.log(
        'DEBUG running',
        JSON.stringify(await queryRows(switchyard.database.db, sql`select * from job_runs where status = 'running'`)),
      );
      console.log('DEBUG now', new Date().toISOString());
      throw e;
    });
    phase('inbox drained');

    // The safety nets: incremental polls, then one reconciliation.
    for (const job of ['sync.orders-new', 'sync.orders-updated', 'sync.products-new', 'sync.products-refresh']) {
      const run = await switchyard.jobs.runHere(job, 'cli');
      expect(run.status, `${job}: ${run.error}`).toBe('succeeded');
    }
    phase('polls done');
    sim.setWebhookFaults(creds.shop, { dropRate: 0, duplicateRate: 0, maxDelayMs: 0 });
    sim.setFaults(creds.shop, { errorRate: 0 });
    const reconciliation = await switchyard.jobs.runHere('sync.reconcile', 'cli');
    phase('reconciled');
    expect(reconciliation.status, reconciliation.error ?? '').toBe('succeeded');

    // Field by field: every order and line in Switchyard equals the simulator's.
    const db = switchyard.database.db;
    // Orders closed just before connecting were changed inside the first poll's overlap window, so
    // the updated-orders poll brings them too: every order of the window must be there.
    const expected = [...shop.orders.values()].filter((o) => !tooOld.has(o.id));
    const differences: string[] = [];
    for (const order of expected) {
      const mine = await getOrder(db, `gid://shopify/Order/${order.id}`);
      if (!mine) {
        differences.push(`${order.name}: missing`);
        continue;
      }
      if (mine.name !== order.name) differences.push(`${order.name}: name ${mine.name}`);
      if (Boolean(mine.cancelledAt) !== Boolean(order.cancelledAt))
        differences.push(`${order.name}: cancelled ${Boolean(mine.cancelledAt)}`);
      if (mine.sourceName !== order.sourceName) differences.push(`${order.name}: source ${mine.sourceName}`);
      if (mine.shopifyUpdatedAt.getTime() !== order.updatedAt.getTime())
        differences.push(
          `${order.name}: updatedAt ${mine.shopifyUpdatedAt.toISOString()} vs ${order.updatedAt.toISOString()}`,
        );
      if (mine.lines.length !== order.lineItems.length)
        differences.push(`${order.name}: ${mine.lines.length} lines vs ${order.lineItems.length}`);
      for (const line of order.lineItems) {
        const my = mine.lines.find((l) => l.shopifyLineItemId === `gid://shopify/LineItem/${line.id}`);
        if (!my) differences.push(`${order.name}: line ${line.id} missing`);
        else if (my.quantity !== line.quantity || my.currentQuantity !== line.currentQuantity || my.sku !== line.sku) {
          differences.push(
            `${order.name}: line ${line.sku} ${my.quantity}/${my.currentQuantity} vs ${line.quantity}/${line.currentQuantity}`,
          );
        }
      }
    }
    expect(differences).toEqual([]);
    // No order exists twice, and nothing else slipped in.
    expect((await db.select({ n: count() }).from(orders))[0]!.n).toBe(expected.length);
    const renamed = await db.select().from(productTable).where(eq(productTable.title, 'Renamed in Shopify admin'));
    expect(renamed).toHaveLength(1);
    expect((await db.select().from(productTable).where(eq(productTable.title, 'Late Arrival Parka'))).length).toBe(1);
    const h = await health();
    expect(h.webhooks.parked).toBe(0);
    expect(h.lastReconciliation.ordersChecked).toBeGreaterThan(0);
  }, 600_000);
});

// Last, since it disconnects the shop. app/uninstalled is destructive and its signature covers only
// the body: an old shop body of this app, sent again, must not disconnect the shop. Switchyard
// believes an uninstall only when Shopify itself refuses the app's token.
describe(`app/uninstalled (${backend})`, () => {
  const shopStatus = async () =>
    ((await (await fetch(`${switchyard.url}/api/v1/sync/health`)).json()) as { shop: { status: string } }).shop.status;
  const inboxStatus = async (webhookId: string) =>
    (
      await switchyard.database.db
        .select({ status: webhookInbox.status })
        .from(webhookInbox)
        .where(eq(webhookInbox.webhookId, webhookId))
    )[0]?.status;

  test('a replayed shop body signed by the app, while the app is still installed, changes nothing', async () => {
    const body = JSON.stringify({
      ...JSON.parse(readFileSync(new URL('./fixtures/shopify-webhooks/app-uninstalled.json', import.meta.url), 'utf8')),
      myshopify_domain: creds.shop,
    });
    const webhookId = randomUUID();
    const response = await fetch(`${switchyard.url}/webhooks/shopify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': 'app/uninstalled',
        'x-shopify-shop-domain': creds.shop,
        'x-shopify-webhook-id': webhookId,
        'x-shopify-triggered-at': new Date().toISOString(),
        'x-shopify-hmac-sha256': createHmac('sha256', creds.clientSecret).update(body).digest('base64'),
      },
      body,
    });
    expect(response.status).toBe(200);
    await waitFor('the delivery to be processed', async () => (await inboxStatus(webhookId)) === 'processed', 30_000);
    expect(await shopStatus()).toBe('connected');
  });

  test('a real uninstall (Shopify then refuses the token) marks the shop uninstalled', async () => {
    const answer = await fetch(`${sim.url}/_sim/shops/${creds.shop}/apps/${encodeURIComponent(creds.accessToken)}`, {
      method: 'DELETE',
    });
    expect(answer.status).toBe(200);
    await waitFor('the uninstall to be applied', async () => (await shopStatus()) === 'uninstalled', 30_000);
  });
});
