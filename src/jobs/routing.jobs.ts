// Routing's jobs: route arriving orders at once (requested after order events are delivered), sweep
// every minute (continuous runs and the scheduled runs whose slot came), and once a day cancel lines
// parked past their auto-cancel date, in Shopify first, then here.
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { linesDueForAutoCancel, markAutoCancelled, runBrokering, runQueuedReplays, type DueLine } from '../domains/routing/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { OrderById, OrderCancel, RefundCreate } from '../shopify/operations.js';

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
  const route = (runs: 'due' | 'arrivals'): JobDefinition['run'] =>
    async (ctx) => {
      const counts = await runBrokering(ctx.db, {
        runs,
        trigger: runs === 'due' ? 'sweep' : 'arrivals',
        // Arrivals route what is new (and rejected lines); parked orders wait for the sweep.
        ...(runs === 'arrivals' ? { onlyQueues: ['brokering' as const, 'rejected' as const] } : {}),
        now: () => ctx.clock.now(),
        signal: ctx.signal,
        ...(deps.batchSize ? { batchSize: deps.batchSize } : {}),
        onBatch: (c) => ctx.progress(0, `${c.orders} orders decided, ${c.linesRouted} lines routed, ${c.linesParked} parked`),
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
    description: 'Routes newly approved orders under the continuous brokering runs (asked for whenever order events are delivered).',
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
    description: 'Cancels parked lines past their auto-cancel date (not held): in Shopify (whole order, or a refund of those units), then here.',
    defaultSchedule: '0 5 * * *',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 1800,
    async run(ctx) {
      if (!shopify) return;
      const due = await linesDueForAutoCancel(ctx.db, ctx.clock.now());
      const byOrder = new Map<number, DueLine[]>();
      for (const line of due) {
        const lines = byOrder.get(line.orderId);
        if (lines) lines.push(line);
        else byOrder.set(line.orderId, [line]);
      }
      for (const lines of byOrder.values()) {
        if (ctx.signal.aborted) return;
        const first = lines[0]!;
        // Shopify's present state first: a retry after a crash must not cancel units twice.
        const { order } = await shopify.request(OrderById, { id: first.shopifyOrderId });
        if (!order || order.cancelledAt) {
          await markAutoCancelled(ctx.db, first.orderId, lines.map((l) => l.lineId), 'already cancelled in Shopify', ctx.clock.now());
          ctx.count('already_cancelled', lines.length);
          continue;
        }
        const current = new Map(order.lineItems.nodes.map((l) => [l.id, l.currentQuantity]));
        const open = order.lineItems.nodes.filter((l) => l.currentQuantity > 0).map((l) => l.id);
        const whole = first.wholeOrder && open.every((id) => lines.some((l) => l.shopifyLineItemId === id));
        if (whole) {
          const result = await shopify.request(OrderCancel, {
            orderId: first.shopifyOrderId,
            reason: 'INVENTORY',
            restock: true,
            notifyCustomer: deps.notifyCustomerOnCancel ?? true,
            staffNote: 'Switchyard: no facility could fill the order before its auto-cancel date.',
          });
          const errors = result.orderCancel.orderCancelUserErrors;
          if (errors.length > 0 && !errors.some((e) => /already cancel/i.test(e.message))) {
            ctx.log.warn({ order: first.orderName, errors }, 'Shopify refused to cancel the order; it stays parked');
            ctx.count('refused', lines.length);
            continue;
          }
          await markAutoCancelled(ctx.db, first.orderId, lines.map((l) => l.lineId), 'order cancelled in Shopify', ctx.clock.now());
          ctx.count('orders_cancelled', 1);
          ctx.count('lines_cancelled', lines.length);
          continue;
        }
        const refundLines = lines
          .map((l) => ({ lineItemId: l.shopifyLineItemId, quantity: Math.min(l.quantity, current.get(l.shopifyLineItemId) ?? 0), restockType: 'CANCEL' as const }))
          .filter((l) => l.quantity > 0);
        if (refundLines.length > 0) {
          const result = await shopify.request(RefundCreate, {
            // The same cancellation asked twice (a crash before it was recorded) applies once.
            key: `auto-cancel:${first.orderId}:${refundLines.map((l) => `${l.lineItemId.split('/').pop()}x${l.quantity}`).join(',')}`,
            input: { orderId: first.shopifyOrderId, notify: deps.notifyCustomerOnCancel ?? true, note: 'Switchyard: no facility could fill these units before their auto-cancel date.', refundLineItems: refundLines },
          });
          if (result.refundCreate.userErrors.length > 0) {
            ctx.log.warn({ order: first.orderName, errors: result.refundCreate.userErrors }, 'Shopify refused the cancellation of the lines; they stay parked');
            ctx.count('refused', lines.length);
            continue;
          }
        }
        await markAutoCancelled(ctx.db, first.orderId, lines.map((l) => l.lineId), 'units cancelled in Shopify (refund)', ctx.clock.now());
        ctx.count('lines_cancelled', lines.length);
      }
    },
  };
  const replay: JobDefinition = {
    name: ROUTING_JOB_NAMES.replay,
    description: 'Runs the what-if replays asked for through the API, one at a time, with progress (asked for at each request).',
    defaultSchedule: 'every 1m',
    timeoutSeconds: 3600,
    async run(ctx) {
      const counts = await runQueuedReplays(ctx.db, { now: () => ctx.clock.now(), signal: ctx.signal, onProgress: (message) => ctx.progress(0, message) });
      ctx.count('succeeded', counts.succeeded);
      ctx.count('failed', counts.failed);
    },
  };
  return [arrivals, sweep, autoCancel, replay];
}
