// Side effects decided inside a transaction are written here, in that transaction, and delivered by
// a worker after commit. The idempotency key makes writing the same event twice harmless.
import type { Db } from './db/client.js';
import { and, eq, lt, sql } from 'drizzle-orm';
import { outbox } from './db/platform.schema.js';
import { queryRows } from './db/rows.js';

export interface OutboxEvent {
  /** Stable event name: `order.created`, `order.line_quantity_reduced`, ... */
  topic: string;
  aggregateType: string;
  aggregateId: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
}

export async function enqueueOutbox(db: Db, events: OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.insert(outbox).values(events).onConflictDoNothing({ target: outbox.idempotencyKey });
}

export interface OutboxMessage {
  id: number;
  topic: string;
  aggregateType: string;
  aggregateId: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** A consumer's reaction to one event, run in the transaction that marks the event delivered. */
export type OutboxHandler = (tx: Db, message: OutboxMessage) => Promise<void>;

/**
 * Delivers pending events to in-process consumers, oldest first. Each event is claimed under a lease
 * (two workers never take the same one); the consumer's writes and the "sent" mark commit together, so
 * an event is applied exactly once. A failing event is retried with back-off and parked after
 * `maxAttempts`. Topics without a consumer are marked sent.
 */
export async function dispatchOutbox(deps: {
  db: Db;
  now: () => Date;
  handlers: Record<string, OutboxHandler>;
  batchSize?: number;
  maxAttempts?: number;
  onError?: (message: OutboxMessage, error: unknown) => void;
}): Promise<{ delivered: number; failed: number }> {
  const now = deps.now();
  const claimed = await queryRows<{
    id: number;
    topic: string;
    aggregate_type: string;
    aggregate_id: string;
    payload: Record<string, unknown>;
    attempts: number;
  }>(
    deps.db,
    sql`update outbox set attempts = attempts + 1, available_at = ${new Date(now.getTime() + 60_000)}
        where id in (select id from outbox where status = 'pending' and available_at <= ${now}
                     order by id limit ${deps.batchSize ?? 200} for update skip locked)
        returning id, topic, aggregate_type, aggregate_id, payload, attempts`,
  );
  let delivered = 0;
  let failed = 0;
  for (const row of claimed.sort((a, b) => a.id - b.id)) {
    const message: OutboxMessage = {
      id: row.id,
      topic: row.topic,
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      payload: row.payload,
      attempts: row.attempts,
    };
    try {
      await deps.db.transaction(async (tx) => {
        await deps.handlers[row.topic]?.(tx, message);
        await tx.execute(
          sql`update outbox set status = 'sent', sent_at = ${deps.now()}, last_error = null where id = ${row.id}`,
        );
      });
      delivered++;
    } catch (error) {
      failed++;
      deps.onError?.(message, error);
      const park = row.attempts >= (deps.maxAttempts ?? 8);
      const retryAt = new Date(deps.now().getTime() + Math.min(300_000, 1000 * 2 ** row.attempts));
      await deps.db.execute(
        sql`update outbox set status = ${park ? 'dead' : 'pending'}, available_at = ${retryAt},
            last_error = ${error instanceof Error ? error.message : String(error)} where id = ${row.id}`,
      );
    }
  }
  return { delivered, failed };
}

/** Delivered entries sent before `before` are deleted (history pruning); returns how many. */
export async function deleteSentBefore(db: Db, before: Date): Promise<number> {
  const deleted = await db
    .delete(outbox)
    .where(and(eq(outbox.status, 'sent'), lt(outbox.sentAt, before)))
    .returning({ id: outbox.id });
  return deleted.length;
}
