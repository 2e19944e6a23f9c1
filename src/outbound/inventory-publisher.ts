// Publishes available-to-promise to Shopify without ever overwriting Shopify's own changes.
//
// For each variant × published location: read Shopify's level (available, committed), work out how
// many committed units belong to orders Switchyard has not downloaded yet (Shopify's committed minus
// the open units Switchyard knows), hold those back from the target, and set `available` with
// compare-and-set on the value just read. If Shopify moved in between, the whole call is refused
// (CHANGE_FROM_QUANTITY_STALE): those items are read and reconciled again, never blindly re-sent.
// Every call carries an @idempotent key, so a retried call applies once. The call is logged as
// `sending` before it goes out: if its answer is lost (a worker killed, a connection dropped), the
// next publish sends it again under the same key to learn whether Shopify applied it, before it
// decides anything for those levels (the on-hand base must count Switchyard's own moves exactly).
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { queryRows } from '../platform/db/rows.js';
import type { Logger } from '../platform/logger.js';
import {
  claimChangedVariants,
  desiredAvailable,
  freeLeasesOfGoneProcesses,
  markChanged,
  publishedPairs,
  publishTargets,
  releaseClaims,
  type PublishPair,
} from '../domains/inventory/index.js';
import type { JobContext } from '../platform/jobs/job.types.js';
import { isGoneLocalProcess, THIS_PROCESS } from '../platform/processes.js';
import {
  recordDifference,
  saveSnapshot,
  shadowNoteSent,
  shadowsOf,
  shadowTookPush,
  type PushedQuantity,
  type SnapshotRow,
} from './shadow.js';
import type { ShopifyClient } from '../shopify/client.js';
import { InventoryLevelsByIds, InventorySetQuantities, type InventoryLevelNode } from '../shopify/operations.js';
import { runBulkMutation, type BulkFinishSignals } from '../shopify/bulk-runner.js';
import { AppError } from '../platform/errors.js';

export interface PublishSettings {
  /** Quantities per inventorySetQuantities call (Shopify accepts at most 250). */
  batchSize: number;
  /** Levels per read. */
  readBatchSize: number;
  /** Read-and-reconcile rounds after a stale compare-and-set before leaving the rest for the next run. */
  maxRounds: number;
  /** How long a drop in Shopify's on hand may wait for its POS order before it is taken for an edit in Shopify. */
  unexplainedGraceMs: number;
  /** From this many quantities on, a publish goes as one bulk mutation (staged upload) instead of calls. */
  bulkThreshold: number;
}

export const DEFAULT_PUBLISH_SETTINGS: PublishSettings = {
  batchSize: 250,
  readBatchSize: 100,
  maxRounds: 3,
  unexplainedGraceMs: 30 * 60_000,
  bulkThreshold: 2500,
};

type Pair = PublishPair;

export interface PairDecision extends Pair {
  target: number;
  shopifyAvailable: number | null;
  shopifyCommitted: number | null;
  knownCommitted: number;
  /** Committed units of orders not yet downloaded, held back from the target. */
  heldBack: number;
  /** Units gone from Shopify's on hand that no known sale explains yet, held back too. */
  unexplainedSale: number;
  desired: number | null;
}

export interface PublishOutcome {
  variants: number;
  pairs: number;
  unchanged: number;
  pushed: number;
  stale: number;
  missingLevels: number;
  calls: number;
}

const levelGid = (locationId: string, itemId: string) =>
  `gid://shopify/InventoryLevel/${locationId.split('/').pop()}?inventory_item_id=${itemId.split('/').pop()}`;

async function readLevels(
  shopify: ShopifyClient,
  pairs: Pair[],
  readBatchSize: number,
  counter: { calls: number },
): Promise<Map<string, InventoryLevelNode>> {
  const found = new Map<string, InventoryLevelNode>();
  for (let i = 0; i < pairs.length; i += readBatchSize) {
    const ids = pairs.slice(i, i + readBatchSize).map((p) => levelGid(p.locationId, p.itemId));
    counter.calls++;
    const data = await shopify.request(InventoryLevelsByIds, { ids });
    for (const node of data.nodes) if (node) found.set(`${node.item.id}|${node.location.id}`, node);
  }
  return found;
}

