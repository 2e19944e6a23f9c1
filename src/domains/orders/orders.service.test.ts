import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import type { Database } from '../../platform/db/client.js';
import { outbox } from '../../platform/db/platform.schema.js';
import { applyProductSnapshot } from '../catalog/index.js';
import { products, variants } from '../catalog/catalog.schema.js';
import { facilities } from '../facilities/facilities.schema.js';
import { applyOrderSnapshot, getOrder, getOrderHistory, getOrderRefunds, type OrderSnapshot } from './index.js';
import { orderLines } from './orders.schema.js';

let testDb: TestDatabase;
let database: Database;
beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
});
afterAll(() => testDb.drop());

const now = new Date('2026-11-28T10:00:00Z');
function snapshot(overrides: Partial<OrderSnapshot> = {}): OrderSnapshot {
  return {
    shopifyOrderId: 'gid://shopify/Order/1',
    name: '#1001',
    email: 'a@example.com',
    sourceName: 'web',
    tags: ['vip'],
    financialStatus: 'PAID',
    fulfillmentStatus: 'UNFULFILLED',
    createdAt: new Date('2026-11-28T09:00:00Z'),
    updatedAt: new Date('2026-11-28T09:00:00Z'),
    cancelledAt: null,
    cancelReason: null,
    customer: { email: 'a@example.com' },
    shippingAddress: { city: 'Austin' },
    latitude: 30.26,
    longitude: -97.74,
    shippingMethod: 'standard',
    shippingLineTitle: 'Standard',
    pickupLocationId: null,
    currencyCode: 'USD',
    totalPrice: '50.00',
    lines: [
      {
        shopifyLineItemId: 'gid://shopify/LineItem/11',
        shopifyVariantId: 'gid://shopify/ProductVariant/101',
        sku: 'SKU-1',
        title: 'Tee',
        quantity: 3,
        currentQuantity: 3,
        unitPrice: '10.00',
        soldOverCounter: false,
      },
      {
        shopifyLineItemId: 'gid://shopify/LineItem/12',
        shopifyVariantId: 'gid://shopify/ProductVariant/102',
        sku: 'SKU-2',
        title: 'Cap',
        quantity: 1,
        currentQuantity: 1,
        unitPrice: '20.00',
        soldOverCounter: false,
      },
    ],
    refunds: [],
    ...overrides,
  };
}

