// Reads the engine's inputs and writes its decisions. Writes are set-based (one statement per kind
// for a whole batch) and guarded: stock and capacity are checked again under row locks in the same
// statement that moves them, so two workers never promise the same unit or the same capacity slot.
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import type { QueueKind } from '../facilities/index.js';
import { lockLevels, markChanged } from '../inventory/index.js';
import type { OrderDecision, RoutableOrder, RoutingFacility, StockMap } from './engine.js';

/** A PostgreSQL array literal of whole numbers, sent as one text parameter (cheaper to parse than JSON). */
export const intArray = (values: Array<number | null>) => `{${values.map((v) => (v === null ? 'NULL' : String(Math.trunc(v)))).join(',')}}`;

/** Line states that mean "waiting in a queue", the same set ATP counts as queue demand. */
export const WAITING_STATUSES = ['approved', 'rejected', 'unfillable'] as const;

/** Financial states in which an order may be routed (or the `switchyard-approved` tag). */
export const APPROVED_FINANCIAL = ['PAID', 'AUTHORIZED', 'PARTIALLY_PAID', 'PARTIALLY_REFUNDED'];
export const APPROVE_TAG = 'switchyard-approved';
export const HOLD_TAG = 'switchyard-hold';

/**
 * Approval: new lines of orders that passed the checks move to the brokering queue. Orders from POS
 * (sold in the store) and orders already fulfilled in Shopify are not routed.
 */
export async function approveNewLines(db: Db, brokeringQueueId: number, now: Date, orderIds?: number[]): Promise<number> {
  const only = orderIds ? sql`and o.id in (select (jsonb_array_elements_text(${JSON.stringify(orderIds)}::jsonb))::bigint)` : sql``;
  const rows = await queryRows<{ id: number }>(
    db,
    sql`update order_lines ol set status = 'approved', facility_id = ${brokeringQueueId}, updated_at = ${now}
        from orders o
        where o.id = ol.order_id and ol.status = 'created' and ol.current_quantity > ol.shipped_quantity and ol.variant_id is not null
          and o.cancelled_at is null and coalesce(o.source_name, '') <> 'pos' and coalesce(o.fulfillment_status, '') <> 'FULFILLED'
          and not (${HOLD_TAG} = any(o.tags))
          and (o.financial_status in (${sql.join(APPROVED_FINANCIAL.map((s) => sql`${s}`), sql`, `)}) or ${APPROVE_TAG} = any(o.tags))
          ${only}
        returning ol.id`,
  );
  return rows.length;
}

/**
 * Claims up to `limit` orders with lines waiting in the given queues, above `afterId` (keyset), locking
 * them for this transaction; another worker skips them.
 */
export async function claimOrders(tx: Db, queueIds: number[], afterId: number, limit: number, orderIds?: number[]): Promise<number[]> {
  const only = orderIds ? sql`and o.id in (select (jsonb_array_elements_text(${JSON.stringify(orderIds)}::jsonb))::bigint)` : sql``;
  const rows = await queryRows<{ id: number }>(
    tx,
    sql`select o.id from orders o
        where o.id > ${afterId} and o.cancelled_at is null ${only}
          and exists (select 1 from order_lines ol where ol.order_id = o.id and ol.status in ('approved', 'rejected', 'unfillable')
                        and ol.current_quantity > ol.shipped_quantity and ol.facility_id in (select (jsonb_array_elements_text(${JSON.stringify(queueIds)}::jsonb))::bigint))
        order by o.id
        limit ${limit}
        for update of o skip locked`,
  );
  return rows.map((r) => r.id);
}

/** An order row with its lines as JSON, as both routing and replay read them. */
export interface OrderRowWithLines {
  id: number;
  name: string;
  shopify_created_at: Date;
  priority: number;
  promise_date: Date | null;
  shipping_method: RoutableOrder['shippingMethod'];
  source_name: string | null;
  tags: string[];
  latitude: number | null;
  longitude: number | null;
  pickup_facility_id: number | null;
  lines: Array<{ id: number; variant_id: number; sku: string | null; quantity: number; unit_price: string | null; group_key: string | null; facility_id?: number; excluded?: number[] }> | null;
}

/** The order columns routing reads; `linesSql` is the subquery giving the lines as a JSON array. */
export const orderColumns = (linesSql: SQL) =>
  sql`o.id, o.name, o.shopify_created_at, o.priority, o.promise_date, o.shipping_method, o.source_name, o.tags, o.latitude, o.longitude, o.pickup_facility_id, (${linesSql}) as lines`;

