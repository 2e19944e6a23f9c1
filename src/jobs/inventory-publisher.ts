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
import { intArray, queryRows } from '../platform/db/rows.js';
import type { Logger } from '../platform/logger.js';
import { desiredAvailable, markChanged, publishedPairs, publishTargets, type PublishPair } from '../domains/inventory/index.js';
import { isGoneLocalProcess, THIS_PROCESS } from '../platform/processes.js';
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

export const DEFAULT_PUBLISH_SETTINGS: PublishSettings = { batchSize: 250, readBatchSize: 100, maxRounds: 3, unexplainedGraceMs: 30 * 60_000, bulkThreshold: 2500 };

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

const levelGid = (locationId: string, itemId: string) => `gid://shopify/InventoryLevel/${locationId.split('/').pop()}?inventory_item_id=${itemId.split('/').pop()}`;

async function readLevels(shopify: ShopifyClient, pairs: Pair[], readBatchSize: number, counter: { calls: number }): Promise<Map<string, InventoryLevelNode>> {
  const found = new Map<string, InventoryLevelNode>();
  for (let i = 0; i < pairs.length; i += readBatchSize) {
    const ids = pairs.slice(i, i + readBatchSize).map((p) => levelGid(p.locationId, p.itemId));
    counter.calls++;
    const data = await shopify.request(InventoryLevelsByIds, { ids });
    for (const node of data.nodes) if (node) found.set(`${node.item.id}|${node.location.id}`, node);
  }
  return found;
}

const quantityOf = (node: InventoryLevelNode, name: string) => node.quantities.find((q) => q.name === name)?.quantity ?? 0;

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
  const toRead = pairs.filter((p) => readVariants === 'all' || readVariants.has(p.variantId) || readPairs.has(`${p.variantId}|${p.locationId}`) || shadows.get(key(p))?.baseOnHand == null);
  const [targets, levels] = await Promise.all([publishTargets(db, pairs), readLevels(shopify, toRead, settings.readBatchSize, counter)]);
  const read = new Set(toRead.map(key));
  const decisions: PairDecision[] = [];
  const snapshot: SnapshotRow[] = [];
  for (const pair of targets) {
    const shadow = shadows.get(key(pair));
    const level = levels.get(key(pair));
    const fresh = read.has(key(pair));
    if (fresh && !level) {
      decisions.push({ ...pair, shopifyAvailable: null, shopifyCommitted: null, heldBack: 0, unexplainedSale: 0, desired: null });
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
        await recordDifference(db, pair, onHand + unexplained, onHand, 'on_hand_lower_in_shopify: no sale arrived to explain it; taken for an edit in Shopify admin', 'corrected', now);
        unexplained = 0;
      } else {
        row = { ...row, rebase: false, unexplainedSince: since };
      }
    }
    const { heldBack, desired } = desiredAvailable(pair.target, committed, pair.knownCommitted);
    const pendingSale = Math.max(0, unexplained);
    decisions.push({ ...pair, shopifyAvailable: available, shopifyCommitted: committed, heldBack, unexplainedSale: pendingSale, desired: Math.max(0, desired - pendingSale) });
    if (fresh) snapshot.push(row);
  }
  await saveSnapshot(db, snapshot, now);
  return decisions;
}

interface SnapshotRow {
  item: string;
  location: string;
  available: number;
  onHand: number;
  committed: number;
  /** The level's `updatedAt` in this read (Shopify's clock). */
  levelUpdatedAt: Date | null;
  /** Everything Shopify shows is explained: this read becomes the new base. */
  rebase: boolean;
  /** The shadow's base moves when this read began: a move since may be newer than the read. */
  baseMoves: number;
  unexplainedSince: Date | null;
}

interface Shadow {
  available: number;
  onHand: number;
  committed: number;
  baseOnHand: number | null;
  baseMoves: number;
  /** Shopify's own moves of its on hand since the base that Switchyard knows of: POS sales less returns restocked. */
  learned: number;
  unexplainedSince: Date | null;
}

