// The connected Shopify shop. Switchyard serves one shop per installation (docs/decisions/0002).
import { bigserial, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const shops = pgTable('shops', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  domain: text('domain').notNull().unique(),
  name: text('name'),
  apiVersion: text('api_version').notNull(),
  /** connecting | connected | uninstalled */
  status: text('status').notNull().default('connecting'),
  scopes: text('scopes').array().notNull().default([]),
  currencyCode: text('currency_code'),
  ianaTimezone: text('iana_timezone'),
  connectedAt: ts('connected_at'),
  /** Watermarks and sync state per resource (`orders.updated_at`, ...), owned by ingest. */
  syncState: jsonb('sync_state').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

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
    snapshotAt: ts('snapshot_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.shopifyInventoryItemId, t.shopifyLocationId] })],
);
