// The routing decision, in memory and without side effects: given waiting orders, facilities, the
// stock each can promise and the rules, decide where each line goes, and why. The caller loads the
// inputs and writes the result (live runs) or only measures it (what-if replays). Stock and capacity
// are consumed as orders are decided, so later orders in a run see what earlier ones took.
import type { FacilitySortField, InventoryRule, OrderFilters, Routing, RuleDocument, Sort } from './rules.js';

export interface RoutableLine {
  id: number;
  variantId: number;
  sku: string | null;
  quantity: number;
  unitPrice: number;
  /** Lines with one group key (kits) are never split across facilities. */
  groupKey: string | null;
  /** The queue the line waits in (`brokering`, `rejected`, ...). */
  queue: string;
  /** Facilities that rejected this line: never offered it again. */
  excludedFacilityIds: number[];
}

export interface RoutableOrder {
  id: number;
  name: string;
  createdAt: Date;
  priority: number;
  promiseDate: Date | null;
  shippingMethod: 'standard' | 'express' | 'pickup';
  sourceName: string | null;
  tags: string[];
  latitude: number | null;
  longitude: number | null;
  pickupFacilityId: number | null;
  lines: RoutableLine[];
}

export interface RoutingFacility {
  id: number;
  code: string;
  kind: 'WAREHOUSE' | 'STORE';
  latitude: number | null;
  longitude: number | null;
  canShip: boolean;
  canPickup: boolean;
  canExpress: boolean;
  priority: number;
  /** Orders per local day; null = unlimited. */
  capacity: number | null;
  /** Orders already assigned today (local day of the facility). */
  usedToday: number;
  groups: Set<string>;
}

/** Units each facility can promise per variant: variant → facility → units. Consumed as lines are assigned. */
export type StockMap = Map<number, Map<number, number>>;

export interface Assignment {
  lineId: number;
  variantId: number;
  facilityId: number;
  quantity: number;
  /** Pickup sourced from another facility: the store the customer collects at. */
  transferToFacilityId: number | null;
}

export interface Parking {
  lineId: number;
  queue: string;
  autoCancelAfterDays: number | null;
}

export interface CandidateScore {
  facility: string;
  score: number;
  distanceKm: number | null;
  covers: number;
  parts: { distance: number; packages: number; capacityHeadroom: number; facilityPriority: number };
}

export interface RuleTrace {
  rule: string;
  candidates: number;
  /** Facilities removed, grouped by the filter that removed them (the first few named, `count` when there are more). */
  removed: Array<{ filter: string; reason: string; facilities: string[]; count?: number }>;
  /** The best scored candidates (at most three), best first. */
  scores: CandidateScore[];
  outcome: string;
}

export interface OrderDecision {
  orderId: number;
  run: string;
  routing: string;
  assignments: Assignment[];
  parked: Parking[];
  trace: { scarcity: number; rules: RuleTrace[]; summary: string; split: string | null };
}

export interface EngineInput {
  document: RuleDocument;
  runCode: string;
  orders: RoutableOrder[];
  facilities: RoutingFacility[];
  stock: StockMap;
  now: Date;
}

