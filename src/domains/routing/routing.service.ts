// Brokering: approve new lines, then route the waiting orders batch by batch under the active rules.
// Each batch is one transaction: claim orders (other workers skip them), read stock and capacity,
// decide in memory, write guarded. A failed guard (another worker took the stock first) rolls the
// batch back and decides it again on fresh figures.
import { sql } from 'drizzle-orm';
import { canRunTransactionsSideBySide, type Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { ensureQueueFacilities, type QueueKind } from '../facilities/index.js';
import { decide, type OrderDecision, type RoutingFacility, type StockMap } from './engine.js';
import { approveNewLines, claimOrders, commitDecisions, loadOrders, loadRoutingFacilities, loadStock, RoutingConflict, timePhase } from './routing.repo.js';
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
  const counts: BrokeringCounts = { runs: [], approved: 0, orders: 0, linesRouted: 0, linesParked: 0, unchanged: 0, conflicts: 0, pipelined: false, phases: {} };
  const queueIds = await ensureQueueFacilities(db);
  const queueKindById = new Map([...queueIds.entries()].map(([kind, id]) => [id, kind]));
  const { versionId, document } = await activeRules(db);
  const selection = options.runs;
  const runs =
    selection === 'all' ? document.runs
    : selection === 'arrivals' ? document.runs.filter((r) => r.schedule === CONTINUOUS)
    : selection === 'due' ? await dueRuns(db, document.runs, options.now())
    : document.runs.filter((r) => r.code === selection.code);
  if (typeof selection === 'object' && runs.length === 0) {
    throw notFound('routing.unknown_run', `The active rules have no run "${selection.code}"; runs: ${document.runs.map((r) => r.code).join(', ')}.`, { run: selection.code });
  }
  counts.runs = runs.map((r) => r.code);
  for (const run of runs) {
    const sourceQueues = new Set<QueueKind>();
    for (const routing of run.routings.filter((r) => r.enabled)) for (const q of routing.orderFilters.queues ?? ['brokering']) sourceQueues.add(q);
    const queueList = [...sourceQueues]
      .filter((q) => (SOURCE_QUEUES as readonly string[]).includes(q) && (!options.onlyQueues || options.onlyQueues.includes(q)))
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
  lastId: number;
  approved: number;
  orders: number;
  linesRouted: number;
  linesParked: number;
  unchanged: number;
}

/** A batch under way in its own transaction. */
interface BatchInFlight {
  afterId: number;
  /** Resolves once the batch has read and decided: its decisions, or null when nothing was left to claim. */
  decided: Promise<{ decisions: OrderDecision[]; lastId: number } | null>;
  /** Lets the batch commit (pipelined: once the next batch has read the stock it left). */
  allowCommit: () => void;
  /** Resolves once committed (or with null when nothing was claimed); rejects when rolled back. */
  finished: Promise<BatchOutcome | null>;
  /** Set when it rolled back. */
  failed: boolean;
}

/** The previous batch of a pipeline: what it took (not yet committed when this one reads) and its outcome. */
interface PreviousBatch {
  decisions: OrderDecision[];
  finished: Promise<BatchOutcome | null>;
}

class PreviousBatchFailed extends Error {}

/**
 * Routes the waiting orders of one run, batch by batch. On PostgreSQL, batches overlap: while batch N
 * writes, batch N+1 (its own transaction) claims, reads and decides. N+1 reads before N commits (N's
 * commit waits for N+1's reads), so it sees the stock and capacity without N's reservations and takes
 * N's decisions off in memory; it writes only after N committed, and is rolled back if N was.
 */
async function routeRun(db: Db, p: RunContext): Promise<void> {
  const pipelined = p.options.pipeline !== false && canRunTransactionsSideBySide(db);
  p.counts.pipelined ||= pipelined;
  let afterId = 0;
  let previous: (BatchInFlight & PreviousBatch) | null = null;
  let conflictsInARow = 0;
  const settle = (outcome: BatchOutcome) => {
    const c = p.counts;
    c.approved += outcome.approved;
    c.orders += outcome.orders;
    c.linesRouted += outcome.linesRouted;
    c.linesParked += outcome.linesParked;
    c.unchanged += outcome.unchanged;
    conflictsInARow = 0;
  };
  for (;;) {
    if (p.options.signal?.aborted) {
      // Stopped (job cancelled or timed out): the batch under way still commits, or rolls back on its own.
      previous?.allowCommit();
      await previous?.finished.then((outcome) => settle(outcome!)).catch(() => {});
      return;
    }
    const current = startBatch(db, p, afterId, pipelined ? previous : null);
    if (!pipelined) current.allowCommit();
    let decided: Awaited<BatchInFlight['decided']>;
    try {
      decided = await current.decided;
    } catch (error) {
      // This batch could not read: let the previous one finish, then give up.
      previous?.allowCommit();
      await previous?.finished.then((outcome) => settle(outcome!)).catch(() => {});
      throw error;
    }
    // This batch has read: the previous one may commit.
    previous?.allowCommit();
    let failure: unknown = null;
    if (previous) {
      try {
        settle((await previous.finished)!);
        await p.options.onBatch?.(p.counts);
      } catch (error) {
        failure = error;
      }
    }
    if (failure !== null || !pipelined || decided === null) {
      if (decided !== null) current.allowCommit();
      // Without a pipeline, or at the end, or when the previous batch failed (this one then rolls back).
      try {
        const outcome = await current.finished;
        if (outcome) {
          settle(outcome);
          await p.options.onBatch?.(p.counts);
        }
      } catch (error) {
        if (failure === null) failure = error;
      }
    }
    if (failure !== null) {
      if (!(failure instanceof RoutingConflict) || conflictsInARow >= MAX_CONFLICTS_PER_BATCH) throw failure;
      // Another worker took the stock first: decide the failed batch again, on fresh figures.
      p.counts.conflicts += 1;
      conflictsInARow += 1;
      afterId = previous?.failed ? previous.afterId : current.afterId;
      previous = null;
      continue;
    }
    if (decided === null) return;
    afterId = decided.lastId;
    previous = pipelined ? Object.assign(current, { decisions: decided.decisions }) : null;
  }
}

function startBatch(db: Db, p: RunContext, afterId: number, previous: PreviousBatch | null): BatchInFlight {
  let resolveDecided!: (value: Awaited<BatchInFlight['decided']>) => void;
  let rejectDecided!: (error: unknown) => void;
  const decided = new Promise<Awaited<BatchInFlight['decided']>>((resolve, reject) => {
    resolveDecided = resolve;
    rejectDecided = reject;
  });
  let allowCommit!: () => void;
  const commitAllowed = new Promise<void>((resolve) => (allowCommit = resolve));
  const batch: BatchInFlight = { afterId, decided, allowCommit, finished: Promise.resolve(null), failed: false };
  batch.finished = db
    .transaction(async (tx) => {
      const now = p.options.now();
      const phases = p.counts.phases;
      let t = performance.now();
      const brokering = p.queueIds.get('brokering')!;
      const brokeringQueueId = p.queueList.includes(brokering) ? brokering : null;
      const ids = await claimOrders(tx, p.queueList, afterId, p.options.batchSize ?? 500, p.options.orderIds, brokeringQueueId);
      t = timePhase(phases, 'claim', t);
      if (ids.length === 0) {
        resolveDecided(null);
        return null;
      }
      const { orders, newLineIds } = await loadOrders(tx, ids, p.queueKindById, brokeringQueueId);
      t = timePhase(phases, 'loadOrders', t);
      const facilities = await loadRoutingFacilities(tx, now);
      t = timePhase(phases, 'loadFacilities', t);
      const { stock, tagRules } = await loadStock(tx, orders.flatMap((o) => o.lines.map((l) => l.variantId)));
      t = timePhase(phases, 'loadStock', t);
      // Read before the previous batch committed: take off what it reserved and the capacity it used.
      if (previous) takeOff(previous.decisions, stock, facilities);
      const all: OrderDecision[] = decide({ document: p.document, runCode: p.runCode, orders, facilities, stock, now });
      // A parked order that is still parked where it was is not news: no line update, no new trace
      // (the sweep re-tries parked orders every minute).
      const queueOf = new Map(orders.flatMap((o) => o.lines.map((l) => [l.id, l.queue] as const)));
      const decisions = all.filter((d) => d.assignments.length > 0 || d.parked.some((x) => queueOf.get(x.lineId) !== x.queue));
      t = timePhase(phases, 'decide', t);
      resolveDecided({ decisions, lastId: ids.at(-1)! });
      if (previous) {
        try {
          await previous.finished;
        } catch {
          throw new PreviousBatchFailed('the previous batch was rolled back');
        }
        t = timePhase(phases, 'waitPrevious', t);
      }
      await commitDecisions(tx, decisions, {
        now,
        versionId: p.versionId,
        trigger: p.options.trigger,
        queueIds: p.queueIds,
        facilities: new Map(facilities.map((f) => [f.id, f])),
        newLineIds,
        tagRules,
        phases,
      });
      t = performance.now();
      await commitAllowed;
      timePhase(phases, 'waitNextRead', t);
      const outcome: BatchOutcome = {
        lastId: ids.at(-1)!,
        approved: newLineIds.size,
        orders: decisions.length,
        linesRouted: decisions.reduce((n, d) => n + d.assignments.length, 0),
        linesParked: decisions.reduce((n, d) => n + d.parked.length, 0),
        unchanged: all.length - decisions.length,
      };
      return outcome;
    })
    .catch((error: unknown) => {
      rejectDecided(error);
      batch.failed = true;
      throw error;
    });
  // Callers wait on `decided` first; a rejection seen there must not also count as unhandled here.
  batch.finished.catch(() => {});
  decided.catch(() => {});
  return batch;
}

/** Takes a not yet committed batch's reservations and capacity off figures read before it committed. */
function takeOff(decisions: OrderDecision[], stock: StockMap, facilities: RoutingFacility[]): void {
  const byId = new Map(facilities.map((f) => [f.id, f]));
  for (const d of decisions) {
    for (const a of d.assignments) {
      const units = stock.get(a.variantId);
      const left = units?.get(a.facilityId);
      if (units && left !== undefined) {
        if (left - a.quantity > 0) units.set(a.facilityId, left - a.quantity);
        else units.delete(a.facilityId);
      }
    }
    for (const facilityId of new Set(d.assignments.map((a) => a.facilityId))) {
      const f = byId.get(facilityId);
      if (f) f.usedToday += 1;
    }
  }
}

/** The decisions taken for an order, newest last, for `GET /orders/{id}/routing`. */
export async function orderRoutingHistory(db: Db, orderId: number) {
  return queryRows<{ at: Date; run_code: string; routing: string; trigger: string; version_id: number | null; summary: string; assignments: unknown; parked: unknown; trace: unknown }>(
    db,
    sql`select at, run_code, routing, trigger, version_id, summary, assignments, parked, trace from routing_decisions where order_id = ${orderId} order by at, id`,
  );
}
