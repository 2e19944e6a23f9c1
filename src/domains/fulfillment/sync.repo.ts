// The fulfilment room's side of keeping Shopify in line: which orders need a sync, the pushes of
// each order with what they must tell Shopify, their state changes, and the import of fulfilments
// made in Shopify itself. The calls to Shopify are made by the pusher job (src/jobs/).
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { markChanged } from '../inventory/index.js';
import { addShopifyFulfilledUnits, appendOrderHistory, setShopifyFulfillmentFacility } from '../orders/index.js';
import type { PushAction, PushStatus, ShipmentKind } from './fulfillment.schema.js';

/** Asks for an order's sync with Shopify (soon, or at `dueAt`); `check` also compares Shopify's fulfilments. */
export async function requestSync(
  tx: Db,
  orderId: number,
  now: Date,
  options: { check?: boolean } = {},
): Promise<void> {
  await tx.execute(
    sql`insert into fulfillment_sync (order_id, requested_at, due_at, "check") values (${orderId}, ${now}, ${now}, ${options.check ?? false})
        on conflict (order_id) do update set requested_at = excluded.requested_at, due_at = least(fulfillment_sync.due_at, excluded.due_at),
          "check" = fulfillment_sync."check" or excluded."check"`,
  );
}

export interface SyncClaim {
  orderId: number;
  requestedAt: Date;
  check: boolean;
  /** Who holds it (`host:pid`): renewing or ending a claim someone else has taken over does nothing. */
  holder: string;
}

/**
 * How long a claim on an order holds. Longer than one call to Shopify (30 s timeout), so a worker
 * that stalls is never overtaken mid-call; short, so an order a crashed worker held is taken again
 * within a minute. The holder renews it before each call (`renewSyncLease`).
 */
export const SYNC_LEASE_MS = 60_000;

/** Takes due orders under a lease (two workers never take the same order). */
export async function claimSyncOrders(
  db: Db,
  now: Date,
  limit: number,
  holder: string,
  leaseMs = SYNC_LEASE_MS,
): Promise<SyncClaim[]> {
  const rows = await queryRows<{ order_id: number; requested_at: Date; check: boolean }>(
    db,
    // The rows are picked once, in a CTE: as `where order_id in (select … limit n)` the planner may
    // run the subquery again and lease more rows than the caller takes (they then sat leased, unworked,
    // for a whole lease period).
    sql`with picked as (select order_id from fulfillment_sync where due_at <= ${now} and (leased_until is null or leased_until < ${now})
                        order by due_at limit ${limit} for update skip locked)
        update fulfillment_sync f set leased_until = ${new Date(now.getTime() + leaseMs)}, leased_by = ${holder}
        from picked where f.order_id = picked.order_id
        returning f.order_id, f.requested_at, f."check"`,
  );
  return rows.map((r) => ({ orderId: r.order_id, requestedAt: r.requested_at, check: r.check, holder }));
}

/** Holders of live leases (`host:pid`), for the caller to find the ones whose process is gone. */
export async function syncLeaseHolders(db: Db, now: Date): Promise<string[]> {
  const rows = await queryRows<{ leased_by: string }>(
    db,
    sql`select distinct leased_by from fulfillment_sync where leased_until > ${now} and leased_by is not null`,
  );
  return rows.map((r) => r.leased_by);
}

/** Frees the leases of a holder known to be gone (a process of this machine that was killed). */
export async function releaseLeasesOf(db: Db, holder: string): Promise<number> {
  const rows = await queryRows<{ order_id: number }>(
    db,
    sql`update fulfillment_sync set leased_until = null, leased_by = null where leased_by = ${holder} returning order_id`,
  );
  return rows.length;
}

/** Renews the claim before a call to Shopify; false if the claim was lost (the order is someone else's now). */
export async function renewSyncLease(db: Db, claim: SyncClaim, now: Date, leaseMs = SYNC_LEASE_MS): Promise<boolean> {
  const rows = await queryRows<{ order_id: number }>(
    db,
    sql`update fulfillment_sync set leased_until = ${new Date(now.getTime() + leaseMs)} where order_id = ${claim.orderId} and leased_until > ${now} and leased_by = ${claim.holder} returning order_id`,
  );
  return rows.length === 1;
}

