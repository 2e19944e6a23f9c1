// The connected Shopify shop and ingest's sync state. Switchyard serves one shop per installation
// (docs/decisions/0002).
import { bigserial, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

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
