// Reservations: a routed order line holds stock at its facility until it ships, is cancelled or is
// rejected. `reserved` on the counter row moves in the same statement that checks it, so two workers
// never promise the same unit.
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import { lockLevels, markChanged, recordEntries } from './ledger.service.js';

export interface ReserveInput {
  orderLineId: number;
  variantId: number;
  facilityId: number;
  quantity: number;
}

/**
 * Reserves `quantity` at the facility if it is there to promise (on hand − reserved − safety stock ≥
 * quantity, unless `allowShortfall`). Returns false, changing nothing, when it is not.
 */
export async function reserveStock(
  tx: Db,
  input: ReserveInput,
  now: Date,
  options: { safetyStock?: number; allowShortfall?: boolean } = {},
): Promise<boolean> {
  if (!Number.isInteger(input.quantity) || input.quantity <= 0)
    throw new Error(`reserveStock: quantity must be a positive integer, got ${input.quantity}`);
  await lockLevels(tx, [input]);
  const guard = options.allowShortfall
    ? sql`true`
    : sql`on_hand - reserved - ${options.safetyStock ?? 0} >= ${input.quantity}`;
  const moved = await queryRows<{ reserved: number }>(
    tx,
    sql`update inventory_levels set reserved = reserved + ${input.quantity}, updated_at = ${now}
        where variant_id = ${input.variantId} and facility_id = ${input.facilityId} and ${guard} returning reserved`,
  );
  if (moved.length === 0) return false;
  await tx.execute(
    sql`insert into reservations (order_line_id, variant_id, facility_id, quantity, status, created_at)
        values (${input.orderLineId}, ${input.variantId}, ${input.facilityId}, ${input.quantity}, 'active', ${now})
        on conflict (order_line_id, facility_id) where status = 'active'
        do update set quantity = reservations.quantity + excluded.quantity`,
  );
  await markChanged(tx, [input.variantId], now);
  return true;
}

/**
 * Releases up to `quantity` units (all when omitted) of a line's active reservations: cancellations,
 * partial cancellations and rejections. Returns the units released.
 */
export async function releaseReservation(
  tx: Db,
  orderLineId: number,
  reason: string,
  now: Date,
  quantity?: number,
): Promise<number> {
  const active = await queryRows<{ id: number; variant_id: number; facility_id: number; quantity: number }>(
    tx,
    sql`select id, variant_id, facility_id, quantity from reservations where order_line_id = ${orderLineId} and status = 'active' order by id`,
  );
  if (active.length === 0) return 0;
  await lockLevels(
    tx,
    active.map((r) => ({ variantId: r.variant_id, facilityId: r.facility_id })),
  );
  let left = quantity ?? Number.POSITIVE_INFINITY;
  let released = 0;
  for (const r of active) {
    if (left <= 0) break;
    const take = Math.min(left, r.quantity);
    if (take === r.quantity) {
      await tx.execute(
        sql`update reservations set status = 'released', closed_at = ${now}, close_reason = ${reason} where id = ${r.id}`,
      );
    } else {
      await tx.execute(sql`update reservations set quantity = quantity - ${take} where id = ${r.id}`);
    }
    await tx.execute(
      sql`update inventory_levels set reserved = reserved - ${take}, updated_at = ${now} where variant_id = ${r.variant_id} and facility_id = ${r.facility_id}`,
    );
    left -= take;
    released += take;
  }
  await markChanged(
    tx,
    active.map((r) => r.variant_id),
    now,
  );
  return released;
}

/**
 * Ships or hands over `quantity` units of a line from a facility: on hand drops once, through a
 * `shipment` ledger entry keyed by `shipmentKey` (a replay changes nothing), and the line's active
 * reservation there is consumed by as much as it holds. Units shipped without a reservation (a
 * fulfilment made in Shopify for a line Switchyard had not routed there) still leave on hand.
 */
