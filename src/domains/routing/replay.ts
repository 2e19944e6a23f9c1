// What-if replay: route a past period's orders (or a generated set) under a draft and under the
// active rules, in memory, from the same starting stock, and compare. Nothing is written.
//
// Starting stock is each facility's on hand now less safety stock (what routing could promise if
// nothing were reserved); capacity counts restart each local day of the replayed orders. The result
// is a comparison of rules on equal terms, not a reconstruction of history.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { invalid } from '../../platform/errors.js';
import { queryRows } from '../../platform/db/rows.js';
import { makeRandom } from '../../platform/random.js';
import {
  decide,
  distanceKm,
  type OrderDecision,
  type RoutableOrder,
  type RoutingFacility,
  type StockMap,
} from './engine.js';
import {
  localDate,
  loadRoutingFacilities,
  loadStock,
  orderColumns,
  toRoutableOrder,
  type OrderRowWithLines,
} from './routing.repo.js';
import { activeRules, getRuleVersion } from './versions.service.js';
import type { RuleDocument } from './rules.js';

/**
 * The most orders one replay routes (twice: candidate and baseline). Replays run as a job, in steps
 * that let the process serve other work; beyond this size they would hold too much memory for too long.
 */
export const MAX_REPLAY_ORDERS = 50_000;
/** Orders the engine decides in one step before the replay yields to other work. */
const REPLAY_STEP_ORDERS = 200;

export interface ReplayInput {
  /** The version to try (a draft, usually). */
  candidateId: number;
  /** The version to compare with (default: the active one). */
  baselineId?: number;
  from?: Date;
  to?: Date;
  /** Instead of a period: this many generated orders (seeded), spread around the facilities. */
  generated?: { orders: number; seed: number };
}

export interface ReplayMetrics {
  orders: number;
  lines: number;
  units: number;
  /** Units assigned / units wanted. */
  fillRate: number;
  /** Routed orders sent from more than one facility / routed orders. */
  splitRate: number;
  meanDistanceKm: number | null;
  p95DistanceKm: number | null;
  packagesPerOrder: number;
  linesParked: number;
  parkedByQueue: Record<string, number>;
  /** Lines per facility code. */
  loadPerFacility: Record<string, number>;
}

export interface ReplayResult {
  period: { from: string | null; to: string | null; generated: { orders: number; seed: number } | null };
  candidate: { versionId: number; name: string; metrics: ReplayMetrics };
  baseline: { versionId: number; name: string; metrics: ReplayMetrics };
  /** candidate ÷ baseline for the rates and distances. */
  ratios: {
    fillRate: number | null;
    splitRate: number | null;
    meanDistanceKm: number | null;
    packagesPerOrder: number | null;
  };
}

const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? null : Math.round((a / b) * 1000) / 1000;

/**
 * Checks a replay request without running it: the versions exist, the period or the generated size is
 * given, and the orders fit MAX_REPLAY_ORDERS. Throws a clear `invalid` when not.
 */
export async function checkReplayInput(
  db: Db,
  input: ReplayInput,
  maxOrders = MAX_REPLAY_ORDERS,
): Promise<{ orders: number }> {
  await getRuleVersion(db, input.candidateId);
  if (input.baselineId !== undefined) await getRuleVersion(db, input.baselineId);
  else if ((await activeRules(db)).versionId === null)
    throw invalid('routing.no_active_rules', 'There are no active rules to compare with: give baselineId.', {
      field: 'baselineId',
    });
  if (input.generated) {
    if (!Number.isInteger(input.generated.orders) || input.generated.orders < 1 || input.generated.orders > maxOrders) {
      throw invalid(
        'routing.replay_size',
        `generated.orders must be a whole number from 1 to ${maxOrders.toLocaleString('en-US')}.`,
        { field: 'generated.orders', max: maxOrders },
      );
    }
    return { orders: input.generated.orders };
  }
  if (!input.from || !input.to || Number.isNaN(input.from.getTime()) || Number.isNaN(input.to.getTime())) {
    throw invalid('routing.replay_period', 'Give a period (from, to as ISO times) or generated: { orders, seed }.', {
      field: 'from',
    });
  }
  if (input.from >= input.to) throw invalid('routing.replay_period', '"from" must be before "to".', { field: 'from' });
  const [{ n } = { n: 0 }] = await queryRows<{ n: number }>(
    db,
    sql`select count(*)::int as n from orders o where ${periodCondition(input.from, input.to)}`,
  );
  if (n > maxOrders) {
    throw invalid(
      'routing.replay_size',
      `The period holds ${n.toLocaleString('en-US')} orders; a replay routes at most ${maxOrders.toLocaleString('en-US')}: choose a shorter period.`,
      {
        field: 'from',
        orders: n,
        max: maxOrders,
      },
    );
  }
  return { orders: n };
}

