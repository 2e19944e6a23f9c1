// Orders in the simulator: Shopify's own inventory behaviour, order queries and mutations through the
// official client, and webhook deliveries checked by the official @shopify/shopify-api validator.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import '@shopify/shopify-api/adapters/node';
import { ApiVersion, shopifyApi } from '@shopify/shopify-api';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { officialClient } from '../../test/support/simulator.js';
import {
  cancelOrder,
  createFulfillment,
  editOrder,
  moveFulfillmentOrder,
  placeOrder,
  posSale,
  refund,
  type SimOrder,
} from './orders.js';
import { startSimulator, type ShopCredentials, type Simulator } from './server.js';
import { gid, onHand, type SimInventoryLevel, type SimShop } from './state.js';
import { MAX_DELIVERIES_IN_FLIGHT } from './webhooks.js';
import {
  INVENTORY_LEVELS_UPDATE_CAPTURED,
  INVENTORY_LEVELS_UPDATE_DOCS_2024_04,
} from '../../test/fixtures/shopify-webhook-samples.js';

let sim: Simulator;
let creds: ShopCredentials;
let shop: SimShop;

beforeAll(async () => {
  sim = await startSimulator({ webhookTimeScale: 0.0005 });
  creds = sim.createShop({ seed: 21, products: 12, stores: 3 });
  shop = sim.shop(creds.shop);
});
afterAll(() => sim.close());

const client = () => officialClient(sim.url, creds);
const warehouse = () => [...shop.locations.values()].find((l) => l.kind === 'warehouse')!;
const store = () => [...shop.locations.values()].find((l) => l.kind === 'store')!;

function stockedVariant(locationId: number, atLeast = 5) {
  for (const variant of shop.variants.values()) {
    const level = shop.level(variant.inventoryItemId, locationId)!;
    if (level.quantities.available >= atLeast) return { variant, level };
  }
  throw new Error('no stocked variant');
}

function expectOk<T>(result: { ok: true; value: T } | { ok: false; userErrors: unknown }): T {
  if (!result.ok) throw new Error(JSON.stringify(result.userErrors));
  return result.value;
}

