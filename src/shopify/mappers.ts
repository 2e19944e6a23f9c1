// Shopify's two shapes of the same thing (GraphQL nodes from queries and bulk files; REST-style
// webhook bodies) mapped to one snapshot type each, so the domain never sees Shopify's formats.
import type { ProductSnapshot, VariantSnapshot } from '../domains/catalog/index.js';
import type { OrderSnapshot, RefundSnapshot } from '../domains/orders/index.js';
import type { OrderNode, ProductNode, VariantNode } from './operations.js';

export type { OrderSnapshot, ProductSnapshot };

// REST webhook bodies are untyped JSON, read field by field with defaults.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

const EXPRESS = /express|overnight|next[\s-]?day|same[\s-]?day|priority/i;
const PICKUP = /pick[\s-]?up/i;

const gid = (type: string, id: number | string | null | undefined) =>
  id === null || id === undefined ? null : `gid://shopify/${type}/${id}`;

const WEIGHT_TO_GRAMS: Record<string, number> = { GRAMS: 1, KILOGRAMS: 1000, POUNDS: 453.592, OUNCES: 28.3495 };

function grams(weight: { unit: string; value: number } | null | undefined): number | null {
  if (!weight) return null;
  return Math.round(weight.value * (WEIGHT_TO_GRAMS[weight.unit] ?? 1));
}

export function variantFromNode(v: VariantNode): VariantSnapshot {
  return {
    shopifyVariantId: v.id,
    shopifyInventoryItemId: v.inventoryItem?.id ?? null,
    sku: v.sku || null,
    barcode: v.barcode || null,
    title: v.title,
    price: v.price,
    weightGrams: grams(v.inventoryItem?.measurement?.weight),
    inventoryPolicy: v.inventoryPolicy,
    updatedAt: new Date(v.updatedAt),
  };
}

export function productFromNode(p: ProductNode, extraVariants: VariantNode[] = []): ProductSnapshot {
  return {
    shopifyProductId: p.id,
    handle: p.handle,
    title: p.title,
    status: p.status,
    vendor: p.vendor,
    productType: p.productType,
    tags: p.tags,
    imageUrl: p.featuredMedia?.image?.url ?? null,
    updatedAt: new Date(p.updatedAt),
    variants: [...p.variants.nodes, ...extraVariants].map(variantFromNode),
  };
}

/** products/create and products/update webhook bodies. */
export function productFromPayload(body: Body): ProductSnapshot {
  return {
    shopifyProductId: body['admin_graphql_api_id'] ?? gid('Product', body['id']),
    handle: body['handle'] ?? null,
    title: body['title'],
    status: String(body['status'] ?? 'active').toUpperCase(),
    vendor: body['vendor'] ?? null,
    productType: body['product_type'] ?? null,
    tags: String(body['tags'] ?? '')
      .split(',')
      .map((t: string) => t.trim())
      .filter(Boolean),
    imageUrl: body['media']?.[0]?.preview_image?.src ?? body['image']?.src ?? null,
    updatedAt: new Date(body['updated_at']),
    variants: (body['variants'] ?? []).map((v: Body) => ({
      shopifyVariantId: v['admin_graphql_api_id'] ?? gid('ProductVariant', v['id']),
      shopifyInventoryItemId: gid('InventoryItem', v['inventory_item_id']),
      sku: v['sku'] || null,
      barcode: v['barcode'] || null,
      title: v['title'],
      price: v['price'] ?? null,
      weightGrams: typeof v['grams'] === 'number' ? v['grams'] : null,
      inventoryPolicy: String(v['inventory_policy'] ?? 'deny').toUpperCase() === 'CONTINUE' ? 'CONTINUE' : 'DENY',
      updatedAt: new Date(v['updated_at'] ?? body['updated_at']),
    })),
  };
}

const RESTOCK_TYPES: Record<string, RefundSnapshot['lines'][number]['restockType']> = {
  CANCEL: 'CANCEL',
  RETURN: 'RETURN',
  NO_RESTOCK: 'NO_RESTOCK',
  LEGACY_RESTOCK: 'LEGACY_RESTOCK',
};
const restockTypeOf = (value: unknown) => RESTOCK_TYPES[String(value ?? 'NO_RESTOCK').toUpperCase()] ?? 'NO_RESTOCK';

/**
 * Which of an order's lines the customer took home from a store's counter, from its fulfilment orders:
 * an in-store sale's are `RETAIL` (nothing to deliver); a POS line shipped to the customer is under a
 * `SHIPPING` one. `all` or `none` when the fulfilment orders agree; `per-line` when the order has both
 * kinds (a POS "ship and carry out" sale), and only their lines tell. A POS order without any
 * fulfilment order (none read) is taken for a counter sale, as Switchyard always did.
 */
export function counterSaleOf(o: Pick<OrderNode, 'sourceName' | 'fulfillmentOrders'>): 'all' | 'none' | 'per-line' {
  const fos = o.fulfillmentOrders.nodes;
  if (fos.length === 0) return o.sourceName === 'pos' ? 'all' : 'none';
  const retail = fos.filter((fo) => fo.deliveryMethod?.methodType === 'RETAIL').length;
  return retail === 0 ? 'none' : retail === fos.length ? 'all' : 'per-line';
}

