// Inventory use cases other rooms and the HTTP edge call: stock variances, POS sales, reactions to
// order changes, and the explanation of a SKU's ATP.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { echoed, hasUnsafeCharacters, quoted } from '../../platform/text.js';
import { computeAtp, type VariantAtp } from './atp.repo.js';
import { lockLevels, markAllVariantsChanged, markChanged, recordEntries } from './ledger.service.js';
import { releaseReservation } from './reservations.service.js';
import {
  createOnlineChannelGroup,
  lockOnlineChannelGroup,
  replaceGroupMembers,
  setGroupThreshold,
} from '../facilities/index.js';

export const VARIANCE_KINDS = ['damaged', 'found', 'count_variance'] as const;
export type VarianceKind = (typeof VARIANCE_KINDS)[number];

export interface VarianceInput {
  facility: string;
  sku: string;
  /** Units found (positive) or lost (negative); `damaged` takes a positive count of damaged units. */
  quantity: number;
  kind: VarianceKind;
  reason: string;
  occurredAt?: Date;
  /** A client-chosen key makes a retried request harmless. */
  idempotencyKey?: string;
}

// Names from a request are echoed cut, and one with a NUL is not sent to PostgreSQL (which refuses it): no such name exists.
async function variantBySku(db: Db, sku: string): Promise<{ id: number; sku: string; title: string }> {
  const [row] = hasUnsafeCharacters(sku)
    ? []
    : await queryRows<{ id: number; sku: string; title: string }>(
        db,
        sql`select id, sku, title from variants where sku = ${sku} order by id limit 1`,
      );
  if (!row) throw notFound('inventory.unknown_sku', `No variant has SKU ${quoted(sku)}.`, { sku: echoed(sku) });
  return row;
}

async function physicalFacility(db: Db, code: string): Promise<{ id: number; code: string }> {
  const [row] = hasUnsafeCharacters(code)
    ? []
    : await queryRows<{ id: number; code: string; kind: string }>(
        db,
        sql`select id, code, kind from facilities where code = ${code}`,
      );
  if (!row)
    throw notFound('inventory.unknown_facility', `No facility has code ${quoted(code)}.`, { facility: echoed(code) });
  if (row.kind === 'VIRTUAL')
    throw invalid('inventory.virtual_facility', `"${code}" is a queue, not a place that holds stock.`, {
      facility: code,
    });
  return row;
}

/** A variance dated more than this ahead of the server's clock is a typo or a wrong clock. */
const VARIANCE_CLOCK_SKEW_MS = 5 * 60_000;
/** Before this, a date is a typo or a zero date (and PostgreSQL has no year 0). */
const EARLIEST_VARIANCE = new Date('2000-01-01T00:00:00Z');
/** One found or damaged record moves at most this many units: more is a typo (a barcode in the quantity). */
export const MAX_VARIANCE_UNITS = 1_000_000;
/** The counters are PostgreSQL `integer`s. */
const MAX_ON_HAND = 2_147_483_647;
/** Longest text each field takes (SKUs are at most 255 characters in Shopify). */
export const VARIANCE_TEXT_LIMITS = { facility: 200, sku: 255, reason: 1000, idempotencyKey: 200 } as const;

const units = (n: number) => `${n.toLocaleString('en-US')} unit${Math.abs(n) === 1 ? '' : 's'}`;