const EARTH_KM = 6371;
export function distanceKm(
  a: { latitude: number | null; longitude: number | null },
  b: { latitude: number | null; longitude: number | null },
): number | null {
  if (a.latitude === null || a.longitude === null || b.latitude === null || b.longitude === null) return null;
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function orderMatches(order: RoutableOrder, filters: OrderFilters, now: Date): boolean {
  const queues = filters.queues ?? ['brokering'];
  if (!order.lines.some((l) => queues.includes(l.queue as never))) return false;
  if (filters.shippingMethods && !filters.shippingMethods.includes(order.shippingMethod)) return false;
  if (filters.minPriority !== undefined && order.priority < filters.minPriority) return false;
  if (filters.maxPriority !== undefined && order.priority > filters.maxPriority) return false;
  if (filters.salesChannels && !filters.salesChannels.includes(order.sourceName ?? '')) return false;
  if (filters.tagsAll && !filters.tagsAll.every((t) => order.tags.includes(t))) return false;
  if (filters.tagsNone && filters.tagsNone.some((t) => order.tags.includes(t))) return false;
  if (
    filters.promisedWithinHours !== undefined &&
    (!order.promiseDate || order.promiseDate.getTime() - now.getTime() > filters.promisedWithinHours * 3_600_000)
  )
    return false;
  return true;
}

const available = (stock: StockMap, variantId: number, facilityId: number) =>
  stock.get(variantId)?.get(facilityId) ?? 0;

/** Groups of lines that travel together: a kit's lines, or a line alone. */
function groupsOf(lines: RoutableLine[]): RoutableLine[][] {
  const byKey = new Map<string, RoutableLine[]>();
  for (const line of lines) {
    const key = line.groupKey ? `g:${line.groupKey}` : `l:${line.id}`;
    const list = byKey.get(key) ?? [];
    list.push(line);
    byKey.set(key, list);
  }
  return [...byKey.values()];
}

/** Facilities named per removal reason in a trace; beyond that they are counted (traces stay small). */
export const TRACE_NAMED_FACILITIES = 8;
function removal(filter: string, reason: string, codes: string[]): RuleTrace['removed'][number] {
  return codes.length <= TRACE_NAMED_FACILITIES
    ? { filter, reason, facilities: codes }
    : { filter, reason, facilities: codes.slice(0, TRACE_NAMED_FACILITIES), count: codes.length };
}

/**
 * The groups one facility can take together (each in full, keeping `keep` of every item): groups are
 * added in order while the facility's stock still covers all of them, so two lines of one item never
 * count the same units twice.
 */
function takeable(stock: StockMap, facilityId: number, groups: RoutableLine[][], keep: number): RoutableLine[][] {
  if (groups.every((g) => g.length === 1) && distinctItems(groups)) {
    // The common case: single lines of different items, each judged on its own.
    return groups.filter((g) => available(stock, g[0]!.variantId, facilityId) - g[0]!.quantity >= keep);
  }
  const taken: RoutableLine[][] = [];
  const used = new Map<number, number>();
  for (const group of groups) {
    const need = new Map<number, number>();
    for (const line of group) need.set(line.variantId, (need.get(line.variantId) ?? 0) + line.quantity);
    let fits = true;
    for (const [variantId, units] of need)
      if (available(stock, variantId, facilityId) - (used.get(variantId) ?? 0) - units < keep) fits = false;
    if (!fits) continue;
    for (const [variantId, units] of need) used.set(variantId, (used.get(variantId) ?? 0) + units);
    taken.push(group);
  }
  return taken;
}

/** No item appears on two of these single-line groups. */
function distinctItems(groups: RoutableLine[][]): boolean {
  for (let i = 1; i < groups.length; i++)
    for (let j = 0; j < i; j++) if (groups[i]![0]!.variantId === groups[j]![0]!.variantId) return false;
  return true;
}

/** Can the facility give every line of the group its quantity and keep `keep` units of each? */
function holds(stock: StockMap, facilityId: number, group: RoutableLine[], keep: number): boolean {
  for (let i = 0; i < group.length; i++) {
    const line = group[i]!;
    // Units of this item wanted by this line and the ones before it (an item may be on two lines).
    let need = line.quantity;
    for (let j = 0; j < i; j++) if (group[j]!.variantId === line.variantId) need += group[j]!.quantity;
    if (available(stock, line.variantId, facilityId) - need < keep) return false;
  }
  return true;
}

const value = (lines: RoutableLine[]) => lines.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);
const units = (lines: RoutableLine[]) => lines.reduce((sum, l) => sum + l.quantity, 0);

function capacityLeft(f: RoutingFacility): number {
  return f.capacity === null ? Number.POSITIVE_INFINITY : f.capacity - f.usedToday;
}

