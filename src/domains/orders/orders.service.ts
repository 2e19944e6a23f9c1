// Orders follow Shopify. applyOrderSnapshot is idempotent and order-independent: the same snapshot
// twice, or an older one after a newer one, changes nothing. Every real change is written to the
// order's history and, for what other rooms must react to (cancelled units release reservations),
// to the outbox, in the same transaction.
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { enqueueOutbox, type OutboxEvent } from '../../platform/outbox.js';
import { ensureVariant } from '../catalog/index.js';
import { facilityIdsByLocation } from '../facilities/index.js';
import { orderHistory, orderLines, orderRefundLines, orders } from './orders.schema.js';
import { ORDER_EVENTS, type ApplyOutcome, type OrderSnapshot, type RefundSnapshot } from './orders.types.js';

type HistoryEntry = { kind: string; details: Record<string, unknown> };

function orderValues(s: OrderSnapshot, pickupFacilityId: number | null, now: Date) {
  return {
    shopifyOrderId: s.shopifyOrderId,
    name: s.name,
    sourceName: s.sourceName,
    financialStatus: s.financialStatus,
    fulfillmentStatus: s.fulfillmentStatus,
    cancelledAt: s.cancelledAt,
    cancelReason: s.cancelReason,
    customer: s.customer,
    shippingAddress: s.shippingAddress,
    latitude: s.latitude,
    longitude: s.longitude,
    shippingMethod: s.shippingMethod,
    shippingLineTitle: s.shippingLineTitle,
    pickupFacilityId,
    tags: [...s.tags].sort(),
    currencyCode: s.currencyCode,
    totalPrice: s.totalPrice,
    shopifyCreatedAt: s.createdAt,
    shopifyUpdatedAt: s.updatedAt,
    updatedAt: now,
    ...(s.cancelledAt ? { status: 'cancelled' as const } : {}),
  };
}

async function pickupFacility(db: Db, locationId: string | null): Promise<number | null> {
  if (!locationId) return null;
  return (await facilityIdsByLocation(db, [locationId])).get(locationId) ?? null;
}

export async function applyOrderSnapshot(
  db: Db,
  snapshot: OrderSnapshot,
  source: string,
  now: Date,
): Promise<ApplyOutcome> {
  try {
    return await applyOnce(db, snapshot, source, now);
  } catch (error) {
    // Another worker inserted the same new order first: apply again, now as an update.
    if ((error as { retryable?: boolean }).retryable) return applyOnce(db, snapshot, source, now);
    throw error;
  }
}

/** Refund lines a snapshot carries that are stored (lines refunding no unit are not). */
const refundLineCount = (snapshot: OrderSnapshot) =>
  snapshot.refunds?.reduce((sum, r) => sum + r.lines.filter((l) => l.quantity > 0).length, 0) ?? 0;

/**
 * 'stale' or 'unchanged' when the order as stored already holds this snapshot (or a later one), else
 * null. Shopify moves updated_at on every change: the same time means the same order, already applied.
 * (A pickup order's store is the one thing a webhook body lacks; it is only ever added. Refunds are
 * only ever added too: an order stored without some of them, by a source that did not carry them,
 * takes them from the next snapshot that does.)
 */
function alreadyApplied(
  existing: { shopifyUpdatedAt: Date; pickupFacilityId: number | null; refundLines: number } | undefined,
  snapshot: OrderSnapshot,
): 'stale' | 'unchanged' | null {
  if (!existing) return null;
  if (existing.shopifyUpdatedAt.getTime() > snapshot.updatedAt.getTime()) return 'stale';
  if (
    existing.shopifyUpdatedAt.getTime() === snapshot.updatedAt.getTime() &&
    !(snapshot.pickupLocationId && existing.pickupFacilityId === null) &&
    existing.refundLines >= refundLineCount(snapshot)
  ) {
    return 'unchanged';
  }
  return null;
}

const storedRefundLines = sql<number>`(select count(*)::int from order_refund_lines r where r.order_id = ${orders.id})`;

