// Snapshot reconciliation: download every inventory level Shopify holds (one bulk query) and hand it
// to the outbound room, which compares each published variant × location with what Switchyard wants it
// to show, records every difference with its cause, and has the publisher correct Shopify.
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { reconcileLevels } from '../outbound/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { runBulkQuery, type BulkFinishSignals } from '../shopify/bulk-runner.js';
import { INVENTORY_BULK, inventoryLevelsOf, type ShopifyLevel as Level } from '../shopify/inventory-levels.js';

export const INVENTORY_SNAPSHOT_JOB = 'sync.inventory-snapshot';

export function makeInventorySnapshotJob(deps: {
  shopify: ShopifyClient;
  signals?: BulkFinishSignals;
  onDifferences?: () => void;
}): JobDefinition {
  return {
    name: INVENTORY_SNAPSHOT_JOB,
    description:
      "Downloads Shopify's inventory levels (bulk query), records every difference from Switchyard's published targets with its cause, and has the publisher correct them.",
    defaultSchedule: 'every 1h',
    timeoutSeconds: 3600,
    async run(ctx) {
      // The levels are as of some moment after this one: a shadow confirmed later is fresher.
      const readFrom = ctx.clock.now();
      const op = await runBulkQuery(deps.shopify, INVENTORY_BULK, {
        ...(deps.signals ? { signals: deps.signals } : {}),
        pollMs: 1000,
        signal: ctx.signal,
      });
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