/** The facility filters of a rule, in order; each returns why it removes a facility, or null. */
function facilityFilters(
  rule: InventoryRule,
  distanceTo: (f: RoutingFacility) => number | null,
  lines: RoutableLine[],
  express: boolean,
) {
  const excluded = new Set(lines.flatMap((l) => l.excludedFacilityIds));
  const f = rule.filters;
  const capabilities = new Set(f.capabilities ?? []);
  if (express) capabilities.add('express');
  const filters: Array<{ name: string; reason: (x: RoutingFacility) => string | null }> = [
    { name: 'rejected', reason: (x) => (excluded.has(x.id) ? 'rejected this order line before' : null) },
  ];
  if (capabilities.size > 0) {
    filters.push({
      name: 'capabilities',
      reason: (x) => {
        const lacks = (c: string) => (c === 'ship' ? !x.canShip : c === 'pickup' ? !x.canPickup : !x.canExpress);
        if (!(
          (capabilities.has('ship') && !x.canShip) ||
          (capabilities.has('pickup') && !x.canPickup) ||
          (capabilities.has('express') && !x.canExpress)
        ))
          return null;
        return `cannot ${[...capabilities].filter(lacks).join(' or ')}`;
      },
    });
  }
  if (f.groupsInclude)
    filters.push({
      name: 'groupsInclude',
      reason: (x) => (f.groupsInclude!.some((g) => x.groups.has(g)) ? null : `not in ${f.groupsInclude!.join(' or ')}`),
    });
  if (f.groupsExclude)
    filters.push({
      name: 'groupsExclude',
      reason: (x) =>
        f.groupsExclude!.some((g) => x.groups.has(g))
          ? `in excluded group ${f.groupsExclude!.filter((g) => x.groups.has(g)).join(', ')}`
          : null,
    });
  if (f.radiusKm !== undefined) {
    filters.push({
      name: 'radiusKm',
      reason: (x) => {
        const d = distanceTo(x);
        return d === null
          ? 'distance unknown (no coordinates)'
          : d > f.radiusKm!
            ? `more than ${f.radiusKm} km away`
            : null;
      },
    });
  }
  filters.push({
    name: 'capacity',
    reason: (x) => {
      if (x.capacity === 0) return 'switched off (capacity 0)';
      const need = f.minCapacityLeft ?? 1;
      return capacityLeft(x) < need
        ? `no capacity left today (${Math.max(0, capacityLeft(x))} of ${x.capacity} orders left, needs ${need})`
        : null;
    },
  });
  return filters;
}

/** Decides every order of one brokering run. Mutates `stock` and the facilities' `usedToday`. */
export function decide(input: EngineInput): OrderDecision[] {
  const { document, stock, now } = input;
  const run = document.runs.find((r) => r.code === input.runCode);
  if (!run) throw new Error(`No brokering run "${input.runCode}" in the rule document.`);
  const facilityById = new Map(input.facilities.map((f) => [f.id, f]));
  const decided = new Set<number>();
  const decisions: OrderDecision[] = [];
  const maxPriority = Math.max(1, ...input.facilities.map((f) => Math.abs(f.priority)));
  const scratch = scratchFor(input.facilities);

  for (const routing of run.routings.filter((r) => r.enabled)) {
    const queues = routing.orderFilters.queues ?? ['brokering'];
    const selected = input.orders.filter((o) => !decided.has(o.id) && orderMatches(o, routing.orderFilters, now));
    // Scarcity: how many facilities could take the whole order now (ship-capable, holding every line).
    const scarcity = new Map<number, number>();
    for (const order of selected) {
      const lines = order.lines.filter((l) => queues.includes(l.queue as never));
      let n = 0;
      const first = lines[0] ? stock.get(lines[0].variantId) : undefined;
      for (const facilityId of first?.keys() ?? [])
        if (facilityById.has(facilityId) && holds(stock, facilityId, lines, 0)) n++;
      scarcity.set(order.id, n);
    }
    selected.sort((a, b) => {
      if (document.scarceFirst) {
        const d = scarcity.get(a.id)! - scarcity.get(b.id)!;
        if (d !== 0) return d;
      }
      for (const s of routing.orderSorts) {
        const av =
          s.field === 'order_date'
            ? a.createdAt.getTime()
            : s.field === 'priority'
              ? a.priority
              : (a.promiseDate?.getTime() ?? Number.MAX_SAFE_INTEGER);
        const bv =
          s.field === 'order_date'
            ? b.createdAt.getTime()
            : s.field === 'priority'
              ? b.priority
              : (b.promiseDate?.getTime() ?? Number.MAX_SAFE_INTEGER);
        if (av !== bv) return s.direction === 'asc' ? av - bv : bv - av;
      }
      return a.id - b.id;
    });
    for (const order of selected) {
      decided.add(order.id);
      const lines = order.lines.filter((l) => queues.includes(l.queue as never));
      decisions.push(
        decideOrder(order, lines, routing, run.code, scarcity.get(order.id)!, {
          scratch,
          document,
          stock,
          facilityById,
          facilities: input.facilities,
          maxPriority,
          now,
        }),
      );
    }
  }
  return decisions;
}