/** Refuses what cannot be true before anything is read or written (see the room README). */
function checkVariance(input: VarianceInput, now: Date): void {
  if (!VARIANCE_KINDS.includes(input.kind))
    throw invalid('inventory.variance_kind', `kind must be one of ${VARIANCE_KINDS.join(', ')}.`, { field: 'kind' });
  for (const field of ['facility', 'sku', 'reason', 'idempotencyKey'] as const) {
    const value = input[field];
    if (value === undefined) continue;
    const max = VARIANCE_TEXT_LIMITS[field];
    if (value.length > max)
      throw invalid(
        'inventory.variance_text',
        `${field} is ${value.length.toLocaleString('en-US')} characters long: at most ${max}.`,
        { field },
      );
    // A reason may run over lines; nothing may hold NUL (PostgreSQL refuses it) or other control characters.
    if (hasUnsafeCharacters(field === 'reason' ? value.replace(/[\t\n\r]/g, ' ') : value)) {
      throw invalid('inventory.variance_text', `${field} ${quoted(value)} holds control characters: send plain text.`, {
        field,
      });
    }
  }
  if (!Number.isInteger(input.quantity) || input.quantity === 0)
    throw invalid('inventory.variance_quantity', 'quantity must be a whole number other than 0.', {
      field: 'quantity',
    });
  if (Math.abs(input.quantity) > MAX_VARIANCE_UNITS) {
    throw invalid(
      'inventory.variance_quantity',
      `quantity ${input.quantity} is more than one record can move (at most ${MAX_VARIANCE_UNITS.toLocaleString('en-US')} units).`,
      { field: 'quantity' },
    );
  }
  if (input.kind === 'damaged' && input.quantity < 0)
    throw invalid('inventory.variance_quantity', 'damaged takes the number of damaged units (positive).', {
      field: 'quantity',
    });
  if (input.kind === 'found' && input.quantity < 0)
    throw invalid('inventory.variance_quantity', 'found takes the number of units found (positive).', {
      field: 'quantity',
    });
  if (!input.reason.trim()) throw invalid('inventory.variance_reason', 'reason is required.', { field: 'reason' });
  const at = input.occurredAt;
  if (at !== undefined) {
    if (Number.isNaN(at.getTime()))
      throw invalid('inventory.variance_time', 'occurredAt is not a time.', { field: 'occurredAt' });
    if (at.getTime() > now.getTime() + VARIANCE_CLOCK_SKEW_MS) {
      throw invalid(
        'inventory.variance_in_future',
        `occurredAt ${at.toISOString()} is in the future (the server's time is ${now.toISOString()}; up to 5 minutes of clock difference are allowed). A variance is recorded once it happened.`,
        { field: 'occurredAt', occurredAt: at.toISOString(), now: now.toISOString() },
      );
    }
    if (at.getTime() < EARLIEST_VARIANCE.getTime()) {
      throw invalid(
        'inventory.variance_too_old',
        `occurredAt ${at.toISOString()} is before 2000-01-01: a typo or a zero date.`,
        { field: 'occurredAt', occurredAt: at.toISOString() },
      );
    }
  }
}

/**
 * Found or damaged stock, recorded by a person with a reason. Refused, with nothing written: a time in
 * the future or before 2000, a quantity of 0 or beyond ±1,000,000, text with control characters,
 * taking away more units than the facility has on hand, or on hand past the counter's range.
 */
export async function recordVariance(
  db: Db,
  input: VarianceInput,
  now: Date,
): Promise<{ entryKey: string; delta: number; onHand: number; replayed: boolean }> {
  checkVariance(input, now);
  const variant = await variantBySku(db, input.sku);
  const facility = await physicalFacility(db, input.facility);
  const delta = input.kind === 'damaged' ? -input.quantity : input.quantity;
  const entryKey = `variance:${input.idempotencyKey ?? randomUUID()}`;
  return db.transaction(async (tx) => {
    // On hand is judged under the level's lock, so two variances cannot both take the last units.
    await lockLevels(tx, [{ variantId: variant.id, facilityId: facility.id }]);
    const [level] = await queryRows<{ on_hand: number; replayed: boolean }>(
      tx,
      sql`select on_hand, exists (select 1 from inventory_ledger where idempotency_key = ${entryKey}) as replayed
          from inventory_levels where variant_id = ${variant.id} and facility_id = ${facility.id}`,
    );
    const onHand = level!.on_hand;
    // A retried request answers as the first one did, whatever happened since.
    if (level!.replayed) return { entryKey, delta, onHand, replayed: true };
    if (onHand + delta < 0) {
      throw conflict(
        'inventory.variance_exceeds_on_hand',
        `${input.kind} ${units(Math.abs(delta))} of ${input.sku} at ${input.facility} is more than the ${units(onHand)} on hand there: on hand cannot go below 0. Count the shelf, or record what is there.`,
        { field: 'quantity', facility: input.facility, sku: input.sku, onHand, quantity: input.quantity },
      );
    }
    if (onHand + delta > MAX_ON_HAND) {
      throw conflict(
        'inventory.variance_out_of_range',
        `${input.kind} ${units(delta)} would take on hand of ${input.sku} at ${input.facility} past ${MAX_ON_HAND.toLocaleString('en-US')}.`,
        {
          field: 'quantity',
          onHand,
          quantity: input.quantity,
        },
      );
    }
    const outcome = await recordEntries(
      tx,
      [
        {
          variantId: variant.id,
          facilityId: facility.id,
          delta,
          kind: input.kind,
          referenceType: 'variance',
          occurredAt: input.occurredAt ?? now,
          source: 'api',
          idempotencyKey: entryKey,
          note: input.reason,
        },
      ],
      now,
      { levelsLocked: true },
    );
    const [after] = await queryRows<{ on_hand: number }>(
      tx,
      sql`select on_hand from inventory_levels where variant_id = ${variant.id} and facility_id = ${facility.id}`,
    );
    return { entryKey, delta, onHand: after?.on_hand ?? 0, replayed: outcome.written === 0 };
  });
}