export async function replayRules(
  db: Db,
  input: ReplayInput,
  onProgress?: (percent: number, message: string) => Promise<void> | void,
): Promise<ReplayResult> {
  await checkReplayInput(db, input);
  const candidate = await getRuleVersion(db, input.candidateId);
  const baseline =
    input.baselineId !== undefined
      ? await getRuleVersion(db, input.baselineId)
      : await getRuleVersion(db, (await activeRules(db)).versionId!);
  const now = new Date();
  const { facilities } = await loadRoutingFacilities(db, now);
  const orders = input.generated
    ? await generateOrders(db, facilities, input.generated.orders, input.generated.seed, now)
    : await periodOrders(db, input.from!, input.to!);
  const variantIds = [...new Set(orders.flatMap((o) => o.lines.map((l) => l.variantId)))];
  const { stock } = await loadStock(db, variantIds);
  const progress = (from: number, what: string) => (done: number) =>
    onProgress?.(from + Math.round((done / orders.length) * 50), `${what}: ${done} of ${orders.length} orders`);
  const c = measure(
    await simulate(candidate.document, orders, facilities, stock, { onStep: progress(0, 'candidate') }),
    orders,
    facilities,
  );
  const b = measure(
    await simulate(baseline.document, orders, facilities, stock, { onStep: progress(50, 'baseline') }),
    orders,
    facilities,
  );
  return {
    period: {
      from: input.from?.toISOString() ?? null,
      to: input.to?.toISOString() ?? null,
      generated: input.generated ?? null,
    },
    candidate: { versionId: candidate.id, name: candidate.name, metrics: c },
    baseline: { versionId: baseline.id, name: baseline.name, metrics: b },
    ratios: {
      fillRate: ratio(c.fillRate, b.fillRate),
      splitRate: ratio(c.splitRate, b.splitRate),
      meanDistanceKm: ratio(c.meanDistanceKm, b.meanDistanceKm),
      packagesPerOrder: ratio(c.packagesPerOrder, b.packagesPerOrder),
    },
  };
}

/** What a replay keeps of a decision (not its trace). */
export type ReplayDecision = Pick<OrderDecision, 'orderId' | 'assignments' | 'parked'>;

/**
 * Routes `orders` in memory under `document`, each run in order, on copies of the stock and of the
 * facilities' capacity (restarting each local day, in order-date order). Decides a step of orders at
 * a time, as the live batches do, and lets other work run between steps.
 */
export async function simulate(
  document: RuleDocument,
  orders: RoutableOrder[],
  facilities: RoutingFacility[],
  stock: StockMap,
  options: { stepOrders?: number; onStep?: (ordersDone: number) => Promise<void> | void } = {},
): Promise<ReplayDecision[]> {
  const step = options.stepOrders ?? REPLAY_STEP_ORDERS;
  const stockCopy: StockMap = new Map([...stock].map(([v, m]) => [v, new Map(m)]));
  const days = new Map<string, RoutableOrder[]>();
  for (const order of [...orders].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id - b.id)) {
    const day = localDate('UTC', order.createdAt);
    const list = days.get(day);
    if (list) list.push(order);
    else days.set(day, [order]);
  }
  const decisions: ReplayDecision[] = [];
  let ordersDone = 0;
  for (const allDayOrders of days.values()) {
    const copies = facilities.map((f) => ({ ...f, usedToday: 0 }));
    for (let at = 0; at < allDayOrders.length; at += step) {
      const dayOrders = allDayOrders.slice(at, at + step);
      // The engine decides the orders a run takes; lines a run leaves waiting go to the next run.
      const waiting = new Map(dayOrders.map((o) => [o.id, { ...o, lines: o.lines.map((l) => ({ ...l })) }]));
      for (const run of document.runs) {
        const out = decide({
          document,
          runCode: run.code,
          orders: [...waiting.values()],
          facilities: copies,
          stock: stockCopy,
          now: dayOrders[0]!.createdAt,
        });
        for (const d of out) {
          decisions.push({ orderId: d.orderId, assignments: d.assignments, parked: d.parked });
          const order = waiting.get(d.orderId)!;
          const done = new Set([...d.assignments.map((a) => a.lineId), ...d.parked.map((p) => p.lineId)]);
          order.lines = order.lines.filter((l) => !done.has(l.id));
          if (order.lines.length === 0) waiting.delete(d.orderId);
        }
      }
      ordersDone += dayOrders.length;
      await options.onStep?.(ordersDone);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return decisions;
}

export function measure(
  decisions: ReplayDecision[],
  orders: RoutableOrder[],
  facilities: RoutingFacility[],
): ReplayMetrics {
  const facilityById = new Map(facilities.map((f) => [f.id, f]));
  const orderById = new Map(orders.map((o) => [o.id, o]));
  const units = orders.reduce((n, o) => n + o.lines.reduce((m, l) => m + l.quantity, 0), 0);
  let assignedUnits = 0;
  let linesParked = 0;
  const parkedByQueue: Record<string, number> = {};
  const loadPerFacility: Record<string, number> = {};
  const packagesPerOrderId = new Map<number, Set<number>>();
  for (const d of decisions) {
    for (const a of d.assignments) {
      assignedUnits += a.quantity;
      const code = facilityById.get(a.facilityId)?.code ?? String(a.facilityId);
      loadPerFacility[code] = (loadPerFacility[code] ?? 0) + 1;
      const set = packagesPerOrderId.get(d.orderId) ?? new Set<number>();
      set.add(a.facilityId);
      packagesPerOrderId.set(d.orderId, set);
    }
    for (const p of d.parked) {
      linesParked += 1;
      parkedByQueue[p.queue] = (parkedByQueue[p.queue] ?? 0) + 1;
    }
  }
  const distances: number[] = [];
  let packages = 0;
  let split = 0;
  for (const [orderId, set] of packagesPerOrderId) {
    packages += set.size;
    if (set.size > 1) split += 1;
    const order = orderById.get(orderId)!;
    for (const facilityId of set) {
      const d = distanceKm(order, facilityById.get(facilityId)!);
      if (d !== null) distances.push(d);
    }
  }
  distances.sort((a, b) => a - b);
  const routed = packagesPerOrderId.size;
  const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    orders: orders.length,
    lines: orders.reduce((n, o) => n + o.lines.length, 0),
    units,
    fillRate: units === 0 ? 0 : round(assignedUnits / units),
    splitRate: routed === 0 ? 0 : round(split / routed),
    meanDistanceKm: distances.length === 0 ? null : round(distances.reduce((a, b) => a + b, 0) / distances.length, 1),
    p95DistanceKm:
      distances.length === 0
        ? null
        : round(distances[Math.min(distances.length - 1, Math.floor(0.95 * distances.length))]!, 1),
    packagesPerOrder: routed === 0 ? 0 : round(packages / routed, 3),
    linesParked,
    parkedByQueue,
    loadPerFacility,
  };
}

