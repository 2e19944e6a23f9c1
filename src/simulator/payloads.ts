// REST-style (snake_case) webhook bodies, shaped like Shopify's (see the samples Shopify documents):
// numeric `id` plus `admin_graphql_api_id`. Built when the event happens, so a delayed delivery
// carries the state of that moment, as Shopify's do.
import { fulfillmentStatus, unfulfilledQuantity, type SimLineItem, type SimOrder } from './orders.js';
import { gid, type ShopEvent, type SimShop } from './state.js';
import { orderTotal } from './views-orders.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function orderPayload(shop: SimShop, order: SimOrder) {
  const status = fulfillmentStatus(shop, order);
  const address = order.shippingAddress;
  return {
    id: order.id,
    admin_graphql_api_id: gid('Order', order.id),
    name: order.name,
    number: order.number - 1000,
    order_number: order.number,
    email: order.email,
    contact_email: order.email,
    created_at: iso(order.createdAt),
    updated_at: iso(order.updatedAt),
    processed_at: iso(order.processedAt),
    cancelled_at: iso(order.cancelledAt),
    cancel_reason: order.cancelReason?.toLowerCase() ?? null,
    closed_at: iso(order.closedAt),
    source_name: order.sourceName,
    tags: order.tags.join(', '),
    note: order.note,
    test: false,
    currency: shop.currencyCode,
    financial_status: order.financialStatus.toLowerCase(),
    fulfillment_status: status === 'FULFILLED' ? 'fulfilled' : status === 'PARTIALLY_FULFILLED' ? 'partial' : null,
    total_price: orderTotal(order, false).toFixed(2),
    current_total_price: orderTotal(order, true).toFixed(2),
    // A POS order names its store.
    location_id: order.retailLocationId,
    customer: {
      id: order.customer.id,
      admin_graphql_api_id: gid('Customer', order.customer.id),
      email: order.customer.email,
      first_name: order.customer.firstName,
      last_name: order.customer.lastName,
    },
    shipping_address: address
      ? {
          first_name: address.firstName,
          last_name: address.lastName,
          name: `${address.firstName} ${address.lastName}`,
          address1: address.address1,
          address2: address.address2,
          city: address.city,
          province: address.province,
          province_code: address.provinceCode,
          zip: address.zip,
          country: address.country,
          country_code: address.countryCode,
          phone: address.phone,
          company: null,
          latitude: address.latitude,
          longitude: address.longitude,
        }
      : null,
    shipping_lines: order.shippingLine
      ? [
          {
            id: order.id,
            title: order.shippingLine.title,
            code: order.shippingLine.code,
            source: order.shippingLine.source,
            price: '0.00',
            is_removed: false,
          },
        ]
      : [],
    line_items: order.lineItems.map((line) => lineItemPayload(shop, order, line)),
    fulfillments: order.fulfillmentIds.map((id) => fulfillmentPayload(shop, id)),
    refunds: order.refunds.map((r) => refundPayload(shop, order, r.id)),
  };
}

function fulfillmentPayload(shop: SimShop, id: number) {
  const f = shop.fulfillments.get(id)!;
  const order = shop.orders.get(f.orderId)!;
  const tracking = f.trackingInfo[0];
  return {
    id: f.id,
    admin_graphql_api_id: gid('Fulfillment', f.id),
    order_id: f.orderId,
    name: `${order.name}.${order.fulfillmentIds.indexOf(f.id) + 1}`,
    status: f.status.toLowerCase(),
    created_at: iso(f.createdAt),
    updated_at: iso(f.updatedAt),
    location_id: f.locationId,
    tracking_company: tracking?.company ?? null,
    tracking_number: tracking?.number ?? null,
    tracking_numbers: tracking?.number ? [tracking.number] : [],
    tracking_url: tracking?.url ?? null,
    tracking_urls: tracking?.url ? [tracking.url] : [],
    notify_customer: f.notifyCustomer,
    line_items: f.lines.map((l) => {
      const line = order.lineItems.find((li) => li.id === l.lineItemId)!;
      return {
        id: line.id,
        admin_graphql_api_id: gid('LineItem', line.id),
        variant_id: line.variantId,
        sku: line.sku,
        quantity: l.quantity,
      };
    }),
  };
}