/**
 * Lines sold over a store's counter: the customer left with the goods, so the store's on hand drops
 * once per line (the entry key is the Shopify line), however often and in whatever order the order
 * arrives. A POS line shipped to the customer is not one: it is routed and leaves by a shipment.
 */
export async function recordPosSale(tx: Db, orderId: number, now: Date): Promise<number> {
  const lines = await queryRows<{
    shopify_line_item_id: string;
    variant_id: number | null;
    quantity: number;
    facility_id: number | null;
    created: Date;
    name: string;
  }>(
    tx,
    sql`select ol.shopify_line_item_id, ol.variant_id, ol.quantity, o.pickup_facility_id as facility_id, o.shopify_created_at as created, o.name
        from order_lines ol join orders o on o.id = ol.order_id
        where o.id = ${orderId} and ol.sold_over_counter`,
  );
  const entries = lines
    .filter((l) => l.variant_id !== null && l.facility_id !== null && l.quantity > 0)
    .map((l) => ({
      variantId: l.variant_id!,
      facilityId: l.facility_id!,
      delta: -l.quantity,
      kind: 'pos_sale' as const,
      referenceType: 'order',
      referenceId: l.name,
      occurredAt: l.created,
      source: 'shopify_pos',
      idempotencyKey: `pos_sale:${l.shopify_line_item_id}`,
    }));
  return (await recordEntries(tx, entries, now)).written;
}

/**
 * A line taken for a counter sale turned out to be shipped to the customer (Shopify's fulfilment orders
 * say so now): the units never left the store, so its POS sale is reversed, once.
 */
export async function reversePosSale(tx: Db, lineId: number, now: Date): Promise<number> {
  const [sale] = await queryRows<{
    variant_id: number;
    facility_id: number;
    delta: number;
    reference_id: string | null;
    key: string;
  }>(
    tx,
    sql`select g.variant_id, g.facility_id, g.delta, g.reference_id, g.idempotency_key as key from inventory_ledger g
        join order_lines ol on g.idempotency_key = 'pos_sale:' || ol.shopify_line_item_id where ol.id = ${lineId}`,
  );
  if (!sale) return 0;
  const entry = {
    variantId: sale.variant_id,
    facilityId: sale.facility_id,
    delta: -sale.delta,
    kind: 'pos_sale_reversal' as const,
    referenceType: 'order',
    referenceId: sale.reference_id,
    occurredAt: now,
    source: 'shopify',
    idempotencyKey: `pos_sale_reversal:${sale.key.slice('pos_sale:'.length)}`,
    note: 'the line is shipped to the customer, not taken home',
  };
  return (await recordEntries(tx, [entry], now)).written;
}

/**
 * Refund lines that put units back on a shelf raise on hand there, once each (the entry key is
 * Shopify's refund line id):
 * - RETURN: fulfilled units came back (a store return, or any return restocked at a facility). Every
 *   fulfilled unit had left Switchyard's stock (a shipment, a POS sale, a fulfilment made in Shopify).
 *   Shopify raised its own available and on hand there too (the publisher learns of it: `return_restock`).
 * - CANCEL: unfulfilled units; they had not left the shelf (their reservation is trimmed by the line's
 *   reduction). Units Switchyard had already shipped while Shopify still saw them open are not back
 *   on any shelf, whatever Shopify's restock says: they are in a parcel. The fulfilment push records
 *   them as shipped beyond what was owed; if they come back, that is a return (or a found variance).
 * - NO_RESTOCK: nothing moves; the refund line is on the order's record.
 * A location Switchyard does not hold as a facility moves nothing here.
 */
