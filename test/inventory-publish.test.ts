// Inventory truth end to end against the simulator: opening balances from Shopify, publishing by
// compare-and-set (aggregate and mirror), Shopify's own changes never overwritten or counted twice,
// POS sales once whichever signal comes first, and no oversell while orders race the publisher.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import type { Switchyard } from '../src/main/switchyard.js';
import type { ShopCredentials, Simulator } from '../src/simulator/server.js';
import { placeOrder, posSale } from '../src/simulator/orders.js';
import { adminInventoryEdit } from '../src/simulator/scenario.js';
import type { SimShop } from '../src/simulator/state.js';
import { queryRows } from '../src/platform/db/rows.js';
import {
  compareCountersWithLedger,
  publishTargets,
  publishedPairs,
  desiredAvailable,
  recordEntries,
} from '../src/domains/inventory/index.js';
import { DEFAULT_PUBLISH_SETTINGS, publishVariants } from '../src/outbound/index.js';
import { claimChangedVariants } from '../src/domains/inventory/index.js';
import { makeShopifyClient } from '../src/shopify/client.js';
import { makeLogger } from '../src/platform/logger.js';

let c: Connected;
let sim: Simulator;
let creds: ShopCredentials;
let switchyard: Switchyard;
let shop: SimShop;

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 5, products: 25, stores: 3, plan: 'enterprise', bucketFactor: 20 });
  ({ sim, creds, shop, switchyard } = c);
}, 120_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${switchyard.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const json = await response.json();
  if (!response.ok && response.status !== 422)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const locationNumber = (gid: string) => Number(gid.split('/').pop());
const db = () => switchyard.database.db;

/** Waits until nothing is left to deliver or publish. */
async function settle(): Promise<void> {
  await sim.webhooks(creds.shop).idle();
  await waitFor(
    'webhooks, events, routing and publishing to settle',
    async () => {
      const [row] = await queryRows<{ inbox: number; outbox: number; queue: number; unrouted: number }>(
        db(),
        sql`select (select count(*)::int from webhook_inbox where status = 'pending') as inbox,
                   (select count(*)::int from outbox where status = 'pending') as outbox,
                   (select count(*)::int from inventory_publish_queue) as queue,
                   -- online orders not routed yet: routing them moves demand between facilities (and so the targets)
                   (select count(*)::int from order_lines ol join orders o on o.id = ol.order_id
                    where ol.status in ('created', 'approved') and ol.current_quantity > 0 and o.cancelled_at is null
                      and not ol.sold_over_counter and coalesce(o.fulfillment_status, '') <> 'FULFILLED') as unrouted`,
      );
      return row!.inbox + row!.outbox + row!.queue + row!.unrouted === 0;
    },
    60_000,
    100,
  );
}

/** For every published pair: Shopify's available, and what Switchyard wants it to be. */
async function compareWithShopify(): Promise<
  Array<{ sku: string; location: string; shopify: number; target: number }>
> {
  const targets = await publishTargets(db(), await publishedPairs(db(), 'all'));
  const skus = new Map(
    (await queryRows<{ id: number; sku: string }>(db(), sql`select id, sku from variants`)).map((v) => [v.id, v.sku]),
  );
  return targets.map((t) => {
    const level = shop.level(locationNumber(t.itemId), locationNumber(t.locationId))!;
    return {
      sku: skus.get(t.variantId)!,
      location: t.locationId,
      shopify: level.quantities.available,
      target: desiredAvailable(t.target, level.quantities.committed, t.knownCommitted).desired,
    };
  });
}

const warehouses = () => [...shop.locations.values()].filter((l) => l.kind === 'warehouse').sort((a, b) => a.id - b.id);
const stores = () => [...shop.locations.values()].filter((l) => l.kind === 'store').sort((a, b) => a.id - b.id);

describe(`inventory truth against Shopify (${backend})`, () => {
  let aggregate: string;
  let storeCodes: string[];

  test("connecting takes Shopify's on hand as opening stock; publishing modes are validated", async () => {
    const facilities = (await api('GET', '/api/v1/facilities')).facilities as Array<{
      code: string;
      shopifyLocationId: string;
      kind: string;
    }>;
    aggregate = facilities.find((f) => f.shopifyLocationId === `gid://shopify/Location/${warehouses()[0]!.id}`)!.code;
    storeCodes = stores().map(
      (s) => facilities.find((f) => f.shopifyLocationId === `gid://shopify/Location/${s.id}`)!.code,
    );
    // Opening stock = Shopify's on hand per item × location.
    const rows = await queryRows<{ item: string; location: string; on_hand: number }>(
      db(),
      sql`select v.shopify_inventory_item_id as item, f.shopify_location_id as location, l.on_hand from inventory_levels l
          join variants v on v.id = l.variant_id join facilities f on f.id = l.facility_id`,
    );
    const mine = new Map(rows.map((r) => [`${locationNumber(r.item)}|${locationNumber(r.location)}`, r.on_hand]));
    for (const level of shop.levels.values()) {
      expect(mine.get(`${level.itemId}|${level.locationId}`) ?? 0).toBe(
        level.quantities.available + level.quantities.committed,
      );
    }
    expect((await compareCountersWithLedger(db())).drift).toEqual([]);
    const bad = await fetch(`${switchyard.url}/api/v1/facilities/${storeCodes[0]}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publishMode: 'sideways' }),
    });
    expect(bad.status).toBe(400);
    await api('PATCH', `/api/v1/facilities/${aggregate}`, { publishMode: 'aggregate' });
    const second = await fetch(`${switchyard.url}/api/v1/facilities/${storeCodes[0]}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publishMode: 'aggregate' }),
    });
    expect(second.status).toBe(400);
    expect(((await second.json()) as any).error.code).toBe('facilities.second_aggregate');
    for (const code of storeCodes)
      await api('PATCH', `/api/v1/facilities/${code}`, { publishMode: 'mirror', defaultSafetyStock: 1 });
  }, 60_000);

  test('publishing sets every aggregate and mirror location to its target, in batches, and logs each call', async () => {
    await settle();
    const differences = (await compareWithShopify()).filter((c) => c.shopify !== c.target);
    expect(differences).toEqual([]);
    const pairs = await compareWithShopify();
    expect(pairs.length).toBe(shop.variants.size * 4);
    const log = (await api('GET', '/api/v1/inventory/publish-log?limit=500')).entries as Array<{
      outcome: string;
      quantities: unknown[];
    }>;
    expect(log.length).toBeGreaterThan(0);
    expect(log.every((e) => e.quantities.length <= 250)).toBe(true);
    expect(log.some((e) => e.outcome === 'accepted')).toBe(true);
    // The explanation of one SKU shows each term and what Shopify was last sent.
    const variant = [...shop.variants.values()][0]!;
    const explained = await api('GET', `/api/v1/inventory/${encodeURIComponent(variant.sku)}`);
    expect(explained.facilities.map((f: { facility: string }) => f.facility)).toContain(aggregate);
    const published = explained.shopify.find((l: { facility: string }) => l.facility === aggregate);
    expect(published.available).toBe(shop.level(variant.inventoryItemId, warehouses()[0]!.id)!.quantities.available);
    expect(explained.online.atp).toBe(published.available);
  }, 90_000);

  test('online orders Shopify takes itself are never counted twice; a variance moves Shopify within seconds', async () => {
    const variants = [...shop.variants.values()];
    for (let i = 0; i < 10; i++)
      placeOrder(shop, { lines: [{ variantId: variants[i]!.id, quantity: 1 }], shipping: 'standard' });
    await settle();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    const v = variants[3]!;
    const before = shop.level(v.inventoryItemId, warehouses()[0]!.id)!.quantities.available;
    const found = await api('POST', '/api/v1/inventory/variances', {
      facility: aggregate,
      sku: v.sku,
      kind: 'found',
      quantity: 5,
      reason: 'found behind a shelf',
    });
    expect(found.delta).toBe(5);
    await waitFor(
      'Shopify to show the found units',
      async () => shop.level(v.inventoryItemId, warehouses()[0]!.id)!.quantities.available === before + 5,
      10_000,
      50,
    );
  }, 90_000);

  test('orders Switchyard has not downloaded yet are held back, not re-published', async () => {
    const v = [...shop.variants.values()][6]!;
    const wh = warehouses()[0]!.id;
    sim.setWebhookFaults(creds.shop, { dropRate: 1 });
    const placed = placeOrder(shop, { lines: [{ variantId: v.id, quantity: 2 }], shipping: 'standard' });
    expect(placed.ok).toBe(true);
    await sim.webhooks(creds.shop).idle();
    const shopifyNow = shop.level(v.inventoryItemId, wh)!.quantities.available;
    // Switchyard does not know the order; a change elsewhere makes it publish this SKU again.
    await api('POST', '/api/v1/inventory/variances', {
      facility: storeCodes[0],
      sku: v.sku,
      kind: 'found',
      quantity: 1,
      reason: 'count',
    });
    await settle();
    // The online figure rose by the found unit only: the order's 2 units stay taken.
    expect(shop.level(v.inventoryItemId, wh)!.quantities.available).toBe(shopifyNow + 1);
    sim.setWebhookFaults(creds.shop, { dropRate: 0 });
    expect((await switchyard.jobs.runHere('sync.orders-new', 'cli')).status).toBe('succeeded');
    await settle();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    expect(shop.level(v.inventoryItemId, wh)!.quantities.available).toBe(shopifyNow + 1);
  }, 90_000);

  test('a POS sale lowers the store once, whether the level change or the order comes first', async () => {
    const v = [...shop.variants.values()].find(
      (x) => shop.level(x.inventoryItemId, stores()[1]!.id)!.quantities.available >= 3,
    )!;
    const store = stores()[1]!;
    const code = storeCodes[1]!;
    const onHand = async () =>
      (
        await queryRows<{ on_hand: number }>(
          db(),
          sql`select l.on_hand from inventory_levels l join variants vv on vv.id = l.variant_id join facilities f on f.id = l.facility_id where vv.sku = ${v.sku} and f.code = ${code}`,
        )
      )[0]!.on_hand;
    const start = await onHand();
    // The order webhook is lost; the level is read first (a publish of this SKU).
    sim.setWebhookFaults(creds.shop, { dropRate: 1 });
    expect(posSale(shop, { locationId: store.id, lines: [{ variantId: v.id, quantity: 2 }] }).ok).toBe(true);
    await sim.webhooks(creds.shop).idle();
    const shopifyAfterSale = shop.level(v.inventoryItemId, store.id)!.quantities.available;
    await api('POST', '/api/v1/inventory/variances', {
      facility: aggregate,
      sku: v.sku,
      kind: 'found',
      quantity: 1,
      reason: 'count',
    });
    await settle();
    // The store's units that left with the customer are not put back on sale.
    expect(shop.level(v.inventoryItemId, store.id)!.quantities.available).toBe(shopifyAfterSale);
    sim.setWebhookFaults(creds.shop, { dropRate: 0 });
    expect((await switchyard.jobs.runHere('sync.orders-new', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand()).toBe(start - 2);
    // The order first, then a duplicate of it: still once.
    expect(posSale(shop, { locationId: store.id, lines: [{ variantId: v.id, quantity: 1 }] }).ok).toBe(true);
    await settle();
    expect((await switchyard.jobs.runHere('sync.orders-new', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand()).toBe(start - 3);
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    expect((await compareCountersWithLedger(db())).drift).toEqual([]);
  }, 90_000);

  /** A one-unit pickup order at the first pickup store, routed there and ready for the customer. */
  async function pickupReadyAtStore(
    stocked: (q: { available: number; committed: number }) => boolean,
    lastFirst = false,
  ) {
    const i = stores().findIndex((s) => s.pickupEnabled);
    const store = stores()[i]!;
    const code = storeCodes[i]!;
    const candidates = [...shop.variants.values()];
    if (lastFirst) candidates.reverse();
    const v = candidates.find((x) => stocked(shop.level(x.inventoryItemId, store.id)!.quantities))!;
    const placed = placeOrder(shop, {
      lines: [{ variantId: v.id, quantity: 1 }],
      shipping: 'pickup',
      locationId: store.id,
    });
    expect(placed.ok).toBe(true);
    await settle();
    const shopifyOrderId = placed.ok ? placed.value.id : 0;
    const orderId = (
      await queryRows<{ id: number }>(
        db(),
        sql`select id from orders where shopify_order_id = ${`gid://shopify/Order/${shopifyOrderId}`}`,
      )
    )[0]!.id;
    await waitFor(
      'the pickup routed to the store',
      async () =>
        ((await api('GET', `/api/v1/facilities/${code}/work`)).open as Array<{ orderId: number }>).some(
          (o) => o.orderId === orderId,
        ),
      30_000,
      100,
    );
    const shipment = (await api('POST', `/api/v1/facilities/${code}/shipments`, { order: String(orderId) })) as {
      id: number;
    };
    await api('POST', `/api/v1/facilities/${code}/shipments/${shipment.id}/ready`);
    await settle();
    return { store, code, v, shopifyOrderId, shipment };
  }

  test('a pickup handed over while the publisher reads the store is not taken for a sale still on its way', async () => {
    // The publisher reads Shopify, then Switchyard fulfils (its own drop of Shopify's on hand), then
    // the publisher saves what it read: the read must not undo the drop Switchyard accounted for.
    const { store, code, v, shopifyOrderId, shipment } = await pickupReadyAtStore((x) => x.available >= 4);
    const [ids] = await queryRows<{ variant: number }>(
      db(),
      sql`select id as variant from variants where sku = ${v.sku}`,
    );
    await switchyard.jobs.setSchedule('inventory.publish', { enabled: false }, 'test');
    try {
      const real = makeShopifyClient(
        { shop: creds.shop, accessToken: creds.accessToken, apiVersion: '2026-07', apiUrl: sim.url },
        { logger: makeLogger({ level: 'silent' }) },
      );
      let handedOver = false;
      const racing: typeof real = {
        shop: real.shop,
        tokens: real.tokens,
        budget: real.budget,
        stats: real.stats,
        async request(operation, variables) {
          const answer = await real.request(operation, variables);
          // Right after the publisher's read of the levels: the customer collects, Switchyard fulfils.
          if (!handedOver && 'ids' in variables) {
            handedOver = true;
            await api('POST', `/api/v1/facilities/${code}/shipments/${shipment.id}/hand-over`, { to: 'the customer' });
            await waitFor(
              'the fulfilment in Shopify',
              async () =>
                (await switchyard.jobs.runHere('fulfillment.push', 'cli')).status === 'succeeded' &&
                [...shop.fulfillments.values()].some((f) => f.orderId === shopifyOrderId && f.status === 'SUCCESS'),
              15_000,
              100,
            );
          }
          return answer;
        },
      };
      const deps = { db: db(), shopify: racing, logger: makeLogger({ level: 'silent' }), now: () => new Date() };
      await publishVariants(deps, [ids!.variant], new Set([ids!.variant]));
      expect(handedOver).toBe(true);
      // Read again: Shopify's lower on hand is the fulfilment, not a sale to hold back.
      const again = await publishVariants(deps, [ids!.variant], new Set([ids!.variant]));
      expect(again.stale).toBe(0);
      const [shadow] = await queryRows<{ unexplained_since: Date | null }>(
        db(),
        sql`select unexplained_since from shopify_inventory_snapshot where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`} and shopify_location_id = ${`gid://shopify/Location/${store.id}`}`,
      );
      expect(shadow!.unexplained_since).toBeNull();
      expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    } finally {
      await switchyard.jobs.setSchedule('inventory.publish', { enabled: true }, 'test');
    }
    await settle();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    expect((await compareCountersWithLedger(db())).drift).toEqual([]);
  }, 90_000);

  test('a fulfilment is confirmed in one step with the base move it makes: a failure between them leaves neither', async () => {
    // Switchyard fulfils a pickup at a mirrored store (its own drop of Shopify's on hand). If the
    // confirmation could commit without the base move (a worker killed between the two), the drop
    // would look like a POS sale still on its way and the unit would be held back.
    const { store, code, v, shopifyOrderId, shipment } = await pickupReadyAtStore(
      (x) => x.available >= 4 && x.committed === 0,
      true,
    );
    // The base move fails (as a killed worker would stop) until the trigger is dropped.
    await db().execute(sql`create function test_fail_base_move() returns trigger language plpgsql as $$
      begin
        if new.base_moves <> old.base_moves and new.available = old.available then raise exception 'the worker died here'; end if;
        return new;
      end $$`);
    await db().execute(
      sql`create trigger test_fail_base_move before update on shopify_inventory_snapshot for each row execute function test_fail_base_move()`,
    );
    try {
      await switchyard.jobs.setSchedule('fulfillment.push', { enabled: false }, 'test');
      await api('POST', `/api/v1/facilities/${code}/shipments/${shipment.id}/hand-over`, { to: 'the customer' });
      await switchyard.jobs.runHere('fulfillment.push', 'cli');
      expect([...shop.fulfillments.values()].some((f) => f.orderId === shopifyOrderId && f.status === 'SUCCESS')).toBe(
        true,
      );
      const pushes = await queryRows<{ status: string }>(
        db(),
        sql`select status from fulfillment_pushes where shipment_id = ${shipment.id} and action = 'fulfil'`,
      );
      expect(pushes.map((p) => p.status)).toEqual(['sending']);
    } finally {
      await db().execute(sql`drop trigger test_fail_base_move on shopify_inventory_snapshot`);
      await db().execute(sql`drop function test_fail_base_move()`);
      await db().execute(sql`update fulfillment_sync set due_at = now()`);
      await switchyard.jobs.setSchedule('fulfillment.push', { enabled: true }, 'test');
    }
    await waitFor(
      'the fulfilment confirmed',
      async () =>
        (
          await queryRows<{ status: string }>(
            db(),
            sql`select status from fulfillment_pushes where shipment_id = ${shipment.id} and action = 'fulfil'`,
          )
        )[0]?.status === 'confirmed',
      30_000,
      100,
    );
    await settle();
    const [shadow] = await queryRows<{ unexplained_since: Date | null }>(
      db(),
      sql`select unexplained_since from shopify_inventory_snapshot where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`} and shopify_location_id = ${`gid://shopify/Location/${store.id}`}`,
    );
    expect(shadow!.unexplained_since).toBeNull();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
  }, 90_000);

  test('a push whose answer was lost (the worker killed after Shopify took it) is settled under its key, not taken for a sale', async () => {
    // Switchyard lowers a mirrored store's available (damaged stock); Shopify applies the call and the
    // answer never comes back. The next publish must learn that its own call moved Shopify's on hand,
    // or it takes the drop for a POS sale still on its way and holds the units back a second time.
    const store = stores()[1]!;
    const code = storeCodes[1]!;
    const v = [...shop.variants.values()].find(
      (x) =>
        shop.level(x.inventoryItemId, store.id)!.quantities.available >= 5 &&
        shop.level(x.inventoryItemId, store.id)!.quantities.committed === 0,
    )!;
    const [ids] = await queryRows<{ variant: number }>(
      db(),
      sql`select id as variant from variants where sku = ${v.sku}`,
    );
    await settle();
    await switchyard.jobs.setSchedule('inventory.publish', { enabled: false }, 'test');
    try {
      const before = shop.level(v.inventoryItemId, store.id)!.quantities.available;
      await api('POST', '/api/v1/inventory/variances', {
        facility: code,
        sku: v.sku,
        kind: 'damaged',
        quantity: 2,
        reason: 'dropped',
      });
      await claimChangedVariants(db(), new Date(), 10_000);
      const real = makeShopifyClient(
        { shop: creds.shop, accessToken: creds.accessToken, apiVersion: '2026-07', apiUrl: sim.url },
        { logger: makeLogger({ level: 'silent' }) },
      );
      const answerLost: typeof real = {
        shop: real.shop,
        tokens: real.tokens,
        budget: real.budget,
        stats: real.stats,
        async request(operation, variables) {
          const answer = await real.request(operation, variables);
          if ('input' in variables && 'key' in variables) throw new Error('socket hang up (the worker was killed)');
          return answer;
        },
      };
      const logger = makeLogger({ level: 'silent' });
      await expect(
        publishVariants({ db: db(), shopify: answerLost, logger, now: () => new Date() }, [ids!.variant]),
      ).rejects.toThrow(/socket hang up/);
      expect(shop.level(v.inventoryItemId, store.id)!.quantities.available).toBe(before - 2);
      const [sending] = await queryRows<{ id: number; outcome: string }>(
        db(),
        sql`select id, outcome from inventory_publish_log order by id desc limit 1`,
      );
      expect(sending!.outcome).toBe('sending');
      // The next publish (any worker) asks Shopify under the same key first, then reads and decides.
      const outcome = await publishVariants(
        { db: db(), shopify: real, logger, now: () => new Date() },
        [ids!.variant],
        new Set([ids!.variant]),
      );
      expect(outcome.stale).toBe(0);
      expect(shop.level(v.inventoryItemId, store.id)!.quantities.available).toBe(before - 2);
      const [shadow] = await queryRows<{ unexplained_since: Date | null }>(
        db(),
        sql`select unexplained_since from shopify_inventory_snapshot where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`} and shopify_location_id = ${`gid://shopify/Location/${store.id}`}`,
      );
      expect(shadow!.unexplained_since).toBeNull();
      const [settled] = await queryRows<{ outcome: string; response: { settledAfterLostAnswer?: boolean } }>(
        db(),
        sql`select outcome, response from inventory_publish_log where id = ${sending!.id}`,
      );
      expect(settled).toMatchObject({ outcome: 'accepted', response: { settledAfterLostAnswer: true } });
    } finally {
      await switchyard.jobs.setSchedule('inventory.publish', { enabled: true }, 'test');
    }
    await settle();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
  }, 90_000);

  test('a push that went stale and whose answer was lost: the client sends it again, Shopify says the first attempt failed, and the publisher reads and decides again', async () => {
    const wh = warehouses()[0]!;
    const v = [...shop.variants.values()].find((x) => shop.level(x.inventoryItemId, wh.id)!.quantities.available >= 5)!;
    const [ids] = await queryRows<{ variant: number }>(
      db(),
      sql`select id as variant from variants where sku = ${v.sku}`,
    );
    await settle();
    await switchyard.jobs.setSchedule('inventory.publish', { enabled: false }, 'test');
    try {
      await api('POST', '/api/v1/inventory/variances', {
        facility: aggregate,
        sku: v.sku,
        kind: 'damaged',
        quantity: 1,
        reason: 'dropped',
      });
      await claimChangedVariants(db(), new Date(), 10_000);
      const real = makeShopifyClient(
        { shop: creds.shop, accessToken: creds.accessToken, apiVersion: '2026-07', apiUrl: sim.url },
        { logger: makeLogger({ level: 'silent' }) },
      );
      let pushes = 0;
      const staleThenLost: typeof real = {
        shop: real.shop,
        tokens: real.tokens,
        budget: real.budget,
        stats: real.stats,
        async request(operation, variables) {
          if ('input' in variables && 'key' in variables && ++pushes === 1) {
            // Shopify moves between the decision and the call (an admin edit), so the first attempt
            // is refused as stale; its answer is lost and the client sends the call again, same key.
            adminInventoryEdit(shop, { itemId: v.inventoryItemId, locationId: wh.id, delta: 3 });
            await real.request(operation, variables);
          }
          return real.request(operation, variables);
        },
      };
      const logger = makeLogger({ level: 'silent' });
      const outcome = await publishVariants({ db: db(), shopify: staleThenLost, logger, now: () => new Date() }, [
        ids!.variant,
      ]);
      expect(outcome).toMatchObject({ stale: 1, pushed: 1 });
      const calls = await queryRows<{ outcome: string; codes: string[] }>(
        db(),
        sql`select outcome, coalesce((select array_agg(e->>'code') from jsonb_array_elements(response->'userErrors') e), '{}') as codes from inventory_publish_log order by id desc limit 2`,
      );
      expect(calls.reverse()).toEqual([
        { outcome: 'not_applied', codes: ['IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED'] },
        { outcome: 'accepted', codes: [] },
      ]);
    } finally {
      await switchyard.jobs.setSchedule('inventory.publish', { enabled: true }, 'test');
    }
    await settle();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
  }, 90_000);

  test("an edit in Shopify admin is corrected back to Switchyard's figure", async () => {
    const v = [...shop.variants.values()][8]!;
    const wh = warehouses()[0]!.id;
    const before = shop.level(v.inventoryItemId, wh)!.quantities.available;
    expect(adminInventoryEdit(shop, { itemId: v.inventoryItemId, locationId: wh, delta: 7 }).ok).toBe(true);
    await waitFor(
      'the correction',
      async () => shop.level(v.inventoryItemId, wh)!.quantities.available === before,
      15_000,
      50,
    );
    await settle();
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
  }, 60_000);

  test('the snapshot reconciliation finds what webhooks missed, records it with its cause, and has it corrected', async () => {
    const v = [...shop.variants.values()][9]!;
    const store = stores()[2]!;
    const before = shop.level(v.inventoryItemId, store.id)!.quantities.available;
    sim.setWebhookFaults(creds.shop, { dropRate: 1 });
    expect(adminInventoryEdit(shop, { itemId: v.inventoryItemId, locationId: store.id, delta: 4 }).ok).toBe(true);
    await sim.webhooks(creds.shop).idle();
    sim.setWebhookFaults(creds.shop, { dropRate: 0 });
    const run = await switchyard.jobs.runHere('sync.inventory-snapshot', 'cli');
    expect(run).toMatchObject({ status: 'succeeded', counts: { levels: shop.levels.size, differences: 1 } });
    const [difference] = await queryRows<{ expected: number; found: number; cause: string; action: string }>(
      db(),
      sql`select expected, found, cause, action from inventory_sync_differences where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`} order by id desc limit 1`,
    );
    expect(difference).toMatchObject({ expected: before, found: before + 4, action: 'corrected' });
    expect(difference!.cause).toMatch(/^higher_in_shopify/);
    await settle();
    expect(shop.level(v.inventoryItemId, store.id)!.quantities.available).toBe(before);
  }, 90_000);

  test('safety stock by product and by tag, and the channel threshold, are settings; Shopify follows them', async () => {
    const v = [...shop.variants.values()][10]!;
    const send = (method: string, path: string, body: unknown) =>
      fetch(`${switchyard.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect(
      (await send('PUT', '/api/v1/inventory/safety-stock-rules', { tag: 'x', facility: 'NOPE', quantity: 1 })).status,
    ).toBe(404);
    expect(
      (await send('PUT', '/api/v1/inventory/safety-stock', { sku: v.sku, facility: aggregate, quantity: -1 })).status,
    ).toBe(400);
    expect((await send('PUT', '/api/v1/inventory/online-channel', { threshold: -2 })).status).toBe(400);
    expect((await api('GET', '/api/v1/inventory/safety-stock-rules')).rules).toEqual([]);

    await api('PUT', '/api/v1/inventory/safety-stock', { sku: v.sku, facility: aggregate, quantity: 2 });
    const tag = shop.products.get(v.productId)!.tags[0]!;
    const rule = await api('PUT', '/api/v1/inventory/safety-stock-rules', { tag, facility: null, quantity: 1 });
    expect(rule).toMatchObject({ tag, facility: null, quantity: 1 });
    const channel = await api('PUT', '/api/v1/inventory/online-channel', { threshold: 3 });
    expect(channel).toMatchObject({ threshold: 3 });
    await settle();
    const explained = await api('GET', `/api/v1/inventory/${encodeURIComponent(v.sku)}`);
    expect(explained.facilities.find((f: { facility: string }) => f.facility === aggregate)).toMatchObject({
      safetyStock: 2,
      safetyStockFrom: 'product',
    });
    expect(explained.facilities.find((f: { facility: string }) => f.facility === storeCodes[0])).toMatchObject({
      safetyStock: 1,
      safetyStockFrom: `tag:${tag}`,
    });
    expect(explained.online.channelThreshold).toBe(3);
    expect(shop.level(v.inventoryItemId, warehouses()[0]!.id)!.quantities.available).toBe(explained.online.atp);
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    // Back to no threshold and no rule for the tests that follow.
    await api('PUT', '/api/v1/inventory/online-channel', { threshold: 0 });
    expect(
      (await fetch(`${switchyard.url}/api/v1/inventory/safety-stock-rules/${rule.id}`, { method: 'DELETE' })).status,
    ).toBe(204);
    await settle();
  }, 60_000);

  test('a large publish goes as one bulk mutation through a staged upload, with the same compare-and-set', async () => {
    await switchyard.jobs.setSchedule('inventory.publish', { enabled: false }, 'test');
    try {
      const ids = (
        await queryRows<{ id: number }>(
          db(),
          sql`select id from variants where shopify_inventory_item_id is not null order by id limit 40`,
        )
      ).map((r) => r.id);
      const [wh] = await queryRows<{ id: number }>(db(), sql`select id from facilities where code = ${aggregate}`);
      await db().transaction((tx) =>
        recordEntries(
          tx,
          ids.map((variantId) => ({
            variantId,
            facilityId: wh!.id,
            delta: 3,
            kind: 'receipt' as const,
            occurredAt: new Date(),
            source: 'test',
            idempotencyKey: `bulk-test-${variantId}`,
          })),
          new Date(),
        ),
      );
      // Lease the marks as the job would, so a publish run already under way cannot push them first.
      await claimChangedVariants(db(), new Date(), 10_000);
      const client = makeShopifyClient(
        { shop: creds.shop, accessToken: creds.accessToken, apiVersion: '2026-07', apiUrl: sim.url },
        { logger: makeLogger({ level: 'silent' }) },
      );
      const outcome = await publishVariants(
        {
          db: db(),
          shopify: client,
          logger: makeLogger({ level: 'silent' }),
          now: () => new Date(),
          settings: { ...DEFAULT_PUBLISH_SETTINGS, batchSize: 10, bulkThreshold: 5 },
        },
        ids,
      );
      expect(outcome).toMatchObject({ pushed: 40, stale: 0 });
      const log = (await api('GET', '/api/v1/inventory/publish-log?limit=4')).entries as Array<{
        method: string;
        outcome: string;
        quantities: unknown[];
      }>;
      expect(log.map((e) => [e.method, e.outcome, e.quantities.length])).toEqual(
        Array.from({ length: 4 }, () => ['bulk', 'accepted', 10]),
      );
      expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
    } finally {
      await switchyard.jobs.setSchedule('inventory.publish', { enabled: true }, 'test');
      await db().execute(sql`delete from inventory_publish_queue`);
    }
  }, 60_000);

  test('no oversell: concurrent online orders while Switchyard publishes never take units Switchyard does not have', async () => {
    const v = [...shop.variants.values()][12]!;
    const wh = warehouses()[0]!.id;
    // Give the SKU little online stock: 6 at the warehouse, nothing sellable online elsewhere.
    const [row] = await queryRows<{ id: number }>(db(), sql`select id from variants where sku = ${v.sku}`);
    await db().execute(
      sql`update inventory_levels set safety_stock = 1000 where variant_id = ${row!.id} and facility_id <> (select id from facilities where code = ${aggregate})`,
    );
    const count = `facility,sku,quantity,counted_at\n${aggregate},${v.sku},6,${new Date().toISOString()}\n`;
    const imported = await fetch(`${switchyard.url}/api/v1/inventory/imports?fileName=race.csv`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: count,
    });
    expect(imported.status).toBe(201);
    await api('PATCH', `/api/v1/facilities/${aggregate}`, { defaultSafetyStock: 0 });
    await settle();
    const online = (await api('GET', `/api/v1/inventory/${encodeURIComponent(v.sku)}`)).online.atp as number;
    expect(shop.level(v.inventoryItemId, wh)!.quantities.available).toBe(online);
    // 30 customers try to buy one each while stock changes elsewhere make Switchyard republish.
    let accepted = 0;
    const buyers = Array.from({ length: 30 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 15));
      if (placeOrder(shop, { lines: [{ variantId: v.id, quantity: 1 }], shipping: 'standard' }).ok) accepted++;
    });
    const churn = (async () => {
      for (let i = 0; i < 10; i++) {
        await api('POST', '/api/v1/inventory/variances', {
          facility: storeCodes[2],
          sku: v.sku,
          kind: 'found',
          quantity: 1,
          reason: 'churn',
        });
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    await Promise.all([...buyers, churn]);
    await settle();
    expect(accepted).toBe(online);
    expect(shop.level(v.inventoryItemId, wh)!.quantities.available).toBe(0);
    expect((await compareWithShopify()).filter((c) => c.shopify !== c.target)).toEqual([]);
  }, 90_000);
});