// A return within this margin after the level's last change before the base read is taken as already
// in it (Shopify may stamp a refund a moment after the stock moved): counted twice it would hold a
// unit back for the grace period; missed, it can hide a sale on its way for a moment.
const RESTOCK_CLOCK_MARGIN_MS = 1_000;

/**
 * Per pair: what Shopify last confirmed, the on-hand base, and what Switchyard has learned since the
 * base of Shopify's own moves of its on hand there: POS sales recorded since (a sale that happened
 * before the base read kept the base from moving: see `decide`), less returns restocked there after
 * the base read saw the level (a read after a return already shows it, even if Switchyard learns of
 * the return later). Both sides of that comparison are Shopify's clock: the refund's time and the
 * level's `updatedAt` in that read (a read delayed by retries is still placed right).
 */
async function shadowsOf(db: Db, pairs: PublishPair[]): Promise<Map<string, Shadow>> {
  const result = new Map<string, Shadow>();
  for (let i = 0; i < pairs.length; i += 1000) {
    const values = sql.join(
      pairs.slice(i, i + 1000).map((p) => sql`(${p.itemId}, ${p.locationId}, ${p.variantId}::bigint, ${p.facilityId}::bigint)`),
      sql`, `,
    );
    const rows = await queryRows<{ item: string; location: string; available: number; on_hand: number; committed: number; base_on_hand: number | null; base_moves: number; learned: number; unexplained_since: Date | null }>(
      db,
      sql`select p.item, p.location, s.available, s.on_hand, s.committed, s.base_on_hand, s.base_moves, s.unexplained_since,
            coalesce((select -sum(g.delta) from inventory_ledger g where g.variant_id = p.variant and g.facility_id = p.facility
                      and ((g.kind = 'pos_sale' and g.recorded_at > s.base_at)
                           or (g.kind = 'return_restock' and g.occurred_at > coalesce(s.base_level_updated_at, s.base_at) + ${`${RESTOCK_CLOCK_MARGIN_MS} milliseconds`}::interval))), 0)::int as learned
          from (values ${values}) as p(item, location, variant, facility)
          join shopify_inventory_snapshot s on s.shopify_inventory_item_id = p.item and s.shopify_location_id = p.location`,
    );
    for (const r of rows) {
      result.set(`${r.item}|${r.location}`, { available: r.available, onHand: r.on_hand, committed: r.committed, baseOnHand: r.base_on_hand, baseMoves: r.base_moves, learned: r.learned, unexplainedSince: r.unexplained_since });
    }
  }
  return result;
}

async function recordDifference(db: Db, pair: PublishPair, expected: number, found: number, cause: string, action: string, now: Date): Promise<void> {
  await db.execute(
    sql`insert into inventory_sync_differences (at, shopify_inventory_item_id, shopify_location_id, expected, found, cause, action)
        values (${now}, ${pair.itemId}, ${pair.locationId}, ${expected}, ${found}, ${cause}, ${action})`,
  );
}

