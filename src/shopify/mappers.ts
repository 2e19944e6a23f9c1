// Shopify's two shapes of the same thing (GraphQL nodes from queries and bulk files; REST-style
// webhook bodies) mapped to one snapshot type each, so the domain never sees Shopify's formats.
import type { ProductSnapshot, VariantSnapshot } from '../domains/catalog/index.js';
import type { OrderSnapshot } from '../domains/orders/index.js';

export type { OrderSnapshot, ProductSnapshot };
import type { OrderNode, ProductNode, VariantNode } from './operations.js';



// REST webhook bodies are untyped JSON, read field by field with defaults.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

const EXPRESS = /express|overnight|next[\s-]?day|same[\s-]?day|priority/i;
const PICKUP = /pick[\s-]?up/i;

const gid = (type: string, id: number | string | null | undefined) => (id === null || id === undefined ? null : `gid://shopify/${type}/${id}`);

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

export function orderFromNode(o: OrderNode, extraLines: OrderNode['lineItems']['nodes'] = []): OrderSnapshot {
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
    customer: o.customer ? compact({ email: o.customer.email, firstName: o.customer.firstName, lastName: o.customer.lastName }) : null,
    shippingAddress: a
      ? { firstName: a.firstName, lastName: a.lastName, address1: a.address1, address2: a.address2, city: a.city, province: a.province, provinceCode: a.provinceCode, zip: a.zip, countryCode: a.countryCodeV2, phone: a.phone }
      : null,
    latitude: a?.latitude ?? null,
    longitude: a?.longitude ?? null,
    shippingMethod: pickup ? 'pickup' : express ? 'express' : 'standard',
    shippingLineTitle: shippingLine?.title ?? null,
    pickupLocationId: pickup?.assignedLocation.location?.id ?? null,
    currencyCode: o.currentTotalPriceSet?.shopMoney.currencyCode ?? null,
    totalPrice: o.currentTotalPriceSet?.shopMoney.amount ?? null,
    lines: [...o.lineItems.nodes, ...extraLines].map((l) => ({
      shopifyLineItemId: l.id,
      shopifyVariantId: l.variant?.id ?? null,
      sku: l.sku || null,
      title: l.variantTitle ? `${l.title} - ${l.variantTitle}` : l.title,
      quantity: l.quantity,
      currentQuantity: l.currentQuantity,
      fulfilledQuantity: typeof l.unfulfilledQuantity === 'number' ? Math.max(0, l.currentQuantity - l.unfulfilledQuantity) : null,
      unitPrice: l.originalUnitPriceSet?.shopMoney.amount ?? null,
    })),
  };
}

const FINANCIAL: Record<string, string> = { paid: 'PAID', partially_refunded: 'PARTIALLY_REFUNDED', refunded: 'REFUNDED', voided: 'VOIDED', pending: 'PENDING', authorized: 'AUTHORIZED' };

/**
 * orders/create, orders/updated, orders/cancelled bodies. A pickup order's store is not in the body
 * (only its fulfillment order knows it): `needsLookup` says to fetch the order by GraphQL.
 */
export function orderFromPayload(body: Body): { snapshot: OrderSnapshot; needsLookup: boolean } {
  const shippingLines: Array<Body> = body['shipping_lines'] ?? [];
  const text = shippingLines.map((l) => `${l['title'] ?? ''} ${l['code'] ?? ''}`).join(' ');
  const pickup = PICKUP.test(text) && body['source_name'] !== 'pos';
  const a = body['shipping_address'] as Body | null;
  const fulfillmentStatus = body['fulfillment_status'] === 'fulfilled' ? 'FULFILLED' : body['fulfillment_status'] === 'partial' ? 'PARTIALLY_FULFILLED' : 'UNFULFILLED';
  const snapshot: OrderSnapshot = {
    shopifyOrderId: body['admin_graphql_api_id'] ?? gid('Order', body['id']),
    name: body['name'],
    email: body['email'] ?? null,
    sourceName: body['source_name'] ?? null,
    tags: String(body['tags'] ?? '')
      .split(',')
      .map((t: string) => t.trim())
      .filter(Boolean),
    financialStatus: FINANCIAL[String(body['financial_status'])] ?? (body['financial_status'] ? String(body['financial_status']).toUpperCase() : null),
    fulfillmentStatus,
    createdAt: new Date(body['created_at']),
    updatedAt: new Date(body['updated_at']),
    cancelledAt: body['cancelled_at'] ? new Date(body['cancelled_at']) : null,
    cancelReason: body['cancel_reason'] ? String(body['cancel_reason']).toUpperCase() : null,
    customer: body['customer'] ? compact({ email: body['customer']['email'], firstName: body['customer']['first_name'], lastName: body['customer']['last_name'] }) : null,
    shippingAddress: a
      ? { firstName: a['first_name'], lastName: a['last_name'], address1: a['address1'], address2: a['address2'], city: a['city'], province: a['province'], provinceCode: a['province_code'], zip: a['zip'], countryCode: a['country_code'], phone: a['phone'] }
      : null,
    latitude: a?.['latitude'] ?? null,
    longitude: a?.['longitude'] ?? null,
    shippingMethod: pickup ? 'pickup' : EXPRESS.test(text) ? 'express' : 'standard',
    shippingLineTitle: shippingLines[0]?.['title'] ?? null,
    // A POS sale happens at a store: the body names it (a pickup's store needs the API, see above).
    pickupLocationId: body['source_name'] === 'pos' && body['location_id'] ? gid('Location', body['location_id']) : null,
    currencyCode: body['currency'] ?? null,
    totalPrice: body['current_total_price'] ?? body['total_price'] ?? null,
    lines: (body['line_items'] ?? []).map((l: Body) => ({
      shopifyLineItemId: l['admin_graphql_api_id'] ?? gid('LineItem', l['id']),
      shopifyVariantId: gid('ProductVariant', l['variant_id']),
      sku: l['sku'] || null,
      title: l['variant_title'] ? `${l['title']} - ${l['variant_title']}` : l['title'],
      quantity: l['quantity'],
      currentQuantity: l['current_quantity'] ?? l['quantity'],
      fulfilledQuantity: typeof l['fulfillable_quantity'] === 'number' ? Math.max(0, (l['current_quantity'] ?? l['quantity']) - l['fulfillable_quantity']) : null,
      unitPrice: l['price'] ?? null,
    })),
  };
  return { snapshot, needsLookup: pickup };
}

function compact<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as { [K in keyof T]?: NonNullable<T[K]> };
}