/** Facilities in id order with a mark per facility, reused by every order of a run. */
interface Scratch {
  byId: RoutingFacility[];
  indexOf: Map<number, number>;
  marks: Float64Array;
  epoch: number;
}

function scratchFor(facilities: RoutingFacility[]): Scratch {
  const byId = [...facilities].sort((a, b) => a.id - b.id);
  return { byId, indexOf: new Map(byId.map((f, i) => [f.id, i])), marks: new Float64Array(byId.length), epoch: 0 };
}

interface Ctx {
  scratch: Scratch;
  document: RuleDocument;
  stock: StockMap;
  facilityById: Map<number, RoutingFacility>;
  facilities: RoutingFacility[];
  maxPriority: number;
  now: Date;
}

/** One order's decision in the making: the lines still to place, and the store they go to by transfer. */
interface OrderWork {
  order: RoutableOrder;
  decision: OrderDecision;
  ctx: Ctx;
  remaining: RoutableLine[];
  transferTo: number | null;
  assign: (facility: RoutingFacility, lines: RoutableLine[], transferTo: number | null) => void;
  distanceTo: (f: RoutingFacility) => number | null;
}

function decideOrder(
  order: RoutableOrder,
  waiting: RoutableLine[],
  routing: Routing,
  runCode: string,
  scarcity: number,
  ctx: Ctx,
): OrderDecision {
  const work = startDecision(order, waiting, routing, runCode, scarcity, ctx);

  // Pickup: the chosen store, whole order, or the fallback.
  if (order.shippingMethod === 'pickup' && routePickup(work)) return work.decision;

  const express = order.shippingMethod === 'express';
  for (const [index, rule] of routing.rules.entries()) {
    if (work.remaining.length === 0) break;
    applyRule(work, rule, index < routing.rules.length - 1, express);
  }

  summarise(work);
  return work.decision;
}

function startDecision(
  order: RoutableOrder,
  waiting: RoutableLine[],
  routing: Routing,
  runCode: string,
  scarcity: number,
  ctx: Ctx,
): OrderWork {
  const decision: OrderDecision = {
    orderId: order.id,
    run: runCode,
    routing: routing.name,
    assignments: [],
    parked: [],
    trace: { scarcity, rules: [], summary: '', split: null },
  };
  const usedFacilities = new Set<number>();
  const assign = (facility: RoutingFacility, lines: RoutableLine[], transferTo: number | null) => {
    for (const line of lines) {
      decision.assignments.push({
        lineId: line.id,
        variantId: line.variantId,
        facilityId: facility.id,
        quantity: line.quantity,
        transferToFacilityId: transferTo,
      });
      const m = ctx.stock.get(line.variantId)!;
      m.set(facility.id, (m.get(facility.id) ?? 0) - line.quantity);
    }
    if (!usedFacilities.has(facility.id)) {
      usedFacilities.add(facility.id);
      facility.usedToday += 1;
    }
  };
  // Each facility's distance from the destination, worked out once per order.
  const distances = new Map<number, number | null>();
  const distanceTo = (f: RoutingFacility) => {
    let d = distances.get(f.id);
    if (d === undefined) distances.set(f.id, (d = distanceKm(order, f)));
    return d;
  };
  return { order, decision, ctx, remaining: [...waiting], transferTo: null, assign, distanceTo };
}