export function toRoutableOrder(r: OrderRowWithLines, queueOf: (facilityId: number | undefined) => string): RoutableOrder {
  return {
    id: r.id,
    name: r.name,
    createdAt: r.shopify_created_at,
    priority: r.priority,
    promiseDate: r.promise_date,
    shippingMethod: r.shipping_method,
    sourceName: r.source_name,
    tags: r.tags,
    latitude: r.latitude,
    longitude: r.longitude,
    pickupFacilityId: r.pickup_facility_id,
    lines: (r.lines ?? []).map((l) => ({
      id: Number(l.id),
      variantId: Number(l.variant_id),
      sku: l.sku,
      quantity: l.quantity,
      unitPrice: l.unit_price === null ? 0 : Number(l.unit_price),
      groupKey: l.group_key,
      queue: queueOf(l.facility_id === undefined ? undefined : Number(l.facility_id)),
      excludedFacilityIds: (l.excluded ?? []).map(Number),
    })),
  };
}

export async function loadOrders(db: Db, orderIds: number[], queueKindById: Map<number, QueueKind>): Promise<RoutableOrder[]> {
  if (orderIds.length === 0) return [];
  const rows = await queryRows<OrderRowWithLines & Record<string, unknown>>(
    db,
    sql`select ${orderColumns(sql`select json_agg(json_build_object('id', ol.id, 'variant_id', ol.variant_id, 'sku', ol.sku, 'quantity', ol.current_quantity - ol.shipped_quantity, 'unit_price', ol.unit_price,
                  'group_key', ol.group_key, 'facility_id', ol.facility_id, 'excluded', ol.excluded_facility_ids) order by ol.id)
             from order_lines ol where ol.order_id = o.id and ol.status in ('approved', 'rejected', 'unfillable') and ol.current_quantity > ol.shipped_quantity and ol.variant_id is not null`)}
        from orders o where o.id in (select (jsonb_array_elements_text(${JSON.stringify(orderIds)}::jsonb))::bigint)
        order by o.id`,
  );
  return rows.map((r) => toRoutableOrder(r, (facilityId) => (facilityId === undefined ? 'unknown' : (queueKindById.get(facilityId) ?? 'unknown'))));
}

const localDateFormats = new Map<string, Intl.DateTimeFormat>();
/** The calendar date at `now` in a facility's time zone (capacity is per local day). */
export function localDate(timeZone: string, now: Date): string {
  let format = localDateFormats.get(timeZone);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    } catch {
      format = new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' });
    }
    localDateFormats.set(timeZone, format);
  }
  return format.format(now);
}

export interface FacilityWithZone extends RoutingFacility {
  timeZone: string;
  localDate: string;
}

/** Physical facilities open for routing, with their groups and the capacity used today. */
export async function loadRoutingFacilities(db: Db, now: Date): Promise<FacilityWithZone[]> {
  const rows = await queryRows<{
    id: number;
    code: string;
    kind: 'WAREHOUSE' | 'STORE';
    latitude: number | null;
    longitude: number | null;
    can_ship: boolean;
    can_pickup: boolean;
    can_express: boolean;
    brokering_priority: number;
    daily_order_capacity: number | null;
    time_zone: string;
    groups: string[] | null;
  }>(
    db,
    sql`select f.id, f.code, f.kind, f.latitude, f.longitude, f.can_ship, f.can_pickup, f.can_express, f.brokering_priority, f.daily_order_capacity, f.time_zone,
          (select array_agg(g.code) from facility_group_members m join facility_groups g on g.id = m.group_id where m.facility_id = f.id) as groups
        from facilities f where f.kind <> 'VIRTUAL' and f.active and f.brokering_enabled order by f.id`,
  );
  const facilities = rows.map((r) => ({
    id: r.id,
    code: r.code,
    kind: r.kind,
    latitude: r.latitude,
    longitude: r.longitude,
    canShip: r.can_ship,
    canPickup: r.can_pickup,
    canExpress: r.can_express,
    priority: r.brokering_priority,
    capacity: r.daily_order_capacity,
    usedToday: 0,
    groups: new Set(r.groups ?? []),
    timeZone: r.time_zone,
    localDate: localDate(r.time_zone, now),
  }));
  const usage = await queryRows<{ facility_id: number; local_date: string; orders: number }>(
    db,
    sql`select facility_id, local_date::text as local_date, orders from facility_capacity_usage where local_date >= (${now}::timestamptz - interval '2 days')::date`,
  );
  const byId = new Map(facilities.map((f) => [f.id, f]));
  for (const u of usage) {
    const f = byId.get(u.facility_id);
    if (f && f.localDate === u.local_date) f.usedToday = u.orders;
  }
  return facilities;
}

export interface StockRow {
  variantId: number;
  facilityId: number;
  /** Units that can be promised: on hand − reserved − safety stock. */
  available: number;
  safety: number;
}

