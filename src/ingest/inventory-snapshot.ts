// Snapshot reconciliation: download every inventory level Shopify holds (one bulk query), compare each
// published variant × location with what Switchyard wants it to show, record every difference with
// its cause, and mark those variants so the publisher corrects Shopify (Switchyard is the master).
import { sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { queryRows } from '../platform/db/rows.js';
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { desiredAvailable, markChanged, publishTargets, type PublishPair } from '../domains/inventory/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { runBulkQuery, type BulkFinishSignals } from '../shopify/bulk-runner.js';
import { INVENTORY_BULK, inventoryLevelsOf, type ShopifyLevel as Level } from './initial-load.js';

export const INVENTORY_SNAPSHOT_JOB = 'sync.inventory-snapshot';

export function makeInventorySnapshotJob(deps: { shopify: ShopifyClient; signals?: BulkFinishSignals; onDifferences?: () => void }): JobDefinition {
  return {
    name: INVENTORY_SNAPSHOT_JOB,
    description: 'Downloads Shopify\'s inventory levels (bulk query), records every difference from Switchyard\'s published targets with its cause, and has the publisher correct them.',
    defaultSchedule: 'every 1h',
    timeoutSeconds: 3600,
    async run(ctx) {
      // The levels are as of some moment after this one: a shadow confirmed later is fresher.
      const readFrom = ctx.clock.now();
      const op = await runBulkQuery(deps.shopify, INVENTORY_BULK, { ...(deps.signals ? { signals: deps.signals } : {}), pollMs: 1000, signal: ctx.signal });
      let batch: Level[] = [];
      let differences = 0;
      const flush = async () => {
        const found = await reconcileLevels(ctx.db, batch, readFrom, ctx.clock.now());
        differences += found;
        ctx.count('levels', batch.length);
        batch = [];
      };
      for await (const level of inventoryLevelsOf(op.url)) {
        batch.push(level);
        if (batch.length >= 1000) await flush();
      }
      if (batch.length > 0) await flush();
      ctx.count('differences', differences);
      if (differences > 0) deps.onDifferences?.();
    },
  };
}

/**
 * Compares one batch of Shopify levels, read from `readFrom` on, with the targets; returns the
 * differences found. A level Switchyard confirmed after `readFrom` (a publish, a read) is newer than
 * this download: it is left alone, neither saved over nor compared.
 */
export async function reconcileLevels(db: Db, levels: Level[], readFrom: Date, now: Date): Promise<number> {
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
  const pairs = await queryRows<{ variant_id: number; facility_id: number; mode: 'aggregate' | 'mirror'; item: string; location: string }>(
    db,
    sql`select v.id as variant_id, f.id as facility_id, f.publish_mode as mode, l.item, l.location
        from (values ${fresh}) as l(item, location)
        join variants v on v.shopify_inventory_item_id = l.item and not v.is_placeholder
        join facilities f on f.shopify_location_id = l.location and f.publish_mode in ('aggregate', 'mirror') and f.active
        where not exists (select 1 from inventory_publish_queue q where q.variant_id = v.id)`,
  );
  const targets = await publishTargets(
    db,
    pairs.map((p): PublishPair => ({ variantId: p.variant_id, facilityId: p.facility_id, mode: p.mode, itemId: p.item, locationId: p.location })),
  );
  const byKey = new Map(levels.map((l) => [`${l.item}|${l.location}`, l]));
  const differing: Array<{ target: (typeof targets)[number]; level: Level; desired: number; heldBack: number }> = [];
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
    await tx.execute(sql`insert into inventory_sync_differences (at, shopify_inventory_item_id, shopify_location_id, expected, found, cause, action) values ${rows}`);
    await markChanged(
      tx,
      differing.map((d) => d.target.variantId),
      now,
      { needsRead: true },
    );
  });
  return differing.length;
}
