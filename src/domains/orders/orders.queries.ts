// Reading orders for the API and for comparisons with Shopify.
import { and, asc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { orderHistory, orderLines, orders, type OrderStatus } from './orders.schema.js';

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;
export type OrderHistoryRow = typeof orderHistory.$inferSelect;

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
        filter.facilityId ? sql`exists (select 1 from order_lines l where l.order_id = ${orders.id} and l.facility_id = ${filter.facilityId})` : undefined,
      ),
    )
    .orderBy(asc(orders.id))
    .limit(filter.limit);
  const lines = rows.length === 0 ? [] : await db.select().from(orderLines).where(inArray(orderLines.orderId, rows.map((r) => r.id))).orderBy(orderLines.id);
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
  return db.select().from(orderHistory).where(eq(orderHistory.orderId, orderId)).orderBy(asc(orderHistory.at), asc(orderHistory.id));
}

/** Orders by Shopify GID, for comparing with Shopify's copy. */
export async function ordersByShopifyIds(db: Db, ids: string[]): Promise<Map<string, OrderRow & { lines: OrderLineRow[] }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select().from(orders).where(inArray(orders.shopifyOrderId, ids));
  const lines = rows.length === 0 ? [] : await db.select().from(orderLines).where(inArray(orderLines.orderId, rows.map((r) => r.id)));
  return new Map(rows.map((o) => [o.shopifyOrderId, { ...o, lines: lines.filter((l) => l.orderId === o.id) }]));
}
