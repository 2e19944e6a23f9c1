// Store work: the lines a facility must ship or hand over, and the steps of each shipment. Every
// step checks the state it starts from (a wrong step is refused and changes nothing), runs under the
// order's row lock (so a cancellation from Shopify and a step never interleave), and writes the
// push towards Shopify in the same transaction.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { consumeReservation, lockExistingLevels, markChanged } from '../inventory/index.js';
import {
  appendOrderHistory,
  completeOrderIfDone,
  recordShippedUnits,
  reopenLines,
  startLine,
  startOrder,
} from '../orders/index.js';
import { requestSync } from './sync.repo.js';
import { fulfillmentSettings } from './settings.js';
import type { Package, ShipmentKind, ShipmentStatus } from './fulfillment.schema.js';

export interface ShipmentView {
  id: number;
  orderId: number;
  orderName: string;
  facility: string;
  kind: ShipmentKind;
  status: ShipmentStatus;
  source: string;
  lines: Array<{ lineId: number; sku: string | null; title: string; quantity: number }>;
  packages: Package[];
  carrier: string | null;
  trackingNumber: string | null;
  trackingUrl: string | null;
  handedOverTo: string | null;
  completedAt: string | null;
  readyAt: string | null;
  putBack: Record<string, number>;
  shopify: Array<{ action: string; status: string; fulfillmentId: string | null; error: string | null }>;
  /** Units that left beyond what Shopify still owed the customer (the order changed in Shopify first). */
  beyondOwed: Array<{ lineId: number; sku: string | null; units: number }>;
  createdAt: string;
}

/** How far back the store's work lists parcels that left with units Shopify no longer owed. */
const BEYOND_OWED_DAYS = 30;

type Facility = {
  id: number;
  code: string;
};

async function facilityByCode(db: Db, code: string): Promise<Facility> {
  const [f] = await queryRows<Facility & { kind: string }>(
    db,
    sql`select id, code, kind from facilities where code = ${code}`,
  );
  if (!f || f.kind === 'VIRTUAL')
    throw notFound('fulfillment.unknown_facility', `No store or warehouse has the code ${code}.`, { facility: code });
  return f;
}

type LineState = {
  id: number;
  order_id: number;
  variant_id: number | null;
  sku: string | null;
  status: string;
  facility_id: number | null;
  transfer_to_facility_id: number | null;
  current_quantity: number;
  shipped_quantity: number;
  /** Units of this line in shipments still in hand (picking, packed, ready). */
  in_hand: number;
};

/** Units of the order line `ol` held by shipments still in hand. */
const IN_HAND = sql`coalesce((select sum(sl.quantity) from shipment_lines sl join shipments s on s.id = sl.shipment_id
                              where sl.order_line_id = ol.id and s.status in ('picking', 'packed', 'ready')), 0)::int`;

const lineStates = (db: Db, orderId: number) =>
  queryRows<LineState>(
    db,
    sql`select ol.id, ol.order_id, ol.variant_id, ol.sku, ol.status, ol.facility_id, ol.transfer_to_facility_id, ol.current_quantity, ol.shipped_quantity,
               ${IN_HAND} as in_hand
        from order_lines ol where ol.order_id = ${orderId} order by ol.id`,
  );

const openQuantity = (l: LineState) => Math.max(0, l.current_quantity - l.shipped_quantity - l.in_hand);

/** Locks the order for this step (a download from Shopify takes the same lock); refuses an unknown order. */
async function lockOrder(
  tx: Db,
  orderId: number,
): Promise<{ id: number; name: string; shipping_method: string; cancelled_at: Date | null }> {
  const [order] = await queryRows<{ id: number; name: string; shipping_method: string; cancelled_at: Date | null }>(
    tx,
    sql`select id, name, shipping_method, cancelled_at from orders where id = ${orderId} for update`,
  );
  if (!order) throw notFound('fulfillment.unknown_order', `No order ${orderId}.`, { orderId });
  return order;
}

async function history(
  tx: Db,
  orderId: number,
  kind: string,
  details: Record<string, unknown>,
  now: Date,
): Promise<void> {
  await appendOrderHistory(tx, { orderId, at: now, kind, source: 'store', details });
}

