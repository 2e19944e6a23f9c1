// Brokering: approve new lines, then route the waiting orders batch by batch under the active rules.
// Each batch is one transaction: claim orders (other workers skip them), read stock and capacity,
// decide in memory, write guarded. A failed guard (another worker took the stock first) rolls the
// batch back and decides it again on fresh figures.
import { sql } from 'drizzle-orm';
import { canRunTransactionsSideBySide, type Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { ensureQueueFacilities, type QueueKind } from '../facilities/index.js';
import { decide, type OrderDecision, type RoutingFacility, type StockMap } from './engine.js';
import {
  approveNewLines,
  claimOrders,
  loadOrders,
  loadRoutingFacilities,
  loadStock,
  RoutingConflict,
  takeSharedStock,
  timePhase,
  writeOwnRows,
  type BatchMarker,
} from './routing.repo.js';
import { activeRules } from './versions.service.js';
import { CONTINUOUS, SOURCE_QUEUES, type RuleDocument } from './rules.js';
import { dueRuns } from './queues.service.js';
import { notFound } from '../../platform/errors.js';

export interface BrokeringOptions {
  /**
   * Which runs of the rule document: `due` (continuous runs and scheduled runs whose slot came, the
   * sweep), `arrivals` (continuous runs only: new orders), `all` (a rejection, a manual run), or one code.
   */
  runs: 'due' | 'arrivals' | 'all' | { code: string };
  /** Only orders waiting in these queues (arrivals: the new and the rejected, not every parked one). */
  onlyQueues?: QueueKind[];
  /** Only these orders (immediate routing after a new order or a rejection). */
  orderIds?: number[];
  trigger: string;
  batchSize?: number;
  now: () => Date;
  signal?: AbortSignal;
  /**
   * Overlap batches (read and decide the next while the last one writes), when the database can hold
   * two transactions at once (PostgreSQL). Default: yes.
   */
  pipeline?: boolean;
  /** Called after each committed batch (job progress). */
  onBatch?: (counts: BrokeringCounts) => Promise<void> | void;
}

export interface BrokeringCounts {
  runs: string[];
  approved: number;
  orders: number;
  linesRouted: number;
  linesParked: number;
  /** Parked orders looked at again and still parked where they were. */
  unchanged: number;
  conflicts: number;
  /** Whether batches overlapped (see `pipeline`). */
  pipelined: boolean;
  /** Milliseconds spent per phase (summed over batches): where a run's time goes. */
  phases: Record<string, number>;
}

const MAX_CONFLICTS_PER_BATCH = 20;

export async function runBrokering(db: Db, options: BrokeringOptions): Promise<BrokeringCounts> {
  const counts: BrokeringCounts = {
    runs: [],
    approved: 0,
    orders: 0,
    linesRouted: 0,
    linesParked: 0,
    unchanged: 0,
    conflicts: 0,
    pipelined: false,
    phases: {},
  };
  const queueIds = await ensureQueueFacilities(db);
  const queueKindById = new Map([...queueIds.entries()].map(([kind, id]) => [id, kind]));
  const { versionId, document } = await activeRules(db);
  const selection = options.runs;
  const runs =
    selection === 'all'
      ? document.runs
      : selection === 'arrivals'
        ? document.runs.filter((r) => r.schedule === CONTINUOUS)
        : selection === 'due'
          ? await dueRuns(db, document.runs, options.now())
          : document.runs.filter((r) => r.code === selection.code);
  if (typeof selection === 'object' && runs.length === 0) {
    throw notFound(
      'routing.unknown_run',
      `The active rules have no run "${selection.code}"; runs: ${document.runs.map((r) => r.code).join(', ')}.`,
      { run: selection.code },
    );
  }
  counts.runs = runs.map((r) => r.code);
  for (const run of runs) {
    const sourceQueues = new Set<QueueKind>();
    for (const routing of run.routings.filter((r) => r.enabled))
      for (const q of routing.orderFilters.queues ?? ['brokering']) sourceQueues.add(q);
    const queueList = [...sourceQueues]
      .filter(
        (q) =>
          (SOURCE_QUEUES as readonly string[]).includes(q) && (!options.onlyQueues || options.onlyQueues.includes(q)),
      )
      .map((q) => queueIds.get(q)!);
    if (queueList.length === 0) continue;
    await routeRun(db, { document, versionId, runCode: run.code, queueIds, queueKindById, queueList, options, counts });
  }
  // New lines of orders no run read (e.g. only scheduled runs were due) still move to the brokering queue.
  const approving = performance.now();
  counts.approved += await approveNewLines(db, queueIds.get('brokering')!, options.now(), options.orderIds);
  timePhase(counts.phases, 'approve', approving);
  return counts;
}

interface RunContext {
  document: RuleDocument;
  versionId: number | null;
  runCode: string;
  queueIds: Map<QueueKind, number>;
  queueKindById: Map<number, QueueKind>;
  queueList: number[];
  options: BrokeringOptions;
  counts: BrokeringCounts;
}

/** What a committed batch adds to the counts. */
interface BatchOutcome {
  approved: number;
  orders: number;
  linesRouted: number;
  linesParked: number;
  unchanged: number;
}

/** A batch under way in its own transaction. */
interface BatchInFlight {
  afterId: number;
  /** Resolves once the batch has read and decided (with the last order it claimed), or null when nothing was left to claim. */
  decided: Promise<{ lastId: number } | null>;
  /** Resolves once committed (or with null when nothing was claimed); rejects when rolled back. */
  finished: Promise<BatchOutcome | null>;
  /** Once decided: what it takes from the shared stock and capacity, and its marker (null: it takes nothing). */
  taking: { decisions: OrderDecision[]; marker: BatchMarker } | null;
  /** Set when it rolled back. */
  failed: boolean;
}

/** Batches under way at once on PostgreSQL: one writing its shared rows, one its own, one reading. */
const PIPELINE_DEPTH = 3;

/**
 * Routes the waiting orders of one run, batch by batch. On PostgreSQL, batches overlap (up to
 * PIPELINE_DEPTH, each its own transaction): a batch starts claiming, reading and deciding as soon as
 * the one before it has decided. A batch's reads also say which earlier batches they saw committed
 * (each batch's marker is one of its decision rows), and it takes the decisions of those not yet
 * committed off the stock and capacity it read, in memory: the batches decide as they would one
 * after the other. The guards in the writes stay the safety net (a conflict decides the batch again).
 */
async function routeRun(db: Db, p: RunContext): Promise<void> {
  const depth = p.options.pipeline !== false && canRunTransactionsSideBySide(db) ? PIPELINE_DEPTH : 1;
  p.counts.pipelined ||= depth > 1;
  let afterId = 0;
  let conflictsInARow = 0;
  const inFlight: BatchInFlight[] = [];
  const failures: Array<{ error: unknown; afterId: number }> = [];
  const settleOldest = async () => {
    const batch = inFlight.shift()!;
    try {
      const outcome = await batch.finished;
      if (!outcome) return;
      const c = p.counts;
      c.approved += outcome.approved;
      c.orders += outcome.orders;
      c.linesRouted += outcome.linesRouted;
      c.linesParked += outcome.linesParked;
      c.unchanged += outcome.unchanged;
      if (failures.length === 0) conflictsInARow = 0;
      await p.options.onBatch?.(c);
    } catch (error) {
      failures.push({ error, afterId: batch.afterId });
    }
  };
  const settleAll = async () => {
    while (inFlight.length > 0) await settleOldest();
  };
  for (;;) {
    if (failures.length > 0) {
      // A batch rolled back: let the others finish, then decide again from the first one that failed.
      await settleAll();
      const other = failures.find((f) => !(f.error instanceof RoutingConflict));
      if (other) throw other.error;
      if (conflictsInARow >= MAX_CONFLICTS_PER_BATCH) throw failures[0]!.error;
      // Another worker took the stock first: decide again on fresh figures.
      p.counts.conflicts += failures.length;
      conflictsInARow += 1;
      afterId = Math.min(...failures.map((f) => f.afterId));
      failures.length = 0;
      continue;
    }
    if (p.options.signal?.aborted) {
      // Stopped (job cancelled or timed out): the batches under way still commit, or roll back on their own.
      await settleAll();
      return;
    }
    if (inFlight.length >= depth) {
      await settleOldest();
      continue;
    }
    const batch = startBatch(db, p, afterId, [...inFlight]);
    inFlight.push(batch);
    const decided = await batch.decided.catch(() => undefined);
    // Failed before deciding: the failure is collected with the others.
    if (decided === undefined) await settleAll();
    else if (decided === null) {
      await settleAll();
      if (failures.length === 0) return;
    } else afterId = decided.lastId;
  }
}

function startBatch(db: Db, p: RunContext, afterId: number, earlier: BatchInFlight[]): BatchInFlight {
  let resolveDecided!: (value: Awaited<BatchInFlight['decided']>) => void;
  let rejectDecided!: (error: unknown) => void;
  const decided = new Promise<Awaited<BatchInFlight['decided']>>((resolve, reject) => {
    resolveDecided = resolve;
    rejectDecided = reject;
  });
  const batch: BatchInFlight = { afterId, decided, finished: Promise.resolve(null), taking: null, failed: false };
  // Earlier batches that take stock: each is either seen committed by a read, or taken off after it.
  const takers = earlier.filter((b) => b.taking !== null);
  const markers = takers.map((b) => b.taking!.marker);
  batch.finished = db
    .transaction(async (tx) => {
      const now = p.options.now();
      const phases = p.counts.phases;
      let t = performance.now();
      const brokering = p.queueIds.get('brokering')!;
      const brokeringQueueId = p.queueList.includes(brokering) ? brokering : null;
      const ids = await claimOrders(
        tx,
        p.queueList,
        afterId,
        p.options.batchSize ?? 500,
        p.options.orderIds,
        brokeringQueueId,
      );
      t = timePhase(phases, 'claim', t);
      if (ids.length === 0) {
        resolveDecided(null);
        return null;
      }
      const { orders, newLineIds } = await loadOrders(tx, ids, p.queueKindById, brokeringQueueId);
      t = timePhase(phases, 'loadOrders', t);
      const read = await loadRoutingFacilities(tx, now, markers);
      const facilities = read.facilities;
      // A batch that rolled back took nothing; one not seen committed is taken off by hand.
      takers.forEach((b, i) => read.seen[i] || b.failed || takeOffCapacity(b.taking!.decisions, facilities));
      t = timePhase(phases, 'loadFacilities', t);
      const { stock, tagRules, seen } = await loadStock(
        tx,
        orders.flatMap((o) => o.lines.map((l) => l.variantId)),
        markers,
      );
      takers.forEach((b, i) => seen[i] || b.failed || takeOffStock(b.taking!.decisions, stock));
      t = timePhase(phases, 'loadStock', t);
      const all: OrderDecision[] = decide({ document: p.document, runCode: p.runCode, orders, facilities, stock, now });
      // A parked order that is still parked where it was is not news: no line update, no new trace
      // (the sweep re-tries parked orders every minute).
      const queueOf = new Map(orders.flatMap((o) => o.lines.map((l) => [l.id, l.queue] as const)));
      const decisions = all.filter(
        (d) => d.assignments.length > 0 || d.parked.some((x) => queueOf.get(x.lineId) !== x.queue),
      );
      timePhase(phases, 'decide', t);
      const first = decisions.find((d) => d.assignments.length > 0);
      batch.taking = first ? { decisions, marker: { orderId: first.orderId, at: now } } : null;
      resolveDecided({ lastId: ids.at(-1)! });
      const context = {
        now,
        versionId: p.versionId,
        trigger: p.options.trigger,
        queueIds: p.queueIds,
        facilities: new Map(facilities.map((f) => [f.id, f])),
        newLineIds,
        tagRules,
        phases,
      };
      // Own rows first (nothing shared), then the shared ones, each guarded, taken in key order.
      await writeOwnRows(tx, decisions, context);
      await takeSharedStock(tx, decisions, context);
      const outcome: BatchOutcome = {
        approved: newLineIds.size,
        orders: decisions.length,
        linesRouted: decisions.reduce((n, d) => n + d.assignments.length, 0),
        linesParked: decisions.reduce((n, d) => n + d.parked.length, 0),
        unchanged: all.length - decisions.length,
      };
      return outcome;
    })
    .catch((error: unknown) => {
      batch.failed = true;
      rejectDecided(error);
      throw error;
    });
  // Callers wait on `decided` first; a rejection seen there must not also count as unhandled here.
  batch.finished.catch(() => {});
  decided.catch(() => {});
  return batch;
}

/** Takes a not yet committed batch's reservations off stock read before it committed. */
function takeOffStock(decisions: OrderDecision[], stock: StockMap): void {
  for (const d of decisions) {
    for (const a of d.assignments) {
      const units = stock.get(a.variantId);
      const left = units?.get(a.facilityId);
      if (units && left !== undefined) {
        if (left - a.quantity > 0) units.set(a.facilityId, left - a.quantity);
        else units.delete(a.facilityId);
      }
    }
  }
}

/** Takes a not yet committed batch's orders off the capacity used today, read before it committed. */
function takeOffCapacity(decisions: OrderDecision[], facilities: RoutingFacility[]): void {
  const byId = new Map(facilities.map((f) => [f.id, f]));
  for (const d of decisions) {
    for (const facilityId of new Set(d.assignments.map((a) => a.facilityId))) {
      const f = byId.get(facilityId);
      if (f) f.usedToday += 1;
    }
  }
}

/** The decisions taken for an order, newest last, for `GET /orders/{id}/routing`. */
export async function orderRoutingHistory(db: Db, orderId: number) {
  return queryRows<{
    at: Date;
    run_code: string;
    routing: string;
    trigger: string;
    version_id: number | null;
    summary: string;
    assignments: unknown;
    parked: unknown;
    trace: unknown;
  }>(
    db,
    sql`select at, run_code, routing, trigger, version_id, summary, assignments, parked, trace from routing_decisions where order_id = ${orderId} order by at, id`,
  );
}
