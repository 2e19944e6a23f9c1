export * from './orders.schema.js';
export type { OrderSnapshot, OrderLineSnapshot, ApplyOutcome } from './orders.types.js';
export { ORDER_EVENTS } from './orders.types.js';
export { applyOrderSnapshot } from './orders.service.js';