/** Open work at a facility: shipments in hand, and lines routed here that no shipment holds yet. */
export async function facilityWork(db: Db, facilityCode: string, now: Date) {
  const facility = await facilityByCode(db, facilityCode);
  const lines = await queryRows<{
    order_id: number;
    order_name: string;
    shipping_method: string;
    customer: Record<string, string> | null;
    shopify_created_at: Date;
    promise_date: Date | null;
    line_id: number;
    sku: string | null;
    title: string;
    open: number;
    transfer_to: string | null;
  }>(
    db,
    sql`select o.id as order_id, o.name as order_name, o.shipping_method, o.customer, o.shopify_created_at, o.promise_date,
               ol.id as line_id, ol.sku, ol.title, t.code as transfer_to,
               (ol.current_quantity - ol.shipped_quantity - ${IN_HAND})::int as open
        from order_lines ol join orders o on o.id = ol.order_id left join facilities t on t.id = ol.transfer_to_facility_id
        where ol.facility_id = ${facility.id} and ol.status in ('brokered', 'in_progress') and o.cancelled_at is null
        order by o.shopify_created_at, o.id, ol.id`,
  );
  const orders = new Map<
    number,
    {
      orderId: number;
      orderName: string;
      kind: ShipmentKind;
      customer: Record<string, string> | null;
      ageHours: number;
      promiseDate: string | null;
      lines: Array<{ lineId: number; sku: string | null; title: string; quantity: number; transferTo: string | null }>;
    }
  >();
  for (const l of lines) {
    if (l.open <= 0) continue;
    const entry = orders.get(l.order_id) ?? {
      orderId: l.order_id,
      orderName: l.order_name,
      kind: l.shipping_method === 'pickup' ? ('pickup' as const) : ('ship' as const),
      customer: l.customer,
      ageHours: Math.round(((now.getTime() - l.shopify_created_at.getTime()) / 3_600_000) * 10) / 10,
      promiseDate: l.promise_date?.toISOString() ?? null,
      lines: [],
    };
    entry.lines.push({ lineId: l.line_id, sku: l.sku, title: l.title, quantity: l.open, transferTo: l.transfer_to });
    orders.set(l.order_id, entry);
  }
  const ids = await queryRows<{ id: number }>(
    db,
    sql`select id from shipments where facility_id = ${facility.id} and status in ('picking', 'packed', 'ready') order by id`,
  );
  // Exceptions to look at: parcels that left with units the customer no longer had coming.
  const since = new Date(now.getTime() - BEYOND_OWED_DAYS * 86_400_000);
  const beyond = await queryRows<{ id: number }>(
    db,
    sql`select s.id from shipments s where s.facility_id = ${facility.id} and s.completed_at >= ${since}
          and exists (select 1 from fulfillment_pushes p where p.shipment_id = s.id and p.beyond_owed <> '[]'::jsonb) order by s.id`,
  );
  return {
    facility: facility.code,
    open: [...orders.values()],
    shipments: await shipmentViews(
      db,
      ids.map((r) => r.id),
    ),
    shippedBeyondOwed: await shipmentViews(
      db,
      beyond.map((r) => r.id),
    ),
  };
}

