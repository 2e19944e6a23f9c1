// At connect, Switchyard reads the access scopes Shopify granted its app and records what is missing
// (shown in sync health, with what stops working without each). Without an essential scope Shopify
// would refuse the initial load itself, so connecting stops there, with an error that names the
// scopes, rather than halfway through with an ACCESS_DENIED (docs/decisions/0011-access-scopes.md).
import { eq } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { AppError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { ShopifyClient } from '../shopify/client.js';
import { shops } from './shop.schema.js';
import { AppAccessScopes } from '../shopify/operations.js';
import { missingScopes, scopeNeedOf, scopesNeeded, type ScopeNeed } from '../shopify/scopes.js';
import { mergeSyncState, readSyncState } from './sync-state.js';

export interface ScopesHealth {
  checkedAt: string;
  granted: string[];
  missing: Array<{ scope: string; whatStopsWorking: string }>;
}

/**
 * Reads the granted scopes, records them and what is missing, warns about what is missing, and
 * stops (AppError `shopify.missing_scopes`) when an essential one is.
 */
export async function checkAccessScopes(options: {
  db: Db;
  shopify: ShopifyClient;
  shop: string;
  orderWindowMonths: number;
  at: Date;
  log?: Logger;
}): Promise<{ granted: string[]; missing: ScopeNeed[] }> {
  const { db, shop, at } = options;
  const data = await options.shopify.request(AppAccessScopes, {});
  const granted = data.currentAppInstallation.accessScopes.map((s) => s.handle).sort();
  const missing = missingScopes(granted, scopesNeeded(options.orderWindowMonths));
  await db.update(shops).set({ scopes: granted, updatedAt: at }).where(eq(shops.domain, shop));
  await mergeSyncState(db, shop, { scopes: { checkedAt: at.toISOString(), missing: missing.map((m) => m.scope) } });
  if (missing.length === 0) return { granted, missing };

  const listed = (needs: ScopeNeed[]) => needs.map((m) => `${m.scope}: ${m.whatStopsWorking}`).join(' ');
  options.log?.warn(
    { shop, granted, missing: missing.map((m) => ({ scope: m.scope, whatStopsWorking: m.whatStopsWorking })) },
    `The Shopify app lacks access scopes Switchyard needs. ${listed(missing)} Grant them in the app's configuration, then connect again.`,
  );
  const essential = missing.filter((m) => m.essential);
  if (essential.length > 0) {
    throw new AppError(
      'shopify.missing_scopes',
      'forbidden',
      `Connecting to ${shop} stops: the Shopify app lacks access scopes Switchyard cannot work without. ${listed(essential)} Grant them in the app's configuration, then connect again.`,
      { granted, missing: missing.map((m) => m.scope) },
    );
  }
  return { granted, missing };
}

/** What the last check found, for sync health; null before the first connect. */
export async function scopesHealth(db: Db, shop: string): Promise<ScopesHealth | null> {
  const recorded = (await readSyncState(db, shop))['scopes'] as { checkedAt: string; missing: string[] } | undefined;
  if (!recorded) return null;
  const [row] = await db.select({ scopes: shops.scopes }).from(shops).where(eq(shops.domain, shop));
  return {
    checkedAt: recorded.checkedAt,
    granted: row?.scopes ?? [],
    missing: recorded.missing.map((scope) => ({
      scope,
      whatStopsWorking: scopeNeedOf(scope)?.whatStopsWorking ?? 'No longer needed by this version of Switchyard.',
    })),
  };
}
