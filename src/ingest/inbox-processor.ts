// Works through the webhook inbox: each delivery in its own transaction, at most once at a time
// (rows are claimed with a lease; two workers never take the same row), retried with back-off, and
// parked with its error after `maxAttempts` for an operator to retry or discard. Deliveries about
// different resources are handled side by side; those about one order, item or product in turn.
import { sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { queryRows } from '../platform/db/rows.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';

export interface InboxDelivery {
  id: number;
  topic: string;
  payload: Record<string, unknown>;
  attempts: number;
}

export type DeliveryHandler = (delivery: InboxDelivery) => Promise<string>;

export interface InboxBatchResult {
  processed: number;
  failed: number;
  parked: number;
  outcomes: Record<string, number>;
}

export async function processInboxBatch(deps: {
  db: Db;
  clock: Clock;
  logger: Logger;
  handle: DeliveryHandler;
  batchSize?: number;
  maxAttempts?: number;
  leaseMs?: number;
  /** Resources handled at the same time (each waits on the database and on Shopify, not the CPU). */
  lanes?: number;
}): Promise<InboxBatchResult> {
  const now = deps.clock.now();
  const leaseUntil = new Date(now.getTime() + (deps.leaseMs ?? 60_000));
  const maxAttempts = deps.maxAttempts ?? 5;
  // Oldest resource state first, so a burst of updates to one order applies in order (the apply is
  // order-independent anyway; this only saves work).
  const claimed = await queryRows<{ id: number; topic: string; payload: Record<string, unknown>; attempts: number }>(
    deps.db,
    sql`update webhook_inbox set attempts = attempts + 1, next_attempt_at = ${leaseUntil}
        where id in (
          select id from webhook_inbox
          where status = 'pending' and next_attempt_at <= ${now}
          order by resource_updated_at nulls first, id
          limit ${deps.batchSize ?? 100}
          for update skip locked)
        returning id, topic, payload, attempts`,
  );
  const result: InboxBatchResult = { processed: 0, failed: 0, parked: 0, outcomes: {} };
  const handleOne = async (delivery: InboxDelivery) => {
    try {
      const outcome = await deps.handle(delivery);
      result.outcomes[outcome] = (result.outcomes[outcome] ?? 0) + 1;
      await deps.db.execute(
        sql`update webhook_inbox set status = 'processed', processed_at = ${deps.clock.now()}, last_error = null where id = ${delivery.id}`,
      );
      result.processed += 1;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const park = delivery.attempts >= maxAttempts;
      const retryAt = new Date(deps.clock.now().getTime() + Math.min(3_600_000, 1000 * 2 ** delivery.attempts));
      await deps.db.execute(
        sql`update webhook_inbox set status = ${park ? 'parked' : 'pending'}, last_error = ${message}, next_attempt_at = ${retryAt} where id = ${delivery.id}`,
      );
      if (park) result.parked += 1;
      else result.failed += 1;
      deps.logger.warn(
        { delivery: delivery.id, topic: delivery.topic, attempts: delivery.attempts, parked: park, err: error },
        'webhook delivery failed',
      );
    }
  };
  // One lane per resource, in arrival order within it; several lanes at once.
  const lanes = new Map<string, InboxDelivery[]>();
  for (const delivery of claimed.sort((a, b) => a.id - b.id)) {
    const key = resourceKey(delivery);
    const lane = lanes.get(key);
    if (lane) lane.push(delivery);
    else lanes.set(key, [delivery]);
  }
  const queue = [...lanes.values()];
  const worker = async () => {
    for (let lane = queue.shift(); lane; lane = queue.shift()) for (const delivery of lane) await handleOne(delivery);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.lanes ?? 8, queue.length)) }, worker));
  return result;
}

/** What a delivery is about: deliveries about the same thing are handled one after the other. */
export function resourceKey(delivery: { id: number; topic: string; payload: Record<string, unknown> }): string {
  const p = delivery.payload;
  const edit = p['order_edit'] as { order_id?: unknown } | undefined;
  const order = delivery.topic.startsWith('orders/')
    ? (edit?.order_id ?? p['id'])
    : delivery.topic === 'refunds/create'
      ? p['order_id']
      : undefined;
  if (order !== undefined && order !== null) return `order:${String(order).split('/').pop()}`;
  if (delivery.topic === 'inventory_levels/update' && p['inventory_item_id'] != null)
    return `item:${String(p['inventory_item_id']).split('/').pop()}`;
  if (delivery.topic.startsWith('products/') && p['id'] != null) return `product:${String(p['id']).split('/').pop()}`;
  return `delivery:${delivery.id}`;
}
