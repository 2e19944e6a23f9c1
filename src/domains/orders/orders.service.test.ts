import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import type { Database } from '../../platform/db/client.js';
import { outbox } from '../../platform/db/platform.schema.js';
import { applyProductSnapshot, products, variants } from '../catalog/index.js';
import { applyOrderSnapshot, getOrder, getOrderHistory, type OrderSnapshot } from './index.js';

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
      { shopifyLineItemId: 'gid://shopify/LineItem/11', shopifyVariantId: 'gid://shopify/ProductVariant/101', sku: 'SKU-1', title: 'Tee', quantity: 3, currentQuantity: 3, unitPrice: '10.00' },
      { shopifyLineItemId: 'gid://shopify/LineItem/12', shopifyVariantId: 'gid://shopify/ProductVariant/102', sku: 'SKU-2', title: 'Cap', quantity: 1, currentQuantity: 1, unitPrice: '20.00' },
    ],
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
    const historyBefore = await getOrderHistory(database.db, (await getOrder(database.db, 'gid://shopify/Order/1'))!.id);
    // The older snapshot (a delayed webhook) arrives last: nothing changes.
    expect(await applyOrderSnapshot(database.db, snapshot(), 'webhook:orders/create', now)).toBe('stale');
    const order = (await getOrder(database.db, 'gid://shopify/Order/1'))!;
    expect(order.lines.map((l) => [l.sku, l.quantity, l.currentQuantity])).toEqual([
      ['SKU-1', 3, 1],
      ['SKU-2', 1, 1],
    ]);
    const history = await getOrderHistory(database.db, order.id);
    expect(history).toHaveLength(historyBefore.length);
    expect(history.map((h) => h.kind)).toEqual(['order.created', 'order.status_changed', 'order.line_quantity_reduced']);
    expect(history[2]!.details).toEqual({ line: 'gid://shopify/LineItem/11', sku: 'SKU-1', from: 3, to: 1 });
    const events = await database.db.select().from(outbox).where(eq(outbox.aggregateId, 'gid://shopify/Order/1'));
    expect(events.map((e) => e.topic).sort()).toEqual(['order.created', 'order.line_quantity_reduced', 'order.status_changed']);
    expect(events.find((e) => e.topic === 'order.line_quantity_reduced')!.payload).toMatchObject({ from: 3, to: 1, delta: -2 });
  });

  test('a cancellation is recorded and emitted once; lines become cancelled', async () => {
    const cancelled = snapshot({ updatedAt: new Date('2026-11-28T11:00:00Z'), cancelledAt: new Date('2026-11-28T11:00:00Z'), cancelReason: 'CUSTOMER', lines: snapshot().lines.map((l) => ({ ...l, currentQuantity: 0 })) });
    expect(await applyOrderSnapshot(database.db, cancelled, 'webhook:orders/cancelled', now)).toBe('updated');
    expect(await applyOrderSnapshot(database.db, cancelled, 'poll', now)).toBe('unchanged');
    const order = (await getOrder(database.db, 'gid://shopify/Order/1'))!;
    expect(order.status).toBe('cancelled');
    expect(order.lines.every((l) => l.status === 'cancelled')).toBe(true);
    const events = await database.db.select().from(outbox).where(eq(outbox.topic, 'order.cancelled'));
    expect(events).toHaveLength(1);
  });

  test('address, shipping method and tag changes are recorded on the history', async () => {
    const base = snapshot({ shopifyOrderId: 'gid://shopify/Order/2', name: '#1002', lines: [{ ...snapshot().lines[1]!, shopifyLineItemId: 'gid://shopify/LineItem/21' }] });
    await applyOrderSnapshot(database.db, base, 'test', now);
    const changed = { ...base, updatedAt: new Date('2026-11-28T09:10:00Z'), shippingAddress: { city: 'Dallas' }, shippingMethod: 'express' as const, shippingLineTitle: 'Express', tags: ['vip', 'gift'] };
    expect(await applyOrderSnapshot(database.db, changed, 'webhook:orders/updated', now)).toBe('updated');
    const order = (await getOrder(database.db, 'gid://shopify/Order/2'))!;
    expect(order).toMatchObject({ shippingMethod: 'express', shippingAddress: { city: 'Dallas' }, tags: ['gift', 'vip'] });
    const kinds = (await getOrderHistory(database.db, order.id)).map((h) => h.kind);
    expect(kinds).toEqual(['order.created', 'order.address_changed', 'order.shipping_changed', 'order.tags_changed']);
  });

  test('an unknown variant gets a placeholder, replaced when the product arrives', async () => {
    const [placeholder] = await database.db.select().from(variants).where(eq(variants.shopifyVariantId, 'gid://shopify/ProductVariant/101'));
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
        variants: [{ shopifyVariantId: 'gid://shopify/ProductVariant/101', shopifyInventoryItemId: 'gid://shopify/InventoryItem/1', sku: 'SKU-1', barcode: '036000291452', title: 'Black / M', price: '10.00', weightGrams: 200, inventoryPolicy: 'DENY', updatedAt: now }],
      },
      now,
    );
    const [real] = await database.db.select().from(variants).where(eq(variants.shopifyVariantId, 'gid://shopify/ProductVariant/101'));
    expect(real).toMatchObject({ id: placeholder!.id, isPlaceholder: false, barcode: '036000291452' });
    const [product] = await database.db.select().from(products).where(eq(products.id, real!.productId));
    expect(product).toMatchObject({ shopifyProductId: 'gid://shopify/Product/900', isPlaceholder: false });
    // The order line still points at the same variant row.
    const order = (await getOrder(database.db, 'gid://shopify/Order/1'))!;
    expect(order.lines[0]!.variantId).toBe(real!.id);
  });
});