async function saveSnapshot(db: Db, rows: SnapshotRow[], now: Date): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    const values = sql.join(
      rows
        .slice(i, i + 1000)
        .map(
          (r) =>
            sql`(${r.item}, ${r.location}, ${r.available}::int, ${r.onHand}::int, ${r.committed}::int, ${now}::timestamptz, ${r.rebase}::boolean, ${r.baseMoves}::int, ${r.unexplainedSince}::timestamptz, ${r.levelUpdatedAt}::timestamptz)`,
        ),
      sql`, `,
    );
    await db.transaction(async (tx) => {
      // Rows taken in (item, location) order, as every writer of the shadow takes them (no deadlock);
      // a conflicting row stays locked for the update below even where the read was older.
      await tx.execute(
        sql`insert into shopify_inventory_snapshot (shopify_inventory_item_id, shopify_location_id, available, on_hand, committed, snapshot_at)
            select item, location, available, on_hand, committed, at from (values ${values}) as v(item, location, available, on_hand, committed, at, rebase, moves, since, level_at)
            order by item, location
            on conflict (shopify_inventory_item_id, shopify_location_id) do update set available = excluded.available, on_hand = excluded.on_hand,
              committed = excluded.committed, snapshot_at = excluded.snapshot_at
            where shopify_inventory_snapshot.snapshot_at <= excluded.snapshot_at`,
      );
      // A fully explained read becomes the new base; otherwise the base stays until the sale arrives.
      // A base Switchyard moved while this read was under way (a fulfilment it made) stays too: the
      // read may show Shopify from before that drop, and taking it would hold the units back as a sale.
      await tx.execute(
        sql`update shopify_inventory_snapshot s set
              base_on_hand = case when (v.rebase and s.base_moves = v.moves) or s.base_on_hand is null then v.on_hand else s.base_on_hand end,
              base_at = case when (v.rebase and s.base_moves = v.moves) or s.base_on_hand is null then v.at else s.base_at end,
              base_level_updated_at = case when (v.rebase and s.base_moves = v.moves) or s.base_on_hand is null then v.level_at else s.base_level_updated_at end,
              unexplained_since = v.since
            from (values ${values}) as v(item, location, available, on_hand, committed, at, rebase, moves, since, level_at)
            where s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location and s.snapshot_at <= v.at`,
      );
    });
  }
}

