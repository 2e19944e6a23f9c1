import type { RestockType, ShippingMethod } from './orders.schema.js';

/** An order as Shopify has it at `updatedAt`, in Switchyard's terms (ids are Shopify GIDs). */
export interface OrderSnapshot {
  shopifyOrderId: string;
  name: string;
  email: string | null;
  sourceName: string | null;
  tags: string[];
  financialStatus: string | null;
  fulfillmentStatus: string | null;
  createdAt: Date;
  updatedAt: Date;
  cancelledAt: Date | null;
  cancelReason: string | null;
  customer: { email?: string; firstName?: string; lastName?: string; phone?: string } | null;
  shippingAddress: Record<string, string | number | null> | null;
  latitude: number | null;
  longitude: number | null;
  shippingMethod: ShippingMethod;
  shippingLineTitle: string | null;
  /** For pickup orders: the Shopify location the customer chose; for POS orders: the store of the sale. */
  pickupLocationId: string | null;
  currencyCode: string | null;
  totalPrice: string | null;
  lines: OrderLineSnapshot[];
  /** Every refund of the order (null: this source does not carry them; nothing is concluded). */
  refunds: RefundSnapshot[] | null;
}

export interface RefundSnapshot {
  shopifyRefundId: string;
  createdAt: Date;
  lines: Array<{
    shopifyRefundLineId: string;
    shopifyLineItemId: string;
    quantity: number;
    restockType: RestockType;
    locationId: string | null;
  }>;
}

export interface OrderLineSnapshot {
  shopifyLineItemId: string;
  shopifyVariantId: string | null;
  sku: string | null;
  title: string;
  quantity: number;
  currentQuantity: number;
  /** Units Shopify shows fulfilled (null when the source does not say). */
  fulfilledQuantity?: number | null;
  unitPrice: string | null;
  /** Taken home from a store's counter (an in-store fulfilment order), not to be routed. */
  soldOverCounter: boolean;
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged' | 'stale';

/** Event names written to the outbox and the order history (persisted: never rename). */
export const ORDER_EVENTS = {
  created: 'order.created',
  cancelled: 'order.cancelled',
  lineQuantityReduced: 'order.line_quantity_reduced',
  lineQuantityIncreased: 'order.line_quantity_increased',
  lineAdded: 'order.line_added',
  addressChanged: 'order.address_changed',
  shippingChanged: 'order.shipping_changed',
  tagsChanged: 'order.tags_changed',
  statusChanged: 'order.status_changed',
  /** Shopify shows more units fulfilled than before: some may be fulfilments made in Shopify itself. */
  fulfilledInShopify: 'order.fulfilled_in_shopify',
  /** A refund Switchyard had not seen: its lines are in `order_refund_lines` (restocks move stock). */
  refunded: 'order.refunded',
  /** Whether a line was taken home at a store's counter changed (Shopify's fulfilment orders say otherwise now). */
  counterChanged: 'order.counter_changed',
} as const;