/**
 * A pickup order: the whole order at the chosen store, else the fallback. Returns true when the order
 * is decided (reserved at the store, or parked); false when the rest is to be sourced by transfer.
 */
function routePickup(work: OrderWork): boolean {
  const { order, decision, ctx, assign } = work;
  let remaining = work.remaining;
  const store = order.pickupFacilityId === null ? undefined : ctx.facilityById.get(order.pickupFacilityId);
  const why = !store
    ? 'the chosen pickup store is not a routable facility'
    : !store.canPickup
      ? `${store.code} does not do pickup`
      : remaining.some((l) => l.excludedFacilityIds.includes(store.id))
        ? `${store.code} rejected this order before`
        : store.capacity === 0 || capacityLeft(store) < 1
          ? `${store.code} has no capacity left today`
          : !holds(ctx.stock, store.id, remaining, 0)
            ? `${store.code} does not hold every line`
            : null;
  if (!why) {
    assign(store!, remaining, null);
    decision.trace.rules.push({
      rule: 'pickup at the chosen store',
      candidates: 1,
      removed: [],
      scores: [],
      outcome: `all lines reserved at ${store!.code}`,
    });
    decision.trace.summary = `Pickup at ${store!.code}, the store the customer chose.`;
    return true;
  }
  if (ctx.document.pickupFallback === 'queue' || !store) {
    for (const line of remaining)
      decision.parked.push({ lineId: line.id, queue: 'pickup_rejected', autoCancelAfterDays: null });
    decision.trace.rules.push({
      rule: 'pickup at the chosen store',
      candidates: store ? 1 : 0,
      removed: [],
      scores: [],
      outcome: `parked in pickup_rejected: ${why}`,
    });
    decision.trace.summary = `Not routed: ${why}; parked in the pickup-rejected queue.`;
    return true;
  }
  // Transfer: what the store holds stays there; the rest is sourced elsewhere and sent to the store.
  const open = remaining.filter((l) => !l.excludedFacilityIds.includes(store.id));
  const atStore =
    store.canPickup && capacityLeft(store) >= 1
      ? takeable(
          ctx.stock,
          store.id,
          open.map((l) => [l]),
          0,
        ).flat()
      : [];
  if (atStore.length > 0) assign(store, atStore, null);
  remaining = remaining.filter((l) => !atStore.includes(l));
  work.remaining = remaining;
  work.transferTo = store.id;
  decision.trace.rules.push({
    rule: 'pickup at the chosen store',
    candidates: 1,
    removed: [],
    scores: [],
    outcome: `${why}; ${atStore.length} line(s) at ${store.code}, the rest by transfer`,
  });
  return false;
}

