// Reconciliation's comparison: a refund Switchyard never recorded (its webhook lost, the order's
// version already held) and a line whose counter sale Shopify tells otherwise are differences to repair.
import { describe, expect, test } from 'vitest';
import { compareOrder } from './reconcile.js';
import type { OrderLineRow, OrderRow, OrderSnapshot } from '../domains/orders/index.js';

const at = new Date('2026-11-28T09:00:00Z');
const snapshot: OrderSnapshot = {
  shopifyOrderId: 'gid://shopify/Order/1',
  name: '#1',
  email: null,
  sourceName: 'pos',
  tags: [],
  financialStatus: 'PARTIALLY_REFUNDED',
  fulfillmentStatus: 'FULFILLED',
  createdAt: at,
  updatedAt: at,
  cancelledAt: null,
  cancelReason: null,
  customer: null,
  shippingAddress: null,
  latitude: null,
  longitude: null,
  shippingMethod: 'standard',
  shippingLineTitle: null,
  pickupLocationId: 'gid://shopify/Location/7',
  currencyCode: 'USD',
  totalPrice: '10.00',
  lines: [
    {
      shopifyLineItemId: 'gid://shopify/LineItem/1',
      shopifyVariantId: null,
      sku: 'A',
      title: 'A',
      quantity: 2,
      currentQuantity: 1,
      unitPrice: '10.00',
      soldOverCounter: true,
    },
  ],
  refunds: [
    {
      shopifyRefundId: 'gid://shopify/Refund/5',
      createdAt: at,
      lines: [
        {
          shopifyRefundLineId: 'gid://shopify/RefundLineItem/6',
          shopifyLineItemId: 'gid://shopify/LineItem/1',
          quantity: 1,
          restockType: 'RETURN',
          locationId: 'gid://shopify/Location/7',
        },
      ],
    },
  ],
};

const stored = (refundLineIds: string[], soldOverCounter = true) =>
  ({
    shopifyOrderId: snapshot.shopifyOrderId,
    cancelledAt: null,
    financialStatus: snapshot.financialStatus,
    fulfillmentStatus: snapshot.fulfillmentStatus,
    shopifyUpdatedAt: at,
    lines: [
      {
        shopifyLineItemId: 'gid://shopify/LineItem/1',
        quantity: 2,
        currentQuantity: 1,
        soldOverCounter,
      } as OrderLineRow,
    ],
    refundLineIds,
  }) as unknown as OrderRow & { lines: OrderLineRow[]; refundLineIds: string[] };

describe('reconciliation compares refunds and counter sales', () => {
  test('equal: nothing to repair', () => {
    expect(compareOrder(stored(['gid://shopify/RefundLineItem/6']), snapshot)).toEqual([]);
  });

  test('a refund line not recorded, and a line Shopify says was shipped, are differences', () => {
    expect(compareOrder(stored([], false), snapshot).map((d) => [d.kind, d.detail])).toEqual([
      ['line_counter', 'gid://shopify/LineItem/1: sold over the counter false → true'],
      ['refund_missing', 'refund gid://shopify/Refund/5: 1 × gid://shopify/LineItem/1 RETURN'],
    ]);
  });
});