describe("Shopify's own inventory behaviour", () => {
  test('an online order moves units from available to committed at its location', () => {
    const { variant, level } = stockedVariant(warehouse().id);
    const before = { ...level.quantities };
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 2 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    expect(level.quantities.available).toBe(before.available - 2);
    expect(level.quantities.committed).toBe(before.committed + 2);
    expect(onHand(level.quantities)).toBe(onHand(before));
    expect(shop.fulfillmentOrders.get(order.fulfillmentOrderIds[0]!)).toMatchObject({
      assignedLocationId: warehouse().id,
      deliveryMethod: 'SHIPPING',
      status: 'OPEN',
    });
  });

  test('DENY refuses a shortfall; CONTINUE oversells into negative available', () => {
    const { variant, level } = stockedVariant(warehouse().id, 1);
    const too_many = level.quantities.available + 1;
    const refused = placeOrder(shop, {
      lines: [{ variantId: variant.id, quantity: too_many }],
      shipping: 'standard',
      locationId: warehouse().id,
    });
    expect(refused).toMatchObject({ ok: false, userErrors: [{ code: 'NOT_ENOUGH_STOCK' }] });
    variant.inventoryPolicy = 'CONTINUE';
    expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: too_many }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    expect(level.quantities.available).toBe(-1);
    variant.inventoryPolicy = 'DENY';
  });

  test('a POS sale lowers available and on hand at the store at once, through a RETAIL fulfillment order fulfilled on the spot', () => {
    const { variant, level } = stockedVariant(store().id, 1);
    const before = { ...level.quantities };
    const order = expectOk(posSale(shop, { locationId: store().id, lines: [{ variantId: variant.id, quantity: 1 }] }));
    expect(level.quantities.available).toBe(before.available - 1);
    expect(level.quantities.committed).toBe(before.committed);
    expect(onHand(level.quantities)).toBe(onHand(before) - 1);
    expect(order).toMatchObject({
      sourceName: 'pos',
      retailLocationId: store().id,
      shippingLine: null,
      shippingAddress: null,
    });
    expect(order.closedAt).not.toBeNull();
    expect(order.fulfillmentOrderIds.map((id) => shop.fulfillmentOrders.get(id))).toMatchObject([
      { deliveryMethod: 'RETAIL', assignedLocationId: store().id, status: 'CLOSED' },
    ]);
  });

  test('a POS sale shipped to the customer: a SHIPPING fulfillment order where Shopify assigns it, committed there; the counter lines leave the store', () => {
    const here = store();
    const { variant: taken, level: shelf } = stockedVariant(here.id, 1);
    const shipped = [...shop.variants.values()].find(
      (v) => v.id !== taken.id && (shop.level(v.inventoryItemId, warehouse().id)?.quantities.available ?? 0) >= 2,
    )!;
    const from = shop.level(shipped.inventoryItemId, warehouse().id)!;
    const [shelfBefore, fromBefore] = [{ ...shelf.quantities }, { ...from.quantities }];
    const shipTo = { ...warehouse().address, city: 'Albany', firstName: 'Sam', lastName: 'Lee' };
    const order = expectOk(
      posSale(shop, {
        locationId: here.id,
        lines: [
          { variantId: taken.id, quantity: 1 },
          { variantId: shipped.id, quantity: 2, ship: true },
        ],
        shipTo,
      }),
    );
    expect(shelf.quantities.available).toBe(shelfBefore.available - 1);
    expect(onHand(shelf.quantities)).toBe(onHand(shelfBefore) - 1);
    expect(from.quantities).toMatchObject({ available: fromBefore.available - 2, committed: fromBefore.committed + 2 });
    expect(order).toMatchObject({
      sourceName: 'pos',
      retailLocationId: here.id,
      shippingAddress: { city: 'Albany', firstName: 'Sam' },
      shippingLine: { code: 'STANDARD' },
      closedAt: null,
    });
    const fos = order.fulfillmentOrderIds.map((id) => shop.fulfillmentOrders.get(id)!);
    expect(
      fos.map((fo) => [
        fo.deliveryMethod,
        fo.assignedLocationId,
        fo.status,
        fo.lineItems.map((l) => [l.lineItemId, l.remainingQuantity]),
      ]),
    ).toEqual([
      ['RETAIL', here.id, 'CLOSED', [[order.lineItems[0]!.id, 0]]],
      ['SHIPPING', warehouse().id, 'OPEN', [[order.lineItems[1]!.id, 2]]],
    ]);
    // A line that cannot be shipped from anywhere is refused with its position, and nothing moves.
    const refused = posSale(shop, {
      locationId: here.id,
      lines: [
        { variantId: taken.id, quantity: 1 },
        { variantId: shipped.id, quantity: 10_000, ship: true },
      ],
    });
    expect(refused).toMatchObject({ ok: false, userErrors: [{ code: 'NOT_ENOUGH_STOCK', field: ['lines', '1'] }] });
    expect(shelf.quantities.available).toBe(shelfBefore.available - 1);
  });

  test('partial cancellation (refund, restock CANCEL) returns committed units to available', () => {
    const { variant, level } = stockedVariant(warehouse().id);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 3 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    const before = { ...level.quantities };
    expectOk(
      refund(shop, order.id, { lines: [{ lineItemId: order.lineItems[0]!.id, quantity: 2, restockType: 'CANCEL' }] }),
    );
    expect(order.lineItems[0]).toMatchObject({ quantity: 3, currentQuantity: 1 });
    expect(level.quantities.committed).toBe(before.committed - 2);
    expect(level.quantities.available).toBe(before.available + 2);
    expect(order.cancelledAt).toBeNull();
    expect(order.financialStatus).toBe('PARTIALLY_REFUNDED');
  });

  test('a full cancellation with restock returns units; without restock they leave stock', () => {
    const { variant, level } = stockedVariant(warehouse().id);
    const a = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 2 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    const b = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    const before = { ...level.quantities };
    expectOk(cancelOrder(shop, a.id, { reason: 'CUSTOMER', restock: true }));
    expect(level.quantities.available).toBe(before.available + 2);
    expect(level.quantities.committed).toBe(before.committed - 2);
    expectOk(cancelOrder(shop, b.id, { reason: 'INVENTORY', restock: false }));
    expect(level.quantities.available).toBe(before.available + 2);
    expect(onHand(level.quantities)).toBe(onHand(before) - 1);
    expect(cancelOrder(shop, a.id, { reason: 'CUSTOMER', restock: true })).toMatchObject({ ok: false });
  });

  test('a fulfillment lowers committed and on hand; a return puts units back', () => {
    const { variant, level } = stockedVariant(warehouse().id);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 2 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    const before = { ...level.quantities };
    expectOk(
      createFulfillment(shop, {
        fulfillmentOrders: [{ fulfillmentOrderId: order.fulfillmentOrderIds[0]!, lines: null }],
        trackingInfo: { company: 'UPS', number: '1Z999' },
        notifyCustomer: true,
      }),
    );
    expect(level.quantities.committed).toBe(before.committed - 2);
    expect(onHand(level.quantities)).toBe(onHand(before) - 2);
    const returned = expectOk(
      refund(shop, order.id, { lines: [{ lineItemId: order.lineItems[0]!.id, quantity: 1, restockType: 'RETURN' }] }),
    );
    expect(level.quantities.available).toBe(before.available + 1);
    expect(onHand(level.quantities)).toBe(onHand(before) - 1);
    expect(returned.lines).toMatchObject([{ quantity: 1, restockType: 'RETURN', locationId: warehouse().id }]);
  });

  test("a return restocked at a store moves that store's available and on hand; a return without restock moves nothing; only fulfilled units not refunded yet can be returned", () => {
    const here = store();
    const { variant, level: sold } = stockedVariant(here.id, 3);
    const order = expectOk(posSale(shop, { locationId: here.id, lines: [{ variantId: variant.id, quantity: 3 }] }));
    const line = order.lineItems[0]!;
    const other = [...shop.locations.values()].find(
      (l) => l.kind === 'store' && l.id !== here.id && shop.level(variant.inventoryItemId, l.id),
    )!;
    const elsewhere = shop.level(variant.inventoryItemId, other.id)!;
    const [soldBefore, elsewhereBefore] = [{ ...sold.quantities }, { ...elsewhere.quantities }];
    // Brought back to another store and put back on its shelf.
    const back = expectOk(
      refund(shop, order.id, {
        lines: [{ lineItemId: line.id, quantity: 1, restockType: 'RETURN', locationId: other.id }],
      }),
    );
    expect(elsewhere.quantities).toMatchObject({
      available: elsewhereBefore.available + 1,
      committed: elsewhereBefore.committed,
    });
    expect(onHand(elsewhere.quantities)).toBe(onHand(elsewhereBefore) + 1);
    expect(sold.quantities).toEqual(soldBefore);
    // Refunded, the customer keeps it (or it is not sellable): no stock moves anywhere.
    const kept = expectOk(
      refund(shop, order.id, { lines: [{ lineItemId: line.id, quantity: 1, restockType: 'NO_RESTOCK' }] }),
    );
    expect(elsewhere.quantities.available).toBe(elsewhereBefore.available + 1);
    expect(sold.quantities).toEqual(soldBefore);
    expect(line.currentQuantity).toBe(1);
    expect(back.lines[0]!.id).not.toBe(kept.lines[0]!.id);
    expect(kept.lines).toMatchObject([{ restockType: 'NO_RESTOCK', locationId: null }]);
    // One unit is left with the customer: two cannot come back, nor can unfulfilled units be cancelled.
    expect(
      refund(shop, order.id, { lines: [{ lineItemId: line.id, quantity: 2, restockType: 'RETURN' }] }),
    ).toMatchObject({ ok: false, userErrors: [{ message: expect.stringMatching(/only 1 can be/) }] });
    expect(
      refund(shop, order.id, { lines: [{ lineItemId: line.id, quantity: 1, restockType: 'CANCEL' }] }),
    ).toMatchObject({ ok: false });
    expect(order.financialStatus).toBe('PARTIALLY_REFUNDED');
  });

  test('moving a fulfillment order moves its committed units', () => {
    const target = store();
    const { variant } = stockedVariant(target.id, 2);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 2 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    const from = shop.level(variant.inventoryItemId, warehouse().id)!;
    const to = shop.level(variant.inventoryItemId, target.id)!;
    const [fromBefore, toBefore] = [{ ...from.quantities }, { ...to.quantities }];
    expectOk(moveFulfillmentOrder(shop, order.fulfillmentOrderIds[0]!, target.id, null));
    expect(from.quantities).toMatchObject({ committed: fromBefore.committed - 2, available: fromBefore.available + 2 });
    expect(to.quantities).toMatchObject({ committed: toBefore.committed + 2, available: toBefore.available - 2 });
  });

  test('an order edit removes units (restocked) and adds lines (committed)', () => {
    const { variant, level } = stockedVariant(warehouse().id, 4);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 3 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    const before = { ...level.quantities };
    expectOk(
      editOrder(shop, order.id, {
        remove: [{ lineItemId: order.lineItems[0]!.id, quantity: 1 }],
        add: [{ variantId: variant.id, quantity: 1 }],
      }),
    );
    expect(order.lineItems).toHaveLength(2);
    expect(order.lineItems[0]!.currentQuantity).toBe(2);
    expect(level.quantities).toMatchObject({ available: before.available, committed: before.committed });
  });
});

