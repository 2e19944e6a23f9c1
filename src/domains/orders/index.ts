export * from './orders.schema.js';
export type { OrderSnapshot, OrderLineSnapshot, ApplyOutcome } from './orders.types.js';
export { ORDER_EVENTS } from './orders.types.js';
export { applyOrderSnapshot } from './orders.service.js';
export { listOrders, getOrder, getOrderHistory, ordersByShopifyIds, orderVersions } from './orders.queries.js';
export type { OrderRow, OrderLineRow, OrderHistoryRow, OrderFilter } from './orders.queries.js';