/**
 * Ends a claim: done removes the request unless a newer one came meanwhile; otherwise it comes back
 * at `retryAt` (keeping its check flag).
 */
export async function releaseSync(
  db: Db,
  claim: SyncClaim,
  outcome: { done: true } | { done: false; retryAt: Date },
): Promise<void> {
  if (outcome.done) {
    await db.execute(
      sql`delete from fulfillment_sync where order_id = ${claim.orderId} and requested_at = ${claim.requestedAt} and leased_by = ${claim.holder}`,
    );
    await db.execute(
      sql`update fulfillment_sync set leased_until = null where order_id = ${claim.orderId} and leased_by = ${claim.holder}`,
    );
  } else {
    await db.execute(
      sql`update fulfillment_sync set leased_until = null, due_at = ${outcome.retryAt} where order_id = ${claim.orderId} and leased_by = ${claim.holder}`,
    );
  }
}

/** Every order with a push not settled, asked to sync (the batch job's safety net). */
export async function requestSyncForUnsettledPushes(db: Db, now: Date): Promise<number> {
  const rows = await queryRows<{ order_id: number }>(
    db,
    sql`insert into fulfillment_sync (order_id, requested_at, due_at)
        select distinct order_id, ${now}::timestamptz, ${now}::timestamptz from fulfillment_pushes where status in ('pending', 'sending')
        on conflict (order_id) do update set due_at = least(fulfillment_sync.due_at, excluded.due_at)
        returning order_id`,
  );
  return rows.length;
}

export interface PushWork {
  id: number;
  shipmentId: number;
  action: PushAction;
  status: PushStatus;
  notifyCustomer: boolean;
  fulfillmentsBefore: string[];
  kind: ShipmentKind;
  facilityId: number;
  facilityLocationId: string | null;
  tracking: { company: string | null; number: string | null; url: string | null } | null;
  /** What this push tells Shopify: the parcel's units less those found beyond what Shopify owed. */
  lines: Array<{
    orderLineId: number;
    shopifyLineItemId: string;
    variantId: number | null;
    quantity: number;
    fulfillmentFacilityId: number | null;
  }>;
  /** Units of the parcel Shopify no longer owed when it was pushed (recorded, never fulfilled). */
  beyondOwed: Array<{ orderLineId: number; quantity: number }>;
}

export interface OrderSyncState {
  orderId: number;
  shopifyOrderId: string;
  pushes: PushWork[];
  /** Shopify fulfilment ids Switchyard already accounts for (its own, and imported ones). */
  knownFulfillmentIds: Set<string>;
}