export async function shipmentViews(db: Db, ids: number[]): Promise<ShipmentView[]> {
  if (ids.length === 0) return [];
  // An array parameter tells the planner how many ids come (a JSON list looks like 100 rows to it,
  // and it then read every shipment line ever made instead of the index).
  const list = sql`any(${intArray(ids)}::bigint[])`;
  const rows = await queryRows<{
    id: number;
    order_id: number;
    order_name: string;
    facility: string;
    kind: ShipmentKind;
    status: ShipmentStatus;
    source: string;
    packages: Package[];
    carrier: string | null;
    tracking_number: string | null;
    tracking_url: string | null;
    handed_over_to: string | null;
    completed_at: Date | null;
    ready_at: Date | null;
    put_back: Record<string, number>;
    created_at: Date;
  }>(
    db,
    sql`select s.*, o.name as order_name, f.code as facility from shipments s join orders o on o.id = s.order_id join facilities f on f.id = s.facility_id
        where s.id = ${list} order by s.id`,
  );
  const lines = await queryRows<{
    shipment_id: number;
    order_line_id: number;
    quantity: number;
    sku: string | null;
    title: string;
  }>(
    db,
    sql`select sl.shipment_id, sl.order_line_id, sl.quantity, ol.sku, ol.title from shipment_lines sl join order_lines ol on ol.id = sl.order_line_id
        where sl.shipment_id = ${list} order by sl.order_line_id`,
  );
  const pushes = await queryRows<{
    shipment_id: number;
    action: string;
    status: string;
    shopify_fulfillment_id: string | null;
    last_error: string | null;
    beyond_owed: Array<{ orderLineId: number; quantity: number }>;
  }>(
    db,
    sql`select shipment_id, action, status, shopify_fulfillment_id, last_error, beyond_owed from fulfillment_pushes where shipment_id = ${list} order by id`,
  );
  const linesOf = groupBy(lines, (l) => l.shipment_id);
  const pushesOf = groupBy(pushes, (p) => p.shipment_id);
  return rows.map((s) => ({
    id: s.id,
    orderId: s.order_id,
    orderName: s.order_name,
    facility: s.facility,
    kind: s.kind,
    status: s.status,
    source: s.source,
    lines: (linesOf.get(s.id) ?? []).map((l) => ({
      lineId: l.order_line_id,
      sku: l.sku,
      title: l.title,
      quantity: l.quantity,
    })),
    packages: s.packages,
    carrier: s.carrier,
    trackingNumber: s.tracking_number,
    trackingUrl: s.tracking_url,
    handedOverTo: s.handed_over_to,
    completedAt: s.completed_at?.toISOString() ?? null,
    readyAt: s.ready_at?.toISOString() ?? null,
    putBack: s.put_back,
    shopify: (pushesOf.get(s.id) ?? []).map((p) => ({
      action: p.action,
      status: p.status,
      fulfillmentId: p.shopify_fulfillment_id,
      error: p.last_error,
    })),
    beyondOwed: (pushesOf.get(s.id) ?? []).flatMap((p) =>
      p.beyond_owed.map((b) => ({
        lineId: b.orderLineId,
        sku: (linesOf.get(s.id) ?? []).find((l) => l.order_line_id === b.orderLineId)?.sku ?? null,
        units: b.quantity,
      })),
    ),
    createdAt: s.created_at.toISOString(),
  }));
}