const moneySet = (shop: SimShop, amount: number) => {
  const money = { amount: amount.toFixed(2), currency_code: shop.currencyCode };
  return { shop_money: money, presentment_money: money };
};

/** An order's line item as REST bodies carry it (orders/*, and inside refunds/create). */
function lineItemPayload(shop: SimShop, order: SimOrder, line: SimLineItem) {
  const open = unfulfilledQuantity(shop, order, line.id);
  return {
    id: line.id,
    admin_graphql_api_id: gid('LineItem', line.id),
    variant_id: line.variantId,
    product_id: line.productId,
    sku: line.sku,
    title: line.title,
    variant_title: line.variantTitle,
    name: `${line.title} - ${line.variantTitle}`,
    vendor: shop.products.get(line.productId)?.vendor ?? null,
    quantity: line.quantity,
    current_quantity: line.currentQuantity,
    fulfillable_quantity: open,
    fulfillment_status: open === 0 && line.currentQuantity > 0 ? 'fulfilled' : null,
    fulfillment_service: 'manual',
    price: line.price,
    price_set: moneySet(shop, Number(line.price)),
    total_discount: '0.00',
    total_discount_set: moneySet(shop, 0),
    discount_allocations: [],
    duties: [],
    tax_lines: [],
    properties: [],
    grams: line.grams,
    requires_shipping: true,
    taxable: true,
    gift_card: false,
    product_exists: true,
    variant_inventory_management: 'shopify',
  };
}

/** A refunds/create body, with the fields of Shopify's own sample (no transactions: the simulator moves no money). */
function refundPayload(shop: SimShop, order: SimOrder, refundId: number) {
  const refund = order.refunds.find((r) => r.id === refundId)!;
  return {
    id: refund.id,
    admin_graphql_api_id: gid('Refund', refund.id),
    order_id: order.id,
    created_at: iso(refund.createdAt),
    processed_at: iso(refund.createdAt),
    note: refund.note,
    user_id: null,
    restock: refund.lines.some((l) => l.restockType !== 'NO_RESTOCK'),
    duties: [],
    total_duties_set: moneySet(shop, 0),
    return: null,
    refund_shipping_lines: [],
    order_adjustments: [],
    refund_line_items: refund.lines.map((l) => {
      const line = order.lineItems.find((li) => li.id === l.lineItemId)!;
      const subtotal = Number(line.price) * l.quantity;
      return {
        id: l.id,
        quantity: l.quantity,
        line_item_id: line.id,
        location_id: l.locationId,
        restock_type: l.restockType.toLowerCase(),
        subtotal,
        total_tax: 0,
        subtotal_set: moneySet(shop, subtotal),
        total_tax_set: moneySet(shop, 0),
        line_item: lineItemPayload(shop, order, line),
      };
    }),
    transactions: [],
  };
}

function productPayload(shop: SimShop, productId: number) {
  const p = shop.products.get(productId);
  if (!p) return { id: productId };
  return {
    id: p.id,
    admin_graphql_api_id: gid('Product', p.id),
    title: p.title,
    handle: p.handle,
    status: p.status.toLowerCase(),
    vendor: p.vendor,
    product_type: p.productType,
    tags: p.tags.join(', '),
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
    variant_gids: p.variantIds.map((id) => ({
      admin_graphql_api_id: gid('ProductVariant', id),
      updated_at: iso(shop.variants.get(id)!.updatedAt),
    })),
    variants: p.variantIds.map((id) => {
      const v = shop.variants.get(id)!;
      return {
        id: v.id,
        admin_graphql_api_id: gid('ProductVariant', v.id),
        product_id: p.id,
        title: v.title,
        sku: v.sku,
        barcode: v.barcode,
        price: v.price,
        position: v.position,
        inventory_item_id: v.inventoryItemId,
        inventory_policy: v.inventoryPolicy.toLowerCase(),
        created_at: iso(v.createdAt),
        updated_at: iso(v.updatedAt),
      };
    }),
    media: p.imageUrls.map((url, index) => ({
      id: p.id * 100 + index,
      admin_graphql_api_id: gid('MediaImage', p.id * 100 + index),
      media_content_type: 'IMAGE',
      preview_image: { src: url },
    })),
  };
}

