// The room's tables are its own: other rooms read them through its functions (docs/TABLES.md).
export {
  ORDER_STATUSES,
  LINE_STATUSES,
  SHIPPING_METHODS,
  RESTOCK_TYPES,
  type OrderStatus,
  type LineStatus,
  type ShippingMethod,
  type RestockType,
} from './orders.schema.js';
export type { OrderSnapshot, OrderLineSnapshot, RefundSnapshot, ApplyOutcome } from './orders.types.js';
export { ORDER_EVENTS } from './orders.types.js';
export { applyOrderSnapshot } from './orders.service.js';
export {
  listOrders,
  getOrder,
  getOrderHistory,
  getOrderRefunds,
  ordersByShopifyIds,
  orderVersions,
} from './orders.queries.js';
export type { OrderRow, OrderLineRow, OrderHistoryRow, OrderRefundLineRow, OrderFilter } from './orders.queries.js';
export {
  addShopifyFulfilledUnits,
  appendOrderHistory,
  approveLinesInto,
  approveNewLinesOf,
  assignLines,
  cancelUnfillableLines,
  completeOrderIfDone,
  newLine,
  parkLines,
  recordShippedUnits,
  moveLineToRejected,
  reopenLines,
  requeueLine,
  setLineHeld,
  setShopifyFulfillmentFacility,
  startLine,
  startOrder,
} from './line-moves.js';
