// Orders and their lines as downloaded from Shopify, with the OMS's own state per line and a history.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { variants } from '../catalog/catalog.schema.js';
import { facilities } from '../facilities/facilities.schema.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const ORDER_STATUSES = ['created', 'approved', 'in_progress', 'completed', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Per-line states, see the domain guide's "Orders". */
export const LINE_STATUSES = [
  'created',
  'approved',
  'brokered',
  'in_progress',
  'shipped',
  'picked_up',
  'rejected',
  'unfillable',
  'cancelled',
] as const;
export type LineStatus = (typeof LINE_STATUSES)[number];

export const SHIPPING_METHODS = ['standard', 'express', 'pickup'] as const;
export type ShippingMethod = (typeof SHIPPING_METHODS)[number];

export const orders = pgTable(
  'orders',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    shopifyOrderId: text('shopify_order_id').notNull(),
    name: text('name').notNull(),
    status: text('status').$type<OrderStatus>().notNull().default('created'),
    /** `web`, `pos`, ... (Shopify's sourceName): the sales channel, for reports and routing filters. */
    sourceName: text('source_name'),
    financialStatus: text('financial_status'),
    fulfillmentStatus: text('fulfillment_status'),
    cancelledAt: ts('cancelled_at'),
    cancelReason: text('cancel_reason'),
    customer: jsonb('customer').$type<{ email?: string; firstName?: string; lastName?: string; phone?: string }>(),
    shippingAddress: jsonb('shipping_address').$type<Record<string, string | number | null>>(),
    latitude: doublePrecision('latitude'),
    longitude: doublePrecision('longitude'),
    shippingMethod: text('shipping_method').$type<ShippingMethod>().notNull().default('standard'),
    shippingLineTitle: text('shipping_line_title'),
    /** For pickup orders: the store the customer chose; for POS orders: the store of the sale. */
    pickupFacilityId: bigint('pickup_facility_id', { mode: 'number' }).references(() => facilities.id),
    tags: text('tags').array().notNull().default([]),
    priority: integer('priority').notNull().default(0),
    promiseDate: ts('promise_date'),
    currencyCode: text('currency_code'),
    totalPrice: numeric('total_price', { precision: 14, scale: 2 }),
    shopifyCreatedAt: ts('shopify_created_at').notNull(),
    shopifyUpdatedAt: ts('shopify_updated_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('orders_shopify_id').on(t.shopifyOrderId),
    index('orders_status').on(t.status),
    index('orders_shopify_updated').on(t.shopifyUpdatedAt),
  ],
);