/** The body Shopify would send for this event. */
/** A stable numeric id for a shop (the simulator names shops by domain). */
function shopNumericId(domain: string): number {
  let hash = 0;
  for (const c of domain) hash = (hash * 31 + c.charCodeAt(0)) % 2_147_483_647;
  return hash;
}

export function buildPayload(shop: SimShop, event: ShopEvent): Record<string, unknown> {
  switch (event.resource) {
    case 'inventory_level': {
      // Exactly the fields of Shopify's samples (docs 2024-04, and a body captured in 2026): no
      // other named quantity, so a receiver has to read the level to learn more.
      const level = shop.level(event.itemId, event.locationId);
      return {
        inventory_item_id: event.itemId,
        location_id: event.locationId,
        available: level ? level.quantities.available : null,
        updated_at: iso(level?.updatedAt ?? shop.now()),
        admin_graphql_api_id: `gid://shopify/InventoryLevel/${event.locationId}?inventory_item_id=${event.itemId}`,
      };
    }
    case 'order': {
      const order = shop.orders.get(event.orderId)!;
      if (event.topic === 'orders/edited') {
        return {
          order_edit: {
            id: shop.nextId(),
            order_id: order.id,
            created_at: iso(order.updatedAt),
            committed_at: iso(order.updatedAt),
            notify_customer: false,
            staff_note: '',
            line_items: { additions: event.extra?.['additions'] ?? [], removals: event.extra?.['removals'] ?? [] },
            discounts: { additions: [], removals: [] },
            shipping_lines: { additions: [], removals: [] },
          },
        };
      }
      if (event.topic === 'orders/delete') return { id: order.id };
      return orderPayload(shop, order);
    }
    case 'refund':
      return refundPayload(shop, shop.orders.get(event.orderId)!, event.refundId);
    case 'fulfillment':
      return fulfillmentPayload(shop, event.fulfillmentId);
    case 'product':
      return event.topic === 'products/delete' ? { id: event.productId } : productPayload(shop, event.productId);
    case 'fulfillment_order': {
      const fo = shop.fulfillmentOrders.get(event.fulfillmentOrderId)!;
      const summary = (id: number) => {
        const f = shop.fulfillmentOrders.get(id)!;
        return {
          id: gid('FulfillmentOrder', f.id),
          status: f.status.toLowerCase(),
          assigned_location_id: gid('Location', f.assignedLocationId),
        };
      };
      if (event.topic === 'fulfillment_orders/moved') {
        const originalId = Number(event.extra?.['originalId'] ?? fo.id);
        return {
          original_fulfillment_order: summary(originalId),
          moved_fulfillment_order: summary(fo.id),
          destination_location_id: gid('Location', fo.assignedLocationId),
          fulfillment_order_line_items_requested: null,
          source_location: { id: gid('Location', shop.fulfillmentOrders.get(originalId)!.assignedLocationId) },
        };
      }
      return {
        fulfillment_order: { id: gid('FulfillmentOrder', fo.id), status: fo.status.toLowerCase(), preparable: true },
      };
    }
    case 'app':
      // The shop, as Shopify sends it with app/uninstalled.
      return {
        id: shopNumericId(shop.domain),
        name: shop.name,
        email: `owner@${shop.domain}`,
        domain: shop.domain,
        myshopify_domain: shop.domain,
        country_code: 'US',
        currency: shop.currencyCode,
        iana_timezone: shop.ianaTimezone,
        plan_name: 'shopify_plus',
        created_at: null,
        updated_at: iso(shop.now()),
      };
    case 'bulk_operation': {
      const op = shop.bulkOperations.get(event.bulkOperationId)!;
      return {
        admin_graphql_api_id: gid('BulkOperation', op.id),
        completed_at: iso(op.completedAt),
        created_at: iso(op.createdAt),
        error_code: op.errorCode?.toLowerCase() ?? null,
        status: op.status.toLowerCase(),
        type: op.type.toLowerCase(),
      };
    }
  }
}
