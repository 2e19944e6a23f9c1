// What operators see of sync: health per resource, and the webhook deliveries that failed.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db/client.js';
import { conflict, notFound } from '../platform/errors.js';
import { queryRows } from '../platform/db/rows.js';
import type { ShopifyClient } from '../shopify/client.js';
import { shops } from './shop.schema.js';
import { webhookInbox, type InboxStatus } from './inbox.schema.js';
import { readSyncState } from './sync-state.js';
import { scopesHealth } from './access-scopes.js';

export function makeSyncApi(deps: { db: Db; clock: Clock; shop: string; shopify: ShopifyClient }) {
  const { db, clock } = deps;
  return {
    async health() {
      const [shop] = await db.select().from(shops).where(eq(shops.domain, deps.shop));
      const state = await readSyncState(db, deps.shop);
      const now = clock.now().getTime();
      const [inbox] = await queryRows<{
        pending: number;
        parked: number;
        oldest: Date | null;
        processed_last_hour: number;
      }>(
        db,
        sql`select count(*) filter (where status = 'pending') as pending,
                   count(*) filter (where status = 'parked') as parked,
                   min(received_at) filter (where status = 'pending') as oldest,
                   count(*) filter (where status = 'processed' and processed_at > ${new Date(now - 3_600_000)}) as processed_last_hour
            from webhook_inbox`,
      );
      const resource = (name: 'orders' | 'products') => {
        const watermarks = ['created_at', 'updated_at']
          .map((field) => state[`watermark:${name}.${field}`])
          .filter((v): v is string => typeof v === 'string');
        const oldest = watermarks.length > 0 ? Math.min(...watermarks.map((w) => Date.parse(w))) : null;
        return {
          lastPollNew: state[`poll:${name}.created_at`] ?? null,
          lastPollUpdated: state[`poll:${name}.updated_at`] ?? null,
          /** How far behind now the oldest watermark is: what a lost webhook could cost at most. */
          lagSeconds: oldest === null ? null : Math.round((now - oldest) / 1000),
        };
      };
      return {
        shop: {
          domain: deps.shop,
          status: shop?.status ?? 'not connected',
          connectedAt: shop?.connectedAt?.toISOString() ?? null,
        },
        /** How Switchyard gets its token, when it expires, and why calls wait if renewing fails. */
        credentials: await deps.shopify.tokens.status(),
        orders: resource('orders'),
        products: resource('products'),
        webhooks: {
          pending: inbox?.pending ?? 0,
          parked: inbox?.parked ?? 0,
          oldestPendingSeconds: inbox?.oldest ? Math.round((now - new Date(inbox.oldest).getTime()) / 1000) : null,
          processedLastHour: inbox?.processed_last_hour ?? 0,
        },
        lastReconciliation: state['reconcile'] ?? null,
        initialLoad: state['initialLoad'] ?? null,
        /** The access scopes Shopify granted at the last connect, and what is missing (null before it). */
        scopes: await scopesHealth(db, deps.shop),
        api: { ...deps.shopify.stats, budget: deps.shopify.budget.snapshot() },
      };
    },

    async listDeliveries(status: InboxStatus, limit: number) {
      const rows = await db
        .select({
          id: webhookInbox.id,
          webhookId: webhookInbox.webhookId,
          topic: webhookInbox.topic,
          status: webhookInbox.status,
          attempts: webhookInbox.attempts,
          receivedAt: webhookInbox.receivedAt,
          lastError: webhookInbox.lastError,
          processedAt: webhookInbox.processedAt,
        })
        .from(webhookInbox)
        .where(eq(webhookInbox.status, status))
        .orderBy(desc(webhookInbox.id))
        .limit(limit);
      return rows.map((r) => ({
        ...r,
        receivedAt: r.receivedAt.toISOString(),
        processedAt: r.processedAt?.toISOString() ?? null,
      }));
    },

    /** Puts a parked delivery back in the queue, with fresh attempts. */
    async retry(id: number) {
      const rows = await db
        .update(webhookInbox)
        .set({ status: 'pending', attempts: 0, nextAttemptAt: clock.now() })
        .where(and(eq(webhookInbox.id, id), eq(webhookInbox.status, 'parked')))
        .returning({ id: webhookInbox.id });
      if (rows.length === 0) await explain(id, 'retry');
      return { id, status: 'pending' as const };
    },

    /** An operator gives up on a parked delivery (the reconciliation repairs what it would have done). */
    async discard(id: number) {
      const rows = await db
        .update(webhookInbox)
        .set({ status: 'discarded', processedAt: clock.now() })
        .where(and(eq(webhookInbox.id, id), eq(webhookInbox.status, 'parked')))
        .returning({ id: webhookInbox.id });
      if (rows.length === 0) await explain(id, 'discard');
      return { id, status: 'discarded' as const };
    },
  };

  async function explain(id: number, action: string): Promise<never> {
    const [row] = await db.select({ status: webhookInbox.status }).from(webhookInbox).where(eq(webhookInbox.id, id));
    if (!row) throw notFound('sync.unknown_delivery', `There is no webhook delivery #${id}.`, { id });
    throw conflict(
      'sync.delivery_not_parked',
      `Delivery #${id} is ${row.status}; only parked deliveries can be ${action === 'retry' ? 'retried' : 'discarded'}.`,
      { id, status: row.status },
    );
  }
}

export type SyncApi = ReturnType<typeof makeSyncApi>;