/** What each routable facility can promise of these variants (only positive amounts). */
export async function loadStock(db: Db, variantIds: number[]): Promise<{ stock: StockMap; safety: Map<string, number> }> {
  const stock: StockMap = new Map();
  const safety = new Map<string, number>();
  if (variantIds.length === 0) return { stock, safety };
  const [rules] = await queryRows<{ any: boolean }>(db, sql`select exists (select 1 from safety_stock_rules) as any`);
  // Safety stock as ATP computes it: the product's own figure, else the largest tag rule for the
  // facility, else the largest global tag rule, else the facility's default.
  const safetyExpr = rules!.any
    ? sql`coalesce(l.safety_stock,
        (select max(r.quantity) from safety_stock_rules r where r.facility_id = f.id and r.tag = any(p.tags)),
        (select max(r.quantity) from safety_stock_rules r where r.facility_id is null and r.tag = any(p.tags)),
        f.default_safety_stock)`
    : sql`coalesce(l.safety_stock, f.default_safety_stock)`;
  const ids = intArray([...new Set(variantIds)]);
  const rows = await queryRows<{ variant_id: number; facility_id: number; free: number; safety: number }>(
    db,
    rules!.any
      ? sql`select l.variant_id, l.facility_id, (l.on_hand - l.reserved)::int as free, (${safetyExpr})::int as safety
            from inventory_levels l
            join facilities f on f.id = l.facility_id and f.kind <> 'VIRTUAL' and f.active and f.brokering_enabled
            join variants v on v.id = l.variant_id
            join products p on p.id = v.product_id
            where l.variant_id in (select unnest(${ids}::bigint[])) and l.on_hand - l.reserved > 0`
      : sql`select l.variant_id, l.facility_id, (l.on_hand - l.reserved)::int as free, coalesce(l.safety_stock, f.default_safety_stock)::int as safety
            from inventory_levels l
            join facilities f on f.id = l.facility_id and f.kind <> 'VIRTUAL' and f.active and f.brokering_enabled
            where l.variant_id in (select unnest(${ids}::bigint[])) and l.on_hand - l.reserved > 0`,
  );
  for (const r of rows) {
    const units = r.free - r.safety;
    safety.set(`${r.variant_id}:${r.facility_id}`, r.safety);
    if (units <= 0) continue;
    let m = stock.get(r.variant_id);
    if (!m) stock.set(r.variant_id, (m = new Map()));
    m.set(r.facility_id, units);
  }
  return { stock, safety };
}

/** A guard failed: another worker took the stock or the capacity first. The batch is decided again. */
export class RoutingConflict extends Error {
  constructor(what: string) {
    super(`routing conflict: ${what}`);
  }
}

export interface CommitContext {
  now: Date;
  versionId: number | null;
  trigger: string;
  queueIds: Map<QueueKind, number>;
  facilities: Map<number, FacilityWithZone>;
  safety: Map<string, number>;
}

