// Inventory truth: an append-only ledger, counters derived from it, and reservations.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { variants } from '../catalog/catalog.schema.js';
import { facilities } from '../facilities/facilities.schema.js';
import { orderLines } from '../orders/orders.schema.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Stable, persisted names of ledger entry kinds. */
export const LEDGER_KINDS = [
  'erp_reset',
  'receipt',
  'transfer_in',
  'transfer_out',
  'pos_sale',
  /** A POS sale booked for a line that turned out to be shipped to the customer, not taken home. */
  'pos_sale_reversal',
  'shipment',
  'damaged',
  'found',
  'count_variance',
  /** Units returned (refund line RETURN) and restocked at a facility: Shopify raised its on hand there too. */
  'return_restock',
  'shopify_snapshot_difference',
  'manual_adjustment',
  'opening_balance',
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
  (t) => [
    primaryKey({ columns: [t.variantId, t.facilityId] }),
    check('inventory_levels_reserved_nonnegative', sql`reserved >= 0`),
  ],
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
    // The line's item and the facility holding the units. No foreign keys (routing writes hundreds of
    // thousands of these an hour, each key check a lookup): items and facilities are never deleted,
    // and routing writes only ids it has just read (docs/decisions/0007-routing.md).
    variantId: bigint('variant_id', { mode: 'number' }).notNull(),
    facilityId: bigint('facility_id', { mode: 'number' }).notNull(),
    quantity: integer('quantity').notNull(),
    status: text('status').$type<ReservationStatus>().notNull().default('active'),
    createdAt: ts('created_at').notNull().defaultNow(),
    closedAt: ts('closed_at'),
    closeReason: text('close_reason'),
  },
  (t) => [
    // Lines look up their active reservations only (the unique index below); no index over all of them.
    uniqueIndex('reservations_one_active_per_line_facility')
      .on(t.orderLineId, t.facilityId)
      .where(sql`status = 'active'`),
    check('reservations_quantity_positive', sql`quantity > 0`),
  ],
);

/**
 * The latest ERP count per variant × facility. A ledger entry that happened before it (a late POS
 * sale) was already in that count, so it is recorded together with an equal and opposite correction.
 */
export const inventoryCountMarks = pgTable(
  'inventory_count_marks',
  {
    variantId: bigint('variant_id', { mode: 'number' })
      .notNull()
      .references(() => variants.id),
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id),
    countedAt: ts('counted_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.variantId, t.facilityId] })],
);

/** Safety stock by product tag, for one facility or (facility null) for all of them. */
export const safetyStockRules = pgTable(
  'safety_stock_rules',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tag: text('tag').notNull(),
    facilityId: bigint('facility_id', { mode: 'number' }).references(() => facilities.id, { onDelete: 'cascade' }),
    quantity: integer('quantity').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('safety_stock_rules_tag_facility').on(t.tag, sql`coalesce(${t.facilityId}, 0)`),
    check('safety_stock_rules_quantity_nonnegative', sql`quantity >= 0`),
  ],
);

/** `failed`: stopped by something other than its rows (a stop signal, the database, the file gone); see its one error. */
export const IMPORT_STATUSES = ['validating', 'rejected', 'applying', 'applied', 'failed'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

/** One ERP count file import: what was checked, what was applied, and every bad row. */
export const inventoryImports = pgTable('inventory_imports', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  fileName: text('file_name').notNull(),
  fileSha256: text('file_sha256').notNull(),
  format: text('format').notNull(),
  source: text('source').notNull(),
  perRow: integer('per_row').notNull().default(0),
  status: text('status').$type<ImportStatus>().notNull(),
  rowsTotal: integer('rows_total').notNull().default(0),
  rowsValid: integer('rows_valid').notNull().default(0),
  rowsApplied: integer('rows_applied').notNull().default(0),
  entriesWritten: integer('entries_written').notNull().default(0),
  errorCount: integer('error_count').notNull().default(0),
  /** The first errors (line, reason); errorCount has them all. */
  errors: jsonb('errors').$type<Array<{ line: number; reason: string }>>().notNull().default([]),
  startedAt: ts('started_at').notNull().defaultNow(),
  finishedAt: ts('finished_at'),
});

/** Valid rows of an import, staged between checking the whole file and applying it. */
export const inventoryImportRows = pgTable(
  'inventory_import_rows',
  {
    importId: bigint('import_id', { mode: 'number' })
      .notNull()
      .references(() => inventoryImports.id, { onDelete: 'cascade' }),
    line: integer('line').notNull(),
    facilityId: bigint('facility_id', { mode: 'number' }).notNull(),
    variantId: bigint('variant_id', { mode: 'number' }).notNull(),
    quantity: integer('quantity').notNull(),
    countedAt: ts('counted_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.importId, t.line] })],
);

/**
 * Variants whose available-to-promise may have changed since it was last published. Marked in the
 * same transaction as the change; the publisher takes them under a lease and removes a mark only if
 * no newer change came in meanwhile.
 */
export const inventoryPublishQueue = pgTable('inventory_publish_queue', {
  variantId: bigint('variant_id', { mode: 'number' })
    .primaryKey()
    .references(() => variants.id),
  changedAt: ts('changed_at').notNull(),
  leasedUntil: ts('leased_until'),
  /** The process (`host:pid`) publishing it: a killed one's leases are freed at once on this machine. */
  leasedBy: text('leased_by'),
  /** Shopify may have changed too (a level webhook, a snapshot difference): read before deciding. */
  needsRead: boolean('needs_read').notNull().default(false),
  /**
   * With `needsRead`, the locations to read (a level webhook names one); null reads the variant at
   * every published location.
   */
  readLocations: text('read_locations').array(),
});
