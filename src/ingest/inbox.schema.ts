// Raw Shopify webhook deliveries, stored before they are processed (answer fast, process later).
import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const INBOX_STATUSES = ['pending', 'processed', 'parked', 'discarded'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

export const webhookInbox = pgTable(
  'webhook_inbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** X-Shopify-Webhook-Id: Shopify re-sends the same id on retries, so it is the dedup key. */
    webhookId: text('webhook_id').notNull(),
    eventId: text('event_id'),
    shopDomain: text('shop_domain').notNull(),
    topic: text('topic').notNull(),
    apiVersion: text('api_version'),
    triggeredAt: ts('triggered_at'),
    receivedAt: ts('received_at').notNull().defaultNow(),
    /** The raw body as received, kept for re-verification and re-processing. */
    rawBody: text('raw_body').notNull(),
    payload: jsonb('payload').notNull(),
    /** For ordering deliveries of one resource: `updated_at` in the payload when present. */
    resourceUpdatedAt: ts('resource_updated_at'),
    hmacVerified: boolean('hmac_verified').notNull(),
    status: text('status').$type<InboxStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    lastError: text('last_error'),
    processedAt: ts('processed_at'),
  },
  (t) => [
    uniqueIndex('webhook_inbox_webhook_id').on(t.webhookId),
    index('webhook_inbox_pending').on(t.nextAttemptAt).where(sql`status = 'pending'`),
  ],
);