/** Orders of the period with something to deliver (units sold over a counter are not routed). */
const periodCondition = (from: Date, to: Date) =>
  sql`o.shopify_created_at >= ${from} and o.shopify_created_at < ${to} and exists (select 1 from order_lines ol where ol.order_id = o.id and not ol.sold_over_counter)`;

async function periodOrders(db: Db, from: Date, to: Date): Promise<RoutableOrder[]> {
  // Every line as ordered (its full quantity), waiting in the brokering queue.
  const rows = await queryRows<OrderRowWithLines & Record<string, unknown>>(
    db,
    sql`select ${orderColumns(sql`select json_agg(json_build_object('id', ol.id, 'variant_id', ol.variant_id, 'sku', ol.sku, 'quantity', ol.quantity, 'unit_price', ol.unit_price, 'group_key', ol.group_key) order by ol.id)
             from order_lines ol where ol.order_id = o.id and ol.variant_id is not null and ol.quantity > 0 and not ol.sold_over_counter`)}
        from orders o
        where ${periodCondition(from, to)}
        order by o.shopify_created_at, o.id`,
  );
  return rows.filter((r) => r.lines && r.lines.length > 0).map((r) => toRoutableOrder(r, () => 'brokering'));
}

/** Orders for a what-if when there is no history yet: stocked items, customers near the facilities. */
async function generateOrders(
  db: Db,
  facilities: RoutingFacility[],
  count: number,
  seed: number,
  now: Date,
): Promise<RoutableOrder[]> {
  const random = makeRandom(seed);
  const variants = await queryRows<{ id: number; sku: string | null; price: string | null }>(
    db,
    sql`select v.id, v.sku, v.price::text as price from variants v where not v.is_placeholder and exists (select 1 from inventory_levels l where l.variant_id = v.id and l.on_hand > 0) order by v.id`,
  );
  if (variants.length === 0)
    throw invalid('routing.replay_no_stock', 'No item is in stock anywhere: there is nothing to generate orders from.');
  const located = facilities.filter((f) => f.latitude !== null && f.longitude !== null);
  let lineId = 1;
  return Array.from({ length: count }, (_, i) => {
    const near = located.length > 0 ? random.pick(located) : null;
    const lineCount = random.int(1, 4);
    return {
      id: -(i + 1),
      name: `#WHATIF-${i + 1}`,
      createdAt: new Date(now.getTime() + i * 1000),
      priority: 0,
      promiseDate: null,
      shippingMethod: 'standard' as const,
      sourceName: 'web',
      tags: [],
      latitude: near ? near.latitude! + (random.next() - 0.5) * 4 : null,
      longitude: near ? near.longitude! + (random.next() - 0.5) * 4 : null,
      pickupFacilityId: null,
      lines: Array.from({ length: lineCount }, () => {
        const v = random.pick(variants);
        return {
          id: -lineId++,
          variantId: v.id,
          sku: v.sku,
          quantity: random.int(1, 2),
          unitPrice: Number(v.price ?? 0),
          groupKey: null,
          queue: 'brokering',
          excludedFacilityIds: [],
        };
      }),
    };
  });
}
