// The publish queue: variants whose available-to-promise may have changed, marked in the transaction
// that changed their stock (\`markChanged\`), and taken from here by the outbound publisher under a
// lease. Every writer locks queue rows in variant order (no deadlock with a bulk mark).
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import { isGoneLocalProcess, THIS_PROCESS } from '../../platform/processes.js';

/** Takes changed variants under a lease (two publishers never take the same one). */
export async function claimChangedVariants(
  db: Db,
  now: Date,
  limit: number,
  leaseMs = 120_000,
): Promise<Array<{ variantId: number; changedAt: Date; needsRead: boolean; readLocations: string[] | null }>> {
  const rows = await queryRows<{
    variant_id: number;
    changed_at: Date;
    needs_read: boolean;
    read_locations: string[] | null;
  }>(
    db,
    sql`update inventory_publish_queue set leased_until = ${new Date(now.getTime() + leaseMs)}, leased_by = ${THIS_PROCESS}
        where variant_id in (select variant_id from inventory_publish_queue where leased_until is null or leased_until < ${now}
                             order by changed_at limit ${limit} for update skip locked)
        returning variant_id, changed_at, needs_read, read_locations`,
  );
  return rows.map((r) => ({
    variantId: r.variant_id,
    changedAt: r.changed_at,
    needsRead: r.needs_read,
    readLocations: r.read_locations,
  }));
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
export async function releaseClaims(
  db: Db,
  claims: Array<{ variantId: number; changedAt: Date }>,
  published: boolean,
  retryAt?: Date,
): Promise<void> {
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
      await tx.execute(
        sql`delete from inventory_publish_queue q using (values ${values}) as c(v, t) where q.variant_id = c.v and q.changed_at = c.t`,
      );
    } else {
      // Whatever happened, Shopify may be other than the shadow says: read it next time.
      await tx.execute(
        sql`update inventory_publish_queue q set leased_until = ${retryAt ?? null}, needs_read = true, read_locations = null from (values ${values}) as c(v, t) where q.variant_id = c.v`,
      );
    }
  });
}