/** The lines under an in-store fulfilment order and under no other (an order's fulfilment orders with their lines). */
export function counterLinesOf(
  fos: Array<{
    deliveryMethod: { methodType: string } | null;
    lineItems: { nodes: Array<{ lineItem: { id: string } }> };
  }>,
): Set<string> {
  const linesOf = (retail: boolean) =>
    new Set(
      fos
        .filter((fo) => (fo.deliveryMethod?.methodType === 'RETAIL') === retail)
        .flatMap((fo) => fo.lineItems.nodes.map((l) => l.lineItem.id)),
    );
  const delivered = linesOf(false);
  return new Set([...linesOf(true)].filter((id) => !delivered.has(id)));
}

function refundsFromNode(refunds: NonNullable<OrderNode['refunds']>): RefundSnapshot[] {
  return refunds.map((r) => ({
    shopifyRefundId: r.id,
    createdAt: new Date(r.createdAt),
    lines: r.refundLineItems.nodes
      .filter((l) => l.id !== null)
      .map((l) => ({
        shopifyRefundLineId: l.id!,
        shopifyLineItemId: l.lineItem.id,
        quantity: l.quantity,
        restockType: restockTypeOf(l.restockType),
        locationId: l.location?.id ?? null,
      })),
  }));
}

/**
 * An order read by GraphQL. `counterLines`: the lines taken home at the counter, which the caller reads
 * (`OrderFulfillmentOrderLines`) when `counterSaleOf` says only the lines tell.
 */
export function orderFromNode(
  o: OrderNode,
  extraLines: OrderNode['lineItems']['nodes'] = [],
  counterLines?: Set<string>,
): OrderSnapshot {
  const counter = counterSaleOf(o);
  if (counter === 'per-line' && !counterLines)
    throw new Error(
      `order ${o.id} has in-store and delivered fulfilment orders: read their lines to tell which were taken home`,
    );
  const pickup = o.fulfillmentOrders.nodes.find((fo) => fo.deliveryMethod?.methodType === 'PICK_UP');
  const shippingLine = o.shippingLines.nodes[0] ?? null;
  const express = o.shippingLines.nodes.some((l) => EXPRESS.test(`${l.title} ${l.code ?? ''}`));
  const a = o.shippingAddress;
  return {
    shopifyOrderId: o.id,
    name: o.name,
    email: o.email,
    sourceName: o.sourceName,
    tags: o.tags,
    financialStatus: o.displayFinancialStatus,
    fulfillmentStatus: o.displayFulfillmentStatus,
    createdAt: new Date(o.createdAt),
    updatedAt: new Date(o.updatedAt),
    cancelledAt: o.cancelledAt ? new Date(o.cancelledAt) : null,
    cancelReason: o.cancelReason,
    customer: o.customer
      ? compact({ email: o.customer.email, firstName: o.customer.firstName, lastName: o.customer.lastName })
      : null,
    shippingAddress: a
      ? {
          firstName: a.firstName,
          lastName: a.lastName,
          address1: a.address1,
          address2: a.address2,
          city: a.city,
          province: a.province,
          provinceCode: a.provinceCode,
          zip: a.zip,
          countryCode: a.countryCodeV2,
          phone: a.phone,
        }
      : null,
    latitude: a?.latitude ?? null,
    longitude: a?.longitude ?? null,
    shippingMethod: pickup ? 'pickup' : express ? 'express' : 'standard',
    shippingLineTitle: shippingLine?.title ?? null,
    // A pickup's store is its fulfilment order's location; a POS order's, the store of the sale.
    pickupLocationId: (pickup ? pickup.assignedLocation.location?.id : o.retailLocation?.id) ?? null,
    currencyCode: o.currentTotalPriceSet?.shopMoney.currencyCode ?? null,
    totalPrice: o.currentTotalPriceSet?.shopMoney.amount ?? null,
    lines: [...o.lineItems.nodes, ...extraLines].map((l) => ({
      shopifyLineItemId: l.id,
      shopifyVariantId: l.variant?.id ?? null,
      sku: l.sku || null,
      title: l.variantTitle ? `${l.title} - ${l.variantTitle}` : l.title,
      quantity: l.quantity,
      currentQuantity: l.currentQuantity,
      fulfilledQuantity:
        typeof l.unfulfilledQuantity === 'number' ? Math.max(0, l.currentQuantity - l.unfulfilledQuantity) : null,
      unitPrice: l.originalUnitPriceSet?.shopMoney.amount ?? null,
      soldOverCounter: counter === 'all' || (counter === 'per-line' && counterLines!.has(l.id)),
    })),
    refunds: o.refunds ? refundsFromNode(o.refunds) : null,
  };
}

const FINANCIAL: Record<string, string> = {
  paid: 'PAID',
  partially_refunded: 'PARTIALLY_REFUNDED',
  refunded: 'REFUNDED',
  voided: 'VOIDED',
  pending: 'PENDING',
  authorized: 'AUTHORIZED',
};

