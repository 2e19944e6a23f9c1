// Reads the engine's inputs and writes its decisions. Writes are set-based (one statement per kind
// for a whole batch) and guarded: stock and capacity are checked again under row locks in the same
// statement that moves them, so two workers never promise the same unit or the same capacity slot.
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import type { QueueKind } from '../facilities/index.js';
import {
  lockExistingLevels,
  markChanged,
  reserveForRouting,
  reserveLevelsGuarded,
  safetyStockSql,
} from '../inventory/index.js';
import { approveLinesInto, approveNewLinesOf, assignLines, newLine, parkLines } from '../orders/index.js';
import type { OrderDecision, RoutableOrder, RoutingFacility, StockMap } from './engine.js';

/** Line states that mean "waiting in a queue", the same set ATP counts as queue demand. */
export const WAITING_STATUSES = ['approved', 'rejected', 'unfillable'] as const;

/** Financial states in which an order may be routed (or the `switchyard-approved` tag). */
export const APPROVED_FINANCIAL = ['PAID', 'AUTHORIZED', 'PARTIALLY_PAID', 'PARTIALLY_REFUNDED'];
export const APPROVE_TAG = 'switchyard-approved';
export const HOLD_TAG = 'switchyard-hold';

/** The checks an order passes before its lines may be routed (SQL over `o`, the order). */
const approvableOrder = sql`o.cancelled_at is null and coalesce(o.fulfillment_status, '') <> 'FULFILLED'
  and not (${HOLD_TAG} = any(o.tags))
  and (o.financial_status in (${sql.join(
    APPROVED_FINANCIAL.map((s) => sql`${s}`),
    sql`, `,
  )}) or ${APPROVE_TAG} = any(o.tags))`;
/** A line waiting in a queue with something left to send (SQL over `ol`). */
const waitingLine = sql`ol.status in ('approved', 'rejected', 'unfillable') and ol.current_quantity > ol.shipped_quantity and ol.variant_id is not null`;

/**
 * Approval: new lines of orders that passed the checks move to the brokering queue. Lines sold over a
 * store's counter (the customer took them home) and orders already fulfilled in Shopify are not
 * routed; a POS line shipped to the customer is, like an online one. Brokering approves the
 * lines of the orders it routes as it routes them (one line update, not two); this catches the rest.
 */
export async function approveNewLines(
  db: Db,
  brokeringQueueId: number,
  now: Date,
  orderIds?: number[],
): Promise<number> {
  const only = orderIds ? sql`and o.id = any(${intArray(orderIds)}::bigint[])` : sql``;
  // Orders a routing batch holds are skipped (it approves their lines itself): waiting for them, or
  // taking their lines in another order, could deadlock with it.
  const orders = sql`select o.id from orders o
        where ${approvableOrder} ${only} and exists (select 1 from order_lines ol where ol.order_id = o.id and ${newLine})
        order by o.id for update of o skip locked`;
  return (await approveNewLinesOf(db, orders, brokeringQueueId, now)).length;
}

/**
 * Claims up to `limit` orders with lines waiting in the given queues, above `afterId` (keyset), locking
 * them for this transaction; another worker skips them. With `brokeringQueueId`, new lines of approvable
 * orders count as waiting in the brokering queue.
 */