describe(`orders follow Shopify (${backend})`, () => {
  test('create; same snapshot again changes nothing; an older one after a newer one changes nothing', async () => {
    expect(await applyOrderSnapshot(database.db, snapshot(), 'test', now)).toBe('created');
    expect(await applyOrderSnapshot(database.db, snapshot(), 'test', now)).toBe('unchanged');
    const v2 = snapshot({
      updatedAt: new Date('2026-11-28T09:30:00Z'),
      financialStatus: 'PARTIALLY_REFUNDED',
      lines: snapshot().lines.map((l) => (l.sku === 'SKU-1' ? { ...l, currentQuantity: 1 } : l)),
    });
    expect(await applyOrderSnapshot(database.db, v2, 'webhook:orders/updated', now)).toBe('updated');
    const historyBefore = await getOrderHistory(
      database.db,
      (await getOrder(database.db, 'gid://shopify/Order/1'))!.id,
    );
    // The older snapshot (a delayed webhook) arrives last: nothing changes.
    expect(await applyOrderSnapshot(database.db, snapshot(), 'webhook:orders/create', now)).toBe('stale');
    const order = (await getOrder(database.db, 'gid://shopify/Order/1'))!;
    expect(order.lines.map((l) => [l.sku, l.quantity, l.currentQuantity])).toEqual([
      ['SKU-1', 3, 1],
      ['SKU-2', 1, 1],
    ]);
    const history = await getOrderHistory(database.db, order.id);
    expect(history).toHaveLength(historyBefore.length);
    expect(history.map((h) => h.kind)).toEqual([
      'order.created',
      'order.status_changed',
      'order.line_quantity_reduced',
    ]);
    expect(history[2]!.details).toEqual({ line: 'gid://shopify/LineItem/11', sku: 'SKU-1', from: 3, to: 1 });
    const events = await database.db.select().from(outbox).where(eq(outbox.aggregateId, 'gid://shopify/Order/1'));
    expect(events.map((e) => e.topic).sort()).toEqual([
      'order.created',
      'order.line_quantity_reduced',
      'order.status_changed',
    ]);
    expect(events.find((e) => e.topic === 'order.line_quantity_reduced')!.payload).toMatchObject({
      from: 3,
      to: 1,
      delta: -2,
    });
  });

  test('a cancellation is recorded and emitted once; lines become cancelled', async () => {
    const cancelled = snapshot({
      updatedAt: new Date('2026-11-28T11:00:00Z'),
      cancelledAt: new Date('2026-11-28T11:00:00Z'),
      cancelReason: 'CUSTOMER',
      lines: snapshot().lines.map((l) => ({ ...l, currentQuantity: 0 })),
    });
    expect(await applyOrderSnapshot(database.db, cancelled, 'webhook:orders/cancelled', now)).toBe('updated');
    expect(await applyOrderSnapshot(database.db, cancelled, 'poll', now)).toBe('unchanged');
    const order = (await getOrder(database.db, 'gid://shopify/Order/1'))!;
    expect(order.status).toBe('cancelled');
    expect(order.lines.every((l) => l.status === 'cancelled')).toBe(true);
    const events = await database.db.select().from(outbox).where(eq(outbox.topic, 'order.cancelled'));
    expect(events).toHaveLength(1);
  });

  test('address, shipping method and tag changes are recorded on the history', async () => {
    const base = snapshot({
      shopifyOrderId: 'gid://shopify/Order/2',
      name: '#1002',
      lines: [{ ...snapshot().lines[1]!, shopifyLineItemId: 'gid://shopify/LineItem/21' }],
    });
    await applyOrderSnapshot(database.db, base, 'test', now);
    const changed = {
      ...base,
      updatedAt: new Date('2026-11-28T09:10:00Z'),
      shippingAddress: { city: 'Dallas' },
      shippingMethod: 'express' as const,
      shippingLineTitle: 'Express',
      tags: ['vip', 'gift'],
    };
    expect(await applyOrderSnapshot(database.db, changed, 'webhook:orders/updated', now)).toBe('updated');
    const order = (await getOrder(database.db, 'gid://shopify/Order/2'))!;
    expect(order).toMatchObject({
      shippingMethod: 'express',
      shippingAddress: { city: 'Dallas' },
      tags: ['gift', 'vip'],
    });
    const kinds = (await getOrderHistory(database.db, order.id)).map((h) => h.kind);
    expect(kinds).toEqual(['order.created', 'order.address_changed', 'order.shipping_changed', 'order.tags_changed']);
  });

  test('refunds are recorded once per refund line, with their restock and facility, one history entry and one event per refund', async () => {
    const [store] = await database.db
      .insert(facilities)
      .values({ code: 'ST-REF', name: 'Refund store', kind: 'STORE', shopifyLocationId: 'gid://shopify/Location/77' })
      .returning({ id: facilities.id });
    const base = snapshot({
      shopifyOrderId: 'gid://shopify/Order/3',
      name: '#1003',
      lines: snapshot().lines.map((l, i) => ({ ...l, shopifyLineItemId: `gid://shopify/LineItem/3${i}` })),
    });
    await applyOrderSnapshot(database.db, base, 'test', now);
    const returned = {
      shopifyRefundId: 'gid://shopify/Refund/501',
      createdAt: new Date('2026-11-28T09:40:00Z'),
      lines: [
        {
          shopifyRefundLineId: 'gid://shopify/RefundLineItem/601',
          shopifyLineItemId: 'gid://shopify/LineItem/30',
          quantity: 1,
          restockType: 'RETURN' as const,
          locationId: 'gid://shopify/Location/77',
        },
        {
          shopifyRefundLineId: 'gid://shopify/RefundLineItem/602',
          shopifyLineItemId: 'gid://shopify/LineItem/31',
          quantity: 1,
          restockType: 'NO_RESTOCK' as const,
          locationId: null,
        },
      ],
    };
    const later = {
      ...base,
      updatedAt: new Date('2026-11-28T09:40:00Z'),
      lines: base.lines.map((l, i) => ({ ...l, currentQuantity: l.currentQuantity - 1 + (i > 1 ? 1 : 0) })),
    };
    // A source that does not carry refunds (null) applies the rest; the next snapshot of the same version that does is not "unchanged".
    expect(await applyOrderSnapshot(database.db, { ...later, refunds: null }, 'initial-load', now)).toBe('updated');
    expect(
      await applyOrderSnapshot(database.db, { ...later, refunds: [returned] }, 'webhook:orders/updated', now),
    ).toBe('updated');
    expect(await applyOrderSnapshot(database.db, { ...later, refunds: [returned] }, 'poll', now)).toBe('unchanged');
    const order = (await getOrder(database.db, 'gid://shopify/Order/3'))!;
    const refunds = await getOrderRefunds(database.db, order.id);
    expect(
      refunds.map((r) => [
        r.shopifyRefundLineId,
        r.orderLineId,
        r.quantity,
        r.restockType,
        r.facilityId,
        r.refundedAt.toISOString(),
      ]),
    ).toEqual([
      ['gid://shopify/RefundLineItem/601', order.lines[0]!.id, 1, 'RETURN', store!.id, '2026-11-28T09:40:00.000Z'],
      ['gid://shopify/RefundLineItem/602', order.lines[1]!.id, 1, 'NO_RESTOCK', null, '2026-11-28T09:40:00.000Z'],
    ]);
    const history = (await getOrderHistory(database.db, order.id)).filter((h) => h.kind === 'order.refunded');
    expect(history.map((h) => [h.source, h.details])).toEqual([
      [
        'webhook:orders/updated',
        {
          refund: 'gid://shopify/Refund/501',
          lines: [
            {
              line: 'gid://shopify/LineItem/30',
              quantity: 1,
              restockType: 'RETURN',
              location: 'gid://shopify/Location/77',
            },
            { line: 'gid://shopify/LineItem/31', quantity: 1, restockType: 'NO_RESTOCK', location: null },
          ],
        },
      ],
    ]);
    const events = await database.db.select().from(outbox).where(eq(outbox.topic, 'order.refunded'));
    expect(events.map((e) => e.payload)).toEqual([{ orderId: order.id, refundLineIds: refunds.map((r) => r.id) }]);

    // First seen with its refund already made (its creation webhooks lost): still a new order, whose
    // creation event (a POS sale's booking) and refund event both go out.
    const late = {
      ...later,
      shopifyOrderId: 'gid://shopify/Order/5',
      name: '#1005',
      lines: later.lines.map((l, i) => ({ ...l, shopifyLineItemId: `gid://shopify/LineItem/5${i}` })),
    };
    const lateRefund = {
      ...returned,
      shopifyRefundId: 'gid://shopify/Refund/502',
      lines: [
        {
          ...returned.lines[0]!,
          shopifyRefundLineId: 'gid://shopify/RefundLineItem/603',
          shopifyLineItemId: 'gid://shopify/LineItem/50',
        },
      ],
    };
    expect(
      await applyOrderSnapshot(database.db, { ...late, refunds: [lateRefund] }, 'webhook:refunds/create', now),
    ).toBe('created');
    const lateEvents = await database.db.select().from(outbox).where(eq(outbox.aggregateId, 'gid://shopify/Order/5'));
    expect(lateEvents.map((e) => e.topic).sort()).toEqual(['order.created', 'order.refunded']);
  });

  test('lines sold over the counter are stored as such; Shopify saying otherwise changes a line not routed yet, never a routed one', async () => {
    const lines = snapshot().lines.map((l, i) => ({
      ...l,
      shopifyLineItemId: `gid://shopify/LineItem/4${i}`,
      soldOverCounter: i === 0,
    }));
    const pos = snapshot({ shopifyOrderId: 'gid://shopify/Order/4', name: '#1004', sourceName: 'pos', lines });
    expect(await applyOrderSnapshot(database.db, pos, 'webhook:orders/create', now)).toBe('created');
    let order = (await getOrder(database.db, 'gid://shopify/Order/4'))!;
    expect(order.lines.map((l) => l.soldOverCounter)).toEqual([true, false]);
    // Routing took the shipped line; then a read says the first line was shipped and the second taken home.
    await database.db.update(orderLines).set({ status: 'brokered' }).where(eq(orderLines.id, order.lines[1]!.id));
    const flipped = {
      ...pos,
      updatedAt: new Date('2026-11-28T09:50:00Z'),
      lines: lines.map((l) => ({ ...l, soldOverCounter: !l.soldOverCounter })),
    };
    expect(await applyOrderSnapshot(database.db, flipped, 'poll', now)).toBe('updated');
    order = (await getOrder(database.db, 'gid://shopify/Order/4'))!;
    expect(order.lines.map((l) => l.soldOverCounter)).toEqual([false, false]);
    const history = (await getOrderHistory(database.db, order.id)).filter((h) => h.kind === 'order.counter_changed');
    expect(history.map((h) => h.details)).toEqual([
      { line: 'gid://shopify/LineItem/40', sku: 'SKU-1', soldOverCounter: false },
      { line: 'gid://shopify/LineItem/41', sku: 'SKU-2', soldOverCounter: true, kept: 'the line is brokered already' },
    ]);
    const events = await database.db.select().from(outbox).where(eq(outbox.topic, 'order.counter_changed'));
    expect(events.map((e) => e.payload)).toEqual([
      { orderId: order.id, lineId: order.lines[0]!.id, soldOverCounter: false },
    ]);
  });

  test('an unknown variant gets a placeholder, replaced when the product arrives', async () => {
    const [placeholder] = await database.db
      .select()
      .from(variants)
      .where(eq(variants.shopifyVariantId, 'gid://shopify/ProductVariant/101'));
    expect(placeholder).toMatchObject({ isPlaceholder: true, sku: 'SKU-1' });
    await applyProductSnapshot(
      database.db,
      {
        shopifyProductId: 'gid://shopify/Product/900',
        handle: 'tee',
        title: 'Tee',
        status: 'ACTIVE',
        vendor: null,
        productType: null,
        tags: [],
        imageUrl: null,
        updatedAt: now,
        variants: [
          {
            shopifyVariantId: 'gid://shopify/ProductVariant/101',
            shopifyInventoryItemId: 'gid://shopify/InventoryItem/1',
            sku: 'SKU-1',
            barcode: '036000291452',
            title: 'Black / M',
            price: '10.00',
            weightGrams: 200,
            inventoryPolicy: 'DENY',
            updatedAt: now,
          },
        ],
      },
      now,
    );
    const [real] = await database.db
      .select()
      .from(variants)
      .where(eq(variants.shopifyVariantId, 'gid://shopify/ProductVariant/101'));
    expect(real).toMatchObject({ id: placeholder!.id, isPlaceholder: false, barcode: '036000291452' });
    const [product] = await database.db.select().from(products).where(eq(products.id, real!.productId));
    expect(product).toMatchObject({ shopifyProductId: 'gid://shopify/Product/900', isPlaceholder: false });
    // The order line still points at the same variant row.
    const order = (await getOrder(database.db, 'gid://shopify/Order/1'))!;
    expect(order.lines[0]!.variantId).toBe(real!.id);
  });
});
