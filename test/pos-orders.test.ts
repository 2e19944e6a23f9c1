// Shopify POS end to end against the simulator, over real HTTP: returns brought to a store raise its
// stock once and Shopify keeps the returned unit on sale (webhooks lost, refunds seen twice, a sale
// hidden by a return); a return without restock moves nothing; a POS sale shipped to the customer
// is routed, worked by the store work API and fulfilled in Shopify, while a counter sale books its
// sale once and is never routed.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import { placeOrder, posSale, refund, type SimOrder } from '../src/simulator/orders.js';
import type { SimLocation, SimVariant } from '../src/simulator/state.js';
import { queryRows } from '../src/platform/db/rows.js';
import {
  compareCountersWithLedger,
  desiredAvailable,
  publishedPairs,
  publishTargets,
} from '../src/domains/inventory/index.js';
import { publishVariants } from '../src/outbound/index.js';
import { makeShopifyClient } from '../src/shopify/client.js';
import { makeLogger } from '../src/platform/logger.js';

let c: Connected;
/** Facility code by Shopify location id (number). */
const codeOf = new Map<number, string>();

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 61, products: 20, stores: 3, plan: 'enterprise', bucketFactor: 20 });
  const facilities = (await c.api('GET', '/api/v1/facilities')).body.facilities as Array<{
    code: string;
    shopifyLocationId: string | null;
    kind: string;
  }>;
  const online = warehouse();
  for (const f of facilities.filter((x) => x.shopifyLocationId)) {
    codeOf.set(num(f.shopifyLocationId!), f.code);
    const mode =
      f.shopifyLocationId === `gid://shopify/Location/${online.id}`
        ? 'aggregate'
        : f.kind === 'STORE'
          ? 'mirror'
          : 'none';
    expect((await c.api('PATCH', `/api/v1/facilities/${f.code}`, { publishMode: mode })).status).toBe(200);
  }
  // The tests run the polls by hand, when a lost webhook's change should be found: their wall-clock
  // slots (:00, :15, :30) must not find it earlier.
  for (const job of ['sync.orders-new', 'sync.orders-updated', 'sync.reconcile', 'sync.inventory-snapshot'])
    await c.switchyard.jobs.setSchedule(job, { enabled: false }, 'test');
  await settle();
}, 120_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

// A test that fails mid-way leaves no fault or switched-off job behind for the next one.
afterEach(async () => {
  c?.sim.setWebhookFaults(c.creds.shop, { dropRate: 0, duplicateRate: 0 });
  await c?.switchyard.jobs.setSchedule('inventory.publish', { enabled: true }, 'test');
});

const num = (gid: string) => Number(gid.split('/').pop());
const warehouse = () =>
  [...c.shop.locations.values()].filter((l) => l.kind === 'warehouse').sort((a, b) => a.id - b.id)[0]!;
const stores = () => [...c.shop.locations.values()].filter((l) => l.kind === 'store').sort((a, b) => a.id - b.id);
const available = (v: SimVariant, l: SimLocation) => c.shop.level(v.inventoryItemId, l.id)!.quantities.available;
const lineGid = (o: SimOrder, index = 0) => `gid://shopify/LineItem/${o.lineItems[index]!.id}`;

