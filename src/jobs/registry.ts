// Every scheduled job Switchyard runs, in one list (schedules: each definition's `defaultSchedule`,
// `switchyard jobs list`). A job only declares its name, schedule and timeout and calls into the room
// that does the work; `registry.test.ts` checks that a process with a shop
// registers exactly these.
//
// | job | does (room that does the work) |
// |---|---|
// | housekeeping.prune-history | old job runs and delivered outbox rows deleted (platform) |
// | housekeeping.table-upkeep | vacuum/analyze of busy tables when autovacuum is off (platform) |
// | outbox.dispatch | order events to reservations, POS sales, publish marks (flows) |
// | inventory.publish | changed ATP to Shopify by compare-and-set (outbound) |
// | inventory.publish-all | every variant marked for publishing (inventory) |
// | inventory.import-folder | ERP count files from a folder (inventory) |
// | routing.route-arrivals | new orders routed (routing) |
// | routing.broker | every queue and the scheduled runs routed (routing) |
// | routing.auto-cancel | parked lines past their date cancelled in Shopify, then here (outbound) |
// | routing.replay | what-if replays (routing) |
// | fulfillment.push | shipments and pickups told to Shopify once (outbound) |
// | fulfillment.sweep | unsettled pushes asked for again (fulfillment) |
// | fulfillment.pickup-expiry | uncollected pickups cancelled in Shopify (outbound) |
// | ingest.process-webhooks, sync.orders-new, sync.orders-updated, sync.products-new, sync.products-refresh | webhooks applied; polls that catch lost ones (ingest) |
// | sync.reconcile | Shopify's recent orders compared with Switchyard's (ingest) |
// | sync.inventory-snapshot | Shopify's levels read and differences corrected (ingest → outbound) |
// | sync.webhook-subscriptions | webhook subscriptions checked (ingest) |
// | sync.initial-load | locations, products, inventory and open orders downloaded (ingest) |
//
// Ingest's jobs are made with its webhook handler (`makeIngest`) and handed in here.
import type { JobDefinition } from '../platform/jobs/job.types.js';
import type { ShopifyClient } from '../shopify/client.js';
import { makePruneHistoryJob, makeTableUpkeepJob } from './housekeeping.js';
import { makeInventoryJobs, type InventoryJobDeps } from './inventory.jobs.js';
import { makeRoutingJobs, ROUTING_JOB_NAMES } from './routing.jobs.js';
import { makeFulfillmentJobs } from './fulfillment.jobs.js';

export { INVENTORY_JOB_NAMES } from './inventory.jobs.js';
export { ROUTING_JOB_NAMES } from './routing.jobs.js';
export { FULFILLMENT_JOB_NAMES } from './fulfillment.jobs.js';

/** The jobs that need no Shopify and no other room's wiring (the CLI's `jobs` commands register these). */
export function housekeepingJobs(): JobDefinition[] {
  return [makePruneHistoryJob({ jobRunRetentionDays: 30, outboxRetentionDays: 14 }), makeTableUpkeepJob()];
}

export interface JobRegistryDeps {
  shopify?: ShopifyClient | undefined;
  importDir?: string | undefined;
  maxLineBytes?: number;
  /** Asks the runtime to run a job soon (debounced by the caller). */
  requestRun: (name: string) => void;
  /** Ingest's jobs (sync.*), when a shop is configured. */
  ingestJobs?: JobDefinition[];
}

/** Every job of a running Switchyard. */
export function makeJobRegistry(deps: JobRegistryDeps): JobDefinition[] {
  const inventory: InventoryJobDeps = {
    shopify: deps.shopify,
    importDir: deps.importDir,
    ...(deps.maxLineBytes === undefined ? {} : { maxLineBytes: deps.maxLineBytes }),
    requestRun: deps.requestRun,
    afterOrderEvents: () => deps.requestRun(ROUTING_JOB_NAMES.arrivals),
  };
  return [
    ...housekeepingJobs(),
    ...makeInventoryJobs(inventory),
    ...makeRoutingJobs({ shopify: deps.shopify }),
    ...makeFulfillmentJobs({ shopify: deps.shopify, requestRun: deps.requestRun }),
    ...(deps.ingestJobs ?? []),
  ];
}