describe('orders through the official client', () => {
  let order: SimOrder;
  beforeAll(() => {
    const { variant } = stockedVariant(store().id, 2);
    order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'pickup',
        locationId: store().id,
        tags: ['vip'],
      }),
    );
  });

  test('orders query with search, sort key and the fields the OMS reads', async () => {
    const { data, errors } = await client().request(
      `query($q: String) { orders(first: 10, query: $q, sortKey: UPDATED_AT) { nodes {
        id name createdAt updatedAt cancelledAt cancelReason sourceName tags displayFinancialStatus displayFulfillmentStatus
        shippingAddress { city latitude longitude } shippingLines(first: 1) { nodes { title code } }
        lineItems(first: 5) { nodes { id sku quantity currentQuantity unfulfilledQuantity variant { id } } }
        fulfillmentOrders(first: 2) { nodes { id status deliveryMethod { methodType } assignedLocation { location { id } } lineItems(first: 5) { nodes { id remainingQuantity totalQuantity } } } }
      } } }`,
      { variables: { q: 'tag:vip status:open' } },
    );
    expect(errors).toBeUndefined();
    const found = data.orders.nodes.find((o: { id: string }) => o.id === gid('Order', order.id));
    expect(found).toMatchObject({
      name: order.name,
      sourceName: 'web',
      tags: ['vip'],
      displayFulfillmentStatus: 'UNFULFILLED',
      shippingAddress: null,
      shippingLines: { nodes: [{ title: `Pickup at ${store().name}`, code: 'pickup' }] },
      lineItems: { nodes: [{ quantity: 1, currentQuantity: 1, unfulfilledQuantity: 1 }] },
      fulfillmentOrders: {
        nodes: [
          {
            status: 'OPEN',
            deliveryMethod: { methodType: 'PICK_UP' },
            assignedLocation: { location: { id: gid('Location', store().id) } },
          },
        ],
      },
    });
    const updated = data.orders.nodes.map((o: { updatedAt: string }) => o.updatedAt);
    expect(updated).toEqual([...updated].sort());
  });

  test('prepared for pickup, then handover as a fulfillment; tags; async cancel job', async () => {
    const foId = gid('FulfillmentOrder', order.fulfillmentOrderIds[0]!);
    const prepared = await client().request(
      `mutation($id: ID!) { fulfillmentOrderLineItemsPreparedForPickup(input: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: $id }] }) { userErrors { field message } } }`,
      { variables: { id: foId } },
    );
    expect(prepared.data.fulfillmentOrderLineItemsPreparedForPickup.userErrors).toEqual([]);
    const handover = await client().request(
      `mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id status totalQuantity trackingInfo { company number } } userErrors { field message } } }`,
      { variables: { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: foId }], notifyCustomer: true } } },
    );
    expect(handover.data.fulfillmentCreate).toMatchObject({
      fulfillment: { status: 'SUCCESS', totalQuantity: 1, trackingInfo: [] },
      userErrors: [],
    });
    const again = await client().request(
      `mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { message } } }`,
      { variables: { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: foId }] } } },
    );
    expect(again.data.fulfillmentCreate.userErrors[0].message).toMatch(/closed/);

    const tagged = await client().request(
      `mutation($id: ID!) { tagsAdd(id: $id, tags: ["pre-order", "vip"]) { node { ... on Order { tags } } userErrors { message } } }`,
      {
        variables: { id: gid('Order', order.id) },
      },
    );
    expect(tagged.data.tagsAdd.node.tags).toEqual(['pre-order', 'vip']);

    const { variant } = stockedVariant(warehouse().id);
    const toCancel = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'express',
        locationId: warehouse().id,
      }),
    );
    const cancel = await client().request(
      `mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: false) { job { id done } orderCancelUserErrors { code message } } }`,
      { variables: { id: gid('Order', toCancel.id) } },
    );
    expect(cancel.data.orderCancel.job.done).toBe(false);
    await new Promise((r) => setImmediate(r));
    const job = await client().request(`query($id: ID!) { job(id: $id) { done } }`, {
      variables: { id: cancel.data.orderCancel.job.id },
    });
    expect(job.data.job.done).toBe(true);
    expect(toCancel.cancelledAt).not.toBeNull();
  });

  test("a POS order names its store and its RETAIL fulfillment order; refunds show each line's restock type, location and own id", async () => {
    const here = store();
    const { variant } = stockedVariant(here.id, 2);
    const sale = expectOk(posSale(shop, { locationId: here.id, lines: [{ variantId: variant.id, quantity: 2 }] }));
    expectOk(
      refund(shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: here.id }],
      }),
    );
    expectOk(
      refund(shop, sale.id, { lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'NO_RESTOCK' }] }),
    );
    const { data, errors } = await client().request(
      `query($id: ID!) { order(id: $id) {
        sourceName retailLocation { id } displayFinancialStatus
        fulfillmentOrders(first: 2) { nodes { status deliveryMethod { methodType } assignedLocation { location { id } } } }
        refunds(first: 5) { id createdAt refundLineItems(first: 5) { nodes { id quantity restockType restocked location { id } lineItem { id } } } }
      } }`,
      { variables: { id: gid('Order', sale.id) } },
    );
    expect(errors).toBeUndefined();
    expect(data.order).toMatchObject({
      sourceName: 'pos',
      retailLocation: { id: gid('Location', here.id) },
      displayFinancialStatus: 'REFUNDED',
      fulfillmentOrders: {
        nodes: [
          {
            status: 'CLOSED',
            deliveryMethod: { methodType: 'RETAIL' },
            assignedLocation: { location: { id: gid('Location', here.id) } },
          },
        ],
      },
    });
    const lines = data.order.refunds.map((r: { refundLineItems: { nodes: unknown[] } }) => r.refundLineItems.nodes[0]);
    expect(lines).toEqual([
      {
        id: gid('RefundLineItem', sale.refunds[0]!.lines[0]!.id),
        quantity: 1,
        restockType: 'RETURN',
        restocked: true,
        location: { id: gid('Location', here.id) },
        lineItem: { id: gid('LineItem', sale.lineItems[0]!.id) },
      },
      {
        id: gid('RefundLineItem', sale.refunds[1]!.lines[0]!.id),
        quantity: 1,
        restockType: 'NO_RESTOCK',
        restocked: false,
        location: null,
        lineItem: { id: gid('LineItem', sale.lineItems[0]!.id) },
      },
    ]);
  });

  test('orders older than 60 days are invisible without read_all_orders', async () => {
    const { variant } = stockedVariant(warehouse().id);
    const old = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
        createdAt: new Date(sim.now().getTime() - 70 * 86_400_000),
      }),
    );
    const query = `query($id: ID!) { order(id: $id) { id } }`;
    const limited = await client().request(query, { variables: { id: gid('Order', old.id) } });
    expect(limited.data.order).toBeNull();
    const wide = sim.addApp(creds.shop, { name: 'history', scopes: ['read_orders', 'read_all_orders'] });
    const full = await officialClient(sim.url, wide).request(query, { variables: { id: gid('Order', old.id) } });
    expect(full.data.order.id).toBe(gid('Order', old.id));
  });

  test('metafields, variant inventory policy, and product tags for pre-orders', async () => {
    const product = [...shop.products.values()][0]!;
    const variantId = gid('ProductVariant', product.variantIds[0]!);
    const set = await client().request(
      `mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { key value } userErrors { field message } } }`,
      {
        variables: {
          m: [
            {
              ownerId: gid('Product', product.id),
              namespace: 'switchyard',
              key: 'preorder_promise_date',
              type: 'date',
              value: '2026-12-20',
            },
          ],
        },
      },
    );
    expect(set.data.metafieldsSet).toEqual({
      metafields: [{ key: 'preorder_promise_date', value: '2026-12-20' }],
      userErrors: [],
    });
    const policy = await client().request(
      `mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v) { productVariants { inventoryPolicy } userErrors { message } } }`,
      { variables: { p: gid('Product', product.id), v: [{ id: variantId, inventoryPolicy: 'CONTINUE' }] } },
    );
    expect(policy.data.productVariantsBulkUpdate.productVariants).toEqual([{ inventoryPolicy: 'CONTINUE' }]);
    const read = await client().request(
      `query($id: ID!) { product(id: $id) { metafield(namespace: "switchyard", key: "preorder_promise_date") { value } } }`,
      {
        variables: { id: gid('Product', product.id) },
      },
    );
    expect(read.data.product.metafield.value).toBe('2026-12-20');
  });
});