export async function claimOrders(
  tx: Db,
  queueIds: number[],
  afterId: number,
  limit: number,
  orderIds: number[] | undefined,
  brokeringQueueId: number | null,
): Promise<number[]> {
  const only = orderIds ? sql`and o.id = any(${intArray(orderIds)}::bigint[])` : sql``;
  const fresh = brokeringQueueId === null ? sql`` : sql`or (${newLine} and ${approvableOrder})`;
  // The lines' own `order_id > afterId` and status list let PostgreSQL read `order_lines_waiting` from
  // where the previous batch stopped (without them, every batch read all the lines before it).
  const rows = await queryRows<{ id: number }>(
    tx,
    sql`select o.id from orders o
        where o.id > ${afterId} and o.cancelled_at is null ${only}
          and exists (select 1 from order_lines ol where ol.order_id = o.id and ol.order_id > ${afterId}
                        and ol.status in ('created', 'approved', 'rejected', 'unfillable')
                        and ((${waitingLine} and ol.facility_id = any(${intArray(queueIds)}::bigint[])) ${fresh}))
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
  lines: Array<{
    id: number;
    variant_id: number;
    sku: string | null;
    quantity: number;
    unit_price: string | null;
    group_key: string | null;
    facility_id?: number;
    excluded?: number[];
  }> | null;
}

/** The order columns routing reads; `linesSql` is the subquery giving the lines as a JSON array. */
export const orderColumns = (linesSql: SQL) =>
  sql`o.id, o.name, o.shopify_created_at, o.priority, o.promise_date, o.shipping_method, o.source_name, o.tags, o.latitude, o.longitude, o.pickup_facility_id, (${linesSql}) as lines`;

export function toRoutableOrder(
  r: OrderRowWithLines,
  queueOf: (facilityId: number | undefined) => string,
): RoutableOrder {
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

/**
 * The claimed orders with their waiting lines; with `brokeringQueueId`, also their new lines of
 * approvable orders (in the brokering queue, listed in `newLineIds`: the commit approves them).
 */
export async function loadOrders(
  db: Db,
  orderIds: number[],
  queueKindById: Map<number, QueueKind>,
  brokeringQueueId: number | null,
): Promise<{ orders: RoutableOrder[]; newLineIds: Set<number> }> {
  const newLineIds = new Set<number>();
  if (orderIds.length === 0) return { orders: [], newLineIds };
  const fresh = brokeringQueueId === null ? sql`false` : sql`(${newLine} and ${approvableOrder})`;
  const rows = await queryRows<OrderRowWithLines & Record<string, unknown>>(
    db,
    sql`select ${orderColumns(sql`select json_agg(json_build_object('id', ol.id, 'variant_id', ol.variant_id, 'sku', ol.sku, 'quantity', ol.current_quantity - ol.shipped_quantity, 'unit_price', ol.unit_price,
                  'group_key', ol.group_key, 'facility_id', case when ol.status = 'created' then ${brokeringQueueId}::bigint else ol.facility_id end, 'excluded', ol.excluded_facility_ids, 'new', ol.status = 'created') order by ol.id)
             from order_lines ol where ol.order_id = o.id and (${waitingLine} or ${fresh})`)}
        from orders o where o.id = any(${intArray(orderIds)}::bigint[])
        order by o.id`,
  );
  for (const r of rows) for (const l of r.lines ?? []) if ((l as { new?: boolean }).new) newLineIds.add(Number(l.id));
  const orders = rows.map((r) =>
    toRoutableOrder(r, (facilityId) =>
      facilityId === undefined ? 'unknown' : (queueKindById.get(facilityId) ?? 'unknown'),
    ),
  );
  return { orders, newLineIds };
}

/**
 * A batch still under way when another one reads: the order and time of one of its decision rows.
 * A read that also sees that row saw the batch committed (the same snapshot), else not yet.
 */
export interface BatchMarker {
  orderId: number;
  at: Date;
}

/** SQL: whether each marker's decision row is visible, as a JSON array of booleans in marker order. */
function markersSeen(markers: BatchMarker[]): SQL {
  if (markers.length === 0) return sql`'[]'::json`;
  return sql`(select json_agg(exists (select 1 from routing_decisions d where d.order_id = m.o and d.at = m.t) order by m.i)
              from unnest(${intArray(markers.map((m) => m.orderId))}::bigint[], ${`{${markers.map((m) => `"${m.at.toISOString()}"`).join(',')}}`}::timestamptz[]) with ordinality as m(o, t, i))`;
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

/**
 * Physical facilities open for routing, with their groups and the capacity used today; `seen` says
 * which of the `markers` the capacity read saw committed.
 */
export async function loadRoutingFacilities(
  db: Db,
  now: Date,
  markers: BatchMarker[] = [],
): Promise<{ facilities: FacilityWithZone[]; seen: boolean[] }> {
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
  const [read] = await queryRows<{ usage: Array<{ f: number; d: string; n: number }> | null; seen: boolean[] }>(
    db,
    sql`select (select json_agg(json_build_object('f', facility_id, 'd', local_date, 'n', orders)) from facility_capacity_usage
                where local_date >= (${now}::timestamptz - interval '2 days')::date) as usage,
               ${markersSeen(markers)} as seen`,
  );
  const byId = new Map(facilities.map((f) => [f.id, f]));
  for (const u of read!.usage ?? []) {
    const f = byId.get(Number(u.f));
    if (f && f.localDate === u.d) f.usedToday = u.n;
  }
  return { facilities, seen: read!.seen };
}

async function hasTagRules(db: Db): Promise<boolean> {
  const [rules] = await queryRows<{ any: boolean }>(db, sql`select exists (select 1 from safety_stock_rules) as any`);
  return rules!.any;
}

/**
 * What each routable facility can promise of these variants (on hand − reserved − safety stock; only
 * positive amounts); `seen` says which of the `markers` this read saw committed.
 */
export async function loadStock(
  db: Db,
  variantIds: number[],
  markers: BatchMarker[] = [],
): Promise<{ stock: StockMap; tagRules: boolean; seen: boolean[] }> {
  const stock: StockMap = new Map();
  const tagRules = await hasTagRules(db);
  const ids = intArray([...new Set(variantIds)]);
  // One row per item, [variant, facilities, units], all in one JSON value with the markers read in
  // the same snapshot (JSON is parsed natively, several times faster than array literals).
  const [read] = await queryRows<{ stock: Array<[number, number[], number[]]> | null; seen: boolean[] }>(
    db,
    sql`select (select json_agg(json_build_array(x.variant_id, x.facilities, x.units)) from (
                 select x.variant_id, json_agg(x.facility_id) as facilities, json_agg(x.units) as units
                 from (select l.variant_id, l.facility_id, (l.on_hand - l.reserved - ${safetyStockSql(tagRules)})::int as units
                       from inventory_levels l
                       join facilities f on f.id = l.facility_id and f.kind <> 'VIRTUAL' and f.active and f.brokering_enabled
                       ${tagRules ? sql`join variants v on v.id = l.variant_id join products p on p.id = v.product_id` : sql``}
                       where l.variant_id = any(${ids}::bigint[]) and l.on_hand - l.reserved > 0) x
                 where x.units > 0
                 group by x.variant_id) x) as stock,
               ${markersSeen(markers)} as seen`,
  );
  for (const [variantId, facilities, units] of read!.stock ?? []) {
    const m = new Map<number, number>();
    for (let i = 0; i < facilities.length; i++) m.set(facilities[i]!, units[i]!);
    stock.set(variantId, m);
  }
  return { stock, tagRules, seen: read!.seen };
}

/** Joins JSON texts for `string_to_array(…, chr(31))`. */
const UNIT_SEPARATOR = '\u001f';

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
  /** New lines read with the batch: approved here (routed, parked, or left in the brokering queue). */
  newLineIds: Set<number>;
  /** Whether safety stock tag rules exist (read with the stock: the guard uses the same safety stock SQL). */
  tagRules: boolean;
  /** Milliseconds per write, added up (see `timePhase`). */
  phases?: Record<string, number>;
}

/** Adds the time since `started` to a phase and returns now. */
export function timePhase(phases: Record<string, number> | undefined, phase: string, started: number): number {
  const now = performance.now();
  if (phases) phases[phase] = (phases[phase] ?? 0) + (now - started);
  return now;
}

/**
 * Step one of writing a batch (caller's transaction): the rows only this batch touches, its own order
 * lines, reservations and decision traces. They need nothing from a batch still committing, so a
 * pipelined batch writes them while the previous one finishes (see `takeSharedStock`).
 */
export async function writeOwnRows(tx: Db, decisions: OrderDecision[], ctx: CommitContext): Promise<void> {
  const { now, phases } = ctx;
  let t = performance.now();
  const assignments = decisions.flatMap((d) => d.assignments);
  if (assignments.length > 0) {
    await assignLines(tx, assignments, now);
    t = timePhase(phases, 'write.lines', t);
    await reserveForRouting(tx, assignments, now);
    t = timePhase(phases, 'write.reservations', t);
  }
  const parked = decisions.flatMap((d) => d.parked);
  if (parked.length > 0) {
    const rows = parked.map((p) => ({
      l: p.lineId,
      f: ctx.queueIds.get(p.queue as QueueKind)!,
      s: p.queue === 'rejected' ? 'rejected' : 'unfillable',
      days: p.autoCancelAfterDays,
    }));
    await parkLines(tx, rows, now);
    t = timePhase(phases, 'write.parked', t);
  }
  // New lines no routing took (the order matched no routing's filters) wait in the brokering queue.
  if (ctx.newLineIds.size > 0) {
    const decided = new Set([...assignments.map((a) => a.lineId), ...parked.map((p) => p.lineId)]);
    const left = [...ctx.newLineIds].filter((id) => !decided.has(id));
    await approveLinesInto(tx, left, ctx.queueIds.get('brokering')!, now);
  }
  if (decisions.length > 0) {
    const code = (id: number | null) => (id === null ? null : (ctx.facilities.get(id)?.code ?? String(id)));
    // Each column travels as one text, the values as JSON joined by the unit separator (JSON text never
    // holds it raw): PostgreSQL splits them with string_to_array, about three times cheaper than
    // json_to_recordset over a batch of traces. json (kept as written), not jsonb: read back whole.
    const joined = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(UNIT_SEPARATOR);
    const column = (values: unknown[]) => sql`string_to_array(${joined(values)}::text, chr(31))`;
    await tx.execute(
      sql`insert into routing_decisions (order_id, at, version_id, run_code, routing, trigger, summary, assignments, parked, trace)
          select x.o, ${now}::timestamptz, ${ctx.versionId}::bigint, x.run::json #>> '{}', x.routing::json #>> '{}', ${ctx.trigger}, x.summary::json #>> '{}', x.a::json, x.p::json, x.t::json
          from unnest(${intArray(decisions.map((d) => d.orderId))}::bigint[],
                      ${column(decisions.map((d) => d.run))}, ${column(decisions.map((d) => d.routing))}, ${column(decisions.map((d) => d.trace.summary))},
                      ${column(decisions.map((d) => d.assignments.map((a) => ({ lineId: a.lineId, facility: code(a.facilityId), quantity: a.quantity, transferTo: code(a.transferToFacilityId) }))))},
                      ${column(decisions.map((d) => d.parked.map((p) => ({ lineId: p.lineId, queue: p.queue, autoCancelAfterDays: p.autoCancelAfterDays }))))},
                      ${column(decisions.map((d) => d.trace))}) as x(o, run, routing, summary, a, p, t)`,
    );
    timePhase(phases, 'write.decisions', t);
  }
}

/**
 * Step two (same transaction, after the previous batch committed): the rows batches share, stock
 * levels, capacity and publish marks. Levels are locked in key order, then moved only where on hand −
 * reserved still covers the units and the safety stock; capacity only where the day has room. Throws
 * RoutingConflict when a guard fails (another worker took the stock or the capacity first): the whole
 * batch, its own rows too, rolls back.
 */
export async function takeSharedStock(tx: Db, decisions: OrderDecision[], ctx: CommitContext): Promise<void> {
  const { now, phases } = ctx;
  let t = performance.now();
  const assignments = decisions.flatMap((d) => d.assignments);
  if (assignments.length === 0) return;
  // Per (variant, facility): the units the batch takes.
  const need = new Map<string, { v: number; f: number; q: number }>();
  for (const a of assignments) {
    const key = `${a.variantId}:${a.facilityId}`;
    const entry = need.get(key) ?? { v: a.variantId, f: a.facilityId, q: 0 };
    entry.q += a.quantity;
    need.set(key, entry);
  }
  const pairs = [...need.values()].sort((a, b) => a.v - b.v || a.f - b.f);
  await lockExistingLevels(
    tx,
    pairs.map((p) => ({ variantId: p.v, facilityId: p.f })),
  );
  t = timePhase(phases, 'shared.lockLevels', t);
  const { tagRules } = ctx;
  const moved = await reserveLevelsGuarded(tx, pairs, now, tagRules);
  if (moved !== pairs.length)
    throw new RoutingConflict(`stock moved for ${pairs.length - moved} of ${pairs.length} item × facility pairs`);
  t = timePhase(phases, 'shared.reserveLevels', t);
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
  if (counted[0]!.n !== usage.length)
    throw new RoutingConflict(`capacity taken for ${usage.length - counted[0]!.n} facilities`);
  t = timePhase(phases, 'shared.capacity', t);
  await markChanged(tx, [...new Set(assignments.map((a) => a.variantId))], now);
  timePhase(phases, 'shared.publishMarks', t);
}