const quantityOf = (node: InventoryLevelNode, name: string) =>
  node.quantities.find((q) => q.name === name)?.quantity ?? 0;

/**
 * Decides what each pair should show in Shopify. Pairs of variants in `readVariants` (Shopify may have
 * changed them) or without a shadow are read first; the others start from the shadow (what Shopify
 * last confirmed), and the compare-and-set tells if Shopify moved since.
 */
export async function decide(
  db: Db,
  shopify: ShopifyClient,
  pairs: Pair[],
  readVariants: Set<number> | 'all',
  settings: PublishSettings,
  counter: { calls: number },
  now: Date,
  /** Single `variantId|locationId` pairs to read (a level webhook named them). */
  readPairs: ReadonlySet<string> = new Set(),
): Promise<PairDecision[]> {
  const shadows = await shadowsOf(db, pairs);
  const key = (p: Pair) => `${p.itemId}|${p.locationId}`;
  const toRead = pairs.filter(
    (p) =>
      readVariants === 'all' ||
      readVariants.has(p.variantId) ||
      readPairs.has(`${p.variantId}|${p.locationId}`) ||
      shadows.get(key(p))?.baseOnHand == null,
  );
  const [targets, levels] = await Promise.all([
    publishTargets(db, pairs),
    readLevels(shopify, toRead, settings.readBatchSize, counter),
  ]);
  const read = new Set(toRead.map(key));
  const decisions: PairDecision[] = [];
  const snapshot: SnapshotRow[] = [];
  for (const pair of targets) {
    const shadow = shadows.get(key(pair));
    const level = levels.get(key(pair));
    const fresh = read.has(key(pair));
    if (fresh && !level) {
      decisions.push({
        ...pair,
        shopifyAvailable: null,
        shopifyCommitted: null,
        heldBack: 0,
        unexplainedSale: 0,
        desired: null,
      });
      continue;
    }
    const available = level ? quantityOf(level, 'available') : shadow!.available;
    const committed = level ? quantityOf(level, 'committed') : shadow!.committed;
    const onHand = level ? quantityOf(level, 'on_hand') : shadow!.onHand;
    // Units that left a store's shelf in Shopify without Switchyard knowing why yet (a POS sale whose
    // order is still on its way): held back, not re-published, until the order explains them. Only
    // stores sell at a counter; at the aggregate location a lower on hand (a cancellation without
    // restock, a fulfilment) leaves `available` alone. Returns restocked there since the base are
    // known too: Shopify's on hand rose by them, so a sale they hide is still seen.
    const base = pair.mode === 'mirror' ? shadow : undefined;
    let unexplained = base && base.baseOnHand !== null ? base.baseOnHand - base.learned - onHand : 0;
    let row: SnapshotRow = {
      item: pair.itemId,
      location: pair.locationId,
      available,
      onHand,
      committed,
      levelUpdatedAt: level ? new Date(level.updatedAt) : null,
      rebase: true,
      baseMoves: shadow?.baseMoves ?? 0,
      unexplainedSince: null,
    };
    if (unexplained > 0) {
      const since = base?.unexplainedSince ?? now;
      if (fresh && now.getTime() - since.getTime() > settings.unexplainedGraceMs) {
        await recordDifference(
          db,
          pair,
          onHand + unexplained,
          onHand,
          'on_hand_lower_in_shopify: no sale arrived to explain it; taken for an edit in Shopify admin',
          'corrected',
          now,
        );
        unexplained = 0;
      } else {
        row = { ...row, rebase: false, unexplainedSince: since };
      }
    }
    const { heldBack, desired } = desiredAvailable(pair.target, committed, pair.knownCommitted);
    const pendingSale = Math.max(0, unexplained);
    decisions.push({
      ...pair,
      shopifyAvailable: available,
      shopifyCommitted: committed,
      heldBack,
      unexplainedSale: pendingSale,
      desired: Math.max(0, desired - pendingSale),
    });
    if (fresh) snapshot.push(row);
  }
  await saveSnapshot(db, snapshot, now);
  return decisions;
}

