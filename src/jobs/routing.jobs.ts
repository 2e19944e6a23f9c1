// Routing's jobs: route arriving orders at once (requested after order events are delivered), sweep
// every minute (continuous runs and the scheduled runs whose slot came), and once a day cancel lines
// parked past their auto-cancel date, in Shopify first, then here.
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { runBrokering, runQueuedReplays } from '../domains/routing/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { autoCancelDueLines } from '../outbound/index.js';

export const ROUTING_JOB_NAMES = {
  arrivals: 'routing.route-arrivals',
  sweep: 'routing.broker',
  autoCancel: 'routing.auto-cancel',
  replay: 'routing.replay',
} as const;

export interface RoutingJobDeps {
  shopify?: ShopifyClient | undefined;
  /** Whether Shopify emails the customer when a line is auto-cancelled. */
  notifyCustomerOnCancel?: boolean;
  batchSize?: number;
}

export function makeRoutingJobs(deps: RoutingJobDeps): JobDefinition[] {
  const route =
    (runs: 'due' | 'arrivals'): JobDefinition['run'] =>
    async (ctx) => {
      const counts = await runBrokering(ctx.db, {
        runs,
        trigger: runs === 'due' ? 'sweep' : 'arrivals',
        // Arrivals route what is new (and rejected lines); parked orders wait for the sweep.
        ...(runs === 'arrivals' ? { onlyQueues: ['brokering' as const, 'rejected' as const] } : {}),
        now: () => ctx.clock.now(),
        signal: ctx.signal,
        ...(deps.batchSize ? { batchSize: deps.batchSize } : {}),
        onBatch: (c) =>
          ctx.progress(0, `${c.orders} orders decided, ${c.linesRouted} lines routed, ${c.linesParked} parked`),
      });
      ctx.count('approved', counts.approved);
      ctx.count('orders', counts.orders);
      ctx.count('lines_routed', counts.linesRouted);
      ctx.count('lines_parked', counts.linesParked);
      ctx.count('still_parked', counts.unchanged);
      ctx.count('conflicts', counts.conflicts);
    };
  const arrivals: JobDefinition = {
    name: ROUTING_JOB_NAMES.arrivals,
    description:
      'Routes newly approved orders under the continuous brokering runs (asked for whenever order events are delivered).',
    defaultSchedule: 'every 30s',
    timeoutSeconds: 900,
    run: route('arrivals'),
  };
  const sweep: JobDefinition = {
    name: ROUTING_JOB_NAMES.sweep,
    description: 'Brokering sweep: continuous runs over every waiting queue, and the scheduled runs whose time came.',
    defaultSchedule: 'every 1m',
    timeoutSeconds: 1800,
    run: route('due'),
  };
  const shopify = deps.shopify;
  const autoCancel: JobDefinition = {
    name: ROUTING_JOB_NAMES.autoCancel,
    description:
      'Cancels parked lines past their auto-cancel date (not held): in Shopify (whole order, or a refund of those units), then here.',
    defaultSchedule: '0 5 * * *',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 1800,
    async run(ctx) {
      if (!shopify) return;
      await autoCancelDueLines(ctx, shopify, deps.notifyCustomerOnCancel ?? true);
    },
  };
  const replay: JobDefinition = {
    name: ROUTING_JOB_NAMES.replay,
    description:
      'Runs the what-if replays asked for through the API, one at a time, with progress (asked for at each request).',
    defaultSchedule: 'every 1m',
    timeoutSeconds: 3600,
    async run(ctx) {
      const counts = await runQueuedReplays(ctx.db, {
        now: () => ctx.clock.now(),
        signal: ctx.signal,
        onProgress: (message) => ctx.progress(0, message),
      });
      ctx.count('succeeded', counts.succeeded);
      ctx.count('failed', counts.failed);
    },
  };
  return [arrivals, sweep, autoCancel, replay];
}
