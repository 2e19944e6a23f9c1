// The fulfilment loop end to end against the simulated Shopify: orders routed to stores and
// warehouses are picked, packed and shipped (partly and fully) through the store work API, pickups
// are prepared and handed over, some orders are cancelled in Shopify mid-way and some fulfilled in
// Shopify directly. Afterwards Shopify holds exactly one fulfilment per shipment with its tracking,
// every pickup was prepared before it was fulfilled, and inventory agrees in Switchyard and Shopify.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import { NO_FAULTS } from '../src/simulator/server.js';
import { cancelOrder, createFulfillment, placeOrder, type SimOrder } from '../src/simulator/orders.js';
import { queryRows } from '../src/platform/db/rows.js';
import { compareCountersWithLedger, publishedPairs, publishTargets } from '../src/domains/inventory/index.js';

// 500 orders on PostgreSQL (the acceptance figure); 150 on the embedded database keeps CI short
// (FULFILLMENT_E2E_ORDERS=500 runs the full size there too, in about 90 s).
const ORDERS = Number(process.env['FULFILLMENT_E2E_ORDERS'] ?? (backend === 'postgres' ? 500 : 150));

let c: Connected;

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 41, products: 40, stores: 4, plan: 'enterprise', bucketFactor: 50 });
  const facilities = (await c.api('GET', '/api/v1/facilities')).body.facilities as Array<{
    code: string;
    shopifyLocationId: string | null;
    kind: string;
  }>;
  const online = [...c.shop.locations.values()].filter((l) => l.kind === 'warehouse').sort((a, b) => a.id - b.id)[0]!;
  for (const f of facilities.filter((x) => x.shopifyLocationId)) {
    const mode =
      f.shopifyLocationId === `gid://shopify/Location/${online.id}`
        ? 'aggregate'
        : f.kind === 'STORE'
          ? 'mirror'
          : 'none';
    expect((await c.api('PATCH', `/api/v1/facilities/${f.code}`, { publishMode: mode })).status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

// A test that fails mid-way leaves no fault behind to fail the next one too.
afterEach(() => {
  c?.sim.setFaults(c.creds.shop, NO_FAULTS);
});

const num = (gid: string) => Number(gid.split('/').pop());
const gidOf = (o: SimOrder) => `gid://shopify/Order/${o.id}`;

async function ok(method: string, path: string, body?: unknown) {
  const r = await c.api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function routedLines(o: SimOrder) {
  return queryRows<{ id: number; status: string; code: string | null; quantity: number; order_id: number }>(
    c.db(),
    sql`select ol.id, ol.status, f.code, ol.current_quantity as quantity, ol.order_id from order_lines ol join orders o on o.id = ol.order_id
        left join facilities f on f.id = ol.facility_id where o.shopify_order_id = ${gidOf(o)} order by ol.id`,
  );
}

/** One online order of `quantity` units of something the online warehouse holds, once Switchyard routed it. */
async function placeRoutedOrder(quantity: number) {
  const { shop } = c;
  const warehouse = [...shop.locations.values()].filter((l) => l.kind === 'warehouse').sort((a, b) => a.id - b.id)[0]!;
  const v = [...shop.variants.values()].find(
    (x) => (shop.level(x.inventoryItemId, warehouse.id)?.quantities.available ?? 0) >= quantity + 2,
  )!;
  const placed = placeOrder(shop, { lines: [{ variantId: v.id, quantity }], shipping: 'standard' });
  if (!placed.ok) throw new Error(`could not place: ${JSON.stringify(placed.userErrors)}`);
  await c.sim.webhooks(c.creds.shop).idle();
  const line = await waitFor(
    'the order to be routed',
    async () => {
      const lines = await routedLines(placed.value);
      return lines.length === 1 && lines[0]!.status === 'brokered' ? lines[0]! : null;
    },
    60_000,
    200,
  );
  return { order: placed.value, line };
}

async function settle(): Promise<void> {
  await c.sim.webhooks(c.creds.shop).idle();
  try {
    await waitFor(
      'webhooks, events, fulfilment pushes and publishing to settle',
      async () => {
        const [row] = await queryRows<{ n: number }>(
          c.db(),
          sql`select (select count(*)::int from webhook_inbox where status = 'pending') + (select count(*)::int from outbox where status = 'pending')
                   + (select count(*)::int from inventory_publish_queue) + (select count(*)::int from fulfillment_sync)
                   + (select count(*)::int from fulfillment_pushes where status in ('pending', 'sending')) as n`,
        );
        return row!.n === 0;
      },
      120_000,
      200,
    );
  } catch (error) {
    // Say what is left and what the jobs were doing: a timeout alone does not tell a hang from slowness.
    const backlog = await Promise.race([
      queryRows(
        c.db(),
        sql`select (select count(*)::int from webhook_inbox where status = 'pending') as inbox, (select count(*)::int from outbox where status = 'pending') as outbox,
                   (select json_agg(q) from (select variant_id, changed_at, leased_until, leased_by, needs_read from inventory_publish_queue limit 5) q) as publish_queue,
                   (select json_agg(s) from (select * from fulfillment_sync limit 5) s) as fulfillment_sync,
                   (select json_agg(p) from (select id, status, attempts, last_error from fulfillment_pushes where status in ('pending', 'sending') limit 5) p) as pushes,
                   (select json_agg(l) from (select push_id, at, outcome, response from fulfillment_push_log where push_id in (select id from fulfillment_pushes where status in ('pending', 'sending')) order by id desc limit 10) l) as push_log,
                   (select json_agg(l) from (select id, at, method, holder, quantities from inventory_publish_log where outcome = 'sending' limit 5) l) as calls_sending,
                   (select json_agg(r) from (select job_name, status, started_at, heartbeat_at, error from job_runs where status = 'running' or started_at > now() - interval '3 minutes' order by (status = 'running') desc, id desc limit 15) r) as jobs,
                   (select json_agg(r) from (select id, status, started_at, finished_at, error from job_runs where job_name = 'fulfillment.push' and status <> 'succeeded' order by id desc limit 5) r) as push_runs_not_succeeded,
                   (select json_object_agg(job_name, last_slot_at) from job_schedules) as schedule_slots`,
      ),
      new Promise<unknown[]>((resolve) =>
        setTimeout(() => resolve(['the database did not answer within 10 s']), 10_000),
      ),
    ]);
    // And how the calls to Shopify went (a call waiting out THROTTLED or retrying holds its order's claim).
    const calls = await Promise.race([
      c
        .api('GET', '/api/v1/sync/health')
        .then((r) => ({ switchyard: r.body?.api ?? null, credentials: r.body?.credentials ?? null })),
      new Promise((resolve) => setTimeout(() => resolve('sync health did not answer within 10 s'), 10_000)),
    ]).catch((e: unknown) => String(e));
    const simulated = c.sim.stats(c.creds.shop);
    throw new Error(
      `${(error as Error).message}\nleft: ${JSON.stringify(backlog[0])}\nshopify calls: ${JSON.stringify(calls)}\nsimulator: ${JSON.stringify({ calls: simulated.calls, throttled: simulated.throttled, faultsInjected: simulated.faultsInjected })}\nnow: ${new Date().toISOString()}`,
    );
  }
}

/** The ledger recomputes to the counters, and Shopify shows Switchyard's target at every published location. */
async function expectInventoryToAgree(): Promise<void> {
  const { shop } = c;
  expect((await compareCountersWithLedger(c.db())).drift).toEqual([]);
  expect((await c.switchyard.jobs.runHere('inventory.publish-all', 'cli')).status).toBe('succeeded');
  await settle();
  const targets = await publishTargets(c.db(), await publishedPairs(c.db(), 'all'));
  const drift = targets
    .map((t) => ({
      item: t.itemId,
      location: t.locationId,
      target: t.target,
      shopify: shop.level(num(t.itemId), num(t.locationId))!.quantities.available,
    }))
    .filter((d) => d.target !== d.shopify);
  for (const d of drift) {
    // Say why: Shopify's figures, Switchyard's view of them, and the open lines of that item.
    const shadow = await queryRows(
      c.db(),
      sql`select available, committed, on_hand from shopify_inventory_snapshot where shopify_inventory_item_id = ${d.item} and shopify_location_id = ${d.location}`,
    );
    const lines = await queryRows(
      c.db(),
      sql`select o.shopify_order_id, o.shipping_method, o.cancelled_at is not null as cancelled, ol.status, ol.current_quantity, ol.shipped_quantity, ol.shopify_fulfilled_quantity, f.code
            from order_lines ol join orders o on o.id = ol.order_id join variants v on v.id = ol.variant_id left join facilities f on f.id = ol.facility_id
            where v.shopify_inventory_item_id = ${d.item}`,
    );
    const known = targets.find((t) => t.itemId === d.item && t.locationId === d.location)!.knownCommitted;
    console.error(
      'DRIFT',
      JSON.stringify({ ...d, level: shop.level(num(d.item), num(d.location))!.quantities, known, shadow, lines }),
    );
  }
  expect(drift).toEqual([]);
}

describe(`fulfilment loop against Shopify (${backend})`, () => {
  const placed: Array<{ order: SimOrder; pickup: boolean }> = [];
  const cancelled = new Set<number>();
  const fulfilledInShopify = new Set<number>();

  test(`${ORDERS} orders: shipped partly and fully, pickups prepared and handed over, some cancelled mid-way, some fulfilled in Shopify`, async () => {
    const { shop } = c;
    const warehouse = [...shop.locations.values()]
      .filter((l) => l.kind === 'warehouse')
      .sort((a, b) => a.id - b.id)[0]!;
    const stores = [...shop.locations.values()].filter((l) => l.kind === 'store' && l.pickupEnabled);
    const variants = [...shop.variants.values()];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; placed.length < ORDERS && i < ORDERS * 20; i++) {
      const pickup = i % 5 === 4 && stores.length > 0;
      const location = pickup ? stores[rnd(stores.length)]! : warehouse;
      const stocked = variants.filter(
        (v) => (shop.level(v.inventoryItemId, location.id)?.quantities.available ?? 0) >= 3,
      );
      if (stocked.length < 2) continue;
      const a = stocked[rnd(stocked.length)]!;
      const b = stocked[rnd(stocked.length)]!;
      const lines =
        a.id === b.id
          ? [{ variantId: a.id, quantity: 2 }]
          : [
              { variantId: a.id, quantity: 1 + rnd(2) },
              { variantId: b.id, quantity: 1 },
            ];
      const result = placeOrder(shop, {
        lines,
        shipping: pickup ? 'pickup' : i % 10 === 3 ? 'express' : 'standard',
        ...(pickup ? { locationId: location.id } : {}),
      });
      if (result.ok) placed.push({ order: result.value, pickup });
    }
    expect(placed.length).toBe(ORDERS);
    await c.sim.webhooks(c.creds.shop).idle();
    await waitFor(
      'every order to be routed or parked',
      async () => {
        const [row] = await queryRows<{ n: number }>(
          c.db(),
          sql`select count(*)::int as n from order_lines where status in ('created', 'approved')`,
        );
        const [orders] = await queryRows<{ n: number }>(c.db(), sql`select count(*)::int as n from orders`);
        return row!.n === 0 && orders!.n >= ORDERS;
      },
      120_000,
      250,
    );

    // Some answers from Shopify are lost on the way back (the call applied): pushes must not repeat.
    c.sim.setFaults(c.creds.shop, { lostResponseRate: 0.1 });
    const facilitiesUsed = new Set<string>();
    for (const [i, { order, pickup }] of placed.entries()) {
      const lines = await routedLines(order);
      const here = lines.filter((l) => l.status === 'brokered');
      if (here.length === 0) continue;
      const orderId = here[0]!.order_id;
      const scenario = i % 10;
      if (scenario === 7 && !pickup) {
        // The merchant fulfils it in Shopify admin: Switchyard imports it and the store's work closes.
        const fos = shop.orders
          .get(order.id)!
          .fulfillmentOrderIds.map((id) => shop.fulfillmentOrders.get(id)!)
          .filter((fo) => fo.status === 'OPEN');
        const made = createFulfillment(shop, {
          fulfillmentOrders: fos.map((fo) => ({ fulfillmentOrderId: fo.id, lines: null })),
          trackingInfo: { company: 'UPS', number: `SHOP-${order.id}`, url: null },
          notifyCustomer: false,
        });
        if (!made.ok) throw new Error(JSON.stringify(made.userErrors));
        fulfilledInShopify.add(order.id);
        continue;
      }
      // Lines may sit at different facilities (split orders): work each facility's share.
      for (const code of [...new Set(here.map((l) => l.code!))]) {
        facilitiesUsed.add(code);
        const mine = here.filter((l) => l.code === code);
        if (pickup) {
          const s = await ok('POST', `/api/v1/facilities/${code}/shipments`, { order: String(orderId) });
          expect(s).toMatchObject({ kind: 'pickup', status: 'picking' });
          await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/ready`);
          if (scenario === 6) {
            cancelOrder(shop, order.id, { reason: 'CUSTOMER', restock: true });
            cancelled.add(order.id);
            break;
          }
          await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/hand-over`, { to: 'the customer' });
          continue;
        }
        if (scenario === 5 && mine[0]!.quantity >= 2) {
          // Two parcels: one unit first, the rest later.
          const first = await ok('POST', `/api/v1/facilities/${code}/shipments`, {
            order: String(orderId),
            lines: [{ lineId: mine[0]!.id, quantity: 1 }],
          });
          await ok('POST', `/api/v1/facilities/${code}/shipments/${first.id}/pack`, {
            packages: [{ weightGrams: 400 }],
          });
          await ok('POST', `/api/v1/facilities/${code}/shipments/${first.id}/ship`, {
            carrier: 'DHL',
            trackingNumber: `TRK-${first.id}`,
            trackingUrl: `https://track.example/${first.id}`,
          });
        }
        const s = await ok('POST', `/api/v1/facilities/${code}/shipments`, { order: String(orderId) });
        await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/pack`, {
          packages: [{ weightGrams: 900, box: 'M' }],
        });
        if (scenario === 6) {
          // Cancelled in Shopify after packing: the parcel is flagged for putting back, never shipped.
          cancelOrder(shop, order.id, { reason: 'CUSTOMER', restock: true });
          cancelled.add(order.id);
          break;
        }
        await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/ship`, {
          carrier: 'DHL',
          trackingNumber: `TRK-${s.id}`,
          trackingUrl: `https://track.example/${s.id}`,
        });
      }
    }
    expect(facilitiesUsed.size).toBeGreaterThan(1);
    await settle();
    c.sim.setFaults(c.creds.shop, { lostResponseRate: 0 });
    const [found] = await queryRows<{ n: number }>(
      c.db(),
      sql`select count(*)::int as n from fulfillment_push_log where outcome = 'found_existing'`,
    );
    expect(found!.n).toBeGreaterThan(0);

    // Cancelled mid-way: the work left the store (flagged to put back), nothing reached Shopify, stock released.
    for (const id of cancelled) {
      const rows = await queryRows<{ status: string; put_back: Record<string, number>; pushes: number }>(
        c.db(),
        sql`select s.status, s.put_back, (select count(*)::int from fulfillment_pushes p where p.shipment_id = s.id and p.action = 'fulfil') as pushes
            from shipments s join orders o on o.id = s.order_id where o.shopify_order_id = ${`gid://shopify/Order/${id}`}`,
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) {
        expect(r.status).toBe('cancelled');
        expect(Object.values(r.put_back).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        expect(r.pushes).toBe(0);
      }
      expect(shop.orders.get(id)!.fulfillmentIds).toEqual([]);
    }
    const [active] = await queryRows<{ n: number }>(
      c.db(),
      sql`select count(*)::int as n from reservations r join order_lines ol on ol.id = r.order_line_id join orders o on o.id = ol.order_id where r.status = 'active' and o.cancelled_at is not null`,
    );
    expect(active!.n).toBe(0);

    // Fulfilled in Shopify directly: imported once, lines closed, no push of Switchyard's own.
    for (const id of fulfilledInShopify) {
      const rows = await queryRows<{ source: string; status: string; tracking_number: string }>(
        c.db(),
        sql`select s.source, s.status, s.tracking_number from shipments s join orders o on o.id = s.order_id where o.shopify_order_id = ${`gid://shopify/Order/${id}`}`,
      );
      expect(rows).toEqual([{ source: 'shopify', status: 'shipped', tracking_number: `SHOP-${id}` }]);
      expect((await routedLines(shop.orders.get(id)!)).every((l) => l.status === 'shipped')).toBe(true);
    }

    // Exactly one Shopify fulfilment per completed shipment, with its tracking; pickups prepared first.
    const shipments = await queryRows<{
      id: number;
      kind: string;
      status: string;
      source: string;
      tracking_number: string | null;
      shopify_fulfillment_id: string | null;
      order: string;
      units: number;
    }>(
      c.db(),
      sql`select s.id, s.kind, s.status, s.source, s.tracking_number, s.shopify_fulfillment_id, o.shopify_order_id as order,
                 (select sum(quantity)::int from shipment_lines where shipment_id = s.id) as units
          from shipments s join orders o on o.id = s.order_id where s.status in ('shipped', 'handed_over') order by s.id`,
    );
    const simFulfillments = [...shop.fulfillments.values()];
    expect(simFulfillments.length).toBe(shipments.length);
    expect(new Set(shipments.map((s) => s.shopify_fulfillment_id)).size).toBe(shipments.length);
    for (const s of shipments) {
      const f = shop.fulfillments.get(num(s.shopify_fulfillment_id!));
      expect(f, `shipment ${s.id}`).toBeDefined();
      expect(f!.orderId).toBe(num(s.order));
      expect(f!.lines.reduce((a, l) => a + l.quantity, 0)).toBe(s.units);
      if (s.kind === 'ship') expect(f!.trackingInfo[0]?.number).toBe(s.tracking_number);
      if (s.kind === 'pickup') {
        const fo = shop.fulfillmentOrders.get(f!.lines[0]!.fulfillmentOrderId)!;
        expect(fo.preparedForPickupAt).not.toBeNull();
        expect(fo.preparedForPickupAt!.getTime()).toBeLessThanOrEqual(f!.createdAt.getTime());
      }
    }
    expect(shipments.filter((s) => s.kind === 'pickup').length).toBeGreaterThan(0);
    const [failed] = await queryRows<{ n: number }>(
      c.db(),
      sql`select count(*)::int as n from fulfillment_pushes where status <> 'confirmed'`,
    );
    expect(failed!.n).toBe(0);

    await expectInventoryToAgree();
  }, 600_000);

  test('wrong steps, unknown lines and other facilities are refused with a clear error, and change nothing', async () => {
    const { shop } = c;
    const { order: placedOrder, line } = await placeRoutedOrder(2);
    const other = ((await ok('GET', '/api/v1/facilities')).facilities as Array<{ code: string; kind: string }>).find(
      (f) => f.kind !== 'VIRTUAL' && f.code !== line!.code,
    )!.code;
    const state = async () =>
      queryRows(
        c.db(),
        sql`select (select count(*)::int from shipments) as shipments, (select count(*)::int from inventory_ledger) as ledger, (select count(*)::int from fulfillment_pushes) as pushes,
                                   (select string_agg(status || ':' || shipped_quantity, ',' order by id) from order_lines) as lines`,
      );
    const before = await state();

    const expectError = async (
      method: string,
      path: string,
      body: unknown,
      status: number,
      code: string,
      message?: RegExp,
    ) => {
      const r = await c.api(method, path, body);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status, code });
      if (message) expect(r.body.error.message).toMatch(message);
    };
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments`,
      { order: String(line!.order_id), lines: [{ lineId: 999999, quantity: 1 }] },
      404,
      'fulfillment.unknown_line',
      /has no line 999999/,
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments`,
      { order: String(line!.order_id), lines: [{ lineId: line!.id, quantity: 3 }] },
      400,
      'fulfillment.quantity_exceeds_open',
      /has 2 open unit\(s\); asked for 3/,
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${other}/shipments`,
      { order: String(line!.order_id) },
      409,
      'fulfillment.nothing_open',
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${other}/shipments`,
      { order: String(line!.order_id), lines: [{ lineId: line!.id, quantity: 1 }] },
      409,
      'fulfillment.line_not_at_facility',
      new RegExp(`not routed to ${other}`),
    );
    await expectError(
      'POST',
      `/api/v1/facilities/NOPE/shipments`,
      { order: String(line!.order_id) },
      404,
      'fulfillment.unknown_facility',
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments`,
      { order: '99999999' },
      404,
      'orders.unknown_order',
    );
    expect(await state()).toEqual(before);

    const s = await ok('POST', `/api/v1/facilities/${line!.code}/shipments`, { order: String(line!.order_id) });
    const started = await state();
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments/${s.id}/ship`,
      { carrier: 'DHL', trackingNumber: 'X1' },
      409,
      'fulfillment.wrong_state',
      /is picking: it cannot be shipped \(only from packed\)/,
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments/${s.id}/ready`,
      undefined,
      409,
      'fulfillment.wrong_kind',
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments/${s.id}/hand-over`,
      { to: 'someone' },
      409,
      'fulfillment.wrong_kind',
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${other}/shipments/${s.id}/pack`,
      { packages: [{ weightGrams: 100 }] },
      409,
      'fulfillment.wrong_facility',
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments/${s.id}/pack`,
      { packages: [] },
      400,
      'request.invalid',
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments`,
      { order: String(line!.order_id) },
      409,
      'fulfillment.nothing_open',
    );
    expect(await state()).toEqual(started);

    // Cancelled in Shopify: the shipment cannot be shipped any more.
    await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/pack`, { packages: [{ weightGrams: 100 }] });
    cancelOrder(shop, placedOrder.id, { reason: 'CUSTOMER', restock: true });
    await c.sim.webhooks(c.creds.shop).idle();
    await waitFor(
      'the cancellation to reach the shipment',
      async () => (await ok('GET', `/api/v1/facilities/${line!.code}/shipments/${s.id}`)).status === 'cancelled',
      60_000,
      200,
    );
    const gone = await state();
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments/${s.id}/ship`,
      { carrier: 'DHL', trackingNumber: 'X2' },
      409,
      'fulfillment.wrong_state',
      /is cancelled/,
    );
    await expectError(
      'POST',
      `/api/v1/facilities/${line!.code}/shipments`,
      { order: String(line!.order_id) },
      409,
      'fulfillment.order_cancelled',
    );
    expect(await state()).toEqual(gone);
    const view = await ok('GET', `/api/v1/facilities/${line!.code}/shipments/${s.id}`);
    expect(view.putBack).toEqual({ [String(line!.id)]: 2 });
    expect((await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/put-back-done`)).putBack).toEqual({});
  }, 120_000);

  test('a push whose prompt request was lost goes out with the batch sweep, once', async () => {
    const { shop } = c;
    const { order: placed, line } = await placeRoutedOrder(1);
    // Shopify is down while the parcel ships: the push cannot go and waits for a retry.
    c.sim.setFaults(c.creds.shop, { errorRate: 1 });
    const s = await ok('POST', `/api/v1/facilities/${line!.code}/shipments`, { order: String(line!.order_id) });
    await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/pack`, { packages: [{ weightGrams: 100 }] });
    await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/ship`, {
      carrier: 'DHL',
      trackingNumber: `SWEEP-${s.id}`,
    });
    await waitFor(
      'a failed attempt to set a retry',
      async () => {
        const [row] = await queryRows<{ due_at: Date; leased_until: Date | null }>(
          c.db(),
          sql`select due_at, leased_until from fulfillment_sync where order_id = ${line!.order_id}`,
        );
        return row && row.leased_until === null && row.due_at.getTime() > Date.now() ? row : null;
      },
      60_000,
      100,
    );
    // The request is lost (a bug, a restore from backup): nothing would ask for this order again.
    await c.db().execute(sql`delete from fulfillment_sync where order_id = ${line!.order_id}`);
    c.sim.setFaults(c.creds.shop, { errorRate: 0 });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await ok('GET', `/api/v1/facilities/${line!.code}/shipments/${s.id}`)).shopify[0].status).not.toBe(
      'confirmed',
    );
    expect((await c.switchyard.jobs.runHere('fulfillment.sweep', 'cli')).counts).toEqual({ orders: 1 });
    await settle();
    expect((await ok('GET', `/api/v1/facilities/${line!.code}/shipments/${s.id}`)).shopify[0].status).toBe('confirmed');
    expect(shop.orders.get(placed.id)!.fulfillmentIds).toHaveLength(1);
  }, 120_000);

  test('settings: fulfilment orders moved to the routed store, uncollected pickups cancelled (restocked or returned to stock); bad settings refused', async () => {
    const { shop } = c;
    const bad = await c.api('PATCH', '/api/v1/fulfillment/settings', {
      fulfillmentOrderLocation: 'teleport',
      pickupExpiryDays: 0,
      colour: 'red',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.problems.map((p: { path: string }) => p.path)).toEqual([
      'colour',
      'fulfillmentOrderLocation',
      'pickupExpiryDays',
    ]);
    expect((await ok('GET', '/api/v1/fulfillment/settings')).fulfillmentOrderLocation).toBe('keep');
    await ok('PATCH', '/api/v1/fulfillment/settings', { fulfillmentOrderLocation: 'move', pickupExpiryDays: 2 });

    // Orders placed online, routed to stores, shipped from there: Shopify's fulfilment is made at the store.
    const stores = [...shop.locations.values()].filter((l) => l.kind === 'store');
    const warehouse = [...shop.locations.values()]
      .filter((l) => l.kind === 'warehouse')
      .sort((a, b) => a.id - b.id)[0]!;
    const storeFacility = new Map(
      (
        (await ok('GET', '/api/v1/facilities')).facilities as Array<{ code: string; shopifyLocationId: string | null }>
      ).map((f) => [f.code, f.shopifyLocationId]),
    );
    const movedShipments: Array<{ id: number; location: string }> = [];
    // Customers living next to a store: routing sends their orders there (Shopify put them at the warehouse).
    const fresh: SimOrder[] = [];
    for (const store of stores) {
      const v = [...shop.variants.values()].find(
        (x) =>
          (shop.level(x.inventoryItemId, store.id)?.quantities.available ?? 0) >= 5 &&
          (shop.level(x.inventoryItemId, warehouse.id)?.quantities.available ?? 0) >= 5,
      );
      if (!v) continue;
      const placed = placeOrder(shop, {
        lines: [{ variantId: v.id, quantity: 1 }],
        shipping: 'standard',
        address: { ...store.address, firstName: 'Near', lastName: 'Store' },
      });
      if (placed.ok) fresh.push(placed.value);
    }
    await c.sim.webhooks(c.creds.shop).idle();
    await waitFor(
      'the new orders to be routed',
      async () =>
        (await Promise.all(fresh.map(routedLines))).every(
          (l) => l.length > 0 && l.every((x) => x.status === 'brokered'),
        ),
      60_000,
      200,
    );
    for (const order of fresh) {
      const lines = await routedLines(order);
      const atStore = lines.filter(
        (l) =>
          l.status === 'brokered' &&
          stores.some((s) => `gid://shopify/Location/${s.id}` === storeFacility.get(l.code!)),
      );
      const fo = shop.fulfillmentOrders.get(order.fulfillmentOrderIds[0]!)!;
      if (
        atStore.length === 0 ||
        lines.some((l) => l.status !== 'brokered') ||
        fo.deliveryMethod !== 'SHIPPING' ||
        fo.assignedLocationId !== warehouse.id
      )
        continue;
      const code = atStore[0]!.code!;
      if (atStore.some((l) => l.code !== code)) continue;
      const s = await ok('POST', `/api/v1/facilities/${code}/shipments`, { order: String(atStore[0]!.order_id) });
      await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/pack`, { packages: [{ weightGrams: 300 }] });
      await ok('POST', `/api/v1/facilities/${code}/shipments/${s.id}/ship`, {
        carrier: 'UPS',
        trackingNumber: `MOVE-${s.id}`,
      });
      movedShipments.push({ id: s.id, location: storeFacility.get(code)! });
      if (movedShipments.length === 3) break;
    }
    expect(movedShipments.length).toBeGreaterThan(0);
    await settle();
    for (const m of movedShipments) {
      const view = await ok(
        'GET',
        `/api/v1/facilities/${(await queryRows<{ code: string }>(c.db(), sql`select f.code from shipments s join facilities f on f.id = s.facility_id where s.id = ${m.id}`))[0]!.code}/shipments/${m.id}`,
      );
      expect(view.shopify[0].status).toBe('confirmed');
      expect(`gid://shopify/Location/${shop.fulfillments.get(num(view.shopify[0].fulfillmentId))!.locationId}`).toBe(
        m.location,
      );
    }
    await expectInventoryToAgree();

    // Pickups ready but not collected: after the setting's days, cancelled in Shopify once.
    const pickups: Array<{ order: SimOrder; shipmentId: number; code: string }> = [];
    for (const action of ['cancel_restock', 'cancel_return_to_stock'] as const) {
      const store = stores.find((l) => l.pickupEnabled)!;
      const v = [...shop.variants.values()].find(
        (x) => (shop.level(x.inventoryItemId, store.id)?.quantities.available ?? 0) >= 2,
      )!;
      const placed = placeOrder(shop, {
        lines: [{ variantId: v.id, quantity: 1 }],
        shipping: 'pickup',
        locationId: store.id,
      });
      if (!placed.ok) throw new Error(JSON.stringify(placed.userErrors));
      await c.sim.webhooks(c.creds.shop).idle();
      await waitFor(
        'the pickup to be routed',
        async () => (await routedLines(placed.value)).some((l) => l.status === 'brokered'),
        60_000,
        200,
      );
      const [line] = await routedLines(placed.value);
      const s = await ok('POST', `/api/v1/facilities/${line!.code}/shipments`, { order: String(line!.order_id) });
      await ok('POST', `/api/v1/facilities/${line!.code}/shipments/${s.id}/ready`);
      await settle();
      // Ready three days ago (the setting says two): moved back in time rather than waiting.
      await c.db().execute(sql`update shipments set ready_at = now() - interval '3 days' where id = ${s.id}`);
      await ok('PATCH', '/api/v1/fulfillment/settings', { pickupExpiryAction: action });
      expect((await c.switchyard.jobs.runHere('fulfillment.pickup-expiry', 'cli')).status).toBe('succeeded');
      // Run again at once: nothing is cancelled twice.
      const second = await c.switchyard.jobs.runHere('fulfillment.pickup-expiry', 'cli');
      expect(second.counts).toEqual({});
      expect(shop.orders.get(placed.value.id)!.cancelledAt).not.toBeNull();
      pickups.push({ order: placed.value, shipmentId: s.id, code: line!.code! });
    }
    await settle();
    for (const p of pickups) {
      const view = await ok('GET', `/api/v1/facilities/${p.code}/shipments/${p.shipmentId}`);
      expect(view.status).toBe('cancelled');
      expect(Object.values(view.putBack as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(1);
      expect(shop.orders.get(p.order.id)!.fulfillmentIds).toEqual([]);
    }
    await expectInventoryToAgree();
  }, 300_000);
});
