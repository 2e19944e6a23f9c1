// Per-shop sync state: watermarks of the pollers and what the last polls and reconciliations did,
// kept in shops.sync_state so every worker sees the same.
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { shops } from './shop.schema.js';

export type ShopRow = typeof shops.$inferSelect;

export async function ensureShop(db: Db, domain: string, apiVersion: string): Promise<ShopRow> {
  await db.insert(shops).values({ domain, apiVersion }).onConflictDoNothing({ target: shops.domain });
  const [row] = await db.select().from(shops).where(eq(shops.domain, domain));
  return row!;
}

export async function readSyncState(db: Db, domain: string): Promise<Record<string, unknown>> {
  const [row] = await db.select({ state: shops.syncState }).from(shops).where(eq(shops.domain, domain));
  return row?.state ?? {};
}

/** Merges keys into the sync state atomically (concurrent jobs write different keys). */
export async function mergeSyncState(db: Db, domain: string, values: Record<string, unknown>): Promise<void> {
  await db
    .update(shops)
    .set({ syncState: sql`${shops.syncState} || ${JSON.stringify(values)}::jsonb`, updatedAt: new Date() })
    .where(eq(shops.domain, domain));
}

export async function readWatermark(db: Db, domain: string, key: string): Promise<Date | null> {
  const value = (await readSyncState(db, domain))[`watermark:${key}`];
  return typeof value === 'string' ? new Date(value) : null;
}

export async function writeWatermark(db: Db, domain: string, key: string, at: Date): Promise<void> {
  await mergeSyncState(db, domain, { [`watermark:${key}`]: at.toISOString() });
}

/**
 * Shopify gives a token again (after a failure, or for the first time after an install): a shop
 * never loaded needs its initial load; one loaded before (maybe marked uninstalled meanwhile) is
 * connected again and needs a reconciliation for what happened while Switchyard could not look.
 */
export async function resumeAfterCredentials(
  db: Db,
  domain: string,
  apiVersion: string,
): Promise<'load' | 'reconcile'> {
  const shop = await ensureShop(db, domain, apiVersion);
  if (shop.connectedAt === null) return 'load';
  if (shop.status !== 'connected')
    await db.update(shops).set({ status: 'connected', updatedAt: new Date() }).where(eq(shops.domain, domain));
  return 'reconcile';
}