/** One inventory rule: the candidates, the stock check, the assignment, then what happens to what is left. */
function applyRule(work: OrderWork, rule: InventoryRule, hasNextRule: boolean, express: boolean): void {
  const { ctx } = work;
  const trace: RuleTrace = { rule: rule.name, candidates: 0, removed: [], scores: [], outcome: '' };
  work.decision.trace.rules.push(trace);
  const candidates = filteredCandidates(work, rule, trace, express);
  const keep = rule.filters.minStockToKeep ?? 0;
  const mode = express ? 'single' : rule.assignment.mode;
  const minPart = rule.assignment.mode === 'split' ? (rule.assignment.minPartValue ?? 0) : 0;
  // Express: the nearest facility that ships everything fast, whatever the scores say.
  const sorts: Array<Sort<FacilitySortField>> = express ? [{ field: 'distance', direction: 'asc' }] : rule.sorts;
  const useScores = rule.useScores && !express;

  const groups = groupsOf(work.remaining);
  const coverage = new Map<RoutingFacility, RoutableLine[][]>();
  for (const f of candidates) coverage.set(f, takeable(ctx.stock, f.id, groups, keep));
  const withStock = candidates.filter((f) => {
    const c = coverage.get(f)!;
    return mode === 'single' ? c.length === groups.length : c.length > 0;
  });
  if (withStock.length < candidates.length) {
    const kept = new Set(withStock);
    const noStock = candidates.filter((f) => !kept.has(f)).map((f) => f.code);
    trace.removed.push(
      removal(
        'stock',
        mode === 'single'
          ? `cannot fill every line${keep ? ` and keep ${keep}` : ''}`
          : `holds no line${keep ? ` while keeping ${keep}` : ''}`,
        noStock,
      ),
    );
  }
  trace.candidates = withStock.length;
  const ranking = makeRanking(work, sorts, useScores);

  if (mode === 'single') assignWhole(work, ranking, withStock, coverage, trace);
  else assignSplit(work, ranking, withStock, rule.name, keep, minPart, trace);

  if (work.remaining.length > 0) parkOrPassOn(work, rule, trace, withStock.length, hasNextRule);
}

/** The facilities that hold some of the lines and pass every filter of the rule; the trace says who was removed and why. */
function filteredCandidates(
  work: OrderWork,
  rule: InventoryRule,
  trace: RuleTrace,
  express: boolean,
): RoutingFacility[] {
  const { ctx, remaining } = work;
  // Only facilities holding some of these items can take part; the others are counted, not listed.
  // (Marked in a scratch array, then read in facility id order: no set, no sort per order.)
  const mark = ++ctx.scratch.epoch;
  for (const line of remaining) {
    ctx.stock.get(line.variantId)?.forEach((n, facilityId) => {
      const i = n > 0 ? ctx.scratch.indexOf.get(facilityId) : undefined;
      if (i !== undefined) ctx.scratch.marks[i] = mark;
    });
  }
  let candidates: RoutingFacility[] = [];
  for (let i = 0; i < ctx.scratch.byId.length; i++)
    if (ctx.scratch.marks[i] === mark) candidates.push(ctx.scratch.byId[i]!);
  if (ctx.facilities.length > candidates.length) {
    trace.removed.push({
      filter: 'stock',
      reason: 'holds none of these items',
      facilities: [],
      count: ctx.facilities.length - candidates.length,
    });
  }
  for (const filter of facilityFilters(rule, work.distanceTo, remaining, express)) {
    const reasons = new Map<string, string[]>();
    candidates = candidates.filter((f) => {
      const reason = filter.reason(f);
      if (reason === null) return true;
      const codes = reasons.get(reason);
      if (codes) codes.push(f.code);
      else reasons.set(reason, [f.code]);
      return false;
    });
    for (const [reason, codes] of reasons) trace.removed.push(removal(filter.name, reason, codes));
  }
  return candidates;
}

type Ranked = Array<{ f: RoutingFacility; cover: number; score: number; keys: number[] }>;
interface Ranking {
  rank: (list: Array<{ f: RoutingFacility; groups: RoutableLine[][] }>, remainingUnits: number) => Ranked;
  best: (ranked: Ranked, remainingUnits: number) => CandidateScore[];
}

