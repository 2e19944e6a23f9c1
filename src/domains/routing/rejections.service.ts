// A store rejects a line it was given: the reservation is released, the reason says what it means for
// the store's stock (written to the ledger), the store is excluded for that line, and the caller
// re-routes the order at once. "Collateral" reasons reject the store's other open lines of the SKU too.
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import { ensureQueueFacilities } from '../facilities/index.js';
import { lockLevels, recordEntries, releaseReservation } from '../inventory/index.js';
import { appendOrderHistory, moveLineToRejected } from '../orders/index.js';
import { rejectionReasons, STOCK_EFFECTS, type StockEffect } from './routing.schema.js';

export type RejectionReasonRow = typeof rejectionReasons.$inferSelect;

const DEFAULT_REASONS: Array<Omit<RejectionReasonRow, 'createdAt' | 'active'>> = [
  { code: 'not_in_stock', label: 'Not in stock (none found)', stockEffect: 'zero', collateral: true },
  { code: 'damaged', label: 'Damaged', stockEffect: 'lower', collateral: false },
  { code: 'mismatch', label: 'Item does not match the listing', stockEffect: 'lower', collateral: false },
  { code: 'no_capacity', label: 'Store too busy', stockEffect: 'none', collateral: false },
];

export async function listRejectionReasons(db: Db): Promise<RejectionReasonRow[]> {
  await db.insert(rejectionReasons).values(DEFAULT_REASONS).onConflictDoNothing();
  return db.select().from(rejectionReasons).orderBy(rejectionReasons.code);
}

export async function putRejectionReason(
  db: Db,
  code: string,
  input: { label: string; stockEffect: string; collateral?: boolean; active?: boolean },
): Promise<RejectionReasonRow> {
  if (!/^[a-z0-9_]{1,40}$/.test(code))
    throw invalid('routing.reason_code', 'A reason code is 1–40 lowercase letters, digits or underscores.', {
      field: 'code',
    });
  if (!STOCK_EFFECTS.includes(input.stockEffect as StockEffect)) {
    throw invalid(
      'routing.stock_effect',
      `stockEffect must be one of ${STOCK_EFFECTS.join(', ')} (none: stock unchanged; zero: the store has none; lower: fewer by the line's quantity).`,
      { field: 'stockEffect' },
    );
  }
  if (!input.label.trim()) throw invalid('routing.reason_label', 'label is required.', { field: 'label' });
  const values = {
    code,
    label: input.label,
    stockEffect: input.stockEffect as StockEffect,
    collateral: input.collateral ?? false,
    active: input.active ?? true,
  };
  const [row] = await db
    .insert(rejectionReasons)
    .values(values)
    .onConflictDoUpdate({ target: rejectionReasons.code, set: values })
    .returning();
  return row!;
}

export interface RejectInput {
  orderId: number;
  lineId: number;
  /** The facility rejecting (store work is scoped to one facility). */
  facilityCode: string;
  reason: string;
  note?: string;
  /** Overrides the reason's collateral setting. */
  collateral?: boolean;
  by: string;
}

export interface RejectResult {
  rejectedLineIds: number[];
  affectedOrderIds: number[];
  stockEffect: StockEffect;
  stockDelta: number;
}

/** The active rejection reason with this code; refused (with the known codes) otherwise. */
async function activeReason(db: Db, code: string) {
  await listRejectionReasons(db);
  const [reason] = await db.select().from(rejectionReasons).where(eq(rejectionReasons.code, code));
  if (!reason || !reason.active) {
    const known = (
      await db.select({ code: rejectionReasons.code }).from(rejectionReasons).where(eq(rejectionReasons.active, true))
    ).map((r) => r.code);
    throw invalid('routing.unknown_reason', `"${code}" is not a rejection reason; use one of ${known.join(', ')}.`, {
      field: 'reason',
      known,
    });
  }
  return reason;
}

