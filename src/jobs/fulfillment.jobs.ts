// Fulfilment's jobs: tell Shopify about store work (asked for after every step; the schedule is the
// safety net), sweep what is not settled, and cancel pickups nobody collected. The work is the
// outbound room's; these declare when it runs.
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { requestSyncForUnsettledPushes } from '../domains/fulfillment/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { expireUncollectedPickups, pushFulfilments } from '../outbound/index.js';

export const FULFILLMENT_JOB_NAMES = {
  push: 'fulfillment.push',
  sweep: 'fulfillment.sweep',
  pickupExpiry: 'fulfillment.pickup-expiry',
} as const;

export function makeFulfillmentJobs(deps: {
  shopify?: ShopifyClient | undefined;
  requestRun?: (name: string) => void;
}): JobDefinition[] {
  const shopify = deps.shopify;
  const push: JobDefinition = {
    name: FULFILLMENT_JOB_NAMES.push,
    description:
      'Tells Shopify about shipments (fulfilments with tracking) and pickups (prepared, then fulfilled) exactly once; imports fulfilments made in Shopify.',
    defaultSchedule: 'every 10s',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 1800,
    async run(ctx) {
      if (!shopify) return;
      await pushFulfilments(ctx, shopify);
    },
  };
  const sweep: JobDefinition = {
    name: FULFILLMENT_JOB_NAMES.sweep,
    description: 'Batch safety net: every order with a fulfilment push not settled is synced again.',
    defaultSchedule: 'every 30m',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 600,
    async run(ctx) {
      ctx.count('orders', await requestSyncForUnsettledPushes(ctx.db, ctx.clock.now()));
      deps.requestRun?.(FULFILLMENT_JOB_NAMES.push);
    },
  };
  const pickupExpiry: JobDefinition = {
    name: FULFILLMENT_JOB_NAMES.pickupExpiry,
    description:
      'Cancels pickups not collected within the set number of days, in Shopify (restocked or returned to stock, as set); the store puts the units back.',
    defaultSchedule: 'every 1h',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 1800,
    async run(ctx) {
      if (!shopify) return;
      await expireUncollectedPickups(ctx, shopify);
    },
  };
  return [push, sweep, pickupExpiry];
}