function groupBy<T>(items: T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

/** Every unit that left beyond what Shopify still owed, all time (a metric). */
export async function unitsShippedBeyondOwed(db: Db): Promise<number> {
  const [row] = await queryRows<{ units: number }>(
    db,
    sql`select coalesce(sum((b->>'quantity')::int), 0)::int as units from fulfillment_pushes p cross join jsonb_array_elements(p.beyond_owed) b where p.beyond_owed <> '[]'::jsonb`,
  );
  return row!.units;
}

export async function getShipment(db: Db, id: number): Promise<ShipmentView> {
  const [view] = await shipmentViews(db, [id]);
  if (!view) throw notFound('fulfillment.unknown_shipment', `No shipment ${id}.`, { shipmentId: id });
  return view;
}

/**
 * Starts picking: a shipment (or pickup) of some open units of an order's lines at this facility;
 * all of them when `lines` is omitted.
 */
export async function startShipment(
  db: Db,
  input: {
    facility: string;
    orderId: number;
    lines?: Array<{ lineId: number; quantity: number }> | undefined;
    by: string;
  },
  now: Date,
): Promise<ShipmentView> {
  const id = await db.transaction(async (tx) => {
    const facility = await facilityByCode(tx, input.facility);
    const order = await lockOrder(tx, input.orderId);
    if (order.cancelled_at)
      throw conflict('fulfillment.order_cancelled', `Order ${order.name} is cancelled: there is nothing to pick.`, {
        orderId: order.id,
      });
    const states = await lineStates(tx, order.id);
    const here = states.filter(
      (l) => l.facility_id === facility.id && (l.status === 'brokered' || l.status === 'in_progress'),
    );
    const wanted =
      input.lines ?? here.filter((l) => openQuantity(l) > 0).map((l) => ({ lineId: l.id, quantity: openQuantity(l) }));
    if (wanted.length === 0)
      throw conflict('fulfillment.nothing_open', `Order ${order.name} has no open units at ${facility.code}.`, {
        orderId: order.id,
        facility: facility.code,
      });
    const seen = new Set<number>();
    for (const [index, w] of wanted.entries()) {
      const line = states.find((l) => l.id === w.lineId);
      const where = { orderId: order.id, lineId: w.lineId, index };
      if (!line) throw notFound('fulfillment.unknown_line', `Order ${order.name} has no line ${w.lineId}.`, where);
      if (seen.has(line.id)) throw invalid('fulfillment.duplicate_line', `Line ${line.id} is listed twice.`, where);
      seen.add(line.id);
      if (line.status === 'cancelled')
        throw conflict('fulfillment.line_cancelled', `Line ${line.id} (${line.sku}) is cancelled.`, where);
      if (line.status === 'shipped' || line.status === 'picked_up')
        throw conflict(
          'fulfillment.line_done',
          `Line ${line.id} (${line.sku}) is already ${line.status.replace('_', ' ')}.`,
          where,
        );
      if (line.facility_id !== facility.id || !(line.status === 'brokered' || line.status === 'in_progress')) {
        throw conflict(
          'fulfillment.line_not_at_facility',
          `Line ${line.id} (${line.sku}) is not routed to ${facility.code} (status ${line.status}).`,
          where,
        );
      }
      if (line.transfer_to_facility_id !== null) {
        throw conflict(
          'fulfillment.transfer_not_supported',
          `Line ${line.id} (${line.sku}) travels to another store for pickup; transfers between facilities are not handled yet.`,
          where,
        );
      }
      if (!Number.isInteger(w.quantity) || w.quantity < 1 || w.quantity > openQuantity(line)) {
        throw invalid(
          'fulfillment.quantity_exceeds_open',
          `Line ${line.id} (${line.sku}) has ${openQuantity(line)} open unit(s); asked for ${w.quantity}.`,
          { ...where, open: openQuantity(line) },
        );
      }
    }
    const kind: ShipmentKind = order.shipping_method === 'pickup' ? 'pickup' : 'ship';
    const [shipment] = await queryRows<{ id: number }>(
      tx,
      sql`insert into shipments (order_id, facility_id, kind, status, created_by, created_at, updated_at)
          values (${order.id}, ${facility.id}, ${kind}, 'picking', ${input.by}, ${now}, ${now}) returning id`,
    );
    for (const w of wanted) {
      await tx.execute(
        sql`insert into shipment_lines (shipment_id, order_line_id, quantity) values (${shipment!.id}, ${w.lineId}, ${w.quantity})`,
      );
      await startLine(tx, w.lineId, now);
    }
    await startOrder(tx, order.id, now);
    await history(
      tx,
      order.id,
      'fulfillment.picking_started',
      { shipmentId: shipment!.id, facility: facility.code, kind, lines: wanted },
      now,
    );
    return shipment!.id;
  });
  return getShipment(db, id);
}

type LockedShipment = {
  id: number;
  order_id: number;
  facility_id: number;
  facility_code: string;
  kind: ShipmentKind;
  status: ShipmentStatus;
};

/** Locks the shipment's order, then reads the shipment; checks it belongs to the facility and is in one of `from`. */
async function lockShipment(
  tx: Db,
  shipmentId: number,
  facilityCode: string,
  from: ShipmentStatus[],
  kind: ShipmentKind | null,
  step: string,
): Promise<LockedShipment> {
  const [head] = await queryRows<{ order_id: number }>(
    tx,
    sql`select order_id from shipments where id = ${shipmentId}`,
  );
  if (!head) throw notFound('fulfillment.unknown_shipment', `No shipment ${shipmentId}.`, { shipmentId });
  await lockOrder(tx, head.order_id);
  const [s] = await queryRows<LockedShipment>(
    tx,
    sql`select s.id, s.order_id, s.facility_id, f.code as facility_code, s.kind, s.status from shipments s join facilities f on f.id = s.facility_id where s.id = ${shipmentId}`,
  );
  if (s!.facility_code !== facilityCode)
    throw conflict(
      'fulfillment.wrong_facility',
      `Shipment ${shipmentId} belongs to ${s!.facility_code}, not ${facilityCode}.`,
      { shipmentId },
    );
  if (kind && s!.kind !== kind)
    throw conflict(
      'fulfillment.wrong_kind',
      `Shipment ${shipmentId} is a ${s!.kind === 'ship' ? 'parcel' : 'pickup'}: it cannot be ${step}.`,
      { shipmentId, kind: s!.kind },
    );
  if (!from.includes(s!.status)) {
    throw conflict(
      'fulfillment.wrong_state',
      `Shipment ${shipmentId} is ${s!.status.replace('_', ' ')}: it cannot be ${step} (only from ${from.join(' or ')}).`,
      { shipmentId, status: s!.status },
    );
  }
  return s!;
}

/** What Shopify still owes of an order (Shopify line item id → units), or null when not asked. */
export type OwedUnitsOf = (orderId: number) => Promise<{ owed: Map<string, number>; refreshed: boolean } | null>;

/**
 * Before a parcel ships or a pickup is handed over: its units against what Shopify still owes.
 * Refused, changing nothing, when the parcel holds more: the order changed in Shopify (edited,
 * refunded, cancelled) and the extra units must come out first.
 */
export async function checkStillOwed(
  db: Db,
  input: { facility: string; shipmentId: number; kind: ShipmentKind; from: ShipmentStatus },
  owedUnitsOf: OwedUnitsOf,
): Promise<void> {
  const [head] = await queryRows<{ facility: string; order_id: number; kind: ShipmentKind; status: ShipmentStatus }>(
    db,
    sql`select f.code as facility, s.order_id, s.kind, s.status from shipments s join facilities f on f.id = s.facility_id where s.id = ${input.shipmentId}`,
  );
  // A step that cannot be taken anyway says what is wrong itself, without asking Shopify.
  if (!head || head.facility !== input.facility || head.kind !== input.kind || head.status !== input.from) return;
  const answer = await owedUnitsOf(head.order_id);
  if (!answer) return;
  const { owed, refreshed } = answer;
  // Units of the same line that left in other parcels Shopify has not been told of yet are still
  // owed in Shopify's eyes: they are not owed to this parcel.
  const lines = await queryRows<{
    line_id: number;
    shopify_line_item_id: string;
    sku: string | null;
    quantity: number;
    on_the_way: number;
  }>(
    db,
    sql`select sl.order_line_id as line_id, ol.shopify_line_item_id, ol.sku, sl.quantity, greatest(0, ol.shipped_quantity - ol.shopify_fulfilled_quantity)::int as on_the_way
        from shipment_lines sl join order_lines ol on ol.id = sl.order_line_id
        where sl.shipment_id = ${input.shipmentId} order by sl.order_line_id`,
  );
  const short = lines
    .map((l) => ({
      lineId: l.line_id,
      sku: l.sku,
      inParcel: l.quantity,
      owed: Math.max(0, (owed.get(l.shopify_line_item_id) ?? 0) - l.on_the_way),
    }))
    .filter((l) => l.inParcel > l.owed);
  if (short.length === 0) return;
  throw conflict(
    'fulfillment.no_longer_owed',
    `The order changed in Shopify: it no longer owes every unit of shipment ${input.shipmentId} (${short.map((l) => `${l.sku ?? `line ${l.lineId}`}: ${l.inParcel} in it, ${l.owed} owed`).join('; ')}). ` +
      `${refreshed ? 'Switchyard has taken the change: ' : ''}take the extra units out (they are listed to put back), then try again.`,
    { shipmentId: input.shipmentId, lines: short },
  );
}

export async function packShipment(
  db: Db,
  input: { facility: string; shipmentId: number; packages: Package[] },
  now: Date,
): Promise<ShipmentView> {
  if (input.packages.length === 0)
    throw invalid('fulfillment.no_packages', 'Give at least one package with its weight.');
  for (const [index, p] of input.packages.entries()) {
    if (!(Number.isFinite(p.weightGrams) && p.weightGrams > 0))
      throw invalid('fulfillment.bad_weight', `Package ${index + 1}: weight must be more than 0 grams.`, { index });
  }
  await db.transaction(async (tx) => {
    const s = await lockShipment(tx, input.shipmentId, input.facility, ['picking', 'packed'], 'ship', 'packed');
    await tx.execute(
      sql`update shipments set status = 'packed', packages = ${JSON.stringify(input.packages)}::jsonb, updated_at = ${now} where id = ${s.id}`,
    );
    await history(tx, s.order_id, 'fulfillment.packed', { shipmentId: s.id, packages: input.packages }, now);
  });
  return getShipment(db, input.shipmentId);
}

/**
 * Units leave the facility: the reservation is consumed and on hand drops once per shipment line
 * (ledger key per shipment × line), the lines count them as shipped, and an order with nothing left
 * is completed. Returns what left, per line.
 */
export async function completeLines(
  tx: Db,
  s: { id: number; order_id: number; facility_id: number },
  lineStatus: 'shipped' | 'picked_up',
  at: Date,
  now: Date,
  source = 'store',
): Promise<Array<{ variantId: number | null; quantity: number }>> {
  const lines = await queryRows<{ order_line_id: number; quantity: number; variant_id: number | null }>(
    tx,
    sql`select sl.order_line_id, sl.quantity, ol.variant_id from shipment_lines sl join order_lines ol on ol.id = sl.order_line_id where sl.shipment_id = ${s.id} order by sl.order_line_id`,
  );
  // Shared rows in key order first, as routing takes them (levels, then publish marks): taken line by
  // line, a two-item parcel could hold one level while routing held the other (a deadlock).
  const items = lines
    .filter((l) => l.variant_id !== null)
    .map((l) => ({ variantId: l.variant_id!, facilityId: s.facility_id }));
  if (items.length > 0) {
    await lockExistingLevels(tx, items);
    await markChanged(
      tx,
      items.map((i) => i.variantId),
      now,
    );
  }
  for (const l of lines) {
    if (l.variant_id !== null) {
      await consumeReservation(
        tx,
        {
          orderLineId: l.order_line_id,
          variantId: l.variant_id,
          facilityId: s.facility_id,
          quantity: l.quantity,
          shipmentKey: `${s.id}:${l.order_line_id}`,
          occurredAt: at,
          source,
        },
        now,
      );
    }
    await recordShippedUnits(tx, l.order_line_id, l.quantity, lineStatus, now);
  }
  await completeOrderIfDone(tx, s.order_id, now);
  return lines.map((l) => ({ variantId: l.variant_id, quantity: l.quantity }));
}

async function addPush(
  tx: Db,
  s: { id: number; order_id: number },
  action: 'prepare_pickup' | 'fulfil',
  notifyCustomer: boolean,
  now: Date,
): Promise<void> {
  await tx.execute(
    sql`insert into fulfillment_pushes (shipment_id, order_id, action, notify_customer, created_at, next_attempt_at)
        values (${s.id}, ${s.order_id}, ${action}, ${notifyCustomer}, ${now}, ${now}) on conflict (shipment_id, action) do nothing`,
  );
  await requestSync(tx, s.order_id, now);
}

export async function shipShipment(
  db: Db,
  input: {
    facility: string;
    shipmentId: number;
    carrier: string;
    trackingNumber: string;
    trackingUrl?: string | undefined;
    shippedAt?: Date | undefined;
    notifyCustomer: boolean;
  },
  now: Date,
): Promise<ShipmentView> {
  if (!input.carrier.trim()) throw invalid('fulfillment.no_carrier', 'Give the carrier.');
  if (!input.trackingNumber.trim()) throw invalid('fulfillment.no_tracking', 'Give the tracking number.');
  if (input.shippedAt && input.shippedAt.getTime() > now.getTime() + 60_000)
    throw invalid('fulfillment.future_time', 'The shipping time is in the future.');
  await db.transaction(async (tx) => {
    const s = await lockShipment(tx, input.shipmentId, input.facility, ['packed'], 'ship', 'shipped');
    const at = input.shippedAt ?? now;
    await tx.execute(
      sql`update shipments set status = 'shipped', carrier = ${input.carrier}, tracking_number = ${input.trackingNumber}, tracking_url = ${input.trackingUrl ?? null},
            completed_at = ${at}, updated_at = ${now} where id = ${s.id}`,
    );
    await completeLines(tx, s, 'shipped', at, now);
    await addPush(tx, s, 'fulfil', input.notifyCustomer, now);
    await history(
      tx,
      s.order_id,
      'fulfillment.shipped',
      { shipmentId: s.id, carrier: input.carrier, trackingNumber: input.trackingNumber },
      now,
    );
  });
  return getShipment(db, input.shipmentId);
}

/** A pickup is ready: Shopify is told (and tells the customer). */
export async function markReadyForPickup(
  db: Db,
  input: { facility: string; shipmentId: number },
  now: Date,
): Promise<ShipmentView> {
  await db.transaction(async (tx) => {
    const s = await lockShipment(tx, input.shipmentId, input.facility, ['picking'], 'pickup', 'marked ready');
    await tx.execute(
      sql`update shipments set status = 'ready', ready_at = ${now}, updated_at = ${now} where id = ${s.id}`,
    );
    await addPush(tx, s, 'prepare_pickup', true, now);
    await history(tx, s.order_id, 'fulfillment.ready_for_pickup', { shipmentId: s.id }, now);
  });
  return getShipment(db, input.shipmentId);
}

export async function handOver(
  db: Db,
  input: { facility: string; shipmentId: number; to: string; at?: Date | undefined },
  now: Date,
): Promise<ShipmentView> {
  if (!input.to.trim()) throw invalid('fulfillment.no_recipient', 'Say who collected the order.');
  if (input.at && input.at.getTime() > now.getTime() + 60_000)
    throw invalid('fulfillment.future_time', 'The handover time is in the future.');
  await db.transaction(async (tx) => {
    const s = await lockShipment(tx, input.shipmentId, input.facility, ['ready'], 'pickup', 'handed over');
    const at = input.at ?? now;
    await tx.execute(
      sql`update shipments set status = 'handed_over', handed_over_to = ${input.to}, completed_at = ${at}, updated_at = ${now} where id = ${s.id}`,
    );
    await completeLines(tx, s, 'picked_up', at, now);
    await addPush(tx, s, 'fulfil', (await fulfillmentSettings(tx)).notifyCustomer, now);
    await history(tx, s.order_id, 'fulfillment.handed_over', { shipmentId: s.id, to: input.to }, now);
  });
  return getShipment(db, input.shipmentId);
}

/** Abandons a shipment still in hand: its units go back on the shelf and its lines back to open work. */
export async function cancelShipment(
  db: Db,
  input: { facility: string; shipmentId: number; reason: string },
  now: Date,
): Promise<ShipmentView> {
  await db.transaction(async (tx) => {
    const s = await lockShipment(
      tx,
      input.shipmentId,
      input.facility,
      ['picking', 'packed', 'ready'],
      null,
      'cancelled',
    );
    await dropShipment(tx, s.id, now);
    await history(tx, s.order_id, 'fulfillment.shipment_cancelled', { shipmentId: s.id, reason: input.reason }, now);
  });
  return getShipment(db, input.shipmentId);
}

async function dropShipment(tx: Db, shipmentId: number, now: Date): Promise<void> {
  await tx.execute(sql`update shipments set status = 'cancelled', updated_at = ${now} where id = ${shipmentId}`);
  // A push not sent yet has nothing to tell Shopify any more (one being sent is settled by the pusher).
  await tx.execute(sql`delete from fulfillment_pushes where shipment_id = ${shipmentId} and status = 'pending'`);
  // Lines with nothing else in hand and nothing shipped are open work again.
  const open = await queryRows<{ id: number }>(
    tx,
    sql`select ol.id from order_lines ol
        where ol.id in (select order_line_id from shipment_lines where shipment_id = ${shipmentId}) and ol.status = 'in_progress' and ol.shipped_quantity = 0
          and not exists (select 1 from shipment_lines sl join shipments s on s.id = sl.shipment_id
                          where sl.order_line_id = ol.id and s.status in ('picking', 'packed', 'ready'))
        order by ol.id`,
  );
  await reopenLines(
    tx,
    open.map((l) => l.id),
    now,
  );
}

/** The associate has put the units of cancelled lines back on the shelf. */
export async function acknowledgePutBack(
  db: Db,
  input: { facility: string; shipmentId: number },
  now: Date,
): Promise<ShipmentView> {
  await db.transaction(async (tx) => {
    const s = await lockShipment(
      tx,
      input.shipmentId,
      input.facility,
      ['picking', 'packed', 'ready', 'cancelled'],
      null,
      'cleared of units to put back',
    );
    await tx.execute(sql`update shipments set put_back = '{}'::jsonb, updated_at = ${now} where id = ${s.id}`);
    await history(tx, s.order_id, 'fulfillment.put_back_done', { shipmentId: s.id }, now);
  });
  return getShipment(db, input.shipmentId);
}

/**
 * Shopify cancelled units of an order (whole or in part): shipments in hand shrink to what is still
 * wanted. Units already picked or packed are listed for the associate to put back; a shipment left
 * with nothing is cancelled. Runs in the transaction that delivers the order event.
 */
export async function fitShipmentsToOrder(tx: Db, orderId: number, now: Date): Promise<number> {
  await lockOrder(tx, orderId);
  const states = await lineStates(tx, orderId);
  let changed = 0;
  for (const line of states) {
    const wanted = line.status === 'cancelled' ? 0 : Math.max(0, line.current_quantity - line.shipped_quantity);
    let excess = line.in_hand - wanted;
    if (excess <= 0) continue;
    const held = await queryRows<{ shipment_id: number; quantity: number; put_back: Record<string, number> }>(
      tx,
      sql`select sl.shipment_id, sl.quantity, s.put_back from shipment_lines sl join shipments s on s.id = sl.shipment_id
          where sl.order_line_id = ${line.id} and s.status in ('picking', 'packed', 'ready') order by s.id desc`,
    );
    for (const h of held) {
      if (excess <= 0) break;
      const take = Math.min(excess, h.quantity);
      excess -= take;
      changed++;
      if (take === h.quantity)
        await tx.execute(
          sql`delete from shipment_lines where shipment_id = ${h.shipment_id} and order_line_id = ${line.id}`,
        );
      else
        await tx.execute(
          sql`update shipment_lines set quantity = quantity - ${take} where shipment_id = ${h.shipment_id} and order_line_id = ${line.id}`,
        );
      const putBack = { ...h.put_back, [String(line.id)]: (h.put_back[String(line.id)] ?? 0) + take };
      await tx.execute(
        sql`update shipments set put_back = ${JSON.stringify(putBack)}::jsonb, updated_at = ${now} where id = ${h.shipment_id}`,
      );
      const [left] = await queryRows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from shipment_lines where shipment_id = ${h.shipment_id}`,
      );
      if (left!.n === 0) await dropShipment(tx, h.shipment_id, now);
      await history(
        tx,
        orderId,
        'fulfillment.cancelled_units_removed',
        { shipmentId: h.shipment_id, lineId: line.id, units: take, putBack: true },
        now,
      );
    }
  }
  return changed;
}

export interface ExpiredPickup {
  shipmentId: number;
  orderId: number;
  shopifyOrderId: string;
  orderName: string;
  facilityLocationId: string | null;
  readyAt: Date;
  /** When an earlier run was about to ask Shopify to cancel it (that run may have died after the call). */
  expirySentAt: Date | null;
  lines: Array<{ orderLineId: number; shopifyLineItemId: string; variantId: number | null; quantity: number }>;
}

/** Pickups ready for longer than `days` whose cancellation was not asked for yet. */
export async function expiredPickups(db: Db, now: Date, days: number): Promise<ExpiredPickup[]> {
  const rows = await queryRows<{
    id: number;
    order_id: number;
    shopify_order_id: string;
    name: string;
    location_id: string | null;
    ready_at: Date;
    expiry_sent_at: Date | null;
  }>(
    db,
    sql`select s.id, s.order_id, o.shopify_order_id, o.name, f.shopify_location_id as location_id, s.ready_at, s.expiry_sent_at
        from shipments s join orders o on o.id = s.order_id join facilities f on f.id = s.facility_id
        where s.kind = 'pickup' and s.status = 'ready' and s.expiry_requested_at is null and s.ready_at <= ${new Date(now.getTime() - days * 86_400_000)}
        order by s.ready_at limit 500`,
  );
  if (rows.length === 0) return [];
  const lines = await queryRows<{
    shipment_id: number;
    order_line_id: number;
    shopify_line_item_id: string;
    variant_id: number | null;
    quantity: number;
  }>(
    db,
    sql`select sl.shipment_id, sl.order_line_id, ol.shopify_line_item_id, ol.variant_id, sl.quantity from shipment_lines sl join order_lines ol on ol.id = sl.order_line_id
        where sl.shipment_id in (select (jsonb_array_elements_text(${JSON.stringify(rows.map((r) => r.id))}::jsonb))::bigint) order by sl.order_line_id`,
  );
  return rows.map((r) => ({
    shipmentId: r.id,
    orderId: r.order_id,
    shopifyOrderId: r.shopify_order_id,
    orderName: r.name,
    facilityLocationId: r.location_id,
    readyAt: r.ready_at,
    expirySentAt: r.expiry_sent_at,
    lines: lines
      .filter((l) => l.shipment_id === r.id)
      .map((l) => ({
        orderLineId: l.order_line_id,
        shopifyLineItemId: l.shopify_line_item_id,
        variantId: l.variant_id,
        quantity: l.quantity,
      })),
  }));
}

/** About to ask Shopify to cancel the uncollected pickup (`now`), or Shopify refused it (`null`). */
export async function markExpirySent(db: Db, shipmentId: number, now: Date | null): Promise<void> {
  await db.execute(
    sql`update shipments set expiry_sent_at = ${now}, updated_at = coalesce(${now}::timestamptz, updated_at) where id = ${shipmentId}`,
  );
}

/** Shopify was asked to cancel the uncollected pickup: its own update (by webhook or poll) closes the work. */
export async function markExpiryRequested(db: Db, shipmentId: number, outcome: string, now: Date): Promise<void> {
  await db.transaction(async (tx) => {
    const [s] = await queryRows<{ order_id: number }>(
      tx,
      sql`update shipments set expiry_requested_at = ${now}, updated_at = ${now} where id = ${shipmentId} returning order_id`,
    );
    if (s) await history(tx, s.order_id, 'fulfillment.pickup_expired', { shipmentId, outcome }, now);
  });
}
