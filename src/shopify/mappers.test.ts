// Shopify's two shapes of an order mapped to one snapshot: which lines were taken home at a store's
// counter (from the fulfilment orders, or a POS body that can only be a counter sale), and refunds
// with their restocks (from Shopify's own refunds/create sample).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { counterLinesOf, counterSaleOf, orderFromNode, orderFromPayload } from './mappers.js';
import type { OrderNode } from './operations.js';

const sample = JSON.parse(
  readFileSync(new URL('../../test/fixtures/shopify/refunds-create.json', import.meta.url), 'utf8'),
);

function body(overrides: Record<string, unknown> = {}) {
  return {
    id: 9001,
    admin_graphql_api_id: 'gid://shopify/Order/9001',
    name: '#9001',
    created_at: '2026-11-28T09:00:00Z',
    updated_at: '2026-11-28T09:05:00Z',
    source_name: 'pos',
    location_id: 77,
    financial_status: 'paid',
    fulfillment_status: 'fulfilled',
    shipping_lines: [],
    line_items: [
      {
        id: 1,
        admin_graphql_api_id: 'gid://shopify/LineItem/1',
        variant_id: 11,
        sku: 'A',
        title: 'A',
        quantity: 1,
        current_quantity: 1,
        fulfillable_quantity: 0,
      },
      {
        id: 2,
        admin_graphql_api_id: 'gid://shopify/LineItem/2',
        variant_id: 12,
        sku: 'B',
        title: 'B',
        quantity: 2,
        current_quantity: 2,
        fulfillable_quantity: 0,
      },
    ],
    refunds: [],
    ...overrides,
  };
}

const fo = (methodType: string, lineIds: string[] = []) => ({
  id: `gid://shopify/FulfillmentOrder/${methodType}`,
  status: 'OPEN',
  deliveryMethod: { methodType },
  assignedLocation: { location: { id: 'gid://shopify/Location/77' } },
  lineItems: { nodes: lineIds.map((id) => ({ lineItem: { id } })) },
});

function node(fos: Array<ReturnType<typeof fo>>, sourceName = 'pos'): OrderNode {
  return {
    id: 'gid://shopify/Order/9001',
    name: '#9001',
    email: null,
    createdAt: '2026-11-28T09:00:00Z',
    updatedAt: '2026-11-28T09:05:00Z',
    cancelledAt: null,
    cancelReason: null,
    sourceName,
    tags: [],
    displayFinancialStatus: 'PAID',
    displayFulfillmentStatus: 'PARTIALLY_FULFILLED',
    customer: null,
    shippingAddress: null,
    shippingLines: { nodes: [] },
    currentTotalPriceSet: null,
    lineItems: {
      nodes: ['1', '2'].map((n) => ({
        id: `gid://shopify/LineItem/${n}`,
        sku: n,
        title: n,
        variantTitle: null,
        quantity: 1,
        currentQuantity: 1,
        unfulfilledQuantity: 0,
        variant: null,
        originalUnitPriceSet: null,
      })),
      pageInfo: { hasNextPage: false, endCursor: null },
    },
    fulfillmentOrders: { nodes: fos },
    retailLocation: sourceName === 'pos' ? { id: 'gid://shopify/Location/77' } : null,
    refunds: [],
  };
}

