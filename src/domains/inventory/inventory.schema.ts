// Inventory truth: an append-only ledger, counters derived from it, and reservations.
import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { variants } from '../catalog/index.js';
import { facilities } from '../facilities/index.js';
import { orderLines } from '../orders/index.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Stable, persisted names of ledger entry kinds. */
export const LEDGER_KINDS = [
  'erp_reset',
  'receipt',
  'transfer_in',
  'transfer_out',
  'pos_sale',
  'shipment',
  'damaged',
  'found',
  'count_variance',
  'return_restock',
  'shopify_snapshot_difference',
  'manual_adjustment',
] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

export const inventoryLedger = pgTable(
  'inventory_ledger',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    variantId: bigint('variant_id', { mode: 'number' })
      .notNull()
      .references(() => variants.id),
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id),
    delta: integer('delta').notNull(),
    kind: text('kind').$type<LedgerKind>().notNull(),
    referenceType: text('reference_type'),
    referenceId: text('reference_id'),
    occurredAt: ts('occurred_at').notNull(),
    recordedAt: ts('recorded_at').notNull().defaultNow(),
    source: text('source').notNull(),
    /** A replayed event carries the same key and changes nothing. */
    idempotencyKey: text('idempotency_key').notNull(),
    note: text('note'),
  },
  (t) => [
    uniqueIndex('inventory_ledger_idempotency').on(t.idempotencyKey),
    index('inventory_ledger_item_time').on(t.variantId, t.facilityId, t.occurredAt),
  ],
);

/** Counters per variant × facility, kept in step with the ledger and recomputable from it. */
export const inventoryLevels = pgTable(
  'inventory_levels',
  {
    variantId: bigint('variant_id', { mode: 'number' })
      .notNull()
      .references(() => variants.id),
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id),
    onHand: integer('on_hand').notNull().default(0),
    reserved: integer('reserved').notNull().default(0),
    /** Per product × facility safety stock; null falls back to rules and the facility default. */
    safetyStock: integer('safety_stock'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.variantId, t.facilityId] }), check('inventory_levels_reserved_nonnegative', sql`reserved >= 0`)],
);

export const RESERVATION_STATUSES = ['active', 'consumed', 'released'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

export const reservations = pgTable(
  'reservations',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderLineId: bigint('order_line_id', { mode: 'number' })
      .notNull()
      .references(() => orderLines.id),
    variantId: bigint('variant_id', { mode: 'number' })
      .notNull()
      .references(() => variants.id),
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id),
    quantity: integer('quantity').notNull(),
    status: text('status').$type<ReservationStatus>().notNull().default('active'),
    createdAt: ts('created_at').notNull().defaultNow(),
    closedAt: ts('closed_at'),
    closeReason: text('close_reason'),
  },
  (t) => [
    index('reservations_line').on(t.orderLineId),
    uniqueIndex('reservations_one_active_per_line_facility')
      .on(t.orderLineId, t.facilityId)
      .where(sql`status = 'active'`),
    check('reservations_quantity_positive', sql`quantity > 0`),
  ],
);
