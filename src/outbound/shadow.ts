// Shopify's side of inventory as Switchyard last knew it: the shadow the publisher compares and sets
// against (with its on-hand base), filled from Shopify's own reads, and the differences found.
// Every writer of the shadow takes its rows in (item, location) order: no two writers deadlock.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { queryRows } from '../platform/db/rows.js';
import { desiredAvailable, markChanged, publishTargets, type PublishPair } from '../domains/inventory/index.js';
import type { ShopifyLevel } from '../shopify/inventory-levels.js';
import { shopifyInventorySnapshot } from './outbound.schema.js';

/** Shopify's inventory as it is now, per item × location, into the snapshot table (batched upserts). */
export async function saveShopifyLevels(db: Db, levels: AsyncIterable<ShopifyLevel>, at: Date): Promise<number> {
  let batch: Array<typeof shopifyInventorySnapshot.$inferInsert> = [];
  let total = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await db
      .insert(shopifyInventorySnapshot)
      .values(batch)
      .onConflictDoUpdate({
        target: [shopifyInventorySnapshot.shopifyInventoryItemId, shopifyInventorySnapshot.shopifyLocationId],
        set: {
          available: sql`excluded.available`,
          onHand: sql`excluded.on_hand`,
          committed: sql`excluded.committed`,
          snapshotAt: sql`excluded.snapshot_at`,
          baseOnHand: sql`excluded.base_on_hand`,
          baseAt: sql`excluded.base_at`,
          baseLevelUpdatedAt: null,
          unexplainedSince: null,
        },
      });
    total += batch.length;
    batch = [];
  };
  for await (const level of levels) {
    batch.push({
      shopifyInventoryItemId: level.item,
      shopifyLocationId: level.location,
      available: level.available,
      onHand: level.onHand,
      committed: level.committed,
      snapshotAt: at,
      // A fresh read of Shopify: the publisher's starting point (see docs/decisions/0006).
      baseOnHand: level.onHand,
      baseAt: at,
    });
    if (batch.length >= 500) await flush();
  }
  await flush();
  return total;
}

/** Every level of the shadow (the initial load's opening balances). */
export async function shopifyLevels(db: Db): Promise<Array<typeof shopifyInventorySnapshot.$inferSelect>> {
  return db.select().from(shopifyInventorySnapshot);
}

/** What the shadow holds for one level: Shopify's last confirmed available, the last value sent, and when. */
export async function shadowOf(
  db: Db,
  itemId: string,
  locationId: string,
): Promise<{ available: number; sent: number | null; confirmedAt: Date } | undefined> {
  const [shadow] = await db
    .select({
      available: shopifyInventorySnapshot.available,
      sent: shopifyInventorySnapshot.lastPublishedQuantity,
      confirmedAt: shopifyInventorySnapshot.snapshotAt,
    })
    .from(shopifyInventorySnapshot)
    .where(
      and(
        eq(shopifyInventorySnapshot.shopifyInventoryItemId, itemId),
        eq(shopifyInventorySnapshot.shopifyLocationId, locationId),
      ),
    );
  return shadow;
}

/**
 * Compares one batch of Shopify levels, read from `readFrom` on, with the targets; returns the
 * differences found. A level Switchyard confirmed after `readFrom` (a publish, a read) is newer than
 * this download: it is left alone, neither saved over nor compared.
 */