/** Decides and pushes for these variants (reading Shopify where needed); returns what happened. */
export async function publishVariants(
  deps: { db: Db; shopify: ShopifyClient; logger: Logger; now: () => Date; settings?: PublishSettings; signals?: BulkFinishSignals | undefined },
  variantIds: number[],
  readVariants: Set<number> | 'all' = new Set(),
  readPairs: ReadonlySet<string> = new Set(),
): Promise<PublishOutcome> {
  const settings = deps.settings ?? DEFAULT_PUBLISH_SETTINGS;
  const counter = { calls: 0 };
  const outcome: PublishOutcome = { variants: variantIds.length, pairs: 0, unchanged: 0, pushed: 0, stale: 0, missingLevels: 0, calls: 0 };
  // A level whose last call is still under way elsewhere waits for its answer (left for the next run).
  const unsettled = await settleUnknownPushes(deps);
  let pending = await publishedPairs(deps.db, variantIds);
  outcome.pairs = pending.length;
  const waiting = pending.filter((p) => unsettled.has(`${p.itemId}|${p.locationId}`));
  if (waiting.length > 0) pending = pending.filter((p) => !unsettled.has(`${p.itemId}|${p.locationId}`));
  for (let round = 0; round < settings.maxRounds && pending.length > 0; round++) {
    // After a refused compare-and-set, Shopify moved: read those items, never resend blindly.
    const decisions = await decide(deps.db, deps.shopify, pending, round === 0 ? readVariants : 'all', settings, counter, deps.now(), round === 0 ? readPairs : new Set());
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
  if (pending.length + waiting.length > 0) throw new PublishIncomplete([...new Set([...pending, ...waiting].map((p) => p.variantId))], outcome);
  return outcome;
}

export class PublishIncomplete extends Error {
  constructor(
    readonly variantIds: number[],
    readonly outcome: PublishOutcome,
  ) {
    super(`${variantIds.length} variant(s) kept changing in Shopify during ${DEFAULT_PUBLISH_SETTINGS.maxRounds} read-and-reconcile rounds, or wait for the answer to a call still under way; left for the next run`);
  }
}

type Quantity = { inventoryItemId: string; locationId: string; quantity: number; changeFromQuantity: number };
/** `not_applied`: Shopify says an earlier attempt under this key failed, so nothing was applied. */
type PushOutcome = 'accepted' | 'stale' | 'not_applied' | 'failed';

const quantitiesOf = (batch: PairDecision[]): Quantity[] =>
  batch.map((d) => ({ inventoryItemId: d.itemId, locationId: d.locationId, quantity: d.desired!, changeFromQuantity: d.shopifyAvailable! }));
// A fresh key per attempt: the client's own retries of a call reuse it (applied once), while a later
// publish of the same figures is a new change, not a replay.
const newKey = () => `switchyard-publish-${randomUUID()}`;
const inputOf = (key: string, quantities: Quantity[]) => ({ name: 'available' as const, reason: 'correction', referenceDocumentUri: `switchyard://inventory/publish/${key}`, quantities });

function outcomeOf(errors: Array<{ code: string | null }>): PushOutcome {
  if (errors.length === 0) return 'accepted';
  // A call sent again under its key (its answer was lost) whose first attempt went stale or was refused.
  if (errors.some((e) => e.code === 'IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED')) return 'not_applied';
  return errors.every((e) => e.code === 'CHANGE_FROM_QUANTITY_STALE') ? 'stale' : 'failed';
}

/**
 * Shopify answered: the log row says so and, on acceptance, the shadow shows exactly what was set.
 * The base moves by what the call moved (quantity − changeFromQuantity: compare-and-set means
 * Shopify's available was exactly that) and counts the move, so a read under way since does not
 * replace it.
 */
async function recordPush(db: Db, push: { logId: number; outcome: PushOutcome; quantities: Quantity[]; response: Record<string, unknown>; durationMs: number }, now: Date): Promise<void> {
  await db.transaction(async (tx) => {
    // Only a row still `sending`: two publishers settling the same lost call apply it once.
    const updated = await queryRows<{ id: number }>(
      tx,
      sql`update inventory_publish_log set outcome = ${push.outcome}, response = ${JSON.stringify(push.response)}::jsonb, duration_ms = ${Math.round(push.durationMs)}
          where id = ${push.logId} and outcome = 'sending' returning id`,
    );
    if (updated.length === 0 || push.outcome !== 'accepted') return;
    await lockShadowRows(tx, push.quantities);
    const moves = push.quantities.map((q) => ({ item: q.inventoryItemId, location: q.locationId, quantity: q.quantity, change_from: q.changeFromQuantity }));
    await tx.execute(
      sql`update shopify_inventory_snapshot s set available = v.quantity, on_hand = s.on_hand + (v.quantity - s.available), base_on_hand = s.base_on_hand + (v.quantity - v.change_from),
          base_moves = s.base_moves + 1, snapshot_at = ${now}, last_published_quantity = v.quantity, last_published_at = ${now}
          from jsonb_to_recordset(${JSON.stringify(moves)}::jsonb) as v(item text, location text, quantity int, change_from int)
          where s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location`,
    );
  });
}

/**
 * Logs the calls about to be sent as `sending` and notes the values on the shadow, before sending:
 * a crash leaves the rows for `settleUnknownPushes`, and Shopify's level webhooks for these values,
 * which may arrive before the answer, are recognised as the echo of this push (the webhook handler).
 */
async function noteAttempt(db: Db, method: 'set' | 'bulk', calls: Array<{ key: string; quantities: Quantity[] }>, now: Date): Promise<number[]> {
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
    await lockShadowRows(tx, quantities);
    await tx.execute(
      sql`update shopify_inventory_snapshot s set last_published_quantity = v.quantity, last_published_at = ${now}
          from jsonb_to_recordset(${JSON.stringify(quantities.map((q) => ({ item: q.inventoryItemId, location: q.locationId, quantity: q.quantity })))}::jsonb) as v(item text, location text, quantity int)
          where s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location`,
    );
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
export async function settleUnknownPushes(deps: { db: Db; shopify: ShopifyClient; logger: Logger; now: () => Date }): Promise<Set<string>> {
  const rows = await queryRows<{ id: number; at: Date; idempotency_key: string; quantities: Quantity[]; holder: string | null }>(
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
    const data = await deps.shopify.request(InventorySetQuantities, { key: row.idempotency_key, input: inputOf(row.idempotency_key, row.quantities) });
    const errors = data.inventorySetQuantities.userErrors;
    // Still under way at Shopify: its answer is for a later run.
    if (errors.some((e) => e.code === 'IDEMPOTENCY_CONCURRENT_REQUEST')) {
      stillSending.push(row);
      continue;
    }
    const outcome = outcomeOf(errors);
    await recordPush(deps.db, { logId: row.id, outcome, quantities: row.quantities, response: { userErrors: errors, settledAfterLostAnswer: true }, durationMs: Date.now() - started }, deps.now());
    const variants = await queryRows<{ id: number }>(
      deps.db,
      sql`select id from variants where shopify_inventory_item_id = any(${sql`array[${sql.join([...new Set(row.quantities.map((q) => q.inventoryItemId))].map((i) => sql`${i}`), sql`, `)}]::text[]`})`,
    );
    await markChanged(deps.db, variants.map((v) => v.id), deps.now(), { needsRead: true });
    deps.logger.info({ key: row.idempotency_key, outcome, levels: row.quantities.length }, 'settled an inventory push whose answer was lost');
  }
  return new Set(stillSending.flatMap((r) => r.quantities.map((q) => `${q.inventoryItemId}|${q.locationId}`)));
}

/**
 * Locks these shadow rows in (item, location) order, the order every writer of the shadow takes them:
 * an update in join order could otherwise deadlock with a read being saved (publisher or snapshot job).
 */
async function lockShadowRows(tx: Db, quantities: Quantity[]): Promise<void> {
  await tx.execute(
    sql`select 1 from shopify_inventory_snapshot s
        join jsonb_to_recordset(${JSON.stringify(quantities.map((q) => ({ item: q.inventoryItemId, location: q.locationId })))}::jsonb) as v(item text, location text)
          on s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location
        order by s.shopify_inventory_item_id, s.shopify_location_id for update of s`,
  );
}

/** One compare-and-set call. True when Shopify took it; false when nothing applied (a value had moved). */
async function pushBatch(deps: { db: Db; shopify: ShopifyClient; now: () => Date }, batch: PairDecision[]): Promise<boolean> {
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
  await recordPush(deps.db, { logId: logId!, outcome, quantities, response: { userErrors: errors }, durationMs: Date.now() - started }, deps.now());
  if (outcome === 'failed') throw new Error(`Shopify refused an inventory push: ${errors.map((e) => `${e.code ?? ''} ${e.message}`).join('; ')}`);
  return outcome === 'accepted';
}

/**
 * Many batches as one bulk mutation (a JSONL of variables through a staged upload): the same
 * compare-and-set per line, a fraction of the calls. Returns the decisions whose line went stale.
 */
async function pushBulk(deps: { db: Db; shopify: ShopifyClient; now: () => Date; signals?: BulkFinishSignals | undefined }, changes: PairDecision[], batchSize: number): Promise<PairDecision[]> {
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
        await recordPush(deps.db, { logId: logIds[index]!, outcome: 'not_applied', quantities: line.quantities, response: { error: error.message }, durationMs: Date.now() - started }, deps.now());
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
    const result = results.get(index) as { data?: { inventorySetQuantities?: { userErrors: Array<{ code: string | null; message: string }> } }; errors?: Array<{ message: string }> } | undefined;
    // A line the result file does not answer stays `sending`: the next publish asks Shopify under its key.
    if (!result) {
      unanswered++;
      continue;
    }
    const errors = result.data?.inventorySetQuantities?.userErrors ?? [{ code: null, message: result.errors?.map((e) => e.message).join('; ') ?? 'no answer for this line' }];
    const outcome = outcomeOf(errors);
    await recordPush(deps.db, { logId: logIds[index]!, outcome, quantities: line.quantities, response: { userErrors: errors }, durationMs: Date.now() - started }, deps.now());
    if (outcome === 'stale' || outcome === 'not_applied') stale.push(...line.batch);
    if (outcome === 'failed') failures.push(errors.map((e) => e.message).join('; '));
  }
  if (failures.length > 0) throw new Error(`Shopify refused ${failures.length} bulk inventory line(s): ${failures[0]}`);
  if (unanswered > 0) throw new Error(`the bulk mutation's result has no answer for ${unanswered} of ${lines.length} line(s); they are asked again under their keys`);
  return stale;
}

/**
 * Switchyard itself lowered Shopify's on hand at a location (a fulfilment, a cancellation without
 * restock): the shadow's base moves with it, so a mirrored store does not take the drop for a sale
 * still on its way. Only a base set before `at` moves: a later read already shows the drop.
 */
export async function explainOnHandDrop(db: Db, locationId: string | null, at: Date, lines: Array<{ variantId: number | null; quantity: number }>): Promise<void> {
  if (!locationId) return;
  for (const l of lines) {
    if (l.variantId === null) continue;
    await db.execute(
      sql`update shopify_inventory_snapshot s set base_on_hand = s.base_on_hand - ${l.quantity}, base_moves = s.base_moves + 1
          from variants v where v.id = ${l.variantId} and s.shopify_inventory_item_id = v.shopify_inventory_item_id and s.shopify_location_id = ${locationId}
            and s.base_on_hand is not null and s.base_at < ${at}`,
    );
  }
}

/** Takes changed variants under a lease (two publishers never take the same one). */
export async function claimChangedVariants(
  db: Db,
  now: Date,
  limit: number,
  leaseMs = 120_000,
): Promise<Array<{ variantId: number; changedAt: Date; needsRead: boolean; readLocations: string[] | null }>> {
  const rows = await queryRows<{ variant_id: number; changed_at: Date; needs_read: boolean; read_locations: string[] | null }>(
    db,
    sql`update inventory_publish_queue set leased_until = ${new Date(now.getTime() + leaseMs)}, leased_by = ${THIS_PROCESS}
        where variant_id in (select variant_id from inventory_publish_queue where leased_until is null or leased_until < ${now}
                             order by changed_at limit ${limit} for update skip locked)
        returning variant_id, changed_at, needs_read, read_locations`,
  );
  return rows.map((r) => ({ variantId: r.variant_id, changedAt: r.changed_at, needsRead: r.needs_read, readLocations: r.read_locations }));
}

/**
 * Variants a killed process of this machine was publishing are free at once (others wait for the
 * lease), and read before deciding: its last calls may or may not have reached Shopify.
 */
export async function freeLeasesOfGoneProcesses(db: Db, now: Date): Promise<number> {
  const holders = await queryRows<{ holder: string }>(
    db,
    sql`select distinct leased_by as holder from inventory_publish_queue where leased_until > ${now} and leased_by is not null`,
  );
  let freed = 0;
  for (const { holder } of holders.filter((h) => isGoneLocalProcess(h.holder))) {
    const rows = await queryRows<{ variant_id: number }>(
      db,
      sql`update inventory_publish_queue set leased_until = null, leased_by = null, needs_read = true, read_locations = null
          where variant_id in (select variant_id from inventory_publish_queue where leased_by = ${holder} order by variant_id for update)
          returning variant_id`,
    );
    freed += rows.length;
  }
  return freed;
}

/** Done: forget the marks, unless a newer change came in while publishing. */
export async function releaseClaims(db: Db, claims: Array<{ variantId: number; changedAt: Date }>, published: boolean, retryAt?: Date): Promise<void> {
  if (claims.length === 0) return;
  const values = sql.join(
    claims.map((c) => sql`(${c.variantId}::bigint, ${c.changedAt}::timestamptz)`),
    sql`, `,
  );
  // One transaction, rows locked in variant order first, as every other writer of the queue takes
  // them: a delete or update in join order could deadlock with a bulk mark (publish-all) taking them in order.
  await db.transaction(async (tx) => {
    await tx.execute(
      sql`select 1 from inventory_publish_queue where variant_id = any(${intArray(claims.map((c) => c.variantId))}::bigint[]) order by variant_id for update`,
    );
    if (published) {
      await tx.execute(sql`delete from inventory_publish_queue q using (values ${values}) as c(v, t) where q.variant_id = c.v and q.changed_at = c.t`);
    } else {
      // Whatever happened, Shopify may be other than the shadow says: read it next time.
      await tx.execute(sql`update inventory_publish_queue q set leased_until = ${retryAt ?? null}, needs_read = true, read_locations = null from (values ${values}) as c(v, t) where q.variant_id = c.v`);
    }
  });
}