function refundsFromPayload(refunds: Body[]): RefundSnapshot[] {
  return refunds.map((r) => ({
    shopifyRefundId: r['admin_graphql_api_id'] ?? gid('Refund', r['id']),
    createdAt: new Date(r['created_at']),
    lines: ((r['refund_line_items'] ?? []) as Body[]).map((l) => ({
      shopifyRefundLineId: gid('RefundLineItem', l['id'])!,
      shopifyLineItemId: l['line_item']?.['admin_graphql_api_id'] ?? gid('LineItem', l['line_item_id']),
      quantity: l['quantity'],
      restockType: restockTypeOf(l['restock_type']),
      locationId: gid('Location', l['location_id']),
    })),
  }));
}

/**
 * orders/create, orders/updated, orders/cancelled bodies. A pickup order's store is not in the body
 * (only its fulfillment order knows it), nor which lines of a POS order were shipped rather than
 * taken home: `needsLookup` says to fetch the order by GraphQL. A POS body without shipping lines
 * whose lines are all fulfilled is a counter sale (the common case, read without an API call).
 */
export function orderFromPayload(body: Body): { snapshot: OrderSnapshot; needsLookup: boolean } {
  const shippingLines: Array<Body> = body['shipping_lines'] ?? [];
  const text = shippingLines.map((l) => `${l['title'] ?? ''} ${l['code'] ?? ''}`).join(' ');
  const pos = body['source_name'] === 'pos';
  const pickup = PICKUP.test(text) && !pos;
  const lineItems: Body[] = body['line_items'] ?? [];
  const counterSale = pos && shippingLines.length === 0 && lineItems.every((l) => l['fulfillable_quantity'] === 0);
  const a = body['shipping_address'] as Body | null;
  const fulfillmentStatus =
    body['fulfillment_status'] === 'fulfilled'
      ? 'FULFILLED'
      : body['fulfillment_status'] === 'partial'
        ? 'PARTIALLY_FULFILLED'
        : 'UNFULFILLED';
  const snapshot: OrderSnapshot = {
    shopifyOrderId: body['admin_graphql_api_id'] ?? gid('Order', body['id']),
    name: body['name'],
    email: body['email'] ?? null,
    sourceName: body['source_name'] ?? null,
    tags: String(body['tags'] ?? '')
      .split(',')
      .map((t: string) => t.trim())
      .filter(Boolean),
    financialStatus:
      FINANCIAL[String(body['financial_status'])] ??
      (body['financial_status'] ? String(body['financial_status']).toUpperCase() : null),
    fulfillmentStatus,
    createdAt: new Date(body['created_at']),
    updatedAt: new Date(body['updated_at']),
    cancelledAt: body['cancelled_at'] ? new Date(body['cancelled_at']) : null,
    cancelReason: body['cancel_reason'] ? String(body['cancel_reason']).toUpperCase() : null,
    customer: body['customer']
      ? compact({
          email: body['customer']['email'],
          firstName: body['customer']['first_name'],
          lastName: body['customer']['last_name'],
        })
      : null,
    shippingAddress: a
      ? {
          firstName: a['first_name'],
          lastName: a['last_name'],
          address1: a['address1'],
          address2: a['address2'],
          city: a['city'],
          province: a['province'],
          provinceCode: a['province_code'],
          zip: a['zip'],
          countryCode: a['country_code'],
          phone: a['phone'],
        }
      : null,
    latitude: a?.['latitude'] ?? null,
    longitude: a?.['longitude'] ?? null,
    shippingMethod: pickup ? 'pickup' : EXPRESS.test(text) ? 'express' : 'standard',
    shippingLineTitle: shippingLines[0]?.['title'] ?? null,
    // A POS sale happens at a store: the body names it (a pickup's store needs the API, see above).
    pickupLocationId: pos && body['location_id'] ? gid('Location', body['location_id']) : null,
    currencyCode: body['currency'] ?? null,
    totalPrice: body['current_total_price'] ?? body['total_price'] ?? null,
    lines: lineItems.map((l: Body) => ({
      shopifyLineItemId: l['admin_graphql_api_id'] ?? gid('LineItem', l['id']),
      shopifyVariantId: gid('ProductVariant', l['variant_id']),
      sku: l['sku'] || null,
      title: l['variant_title'] ? `${l['title']} - ${l['variant_title']}` : l['title'],
      quantity: l['quantity'],
      currentQuantity: l['current_quantity'] ?? l['quantity'],
      fulfilledQuantity:
        typeof l['fulfillable_quantity'] === 'number'
          ? Math.max(0, (l['current_quantity'] ?? l['quantity']) - l['fulfillable_quantity'])
          : null,
      unitPrice: l['price'] ?? null,
      soldOverCounter: counterSale,
    })),
    refunds: Array.isArray(body['refunds']) ? refundsFromPayload(body['refunds']) : null,
  };
  return { snapshot, needsLookup: pickup || (pos && !counterSale) };
}

function compact<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: NonNullable<T[K]>;
  };
}
