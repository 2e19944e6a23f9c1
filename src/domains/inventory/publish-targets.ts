// What Switchyard wants each Shopify location to show, per variant: the target (online ATP for the
// aggregate location, the store's sellable stock for a mirrored one) and the units of known open
// orders Shopify holds as committed there. Shopify's side (its committed figure) comes from a read.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { mirrorQuantity } from './atp.js';
import { computeAtp, knownCommitments } from './atp.repo.js';

export interface PublishPair {
  variantId: number;
  facilityId: number;
  mode: 'aggregate' | 'mirror';
  itemId: string;
  locationId: string;
}

export interface PublishTarget extends PublishPair {
  target: number;
  /** Open units of orders Switchyard knows that Shopify holds as committed at this location. */
  knownCommitted: number;
}

/**
 * What Shopify's `available` should be: the target less the committed units of orders Switchyard has
 * not downloaded yet (Shopify's committed beyond the units Switchyard knows). Publishing the bare
 * target would hand those units out a second time.
 */
export function desiredAvailable(
  target: number,
  shopifyCommitted: number,
  knownCommitted: number,
): { heldBack: number; desired: number } {
  const heldBack = Math.max(0, shopifyCommitted - knownCommitted);
  return { heldBack, desired: Math.max(0, target - heldBack) };
}

/** Every published variant × location for these variants (or all of them). */
export async function publishedPairs(db: Db, variantIds: number[] | 'all'): Promise<PublishPair[]> {
  if (variantIds !== 'all' && variantIds.length === 0) return [];
  const filter =
    variantIds === 'all'
      ? sql`true`
      : sql`v.id in (select (jsonb_array_elements_text(${JSON.stringify(variantIds)}::jsonb))::bigint)`;
  const rows = await queryRows<{
    variant_id: number;
    facility_id: number;
    mode: 'aggregate' | 'mirror';
    item_id: string;
    location_id: string;
  }>(
    db,
    sql`select v.id as variant_id, f.id as facility_id, f.publish_mode as mode, v.shopify_inventory_item_id as item_id, f.shopify_location_id as location_id
        from variants v cross join facilities f
        where ${filter} and v.shopify_inventory_item_id is not null and not v.is_placeholder
          and f.publish_mode in ('aggregate', 'mirror') and f.shopify_location_id is not null and f.active
        order by v.id, f.id`,
  );
  return rows.map((r) => ({
    variantId: r.variant_id,
    facilityId: r.facility_id,
    mode: r.mode,
    itemId: r.item_id,
    locationId: r.location_id,
  }));
}

export async function publishTargets(db: Db, pairs: PublishPair[]): Promise<PublishTarget[]> {
  const variantIds = [...new Set(pairs.map((p) => p.variantId))];
  const [atp, known] = await Promise.all([computeAtp(db, variantIds), knownCommitments(db, variantIds)]);
  return pairs.map((pair) => {
    const a = atp.get(pair.variantId);
    const k = known.get(pair.variantId);
    let target = 0;
    if (a && pair.mode === 'aggregate') target = a.onlineAtp;
    else if (a) {
      const terms = a.facilities.find((f) => f.facilityId === pair.facilityId);
      target = terms ? mirrorQuantity(terms) : 0;
    }
    // The online location holds the units left where Shopify put them, and any moved to it.
    const knownCommitted = !k
      ? 0
      : (pair.mode === 'aggregate' ? k.online : 0) + (k.atFacility.get(pair.facilityId) ?? 0);
    return { ...pair, target, knownCommitted };
  });
}

/** The last figures Shopify confirmed and the last value Switchyard published, per location. */
export async function shopifySideOf(
  db: Db,
  itemId: string,
): Promise<
  Array<{
    locationId: string;
    available: number;
    committed: number;
    confirmedAt: Date;
    lastPublished: number | null;
    lastPublishedAt: Date | null;
  }>
> {
  const rows = await queryRows<{
    shopify_location_id: string;
    available: number;
    committed: number;
    snapshot_at: Date;
    last_published_quantity: number | null;
    last_published_at: Date | null;
  }>(
    db,
    sql`select shopify_location_id, available, committed, snapshot_at, last_published_quantity, last_published_at
        from shopify_inventory_snapshot where shopify_inventory_item_id = ${itemId} order by shopify_location_id`,
  );
  return rows.map((r) => ({
    locationId: r.shopify_location_id,
    available: r.available,
    committed: r.committed,
    confirmedAt: r.snapshot_at,
    lastPublished: r.last_published_quantity,
    lastPublishedAt: r.last_published_at,
  }));
}