export async function recordRefundRestocks(tx: Db, refundLineIds: number[], now: Date): Promise<number> {
  if (refundLineIds.length === 0) return 0;
  const rows = await queryRows<{
    shopify_refund_line_id: string;
    order_line_id: number;
    quantity: number;
    restock_type: string;
    facility_id: number | null;
    refunded_at: Date;
    variant_id: number | null;
    name: string;
  }>(
    tx,
    sql`select r.shopify_refund_line_id, r.order_line_id, r.quantity, r.restock_type, r.facility_id, r.refunded_at, ol.variant_id, o.name
        from order_refund_lines r join order_lines ol on ol.id = r.order_line_id join orders o on o.id = r.order_id
        where r.id = any(${intArray(refundLineIds)}::bigint[]) and r.facility_id is not null and ol.variant_id is not null and r.restock_type = 'RETURN'
        order by r.id`,
  );
  if (rows.length === 0) return 0;
  // The counters first, in key order, so what is decided below is read under lock.
  await lockLevels(
    tx,
    rows.map((r) => ({ variantId: r.variant_id!, facilityId: r.facility_id! })),
  );
  let written = 0;
  for (const r of rows) {
    const kind = 'return_restock' as const;
    const entry = {
      variantId: r.variant_id!,
      facilityId: r.facility_id!,
      delta: r.quantity,
      kind,
      referenceType: 'order_line',
      referenceId: String(r.order_line_id),
      occurredAt: r.refunded_at,
      source: 'shopify',
      idempotencyKey: `${kind}:${r.shopify_refund_line_id}`,
      note: `refund of ${r.name}`,
    };
    // (The refund lowered the line's current quantity too: that event has the publisher read Shopify's levels.)
    written += (await recordEntries(tx, [entry], now, { levelsLocked: true })).written;
  }
  return written;
}

/** Every variant of an order: their queue demand or reservations may have moved. */
export async function markOrderVariantsChanged(
  tx: Db,
  orderId: number,
  now: Date,
  options: { needsRead?: boolean } = {},
): Promise<void> {
  const rows = await queryRows<{ variant_id: number }>(
    tx,
    sql`select distinct variant_id from order_lines where order_id = ${orderId} and variant_id is not null`,
  );
  await markChanged(
    tx,
    rows.map((r) => r.variant_id),
    now,
    options,
  );
}

/** A cancelled order: every reservation of its lines goes back. */
export async function releaseOrderReservations(tx: Db, orderId: number, now: Date): Promise<number> {
  const lines = await queryRows<{ id: number }>(tx, sql`select id from order_lines where order_id = ${orderId}`);
  // Shared rows in key order first, as routing takes them (levels, then publish marks): line by line,
  // a two-item order could hold one level while routing held the other.
  const held = await queryRows<{ variant_id: number; facility_id: number }>(
    tx,
    sql`select distinct r.variant_id, r.facility_id from reservations r join order_lines ol on ol.id = r.order_line_id
        where ol.order_id = ${orderId} and r.status = 'active' order by 1, 2`,
  );
  if (held.length > 0) {
    await lockLevels(
      tx,
      held.map((h) => ({ variantId: h.variant_id, facilityId: h.facility_id })),
    );
    await markChanged(
      tx,
      held.map((h) => h.variant_id),
      now,
    );
  }
  let released = 0;
  for (const line of lines) released += await releaseReservation(tx, line.id, 'order_cancelled', now);
  return released;
}

