// Lines parked past their auto-cancel date (not held) are cancelled in Shopify first (the whole order,
// or a refund of those units), then here.
import type { JobContext } from '../platform/jobs/job.types.js';
import { linesDueForAutoCancel, markAutoCancelled, type DueLine } from '../domains/routing/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { OrderById, OrderCancel, RefundCreate } from '../shopify/operations.js';

/** One auto-cancel run; `notifyCustomer`: whether Shopify emails the customer. */
export async function autoCancelDueLines(
  ctx: JobContext,
  shopify: ShopifyClient,
  notifyCustomer: boolean,
): Promise<void> {
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
      await markAutoCancelled(
        ctx.db,
        first.orderId,
        lines.map((l) => l.lineId),
        'already cancelled in Shopify',
        ctx.clock.now(),
      );
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
        notifyCustomer: notifyCustomer,
        staffNote: 'Switchyard: no facility could fill the order before its auto-cancel date.',
      });
      const errors = result.orderCancel.orderCancelUserErrors;
      if (errors.length > 0 && !errors.some((e) => /already cancel/i.test(e.message))) {
        ctx.log.warn({ order: first.orderName, errors }, 'Shopify refused to cancel the order; it stays parked');
        ctx.count('refused', lines.length);
        continue;
      }
      await markAutoCancelled(
        ctx.db,
        first.orderId,
        lines.map((l) => l.lineId),
        'order cancelled in Shopify',
        ctx.clock.now(),
      );
      ctx.count('orders_cancelled', 1);
      ctx.count('lines_cancelled', lines.length);
      continue;
    }
    const refundLines = lines
      .map((l) => ({
        lineItemId: l.shopifyLineItemId,
        quantity: Math.min(l.quantity, current.get(l.shopifyLineItemId) ?? 0),
        restockType: 'CANCEL' as const,
      }))
      .filter((l) => l.quantity > 0);
    if (refundLines.length > 0) {
      const result = await shopify.request(RefundCreate, {
        // The same cancellation asked twice (a crash before it was recorded) applies once.
        key: `auto-cancel:${first.orderId}:${refundLines.map((l) => `${l.lineItemId.split('/').pop()}x${l.quantity}`).join(',')}`,
        input: {
          orderId: first.shopifyOrderId,
          notify: notifyCustomer,
          note: 'Switchyard: no facility could fill these units before their auto-cancel date.',
          refundLineItems: refundLines,
        },
      });
      if (result.refundCreate.userErrors.length > 0) {
        ctx.log.warn(
          { order: first.orderName, errors: result.refundCreate.userErrors },
          'Shopify refused the cancellation of the lines; they stay parked',
        );
        ctx.count('refused', lines.length);
        continue;
      }
    }
    await markAutoCancelled(
      ctx.db,
      first.orderId,
      lines.map((l) => l.lineId),
      'units cancelled in Shopify (refund)',
      ctx.clock.now(),
    );
    ctx.count('lines_cancelled', lines.length);
  }
}