async function ok(method: string, path: string, body?: unknown) {
  const r = await c.api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Waits until nothing is left to take in, route, push or publish. */
async function settle(): Promise<void> {
  await c.sim.webhooks(c.creds.shop).idle();
  await waitFor(
    'webhooks, events, routing, fulfilment pushes and publishing to settle',
    async () => {
      const [row] = await queryRows<{ n: number }>(
        c.db(),
        sql`select (select count(*)::int from webhook_inbox where status = 'pending') + (select count(*)::int from outbox where status = 'pending')
                 + (select count(*)::int from inventory_publish_queue) + (select count(*)::int from fulfillment_sync)
                 + (select count(*)::int from fulfillment_pushes where status in ('pending', 'sending'))
                 + (select count(*)::int from order_lines ol join orders o on o.id = ol.order_id
                    where ol.status in ('created', 'approved') and ol.current_quantity > 0 and o.cancelled_at is null
                      and not ol.sold_over_counter and coalesce(o.fulfillment_status, '') <> 'FULFILLED') as n`,
      );
      return row!.n === 0;
    },
    90_000,
    100,
  );
}

async function onHand(v: SimVariant, l: SimLocation): Promise<number> {
  const [row] = await queryRows<{ on_hand: number }>(
    c.db(),
    sql`select l.on_hand from inventory_levels l join variants v on v.id = l.variant_id join facilities f on f.id = l.facility_id
        where v.shopify_variant_id = ${`gid://shopify/ProductVariant/${v.id}`} and f.code = ${codeOf.get(l.id)!}`,
  );
  return row?.on_hand ?? 0;
}

/** Ledger entries of a kind for a variant, oldest first. */
async function entries(kind: string, v: SimVariant) {
  return queryRows<{ key: string; delta: number; facility: string }>(
    c.db(),
    sql`select g.idempotency_key as key, g.delta, f.code as facility from inventory_ledger g join facilities f on f.id = g.facility_id join variants v on v.id = g.variant_id
        where g.kind = ${kind} and v.shopify_variant_id = ${`gid://shopify/ProductVariant/${v.id}`} order by g.id`,
  );
}

/** Published pairs where Shopify's available differs from what Switchyard wants there. */
async function drift() {
  const targets = await publishTargets(c.db(), await publishedPairs(c.db(), 'all'));
  return targets
    .map((t) => {
      const level = c.shop.level(num(t.itemId), num(t.locationId))!.quantities;
      return {
        item: t.itemId,
        location: t.locationId,
        shopify: level.available,
        wanted: desiredAvailable(t.target, level.committed, t.knownCommitted).desired,
      };
    })
    .filter((d) => d.shopify !== d.wanted);
}

/** A variant the store holds at least `units` of, not used by an earlier test. */
const used = new Set<number>();
function stocked(at: SimLocation, units: number): SimVariant {
  const v = [...c.shop.variants.values()].find(
    (x) =>
      !used.has(x.id) &&
      available(x, at) >= units &&
      c.shop.level(x.inventoryItemId, at.id)!.quantities.committed === 0,
  );
  if (!v) throw new Error(`no variant with ${units} units at ${at.name}`);
  used.add(v.id);
  return v;
}

function expectOk<T>(result: { ok: true; value: T } | { ok: false; userErrors: unknown }): T {
  if (!result.ok) throw new Error(JSON.stringify(result.userErrors));
  return result.value;
}

const returnEntryKey = (r: { lines: Array<{ id: number }> }) =>
  `return_restock:gid://shopify/RefundLineItem/${r.lines[0]!.id}`;

describe(`POS returns and ship-to-customer sales (${backend})`, () => {
  test('a unit returned at a mirrored store is on hand there once, and Shopify keeps it on sale', async () => {
    const [store] = stores();
    const v = stocked(store!, 3);
    const sale = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 2 }] }));
    await settle();
    const before = await onHand(v, store!);
    const back = expectOk(
      refund(c.shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store!.id }],
      }),
    );
    const shown = available(v, store!);
    await settle();
    expect(await onHand(v, store!)).toBe(before + 1);
    expect(await entries('return_restock', v)).toEqual([
      { key: returnEntryKey(back), delta: 1, facility: codeOf.get(store!.id) },
    ]);
    // Shopify had put the unit back on sale itself; Switchyard agrees and does not take it away.
    expect(available(v, store!)).toBe(shown);
    expect(await drift()).toEqual([]);
    expect((await compareCountersWithLedger(c.db())).drift).toEqual([]);
  }, 90_000);

  test('with every webhook of the return lost, the poll finds it; seen again (poll, reconciliation, duplicate webhooks) it counts once', async () => {
    const [, store] = stores();
    const v = stocked(store!, 4);
    const sale = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 3 }] }));
    await settle();
    const before = await onHand(v, store!);
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 1 });
    const lost = expectOk(
      refund(c.shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store!.id }],
      }),
    );
    await c.sim.webhooks(c.creds.shop).idle();
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 0 });
    expect(await onHand(v, store!)).toBe(before);
    expect((await c.switchyard.jobs.runHere('sync.orders-updated', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand(v, store!)).toBe(before + 1);
    // The same refund again, through every other path.
    expect((await c.switchyard.jobs.runHere('sync.orders-updated', 'cli')).status).toBe('succeeded');
    expect((await c.switchyard.jobs.runHere('sync.reconcile', 'cli')).status).toBe('succeeded');
    c.sim.setWebhookFaults(c.creds.shop, { duplicateRate: 1 });
    const twice = expectOk(
      refund(c.shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store!.id }],
      }),
    );
    await settle();
    c.sim.setWebhookFaults(c.creds.shop, { duplicateRate: 0 });
    expect((await c.switchyard.jobs.runHere('sync.orders-updated', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand(v, store!)).toBe(before + 2);
    expect((await entries('return_restock', v)).map((e) => [e.key, e.delta])).toEqual([
      [returnEntryKey(lost), 1],
      [returnEntryKey(twice), 1],
    ]);
    expect(await drift()).toEqual([]);
    expect((await compareCountersWithLedger(c.db())).drift).toEqual([]);
  }, 120_000);

  test('a counter sale first seen with its return already made (its own webhooks lost) books the sale and the return, once each', async () => {
    const [store] = stores();
    const v = stocked(store!, 3);
    const before = await onHand(v, store!);
    const shown = available(v, store!);
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 1 });
    const sale = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 2 }] }));
    await c.sim.webhooks(c.creds.shop).idle();
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 0 });
    const back = expectOk(
      refund(c.shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store!.id }],
      }),
    );
    await settle();
    expect((await entries('pos_sale', v)).map((e) => [e.key, e.delta])).toEqual([[`pos_sale:${lineGid(sale)}`, -2]]);
    expect((await entries('return_restock', v)).map((e) => [e.key, e.delta])).toEqual([[returnEntryKey(back), 1]]);
    expect(await onHand(v, store!)).toBe(before - 1);
    expect(available(v, store!)).toBe(shown - 1);
    expect(await drift()).toEqual([]);
  }, 90_000);

  test("a sale hidden by a return (Shopify's on hand did not move) is still held back until its order arrives", async () => {
    // One unit sold earlier comes back while another is sold and its order is still on its way:
    // Shopify's on hand at the store is what it was. Knowing of the return, Switchyard sees the sale.
    const [, , store] = stores();
    const v = stocked(store!, 4);
    const first = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 1 }] }));
    await settle();
    const start = await onHand(v, store!);
    const shown = available(v, store!);
    await c.switchyard.jobs.setSchedule('inventory.publish', { enabled: false }, 'test');
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 1 });
    expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 1 }] }));
    await c.sim.webhooks(c.creds.shop).idle();
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 0 });
    // The return comes a little later than the publisher's last look at this level.
    await new Promise((r) => setTimeout(r, 1_500));
    const back = expectOk(
      refund(c.shop, first.id, {
        lines: [{ lineItemId: first.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store!.id }],
      }),
    );
    await c.sim.webhooks(c.creds.shop).idle();
    await waitFor('the return on hand', async () => (await entries('return_restock', v)).length === 1, 30_000, 100);
    expect(await onHand(v, store!)).toBe(start + 1);
    expect(available(v, store!)).toBe(shown);
    await c.switchyard.jobs.setSchedule('inventory.publish', { enabled: true }, 'test');
    await settle();
    // The unit sold is not put back on sale: Shopify still shows one unit fewer than Switchyard counts.
    expect(available(v, store!)).toBe(shown);
    const shadow = async () =>
      (
        await queryRows<{ unexplained_since: Date | null }>(
          c.db(),
          sql`select unexplained_since from shopify_inventory_snapshot where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`} and shopify_location_id = ${`gid://shopify/Location/${store!.id}`}`,
        )
      )[0]!.unexplained_since;
    expect(await shadow()).not.toBeNull();
    // The sale's order arrives: everything is explained, nothing was taken for an edit in Shopify.
    expect((await c.switchyard.jobs.runHere('sync.orders-new', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand(v, store!)).toBe(start);
    expect(available(v, store!)).toBe(shown);
    const [differences] = await queryRows<{ n: number }>(
      c.db(),
      sql`select count(*)::int as n from inventory_sync_differences where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`}`,
    );
    expect(differences!.n).toBe(0);
    expect(await entries('return_restock', v)).toEqual([
      { key: returnEntryKey(back), delta: 1, facility: codeOf.get(store!.id) },
    ]);
    expect(await drift()).toEqual([]);
  }, 120_000);

  test('a return Shopify applied while the publisher was reading the store (a slow read) is not counted twice', async () => {
    // The publisher starts deciding, the customer's return lands in Shopify, and the publisher's read
    // (slow: retries) already shows it. When Switchyard then learns of the return, the read is known
    // to include it by Shopify's own clock (the level's last change), however late it came back.
    const [store] = stores();
    const v = stocked(store!, 3);
    const sale = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 1 }] }));
    await settle();
    const start = await onHand(v, store!);
    const [ids] = await queryRows<{ variant: number }>(
      c.db(),
      sql`select id as variant from variants where shopify_variant_id = ${`gid://shopify/ProductVariant/${v.id}`}`,
    );
    // Switchyard learns of the return only afterwards (its webhooks lost; the poll run below finds it),
    // so no publish run takes this variant while the slow one is under way.
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 1 });
    const real = makeShopifyClient(
      { shop: c.creds.shop, accessToken: c.creds.accessToken, apiVersion: '2026-07', apiUrl: c.sim.url },
      { logger: makeLogger({ level: 'silent' }) },
    );
    let returned = false;
    const slowRead: typeof real = {
      shop: real.shop,
      tokens: real.tokens,
      budget: real.budget,
      stats: real.stats,
      async request(operation, variables) {
        if (!returned && 'ids' in variables) {
          returned = true;
          await new Promise((r) => setTimeout(r, 1_500));
          expectOk(
            refund(c.shop, sale.id, {
              lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store!.id }],
            }),
          );
          await new Promise((r) => setTimeout(r, 1_500));
        }
        return real.request(operation, variables);
      },
    };
    await publishVariants(
      { db: c.db(), shopify: slowRead, logger: makeLogger({ level: 'silent' }), now: () => new Date() },
      [ids!.variant],
      new Set([ids!.variant]),
    );
    expect(returned).toBe(true);
    await c.sim.webhooks(c.creds.shop).idle();
    c.sim.setWebhookFaults(c.creds.shop, { dropRate: 0 });
    expect((await c.switchyard.jobs.runHere('sync.orders-updated', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand(v, store!)).toBe(start + 1);
    // The returned unit is on sale in Shopify, not held back as a sale on its way.
    const [target] = (await publishTargets(c.db(), await publishedPairs(c.db(), [ids!.variant]))).filter(
      (t) => t.locationId === `gid://shopify/Location/${store!.id}`,
    );
    expect(target!.target).toBe(start + 1);
    expect(available(v, store!)).toBe(start + 1);
    expect(await drift()).toEqual([]);
    const [shadow] = await queryRows<{ unexplained_since: Date | null }>(
      c.db(),
      sql`select unexplained_since from shopify_inventory_snapshot where shopify_inventory_item_id = ${`gid://shopify/InventoryItem/${v.inventoryItemId}`} and shopify_location_id = ${`gid://shopify/Location/${store!.id}`}`,
    );
    expect(shadow!.unexplained_since).toBeNull();
  }, 90_000);

  test("a return without restock is on the order's record and moves no stock", async () => {
    const [store] = stores();
    const v = stocked(store!, 2);
    const sale = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 1 }] }));
    await settle();
    const levels = async () =>
      queryRows(c.db(), sql`select variant_id, facility_id, on_hand, reserved from inventory_levels order by 1, 2`);
    const before = await levels();
    const shown = available(v, store!);
    const kept = expectOk(
      refund(c.shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'NO_RESTOCK' }],
        note: 'damaged',
      }),
    );
    await settle();
    expect(await levels()).toEqual(before);
    expect(available(v, store!)).toBe(shown);
    const order = (await ok('GET', `/api/v1/orders/${encodeURIComponent(`gid://shopify/Order/${sale.id}`)}`)) as {
      id: number;
    };
    const [record] = await queryRows<{
      shopify_refund_line_id: string;
      quantity: number;
      restock_type: string;
      facility_id: number | null;
    }>(
      c.db(),
      sql`select shopify_refund_line_id, quantity, restock_type, facility_id from order_refund_lines where order_id = ${order.id}`,
    );
    expect(record).toEqual({
      shopify_refund_line_id: `gid://shopify/RefundLineItem/${kept.lines[0]!.id}`,
      quantity: 1,
      restock_type: 'NO_RESTOCK',
      facility_id: null,
    });
    const history = (await ok('GET', `/api/v1/orders/${order.id}/history`)) as {
      history: Array<{ kind: string; details: { lines: Array<{ restockType: string }> } }>;
    };
    expect(
      history.history.filter((h) => h.kind === 'order.refunded').map((h) => h.details.lines.map((l) => l.restockType)),
    ).toEqual([['NO_RESTOCK']]);
    expect(await drift()).toEqual([]);
  }, 90_000);

  test("an online order shipped from one facility and returned at a store: the store's stock rises, the shipping facility's does not", async () => {
    const wh = warehouse();
    const v = [...c.shop.variants.values()].find((x) => !used.has(x.id) && available(x, wh) >= 3)!;
    used.add(v.id);
    const order = expectOk(placeOrder(c.shop, { lines: [{ variantId: v.id, quantity: 1 }], shipping: 'standard' }));
    await settle();
    const [line] = await queryRows<{ id: number; order_id: number; code: string }>(
      c.db(),
      sql`select ol.id, ol.order_id, f.code from order_lines ol join facilities f on f.id = ol.facility_id where ol.shopify_line_item_id = ${lineGid(order)} and ol.status = 'brokered'`,
    );
    const from = [...c.shop.locations.values()].find((l) => codeOf.get(l.id) === line!.code)!;
    // The customer brings it to a store it did not leave from.
    const store = stores().find((l) => l.id !== from.id)!;
    const s = await ok('POST', `/api/v1/facilities/${line!.code}/shipments`, { order: String(line!.order_id) });
    await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/pack`, { packages: [{ weightGrams: 500 }] });
    await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/ship`, {
      carrier: 'UPS',
      trackingNumber: `RET-${s.id}`,
    });
    await settle();
    expect(c.shop.orders.get(order.id)!.fulfillmentIds).toHaveLength(1);
    const [shipped, atStore] = [await onHand(v, from), await onHand(v, store)];
    const back = expectOk(
      refund(c.shop, order.id, {
        lines: [{ lineItemId: order.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: store.id }],
      }),
    );
    await settle();
    expect(await onHand(v, store)).toBe(atStore + 1);
    expect(await onHand(v, from)).toBe(shipped);
    expect(await entries('return_restock', v)).toEqual([
      { key: returnEntryKey(back), delta: 1, facility: codeOf.get(store.id) },
    ]);
    expect(await drift()).toEqual([]);
    expect((await compareCountersWithLedger(c.db())).drift).toEqual([]);
  }, 90_000);

  test('a POS sale shipped to the customer is routed, worked through the store work API and fulfilled in Shopify; its counter line books a sale once and is not routed', async () => {
    const [store] = stores();
    const wh = warehouse();
    const taken = stocked(store!, 2);
    const sent = [...c.shop.variants.values()].find((x) => !used.has(x.id) && available(x, wh) >= 3)!;
    used.add(sent.id);
    const [onShelf] = [await onHand(taken, store!)];
    const near = stores()[1]!;
    const sale = expectOk(
      posSale(c.shop, {
        locationId: store!.id,
        lines: [
          { variantId: taken.id, quantity: 1 },
          { variantId: sent.id, quantity: 2, ship: true },
        ],
        shipTo: { ...near.address, firstName: 'Sam', lastName: 'Lee' },
      }),
    );
    await settle();
    const lines = await queryRows<{
      id: number;
      order_id: number;
      sold_over_counter: boolean;
      status: string;
      code: string | null;
      reserved: number;
    }>(
      c.db(),
      sql`select ol.id, ol.order_id, ol.sold_over_counter, ol.status, f.code,
                 coalesce((select sum(r.quantity) from reservations r where r.order_line_id = ol.id and r.status = 'active'), 0)::int as reserved
          from order_lines ol left join facilities f on f.id = ol.facility_id where ol.shopify_line_item_id in (${lineGid(sale, 0)}, ${lineGid(sale, 1)}) order by ol.id`,
    );
    expect(lines.map((l) => [l.sold_over_counter, l.status, l.reserved])).toEqual([
      [true, 'created', 0],
      [false, 'brokered', 2],
    ]);
    // The counter line left the store's shelf once; the shipped one did not.
    expect(await onHand(taken, store!)).toBe(onShelf - 1);
    expect((await entries('pos_sale', taken)).map((e) => [e.key, e.delta, e.facility])).toEqual([
      [`pos_sale:${lineGid(sale, 0)}`, -1, codeOf.get(store!.id)],
    ]);
    expect(await entries('pos_sale', sent)).toEqual([]);
    // The routed facility ships it; Shopify gets one fulfilment of those units, on the shipping fulfilment order.
    const code = lines[1]!.code!;
    const from = [...c.shop.locations.values()].find((l) => codeOf.get(l.id) === code)!;
    const before = await onHand(sent, from);
    const work = (await ok('GET', `/api/v1/facilities/${code}/work`)) as { open: Array<{ orderId: number }> };
    expect(work.open.map((o) => o.orderId)).toContain(lines[1]!.order_id);
    const s = await ok('POST', `/api/v1/facilities/${code}/shipments`, { order: String(lines[1]!.order_id) });
    expect(s.lines.map((l: { lineId: number; quantity: number }) => [l.lineId, l.quantity])).toEqual([
      [lines[1]!.id, 2],
    ]);
    await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/pack`, { packages: [{ weightGrams: 700 }] });
    await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/ship`, {
      carrier: 'UPS',
      trackingNumber: `POS-${s.id}`,
    });
    await settle();
    expect(await onHand(sent, from)).toBe(before - 2);
    const order = c.shop.orders.get(sale.id)!;
    const fulfilments = order.fulfillmentIds.map((id) => c.shop.fulfillments.get(id)!);
    const shipping = order.fulfillmentOrderIds
      .map((id) => c.shop.fulfillmentOrders.get(id)!)
      .find((fo) => fo.deliveryMethod === 'SHIPPING')!;
    expect(
      fulfilments.map((f) => [
        f.lines.map((l) => [l.fulfillmentOrderId, l.lineItemId, l.quantity]),
        f.trackingInfo[0]?.number ?? null,
      ]),
    ).toEqual([
      [[[order.fulfillmentOrderIds[0]!, order.lineItems[0]!.id, 1]], null],
      [[[shipping.id, order.lineItems[1]!.id, 2]], `POS-${s.id}`],
    ]);
    expect(shipping.status).toBe('CLOSED');
    // The counter sale's own fulfilment is not taken for a shipment made in Shopify.
    const shipments = await queryRows<{ source: string; status: string }>(
      c.db(),
      sql`select source, status from shipments where order_id = ${lines[1]!.order_id}`,
    );
    expect(shipments).toEqual([{ source: 'store', status: 'shipped' }]);
    expect(await entries('pos_sale', taken)).toHaveLength(1);
    expect(await drift()).toEqual([]);
    expect((await compareCountersWithLedger(c.db())).drift).toEqual([]);
  }, 120_000);

  test('a counter sale read again by the poll books its sale once and is never routed', async () => {
    const [, store] = stores();
    const v = stocked(store!, 2);
    const before = await onHand(v, store!);
    const sale = expectOk(posSale(c.shop, { locationId: store!.id, lines: [{ variantId: v.id, quantity: 1 }] }));
    await settle();
    expect((await c.switchyard.jobs.runHere('sync.orders-new', 'cli')).status).toBe('succeeded');
    expect((await c.switchyard.jobs.runHere('sync.reconcile', 'cli')).status).toBe('succeeded');
    await settle();
    expect(await onHand(v, store!)).toBe(before - 1);
    const [line] = await queryRows<{ sold_over_counter: boolean; status: string; facility_id: number | null }>(
      c.db(),
      sql`select sold_over_counter, status, facility_id from order_lines where shopify_line_item_id = ${lineGid(sale)}`,
    );
    expect(line).toEqual({ sold_over_counter: true, status: 'created', facility_id: null });
    const [reservations] = await queryRows<{ n: number }>(
      c.db(),
      sql`select count(*)::int as n from reservations r join order_lines ol on ol.id = r.order_line_id where ol.shopify_line_item_id = ${lineGid(sale)}`,
    );
    expect(reservations!.n).toBe(0);
    expect(await drift()).toEqual([]);
  }, 90_000);
});
