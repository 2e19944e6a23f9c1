// The ingest jobs: process the webhook inbox, and poll Shopify for what webhooks missed. Each poll
// reads a window [watermark − overlap, now − delay] by created_at or updated_at, applies everything
// (idempotently), and only then moves the watermark, so a crash or a boundary never drops an order.
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db/client.js';
import type { JobContext, JobDefinition } from '../platform/jobs/job.types.js';
import { applyOrderSnapshot, orderVersions } from '../domains/orders/index.js';
import { applyProductSnapshot } from '../domains/catalog/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { readOrdersByIds, readOrdersIndexPage, readProductsPage } from '../shopify/readers.js';
import { processInboxBatch, type DeliveryHandler } from './inbox-processor.js';
import { mergeSyncState, readWatermark, writeWatermark } from './sync-state.js';

export interface SyncSettings {
  /** Re-read this much before the watermark (Shopify's search index lags writes a little). */
  overlapMs: number;
  /** Never read closer to now than this (a write may not be searchable yet). */
  delayMs: number;
  /** Without a watermark yet (no initial load), look back this far. */
  defaultLookbackMs: number;
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = {
  overlapMs: 5 * 60_000,
  delayMs: 15_000,
  defaultLookbackMs: 86_400_000,
};

export const INGEST_JOB_NAMES = {
  processWebhooks: 'ingest.process-webhooks',
  ordersNew: 'sync.orders-new',
  ordersUpdated: 'sync.orders-updated',
  productsNew: 'sync.products-new',
  productsRefresh: 'sync.products-refresh',
} as const;

interface PollSpec {
  name: string;
  description: string;
  defaultSchedule: string;
  resource: 'orders' | 'products';
  field: 'created_at' | 'updated_at';
}

const POLLS: PollSpec[] = [
  {
    name: INGEST_JOB_NAMES.ordersNew,
    description: 'Reads orders created since the last poll (catches missed orders/create webhooks).',
    defaultSchedule: 'every 15m',
    resource: 'orders',
    field: 'created_at',
  },
  {
    name: INGEST_JOB_NAMES.ordersUpdated,
    description: 'Reads orders updated since the last poll: edits, partial and full cancellations.',
    defaultSchedule: 'every 30m',
    resource: 'orders',
    field: 'updated_at',
  },
  {
    name: INGEST_JOB_NAMES.productsNew,
    description: 'Reads products created since the last poll.',
    defaultSchedule: 'every 15m',
    resource: 'products',
    field: 'created_at',
  },
  {
    name: INGEST_JOB_NAMES.productsRefresh,
    description: 'Reads products updated since the last poll (titles, tags, variants, barcodes).',
    defaultSchedule: 'every 6h',
    resource: 'products',
    field: 'updated_at',
  },
];

export async function pollWindow(
  deps: { db: Db; clock: Clock; shopify: ShopifyClient; shop: string; settings: SyncSettings },
  spec: Pick<PollSpec, 'resource' | 'field'>,
  ctx: Pick<JobContext, 'signal' | 'count'>,
): Promise<{ from: Date; until: Date; complete: boolean }> {
  const key = `${spec.resource}.${spec.field}`;
  const now = deps.clock.now();
  const watermark =
    (await readWatermark(deps.db, deps.shop, key)) ?? new Date(now.getTime() - deps.settings.defaultLookbackMs);
  const from = new Date(watermark.getTime() - deps.settings.overlapMs);
  const until = new Date(now.getTime() - deps.settings.delayMs);
  if (until.getTime() <= from.getTime()) return { from, until, complete: true };
  const query = `${spec.field}:>='${from.toISOString()}' AND ${spec.field}:<='${until.toISOString()}'`;
  let after: string | null = null;
  for (;;) {
    if (ctx.signal.aborted) return { from, until, complete: false };
    if (spec.resource === 'orders') {
      // Most of a window's orders came by webhook: read ids and versions first (cheap), then in full
      // only the orders Switchyard lacks, holds older, or holds without their pickup store.
      const page = await readOrdersIndexPage(deps.shopify, query, after);
      const held = await orderVersions(
        deps.db,
        page.orders.map((o) => o.shopifyOrderId),
      );
      const wanted = page.orders.filter((o) => {
        const mine = held.get(o.shopifyOrderId);
        return !mine || mine.updatedAt.getTime() < o.updatedAt.getTime() || mine.pickupWithoutStore;
      });
      ctx.count('orders_known', page.orders.length - wanted.length);
      for (const order of await readOrdersByIds(
        deps.shopify,
        wanted.map((o) => o.shopifyOrderId),
      )) {
        ctx.count(`orders_${await applyOrderSnapshot(deps.db, order, `poll:${key}`, deps.clock.now())}`);
      }
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    } else {
      const page = await readProductsPage(deps.shopify, query, after);
      for (const product of page.products)
        ctx.count(`products_${await applyProductSnapshot(deps.db, product, deps.clock.now())}`);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
  }
  // Everything up to `until` has been applied: only now may the watermark move.
  await writeWatermark(deps.db, deps.shop, key, until);
  await mergeSyncState(deps.db, deps.shop, {
    [`poll:${key}`]: { at: deps.clock.now().toISOString(), from: from.toISOString(), until: until.toISOString() },
  });
  return { from, until, complete: true };
}

export function makeIngestJobs(deps: {
  shopify: ShopifyClient;
  shop: string;
  handler: DeliveryHandler;
  settings?: SyncSettings;
  onProcessed?: () => void;
}): JobDefinition[] {
  const settings = deps.settings ?? DEFAULT_SYNC_SETTINGS;
  const processWebhooks: JobDefinition = {
    name: INGEST_JOB_NAMES.processWebhooks,
    description: 'Applies stored webhook deliveries (retries failures; parks a delivery after 5 tries).',
    defaultSchedule: 'every 2s',
    timeoutSeconds: 300,
    async run(ctx) {
      // Drain: deliveries that arrive while this runs are taken in the same run.
      while (!ctx.signal.aborted) {
        const batch = await processInboxBatch({ db: ctx.db, clock: ctx.clock, logger: ctx.log, handle: deps.handler });
        ctx.count('processed', batch.processed);
        ctx.count('failed', batch.failed);
        ctx.count('parked', batch.parked);
        for (const [outcome, n] of Object.entries(batch.outcomes)) ctx.count(outcome, n);
        if (batch.processed > 0) deps.onProcessed?.();
        if (batch.processed + batch.failed + batch.parked === 0) break;
      }
    },
  };
  const polls = POLLS.map((spec): JobDefinition => ({
    name: spec.name,
    description: spec.description,
    defaultSchedule: spec.defaultSchedule,
    timeoutSeconds: 3600,
    async run(ctx) {
      const { complete } = await pollWindow(
        { db: ctx.db, clock: ctx.clock, shopify: deps.shopify, shop: deps.shop, settings },
        spec,
        ctx,
      );
      if (!complete) throw ctx.signal.reason ?? new Error('poll interrupted');
    },
  }));
  return [processWebhooks, ...polls];
}
