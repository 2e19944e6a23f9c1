// Store work (shipments and pickups) and the pushes that tell Shopify about them.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { facilities } from '../facilities/facilities.schema.js';
import { orderLines, orders } from '../orders/orders.schema.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const SHIPMENT_KINDS = ['ship', 'pickup'] as const;
export type ShipmentKind = (typeof SHIPMENT_KINDS)[number];

/**
 * ship:   picking → packed → shipped
 * pickup: picking → ready → handed_over
 * either, before it leaves: → cancelled (units back on the shelf)
 */
export const SHIPMENT_STATUSES = ['picking', 'packed', 'shipped', 'ready', 'handed_over', 'cancelled'] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];
/** Work in hand at the facility: its units are taken from the lines' open quantity. */
export const ACTIVE_SHIPMENT_STATUSES = ['picking', 'packed', 'ready'] as const;

export interface Package {
  weightGrams: number;
  box?: string | undefined;
}

export const shipments = pgTable(
  'shipments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id),
    kind: text('kind').$type<ShipmentKind>().notNull(),
    status: text('status').$type<ShipmentStatus>().notNull(),
    /** `store` (work done through Switchyard) or `shopify` (a fulfilment made in Shopify, imported). */
    source: text('source').notNull().default('store'),
    packages: jsonb('packages').$type<Package[]>().notNull().default([]),
    carrier: text('carrier'),
    trackingNumber: text('tracking_number'),
    trackingUrl: text('tracking_url'),
    handedOverTo: text('handed_over_to'),
    /** When the parcel left or the customer collected (the store's time, may be earlier than recording). */
    completedAt: ts('completed_at'),
    readyAt: ts('ready_at'),
    /**
     * Units of lines cancelled in Shopify after they were picked or packed: the associate puts them
     * back on the shelf ({ orderLineId: units }). Cleared when acknowledged.
     */
    putBack: jsonb('put_back').$type<Record<string, number>>().notNull().default({}),
    /**
     * When the pickup-expiry job was about to ask Shopify to cancel this uncollected pickup (written
     * before the call: a run after a crash finds the cancellation made and still moves the base).
     */
    expirySentAt: ts('expiry_sent_at'),
    /** When the pickup-expiry job asked Shopify to cancel this uncollected pickup. */
    expiryRequestedAt: ts('expiry_requested_at'),
    /** The Shopify fulfilment this shipment became (ours once confirmed, or the imported one). */
    shopifyFulfillmentId: text('shopify_fulfillment_id'),
    createdBy: text('created_by').notNull().default('api'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('shipments_facility_status').on(t.facilityId, t.status),
    index('shipments_order').on(t.orderId),
    uniqueIndex('shipments_shopify_fulfillment').on(t.shopifyFulfillmentId),
  ],
);

export const shipmentLines = pgTable(
  'shipment_lines',
  {
    shipmentId: bigint('shipment_id', { mode: 'number' })
      .notNull()
      .references(() => shipments.id, { onDelete: 'cascade' }),
    orderLineId: bigint('order_line_id', { mode: 'number' })
      .notNull()
      .references(() => orderLines.id),
    quantity: integer('quantity').notNull(),
  },
  (t) => [primaryKey({ columns: [t.shipmentId, t.orderLineId] }), index('shipment_lines_line').on(t.orderLineId)],
);

export const PUSH_ACTIONS = ['prepare_pickup', 'fulfil'] as const;
export type PushAction = (typeof PUSH_ACTIONS)[number];
/**
 * pending → sending (the call may have reached Shopify) → confirmed; sending → pending again only
 * after Shopify's own fulfilments show the call did not apply. failed = Shopify refused it (a person
 * must look: the reason is in last_error).
 */
export const PUSH_STATUSES = ['pending', 'sending', 'confirmed', 'failed'] as const;
export type PushStatus = (typeof PUSH_STATUSES)[number];

/** One row per shipment × action: the outbox towards Shopify, exactly once per shipment. */
export const fulfillmentPushes = pgTable(
  'fulfillment_pushes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    shipmentId: bigint('shipment_id', { mode: 'number' })
      .notNull()
      .references(() => shipments.id, { onDelete: 'cascade' }),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    action: text('action').$type<PushAction>().notNull(),
    status: text('status').$type<PushStatus>().notNull().default('pending'),
    notifyCustomer: boolean('notify_customer').notNull().default(true),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    leasedUntil: ts('leased_until'),
    /** The order's Shopify fulfilments just before the call: a new one matching this shipment is ours. */
    fulfillmentsBefore: text('fulfillments_before')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    shopifyFulfillmentId: text('shopify_fulfillment_id'),
    /**
     * Units that left in this parcel beyond what Shopify still owed the customer when it was pushed
     * (the order was edited or refunded in Shopify and Switchyard had not heard yet): the fulfilment
     * covers the rest; these are an exception for the store to look at.
     */
    beyondOwed: jsonb('beyond_owed').$type<Array<{ orderLineId: number; quantity: number }>>().notNull().default([]),
    lastError: text('last_error'),
    createdAt: ts('created_at').notNull().defaultNow(),
    sentAt: ts('sent_at'),
    confirmedAt: ts('confirmed_at'),
  },
  (t) => [
    uniqueIndex('fulfillment_pushes_shipment_action').on(t.shipmentId, t.action),
    index('fulfillment_pushes_due')
      .on(t.status, t.nextAttemptAt)
      .where(sql`status in ('pending', 'sending')`),
    index('fulfillment_pushes_order').on(t.orderId),
    // The few parcels with units beyond what Shopify owed: read by the store's work and the metrics.
    index('fulfillment_pushes_beyond_owed')
      .on(t.shipmentId)
      .where(sql`beyond_owed <> '[]'::jsonb`),
  ],
);

/** Every call (and every check of Shopify's fulfilments) made for a push, with Shopify's answer. */
export const fulfillmentPushLog = pgTable(
  'fulfillment_push_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    pushId: bigint('push_id', { mode: 'number' })
      .notNull()
      .references(() => fulfillmentPushes.id, { onDelete: 'cascade' }),
    at: ts('at').notNull().defaultNow(),
    /** `created`, `found_existing` (an earlier call had applied), `not_applied`, `refused`, `unknown`, `waiting`. */
    outcome: text('outcome').notNull(),
    request: jsonb('request').$type<Record<string, unknown>>().notNull().default({}),
    response: jsonb('response').$type<Record<string, unknown>>().notNull().default({}),
    durationMs: integer('duration_ms').notNull().default(0),
  },
  (t) => [index('fulfillment_push_log_push').on(t.pushId)],
);

/**
 * Orders whose state in Shopify must be brought in line: pushes to send or settle, and (`check`)
 * fulfilments Shopify shows that may have been made there. One worker handles an order at a time.
 */
export const fulfillmentSync = pgTable('fulfillment_sync', {
  orderId: bigint('order_id', { mode: 'number' })
    .primaryKey()
    .references(() => orders.id, { onDelete: 'cascade' }),
  requestedAt: ts('requested_at').notNull().defaultNow(),
  dueAt: ts('due_at').notNull().defaultNow(),
  /** Compare Shopify's fulfilments with Switchyard's and import the ones made in Shopify. */
  check: boolean('check').notNull().default(false),
  leasedUntil: ts('leased_until'),
  /** Who holds the lease: `host:pid` of the worker process. */
  leasedBy: text('leased_by'),
});
