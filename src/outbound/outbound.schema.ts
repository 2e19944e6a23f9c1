// The outbound room's state: Shopify's side of inventory as Switchyard last knew it (the shadow the
// publisher compares and sets against), every push it made, and the differences it found.
import { bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * What Shopify holds per inventory item × location, as last downloaded (initial load, snapshot
 * reconciliation). Switchyard is the master of inventory; this is Shopify's side, for comparing and
 * for publishing without overwriting Shopify's own changes.
 */
export const shopifyInventorySnapshot = pgTable(
  'shopify_inventory_snapshot',
  {
    shopifyInventoryItemId: text('shopify_inventory_item_id').notNull(),
    shopifyLocationId: text('shopify_location_id').notNull(),
    available: integer('available').notNull(),
    onHand: integer('on_hand').notNull(),
    committed: integer('committed').notNull(),
    /** When Shopify last confirmed these figures (a read, or a push it accepted). */
    snapshotAt: ts('snapshot_at').notNull(),
    /** The last `available` Switchyard set here, and when. */
    lastPublishedQuantity: integer('last_published_quantity'),
    lastPublishedAt: ts('last_published_at'),
    /**
     * Shopify's on hand at `baseAt`, moved by Switchyard's own pushes since. Less the POS sales
     * Switchyard has learned of since, and plus the returns restocked here since, it is what
     * Shopify's on hand should be; a lower figure is a sale not downloaded yet, held back until its
     * order arrives (or, after a grace period, taken for an edit in Shopify and corrected).
     */
    baseOnHand: integer('base_on_hand'),
    baseAt: ts('base_at'),
    /**
     * The level's `updatedAt` in the read the base comes from (Shopify's clock): a return restocked
     * after it is not in the base. Null: not known (the initial load), `baseAt` stands in.
     */
    baseLevelUpdatedAt: ts('base_level_updated_at'),
    /**
     * How often Switchyard moved the base for a drop it made itself (a fulfilment). A read saved
     * after such a move may predate the drop, so it does not replace the base.
     */
    baseMoves: integer('base_moves').notNull().default(0),
    unexplainedSince: ts('unexplained_since'),
  },
  (t) => [primaryKey({ columns: [t.shopifyInventoryItemId, t.shopifyLocationId] })],
);

/** Every inventory push to Shopify: what was sent, when, and Shopify's answer. */
export const inventoryPublishLog = pgTable(
  'inventory_publish_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull().defaultNow(),
    /** `set` (inventorySetQuantities) or `bulk` (a bulk mutation through a staged upload). */
    method: text('method').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    /**
     * `sending` (written before the call: the outcome is not known yet), then `accepted`, `stale`
     * (compare-and-set refused: read and reconciled), `failed`, or `not_applied` (a call left
     * `sending` by a crash, found never applied when it was sent again under its key).
     */
    outcome: text('outcome').notNull(),
    /** The process (`host:pid`) that made the call: a `sending` row of a gone process is settled by the next publisher. */
    holder: text('holder'),
    quantities: jsonb('quantities')
      .$type<Array<{ inventoryItemId: string; locationId: string; quantity: number; changeFromQuantity: number }>>()
      .notNull(),
    response: jsonb('response').$type<Record<string, unknown>>().notNull().default({}),
    durationMs: integer('duration_ms').notNull().default(0),
  },
  (t) => [
    index('inventory_publish_log_at').on(t.at),
    index('inventory_publish_log_sending')
      .on(t.id)
      .where(sql`outcome = 'sending'`),
  ],
);

/** A difference found between what Shopify holds and what Switchyard expected, with its cause. */
export const inventorySyncDifferences = pgTable(
  'inventory_sync_differences',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull().defaultNow(),
    shopifyInventoryItemId: text('shopify_inventory_item_id').notNull(),
    shopifyLocationId: text('shopify_location_id').notNull(),
    expected: integer('expected').notNull(),
    found: integer('found').notNull(),
    /** `orders_not_yet_downloaded`, `changed_in_shopify`, `missing_level`... */
    cause: text('cause').notNull(),
    /** What Switchyard did: `held_back`, `corrected`, `none`. */
    action: text('action').notNull(),
  },
  (t) => [index('inventory_sync_differences_at').on(t.at)],
);