// eslint-disable-next-line max-lines-per-function -- the quick already-applied read and the locked transaction below are one decision: the read only short-cuts what the transaction decides again under the lock
async function applyOnce(db: Db, snapshot: OrderSnapshot, source: string, now: Date): Promise<ApplyOutcome> {
  // Most snapshots a poll or reconciliation reads are already applied: one plain read tells, without
  // a transaction that waits on a commit. The locked read below decides for the others.
  const [stored] = await db
    .select({
      shopifyUpdatedAt: orders.shopifyUpdatedAt,
      pickupFacilityId: orders.pickupFacilityId,
      refundLines: storedRefundLines,
    })
    .from(orders)
    .where(eq(orders.shopifyOrderId, snapshot.shopifyOrderId));
  const known = alreadyApplied(stored, snapshot);
  if (known) return known;
  // eslint-disable-next-line max-lines-per-function, complexity -- one transaction under the order's row lock: the order, each line, the refunds, history and outbox events build one outcome and one set of events, written together or not at all
  return db.transaction(async (tx) => {
    // Lock the order row (or its absence, through the unique index on insert) for this change.
    const [existing] = await tx
      .select()
      .from(orders)
      .where(eq(orders.shopifyOrderId, snapshot.shopifyOrderId))
      .for('update');
    const [refunded] = existing
      ? await tx
          .select({ n: sql<number>`count(*)::int` })
          .from(orderRefundLines)
          .where(eq(orderRefundLines.orderId, existing.id))
      : [];
    const applied = alreadyApplied(existing && { ...existing, refundLines: refunded?.n ?? 0 }, snapshot);
    if (applied) return applied;
    const pickupFacilityId = await pickupFacility(tx, snapshot.pickupLocationId);
    const history: HistoryEntry[] = [];
    const events: OutboxEvent[] = [];
    const key = `${snapshot.shopifyOrderId}@${snapshot.updatedAt.toISOString()}`;
    const event = (topic: string, payload: Record<string, unknown>, suffix = '') =>
      events.push({
        topic,
        aggregateType: 'order',
        aggregateId: snapshot.shopifyOrderId,
        payload,
        idempotencyKey: `${topic}:${key}${suffix}`,
      });

    let orderId: number;
    let outcome: ApplyOutcome = 'unchanged';
    if (!existing) {
      const [row] = await tx
        .insert(orders)
        .values({
          ...orderValues(snapshot, pickupFacilityId, now),
          status: snapshot.cancelledAt ? 'cancelled' : 'created',
        })
        .onConflictDoNothing({ target: orders.shopifyOrderId })
        .returning({ id: orders.id });
      if (!row) return applyOrderSnapshotConflict();
      orderId = row.id;
      outcome = 'created';
      history.push({
        kind: ORDER_EVENTS.created,
        details: { lines: snapshot.lines.length, source: snapshot.sourceName },
      });
    } else {
      orderId = existing.id;
      const changes: string[] = [];
      if (!existing.cancelledAt && snapshot.cancelledAt) {
        history.push({ kind: ORDER_EVENTS.cancelled, details: { reason: snapshot.cancelReason } });
        changes.push('cancelled');
      }
      if (JSON.stringify(existing.shippingAddress) !== JSON.stringify(snapshot.shippingAddress)) {
        history.push({
          kind: ORDER_EVENTS.addressChanged,
          details: { from: existing.shippingAddress, to: snapshot.shippingAddress },
        });
        changes.push('address');
      }
      if (
        existing.shippingMethod !== snapshot.shippingMethod ||
        existing.shippingLineTitle !== snapshot.shippingLineTitle ||
        existing.pickupFacilityId !== pickupFacilityId
      ) {
        history.push({
          kind: ORDER_EVENTS.shippingChanged,
          details: {
            from: { method: existing.shippingMethod, title: existing.shippingLineTitle },
            to: { method: snapshot.shippingMethod, title: snapshot.shippingLineTitle },
          },
        });
        changes.push('shipping');
      }
      if (JSON.stringify(existing.tags) !== JSON.stringify([...snapshot.tags].sort())) {
        history.push({
          kind: ORDER_EVENTS.tagsChanged,
          details: { from: existing.tags, to: [...snapshot.tags].sort() },
        });
        changes.push('tags');
      }
      if (
        existing.financialStatus !== snapshot.financialStatus ||
        existing.fulfillmentStatus !== snapshot.fulfillmentStatus
      ) {
        history.push({
          kind: ORDER_EVENTS.statusChanged,
          details: {
            financial: [existing.financialStatus, snapshot.financialStatus],
            fulfillment: [existing.fulfillmentStatus, snapshot.fulfillmentStatus],
          },
        });
        changes.push('status');
      }
      await tx
        .update(orders)
        .set(orderValues(snapshot, pickupFacilityId, now))
        .where(eq(orders.id, orderId));
      if (changes.length > 0 || existing.shopifyUpdatedAt.getTime() !== snapshot.updatedAt.getTime())
        outcome = 'updated';
      if (changes.includes('cancelled')) event(ORDER_EVENTS.cancelled, { orderId, reason: snapshot.cancelReason });
      // What is waiting to be routed depends on these too (fulfilled in Shopify, pickup store).
      if (changes.includes('status') || changes.includes('shipping')) event(ORDER_EVENTS.statusChanged, { orderId });
    }

    // Lines: added lines, and quantity changes (partial cancellations, edits, refunds).
    const fulfilledInShopify: string[] = [];
    const lineIds = new Map<string, number>();
    const storedLines = new Map(
      (await tx.select().from(orderLines).where(eq(orderLines.orderId, orderId))).map((l) => [l.shopifyLineItemId, l]),
    );
    for (const line of snapshot.lines) {
      const stored = storedLines.get(line.shopifyLineItemId);
      const cancelledLine = snapshot.cancelledAt !== null || line.currentQuantity === 0;
      if (!stored) {
        const variantId = await ensureVariant(
          tx,
          { shopifyVariantId: line.shopifyVariantId, sku: line.sku, title: line.title },
          now,
        );
        const [inserted] = await tx
          .insert(orderLines)
          .values({
            orderId,
            shopifyLineItemId: line.shopifyLineItemId,
            variantId,
            sku: line.sku,
            title: line.title,
            quantity: line.quantity,
            currentQuantity: line.currentQuantity,
            shopifyFulfilledQuantity: line.fulfilledQuantity ?? 0,
            unitPrice: line.unitPrice,
            soldOverCounter: line.soldOverCounter,
            status: cancelledLine ? 'cancelled' : 'created',
          })
          .returning({ id: orderLines.id });
        lineIds.set(line.shopifyLineItemId, inserted!.id);
        if ((line.fulfilledQuantity ?? 0) > 0 && !line.soldOverCounter) fulfilledInShopify.push(line.shopifyLineItemId);
        if (existing) {
          history.push({
            kind: ORDER_EVENTS.lineAdded,
            details: { line: line.shopifyLineItemId, sku: line.sku, quantity: line.currentQuantity },
          });
          event(
            ORDER_EVENTS.lineAdded,
            { orderId, lineId: inserted!.id, quantity: line.currentQuantity },
            `:${line.shopifyLineItemId}`,
          );
          outcome = 'updated';
        }
        continue;
      }
      lineIds.set(line.shopifyLineItemId, stored.id);
      // Shopify's fulfilment orders say otherwise now (read from them, where a body only guessed): the
      // line is routed, or its sale booked, from here on. A line already routed stays what it is.
      let soldOverCounter = stored.soldOverCounter;
      if (stored.soldOverCounter !== line.soldOverCounter) {
        const routed = line.soldOverCounter && stored.status !== 'created';
        history.push({
          kind: ORDER_EVENTS.counterChanged,
          details: {
            line: line.shopifyLineItemId,
            sku: line.sku,
            soldOverCounter: line.soldOverCounter,
            ...(routed ? { kept: `the line is ${stored.status} already` } : {}),
          },
        });
        if (!routed) {
          soldOverCounter = line.soldOverCounter;
          event(
            ORDER_EVENTS.counterChanged,
            { orderId, lineId: stored.id, soldOverCounter },
            `:${line.shopifyLineItemId}`,
          );
        }
        outcome = 'updated';
      }
      if (stored.currentQuantity !== line.currentQuantity || stored.quantity !== line.quantity) {
        const delta = line.currentQuantity - stored.currentQuantity;
        const kind = delta < 0 ? ORDER_EVENTS.lineQuantityReduced : ORDER_EVENTS.lineQuantityIncreased;
        history.push({
          kind,
          details: {
            line: line.shopifyLineItemId,
            sku: line.sku,
            from: stored.currentQuantity,
            to: line.currentQuantity,
          },
        });
        event(
          kind,
          { orderId, lineId: stored.id, from: stored.currentQuantity, to: line.currentQuantity, delta },
          `:${line.shopifyLineItemId}`,
        );
        outcome = 'updated';
      }
      const status =
        cancelledLine && stored.status !== 'shipped' && stored.status !== 'picked_up' ? 'cancelled' : stored.status;
      const shopifyFulfilledQuantity = line.fulfilledQuantity ?? stored.shopifyFulfilledQuantity;
      if (shopifyFulfilledQuantity > stored.shopifyFulfilledQuantity) {
        if (!soldOverCounter) fulfilledInShopify.push(line.shopifyLineItemId);
        outcome = 'updated';
      }
      await tx
        .update(orderLines)
        .set({
          quantity: line.quantity,
          currentQuantity: line.currentQuantity,
          shopifyFulfilledQuantity,
          soldOverCounter,
          status,
          updatedAt: now,
        })
        .where(eq(orderLines.id, stored.id));
    }
    if (snapshot.refunds) {
      for (const refund of await recordRefunds(tx, orderId, snapshot.refunds, lineIds, now)) {
        history.push({ kind: ORDER_EVENTS.refunded, details: { refund: refund.shopifyRefundId, lines: refund.lines } });
        event(ORDER_EVENTS.refunded, { orderId, refundLineIds: refund.rowIds }, `:${refund.shopifyRefundId}`);
        // An order first seen with its refunds is still a new order (its creation event follows).
        if (existing) outcome = 'updated';
      }
    }
    if (history.length > 0) {
      await tx
        .insert(orderHistory)
        .values(history.map((h) => ({ orderId, kind: h.kind, source, details: h.details, at: now })));
    }
    if (outcome === 'created') event(ORDER_EVENTS.created, { orderId });
    // Some of these units may have been fulfilled in Shopify itself: the fulfilment room compares.
    // (Not lines sold over the counter: the customer left with the goods, and the sale itself lowers
    // the store's stock.)
    if (fulfilledInShopify.length > 0) event(ORDER_EVENTS.fulfilledInShopify, { orderId, lines: fulfilledInShopify });
    await enqueueOutbox(tx, events);
    return outcome;
  });
}