/** Decides and pushes for these variants (reading Shopify where needed); returns what happened. */
export async function publishVariants(
  deps: {
    db: Db;
    shopify: ShopifyClient;
    logger: Logger;
    now: () => Date;
    settings?: PublishSettings;
    signals?: BulkFinishSignals | undefined;
  },
  variantIds: number[],
  readVariants: Set<number> | 'all' = new Set(),
  readPairs: ReadonlySet<string> = new Set(),
): Promise<PublishOutcome> {
  const settings = deps.settings ?? DEFAULT_PUBLISH_SETTINGS;
  const counter = { calls: 0 };
  const outcome: PublishOutcome = {
    variants: variantIds.length,
    pairs: 0,
    unchanged: 0,
    pushed: 0,
    stale: 0,
    missingLevels: 0,
    calls: 0,
  };
  // A level whose last call is still under way elsewhere waits for its answer (left for the next run).
  const unsettled = await settleUnknownPushes(deps);
  let pending = await publishedPairs(deps.db, variantIds);
  outcome.pairs = pending.length;
  const waiting = pending.filter((p) => unsettled.has(`${p.itemId}|${p.locationId}`));
  if (waiting.length > 0) pending = pending.filter((p) => !unsettled.has(`${p.itemId}|${p.locationId}`));
  for (let round = 0; round < settings.maxRounds && pending.length > 0; round++) {
    // After a refused compare-and-set, Shopify moved: read those items, never resend blindly.
    const decisions = await decide(
      deps.db,
      deps.shopify,
      pending,
      round === 0 ? readVariants : 'all',
      settings,
      counter,
      deps.now(),
      round === 0 ? readPairs : new Set(),
    );
    const missing = decisions.filter((d) => d.desired === null).length;
    const changes = decisions.filter((d) => d.desired !== null && d.desired !== d.shopifyAvailable);
    outcome.missingLevels += missing;
    outcome.unchanged += decisions.length - changes.length - missing;
    let staleAgain: Pair[] = [];
    if (changes.length >= settings.bulkThreshold) {
      // Large publishes go as one bulk mutation; if Shopify refuses one (its bulk limit), call by call.
      try {
        counter.calls += 3;
        const stale = await pushBulk(deps, changes, settings.batchSize);
        outcome.pushed += changes.length - stale.length;
        outcome.stale += stale.length;
        staleAgain = stale;
        pending = staleAgain;
        continue;
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'shopify.bulk_refused')) throw error;
        deps.logger.warn({ err: error }, 'bulk mutation refused; publishing call by call');
      }
    }
    for (let i = 0; i < changes.length; i += settings.batchSize) {
      const batch = changes.slice(i, i + settings.batchSize);
      counter.calls++;
      const accepted = await pushBatch(deps, batch);
      if (accepted) outcome.pushed += batch.length;
      else {
        outcome.stale += batch.length;
        staleAgain.push(...batch);
      }
    }
    pending = staleAgain;
  }
  outcome.calls = counter.calls;
  if (pending.length + waiting.length > 0)
    throw new PublishIncomplete([...new Set([...pending, ...waiting].map((p) => p.variantId))], outcome);
  return outcome;
}

export class PublishIncomplete extends Error {
  constructor(
    readonly variantIds: number[],
    readonly outcome: PublishOutcome,
  ) {
    super(
      `${variantIds.length} variant(s) kept changing in Shopify during ${DEFAULT_PUBLISH_SETTINGS.maxRounds} read-and-reconcile rounds, or wait for the answer to a call still under way; left for the next run`,
    );
  }
}

type Quantity = PushedQuantity;
/** `not_applied`: Shopify says an earlier attempt under this key failed, so nothing was applied. */
type PushOutcome = 'accepted' | 'stale' | 'not_applied' | 'failed';

const quantitiesOf = (batch: PairDecision[]): Quantity[] =>
  batch.map((d) => ({
    inventoryItemId: d.itemId,
    locationId: d.locationId,
    quantity: d.desired!,
    changeFromQuantity: d.shopifyAvailable!,
  }));
// A fresh key per attempt: the client's own retries of a call reuse it (applied once), while a later
// publish of the same figures is a new change, not a replay.
const newKey = () => `switchyard-publish-${randomUUID()}`;
const inputOf = (key: string, quantities: Quantity[]) => ({
  name: 'available' as const,
  reason: 'correction',
  referenceDocumentUri: `switchyard://inventory/publish/${key}`,
  quantities,
});