export const orderLines = pgTable(
  'order_lines',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    shopifyLineItemId: text('shopify_line_item_id').notNull(),
    variantId: bigint('variant_id', { mode: 'number' }).references(() => variants.id),
    sku: text('sku'),
    title: text('title').notNull(),
    /** Units ordered; never drops (Shopify's `quantity`). */
    quantity: integer('quantity').notNull(),
    /** Units still wanted (Shopify's `currentQuantity`: excludes refunded and removed units). */
    currentQuantity: integer('current_quantity').notNull(),
    unitPrice: numeric('unit_price', { precision: 14, scale: 2 }),
    /**
     * The customer took the units home from a store's counter (a POS line under an in-store, RETAIL,
     * fulfilment order): the sale lowered that store's stock, and the line is never routed. A POS line
     * shipped to the customer is not: it is routed like an online line (docs/decisions/0013).
     */
    soldOverCounter: boolean('sold_over_counter').notNull().default(false),
    status: text('status').$type<LineStatus>().notNull().default('created'),
    /**
     * Where the line is now: a physical facility once brokered, else a VIRTUAL queue. No foreign key:
     * routing moves every line, and facilities are never deleted (docs/decisions/0007-routing.md).
     */
    facilityId: bigint('facility_id', { mode: 'number' }),
    /** Lines sharing a group key (kits, bundles) are never split across facilities. */
    groupKey: text('group_key'),
    autoCancelAt: ts('auto_cancel_at'),
    /** Held lines are never auto-cancelled (the merchant is sourcing them). */
    held: boolean('held').notNull().default(false),
    /** Facilities that rejected this line: routing never offers it to them again. */
    excludedFacilityIds: bigint('excluded_facility_ids', { mode: 'number' })
      .array()
      .notNull()
      .default(sql`'{}'::bigint[]`),
    /** Pickup lines sourced elsewhere: the store they travel to for the customer. */
    transferToFacilityId: bigint('transfer_to_facility_id', { mode: 'number' }).references(() => facilities.id),
    brokeredAt: ts('brokered_at'),
    /** Units that left the facility: shipped or handed over (Switchyard's work or a fulfilment made in Shopify). */
    shippedQuantity: integer('shipped_quantity').notNull().default(0),
    /** Units Shopify shows fulfilled (from downloads and from Switchyard's confirmed pushes). */
    shopifyFulfilledQuantity: integer('shopify_fulfilled_quantity').notNull().default(0),
    /**
     * The facility whose Shopify location holds the line's fulfilment order, once Switchyard moved it
     * there (null: where Shopify put it, the online location or the pickup store).
     */
    shopifyFulfillmentFacilityId: bigint('shopify_fulfillment_facility_id', { mode: 'number' }).references(
      () => facilities.id,
    ),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('order_lines_shopify_id').on(t.shopifyLineItemId),
    index('order_lines_order').on(t.orderId),
    index('order_lines_facility_status').on(t.facilityId, t.status),
    // Queue demand per item (ATP): lines not yet at a facility. Routed lines leave it (their update
    // writes no entry here), which keeps routing's line writes one index cheaper.
    index('order_lines_waiting_variant')
      .on(t.variantId)
      .where(sql`status IN ('created','approved','rejected','unfillable')`),
    // Lines routing may pick up (new or waiting in a queue), by order: routing claims orders through
    // it, so a claim reads only these however many orders are done (routed lines leave it for free).
    index('order_lines_waiting')
      .on(t.orderId)
      .where(sql`status IN ('created','approved','rejected','unfillable')`),
  ],
);

/** Append-only history of everything that happened to an order (from Shopify or inside the OMS). */
export const orderHistory = pgTable(
  'order_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    at: ts('at').notNull().defaultNow(),
    /** Stable event name: `order.created`, `order.line_quantity_changed`, `order.cancelled`, ... */
    kind: text('kind').notNull(),
    source: text('source').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('order_history_order').on(t.orderId, t.at)],
);

/** Restock types of Shopify's refund lines (RefundLineItemRestockType). */
export const RESTOCK_TYPES = ['CANCEL', 'RETURN', 'NO_RESTOCK', 'LEGACY_RESTOCK'] as const;
export type RestockType = (typeof RESTOCK_TYPES)[number];

/**
 * Every refund line Shopify made on an order, once (append-only): units refunded, whether and where
 * they went back to stock. A return without restock lives only here and in the history; a restock
 * becomes a ledger entry (the inventory room reads these rows).
 */
export const orderRefundLines = pgTable(
  'order_refund_lines',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    orderLineId: bigint('order_line_id', { mode: 'number' })
      .notNull()
      .references(() => orderLines.id, { onDelete: 'cascade' }),
    shopifyRefundId: text('shopify_refund_id').notNull(),
    shopifyRefundLineId: text('shopify_refund_line_id').notNull(),
    quantity: integer('quantity').notNull(),
    restockType: text('restock_type').$type<RestockType>().notNull(),
    /** Where Shopify put the units back (null: not restocked). */
    shopifyLocationId: text('shopify_location_id'),
    /** The facility of that location (null: not restocked, or a location Switchyard does not hold). */
    facilityId: bigint('facility_id', { mode: 'number' }).references(() => facilities.id),
    /** Shopify's time of the refund. */
    refundedAt: ts('refunded_at').notNull(),
    recordedAt: ts('recorded_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('order_refund_lines_shopify_id').on(t.shopifyRefundLineId),
    index('order_refund_lines_line').on(t.orderLineId),
  ],
);
