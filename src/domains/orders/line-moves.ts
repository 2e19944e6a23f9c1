// The orders room's write API for the rooms that move order lines through their life: routing
// (approve, assign to a facility, park, hold, requeue, reject, auto-cancel) and fulfilment (start,
// ship, reopen, Shopify's fulfilled units). Every write of `order_lines`, `orders` and `order_history`
// outside the order download lives here, so the line status model has one place. All take the
// caller's transaction; callers lock what they read first (these are set-based updates).
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';

/** A new line (not yet approved) with something left to send; a line taken home at a store's counter has nothing (SQL over `ol`). */
export const newLine = sql`ol.status = 'created' and ol.current_quantity > ol.shipped_quantity and ol.variant_id is not null and not ol.sold_over_counter`;

/** One entry in an order's history. */
export async function appendOrderHistory(
  tx: Db,
  entry: { orderId: number; kind: string; source: string; details: Record<string, unknown>; at: Date },
): Promise<void> {
  await tx.execute(
    sql`insert into order_history (order_id, at, kind, source, details) values (${entry.orderId}, ${entry.at}, ${entry.kind}, ${entry.source}, ${JSON.stringify(entry.details)}::jsonb)`,
  );
}

// --- routing

/**
 * Approval: the new lines of the orders `orders` selects (SQL yielding `id`, locking its rows) move to
 * the brokering queue. Returns the lines approved.
 */
export async function approveNewLinesOf(tx: Db, orders: SQL, brokeringQueueId: number, now: Date): Promise<number[]> {
  const rows = await queryRows<{ id: number }>(
    tx,
    sql`update order_lines ol set status = 'approved', facility_id = ${brokeringQueueId}, updated_at = ${now}
        from (${orders}) o
        where o.id = ol.order_id and ${newLine}
        returning ol.id`,
  );
  return rows.map((r) => r.id);
}

/** Lines routed: each goes to its facility (and the store it is sent on to, for a transfer). */
export async function assignLines(
  tx: Db,
  assignments: Array<{ lineId: number; facilityId: number; transferToFacilityId: number | null }>,
  now: Date,
): Promise<void> {
  if (assignments.length === 0) return;
  await tx.execute(
    sql`update order_lines ol set status = 'brokered', facility_id = x.f, transfer_to_facility_id = x.t, brokered_at = ${now}, auto_cancel_at = null, updated_at = ${now}
        from unnest(${intArray(assignments.map((a) => a.lineId))}::bigint[], ${intArray(assignments.map((a) => a.facilityId))}::bigint[],
                    ${intArray(assignments.map((a) => a.transferToFacilityId))}::bigint[]) as x(l, f, t)
        where ol.id = x.l`,
  );
}

/** Lines parked in a queue. A line parked again keeps its first auto-cancel date; one parked without a date loses it. */
export async function parkLines(
  tx: Db,
  parked: Array<{ l: number; f: number; s: string; days?: number | null | undefined }>,
  now: Date,
): Promise<void> {
  if (parked.length === 0) return;
  await tx.execute(
    sql`update order_lines ol set status = x.s, facility_id = x.f, updated_at = ${now},
          auto_cancel_at = case when x.days is null then null else coalesce(ol.auto_cancel_at, ${now}::timestamptz + make_interval(days => x.days)) end
        from jsonb_to_recordset(${JSON.stringify(parked)}::jsonb) as x(l bigint, f bigint, s text, days int)
        where ol.id = x.l`,
  );
}

/** New lines no routing took wait in the brokering queue (approved). */
export async function approveLinesInto(tx: Db, lineIds: number[], brokeringQueueId: number, now: Date): Promise<void> {
  if (lineIds.length === 0) return;
  await tx.execute(
    sql`update order_lines set status = 'approved', facility_id = ${brokeringQueueId}, updated_at = ${now}
        where id = any(${intArray(lineIds)}::bigint[]) and status = 'created'`,
  );
}

/** Holds (or releases) a parked line: a held line is never auto-cancelled. */
export async function setLineHeld(tx: Db, lineId: number, held: boolean, now: Date): Promise<void> {
  await tx.execute(sql`update order_lines set held = ${held}, updated_at = ${now} where id = ${lineId}`);
}