/** Orders candidates by score (when the rule uses scores), then by the rule's sorts, then by id. */
function makeRanking(work: OrderWork, sorts: Array<Sort<FacilitySortField>>, useScores: boolean): Ranking {
  const { ctx, distanceTo } = work;
  // Reads the lines still to place when called: in a split they shrink part by part.
  const sortKey = (f: RoutingFacility, field: FacilitySortField) =>
    field === 'distance'
      ? (distanceTo(f) ?? Number.POSITIVE_INFINITY)
      : field === 'priority'
        ? f.priority
        : field === 'capacity_left'
          ? capacityLeft(f)
          : work.remaining.reduce((s, l) => s + available(ctx.stock, l.variantId, f.id), 0);
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  const w = ctx.document.scoring;
  const distancePart = (d: number | null) => round3(d === null ? 0 : Math.max(0, 1 - d / ctx.document.distanceScaleKm));
  const packagesPart = (coverUnits: number, remainingUnits: number) =>
    round3(remainingUnits === 0 ? 0 : coverUnits / remainingUnits);
  const headroomPart = (f: RoutingFacility) =>
    round3(f.capacity === null ? 1 : f.capacity === 0 ? 0 : Math.max(0, capacityLeft(f) / f.capacity));
  const priorityPart = (f: RoutingFacility) => round3(f.priority / ctx.maxPriority);
  /** The score alone (ranking needs only the number; the trace keeps the parts of the best few). */
  const scoreOf = (f: RoutingFacility, coverUnits: number, remainingUnits: number) =>
    round3(
      w.distance * distancePart(distanceTo(f)) +
        w.packages * packagesPart(coverUnits, remainingUnits) +
        w.capacityHeadroom * headroomPart(f) +
        w.facilityPriority * priorityPart(f),
    );
  const scoreInWords = (f: RoutingFacility, coverUnits: number, remainingUnits: number): CandidateScore => {
    const d = distanceTo(f);
    const parts = {
      distance: distancePart(d),
      packages: packagesPart(coverUnits, remainingUnits),
      capacityHeadroom: headroomPart(f),
      facilityPriority: priorityPart(f),
    };
    return {
      facility: f.code,
      score: scoreOf(f, coverUnits, remainingUnits),
      distanceKm: d === null ? null : Math.round(d * 10) / 10,
      covers: coverUnits,
      parts,
    };
  };
  const rank = (list: Array<{ f: RoutingFacility; groups: RoutableLine[][] }>, remainingUnits: number) => {
    // Scores and sort keys worked out once per candidate, not once per comparison.
    const scored = list.map((x) => {
      const cover = x.groups.reduce((n, g) => n + units(g), 0);
      return {
        f: x.f,
        cover,
        score: scoreOf(x.f, cover, remainingUnits),
        keys: sorts.map((sort) => sortKey(x.f, sort.field)),
      };
    });
    scored.sort((a, b) => {
      if (useScores && b.score !== a.score) return b.score - a.score;
      for (let i = 0; i < sorts.length; i++) {
        const av = a.keys[i]!;
        const bv = b.keys[i]!;
        if (av !== bv) return av < bv === (sorts[i]!.direction === 'asc') ? -1 : 1;
      }
      return a.f.id - b.f.id;
    });
    return scored;
  };
  const best = (ranked: Ranked, remainingUnits: number) =>
    ranked.slice(0, TRACE_SCORES).map((r) => scoreInWords(r.f, r.cover, remainingUnits));
  /** The best candidates kept in the trace. */
  const TRACE_SCORES = 3;
  return { rank, best };
}

/** Mode single: the best facility that holds every line takes them all. */
function assignWhole(
  work: OrderWork,
  ranking: Ranking,
  withStock: RoutingFacility[],
  coverage: Map<RoutingFacility, RoutableLine[][]>,
  trace: RuleTrace,
): void {
  const remaining = work.remaining;
  const ranked = ranking.rank(
    withStock.map((f) => ({ f, groups: coverage.get(f)! })),
    units(remaining),
  );
  trace.scores = ranking.best(ranked, units(remaining));
  if (ranked.length > 0) {
    const chosen = ranked[0]!.f;
    work.assign(chosen, remaining, work.transferTo);
    trace.outcome = `all ${remaining.length} line(s) to ${chosen.code}`;
    work.remaining = [];
  }
}

