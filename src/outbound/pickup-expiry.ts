// Pickups nobody collected: after the setting's days, their units are cancelled in Shopify (the whole
// order, or a refund of those units), with or without Shopify's restock as the merchant chose. Shopify's
// update then closes the store's work (the units go back on the shelf) and releases the reservation.
import type { JobContext } from '../platform/jobs/job.types.js';
import {
  expiredPickups,
  fulfillmentSettings,
  markExpiryRequested,
  markExpirySent,
} from '../domains/fulfillment/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { OrderById, OrderCancel, RefundCreate } from '../shopify/operations.js';
import { explainOnHandDrop } from './shadow.js';

/** One expiry run: every pickup ready longer than the setting's days is cancelled in Shopify. */
export async function expireUncollectedPickups(ctx: JobContext, shopify: ShopifyClient): Promise<void> {
  const settings = await fulfillmentSettings(ctx.db);
  const restock = settings.pickupExpiryAction === 'cancel_restock';
  for (const pickup of await expiredPickups(ctx.db, ctx.clock.now(), settings.pickupExpiryDays)) {
    if (ctx.signal.aborted) return;
    // The units left Shopify's on hand without its restock, but they are on the shelf: the base
    // moves with the drop (so the publisher puts them back) in the transaction that closes the request.
    const done = async (outcome: string, units: Array<{ variantId: number | null; quantity: number }>) =>
      ctx.db.transaction(async (tx) => {
        if (!restock && units.length > 0)
          await explainOnHandDrop(tx, pickup.facilityLocationId, ctx.clock.now(), units);
        await markExpiryRequested(tx, pickup.shipmentId, outcome, ctx.clock.now());
      });
    // Shopify's present state first: a retry after a crash must not cancel units twice. If an earlier
    // run sent the cancellation and died before recording it, the drop it made is still Switchyard's.
    const { order } = await shopify.request(OrderById, { id: pickup.shopifyOrderId });
    if (!order || order.cancelledAt) {
      await done('already cancelled in Shopify', pickup.expirySentAt ? pickup.lines : []);
      ctx.count('already_cancelled', 1);
      continue;
    }
    const unfulfilled = new Map(order.lineItems.nodes.map((l) => [l.id, l.unfulfilledQuantity]));
    const units = pickup.lines
      .map((l) => ({ ...l, quantity: Math.min(l.quantity, unfulfilled.get(l.shopifyLineItemId) ?? 0) }))
      .filter((l) => l.quantity > 0);
    if (units.length === 0) {
      await done('nothing left to cancel in Shopify', pickup.expirySentAt ? pickup.lines : []);
      continue;
    }
    await markExpirySent(ctx.db, pickup.shipmentId, ctx.clock.now());
    const whole = order.lineItems.nodes.every(
      (l) =>
        l.unfulfilledQuantity === 0 ||
        units.some((u) => u.shopifyLineItemId === l.id && u.quantity === l.unfulfilledQuantity),
    );
    const note = `Switchyard: not collected within ${settings.pickupExpiryDays} day(s) of being ready.`;
    if (whole) {
      const result = await shopify.request(OrderCancel, {
        orderId: pickup.shopifyOrderId,
        reason: 'CUSTOMER',
        restock,
        notifyCustomer: settings.notifyCustomer,
        staffNote: note,
      });
      const errors = result.orderCancel.orderCancelUserErrors;
      if (errors.length > 0 && !errors.some((e) => /already cancel/i.test(e.message))) {
        ctx.log.warn(
          { order: pickup.orderName, errors },
          'Shopify refused to cancel an uncollected pickup; it stays ready',
        );
        await markExpirySent(ctx.db, pickup.shipmentId, null);
        ctx.count('refused', 1);
        continue;
      }
    } else {
      const result = await shopify.request(RefundCreate, {
        key: `pickup-expiry:${pickup.shipmentId}`,
        input: {
          orderId: pickup.shopifyOrderId,
          notify: settings.notifyCustomer,
          note,
          refundLineItems: units.map((u) => ({
            lineItemId: u.shopifyLineItemId,
            quantity: u.quantity,
            restockType: restock ? ('CANCEL' as const) : ('NO_RESTOCK' as const),
          })),
        },
      });
      if (result.refundCreate.userErrors.length > 0) {
        ctx.log.warn(
          { order: pickup.orderName, errors: result.refundCreate.userErrors },
          'Shopify refused to cancel an uncollected pickup; it stays ready',
        );
        await markExpirySent(ctx.db, pickup.shipmentId, null);
        ctx.count('refused', 1);
        continue;
      }
    }
    await done(whole ? 'order cancelled in Shopify' : 'units cancelled in Shopify (refund)', units);
    ctx.count(whole ? 'orders_cancelled' : 'units_cancelled', whole ? 1 : units.reduce((s, u) => s + u.quantity, 0));
  }
}