export async function orderSyncState(db: Db, orderId: number): Promise<OrderSyncState | null> {
  const [order] = await queryRows<{ id: number; shopify_order_id: string }>(
    db,
    sql`select id, shopify_order_id from orders where id = ${orderId}`,
  );
  if (!order) return null;
  const pushes = await queryRows<{
    id: number;
    shipment_id: number;
    action: PushAction;
    status: PushStatus;
    notify_customer: boolean;
    fulfillments_before: string[];
    kind: ShipmentKind;
    facility_id: number;
    location_id: string | null;
    carrier: string | null;
    tracking_number: string | null;
    tracking_url: string | null;
    beyond_owed: Array<{ orderLineId: number; quantity: number }>;
  }>(
    db,
    sql`select p.id, p.shipment_id, p.action, p.status, p.notify_customer, p.fulfillments_before, p.beyond_owed, s.kind,
               s.facility_id, f.shopify_location_id as location_id, s.carrier, s.tracking_number, s.tracking_url
        from fulfillment_pushes p join shipments s on s.id = p.shipment_id join facilities f on f.id = s.facility_id
        where p.order_id = ${orderId} and p.status in ('pending', 'sending') order by p.id`,
  );
  const shipmentLines = await queryRows<{
    shipment_id: number;
    order_line_id: number;
    shopify_line_item_id: string;
    variant_id: number | null;
    quantity: number;
    fulfillment_facility_id: number | null;
  }>(
    db,
    sql`select sl.shipment_id, sl.order_line_id, ol.shopify_line_item_id, ol.variant_id, sl.quantity, ol.shopify_fulfillment_facility_id as fulfillment_facility_id from shipment_lines sl join order_lines ol on ol.id = sl.order_line_id
        where sl.shipment_id in (select shipment_id from fulfillment_pushes where order_id = ${orderId} and status in ('pending', 'sending')) order by sl.order_line_id`,
  );
  const known = await queryRows<{ id: string }>(
    db,
    sql`select shopify_fulfillment_id as id from shipments where order_id = ${orderId} and shopify_fulfillment_id is not null
        union select shopify_fulfillment_id from fulfillment_pushes where order_id = ${orderId} and shopify_fulfillment_id is not null`,
  );
  return {
    orderId,
    shopifyOrderId: order.shopify_order_id,
    pushes: pushes.map((p) => ({
      id: p.id,
      shipmentId: p.shipment_id,
      action: p.action,
      status: p.status,
      notifyCustomer: p.notify_customer,
      fulfillmentsBefore: p.fulfillments_before,
      kind: p.kind,
      facilityId: p.facility_id,
      facilityLocationId: p.location_id,
      tracking: p.tracking_number ? { company: p.carrier, number: p.tracking_number, url: p.tracking_url } : null,
      lines: shipmentLines
        .filter((l) => l.shipment_id === p.shipment_id)
        .map((l) => ({
          orderLineId: l.order_line_id,
          shopifyLineItemId: l.shopify_line_item_id,
          variantId: l.variant_id,
          quantity:
            l.quantity -
            p.beyond_owed.filter((b) => b.orderLineId === l.order_line_id).reduce((n, b) => n + b.quantity, 0),
          fulfillmentFacilityId: l.fulfillment_facility_id,
        }))
        .filter((l) => l.quantity > 0),
      beyondOwed: p.beyond_owed,
    })),
    knownFulfillmentIds: new Set(known.map((k) => k.id)),
  };
}

export async function logPush(
  db: Db,
  pushId: number,
  outcome: string,
  request: Record<string, unknown>,
  response: Record<string, unknown>,
  durationMs: number,
  now: Date,
): Promise<void> {
  await db.execute(
    sql`insert into fulfillment_push_log (push_id, at, outcome, request, response, duration_ms)
        values (${pushId}, ${now}, ${outcome}, ${JSON.stringify(request)}::jsonb, ${JSON.stringify(response)}::jsonb, ${Math.round(durationMs)})`,
  );
}

/** Records the intent before the call: from here on, a crash leaves the push `sending`, settled by a check of Shopify's fulfilments. */
export async function markSending(db: Db, pushId: number, fulfillmentsBefore: string[], now: Date): Promise<void> {
  await db.execute(
    sql`update fulfillment_pushes set status = 'sending', fulfillments_before = ${sql`array[${sql.join(
      fulfillmentsBefore.map((f) => sql`${f}`),
      sql`, `,
    )}]::text[]`},
          attempts = attempts + 1, sent_at = ${now} where id = ${pushId}`,
  );
}

/**
 * Shopify has it: the push is confirmed and, for a fulfilment, the lines' units count as fulfilled
 * in Shopify (they are no longer committed there). Returns false if it was confirmed already.
 */
