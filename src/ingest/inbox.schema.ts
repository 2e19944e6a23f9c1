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
    /**
     * sha256 of the raw body. The signature covers the body alone, so a captured body can come again
     * under fresh headers (a new webhook id): the same body for the same topic is stored once.
     */
    bodySha256: text('body_sha256'),
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
    uniqueIndex('webhook_inbox_topic_body').on(t.topic, t.bodySha256),
    index('webhook_inbox_pending')
      .on(t.nextAttemptAt)
      .where(sql`status = 'pending'`),
  ],
);