export async function reconcileLevels(db: Db, levels: ShopifyLevel[], readFrom: Date, now: Date): Promise<number> {
  if (levels.length === 0) return 0;
  const values = sql.join(
    levels.map((l) => sql`(${l.item}, ${l.location}, ${l.available}::int, ${l.onHand}::int, ${l.committed}::int)`),
    sql`, `,
  );
  const saved = await queryRows<{ item: string; location: string }>(
    db,
    sql`insert into shopify_inventory_snapshot as s (shopify_inventory_item_id, shopify_location_id, available, on_hand, committed, snapshot_at)
        select item, location, available, on_hand, committed, ${readFrom}::timestamptz from (values ${values}) as v(item, location, available, on_hand, committed)
        order by item, location -- rows taken in the order every writer of the shadow takes them (no deadlock)
        on conflict (shopify_inventory_item_id, shopify_location_id) do update set available = excluded.available, on_hand = excluded.on_hand,
          committed = excluded.committed, snapshot_at = excluded.snapshot_at
        where s.snapshot_at <= excluded.snapshot_at
        returning s.shopify_inventory_item_id as item, s.shopify_location_id as location`,
  );
  if (saved.length === 0) return 0;
  const fresh = sql.join(
    saved.map((l) => sql`(${l.item}, ${l.location})`),
    sql`, `,
  );
  // Published pairs among these levels; variants already waiting for the publisher are its business.
  const pairs = await queryRows<{
    variant_id: number;
    facility_id: number;
    mode: 'aggregate' | 'mirror';
    item: string;
    location: string;
  }>(
    db,
    sql`select v.id as variant_id, f.id as facility_id, f.publish_mode as mode, l.item, l.location
        from (values ${fresh}) as l(item, location)
        join variants v on v.shopify_inventory_item_id = l.item and not v.is_placeholder
        join facilities f on f.shopify_location_id = l.location and f.publish_mode in ('aggregate', 'mirror') and f.active
        where not exists (select 1 from inventory_publish_queue q where q.variant_id = v.id)`,
  );
  const targets = await publishTargets(
    db,
    pairs.map((p): PublishPair => ({
      variantId: p.variant_id,
      facilityId: p.facility_id,
      mode: p.mode,
      itemId: p.item,
      locationId: p.location,
    })),
  );
  const byKey = new Map(levels.map((l) => [`${l.item}|${l.location}`, l]));
  const differing: Array<{ target: (typeof targets)[number]; level: ShopifyLevel; desired: number; heldBack: number }> =
    [];
  for (const target of targets) {
    const level = byKey.get(`${target.itemId}|${target.locationId}`)!;
    const { desired, heldBack } = desiredAvailable(target.target, level.committed, target.knownCommitted);
    if (level.available !== desired) differing.push({ target, level, desired, heldBack });
  }
  if (differing.length === 0) return 0;
  await db.transaction(async (tx) => {
    const rows = sql.join(
      differing.map(
        (d) =>
          sql`(${now}::timestamptz, ${d.target.itemId}, ${d.target.locationId}, ${d.desired}::int, ${d.level.available}::int,
               ${d.level.available < d.desired ? 'lower_in_shopify: a sale not downloaded yet or an edit in Shopify admin' : 'higher_in_shopify: an edit in Shopify admin or a missed publish'}, 'corrected')`,
      ),
      sql`, `,
    );
    await tx.execute(
      sql`insert into inventory_sync_differences (at, shopify_inventory_item_id, shopify_location_id, expected, found, cause, action) values ${rows}`,
    );
    await markChanged(
      tx,
      differing.map((d) => d.target.variantId),
      now,
      { needsRead: true },
    );
  });
  return differing.length;
}

