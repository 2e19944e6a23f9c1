// Reconciliation that repairs: reads Shopify's copy of every order and product changed in a window,
// compares it with Switchyard's field by field, applies Shopify's version wherever they differ, and
// records each difference it fixed (webhooks get lost; this is how a lost one costs minutes, not data).
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db/client.js';
import type { JobContext, JobDefinition } from '../platform/jobs/job.types.js';
import {
  applyOrderSnapshot,
  ordersByShopifyIds,
  type OrderLineRow,
  type OrderRow,
  type OrderSnapshot,
} from '../domains/orders/index.js';
import { applyProductSnapshot } from '../domains/catalog/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { readOrdersPage, readProductsPage } from '../shopify/readers.js';
import { mergeSyncState } from './sync-state.js';

export interface Difference {
  resource: 'order' | 'product';
  id: string;
  /** `missing`, `cancelled`, `line_missing`, `line_quantity`, `line_current_quantity`, `line_counter`, `refund_missing`, `status`, `updated` */
  kind: string;
  detail: string;
}

/** What differs between Switchyard's order and Shopify's snapshot of it (empty when equal). */
export function compareOrder(
  stored: (OrderRow & { lines: OrderLineRow[]; refundLineIds?: string[] }) | undefined,
  snapshot: OrderSnapshot,
): Difference[] {
  const id = snapshot.shopifyOrderId;
  if (!stored) return [{ resource: 'order', id, kind: 'missing', detail: `${snapshot.name} is not in Switchyard` }];
  const differences: Difference[] = [];
  if (Boolean(stored.cancelledAt) !== Boolean(snapshot.cancelledAt)) {
    differences.push({
      resource: 'order',
      id,
      kind: 'cancelled',
      detail: `cancelled in Shopify: ${Boolean(snapshot.cancelledAt)}, in Switchyard: ${Boolean(stored.cancelledAt)}`,
    });
  }
  const lines = new Map(stored.lines.map((l) => [l.shopifyLineItemId, l]));
  for (const line of snapshot.lines) {
    const mine = lines.get(line.shopifyLineItemId);
    if (!mine) {
      differences.push({
        resource: 'order',
        id,
        kind: 'line_missing',
        detail: `line ${line.shopifyLineItemId} (${line.sku ?? 'no SKU'}) is missing`,
      });
      continue;
    }
    if (mine.quantity !== line.quantity)
      differences.push({
        resource: 'order',
        id,
        kind: 'line_quantity',
        detail: `${line.shopifyLineItemId}: quantity ${mine.quantity} → ${line.quantity}`,
      });
    if (mine.currentQuantity !== line.currentQuantity) {
      differences.push({
        resource: 'order',
        id,
        kind: 'line_current_quantity',
        detail: `${line.shopifyLineItemId}: current quantity ${mine.currentQuantity} → ${line.currentQuantity}`,
      });
    }
    if (mine.soldOverCounter !== line.soldOverCounter) {
      differences.push({
        resource: 'order',
        id,
        kind: 'line_counter',
        detail: `${line.shopifyLineItemId}: sold over the counter ${mine.soldOverCounter} → ${line.soldOverCounter}`,
      });
    }
  }
  // A refund whose webhook was lost (a return restocked at a store must still reach the ledger).
  const recorded = new Set(stored.refundLineIds ?? []);
  for (const refund of snapshot.refunds ?? []) {
    const missing = refund.lines.filter((l) => l.quantity > 0 && !recorded.has(l.shopifyRefundLineId));
    if (missing.length > 0) {
      differences.push({
        resource: 'order',
        id,
        kind: 'refund_missing',
        detail: `refund ${refund.shopifyRefundId}: ${missing.map((l) => `${l.quantity} × ${l.shopifyLineItemId} ${l.restockType}`).join(', ')}`,
      });
    }
  }
  if (stored.financialStatus !== snapshot.financialStatus || stored.fulfillmentStatus !== snapshot.fulfillmentStatus) {
    differences.push({
      resource: 'order',
      id,
      kind: 'status',
      detail: `status ${stored.financialStatus}/${stored.fulfillmentStatus} → ${snapshot.financialStatus}/${snapshot.fulfillmentStatus}`,
    });
  }
  if (differences.length === 0 && stored.shopifyUpdatedAt.getTime() < snapshot.updatedAt.getTime()) {
    differences.push({
      resource: 'order',
      id,
      kind: 'updated',
      detail: `a later change (${snapshot.updatedAt.toISOString()}) was not applied`,
    });
  }
  return differences;
}

export interface ReconcileResult {
  from: Date;
  to: Date;
  ordersChecked: number;
  productsChecked: number;
  fixed: number;
  differences: Difference[];
}

export async function reconcile(
  deps: { db: Db; clock: Clock; shopify: ShopifyClient; shop: string },
  window: { from: Date; to: Date },
  ctx: Pick<JobContext, 'signal' | 'count'>,
): Promise<ReconcileResult> {
  const result: ReconcileResult = { ...window, ordersChecked: 0, productsChecked: 0, fixed: 0, differences: [] };
  const query = `updated_at:>='${window.from.toISOString()}' AND updated_at:<='${window.to.toISOString()}'`;
  let after: string | null = null;
  do {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const page = await readOrdersPage(deps.shopify, query, after);
    const stored = await ordersByShopifyIds(
      deps.db,
      page.orders.map((o) => o.shopifyOrderId),
    );
    for (const snapshot of page.orders) {
      result.ordersChecked += 1;
      const differences = compareOrder(stored.get(snapshot.shopifyOrderId), snapshot);
      if (differences.length === 0) continue;
      await applyOrderSnapshot(deps.db, snapshot, 'reconciliation', deps.clock.now());
      result.fixed += 1;
      result.differences.push(...differences);
      for (const d of differences) ctx.count(`fixed_${d.kind}`);
    }
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);

  after = null;
  do {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const page = await readProductsPage(deps.shopify, query, after);
    for (const snapshot of page.products) {
      result.productsChecked += 1;
      const outcome = await applyProductSnapshot(deps.db, snapshot, deps.clock.now());
      if (outcome === 'created' || outcome === 'updated') {
        result.fixed += 1;
        result.differences.push({
          resource: 'product',
          id: snapshot.shopifyProductId,
          kind: outcome === 'created' ? 'missing' : 'updated',
          detail: snapshot.title,
        });
        ctx.count(`fixed_product_${outcome}`);
      }
    }
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);

  ctx.count('orders_checked', result.ordersChecked);
  ctx.count('products_checked', result.productsChecked);
  await mergeSyncState(deps.db, deps.shop, {
    reconcile: {
      at: deps.clock.now().toISOString(),
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      ordersChecked: result.ordersChecked,
      productsChecked: result.productsChecked,
      fixed: result.fixed,
      // The first differences, for the sync health view; the job run keeps the counts.
      differences: result.differences.slice(0, 100),
    },
  });
  return result;
}

export function makeReconcileJob(deps: { shopify: ShopifyClient; shop: string; windowMs?: number }): JobDefinition {
  const windowMs = deps.windowMs ?? 24 * 3_600_000;
  return {
    name: 'sync.reconcile',
    description: `Compares orders and products changed in Shopify in the last ${Math.round(windowMs / 3_600_000)} h with Switchyard's and repairs every difference.`,
    defaultSchedule: 'every 1h',
    timeoutSeconds: 3600,
    async run(ctx) {
      const to = ctx.clock.now();
      await reconcile(
        { db: ctx.db, clock: ctx.clock, shopify: deps.shopify, shop: deps.shop },
        { from: new Date(to.getTime() - windowMs), to },
        ctx,
      );
    },
  };
}