export async function consumeReservation(
  tx: Db,
  input: {
    orderLineId: number;
    variantId: number;
    facilityId: number;
    quantity: number;
    shipmentKey: string;
    occurredAt: Date;
    source: string;
  },
  now: Date,
): Promise<{ consumed: number; replayed: boolean }> {
  if (!Number.isInteger(input.quantity) || input.quantity <= 0)
    throw new Error(`consumeReservation: quantity must be a positive integer, got ${input.quantity}`);
  const outcome = await recordEntries(
    tx,
    [
      {
        variantId: input.variantId,
        facilityId: input.facilityId,
        delta: -input.quantity,
        kind: 'shipment',
        referenceType: 'order_line',
        referenceId: String(input.orderLineId),
        occurredAt: input.occurredAt,
        source: input.source,
        idempotencyKey: `shipment:${input.shipmentKey}`,
      },
    ],
    now,
  );
  if (outcome.written === 0) return { consumed: 0, replayed: true };
  const [r] = await queryRows<{ id: number; quantity: number }>(
    tx,
    sql`select id, quantity from reservations where order_line_id = ${input.orderLineId} and facility_id = ${input.facilityId} and status = 'active' for update`,
  );
  if (!r) {
    await markChanged(tx, [input.variantId], now);
    return { consumed: 0, replayed: false };
  }
  const take = Math.min(input.quantity, r.quantity);
  if (take === r.quantity) {
    await tx.execute(
      sql`update reservations set status = 'consumed', closed_at = ${now}, close_reason = 'shipped' where id = ${r.id}`,
    );
  } else {
    await tx.execute(sql`update reservations set quantity = quantity - ${take} where id = ${r.id}`);
  }
  await tx.execute(
    sql`update inventory_levels set reserved = reserved - ${take}, updated_at = ${now} where variant_id = ${input.variantId} and facility_id = ${input.facilityId}`,
  );
  await markChanged(tx, [input.variantId], now);
  return { consumed: take, replayed: false };
}

// --- routing's batches (set-based, in the routing batch's transaction; see domains/routing/routing.repo.ts)

/**
 * Safety stock as ATP computes it (SQL over `l` the level, `f` its facility, `p` the product): the
 * level's own figure, else the largest tag rule for the facility, else the largest global tag rule,
 * else the facility's default. Without tag rules (the usual case) the product is not needed.
 */
export function safetyStockSql(tagRules: boolean): SQL {
  return tagRules
    ? sql`coalesce(l.safety_stock,
        (select max(r.quantity) from safety_stock_rules r where r.facility_id = f.id and r.tag = any(p.tags)),
        (select max(r.quantity) from safety_stock_rules r where r.facility_id is null and r.tag = any(p.tags)),
        f.default_safety_stock)`
    : sql`coalesce(l.safety_stock, f.default_safety_stock)`;
}

/** Reservations for the lines a routing batch assigned (one per line × facility; a second adds to it). */
export async function reserveForRouting(
  tx: Db,
  assignments: Array<{ lineId: number; variantId: number; facilityId: number; quantity: number }>,
  now: Date,
): Promise<void> {
  await tx.execute(
    sql`insert into reservations (order_line_id, variant_id, facility_id, quantity, status, created_at)
        select x.l, x.v, x.f, x.q, 'active', ${now}::timestamptz
        from unnest(${intArray(assignments.map((a) => a.lineId))}::bigint[], ${intArray(assignments.map((a) => a.variantId))}::bigint[],
                    ${intArray(assignments.map((a) => a.facilityId))}::bigint[], ${intArray(assignments.map((a) => a.quantity))}::int[]) as x(l, v, f, q)
        on conflict (order_line_id, facility_id) where status = 'active' do update set quantity = reservations.quantity + excluded.quantity`,
  );
}

/**
 * Moves the batch's units into `reserved`, per (variant, facility) pair (`q` units; levels already
 * locked in key order by the caller), only where on hand − reserved still covers them and the safety
 * stock. Returns how many pairs moved: fewer than asked means another worker took the stock first.
 */
export async function reserveLevelsGuarded(
  tx: Db,
  pairs: Array<{ v: number; f: number; q: number }>,
  now: Date,
  tagRules: boolean,
): Promise<number> {
  const moved = await queryRows<{ n: number }>(
    tx,
    sql`with d as (select * from unnest(${intArray(pairs.map((p) => p.v))}::bigint[], ${intArray(pairs.map((p) => p.f))}::bigint[], ${intArray(pairs.map((p) => p.q))}::int[]) as x(v, f, q)),
        u as (update inventory_levels l set reserved = l.reserved + d.q, updated_at = ${now}
              from d join facilities f on f.id = d.f ${tagRules ? sql`join variants v on v.id = d.v join products p on p.id = v.product_id` : sql``}
              where l.variant_id = d.v and l.facility_id = d.f and l.on_hand - l.reserved - ${safetyStockSql(tagRules)} >= d.q returning 1)
        select count(*)::int as n from u`,
  );
  return moved[0]!.n;
}
