// Reads Shopify resources page by page and returns them as snapshots, fetching the rest of an
// order's lines (or a product's variants) when one page did not hold them all.
import type { OrderSnapshot, ProductSnapshot } from './mappers.js';
import { counterLinesOf, counterSaleOf, orderFromNode, productFromNode } from './mappers.js';
import type { ShopifyClient } from './client.js';
import {
  OrderById,
  OrderFulfillmentOrderLines,
  OrderLineItemsPage,
  OrdersByIds,
  OrdersIndexPage,
  OrdersPage,
  ORDERS_BY_IDS_MAX,
  ProductsPage,
  ProductVariantsPage,
  type LineItemNode,
  type OrderNode,
  type PageInfo,
  type ProductNode,
  type VariantNode,
} from './operations.js';

async function restOfLines(client: ShopifyClient, order: OrderNode): Promise<LineItemNode[]> {
  const extra: LineItemNode[] = [];
  let page = order.lineItems.pageInfo;
  while (page.hasNextPage) {
    const data = await client.request(OrderLineItemsPage, { id: order.id, after: page.endCursor });
    if (!data.order) break;
    extra.push(...data.order.lineItems.nodes);
    page = data.order.lineItems.pageInfo;
  }
  return extra;
}

async function restOfVariants(client: ShopifyClient, product: ProductNode): Promise<VariantNode[]> {
  const extra: VariantNode[] = [];
  let page = product.variants.pageInfo;
  while (page.hasNextPage) {
    const data = await client.request(ProductVariantsPage, { id: product.id, after: page.endCursor });
    if (!data.product) break;
    extra.push(...data.product.variants.nodes);
    page = data.product.variants.pageInfo;
  }
  return extra;
}

/**
 * An order read by GraphQL as a snapshot: the rest of its lines, and, for an order with both in-store
 * and delivered fulfilment orders (rare: a POS sale partly shipped), which lines each holds.
 */
export async function orderSnapshotOf(client: ShopifyClient, order: OrderNode): Promise<OrderSnapshot> {
  const extra = await restOfLines(client, order);
  if (counterSaleOf(order) !== 'per-line') return orderFromNode(order, extra);
  const data = await client.request(OrderFulfillmentOrderLines, { id: order.id });
  return orderFromNode(order, extra, counterLinesOf(data.order?.fulfillmentOrders.nodes ?? []));
}

export async function readOrder(client: ShopifyClient, id: string): Promise<OrderSnapshot | null> {
  const data = await client.request(OrderById, { id });
  if (!data.order) return null;
  return orderSnapshotOf(client, data.order);
}

export async function readOrdersPage(
  client: ShopifyClient,
  query: string | null,
  after: string | null,
): Promise<{ orders: OrderSnapshot[]; pageInfo: PageInfo }> {
  const data = await client.request(OrdersPage, { query, after });
  const orders: OrderSnapshot[] = [];
  for (const node of data.orders.nodes) orders.push(await orderSnapshotOf(client, node));
  return { orders, pageInfo: data.orders.pageInfo };
}

/** One page of a window's order ids and versions (250 at a time, cheap: no order's details). */
export async function readOrdersIndexPage(
  client: ShopifyClient,
  query: string | null,
  after: string | null,
): Promise<{ orders: Array<{ shopifyOrderId: string; updatedAt: Date }>; pageInfo: PageInfo }> {
  const data = await client.request(OrdersIndexPage, { query, after });
  return {
    orders: data.orders.nodes.map((n) => ({ shopifyOrderId: n.id, updatedAt: new Date(n.updatedAt) })),
    pageInfo: data.orders.pageInfo,
  };
}

/** These orders in full, in calls of up to ORDERS_BY_IDS_MAX; an order deleted meanwhile is left out. */
export async function readOrdersByIds(client: ShopifyClient, ids: string[]): Promise<OrderSnapshot[]> {
  const orders: OrderSnapshot[] = [];
  for (let i = 0; i < ids.length; i += ORDERS_BY_IDS_MAX) {
    const data = await client.request(OrdersByIds, { ids: ids.slice(i, i + ORDERS_BY_IDS_MAX) });
    for (const node of data.nodes) if (node) orders.push(await orderSnapshotOf(client, node));
  }
  return orders;
}

export async function readProductsPage(
  client: ShopifyClient,
  query: string | null,
  after: string | null,
): Promise<{ products: ProductSnapshot[]; pageInfo: PageInfo }> {
  const data = await client.request(ProductsPage, { query, after });
  const products: ProductSnapshot[] = [];
  for (const node of data.products.nodes) products.push(productFromNode(node, await restOfVariants(client, node)));
  return { products, pageInfo: data.products.pageInfo };
}