export interface SnapshotRow {
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

export interface Shadow {
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
export async function shadowsOf(db: Db, pairs: PublishPair[]): Promise<Map<string, Shadow>> {
  const result = new Map<string, Shadow>();
  for (let i = 0; i < pairs.length; i += 1000) {
    const values = sql.join(
      pairs
        .slice(i, i + 1000)
        .map((p) => sql`(${p.itemId}, ${p.locationId}, ${p.variantId}::bigint, ${p.facilityId}::bigint)`),
      sql`, `,
    );
    const rows = await queryRows<{
      item: string;
      location: string;
      available: number;
      on_hand: number;
      committed: number;
      base_on_hand: number | null;
      base_moves: number;
      learned: number;
      unexplained_since: Date | null;
    }>(
      db,
      sql`select p.item, p.location, s.available, s.on_hand, s.committed, s.base_on_hand, s.base_moves, s.unexplained_since,
            coalesce((select -sum(g.delta) from inventory_ledger g where g.variant_id = p.variant and g.facility_id = p.facility
                      and ((g.kind = 'pos_sale' and g.recorded_at > s.base_at)
                           or (g.kind = 'return_restock' and g.occurred_at > coalesce(s.base_level_updated_at, s.base_at) + ${`${RESTOCK_CLOCK_MARGIN_MS} milliseconds`}::interval))), 0)::int as learned
          from (values ${values}) as p(item, location, variant, facility)
          join shopify_inventory_snapshot s on s.shopify_inventory_item_id = p.item and s.shopify_location_id = p.location`,
    );
    for (const r of rows) {
      result.set(`${r.item}|${r.location}`, {
        available: r.available,
        onHand: r.on_hand,
        committed: r.committed,
        baseOnHand: r.base_on_hand,
        baseMoves: r.base_moves,
        learned: r.learned,
        unexplainedSince: r.unexplained_since,
      });
    }
  }
  return result;
}

export async function recordDifference(
  db: Db,
  pair: PublishPair,
  expected: number,
  found: number,
  cause: string,
  action: string,
  now: Date,
): Promise<void> {
  await db.execute(
    sql`insert into inventory_sync_differences (at, shopify_inventory_item_id, shopify_location_id, expected, found, cause, action)
        values (${now}, ${pair.itemId}, ${pair.locationId}, ${expected}, ${found}, ${cause}, ${action})`,
  );
}

export async function saveSnapshot(db: Db, rows: SnapshotRow[], now: Date): Promise<void> {
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

/**
 * Locks these shadow rows in (item, location) order, the order every writer of the shadow takes them:
 * an update in join order could otherwise deadlock with a read being saved (publisher or snapshot job).
 */
export async function lockShadowRows(
  tx: Db,
  quantities: Array<{ inventoryItemId: string; locationId: string }>,
): Promise<void> {
  await tx.execute(
    sql`select 1 from shopify_inventory_snapshot s
        join jsonb_to_recordset(${JSON.stringify(quantities.map((q) => ({ item: q.inventoryItemId, location: q.locationId })))}::jsonb) as v(item text, location text)
          on s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location
        order by s.shopify_inventory_item_id, s.shopify_location_id for update of s`,
  );
}

/**
 * Switchyard itself lowered Shopify's on hand at a location (a fulfilment, a cancellation without
 * restock): the shadow's base moves with it, so a mirrored store does not take the drop for a sale
 * still on its way. Only a base set before `at` moves: a later read already shows the drop.
 */
export async function explainOnHandDrop(
  db: Db,
  locationId: string | null,
  at: Date,
  lines: Array<{ variantId: number | null; quantity: number }>,
): Promise<void> {
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

/**
 * Shopify accepted a compare-and-set: the shadow shows exactly what was set. The base moves by what
 * the call moved (quantity − changeFromQuantity: compare-and-set means Shopify's available was
 * exactly that) and counts the move, so a read under way since does not replace it.
 */
export async function shadowTookPush(tx: Db, quantities: PushedQuantity[], now: Date): Promise<void> {
  await lockShadowRows(tx, quantities);
  const moves = quantities.map((q) => ({
    item: q.inventoryItemId,
    location: q.locationId,
    quantity: q.quantity,
    change_from: q.changeFromQuantity,
  }));
  await tx.execute(
    sql`update shopify_inventory_snapshot s set available = v.quantity, on_hand = s.on_hand + (v.quantity - s.available), base_on_hand = s.base_on_hand + (v.quantity - v.change_from),
        base_moves = s.base_moves + 1, snapshot_at = ${now}, last_published_quantity = v.quantity, last_published_at = ${now}
        from jsonb_to_recordset(${JSON.stringify(moves)}::jsonb) as v(item text, location text, quantity int, change_from int)
        where s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location`,
  );
}

/** Values about to be sent: a level webhook showing them is the echo of this push (see the webhook handler). */
export async function shadowNoteSent(tx: Db, quantities: PushedQuantity[], now: Date): Promise<void> {
  await lockShadowRows(tx, quantities);
  await tx.execute(
    sql`update shopify_inventory_snapshot s set last_published_quantity = v.quantity, last_published_at = ${now}
        from jsonb_to_recordset(${JSON.stringify(quantities.map((q) => ({ item: q.inventoryItemId, location: q.locationId, quantity: q.quantity })))}::jsonb) as v(item text, location text, quantity int)
        where s.shopify_inventory_item_id = v.item and s.shopify_location_id = v.location`,
  );
}

export type PushedQuantity = {
  inventoryItemId: string;
  locationId: string;
  quantity: number;
  changeFromQuantity: number;
};
