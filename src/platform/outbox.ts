// Side effects decided inside a transaction are written here, in that transaction, and delivered by
// a worker after commit. The idempotency key makes writing the same event twice harmless.
import type { Db } from './db/client.js';
import { outbox } from './db/platform.schema.js';

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
