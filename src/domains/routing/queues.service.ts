// Parked lines per queue, holds, run slots, and the lines due for auto-cancellation.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { queryRows } from '../../platform/db/rows.js';
import { latestSlot, parseSchedule } from '../../platform/jobs/schedule.js';
import { ensureQueueFacilities, QUEUE_KINDS, type QueueKind } from '../facilities/index.js';
import { releaseReservation } from '../inventory/index.js';
import { appendOrderHistory, cancelUnfillableLines, requeueLine, setLineHeld } from '../orders/index.js';
import { CONTINUOUS, type BrokeringRun } from './rules.js';

export async function queueSummary(
  db: Db,
): Promise<Array<{ queue: QueueKind; lines: number; orders: number; units: number; oldest: Date | null }>> {
  const ids = await ensureQueueFacilities(db);
  const rows = await queryRows<{
    facility_id: number;
    lines: number;
    orders: number;
    units: number;
    oldest: Date | null;
  }>(
    db,
    sql`select ol.facility_id, count(*)::int as lines, count(distinct ol.order_id)::int as orders, coalesce(sum(ol.current_quantity), 0)::int as units, min(o.shopify_created_at) as oldest
        from order_lines ol join orders o on o.id = ol.order_id join facilities f on f.id = ol.facility_id and f.kind = 'VIRTUAL'
        where ol.status in ('approved', 'rejected', 'unfillable') and ol.current_quantity > 0
        group by ol.facility_id`,
  );
  const byId = new Map(rows.map((r) => [r.facility_id, r]));
  return QUEUE_KINDS.map((queue) => {
    const r = byId.get(ids.get(queue)!);
    return { queue, lines: r?.lines ?? 0, orders: r?.orders ?? 0, units: r?.units ?? 0, oldest: r?.oldest ?? null };
  });
}

export async function queueLines(db: Db, queue: string, limit: number) {
  if (!(QUEUE_KINDS as readonly string[]).includes(queue))
    throw notFound('routing.unknown_queue', `No queue "${queue}"; queues: ${QUEUE_KINDS.join(', ')}.`, { queue });
  const ids = await ensureQueueFacilities(db);
  return queryRows<{
    order_id: number;
    order_name: string;
    line_id: number;
    sku: string | null;
    quantity: number;
    status: string;
    held: boolean;
    auto_cancel_at: Date | null;
    ordered_at: Date;
    shipping_method: string;
    last_decision: string | null;
  }>(
    db,
    sql`select o.id as order_id, o.name as order_name, ol.id as line_id, ol.sku, ol.current_quantity as quantity, ol.status, ol.held, ol.auto_cancel_at,
          o.shopify_created_at as ordered_at, o.shipping_method,
          (select d.summary from routing_decisions d where d.order_id = o.id order by d.at desc, d.id desc limit 1) as last_decision
        from order_lines ol join orders o on o.id = ol.order_id
        where ol.facility_id = ${ids.get(queue as QueueKind)!} and ol.status in ('approved', 'rejected', 'unfillable') and ol.current_quantity > 0
        order by o.shopify_created_at, ol.id
        limit ${limit}`,
  );
}

/** Holds (or releases) a parked line: a held line is never auto-cancelled. */
export async function setLineHold(
  db: Db,
  orderId: number,
  lineId: number,
  held: boolean,
  by: string,
  now: Date,
): Promise<{ lineId: number; held: boolean }> {
  return db.transaction(async (tx) => {
    const [line] = await queryRows<{ order_id: number; status: string }>(
      tx,
      sql`select order_id, status from order_lines where id = ${lineId} for update`,
    );
    if (!line || line.order_id !== orderId)
      throw notFound('orders.unknown_line', `Order ${orderId} has no line ${lineId}.`, { orderId, lineId });
    if (['shipped', 'picked_up', 'cancelled'].includes(line.status))
      throw conflict('routing.line_closed', `Line ${lineId} is ${line.status}: there is nothing to hold.`, {
        status: line.status,
      });
    await setLineHeld(tx, lineId, held, now);
    await appendOrderHistory(tx, {
      orderId,
      at: now,
      kind: held ? 'order.line_held' : 'order.line_released',
      source: by,
      details: { lineId },
    });
    return { lineId, held };
  });
}

/**
 * Which runs to start now: continuous runs always; scheduled runs once per slot, claimed by a
 * conditional update so one worker starts each slot. A run seen for the first time records its slot.
 */
export async function dueRuns(db: Db, runs: BrokeringRun[], now: Date): Promise<BrokeringRun[]> {
  const due: BrokeringRun[] = [];
  for (const run of runs) {
    if (run.schedule === CONTINUOUS) {
      due.push(run);
      continue;
    }
    const slot = latestSlot(parseSchedule(run.schedule), now);
    const inserted = await queryRows<{ run_code: string }>(
      db,
      sql`insert into routing_run_slots (run_code, last_slot_at) values (${run.code}, ${slot}) on conflict (run_code) do nothing returning run_code`,
    );
    if (inserted.length > 0) continue; // first sighting: the next slot runs
    const claimed = await queryRows<{ run_code: string }>(
      db,
      sql`update routing_run_slots set last_slot_at = ${slot} where run_code = ${run.code} and last_slot_at < ${slot} returning run_code`,
    );
    if (claimed.length > 0) due.push(run);
  }
  return due;
}