export async function confirmPush(db: Db, push: PushWork, fulfillmentId: string | null, now: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await queryRows<{ id: number }>(
      tx,
      sql`update fulfillment_pushes set status = 'confirmed', shopify_fulfillment_id = ${fulfillmentId}, confirmed_at = ${now}, last_error = null
          where id = ${push.id} and status <> 'confirmed' returning id`,
    );
    if (updated.length === 0) return false;
    if (push.action === 'fulfil') {
      await tx.execute(
        sql`update shipments set shopify_fulfillment_id = ${fulfillmentId}, updated_at = ${now} where id = ${push.shipmentId}`,
      );
      for (const l of push.lines) {
        await addShopifyFulfilledUnits(tx, l.orderLineId, l.quantity, now);
      }
      // Shopify's committed units for these lines are gone (its level webhook shows no change in
      // `available`, so it looks like an echo): the publisher reads the levels again.
      await markChanged(
        tx,
        [...new Set(push.lines.map((l) => l.variantId).filter((v): v is number => v !== null))],
        now,
        { needsRead: true },
      );
    }
    return true;
  });
}

/**
 * Shopify moved the fulfilment order of these lines to the facility's location: its committed units
 * are counted there now (and the publisher reads both locations again).
 */
export async function recordFulfillmentOrderMove(db: Db, push: PushWork, now: Date): Promise<void> {
  await db.transaction(async (tx) => {
    for (const l of push.lines) {
      await setShopifyFulfillmentFacility(tx, l.orderLineId, push.facilityId, now);
    }
    await markChanged(
      tx,
      [...new Set(push.lines.map((l) => l.variantId).filter((v): v is number => v !== null))],
      now,
      { needsRead: true },
    );
    const [shipment] = await queryRows<{ order_id: number }>(
      tx,
      sql`select order_id from shipments where id = ${push.shipmentId}`,
    );
    if (shipment) {
      await appendOrderHistory(tx, {
        orderId: shipment.order_id,
        at: now,
        kind: 'fulfillment.fulfillment_order_moved',
        source: 'switchyard',
        details: { shipmentId: push.shipmentId, facilityId: push.facilityId, to: push.facilityLocationId },
      });
    }
  });
}

/**
 * Shopify owes fewer units than the parcel holds (the order was edited or refunded in Shopify before
 * Switchyard heard): the push tells Shopify only what it owes, and the rest is recorded on the push,
 * in the order's history, and shown in the store's work. Only while the push is still to be sent.
 */
export async function recordBeyondOwed(
  db: Db,
  push: PushWork,
  units: Array<{ orderLineId: number; quantity: number }>,
  now: Date,
): Promise<void> {
  const recorded = [...push.beyondOwed, ...units];
  await db.transaction(async (tx) => {
    const updated = await queryRows<{ order_id: number }>(
      tx,
      sql`update fulfillment_pushes set beyond_owed = ${JSON.stringify(recorded)}::jsonb where id = ${push.id} and status = 'pending' returning order_id`,
    );
    // Only a push still to be sent is decided here; anything else is a bug in the caller.
    if (updated.length === 0)
      throw new Error(`push ${push.id} is not pending: its units beyond owed cannot be recorded`);
    await appendOrderHistory(tx, {
      orderId: updated[0]!.order_id,
      at: now,
      kind: 'fulfillment.shipped_beyond_owed',
      source: 'switchyard',
      details: { shipmentId: push.shipmentId, units },
    });
  });
  push.beyondOwed = recorded;
  for (const unit of units) {
    const line = push.lines.find((l) => l.orderLineId === unit.orderLineId);
    if (line) line.quantity -= unit.quantity;
  }
  push.lines = push.lines.filter((l) => l.quantity > 0);
}

/** A push left `sending` whose call Shopify shows did not apply: to be sent again. */
export async function markPending(db: Db, pushId: number): Promise<void> {
  await db.execute(sql`update fulfillment_pushes set status = 'pending' where id = ${pushId} and status = 'sending'`);
}

/** Shopify refused: a person must look (the reason is kept). */
export async function failPush(db: Db, pushId: number, error: string): Promise<void> {
  await db.execute(sql`update fulfillment_pushes set status = 'failed', last_error = ${error} where id = ${pushId}`);
}

export async function noteError(db: Db, pushId: number, error: string): Promise<void> {
  await db.execute(sql`update fulfillment_pushes set last_error = ${error} where id = ${pushId}`);
}