/** Writes a batch of decisions in the caller's transaction; throws RoutingConflict when a guard fails. */
export async function commitDecisions(tx: Db, decisions: OrderDecision[], ctx: CommitContext): Promise<void> {
  const { now } = ctx;
  const assignments = decisions.flatMap((d) => d.assignments);
  if (assignments.length > 0) {
    // Per (variant, facility): the units the batch takes; locked in a fixed order, then moved only
    // where on hand − reserved still covers them and the safety stock.
    const need = new Map<string, { v: number; f: number; q: number; s: number }>();
    for (const a of assignments) {
      const key = `${a.variantId}:${a.facilityId}`;
      const entry = need.get(key) ?? { v: a.variantId, f: a.facilityId, q: 0, s: ctx.safety.get(key) ?? 0 };
      entry.q += a.quantity;
      need.set(key, entry);
    }
    const pairs = [...need.values()];
    await lockLevels(tx, pairs.map((p) => ({ variantId: p.v, facilityId: p.f })));
    const moved = await queryRows<{ n: number }>(
      tx,
      sql`with d as (select * from unnest(${intArray(pairs.map((p) => p.v))}::bigint[], ${intArray(pairs.map((p) => p.f))}::bigint[], ${intArray(pairs.map((p) => p.q))}::int[], ${intArray(pairs.map((p) => p.s))}::int[]) as x(v, f, q, s)),
          u as (update inventory_levels l set reserved = l.reserved + d.q, updated_at = ${now}
                from d where l.variant_id = d.v and l.facility_id = d.f and l.on_hand - l.reserved - d.s >= d.q returning 1)
          select count(*)::int as n from u`,
    );
    if (moved[0]!.n !== pairs.length) throw new RoutingConflict(`stock moved for ${pairs.length - moved[0]!.n} of ${pairs.length} item × facility pairs`);
    await tx.execute(
      sql`insert into reservations (order_line_id, variant_id, facility_id, quantity, status, created_at)
          select x.l, x.v, x.f, x.q, 'active', ${now}::timestamptz
          from unnest(${intArray(assignments.map((a) => a.lineId))}::bigint[], ${intArray(assignments.map((a) => a.variantId))}::bigint[],
                      ${intArray(assignments.map((a) => a.facilityId))}::bigint[], ${intArray(assignments.map((a) => a.quantity))}::int[]) as x(l, v, f, q)
          on conflict (order_line_id, facility_id) where status = 'active' do update set quantity = reservations.quantity + excluded.quantity`,
    );
    await tx.execute(
      sql`update order_lines ol set status = 'brokered', facility_id = x.f, transfer_to_facility_id = x.t, brokered_at = ${now}, auto_cancel_at = null, updated_at = ${now}
          from unnest(${intArray(assignments.map((a) => a.lineId))}::bigint[], ${intArray(assignments.map((a) => a.facilityId))}::bigint[],
                      ${intArray(assignments.map((a) => a.transferToFacilityId))}::bigint[]) as x(l, f, t)
          where ol.id = x.l`,
    );
    // Capacity: one order per facility per local day, however many lines it sends there.
    const perFacility = new Map<string, { f: number; d: string; n: number }>();
    for (const d of decisions) {
      for (const facilityId of new Set(d.assignments.map((a) => a.facilityId))) {
        const f = ctx.facilities.get(facilityId)!;
        const key = `${facilityId}:${f.localDate}`;
        const entry = perFacility.get(key) ?? { f: facilityId, d: f.localDate, n: 0 };
        entry.n += 1;
        perFacility.set(key, entry);
      }
    }
    const usage = [...perFacility.values()].sort((a, b) => a.f - b.f);
    const counted = await queryRows<{ n: number }>(
      tx,
      sql`with u as (
            insert into facility_capacity_usage (facility_id, local_date, orders)
            select x.f, x.d::date, x.n from jsonb_to_recordset(${JSON.stringify(usage)}::jsonb) as x(f bigint, d text, n int)
            join facilities fa on fa.id = x.f where fa.daily_order_capacity is null or x.n <= fa.daily_order_capacity
            order by x.f
            on conflict (facility_id, local_date) do update set orders = facility_capacity_usage.orders + excluded.orders
              where (select daily_order_capacity from facilities where id = excluded.facility_id) is null
                 or facility_capacity_usage.orders + excluded.orders <= (select daily_order_capacity from facilities where id = excluded.facility_id)
            returning 1)
          select count(*)::int as n from u`,
    );
    if (counted[0]!.n !== usage.length) throw new RoutingConflict(`capacity taken for ${usage.length - counted[0]!.n} facilities`);
    await markChanged(tx, [...new Set(assignments.map((a) => a.variantId))], now);
  }
  const parked = decisions.flatMap((d) => d.parked);
  if (parked.length > 0) {
    const rows = parked.map((p) => ({ l: p.lineId, f: ctx.queueIds.get(p.queue as QueueKind)!, s: p.queue === 'rejected' ? 'rejected' : 'unfillable', days: p.autoCancelAfterDays }));
    // A line parked again keeps its first auto-cancel date; one parked without a date loses it.
    await tx.execute(
      sql`update order_lines ol set status = x.s, facility_id = x.f, updated_at = ${now},
            auto_cancel_at = case when x.days is null then null else coalesce(ol.auto_cancel_at, ${now}::timestamptz + make_interval(days => x.days)) end
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(l bigint, f bigint, s text, days int)
          where ol.id = x.l`,
    );
  }
  if (decisions.length > 0) {
    const code = (id: number | null) => (id === null ? null : (ctx.facilities.get(id)?.code ?? String(id)));
    const rows = decisions.map((d) => ({
      o: d.orderId,
      run: d.run,
      routing: d.routing,
      summary: d.trace.summary,
      a: d.assignments.map((a) => ({ lineId: a.lineId, facility: code(a.facilityId), quantity: a.quantity, transferTo: code(a.transferToFacilityId) })),
      p: d.parked.map((p) => ({ lineId: p.lineId, queue: p.queue, autoCancelAfterDays: p.autoCancelAfterDays })),
      t: d.trace,
    }));
    await tx.execute(
      sql`insert into routing_decisions (order_id, at, version_id, run_code, routing, trigger, summary, assignments, parked, trace)
          select x.o, ${now}::timestamptz, ${ctx.versionId}::bigint, x.run, x.routing, ${ctx.trigger}, x.summary, x.a, x.p, x.t
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(o bigint, run text, routing text, summary text, a jsonb, p jsonb, t jsonb)`,
    );
  }
}
