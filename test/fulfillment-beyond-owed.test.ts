// Units must not leave a store that Shopify no longer owes the customer. An order edited, refunded or
// cancelled in Shopify whose webhook was lost: before the parcel ships, Switchyard asks Shopify,
// takes the change and refuses the step until the extra units are out. When it could not ask
// (Shopify did not answer), the parcel goes, the push tells Shopify only what it still owes, and the
// rest is recorded as an exception the store sees, with a metric.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import { NO_FAULTS } from '../src/simulator/server.js';
import { NO_WEBHOOK_FAULTS } from '../src/simulator/webhooks.js';
import { cancelOrder, placeOrder, refund, type SimOrder } from '../src/simulator/orders.js';
import { queryRows } from '../src/platform/db/rows.js';

let c: Connected;
let warehouse: { id: number; code: string };

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 61, products: 12, stores: 2, plan: 'enterprise', bucketFactor: 50 });
  const online = [...c.shop.locations.values()].filter((l) => l.kind === 'warehouse').sort((a, b) => a.id - b.id)[0]!;
  const facilities = (await c.api('GET', '/api/v1/facilities')).body.facilities as Array<{
    code: string;
    shopifyLocationId: string | null;
  }>;
  warehouse = {
    id: online.id,
    code: facilities.find((f) => f.shopifyLocationId === `gid://shopify/Location/${online.id}`)!.code,
  };
}, 120_000);
afterAll(async () => {
  await c?.close();
}, 120_000);
afterEach(() => {
  c?.sim.setFaults(c.creds.shop, NO_FAULTS);
  c?.sim.setWebhookFaults(c.creds.shop, NO_WEBHOOK_FAULTS);
});