function outcomeOf(errors: Array<{ code: string | null }>): PushOutcome {
  if (errors.length === 0) return 'accepted';
  // A call sent again under its key (its answer was lost) whose first attempt went stale or was refused.
  if (errors.some((e) => e.code === 'IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED')) return 'not_applied';
  return errors.every((e) => e.code === 'CHANGE_FROM_QUANTITY_STALE') ? 'stale' : 'failed';
}

/** Shopify answered: the log row says so and, on acceptance, the shadow takes the push (`shadowTookPush`). */
async function recordPush(
  db: Db,
  push: {
    logId: number;
    outcome: PushOutcome;
    quantities: Quantity[];
    response: Record<string, unknown>;
    durationMs: number;
  },
  now: Date,
): Promise<void> {
  await db.transaction(async (tx) => {
    // Only a row still `sending`: two publishers settling the same lost call apply it once.
    const updated = await queryRows<{ id: number }>(
      tx,
      sql`update inventory_publish_log set outcome = ${push.outcome}, response = ${JSON.stringify(push.response)}::jsonb, duration_ms = ${Math.round(push.durationMs)}
          where id = ${push.logId} and outcome = 'sending' returning id`,
    );
    if (updated.length === 0 || push.outcome !== 'accepted') return;
    await shadowTookPush(tx, push.quantities, now);
  });
}

/**
 * Logs the calls about to be sent as `sending` and notes the values on the shadow, before sending:
 * a crash leaves the rows for `settleUnknownPushes`, and Shopify's level webhooks for these values,
 * which may arrive before the answer, are recognised as the echo of this push (the webhook handler).
 */
async function noteAttempt(
  db: Db,
  method: 'set' | 'bulk',
  calls: Array<{ key: string; quantities: Quantity[] }>,
  now: Date,
): Promise<number[]> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ id: number; key: string }>(
      tx,
      sql`insert into inventory_publish_log (at, method, idempotency_key, outcome, quantities, holder)
          select ${now}, ${method}, c.key, 'sending', c.quantities, ${THIS_PROCESS}
          from jsonb_to_recordset(${JSON.stringify(calls)}::jsonb) as c(key text, quantities jsonb)
          returning id, idempotency_key as key`,
    );
    const ids = new Map(rows.map((r) => [r.key, r.id]));
    const quantities = calls.flatMap((c) => c.quantities);
    await shadowNoteSent(tx, quantities, now);
    return calls.map((c) => ids.get(c.key)!);
  });
}

/** Keys of calls this process has under way (a `sending` row of its own not here lost its answer). */
const inFlight = new Set<string>();

/** A `sending` call from elsewhere that old lost its answer even if its process lives (another machine). */
const SENDING_GIVE_UP_MS = 10 * 60_000;

/**
 * Calls whose answer was lost (their process was killed, or the connection dropped after Shopify
 * took them) are sent again under the same key: Shopify answers what it did the first time, or
 * applies the call now if it never arrived (compare-and-set still guards it), or says the first
 * attempt failed. Each outcome is recorded as if the answer had come; the variants are read again.
 * Returns the levels (`item|location`) named by calls still `sending`: under way, not settled yet.
 */