/**
 * Stores the refund lines not seen before (each once: Shopify's refund line id is unique) and answers,
 * per refund with new lines, what was stored. Lines of items the order does not hold are left out.
 */
async function recordRefunds(
  tx: Db,
  orderId: number,
  refunds: RefundSnapshot[],
  lineIds: Map<string, number>,
  now: Date,
): Promise<Array<{ shopifyRefundId: string; rowIds: number[]; lines: Array<Record<string, unknown>> }>> {
  const locations = [
    ...new Set(refunds.flatMap((r) => r.lines.map((l) => l.locationId)).filter((l): l is string => l !== null)),
  ];
  const facilityOf = await facilityIdsByLocation(tx, locations);
  const recorded: Array<{ shopifyRefundId: string; rowIds: number[]; lines: Array<Record<string, unknown>> }> = [];
  for (const refund of refunds) {
    const values = refund.lines
      .filter((l) => lineIds.has(l.shopifyLineItemId) && l.quantity > 0)
      .map((l) => ({
        orderId,
        orderLineId: lineIds.get(l.shopifyLineItemId)!,
        shopifyRefundId: refund.shopifyRefundId,
        shopifyRefundLineId: l.shopifyRefundLineId,
        quantity: l.quantity,
        restockType: l.restockType,
        shopifyLocationId: l.locationId,
        facilityId: l.locationId === null ? null : (facilityOf.get(l.locationId) ?? null),
        refundedAt: refund.createdAt,
        recordedAt: now,
      }));
    if (values.length === 0) continue;
    const rows = await tx
      .insert(orderRefundLines)
      .values(values)
      .onConflictDoNothing({ target: orderRefundLines.shopifyRefundLineId })
      .returning({ id: orderRefundLines.id, refundLineId: orderRefundLines.shopifyRefundLineId });
    if (rows.length === 0) continue;
    const fresh = new Set(rows.map((r) => r.refundLineId));
    recorded.push({
      shopifyRefundId: refund.shopifyRefundId,
      rowIds: rows.map((r) => r.id),
      lines: refund.lines
        .filter((l) => fresh.has(l.shopifyRefundLineId))
        .map((l) => ({
          line: l.shopifyLineItemId,
          quantity: l.quantity,
          restockType: l.restockType,
          location: l.locationId,
        })),
    });
  }
  return recorded;
}

/** Two writers created the same order at once: the other one won; the caller retries as an update. */
function applyOrderSnapshotConflict(): never {
  throw Object.assign(new Error('order created concurrently; retry'), { retryable: true });
}