/** Parked lines cancelled (Shopify accepted their cancellation). */
export async function cancelUnfillableLines(tx: Db, lineIds: number[], now: Date): Promise<void> {
  await tx.execute(
    sql`update order_lines set status = 'cancelled', auto_cancel_at = null, updated_at = ${now}
        where id in (select (jsonb_array_elements_text(${JSON.stringify(lineIds)}::jsonb))::bigint) and status = 'unfillable'`,
  );
}

/** A routed line back to the brokering queue, to be routed whole again. */
export async function requeueLine(tx: Db, lineId: number, brokeringQueueId: number, now: Date): Promise<void> {
  await tx.execute(
    sql`update order_lines set status = 'approved', facility_id = ${brokeringQueueId}, transfer_to_facility_id = null, updated_at = ${now} where id = ${lineId}`,
  );
}

/** A line a facility rejected: to the rejected queue, that facility excluded from routing it again. */
export async function moveLineToRejected(
  tx: Db,
  lineId: number,
  rejectedQueueId: number,
  facilityId: number,
  now: Date,
): Promise<void> {
  await tx.execute(
    sql`update order_lines set status = 'rejected', facility_id = ${rejectedQueueId}, updated_at = ${now},
          excluded_facility_ids = array_append(excluded_facility_ids, ${facilityId}::bigint)
        where id = ${lineId}`,
  );
}

// --- fulfilment

/** Store work started on a routed line. */
export async function startLine(tx: Db, lineId: number, now: Date): Promise<void> {
  await tx.execute(
    sql`update order_lines set status = 'in_progress', updated_at = ${now} where id = ${lineId} and status = 'brokered'`,
  );
}

/** Store work started on the order (once it is past approval). */
export async function startOrder(tx: Db, orderId: number, now: Date): Promise<void> {
  await tx.execute(
    sql`update orders set status = 'in_progress', updated_at = ${now} where id = ${orderId} and status in ('created', 'approved')`,
  );
}

/** Units of a line left in a parcel (or were handed over): the line is done once every unit has, unless cancelled. */
export async function recordShippedUnits(
  tx: Db,
  lineId: number,
  quantity: number,
  doneStatus: 'shipped' | 'picked_up',
  now: Date,
): Promise<void> {
  await tx.execute(
    sql`update order_lines set shipped_quantity = least(current_quantity, shipped_quantity + ${quantity}),
          status = case when status = 'cancelled' then status when shipped_quantity + ${quantity} >= current_quantity then ${doneStatus} else status end, updated_at = ${now}
        where id = ${lineId}`,
  );
}

/** The order is completed once none of its lines is open. */
export async function completeOrderIfDone(tx: Db, orderId: number, now: Date): Promise<void> {
  await tx.execute(
    sql`update orders set status = 'completed', updated_at = ${now}
        where id = ${orderId} and not exists (select 1 from order_lines where order_id = ${orderId} and status not in ('shipped', 'picked_up', 'cancelled'))`,
  );
}

/**
 * Lines in progress with nothing shipped are open work again (their parcel was dropped). The caller
 * holds the order's row lock, as every creator of store work does: no other parcel takes a line between
 * the caller's choice of lines and this update.
 */
export async function reopenLines(tx: Db, lineIds: number[], now: Date): Promise<void> {
  if (lineIds.length === 0) return;
  await tx.execute(
    sql`update order_lines set status = 'brokered', updated_at = ${now}
        where id = any(${intArray(lineIds)}::bigint[]) and status = 'in_progress' and shipped_quantity = 0`,
  );
}

/** Shopify fulfilled these units of the line (a push it confirmed). */
export async function addShopifyFulfilledUnits(tx: Db, lineId: number, quantity: number, now: Date): Promise<void> {
  await tx.execute(
    sql`update order_lines set shopify_fulfilled_quantity = least(current_quantity, shopify_fulfilled_quantity + ${quantity}), updated_at = ${now} where id = ${lineId}`,
  );
}

/** Shopify's fulfilment order for the line is now at this facility's location. */
export async function setShopifyFulfillmentFacility(
  tx: Db,
  lineId: number,
  facilityId: number,
  now: Date,
): Promise<void> {
  await tx.execute(
    sql`update order_lines set shopify_fulfillment_facility_id = ${facilityId}, updated_at = ${now} where id = ${lineId}`,
  );
}