export async function settleUnknownPushes(deps: {
  db: Db;
  shopify: ShopifyClient;
  logger: Logger;
  now: () => Date;
}): Promise<Set<string>> {
  const rows = await queryRows<{
    id: number;
    at: Date;
    idempotency_key: string;
    quantities: Quantity[];
    holder: string | null;
  }>(
    deps.db,
    sql`select id, at, idempotency_key, quantities, holder from inventory_publish_log where outcome = 'sending' order by id`,
  );
  const lost = rows.filter(
    (r) =>
      (r.holder === THIS_PROCESS && !inFlight.has(r.idempotency_key)) ||
      (r.holder !== null && isGoneLocalProcess(r.holder)) ||
      deps.now().getTime() - r.at.getTime() > SENDING_GIVE_UP_MS,
  );
  const stillSending = rows.filter((r) => !lost.includes(r));
  for (const row of lost) {
    const started = Date.now();
    const data = await deps.shopify.request(InventorySetQuantities, {
      key: row.idempotency_key,
      input: inputOf(row.idempotency_key, row.quantities),
    });
    const errors = data.inventorySetQuantities.userErrors;
    // Still under way at Shopify: its answer is for a later run.
    if (errors.some((e) => e.code === 'IDEMPOTENCY_CONCURRENT_REQUEST')) {
      stillSending.push(row);
      continue;
    }
    const outcome = outcomeOf(errors);
    await recordPush(
      deps.db,
      {
        logId: row.id,
        outcome,
        quantities: row.quantities,
        response: { userErrors: errors, settledAfterLostAnswer: true },
        durationMs: Date.now() - started,
      },
      deps.now(),
    );
    const variants = await queryRows<{ id: number }>(
      deps.db,
      sql`select id from variants where shopify_inventory_item_id = any(${sql`array[${sql.join(
        [...new Set(row.quantities.map((q) => q.inventoryItemId))].map((i) => sql`${i}`),
        sql`, `,
      )}]::text[]`})`,
    );
    await markChanged(
      deps.db,
      variants.map((v) => v.id),
      deps.now(),
      { needsRead: true },
    );
    deps.logger.info(
      { key: row.idempotency_key, outcome, levels: row.quantities.length },
      'settled an inventory push whose answer was lost',
    );
  }
  return new Set(stillSending.flatMap((r) => r.quantities.map((q) => `${q.inventoryItemId}|${q.locationId}`)));
}

/** One compare-and-set call. True when Shopify took it; false when nothing applied (a value had moved). */
async function pushBatch(
  deps: { db: Db; shopify: ShopifyClient; now: () => Date },
  batch: PairDecision[],
): Promise<boolean> {
  const quantities = quantitiesOf(batch);
  const key = newKey();
  const [logId] = await noteAttempt(deps.db, 'set', [{ key, quantities }], deps.now());
  const started = Date.now();
  inFlight.add(key);
  let data;
  try {
    data = await deps.shopify.request(InventorySetQuantities, { key, input: inputOf(key, quantities) });
  } finally {
    // No answer: the row stays `sending`, settled by the next publish.
    inFlight.delete(key);
  }
  const errors = data.inventorySetQuantities.userErrors;
  // Not applied (the client re-sent it after a lost answer and the first attempt had failed): read
  // and decide again, as for stale.
  const outcome = outcomeOf(errors);
  await recordPush(
    deps.db,
    { logId: logId!, outcome, quantities, response: { userErrors: errors }, durationMs: Date.now() - started },
    deps.now(),
  );
  if (outcome === 'failed')
    throw new Error(
      `Shopify refused an inventory push: ${errors.map((e) => `${e.code ?? ''} ${e.message}`).join('; ')}`,
    );
  return outcome === 'accepted';
}

/**
 * Many batches as one bulk mutation (a JSONL of variables through a staged upload): the same
 * compare-and-set per line, a fraction of the calls. Returns the decisions whose line went stale.
 */
