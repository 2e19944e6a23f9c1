// Brokering: approve new lines, then route the waiting orders batch by batch under the active rules.
// Each batch is one transaction: claim orders (other workers skip them), read stock and capacity,
// decide in memory, write guarded. A failed guard (another worker took the stock first) rolls the
// batch back and decides it again on fresh figures.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { ensureQueueFacilities, type QueueKind } from '../facilities/index.js';
import { decide, type OrderDecision } from './engine.js';
import { approveNewLines, claimOrders, commitDecisions, loadOrders, loadRoutingFacilities, loadStock, RoutingConflict } from './routing.repo.js';
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
}

const MAX_CONFLICTS_PER_BATCH = 20;

export async function runBrokering(db: Db, options: BrokeringOptions): Promise<BrokeringCounts> {
  const counts: BrokeringCounts = { runs: [], approved: 0, orders: 0, linesRouted: 0, linesParked: 0, unchanged: 0, conflicts: 0 };
  const queueIds = await ensureQueueFacilities(db);
  const queueKindById = new Map([...queueIds.entries()].map(([kind, id]) => [id, kind]));
  counts.approved = await approveNewLines(db, queueIds.get('brokering')!, options.now(), options.orderIds);
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
    let afterId = 0;
    for (;;) {
      if (options.signal?.aborted) return counts;
      const batch = await routeBatch(db, { document, versionId, runCode: run.code, queueIds, queueKindById, queueList, afterId, options, counts });
      if (batch === null) break;
      afterId = batch;
      await options.onBatch?.(counts);
    }
  }
  return counts;
}

/** One batch; returns the highest order id it claimed, or null when nothing was left. */
async function routeBatch(
  db: Db,
  p: {
    document: RuleDocument;
    versionId: number | null;
    runCode: string;
    queueIds: Map<QueueKind, number>;
    queueKindById: Map<number, QueueKind>;
    queueList: number[];
    afterId: number;
    options: BrokeringOptions;
    counts: BrokeringCounts;
  },
): Promise<number | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(async (tx) => {
        const now = p.options.now();
        const ids = await claimOrders(tx, p.queueList, p.afterId, p.options.batchSize ?? 500, p.options.orderIds);
        if (ids.length === 0) return null;
        const orders = await loadOrders(tx, ids, p.queueKindById);
        const facilities = await loadRoutingFacilities(tx, now);
        const { stock, safety } = await loadStock(tx, orders.flatMap((o) => o.lines.map((l) => l.variantId)));
        const decided: OrderDecision[] = decide({ document: p.document, runCode: p.runCode, orders, facilities, stock, now });
        // A parked order that is still parked where it was is not news: no line update, no new trace
        // (the sweep re-tries parked orders every minute).
        const queueOf = new Map(orders.flatMap((o) => o.lines.map((l) => [l.id, l.queue] as const)));
        const decisions = decided.filter((d) => d.assignments.length > 0 || d.parked.some((x) => queueOf.get(x.lineId) !== x.queue));
        p.counts.unchanged += decided.length - decisions.length;
        await commitDecisions(tx, decisions, {
          now,
          versionId: p.versionId,
          trigger: p.options.trigger,
          queueIds: p.queueIds,
          facilities: new Map(facilities.map((f) => [f.id, f])),
          safety,
        });
        p.counts.orders += decisions.length;
        p.counts.linesRouted += decisions.reduce((n, d) => n + d.assignments.length, 0);
        p.counts.linesParked += decisions.reduce((n, d) => n + d.parked.length, 0);
        return ids.at(-1)!;
      });
    } catch (error) {
      if (!(error instanceof RoutingConflict) || attempt >= MAX_CONFLICTS_PER_BATCH) throw error;
      p.counts.conflicts += 1;
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
