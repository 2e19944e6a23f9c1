// Order changes → inventory (sales over a counter, restocks from refunds), store work (cancelled
// units leave it) and routing (a routed line that grew). The orders room writes an outbox event for each change in the same
// transaction; these handlers run when the event is delivered, in the transaction that marks it
// delivered, so each event moves stock exactly once.
import type { OutboxHandler } from '../platform/outbox.js';
import {
  markOrderVariantsChanged,
  recordPosSale,
  recordRefundRestocks,
  releaseOrderReservations,
  reversePosSale,
  trimLineReservation,
} from '../domains/inventory/index.js';
import { ORDER_EVENTS } from '../domains/orders/index.js';
import { requeueGrownLine } from '../domains/routing/index.js';
import { fitShipmentsToOrder, requestSync } from '../domains/fulfillment/index.js';

const orderIdOf = (payload: Record<string, unknown>): number => {
  const id = payload['orderId'];
  if (typeof id !== 'number') throw new Error(`order event without a numeric orderId: ${JSON.stringify(payload)}`);
  return id;
};

export function makeOrderInventoryHandlers(now: () => Date): Record<string, OutboxHandler> {
  return {
    // Lines sold over a counter lower the store's stock; any new order changes what waits to be routed.
    [ORDER_EVENTS.created]: async (tx, { payload }) => {
      const orderId = orderIdOf(payload);
      await recordPosSale(tx, orderId, now());
      await markOrderVariantsChanged(tx, orderId, now());
    },
    [ORDER_EVENTS.cancelled]: async (tx, { payload }) => {
      const orderId = orderIdOf(payload);
      await fitShipmentsToOrder(tx, orderId, now());
      await releaseOrderReservations(tx, orderId, now());
      // Shopify released the committed units; without a restock its `available` did not move, so its
      // level webhook looks like nothing happened: the publisher reads the levels.
      await markOrderVariantsChanged(tx, orderId, now(), { needsRead: true });
    },
    [ORDER_EVENTS.lineQuantityReduced]: async (tx, { payload }) => {
      await fitShipmentsToOrder(tx, orderIdOf(payload), now());
      await trimLineReservation(tx, Number(payload['lineId']), now());
      await markOrderVariantsChanged(tx, orderIdOf(payload), now(), { needsRead: true });
    },
    // A routed line that grew is routed again whole (its reservation covered the old quantity).
    [ORDER_EVENTS.lineQuantityIncreased]: async (tx, { payload }) => {
      await requeueGrownLine(tx, Number(payload['lineId']), now());
      await markOrderVariantsChanged(tx, orderIdOf(payload), now());
    },
    [ORDER_EVENTS.lineAdded]: async (tx, { payload }) => markOrderVariantsChanged(tx, orderIdOf(payload), now()),
    // Shopify shows more units fulfilled: compare its fulfilments with Switchyard's (some may be made in Shopify).
    [ORDER_EVENTS.fulfilledInShopify]: async (tx, { payload }) =>
      requestSync(tx, orderIdOf(payload), now(), { check: true }),
    [ORDER_EVENTS.statusChanged]: async (tx, { payload }) => {
      // A POS order first seen without its store gets its sale once the store is known.
      const orderId = orderIdOf(payload);
      await recordPosSale(tx, orderId, now());
      await markOrderVariantsChanged(tx, orderId, now());
    },
    // Units put back on a shelf by a refund (a return at a store, say) raise on hand there, once.
    [ORDER_EVENTS.refunded]: async (tx, { payload }) => {
      const ids = payload['refundLineIds'];
      if (!Array.isArray(ids)) throw new Error(`order.refunded without refundLineIds: ${JSON.stringify(payload)}`);
      await recordRefundRestocks(tx, ids.map(Number), now());
    },
    // A line now known to be taken home at the counter gets its sale; one now known to be shipped to
    // the customer loses a sale booked for it (routing takes it as a new line).
    [ORDER_EVENTS.counterChanged]: async (tx, { payload }) => {
      const orderId = orderIdOf(payload);
      if (payload['soldOverCounter'] === true) await recordPosSale(tx, orderId, now());
      else await reversePosSale(tx, Number(payload['lineId']), now());
      await markOrderVariantsChanged(tx, orderId, now());
    },
  };
}