export interface DueLine {
  orderId: number;
  shopifyOrderId: string;
  orderName: string;
  lineId: number;
  shopifyLineItemId: string;
  quantity: number;
  /** Every open line of the order is due: cancel the whole order in Shopify. */
  wholeOrder: boolean;
}

/** Parked lines past their auto-cancel date, not held, in orders not on hold. */
export async function linesDueForAutoCancel(db: Db, now: Date, limit = 1000): Promise<DueLine[]> {
  const rows = await queryRows<{
    order_id: number;
    shopify_order_id: string;
    name: string;
    line_id: number;
    shopify_line_item_id: string;
    quantity: number;
    open_lines: number;
    due_lines: number;
  }>(
    db,
    sql`with due as (
          select ol.id, ol.order_id from order_lines ol join orders o on o.id = ol.order_id
          where ol.status = 'unfillable' and ol.auto_cancel_at <= ${now} and not ol.held and ol.current_quantity > 0
            and o.cancelled_at is null and not ('switchyard-hold' = any(o.tags))
          order by ol.auto_cancel_at limit ${limit})
        select o.id as order_id, o.shopify_order_id, o.name, ol.id as line_id, ol.shopify_line_item_id, ol.current_quantity as quantity,
          (select count(*)::int from order_lines x where x.order_id = o.id and x.current_quantity > 0 and x.status not in ('shipped', 'picked_up', 'cancelled')) as open_lines,
          (select count(*)::int from due d2 where d2.order_id = o.id) as due_lines
        from due join order_lines ol on ol.id = due.id join orders o on o.id = ol.order_id
        order by o.id, ol.id`,
  );
  return rows.map((r) => ({
    orderId: r.order_id,
    shopifyOrderId: r.shopify_order_id,
    orderName: r.name,
    lineId: r.line_id,
    shopifyLineItemId: r.shopify_line_item_id,
    quantity: r.quantity,
    wholeOrder: r.open_lines === r.due_lines,
  }));
}

/** After Shopify accepted the cancellation: the lines are cancelled here too (the webhook confirms later). */
export async function markAutoCancelled(
  db: Db,
  orderId: number,
  lineIds: number[],
  how: string,
  now: Date,
): Promise<void> {
  if (lineIds.length === 0) throw invalid('routing.no_lines', 'No lines to mark cancelled.');
  await db.transaction(async (tx) => {
    await cancelUnfillableLines(tx, lineIds, now);
    await appendOrderHistory(tx, {
      orderId,
      at: now,
      kind: 'order.lines_auto_cancelled',
      source: 'routing.auto-cancel',
      details: { lineIds, how },
    });
  });
}

/**
 * A routed line whose quantity grew (an order edit): its reservation covers the old quantity only, so
 * it is released and the line goes back to the brokering queue to be routed whole again.
 */
export async function requeueGrownLine(tx: Db, lineId: number, now: Date): Promise<boolean> {
  const [line] = await queryRows<{ status: string; current_quantity: number; order_id: number; reserved: number }>(
    tx,
    sql`select ol.status, ol.current_quantity, ol.order_id,
          coalesce((select sum(r.quantity) from reservations r where r.order_line_id = ol.id and r.status = 'active'), 0)::int as reserved
        from order_lines ol where ol.id = ${lineId} for update`,
  );
  if (!line || line.status !== 'brokered' || line.reserved >= line.current_quantity) return false;
  const queues = await ensureQueueFacilities(tx);
  await releaseReservation(tx, lineId, 'quantity_increased', now);
  await requeueLine(tx, lineId, queues.get('brokering')!, now);
  await appendOrderHistory(tx, {
    orderId: line.order_id,
    at: now,
    kind: 'order.line_requeued',
    source: 'routing',
    details: { lineId, reason: 'quantity increased', from: line.reserved, to: line.current_quantity },
  });
  return true;
}

/** Each line of an order: where it is now (facility or queue), hold, auto-cancel date, stores that rejected it. */
export async function orderLineLocations(db: Db, orderId: number) {
  return queryRows<{
    id: number;
    sku: string | null;
    quantity: number;
    status: string;
    code: string | null;
    kind: string | null;
    held: boolean;
    auto_cancel_at: Date | null;
    excluded: string[] | null;
  }>(
    db,
    sql`select ol.id, ol.sku, ol.current_quantity as quantity, ol.status, f.code, f.kind, ol.held, ol.auto_cancel_at,
          (select array_agg(x.code) from facilities x where x.id = any(ol.excluded_facility_ids)) as excluded
        from order_lines ol left join facilities f on f.id = ol.facility_id where ol.order_id = ${orderId} order by ol.id`,
  );
}
