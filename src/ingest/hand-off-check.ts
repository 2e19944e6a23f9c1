// Before units leave a store (ship, hand over), what does Shopify still owe the customer? A webhook
// lost with an order edit or a refund would otherwise let units go out that nobody is owed. The check
// costs a few points, so it is made where a change Switchyard has not heard of is possible: the order
// was placed or changed in Shopify lately, or the poll that catches lost order updates is late.
// When Shopify's order is newer than Switchyard's, Switchyard reads and applies it at once (the
// store's work then shrinks to what is owed, with the extra units to put back).
import { sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { queryRows } from '../platform/db/rows.js';
import { applyOrderSnapshot } from '../domains/orders/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { OrderOwed } from '../shopify/operations.js';
import { readOrder } from '../shopify/readers.js';
import { readWatermark } from './sync-state.js';

/** An order placed or changed in Shopify within this long may have changes Switchyard has not heard of. */
export const RECENT_ORDER_MS = 24 * 3_600_000;
/** The order-updates poll (every 30 minutes by default) is late past this. */
export const UPDATES_POLL_LATE_MS = 60 * 60_000;
/** How long an associate waits for Shopify's answer before the units go anyway (the push then decides). */
export const HAND_OFF_CHECK_TIMEOUT_MS = 3_000;

export interface OwedUnits {
  /** Shopify line item id → units Shopify has not fulfilled yet (0 for a cancelled order). */
  owed: Map<string, number>;
  /** Whether Switchyard's copy of the order was behind Shopify's and has been brought up to date. */
  refreshed: boolean;
}

export function makeHandOffCheck(deps: {
  db: Db;
  clock: Clock;
  shopify: ShopifyClient;
  shop: string;
  logger: Logger;
  onOrderApplied?: () => void;
}) {
  /**
   * Shopify's owed units for the order, or null when no check is needed or Shopify did not answer
   * (then the units go, and the fulfilment push records anything Shopify no longer owed).
   */
  return async function owedBeforeHandOff(orderId: number): Promise<OwedUnits | null> {
    const [order] = await queryRows<{
      shopify_order_id: string;
      shopify_created_at: Date;
      shopify_updated_at: Date;
      lines: number;
    }>(
      deps.db,
      sql`select o.shopify_order_id, o.shopify_created_at, o.shopify_updated_at, (select count(*)::int from order_lines where order_id = o.id) as lines from orders o where o.id = ${orderId}`,
    );
    // Beyond one page of lines the answer would be partial: not asked (the push still decides).
    if (!order || order.lines > 250) return null;
    const now = deps.clock.now().getTime();
    const recent =
      now - order.shopify_updated_at.getTime() < RECENT_ORDER_MS ||
      now - order.shopify_created_at.getTime() < RECENT_ORDER_MS;
    const polled = await readWatermark(deps.db, deps.shop, 'orders.updated_at');
    const pollLate = !polled || now - polled.getTime() > UPDATES_POLL_LATE_MS;
    if (!recent && !pollLate) return null;
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Shopify did not answer within ${HAND_OFF_CHECK_TIMEOUT_MS} ms`)),
          HAND_OFF_CHECK_TIMEOUT_MS,
        );
      });
      // A read: left to finish in the background when it is too slow.
      const data = await Promise.race([
        deps.shopify.request(OrderOwed, { id: order.shopify_order_id, first: Math.min(250, Math.max(1, order.lines)) }),
        timeout,
      ]).finally(() => clearTimeout(timer));
      if (!data.order) return { owed: new Map(), refreshed: false };
      const owed = new Map(
        data.order.lineItems.nodes.map((l) => [l.id, data.order!.cancelledAt ? 0 : l.unfulfilledQuantity]),
      );
      let refreshed = false;
      if (new Date(data.order.updatedAt).getTime() > order.shopify_updated_at.getTime()) {
        // Switchyard's copy is behind: taken now, so the parcel shrinks to what is owed. Should that
        // fail, what Shopify owes is known all the same.
        try {
          const snapshot = await readOrder(deps.shopify, order.shopify_order_id);
          if (snapshot) {
            await applyOrderSnapshot(deps.db, snapshot, 'hand-off check', deps.clock.now());
            deps.onOrderApplied?.();
            refreshed = true;
          }
        } catch (error) {
          deps.logger.warn({ orderId, err: error }, 'could not take the newer order from Shopify; the pollers will');
        }
      }
      return { owed, refreshed };
    } catch (error) {
      deps.logger.warn(
        { orderId, err: error },
        'could not ask Shopify what it still owes before units leave; they go, and the push records any units no longer owed',
      );
      return null;
    }
  };
}