describe('which lines were sold over the counter', () => {
  test('a POS body without shipping lines whose lines are all fulfilled is a counter sale, read without the API', () => {
    const { snapshot, needsLookup } = orderFromPayload(body());
    expect(needsLookup).toBe(false);
    expect(snapshot.lines.map((l) => l.soldOverCounter)).toEqual([true, true]);
    expect(snapshot.pickupLocationId).toBe('gid://shopify/Location/77');
  });

  test('a POS body with a shipping line or a line still to fulfil needs the fulfilment orders; an online body never has counter lines', () => {
    expect(orderFromPayload(body({ shipping_lines: [{ title: 'Standard', code: 'STANDARD' }] })).needsLookup).toBe(
      true,
    );
    const open = body({ line_items: [{ ...body().line_items[0]!, fulfillable_quantity: 1 }] });
    expect(orderFromPayload(open).needsLookup).toBe(true);
    const web = orderFromPayload(
      body({
        source_name: 'web',
        location_id: null,
        line_items: [{ ...body().line_items[0]!, fulfillable_quantity: 1 }],
      }),
    );
    expect(web.needsLookup).toBe(false);
    expect(web.snapshot.lines.map((l) => l.soldOverCounter)).toEqual([false]);
    expect(web.snapshot.pickupLocationId).toBeNull();
  });

  test('fulfilment orders decide: RETAIL only, none, or both (then their lines)', () => {
    expect(counterSaleOf(node([fo('RETAIL')]))).toBe('all');
    expect(counterSaleOf(node([fo('SHIPPING')]))).toBe('none');
    expect(counterSaleOf(node([fo('RETAIL'), fo('SHIPPING')]))).toBe('per-line');
    // None read: a POS order is a counter sale, as Switchyard always took it; any other order is not.
    expect(counterSaleOf(node([]))).toBe('all');
    expect(counterSaleOf(node([], 'web'))).toBe('none');
    const mixed = [fo('RETAIL', ['gid://shopify/LineItem/1']), fo('SHIPPING', ['gid://shopify/LineItem/2'])];
    expect([...counterLinesOf(mixed)]).toEqual(['gid://shopify/LineItem/1']);
    // A line under both (never made by POS, which keeps a line under one delivery method) is delivered.
    expect([
      ...counterLinesOf([fo('RETAIL', ['gid://shopify/LineItem/1']), fo('SHIPPING', ['gid://shopify/LineItem/1'])]),
    ]).toEqual([]);
    expect(() => orderFromNode(node(mixed))).toThrow(/read their lines/);
    const snapshot = orderFromNode(node(mixed), [], counterLinesOf(mixed));
    expect(snapshot.lines.map((l) => [l.shopifyLineItemId, l.soldOverCounter])).toEqual([
      ['gid://shopify/LineItem/1', true],
      ['gid://shopify/LineItem/2', false],
    ]);
    expect(snapshot).toMatchObject({ shippingMethod: 'standard', pickupLocationId: 'gid://shopify/Location/77' });
  });
});

describe('refunds', () => {
  test("an order body's refunds, in the shape of Shopify's own refunds/create sample", () => {
    const { snapshot } = orderFromPayload(body({ source_name: 'web', refunds: [sample] }));
    const first = sample.refund_line_items[0];
    expect(snapshot.refunds).toHaveLength(1);
    expect(snapshot.refunds![0]).toMatchObject({
      shopifyRefundId: sample.admin_graphql_api_id,
      createdAt: new Date(sample.created_at),
    });
    expect(snapshot.refunds![0]!.lines).toHaveLength(5);
    // The line item's GID is taken from the body as text (the numeric ids of Shopify's sample were rounded in transit).
    expect(snapshot.refunds![0]!.lines[0]).toEqual({
      shopifyRefundLineId: `gid://shopify/RefundLineItem/${first.id}`,
      shopifyLineItemId: first.line_item.admin_graphql_api_id,
      quantity: 1,
      restockType: 'NO_RESTOCK',
      locationId: null,
    });
  });

  test('refunds read by GraphQL: restock type and location per line; a source without refunds says nothing (null)', () => {
    const read = node([fo('RETAIL')]);
    read.refunds = [
      {
        id: 'gid://shopify/Refund/5',
        createdAt: '2026-11-28T10:00:00Z',
        refundLineItems: {
          nodes: [
            {
              id: 'gid://shopify/RefundLineItem/6',
              quantity: 1,
              restockType: 'RETURN',
              location: { id: 'gid://shopify/Location/78' },
              lineItem: { id: 'gid://shopify/LineItem/1' },
            },
          ],
        },
      },
    ];
    expect(orderFromNode(read).refunds).toEqual([
      {
        shopifyRefundId: 'gid://shopify/Refund/5',
        createdAt: new Date('2026-11-28T10:00:00Z'),
        lines: [
          {
            shopifyRefundLineId: 'gid://shopify/RefundLineItem/6',
            shopifyLineItemId: 'gid://shopify/LineItem/1',
            quantity: 1,
            restockType: 'RETURN',
            locationId: 'gid://shopify/Location/78',
          },
        ],
      },
    ]);
    const { refunds: _refunds, ...bulk } = read;
    expect(orderFromNode(bulk).refunds).toBeNull();
  });
});
