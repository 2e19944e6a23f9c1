// Reading orders for the API and for comparisons with Shopify.
import { and, asc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { orderHistory, orderLines, orderRefundLines, orders, type OrderStatus } from './orders.schema.js';

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;
export type OrderHistoryRow = typeof orderHistory.$inferSelect;
export type OrderRefundLineRow = typeof orderRefundLines.$inferSelect;

export interface OrderFilter {
  status?: OrderStatus | undefined;
  /** Shopify creation time range. */
  from?: Date | undefined;
  to?: Date | undefined;
  /** Orders with a line at this facility (physical or queue). */
  facilityId?: number | undefined;
  limit: number;
  afterId?: number | undefined;
}

export async function listOrders(db: Db, filter: OrderFilter): Promise<Array<OrderRow & { lines: OrderLineRow[] }>> {
  const rows = await db
    .select()
    .from(orders)
    .where(
      and(
        filter.status ? eq(orders.status, filter.status) : undefined,
        filter.from ? gte(orders.shopifyCreatedAt, filter.from) : undefined,
        filter.to ? lte(orders.shopifyCreatedAt, filter.to) : undefined,
        filter.afterId ? sql`${orders.id} > ${filter.afterId}` : undefined,
        filter.facilityId
          ? sql`exists (select 1 from order_lines l where l.order_id = ${orders.id} and l.facility_id = ${filter.facilityId})`
          : undefined,
      ),
    )
    .orderBy(asc(orders.id))
    .limit(filter.limit);
  const lines =
    rows.length === 0
      ? []
      : await db
          .select()
          .from(orderLines)
          .where(
            inArray(
              orderLines.orderId,
              rows.map((r) => r.id),
            ),
          )
          .orderBy(orderLines.id);
  return rows.map((order) => ({ ...order, lines: lines.filter((l) => l.orderId === order.id) }));
}

/** One order by Switchyard id or Shopify GID, with its lines. */
export async function getOrder(db: Db, id: number | string): Promise<(OrderRow & { lines: OrderLineRow[] }) | null> {
  const [order] = await db
    .select()
    .from(orders)
    .where(typeof id === 'number' ? eq(orders.id, id) : eq(orders.shopifyOrderId, id));
  if (!order) return null;
  const lines = await db.select().from(orderLines).where(eq(orderLines.orderId, order.id)).orderBy(orderLines.id);
  return { ...order, lines };
}

export async function getOrderHistory(db: Db, orderId: number): Promise<OrderHistoryRow[]> {
  return db
    .select()
    .from(orderHistory)
    .where(eq(orderHistory.orderId, orderId))
    .orderBy(asc(orderHistory.at), asc(orderHistory.id));
}

/**
 * What Switchyard holds of these Shopify orders: the version (Shopify's updatedAt) and whether it
 * still lacks a pickup order's store (a webhook body does not name it). A poll fetches in full only
 * the orders missing here, older here, or lacking their store.
 */
export async function orderVersions(
  db: Db,
  shopifyOrderIds: string[],
): Promise<Map<string, { updatedAt: Date; pickupWithoutStore: boolean }>> {
  if (shopifyOrderIds.length === 0) return new Map();
  const rows = await db
    .select({
      id: orders.shopifyOrderId,
      updatedAt: orders.shopifyUpdatedAt,
      method: orders.shippingMethod,
      pickupFacilityId: orders.pickupFacilityId,
    })
    .from(orders)
    .where(inArray(orders.shopifyOrderId, shopifyOrderIds));
  return new Map(
    rows.map((r) => [
      r.id,
      { updatedAt: r.updatedAt, pickupWithoutStore: r.method === 'pickup' && r.pickupFacilityId === null },
    ]),
  );
}

/** Orders by Shopify GID with their lines and the Shopify ids of the refund lines recorded, for comparing with Shopify's copy. */
export async function ordersByShopifyIds(
  db: Db,
  ids: string[],
): Promise<Map<string, OrderRow & { lines: OrderLineRow[]; refundLineIds: string[] }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select().from(orders).where(inArray(orders.shopifyOrderId, ids));
  const orderIds = rows.map((r) => r.id);
  const lines =
    rows.length === 0 ? [] : await db.select().from(orderLines).where(inArray(orderLines.orderId, orderIds));
  const refunds =
    rows.length === 0
      ? []
      : await db
          .select({ orderId: orderRefundLines.orderId, id: orderRefundLines.shopifyRefundLineId })
          .from(orderRefundLines)
          .where(inArray(orderRefundLines.orderId, orderIds));
  return new Map(
    rows.map((o) => [
      o.shopifyOrderId,
      {
        ...o,
        lines: lines.filter((l) => l.orderId === o.id),
        refundLineIds: refunds.filter((r) => r.orderId === o.id).map((r) => r.id),
      },
    ]),
  );
}

/** The refund lines recorded for an order, oldest first. */
export async function getOrderRefunds(db: Db, orderId: number): Promise<OrderRefundLineRow[]> {
  return db
    .select()
    .from(orderRefundLines)
    .where(eq(orderRefundLines.orderId, orderId))
    .orderBy(asc(orderRefundLines.id));
}