/** The stock a rejection says is not there (all of it, or the line's units) leaves the store's on hand, once. */
async function recordStockEffect(
  tx: Db,
  line: { id: number; variant_id: number; current_quantity: number },
  facilityId: number,
  reason: { code: string; label: string; stockEffect: StockEffect },
  note: string | undefined,
  now: Date,
): Promise<number> {
  const [level] = await queryRows<{ on_hand: number }>(
    tx,
    sql`select on_hand from inventory_levels where variant_id = ${line.variant_id} and facility_id = ${facilityId}`,
  );
  const onHand = level?.on_hand ?? 0;
  const stockDelta =
    reason.stockEffect === 'zero' ? -Math.max(0, onHand) : -Math.min(Math.max(0, onHand), line.current_quantity);
  if (stockDelta !== 0) {
    await recordEntries(
      tx,
      [
        {
          variantId: line.variant_id,
          facilityId,
          delta: stockDelta,
          kind: reason.stockEffect === 'zero' ? 'count_variance' : 'damaged',
          referenceType: 'rejection',
          referenceId: String(line.id),
          occurredAt: now,
          source: `rejection:${reason.code}`,
          idempotencyKey: `rejection:${line.id}:${facilityId}`,
          note: note ?? reason.label,
        },
      ],
      now,
    );
  }
  return stockDelta;
}

export async function rejectLine(db: Db, input: RejectInput, now: Date): Promise<RejectResult> {
  const reason = await activeReason(db, input.reason);
  const queues = await ensureQueueFacilities(db);
  return db.transaction(async (tx) => {
    const [line] = await queryRows<{
      id: number;
      order_id: number;
      status: string;
      facility_id: number | null;
      variant_id: number;
      current_quantity: number;
      code: string | null;
    }>(
      tx,
      sql`select ol.id, ol.order_id, ol.status, ol.facility_id, ol.variant_id, ol.current_quantity, f.code
          from order_lines ol left join facilities f on f.id = ol.facility_id
          where ol.id = ${input.lineId} for update of ol`,
    );
    if (!line || line.order_id !== input.orderId)
      throw notFound('orders.unknown_line', `Order ${input.orderId} has no line ${input.lineId}.`, {
        orderId: input.orderId,
        lineId: input.lineId,
      });
    if (line.status !== 'brokered' && line.status !== 'in_progress') {
      throw conflict(
        'routing.line_not_assigned',
        `Line ${input.lineId} is ${line.status}; only a line assigned to a facility can be rejected.`,
        { status: line.status },
      );
    }
    if (line.code !== input.facilityCode) {
      throw conflict(
        'routing.other_facility',
        `Line ${input.lineId} is assigned to ${line.code}, not ${input.facilityCode}.`,
        { assignedTo: line.code },
      );
    }
    const facilityId = line.facility_id!;
    const collateral = input.collateral ?? reason.collateral;
    const others = collateral
      ? await queryRows<{ id: number; order_id: number }>(
          tx,
          sql`select id, order_id from order_lines where facility_id = ${facilityId} and variant_id = ${line.variant_id} and id <> ${line.id}
                and status = 'brokered' order by id for update`,
        )
      : [];
    const lines = [{ id: line.id, order_id: line.order_id }, ...others];
    // Every level this rejection moves (the store's, and wherever the lines hold stock) is taken in one
    // key-ordered call, the order routing takes them in: taken one by one, a second rejection or a
    // routing batch could hold one while waiting for the other.
    const held = await queryRows<{ variant_id: number; facility_id: number }>(
      tx,
      sql`select variant_id, facility_id from reservations where order_line_id = any(${intArray(lines.map((l) => l.id))}::bigint[]) and status = 'active'`,
    );
    await lockLevels(tx, [
      ...(reason.stockEffect !== 'none' ? [{ variantId: line.variant_id, facilityId }] : []),
      ...held.map((h) => ({ variantId: h.variant_id, facilityId: h.facility_id })),
    ]);

    // What the rejection says about the store's stock, once per rejection (keyed by line and store).
    const stockDelta =
      reason.stockEffect === 'none' ? 0 : await recordStockEffect(tx, line, facilityId, reason, input.note, now);
    for (const l of lines) {
      await releaseReservation(tx, l.id, `rejected:${reason.code}`, now);
      await moveLineToRejected(tx, l.id, queues.get('rejected')!, facilityId, now);
      await appendOrderHistory(tx, {
        orderId: l.order_id,
        at: now,
        kind: 'order.line_rejected',
        source: input.by,
        details: {
          lineId: l.id,
          facility: input.facilityCode,
          reason: reason.code,
          collateral: l.id !== line.id,
          note: input.note ?? null,
        },
      });
    }
    return {
      rejectedLineIds: lines.map((l) => l.id),
      affectedOrderIds: [...new Set(lines.map((l) => l.order_id))],
      stockEffect: reason.stockEffect,
      stockDelta,
    };
  });
}