async function pushBulk(
  deps: { db: Db; shopify: ShopifyClient; now: () => Date; signals?: BulkFinishSignals | undefined },
  changes: PairDecision[],
  batchSize: number,
): Promise<PairDecision[]> {
  const lines: Array<{ key: string; batch: PairDecision[]; quantities: Quantity[] }> = [];
  for (let i = 0; i < changes.length; i += batchSize) {
    const batch = changes.slice(i, i + batchSize);
    lines.push({ key: newKey(), batch, quantities: quantitiesOf(batch) });
  }
  const logIds = await noteAttempt(deps.db, 'bulk', lines, deps.now());
  const started = Date.now();
  for (const line of lines) inFlight.add(line.key);
  let results;
  try {
    results = await runBulkMutation(
      deps.shopify,
      InventorySetQuantities.document,
      lines.map((l) => ({ key: l.key, input: inputOf(l.key, l.quantities) })),
      deps.signals ? { signals: deps.signals } : {},
    );
  } catch (error) {
    // Refused before it ran (Shopify's bulk limit): nothing was applied, and the caller sends call by call.
    if (error instanceof AppError && error.code === 'shopify.bulk_refused') {
      for (const [index, line] of lines.entries()) {
        await recordPush(
          deps.db,
          {
            logId: logIds[index]!,
            outcome: 'not_applied',
            quantities: line.quantities,
            response: { error: error.message },
            durationMs: Date.now() - started,
          },
          deps.now(),
        );
      }
    }
    throw error;
  } finally {
    for (const line of lines) inFlight.delete(line.key);
  }
  const stale: PairDecision[] = [];
  const failures: string[] = [];
  let unanswered = 0;
  for (const [index, line] of lines.entries()) {
    const result = results.get(index) as
      | {
          data?: { inventorySetQuantities?: { userErrors: Array<{ code: string | null; message: string }> } };
          errors?: Array<{ message: string }>;
        }
      | undefined;
    // A line the result file does not answer stays `sending`: the next publish asks Shopify under its key.
    if (!result) {
      unanswered++;
      continue;
    }
    const errors = result.data?.inventorySetQuantities?.userErrors ?? [
      { code: null, message: result.errors?.map((e) => e.message).join('; ') ?? 'no answer for this line' },
    ];
    const outcome = outcomeOf(errors);
    await recordPush(
      deps.db,
      {
        logId: logIds[index]!,
        outcome,
        quantities: line.quantities,
        response: { userErrors: errors },
        durationMs: Date.now() - started,
      },
      deps.now(),
    );
    if (outcome === 'stale' || outcome === 'not_applied') stale.push(...line.batch);
    if (outcome === 'failed') failures.push(errors.map((e) => e.message).join('; '));
  }
  if (failures.length > 0) throw new Error(`Shopify refused ${failures.length} bulk inventory line(s): ${failures[0]}`);
  if (unanswered > 0)
    throw new Error(
      `the bulk mutation's result has no answer for ${unanswered} of ${lines.length} line(s); they are asked again under their keys`,
    );
  return stale;
}

/**
 * One publish run: takes the marked variants under a lease, in rounds of up to 10,000, publishes them
 * and gives the marks back (kept, read next time, when a publish did not finish).
 */
export async function publishChangedVariants(
  ctx: JobContext,
  shopify: ShopifyClient,
  settings: PublishSettings,
): Promise<void> {
  ctx.count('leases_freed', await freeLeasesOfGoneProcesses(ctx.db, ctx.clock.now()));
  while (!ctx.signal.aborted) {
    const claims = await claimChangedVariants(ctx.db, ctx.clock.now(), 10_000);
    if (claims.length === 0) break;
    try {
      // Read Shopify where it may have moved: every location of a variant, or the one a level webhook named.
      const readVariants = new Set(
        claims.filter((c) => c.needsRead && c.readLocations === null).map((c) => c.variantId),
      );
      const readPairs = new Set(
        claims.flatMap((c) =>
          c.needsRead && c.readLocations ? c.readLocations.map((l) => `${c.variantId}|${l}`) : [],
        ),
      );
      const outcome = await publishVariants(
        { db: ctx.db, shopify, logger: ctx.log, now: () => ctx.clock.now(), settings },
        claims.map((c) => c.variantId),
        readVariants,
        readPairs,
      );
      for (const [k, v] of Object.entries(outcome)) ctx.count(k, v);
      await releaseClaims(ctx.db, claims, true);
    } catch (error) {
      if (error instanceof PublishIncomplete) {
        const left = new Set(error.variantIds);
        for (const [k, v] of Object.entries(error.outcome)) ctx.count(k, v);
        await releaseClaims(
          ctx.db,
          claims.filter((c) => !left.has(c.variantId)),
          true,
        );
        await releaseClaims(
          ctx.db,
          claims.filter((c) => left.has(c.variantId)),
          false,
          new Date(ctx.clock.now().getTime() + 5000),
        );
        ctx.log.warn({ variants: error.variantIds.length }, error.message);
        continue;
      }
      // Shopify unavailable or a bug: the marks stay and come back after a pause.
      await releaseClaims(ctx.db, claims, false, new Date(ctx.clock.now().getTime() + 30_000));
      throw error;
    }
  }
}