/** Fewer units wanted on a line: reservations above what is still wanted (and not shipped) go back. */
export async function trimLineReservation(tx: Db, lineId: number, now: Date): Promise<number> {
  const [row] = await queryRows<{ wanted: number; reserved: number }>(
    tx,
    sql`select greatest(ol.current_quantity - ol.shipped_quantity, 0) as wanted, coalesce((select sum(quantity) from reservations r where r.order_line_id = ol.id and r.status = 'active'), 0)::int as reserved
        from order_lines ol where ol.id = ${lineId}`,
  );
  if (!row || row.reserved <= row.wanted) return 0;
  return releaseReservation(tx, lineId, 'quantity_reduced', now, row.reserved - row.wanted);
}

export interface SkuExplanation {
  sku: string;
  variantId: number;
  title: string;
  atp: VariantAtp;
}

export async function explainSkuAtp(db: Db, sku: string): Promise<SkuExplanation> {
  const variant = await variantBySku(db, sku);
  const atp = (await computeAtp(db, [variant.id])).get(variant.id)!;
  return { sku, variantId: variant.id, title: variant.title, atp };
}

/**
 * Stock Switchyard starts from when it connects to a shop: Shopify's on hand per item × location,
 * once per variant × facility (a pair that already has ledger entries keeps them). The next ERP count
 * corrects it as of its time.
 */
export async function recordOpeningBalances(
  db: Db,
  levels: Array<{ shopifyInventoryItemId: string; shopifyLocationId: string; onHand: number }>,
  at: Date,
  now: Date,
): Promise<number> {
  let written = 0;
  for (let i = 0; i < levels.length; i += 1000) {
    const chunk = levels.slice(i, i + 1000);
    const values = sql.join(
      chunk.map((l) => sql`(${l.shopifyInventoryItemId}, ${l.shopifyLocationId}, ${l.onHand}::int)`),
      sql`, `,
    );
    const pairs = await queryRows<{ variant_id: number; facility_id: number; on_hand: number }>(
      db,
      sql`select v.id as variant_id, f.id as facility_id, l.on_hand from (values ${values}) as l(item, location, on_hand)
          join variants v on v.shopify_inventory_item_id = l.item join facilities f on f.shopify_location_id = l.location
          where not exists (select 1 from inventory_ledger g where g.variant_id = v.id and g.facility_id = f.id)`,
    );
    written += await db.transaction(async (tx) => {
      const outcome = await recordEntries(
        tx,
        pairs.map((p) => ({
          variantId: p.variant_id,
          facilityId: p.facility_id,
          delta: p.on_hand,
          kind: 'opening_balance' as const,
          referenceType: 'shopify_inventory_snapshot',
          occurredAt: at,
          source: 'shopify',
          idempotencyKey: `opening:${p.variant_id}:${p.facility_id}`,
        })),
        now,
      );
      // The opening balance is a count as of `at`: an older ERP count says nothing new, and a change
      // from before it that arrives later was already in Shopify's figure.
      if (pairs.length > 0) {
        const marks = sql.join(
          pairs.map((p) => sql`(${p.variant_id}::bigint, ${p.facility_id}::bigint, ${at}::timestamptz)`),
          sql`, `,
        );
        await tx.execute(
          sql`insert into inventory_count_marks (variant_id, facility_id, counted_at) values ${marks}
              on conflict (variant_id, facility_id) do update set counted_at = greatest(inventory_count_marks.counted_at, excluded.counted_at)`,
        );
      }
      return outcome.written;
    });
  }
  return written;
}

/** Safety stock for one product × facility (null: back to the tag rules and the facility default). */
export async function setProductSafetyStock(
  db: Db,
  input: { sku: string; facility: string; quantity: number | null },
  now: Date,
): Promise<void> {
  if (input.quantity !== null && (!Number.isInteger(input.quantity) || input.quantity < 0)) {
    throw invalid('inventory.safety_stock', 'quantity must be a whole number ≥ 0, or null to clear it.', {
      field: 'quantity',
    });
  }
  const variant = await variantBySku(db, input.sku);
  const facility = await physicalFacility(db, input.facility);
  await db.transaction(async (tx) => {
    await lockLevels(tx, [{ variantId: variant.id, facilityId: facility.id }]);
    await tx.execute(
      sql`update inventory_levels set safety_stock = ${input.quantity}, updated_at = ${now} where variant_id = ${variant.id} and facility_id = ${facility.id}`,
    );
    await markChanged(tx, [variant.id], now);
  });
}