async function ok(method: string, path: string, body?: unknown) {
  const r = await c.api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** An order of 3 units of one item, routed to the warehouse, picked and packed there. */
async function packedParcel(): Promise<{ order: SimOrder; orderId: number; shipmentId: number; lineItemId: number }> {
  const v = [...c.shop.variants.values()].find(
    (x) => (c.shop.level(x.inventoryItemId, warehouse.id)?.quantities.available ?? 0) >= 6,
  )!;
  const placed = placeOrder(c.shop, { lines: [{ variantId: v.id, quantity: 3 }], shipping: 'standard' });
  if (!placed.ok) throw new Error(JSON.stringify(placed.userErrors));
  await c.sim.webhooks(c.creds.shop).idle();
  const orderId = await waitFor(
    'the order to be routed',
    async () => {
      const [row] = await queryRows<{ order_id: number; status: string; code: string | null }>(
        c.db(),
        sql`select ol.order_id, ol.status, f.code from order_lines ol join orders o on o.id = ol.order_id left join facilities f on f.id = ol.facility_id
          where o.shopify_order_id = ${`gid://shopify/Order/${placed.value.id}`}`,
      );
      return row?.status === 'brokered' && row.code === warehouse.code ? row.order_id : null;
    },
    60_000,
    200,
  );
  const shipment = await ok('POST', `/api/v1/facilities/${warehouse.code}/shipments`, { order: String(orderId) });
  await ok('POST', `/api/v1/facilities/${warehouse.code}/shipments/${shipment.id}/pack`, {
    packages: [{ weightGrams: 900 }],
  });
  return { order: placed.value, orderId, shipmentId: shipment.id, lineItemId: placed.value.lineItems[0]!.id };
}

/** Shopify's fulfilments of the order: units per fulfilment. */
const shopifyFulfilled = (order: SimOrder) =>
  [...c.shop.fulfillments.values()]
    .filter((f) => f.orderId === order.id && f.status === 'SUCCESS')
    .map((f) => f.lines.reduce((n, l) => n + l.quantity, 0));

describe(`units Shopify no longer owes (${backend})`, () => {
  test('a refund Switchyard missed is found before the parcel ships: the step is refused, the change taken, the parcel shrunk; then it ships what is owed', async () => {
    const { order, shipmentId, lineItemId } = await packedParcel();
    // The customer cancels one unit in Shopify; its webhooks are lost.
    c.sim.setWebhookFaults(c.creds.shop, { ...NO_WEBHOOK_FAULTS, dropRate: 1 });
    expect(refund(c.shop, order.id, { lines: [{ lineItemId, quantity: 1, restockType: 'CANCEL' }] }).ok).toBe(true);
    c.sim.setWebhookFaults(c.creds.shop, NO_WEBHOOK_FAULTS);
    const refused = await c.api('POST', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}/ship`, {
      carrier: 'UPS',
      trackingNumber: '1Z-OWED-1',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'fulfillment.no_longer_owed',
      message: expect.stringContaining('3 in it, 2 owed). Switchyard has taken the change: take the extra units out'),
      details: { shipmentId, lines: [expect.objectContaining({ inParcel: 3, owed: 2 })] },
    });
    // Nothing left the building, and the parcel shrinks to what is owed, with the extra unit to put back.
    const shrunk = await waitFor(
      'the parcel to shrink',
      async () => {
        const s = await ok('GET', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}`);
        return s.lines[0]?.quantity === 2 ? s : null;
      },
      30_000,
      200,
    );
    expect(shrunk.status).toBe('packed');
    expect(Object.values(shrunk.putBack)).toEqual([1]);
    const shipped = await ok('POST', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}/ship`, {
      carrier: 'UPS',
      trackingNumber: '1Z-OWED-1',
    });
    expect(shipped.status).toBe('shipped');
    await waitFor('Shopify to have the fulfilment', async () => shopifyFulfilled(order).length === 1, 30_000, 200);
    expect(shopifyFulfilled(order)).toEqual([2]);
    const after = await ok('GET', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}`);
    expect(after.beyondOwed).toEqual([]);
  }, 120_000);

  test('when Shopify does not answer the check, the parcel goes; the push fulfils what is owed and records the rest where the store and the metrics show it', async () => {
    const { order, shipmentId, lineItemId } = await packedParcel();
    c.sim.setWebhookFaults(c.creds.shop, { ...NO_WEBHOOK_FAULTS, dropRate: 1 });
    expect(refund(c.shop, order.id, { lines: [{ lineItemId, quantity: 1, restockType: 'CANCEL' }] }).ok).toBe(true);
    // Shopify is down while the associate ships: the check gives up after a few seconds.
    c.sim.setFaults(c.creds.shop, { ...NO_FAULTS, errorRate: 1 });
    const shipped = await c.api('POST', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}/ship`, {
      carrier: 'UPS',
      trackingNumber: '1Z-OWED-2',
    });
    expect(shipped.status).toBe(200);
    c.sim.setFaults(c.creds.shop, NO_FAULTS);
    c.sim.setWebhookFaults(c.creds.shop, NO_WEBHOOK_FAULTS);
    const view = await waitFor(
      'the push to settle',
      async () => {
        const s = await ok('GET', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}`);
        return s.shopify.some(
          (p: { action: string; status: string }) => p.action === 'fulfil' && p.status === 'confirmed',
        )
          ? s
          : null;
      },
      60_000,
      250,
    );
    expect(view.beyondOwed).toEqual([{ lineId: view.lines[0].lineId, sku: view.lines[0].sku, units: 1 }]);
    expect(shopifyFulfilled(order)).toEqual([2]);
    const work = await ok('GET', `/api/v1/facilities/${warehouse.code}/work`);
    expect(work.shippedBeyondOwed.map((s: { id: number }) => s.id)).toContain(shipmentId);
    const history = await ok('GET', `/api/v1/orders/${view.orderId}/history`);
    expect(history.history.map((h: { kind: string }) => h.kind)).toContain('fulfillment.shipped_beyond_owed');
    const metrics = await (await fetch(`${c.switchyard.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_units_shipped_beyond_owed [1-9]/m);
  }, 120_000);

  test('a push whose call did not apply, then the order changed unheard: the next attempt records the units beyond owed, never loses them', async () => {
    const { order, shipmentId, lineItemId } = await packedParcel();
    // Shopify answers queries but refuses every mutation: the fulfilment call goes out and is refused
    // without an answer Switchyard can trust (the push stays `sending`).
    c.sim.setFaults(c.creds.shop, { ...NO_FAULTS, mutationErrorRate: 1 });
    expect(
      (
        await c.api('POST', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}/ship`, {
          carrier: 'UPS',
          trackingNumber: '1Z-OWED-4',
        })
      ).status,
    ).toBe(200);
    await waitFor(
      'the push to be left sending',
      async () => {
        const s = await ok('GET', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}`);
        return s.shopify.some(
          (p: { action: string; status: string }) => p.action === 'fulfil' && p.status === 'sending',
        );
      },
      30_000,
      100,
    );
    // Meanwhile a unit is cancelled in Shopify, its webhook lost.
    c.sim.setWebhookFaults(c.creds.shop, { ...NO_WEBHOOK_FAULTS, dropRate: 1 });
    expect(refund(c.shop, order.id, { lines: [{ lineItemId, quantity: 1, restockType: 'CANCEL' }] }).ok).toBe(true);
    c.sim.setFaults(c.creds.shop, NO_FAULTS);
    const view = await waitFor(
      'the push to settle',
      async () => {
        const s = await ok('GET', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}`);
        return s.shopify.some(
          (p: { action: string; status: string }) => p.action === 'fulfil' && p.status === 'confirmed',
        )
          ? s
          : null;
      },
      60_000,
      250,
    );
    expect(view.beyondOwed).toEqual([{ lineId: view.lines[0].lineId, sku: view.lines[0].sku, units: 1 }]);
    expect(shopifyFulfilled(order)).toEqual([2]);
  }, 120_000);

  test('an order cancelled in Shopify after its parcel left, unknown to Switchyard: no fulfilment is made, every unit is recorded', async () => {
    const { order, shipmentId } = await packedParcel();
    c.sim.setFaults(c.creds.shop, { ...NO_FAULTS, errorRate: 1 });
    const shipped = await c.api('POST', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}/ship`, {
      carrier: 'UPS',
      trackingNumber: '1Z-OWED-3',
    });
    expect(shipped.status).toBe(200);
    c.sim.setWebhookFaults(c.creds.shop, { ...NO_WEBHOOK_FAULTS, dropRate: 1 });
    expect(cancelOrder(c.shop, order.id, { reason: 'CUSTOMER', restock: true }).ok).toBe(true);
    c.sim.setFaults(c.creds.shop, NO_FAULTS);
    const view = await waitFor(
      'the push to settle',
      async () => {
        const s = await ok('GET', `/api/v1/facilities/${warehouse.code}/shipments/${shipmentId}`);
        return s.shopify.some(
          (p: { action: string; status: string }) => p.action === 'fulfil' && p.status === 'confirmed',
        )
          ? s
          : null;
      },
      60_000,
      250,
    );
    expect(view.beyondOwed).toEqual([{ lineId: view.lines[0].lineId, sku: view.lines[0].sku, units: 3 }]);
    expect(shopifyFulfilled(order)).toEqual([]);
  }, 120_000);
});
