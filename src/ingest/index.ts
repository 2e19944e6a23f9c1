// Ingest's surface for main/: everything that brings Shopify's data in.
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db/client.js';
import type { JobDefinition } from '../platform/jobs/job.types.js';
import type { ShopifyClient } from '../shopify/client.js';
import { makeBulkFinishSignals } from '../shopify/bulk-runner.js';
import { makeIngestJobs, INGEST_JOB_NAMES, type SyncSettings } from './ingest.jobs.js';
import { ensureWebhookSubscriptions, runInitialLoad } from './initial-load.js';
import { makeReconcileJob } from './reconcile.js';
import { makeInventorySnapshotJob } from './inventory-snapshot.js';
import { makeSyncApi } from './sync-api.js';
import { makeWebhookHandler } from './webhook-handlers.js';
import { makeWebhookReceiver } from './webhook-receiver.js';
import { makeHandOffCheck } from './hand-off-check.js';
import type { Logger } from '../platform/logger.js';

export { INGEST_JOB_NAMES } from './ingest.jobs.js';
export { runInitialLoad, proposeLocations, type LocationProposal, type LoadProgress } from './initial-load.js';
export { ensureShop, resumeAfterCredentials } from './sync-state.js';

export const INITIAL_LOAD_JOB = 'sync.initial-load';

export interface IngestOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  shopify: ShopifyClient;
  shop: string;
  apiSecret: string;
  apiVersion: string;
  /** Deliveries triggered longer ago are refused as replays. */
  webhookMaxAgeSeconds: number;
  webhookUrl: string;
  initialLoadMonths: number;
  settings?: SyncSettings;
  /** Called when a webhook was stored, to start processing at once. */
  onWebhookStored?: () => void;
  /** Called after webhooks were applied (their outbox events wait for delivery). */
  onProcessed?: () => void;
  /** Called when Shopify reports an inventory level change (the publisher reads and reconciles it). */
  onLevelChanged?: () => void;
}

export function makeIngest(options: IngestOptions) {
  const bulkSignals = makeBulkFinishSignals();
  const handler = makeWebhookHandler({
    db: options.db,
    clock: options.clock,
    shopify: options.shopify,
    shop: options.shop,
    bulkSignals,
    ...(options.onLevelChanged ? { onLevelChanged: options.onLevelChanged } : {}),
  });
  const initialLoad: JobDefinition = {
    name: INITIAL_LOAD_JOB,
    description: `Downloads locations (as facilities), all products and the open orders of the last ${options.initialLoadMonths} month(s), and subscribes to webhooks.`,
    defaultSchedule: 'every 1d',
    defaultEnabled: false,
    timeoutSeconds: 6 * 3600,
    async run(ctx) {
      await runInitialLoad({
        db: ctx.db,
        clock: ctx.clock,
        shopify: options.shopify,
        shop: options.shop,
        apiVersion: options.apiVersion,
        webhookUrl: options.webhookUrl,
        months: options.initialLoadMonths,
        confirmLocations: true,
        signals: bulkSignals,
        signal: ctx.signal,
        log: ctx.log,
        onProgress: (p) => ctx.progress(p.percent, `${p.step}: ${JSON.stringify(p.counts)}`),
      });
    },
  };
  const verifySubscriptions: JobDefinition = {
    name: 'sync.webhook-subscriptions',
    description: `Checks that Shopify sends every topic Switchyard handles to ${options.webhookUrl}, and subscribes to any that is missing.`,
    defaultSchedule: 'every 1h',
    timeoutSeconds: 300,
    async run(ctx) {
      const { created, present } = await ensureWebhookSubscriptions(options.shopify, options.webhookUrl);
      ctx.count('created', created);
      ctx.count('present', present);
    },
  };
  return {
    jobs: [
      verifySubscriptions,
      ...makeIngestJobs({
        shopify: options.shopify,
        shop: options.shop,
        handler,
        ...(options.settings ? { settings: options.settings } : {}),
        ...(options.onProcessed ? { onProcessed: options.onProcessed } : {}),
      }),
      makeReconcileJob({ shopify: options.shopify, shop: options.shop }),
      makeInventorySnapshotJob({
        shopify: options.shopify,
        signals: bulkSignals,
        ...(options.onLevelChanged ? { onDifferences: options.onLevelChanged } : {}),
      }),
      initialLoad,
    ],
    receiveWebhook: makeWebhookReceiver({
      db: options.db,
      clock: options.clock,
      shop: options.shop,
      secret: options.apiSecret,
      maxAgeSeconds: options.webhookMaxAgeSeconds,
      ...(options.onWebhookStored ? { onStored: options.onWebhookStored } : {}),
    }),
    owedBeforeHandOff: makeHandOffCheck({
      db: options.db,
      clock: options.clock,
      shopify: options.shopify,
      shop: options.shop,
      logger: options.logger,
      ...(options.onProcessed ? { onOrderApplied: options.onProcessed } : {}),
    }),
    sync: makeSyncApi({ db: options.db, clock: options.clock, shop: options.shop, shopify: options.shopify }),
    bulkSignals,
    processJobName: INGEST_JOB_NAMES.processWebhooks,
  };
}