export interface SafetyStockRule {
  id: number;
  tag: string;
  facility: string | null;
  quantity: number;
}

export async function listSafetyStockRules(db: Db): Promise<SafetyStockRule[]> {
  const rows = await queryRows<{ id: number; tag: string; code: string | null; quantity: number }>(
    db,
    sql`select r.id, r.tag, f.code, r.quantity from safety_stock_rules r left join facilities f on f.id = r.facility_id order by r.tag, f.code nulls first`,
  );
  return rows.map((r) => ({ id: r.id, tag: r.tag, facility: r.code, quantity: r.quantity }));
}

/** A tag rule: products with `tag` keep `quantity` units at the facility (or at every facility). */
export async function putSafetyStockRule(
  db: Db,
  input: { tag: string; facility: string | null; quantity: number },
  now: Date,
): Promise<SafetyStockRule> {
  const tag = input.tag.trim();
  if (!tag) throw invalid('inventory.safety_rule_tag', 'tag is required.', { field: 'tag' });
  if (!Number.isInteger(input.quantity) || input.quantity < 0)
    throw invalid('inventory.safety_stock', 'quantity must be a whole number ≥ 0.', { field: 'quantity' });
  const facility = input.facility === null ? null : await physicalFacility(db, input.facility);
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`delete from safety_stock_rules where tag = ${tag} and coalesce(facility_id, 0) = ${facility?.id ?? 0}`,
    );
    const [row] = await queryRows<{ id: number }>(
      tx,
      sql`insert into safety_stock_rules (tag, facility_id, quantity, created_at) values (${tag}, ${facility?.id ?? null}, ${input.quantity}, ${now}) returning id`,
    );
    await markTaggedChanged(tx, tag, now);
    return { id: row!.id, tag, facility: facility?.code ?? null, quantity: input.quantity };
  });
}

export async function deleteSafetyStockRule(db: Db, id: number, now: Date): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await queryRows<{ tag: string }>(
      tx,
      sql`delete from safety_stock_rules where id = ${id} returning tag`,
    );
    if (!row) throw notFound('inventory.unknown_safety_rule', `No safety stock rule ${id}.`);
    await markTaggedChanged(tx, row.tag, now);
  });
}

async function markTaggedChanged(tx: Db, tag: string, now: Date): Promise<void> {
  const ids = await queryRows<{ id: number }>(
    tx,
    sql`select v.id from variants v join products p on p.id = v.product_id where ${tag} = any(p.tags)`,
  );
  await markChanged(
    tx,
    ids.map((r) => r.id),
    now,
  );
}

/** The online channel's threshold and, optionally, its facilities (by code; the group is created when missing). */
export async function setOnlineChannel(
  db: Db,
  input: { threshold?: number; facilities?: string[] },
  now: Date,
): Promise<{ code: string; threshold: number; facilities: string[] }> {
  if (input.threshold !== undefined && (!Number.isInteger(input.threshold) || input.threshold < 0)) {
    throw invalid('inventory.channel_threshold', 'threshold must be a whole number ≥ 0.', { field: 'threshold' });
  }
  const members =
    input.facilities === undefined
      ? undefined
      : await Promise.all(input.facilities.map((code) => physicalFacility(db, code)));
  return db.transaction(async (tx) => {
    let group = await lockOnlineChannelGroup(tx);
    if (!group) group = await createOnlineChannelGroup(tx, now, !members);
    if (input.threshold !== undefined) await setGroupThreshold(tx, group.id, input.threshold);
    if (members)
      await replaceGroupMembers(
        tx,
        group.id,
        members.map((m) => m.id),
      );
    await markAllVariantsChanged(tx, now);
    const [after] = await queryRows<{ channel_threshold: number }>(
      tx,
      sql`select channel_threshold from facility_groups where id = ${group.id}`,
    );
    const codes = await queryRows<{ code: string }>(
      tx,
      sql`select f.code from facility_group_members m join facilities f on f.id = m.facility_id where m.group_id = ${group.id} order by m.sequence, f.code`,
    );
    return { code: group.code, threshold: after!.channel_threshold, facilities: codes.map((c) => c.code) };
  });
}