describe('webhooks', () => {
  let receiver: Server;
  let receiverUrl: string;
  const received: Array<{ headers: IncomingMessage['headers']; body: string; valid: boolean }> = [];
  let failNext = 0;
  let holdMs = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const shopifyLib = () =>
    shopifyApi({
      apiKey: 'switchyard',
      apiSecretKey: sim.webhooks(creds.shop) && appSecret(),
      scopes: [],
      hostName: 'localhost',
      apiVersion: ApiVersion.July26,
      isEmbeddedApp: false,
      logger: { level: 0 } as never,
    });
  const appSecret = () => creds.clientSecret;

  beforeAll(async () => {
    const lib = shopifyLib();
    receiver = createServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      response.on('finish', () => (inFlight -= 1));
      request.on('end', async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
        if (failNext > 0) {
          failNext -= 1;
          response.writeHead(503).end();
          return;
        }
        const check = await lib.webhooks.validate({ rawBody: body, rawRequest: request, rawResponse: response });
        received.push({ headers: request.headers, body, valid: check.valid });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;
    for (const topic of ['ORDERS_CREATE', 'INVENTORY_LEVELS_UPDATE', 'REFUNDS_CREATE']) {
      const { data } = await client().request(
        `mutation($t: WebhookSubscriptionTopic!, $u: String!) { webhookSubscriptionCreate(topic: $t, webhookSubscription: { uri: $u }) { webhookSubscription { id topic uri } userErrors { message } } }`,
        { variables: { t: topic, u: receiverUrl } },
      );
      expect(data.webhookSubscriptionCreate.userErrors).toEqual([]);
    }
  });
  afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

  test('deliveries carry every X-Shopify-* header and pass the official validator; a tampered body fails it', async () => {
    received.length = 0;
    const { variant } = stockedVariant(warehouse().id);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    await sim.webhooks(creds.shop).idle();
    const created = received.find((r) => r.headers['x-shopify-topic'] === 'orders/create')!;
    expect(created.valid).toBe(true);
    for (const header of [
      'x-shopify-hmac-sha256',
      'x-shopify-shop-domain',
      'x-shopify-api-version',
      'x-shopify-webhook-id',
      'x-shopify-event-id',
      'x-shopify-triggered-at',
    ]) {
      expect(created.headers[header]).toBeTruthy();
    }
    const body = JSON.parse(created.body);
    expect(body).toMatchObject({
      id: order.id,
      admin_graphql_api_id: gid('Order', order.id),
      name: order.name,
      source_name: 'web',
    });
    expect(body.line_items[0]).toMatchObject({
      variant_id: variant.id,
      sku: variant.sku,
      quantity: 1,
      current_quantity: 1,
    });
    expect(
      received.filter((r) => r.headers['x-shopify-topic'] === 'inventory_levels/update').every((r) => r.valid),
    ).toBe(true);

    const lib = shopifyLib();
    const tampered = await lib.webhooks.validate({
      rawBody: created.body.replace('"quantity":1', '"quantity":9'),
      rawRequest: { headers: created.headers, method: 'POST', url: '/webhooks' } as never,
      rawResponse: {} as never,
    });
    expect(tampered.valid).toBe(false);
  });

  test("inventory_levels/update carries exactly the fields of Shopify's samples, one delivery per level change", async () => {
    const levelBodies = (itemId: number, locationId: number) =>
      received
        .filter((r) => r.headers['x-shopify-topic'] === 'inventory_levels/update')
        .map((r) => JSON.parse(r.body) as Record<string, unknown>)
        .filter((b) => b['inventory_item_id'] === itemId && b['location_id'] === locationId);
    const expectedBody = (level: SimInventoryLevel) => ({
      inventory_item_id: level.itemId,
      location_id: level.locationId,
      available: level.quantities.available,
      updated_at: level.updatedAt.toISOString(),
      admin_graphql_api_id: `gid://shopify/InventoryLevel/${level.locationId}?inventory_item_id=${level.itemId}`,
    });
    // Both of Shopify's samples have the same fields, in the same order.
    expect(Object.keys(INVENTORY_LEVELS_UPDATE_DOCS_2024_04)).toEqual(Object.keys(INVENTORY_LEVELS_UPDATE_CAPTURED));

    // An order moves units from available to committed: one change of the level, one delivery.
    received.length = 0;
    const { variant, level } = stockedVariant(warehouse().id, 4);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 2 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    await sim.webhooks(creds.shop).idle();
    const placed = levelBodies(variant.inventoryItemId, warehouse().id);
    expect(placed).toEqual([expectedBody(level)]);
    expect(Object.keys(placed[0]!)).toEqual(Object.keys(INVENTORY_LEVELS_UPDATE_CAPTURED));

    // Moving the fulfilment order to a store: one delivery for each of the two levels.
    const both = [...shop.variants.values()].find((v) =>
      [warehouse(), store()].every((l) => (shop.level(v.inventoryItemId, l.id)?.quantities.available ?? 0) >= 2),
    )!;
    const atWarehouse = shop.level(both.inventoryItemId, warehouse().id)!;
    const atStore = shop.level(both.inventoryItemId, store().id)!;
    const toMove = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: both.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    await sim.webhooks(creds.shop).idle();
    received.length = 0;
    expectOk(moveFulfillmentOrder(shop, toMove.fulfillmentOrderIds[0]!, store().id, null));
    await sim.webhooks(creds.shop).idle();
    expect(levelBodies(both.inventoryItemId, warehouse().id)).toEqual([expectedBody(atWarehouse)]);
    expect(levelBodies(both.inventoryItemId, store().id)).toEqual([expectedBody(atStore)]);

    // A cancellation with restock moves committed back to available: one delivery.
    received.length = 0;
    cancelOrder(shop, order.id, { reason: 'CUSTOMER', restock: true });
    await sim.webhooks(creds.shop).idle();
    expect(levelBodies(variant.inventoryItemId, warehouse().id)).toEqual([expectedBody(level)]);

    // A POS sale (placed, then fulfilled at the counter) is one change of the store's level.
    received.length = 0;
    const availableBefore = atStore.quantities.available;
    expectOk(posSale(shop, { locationId: store().id, lines: [{ variantId: both.id, quantity: 1 }] }));
    await sim.webhooks(creds.shop).idle();
    expect(atStore.quantities.available).toBe(availableBefore - 1);
    expect(levelBodies(both.inventoryItemId, store().id)).toEqual([expectedBody(atStore)]);
  });

  test("refunds/create carries the fields of Shopify's own sample body; a POS order's body names its store", async () => {
    received.length = 0;
    const here = store();
    const { variant } = stockedVariant(here.id, 1);
    const sale = expectOk(posSale(shop, { locationId: here.id, lines: [{ variantId: variant.id, quantity: 1 }] }));
    const back = expectOk(
      refund(shop, sale.id, {
        lines: [{ lineItemId: sale.lineItems[0]!.id, quantity: 1, restockType: 'RETURN', locationId: here.id }],
      }),
    );
    await sim.webhooks(creds.shop).idle();
    const created = JSON.parse(
      received.find((r) => r.headers['x-shopify-topic'] === 'orders/create' && JSON.parse(r.body).id === sale.id)!.body,
    );
    expect(created).toMatchObject({ source_name: 'pos', location_id: here.id });
    const body = JSON.parse(received.find((r) => r.headers['x-shopify-topic'] === 'refunds/create')!.body);
    // Shopify's sample (docs, API 2026-04): test/fixtures/shopify/refunds-create.SOURCE.md.
    const sample = JSON.parse(
      readFileSync(new URL('../../test/fixtures/shopify/refunds-create.json', import.meta.url), 'utf8'),
    );
    const keys = (o: object) => Object.keys(o).sort();
    expect(keys(body)).toEqual(keys(sample));
    expect(keys(body.refund_line_items[0])).toEqual(keys(sample.refund_line_items[0]));
    expect(keys(body.refund_line_items[0].line_item)).toEqual(
      expect.arrayContaining(keys(sample.refund_line_items[0].line_item)),
    );
    expect(body).toMatchObject({
      id: back.id,
      order_id: sale.id,
      restock: true,
      admin_graphql_api_id: gid('Refund', back.id),
    });
    expect(body.refund_line_items).toMatchObject([
      {
        id: back.lines[0]!.id,
        line_item_id: sale.lineItems[0]!.id,
        quantity: 1,
        restock_type: 'return',
        location_id: here.id,
        line_item: { id: sale.lineItems[0]!.id, sku: variant.sku },
      },
    ]);
  });

  test('a burst is delivered with a bounded number of requests in flight, none lost', async () => {
    received.length = 0;
    holdMs = 20;
    maxInFlight = 0;
    const { variant } = stockedVariant(warehouse().id);
    variant.inventoryPolicy = 'CONTINUE';
    const placed = Array.from(
      { length: 60 },
      () =>
        expectOk(
          placeOrder(shop, {
            lines: [{ variantId: variant.id, quantity: 1 }],
            shipping: 'standard',
            locationId: warehouse().id,
          }),
        ).id,
    );
    variant.inventoryPolicy = 'DENY';
    await sim.webhooks(creds.shop).idle();
    holdMs = 0;
    const creates = received
      .filter((r) => r.headers['x-shopify-topic'] === 'orders/create')
      .map((r) => JSON.parse(r.body).id as number);
    expect(creates.sort((a, b) => a - b)).toEqual(placed);
    expect(maxInFlight).toBe(MAX_DELIVERIES_IN_FLIGHT);
  });

  test('a failed delivery is retried with the same webhook id', async () => {
    received.length = 0;
    failNext = 2;
    const { variant } = stockedVariant(warehouse().id);
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    expectOk(
      refund(shop, order.id, { lines: [{ lineItemId: order.lineItems[0]!.id, quantity: 1, restockType: 'CANCEL' }] }),
    );
    await sim.webhooks(creds.shop).idle();
    const refunds = received.filter((r) => r.headers['x-shopify-topic'] === 'refunds/create');
    expect(refunds).toHaveLength(1);
    expect(JSON.parse(refunds[0]!.body).refund_line_items[0]).toMatchObject({ quantity: 1, restock_type: 'cancel' });
    const log = sim.webhooks(creds.shop).log;
    const retried = log.filter((d) => d.attempts > 1);
    expect(retried.length).toBeGreaterThanOrEqual(1);
    expect(sim.webhooks(creds.shop).stats.failedAttempts).toBeGreaterThanOrEqual(2);
  });

  test('fault injection: dropped, duplicated and delayed deliveries', async () => {
    const hooks = sim.webhooks(creds.shop);
    const { variant } = stockedVariant(warehouse().id, 3);
    received.length = 0;
    sim.setWebhookFaults(creds.shop, { dropRate: 1 });
    const dropsBefore = hooks.stats.dropped;
    expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    await hooks.idle();
    expect(received).toHaveLength(0);
    expect(hooks.stats.dropped).toBeGreaterThan(dropsBefore);

    sim.setWebhookFaults(creds.shop, { dropRate: 0, duplicateRate: 1, maxDelayMs: 50 });
    const order = expectOk(
      placeOrder(shop, {
        lines: [{ variantId: variant.id, quantity: 1 }],
        shipping: 'standard',
        locationId: warehouse().id,
      }),
    );
    await hooks.idle();
    const creates = received.filter((r) => r.headers['x-shopify-topic'] === 'orders/create');
    expect(creates).toHaveLength(2);
    expect(creates[0]!.headers['x-shopify-webhook-id']).toBe(creates[1]!.headers['x-shopify-webhook-id']);
    expect(JSON.parse(creates[0]!.body).id).toBe(order.id);
    // Random delays reorder deliveries: the arrival order differs from the order of events.
    received.length = 0;
    sim.setWebhookFaults(creds.shop, { duplicateRate: 0, maxDelayMs: 300 });
    const emitted: number[] = [];
    variant.inventoryPolicy = 'CONTINUE'; // 15 more orders than this variant has in stock
    for (let i = 0; i < 15; i++)
      emitted.push(
        expectOk(
          placeOrder(shop, {
            lines: [{ variantId: variant.id, quantity: 1 }],
            shipping: 'standard',
            locationId: warehouse().id,
          }),
        ).id,
      );
    await hooks.idle();
    const arrived = received
      .filter((r) => r.headers['x-shopify-topic'] === 'orders/create')
      .map((r) => JSON.parse(r.body).id as number);
    expect([...arrived].sort((a, b) => a - b)).toEqual(emitted);
    expect(arrived).not.toEqual(emitted);
    variant.inventoryPolicy = 'DENY';
    sim.setWebhookFaults(creds.shop, { maxDelayMs: 0 });
    expect(() => sim.setWebhookFaults(creds.shop, { lossRate: 1 } as never)).toThrow(
      'Unknown webhook fault "lossRate"',
    );
  });
});