/** Mode split: the best facility takes what it can, then the next best takes from what is left, and so on. */
function assignSplit(
  work: OrderWork,
  ranking: Ranking,
  withStock: RoutingFacility[],
  ruleName: string,
  keep: number,
  minPart: number,
  trace: RuleTrace,
): void {
  const { ctx, decision } = work;
  const parts: string[] = [];
  let pool = withStock;
  for (;;) {
    const open = groupsOf(work.remaining);
    // A part is what one facility takes. Below the threshold it is not split off, unless it is
    // the whole order (then there is no split at all).
    const wholeOrder = (groups: RoutableLine[][]) =>
      parts.length === 0 && decision.assignments.length === 0 && groups.length === open.length;
    const eligible = pool
      .map((f) => ({ f, groups: takeable(ctx.stock, f.id, open, keep) }))
      .filter(
        (x) => x.groups.length > 0 && (minPart === 0 || wholeOrder(x.groups) || value(x.groups.flat()) >= minPart),
      );
    if (eligible.length === 0) break;
    const ranked = ranking.rank(eligible, units(work.remaining));
    if (parts.length === 0) trace.scores = ranking.best(ranked, units(work.remaining));
    const chosen = ranked[0]!.f;
    const take = eligible.find((x) => x.f === chosen)!.groups.flat();
    work.assign(chosen, take, work.transferTo);
    parts.push(`${take.length} line(s) to ${chosen.code}`);
    work.remaining = work.remaining.filter((l) => !take.includes(l));
    pool = pool.filter((f) => f !== chosen);
    if (work.remaining.length === 0) break;
  }
  trace.outcome = parts.length > 0 ? parts.join(', ') : 'no facility could take any part';
  if (parts.length > 1)
    decision.trace.split = `No single facility could fill the order under "${ruleName}"; split into ${parts.length} parts (${parts.join('; ')}).`;
  if (minPart > 0 && work.remaining.length > 0 && parts.length > 0)
    trace.outcome += `; parts under ${minPart} in value were not split off`;
}

/** What the rule could not place: left for the next rule, or parked in the rule's queue. */
function parkOrPassOn(
  work: OrderWork,
  rule: InventoryRule,
  trace: RuleTrace,
  withStockCount: number,
  hasNextRule: boolean,
): void {
  const remaining = work.remaining;
  if (trace.outcome === '')
    trace.outcome = withStockCount === 0 ? 'no facility passed every filter with the stock' : 'not assigned';
  const action = rule.onUnfilled;
  if (action.action === 'next_rule' && hasNextRule) {
    trace.outcome += `; ${remaining.length} line(s) left for the next rule`;
    return;
  }
  const queue = action.action === 'queue' ? action.queue : 'unfillable';
  const days = action.action === 'queue' ? (action.autoCancelAfterDays ?? null) : null;
  for (const line of remaining) work.decision.parked.push({ lineId: line.id, queue, autoCancelAfterDays: days });
  trace.outcome += `; ${remaining.length} line(s) parked in ${queue}${days ? ` (auto-cancel after ${days} days)` : ''}`;
  work.remaining = [];
}

/** The decision in one sentence: where the lines went, and what was parked. */
function summarise(work: OrderWork): void {
  const { decision, ctx, transferTo } = work;
  const byFacility = new Map<number, number>();
  for (const a of decision.assignments) byFacility.set(a.facilityId, (byFacility.get(a.facilityId) ?? 0) + 1);
  const where = [...byFacility.entries()]
    .map(([id, n]) => `${n} line(s) at ${ctx.facilityById.get(id)!.code}`)
    .join(', ');
  decision.trace.summary =
    decision.parked.length === 0
      ? `Routed: ${where}${transferTo ? ` (by transfer to ${ctx.facilityById.get(transferTo)!.code} where needed)` : ''}.`
      : decision.assignments.length === 0
        ? `Not routed: ${decision.parked.length} line(s) parked in ${[...new Set(decision.parked.map((p) => p.queue))].join(', ')}.`
        : `Partly routed: ${where}; ${decision.parked.length} line(s) parked in ${[...new Set(decision.parked.map((p) => p.queue))].join(', ')}.`;
}
