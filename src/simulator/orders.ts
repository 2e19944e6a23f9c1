// Orders as Shopify keeps them, and what Shopify itself does to inventory when they change:
//   online order      available → committed at the fulfillment order's location (DENY refuses a shortfall)
//   POS sale          counter lines: available and on_hand drop at the store at once (a RETAIL
//                     fulfillment order, fulfilled on the spot); lines shipped to the customer: a
//                     SHIPPING fulfillment order where Shopify assigns it, committed like an online order
//   cancel / refund   unfulfilled units, with restock (CANCEL): committed → available; without: they
//                     leave committed and on_hand. Fulfilled units returned (RETURN): available and
//                     on_hand rise at the restock location; refunded without restock: no stock moves
//   fulfillment       committed and on_hand drop
//   move              committed units move to the new location
import type { MutationResult, SimAddress, SimInventoryLevel, SimShop, UserError } from './state.js';

export type ShippingKind = 'standard' | 'express' | 'pickup';
export type RestockType = 'CANCEL' | 'RETURN' | 'NO_RESTOCK';

export interface SimLineItem {
  id: number;
  variantId: number;
  productId: number;
  sku: string;
  title: string;
  variantTitle: string;
  quantity: number;
  /** quantity minus refunded and removed units. */
  currentQuantity: number;
  price: string;
  grams: number;
}

export interface SimOrder {
  id: number;
  number: number;
  name: string;
  email: string;
  customer: { id: number; firstName: string; lastName: string; email: string };
  shippingAddress: (SimAddress & { firstName: string; lastName: string }) | null;
  shippingLine: { title: string; code: string; source: string } | null;
  sourceName: 'web' | 'pos';
  /** POS orders: the store where the sale was made (Shopify's `retailLocation`, REST `location_id`). */
  retailLocationId: number | null;
  tags: string[];
  note: string | null;
  financialStatus: 'PAID' | 'PARTIALLY_REFUNDED' | 'REFUNDED' | 'VOIDED';
  lineItems: SimLineItem[];
  fulfillmentOrderIds: number[];
  fulfillmentIds: number[];
  refunds: SimRefund[];
  createdAt: Date;
  updatedAt: Date;
  processedAt: Date;
  cancelledAt: Date | null;
  cancelReason: string | null;
  closedAt: Date | null;
}

export interface SimFulfillmentOrderLine {
  id: number;
  lineItemId: number;
  totalQuantity: number;
  remainingQuantity: number;
}

export interface SimFulfillmentOrder {
  id: number;
  orderId: number;
  assignedLocationId: number;
  status: 'OPEN' | 'IN_PROGRESS' | 'CLOSED' | 'CANCELLED' | 'ON_HOLD' | 'SCHEDULED' | 'INCOMPLETE';
  /** RETAIL: an in-store sale, nothing to deliver (a POS counter sale). */
  deliveryMethod: 'SHIPPING' | 'PICK_UP' | 'LOCAL' | 'RETAIL';
  lineItems: SimFulfillmentOrderLine[];
  preparedForPickupAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SimFulfillment {
  id: number;
  orderId: number;
  locationId: number;
  status: 'SUCCESS' | 'CANCELLED';
  trackingInfo: Array<{ company: string | null; number: string | null; url: string | null }>;
  notifyCustomer: boolean;
  lines: Array<{
    lineItemId: number;
    fulfillmentOrderId: number;
    fulfillmentOrderLineItemId: number;
    quantity: number;
  }>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SimRefund {
  id: number;
  createdAt: Date;
  note: string | null;
  lines: SimRefundLine[];
}

export interface SimRefundLine {
  /** The refund line item's own id (REST `refund_line_items[].id`, GraphQL `RefundLineItem.id`). */
  id: number;
  lineItemId: number;
  quantity: number;
  restockType: RestockType;
  /** Where the units went back to stock; null when not restocked. */
  locationId: number | null;
}

const fail = (code: string, field: string[], message: string): { ok: false; userErrors: UserError[] } => ({
  ok: false,
  userErrors: [{ code, field, message }],
});

function touch(shop: SimShop, order: SimOrder): void {
  order.updatedAt = shop.now();
}

function levelFor(shop: SimShop, variantId: number, locationId: number): SimInventoryLevel | undefined {
  const variant = shop.variants.get(variantId);
  return variant ? shop.level(variant.inventoryItemId, locationId) : undefined;
}

/** The location Shopify assigns a shipping order to: the first active location that fulfils online
 * orders and stocks every line (falling back to the first online location). */
export function defaultShippingLocation(shop: SimShop, variantIds: number[]): number {
  const online = [...shop.locations.values()]
    .filter((l) => l.isActive && l.fulfillsOnlineOrders)
    .sort((a, b) => a.id - b.id);
  const stocking = online.find((l) => variantIds.every((v) => levelFor(shop, v, l.id)));
  return (stocking ?? online[0]!).id;
}

/** A new order line for a variant, priced and described as the variant is now. */
function newLineItem(shop: SimShop, variantId: number, quantity: number): SimLineItem {
  const variant = shop.variants.get(variantId)!;
  const product = shop.products.get(variant.productId)!;
  return {
    id: shop.nextId(),
    variantId: variant.id,
    productId: product.id,
    sku: variant.sku,
    title: product.title,
    variantTitle: variant.title,
    quantity,
    currentQuantity: quantity,
    price: variant.price,
    grams: shop.inventoryItems.get(variant.inventoryItemId)!.weightGrams,
  };
}

export interface PlaceOrderInput {
  lines: Array<{ variantId: number; quantity: number }>;
  shipping: ShippingKind;
  /** Pickup: the store; shipping: override Shopify's own assignment. */
  locationId?: number;
  customer?: { firstName: string; lastName: string; email: string };
  address?: SimAddress & { firstName: string; lastName: string };
  tags?: string[];
  createdAt?: Date;
}

/** Checks lines to be taken from `locationId`: known variants, whole quantities, stocked there, enough when the variant denies overselling. */
function checkLines(
  shop: SimShop,
  lines: Array<{ variantId: number; quantity: number }>,
  locationId: number,
  field: (index: number) => string[],
): UserError[] | null {
  const location = shop.locations.get(locationId)!;
  for (const [index, line] of lines.entries()) {
    const variant = shop.variants.get(line.variantId);
    if (!variant) return fail('INVALID_VARIANT', [...field(index), 'variantId'], 'Unknown variant.').userErrors;
    if (!Number.isInteger(line.quantity) || line.quantity < 1)
      return fail('INVALID_QUANTITY', [...field(index), 'quantity'], 'Quantity must be at least 1.').userErrors;
    const level = shop.level(variant.inventoryItemId, locationId);
    if (!level)
      return fail('ITEM_NOT_STOCKED_AT_LOCATION', field(index), `${variant.sku} is not stocked at ${location.name}.`)
        .userErrors;
    const wanted = lines.filter((l) => l.variantId === line.variantId).reduce((sum, l) => sum + l.quantity, 0);
    if (variant.inventoryPolicy === 'DENY' && level.quantities.available < wanted) {
      return fail('NOT_ENOUGH_STOCK', field(index), `Only ${level.quantities.available} of ${variant.sku} available.`)
        .userErrors;
    }
  }
  return null;
}

type OrderDraft = Omit<
  SimOrder,
  | 'id'
  | 'number'
  | 'name'
  | 'email'
  | 'customer'
  | 'lineItems'
  | 'fulfillmentOrderIds'
  | 'fulfillmentIds'
  | 'refunds'
  | 'createdAt'
  | 'updatedAt'
  | 'processedAt'
>;

/** A new order record (not stored yet), with its customer. */
function newOrder(
  shop: SimShop,
  at: Date,
  customer: PlaceOrderInput['customer'],
  draft: (customer: SimOrder['customer']) => OrderDraft,
): SimOrder {
  const number = shop.nextOrderNumber();
  const who = customer ?? { firstName: 'Alex', lastName: 'Doe', email: `customer${number}@example.com` };
  const withId = { id: shop.nextId(), ...who };
  return {
    id: shop.nextId(),
    number,
    name: `#${number}`,
    email: who.email,
    customer: withId,
    lineItems: [],
    fulfillmentOrderIds: [],
    fulfillmentIds: [],
    refunds: [],
    createdAt: at,
    updatedAt: at,
    processedAt: at,
    ...draft(withId),
  };
}

/** Adds the lines to the order under one new fulfillment order at `locationId`; their units become committed there. */
function addFulfillmentOrder(
  shop: SimShop,
  order: SimOrder,
  locationId: number,
  deliveryMethod: SimFulfillmentOrder['deliveryMethod'],
  lines: Array<{ variantId: number; quantity: number }>,
): SimFulfillmentOrder {
  const at = order.createdAt;
  const fo: SimFulfillmentOrder = {
    id: shop.nextId(),
    orderId: order.id,
    assignedLocationId: locationId,
    status: 'OPEN',
    deliveryMethod,
    lineItems: [],
    preparedForPickupAt: null,
    createdAt: at,
    updatedAt: at,
  };
  for (const line of lines) {
    const variant = shop.variants.get(line.variantId)!;
    const item = newLineItem(shop, line.variantId, line.quantity);
    order.lineItems.push(item);
    fo.lineItems.push({
      id: shop.nextId(),
      lineItemId: item.id,
      totalQuantity: line.quantity,
      remainingQuantity: line.quantity,
    });
    const level = shop.level(variant.inventoryItemId, locationId)!;
    shop.changeQuantities(level, { available: -line.quantity, committed: line.quantity });
  }
  order.fulfillmentOrderIds.push(fo.id);
  shop.fulfillmentOrders.set(fo.id, fo);
  return fo;
}

const shippingLineOf = (shipping: ShippingKind, location: { name: string }) =>
  shipping === 'pickup'
    ? { title: `Pickup at ${location.name}`, code: 'pickup', source: 'shopify' }
    : shipping === 'express'
      ? { title: 'Express', code: 'EXPRESS', source: 'shopify' }
      : { title: 'Standard', code: 'STANDARD', source: 'shopify' };

/** An online order, as the checkout creates it. */
export function placeOrder(shop: SimShop, input: PlaceOrderInput): MutationResult<SimOrder> {
  if (input.lines.length === 0) return fail('INVALID', ['lines'], 'An order needs at least one line.');
  const locationId =
    input.locationId ??
    defaultShippingLocation(
      shop,
      input.lines.map((l) => l.variantId),
    );
  const location = shop.locations.get(locationId);
  if (!location) return fail('INVALID_LOCATION', ['locationId'], 'Unknown location.');
  if (input.shipping === 'pickup' && !location.pickupEnabled)
    return fail('PICKUP_NOT_AVAILABLE', ['locationId'], `${location.name} does not offer pickup.`);
  const refused = checkLines(shop, input.lines, locationId, (index) => ['lines', String(index)]);
  if (refused) return { ok: false, userErrors: refused };
  const at = input.createdAt ?? shop.now();
  const order = newOrder(shop, at, input.customer, (customer) => ({
    shippingAddress:
      input.shipping === 'pickup'
        ? null
        : (input.address ?? { ...location.address, firstName: customer.firstName, lastName: customer.lastName }),
    shippingLine: shippingLineOf(input.shipping, location),
    sourceName: 'web',
    retailLocationId: null,
    tags: input.tags ?? [],
    note: null,
    financialStatus: 'PAID',
    cancelledAt: null,
    cancelReason: null,
    closedAt: null,
  }));
  addFulfillmentOrder(shop, order, locationId, input.shipping === 'pickup' ? 'PICK_UP' : 'SHIPPING', input.lines);
  shop.orders.set(order.id, order);
  shop.emit({ topic: 'orders/create', resource: 'order', orderId: order.id });
  return { ok: true, value: order };
}

export interface PosSaleInput {
  /** The store where the sale is made. */
  locationId: number;
  /** `ship: true`: the customer pays at the counter and the units are shipped to them from wherever Shopify assigns. */
  lines: Array<{ variantId: number; quantity: number; ship?: boolean }>;
  /** Where shipped lines go (default: the customer's address at the store's city). */
  shipTo?: SimAddress & { firstName: string; lastName: string };
  shipping?: 'standard' | 'express';
  createdAt?: Date;
}

/**
 * A sale at a POS register. Lines the customer takes home leave the store's stock at once (a RETAIL
 * fulfillment order, fulfilled on the spot); lines shipped to the customer ("ship to customer") get a
 * SHIPPING fulfillment order at the location Shopify assigns, committed there like an online order.
 */
export function posSale(shop: SimShop, input: PosSaleInput): MutationResult<SimOrder> {
  // One delivery per level change, as Shopify sends: the sale's moves of one level come as one.
  return shop.asOneChange(() => sellAtCounter(shop, input));
}

function sellAtCounter(shop: SimShop, input: PosSaleInput): MutationResult<SimOrder> {
  if (input.lines.length === 0) return fail('INVALID', ['lines'], 'A sale needs at least one line.');
  const store = shop.locations.get(input.locationId);
  if (!store) return fail('INVALID_LOCATION', ['locationId'], 'Unknown location.');
  const lines = input.lines.map((l, index) => ({
    variantId: l.variantId,
    quantity: l.quantity,
    ship: Boolean(l.ship),
    index,
  }));
  const counter = lines.filter((l) => !l.ship);
  const shipped = lines.filter((l) => l.ship);
  const refusedHere = checkLines(shop, counter, store.id, (k) => ['lines', String(counter[k]!.index)]);
  if (refusedHere) return { ok: false, userErrors: refusedHere };
  const shipFrom =
    shipped.length > 0
      ? defaultShippingLocation(
          shop,
          shipped.map((l) => l.variantId),
        )
      : null;
  if (shipFrom !== null) {
    const refused = checkLines(shop, shipped, shipFrom, (k) => ['lines', String(shipped[k]!.index)]);
    if (refused) return { ok: false, userErrors: refused };
  }
  const at = input.createdAt ?? shop.now();
  const order = newOrder(shop, at, undefined, (customer) => ({
    shippingAddress:
      shipped.length > 0
        ? (input.shipTo ?? { ...store.address, firstName: customer.firstName, lastName: customer.lastName })
        : null,
    shippingLine: shipped.length > 0 ? shippingLineOf(input.shipping ?? 'standard', store) : null,
    sourceName: 'pos',
    retailLocationId: store.id,
    tags: ['pos'],
    note: null,
    financialStatus: 'PAID',
    cancelledAt: null,
    cancelReason: null,
    closedAt: null,
  }));
  const retail = counter.length > 0 ? addFulfillmentOrder(shop, order, store.id, 'RETAIL', counter) : null;
  if (shipFrom !== null) addFulfillmentOrder(shop, order, shipFrom, 'SHIPPING', shipped);
  shop.orders.set(order.id, order);
  shop.emit({ topic: 'orders/create', resource: 'order', orderId: order.id });
  if (retail) {
    const fulfilled = createFulfillment(shop, {
      fulfillmentOrders: [{ fulfillmentOrderId: retail.id, lines: null }],
      trackingInfo: null,
      notifyCustomer: false,
    });
    if (!fulfilled.ok) return fulfilled;
  }
  return { ok: true, value: order };
}

function refreshOrderStatus(shop: SimShop, order: SimOrder): void {
  const open = order.fulfillmentOrderIds
    .map((id) => shop.fulfillmentOrders.get(id)!)
    .filter((fo) => fo.status !== 'CLOSED' && fo.status !== 'CANCELLED');
  if (open.length === 0 && !order.closedAt) order.closedAt = shop.now();
}

/** `fulfillmentCreate`: all fulfillment orders of one order and one location. `lines: null` = everything remaining. */
export function createFulfillment(
  shop: SimShop,
  input: {
    fulfillmentOrders: Array<{ fulfillmentOrderId: number; lines: Array<{ id: number; quantity: number }> | null }>;
    trackingInfo: { company?: string | null; number?: string | null; url?: string | null } | null;
    notifyCustomer: boolean;
  },
): MutationResult<SimFulfillment> {
  const fos = input.fulfillmentOrders.map((entry) => shop.fulfillmentOrders.get(entry.fulfillmentOrderId));
  if (fos.some((fo) => !fo))
    return fail('NOT_FOUND', ['fulfillment', 'lineItemsByFulfillmentOrder'], 'Fulfillment order does not exist.');
  const orderIds = new Set(fos.map((fo) => fo!.orderId));
  const locationIds = new Set(fos.map((fo) => fo!.assignedLocationId));
  if (orderIds.size > 1 || locationIds.size > 1) {
    return fail(
      'INVALID',
      ['fulfillment'],
      'All fulfillment orders must belong to the same order and be assigned to the same location.',
    );
  }
  const plan: Array<{ fo: SimFulfillmentOrder; line: SimFulfillmentOrderLine; quantity: number }> = [];
  for (const [index, entry] of input.fulfillmentOrders.entries()) {
    const fo = fos[index]!;
    if (fo.status === 'CLOSED' || fo.status === 'CANCELLED')
      return fail('INVALID', ['fulfillment'], `Fulfillment order ${fo.id} is ${fo.status.toLowerCase()}.`);
    const lines =
      entry.lines ??
      fo.lineItems.filter((l) => l.remainingQuantity > 0).map((l) => ({ id: l.id, quantity: l.remainingQuantity }));
    for (const wanted of lines) {
      const line = fo.lineItems.find((l) => l.id === wanted.id);
      if (!line)
        return fail(
          'INVALID',
          ['fulfillment'],
          `Fulfillment order line item ${wanted.id} is not on fulfillment order ${fo.id}.`,
        );
      if (wanted.quantity < 1 || wanted.quantity > line.remainingQuantity) {
        return fail(
          'INVALID',
          ['fulfillment'],
          `Invalid fulfillment order line item quantity requested: ${wanted.quantity} of ${line.remainingQuantity} remaining.`,
        );
      }
      plan.push({ fo, line, quantity: wanted.quantity });
    }
  }
  if (plan.length === 0) return fail('INVALID', ['fulfillment'], 'Nothing left to fulfil.');
  const order = shop.orders.get([...orderIds][0]!)!;
  const locationId = [...locationIds][0]!;
  const at = shop.now();
  const fulfillment: SimFulfillment = {
    id: shop.nextId(),
    orderId: order.id,
    locationId,
    status: 'SUCCESS',
    trackingInfo: input.trackingInfo
      ? [
          {
            company: input.trackingInfo.company ?? null,
            number: input.trackingInfo.number ?? null,
            url: input.trackingInfo.url ?? null,
          },
        ]
      : [],
    notifyCustomer: input.notifyCustomer,
    lines: [],
    createdAt: at,
    updatedAt: at,
  };
  for (const { fo, line, quantity } of plan) {
    line.remainingQuantity -= quantity;
    const lineItem = order.lineItems.find((l) => l.id === line.lineItemId)!;
    const level = levelFor(shop, lineItem.variantId, locationId)!;
    shop.changeQuantity(level, 'committed', -quantity);
    fulfillment.lines.push({
      lineItemId: lineItem.id,
      fulfillmentOrderId: fo.id,
      fulfillmentOrderLineItemId: line.id,
      quantity,
    });
    fo.status = fo.lineItems.every((l) => l.remainingQuantity === 0) ? 'CLOSED' : 'IN_PROGRESS';
    fo.updatedAt = at;
  }
  shop.fulfillments.set(fulfillment.id, fulfillment);
  order.fulfillmentIds.push(fulfillment.id);
  refreshOrderStatus(shop, order);
  touch(shop, order);
  shop.emit({ topic: 'fulfillments/create', resource: 'fulfillment', fulfillmentId: fulfillment.id });
  if (fulfillmentStatus(shop, order) === 'FULFILLED')
    shop.emit({ topic: 'orders/fulfilled', resource: 'order', orderId: order.id });
  shop.emit({ topic: 'orders/updated', resource: 'order', orderId: order.id });
  return { ok: true, value: fulfillment };
}

/** Units of a line still waiting for fulfilment (across its fulfillment orders). */
export function unfulfilledQuantity(shop: SimShop, order: SimOrder, lineItemId: number): number {
  return order.fulfillmentOrderIds
    .map((id) => shop.fulfillmentOrders.get(id)!)
    .filter((fo) => fo.status !== 'CANCELLED')
    .flatMap((fo) => fo.lineItems.filter((l) => l.lineItemId === lineItemId))
    .reduce((sum, l) => sum + l.remainingQuantity, 0);
}

export function fulfilledQuantity(shop: SimShop, order: SimOrder, lineItemId: number): number {
  return order.fulfillmentIds
    .map((id) => shop.fulfillments.get(id)!)
    .filter((f) => f.status === 'SUCCESS')
    .flatMap((f) => f.lines.filter((l) => l.lineItemId === lineItemId))
    .reduce((sum, l) => sum + l.quantity, 0);
}

export function fulfillmentStatus(shop: SimShop, order: SimOrder): 'UNFULFILLED' | 'PARTIALLY_FULFILLED' | 'FULFILLED' {
  const wanted = order.lineItems.reduce((sum, l) => sum + l.currentQuantity, 0);
  const fulfilled = order.lineItems.reduce(
    (sum, l) => sum + Math.min(l.currentQuantity, fulfilledQuantity(shop, order, l.id)),
    0,
  );
  if (wanted > 0 && fulfilled >= wanted) return 'FULFILLED';
  if (wanted === 0 && order.fulfillmentIds.length > 0) return 'FULFILLED';
  return fulfilled > 0 ? 'PARTIALLY_FULFILLED' : 'UNFULFILLED';
}

/**
 * Takes `quantity` unfulfilled units of a line out of its fulfillment orders, releasing them from
 * `committed` at their location: back to `available` when restocked, else out of stock entirely.
 */
function releaseUnfulfilled(
  shop: SimShop,
  order: SimOrder,
  lineItem: SimLineItem,
  quantity: number,
  restock: boolean,
): number | null {
  let left = quantity;
  let location: number | null = null;
  for (const fo of order.fulfillmentOrderIds.map((id) => shop.fulfillmentOrders.get(id)!)) {
    for (const line of fo.lineItems.filter((l) => l.lineItemId === lineItem.id && l.remainingQuantity > 0)) {
      const take = Math.min(left, line.remainingQuantity);
      if (take === 0) continue;
      line.remainingQuantity -= take;
      line.totalQuantity -= take;
      left -= take;
      location = fo.assignedLocationId;
      const level = levelFor(shop, lineItem.variantId, fo.assignedLocationId);
      if (level) {
        shop.changeQuantities(level, { committed: -take, available: restock ? take : 0 });
      }
      if (fo.lineItems.every((l) => l.totalQuantity === 0)) fo.status = 'CLOSED';
      fo.updatedAt = shop.now();
    }
  }
  return location;
}

/**
 * A refund that takes units off an order, per line by its restock type (Shopify's
 * RefundLineItemRestockType): CANCEL takes unfulfilled units back to available at their fulfillment
 * order's location (a partial cancellation); RETURN takes fulfilled units back into stock at
 * `locationId` (default: where they were fulfilled); NO_RESTOCK refunds units without restocking them
 * (unfulfilled ones first, which leave committed and on hand; then fulfilled ones, which the customer
 * keeps or which are not sellable: no stock moves).
 */
export function refund(
  shop: SimShop,
  orderId: number,
  input: {
    lines: Array<{ lineItemId: number; quantity: number; restockType: RestockType; locationId?: number }>;
    note?: string;
  },
): MutationResult<SimRefund> {
  const order = shop.orders.get(orderId);
  if (!order) return fail('NOT_FOUND', ['orderId'], 'Order does not exist.');
  for (const [index, line] of input.lines.entries()) {
    const lineItem = order.lineItems.find((l) => l.id === line.lineItemId);
    if (!lineItem) return fail('INVALID', ['refundLineItems', String(index)], 'Line item is not on this order.');
    const unfulfilled = unfulfilledQuantity(shop, order, lineItem.id);
    // Fulfilled units not refunded yet: what is still wanted beyond the units waiting for fulfilment.
    const limit =
      line.restockType === 'CANCEL'
        ? unfulfilled
        : line.restockType === 'RETURN'
          ? lineItem.currentQuantity - unfulfilled
          : lineItem.currentQuantity;
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > limit) {
      return fail(
        'INVALID',
        ['refundLineItems', String(index), 'quantity'],
        `Cannot refund ${line.quantity} with restock type ${line.restockType}: only ${Math.max(0, limit)} can be.`,
      );
    }
    if (line.restockType === 'RETURN' && line.locationId !== undefined) {
      const location = shop.locations.get(line.locationId);
      if (!location?.isActive)
        return fail(
          'INVALID',
          ['refundLineItems', String(index), 'locationId'],
          'Location does not exist or is not active.',
        );
      if (!levelFor(shop, lineItem.variantId, line.locationId))
        return fail(
          'INVALID',
          ['refundLineItems', String(index), 'locationId'],
          `${lineItem.sku} is not stocked at ${location.name}.`,
        );
    }
  }
  const record: SimRefund = { id: shop.nextId(), createdAt: shop.now(), note: input.note ?? null, lines: [] };
  for (const line of input.lines) {
    const lineItem = order.lineItems.find((l) => l.id === line.lineItemId)!;
    let locationId: number | null = null;
    if (line.restockType === 'RETURN') {
      locationId =
        line.locationId ??
        order.fulfillmentIds
          .map((id) => shop.fulfillments.get(id)!)
          .find((f) => f.lines.some((l) => l.lineItemId === lineItem.id))!.locationId;
      const level = levelFor(shop, lineItem.variantId, locationId)!;
      shop.changeQuantity(level, 'available', line.quantity);
    } else if (line.restockType === 'CANCEL') {
      locationId = releaseUnfulfilled(shop, order, lineItem, line.quantity, true);
    } else {
      const unfulfilled = Math.min(line.quantity, unfulfilledQuantity(shop, order, lineItem.id));
      if (unfulfilled > 0) releaseUnfulfilled(shop, order, lineItem, unfulfilled, false);
    }
    lineItem.currentQuantity -= line.quantity;
    record.lines.push({
      id: shop.nextId(),
      lineItemId: lineItem.id,
      quantity: line.quantity,
      restockType: line.restockType,
      locationId,
    });
  }
  order.refunds.push(record);
  const remaining = order.lineItems.reduce((sum, l) => sum + l.currentQuantity, 0);
  order.financialStatus = remaining === 0 ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
  refreshOrderStatus(shop, order);
  touch(shop, order);
  shop.emit({ topic: 'refunds/create', resource: 'refund', orderId: order.id, refundId: record.id });
  shop.emit({ topic: 'orders/updated', resource: 'order', orderId: order.id });
  return { ok: true, value: record };
}

/** An order edit: remove units (restocked) and add new lines, committed at the order's location. */
export function editOrder(
  shop: SimShop,
  orderId: number,
  input: {
    remove?: Array<{ lineItemId: number; quantity: number }>;
    add?: Array<{ variantId: number; quantity: number }>;
  },
): MutationResult<SimOrder> {
  const order = shop.orders.get(orderId);
  if (!order) return fail('NOT_FOUND', ['orderId'], 'Order does not exist.');
  if (order.cancelledAt) return fail('INVALID', ['orderId'], 'A cancelled order cannot be edited.');
  const fo = order.fulfillmentOrderIds
    .map((id) => shop.fulfillmentOrders.get(id)!)
    .find((f) => f.status === 'OPEN' || f.status === 'IN_PROGRESS');
  for (const [index, removal] of (input.remove ?? []).entries()) {
    const lineItem = order.lineItems.find((l) => l.id === removal.lineItemId);
    if (!lineItem || removal.quantity < 1 || removal.quantity > unfulfilledQuantity(shop, order, removal.lineItemId)) {
      return fail(
        'INVALID',
        ['remove', String(index)],
        'Only unfulfilled units of a line on this order can be removed.',
      );
    }
  }
  for (const [index, addition] of (input.add ?? []).entries()) {
    const variant = shop.variants.get(addition.variantId);
    if (!variant || !fo || addition.quantity < 1)
      return fail('INVALID', ['add', String(index)], 'Unknown variant, bad quantity, or no open fulfillment order.');
    const level = shop.level(variant.inventoryItemId, fo.assignedLocationId);
    if (!level)
      return fail(
        'ITEM_NOT_STOCKED_AT_LOCATION',
        ['add', String(index)],
        `${variant.sku} is not stocked at the order's location.`,
      );
    if (variant.inventoryPolicy === 'DENY' && level.quantities.available < addition.quantity)
      return fail('NOT_ENOUGH_STOCK', ['add', String(index)], `Not enough ${variant.sku}.`);
  }
  const removals: Array<Record<string, unknown>> = [];
  const additions: Array<Record<string, unknown>> = [];
  for (const removal of input.remove ?? []) {
    const lineItem = order.lineItems.find((l) => l.id === removal.lineItemId)!;
    lineItem.currentQuantity -= removal.quantity;
    releaseUnfulfilled(shop, order, lineItem, removal.quantity, true);
    removals.push({ id: lineItem.id, delta: removal.quantity });
  }
  for (const addition of input.add ?? []) {
    const variant = shop.variants.get(addition.variantId)!;
    const lineItem = newLineItem(shop, addition.variantId, addition.quantity);
    order.lineItems.push(lineItem);
    fo!.lineItems.push({
      id: shop.nextId(),
      lineItemId: lineItem.id,
      totalQuantity: addition.quantity,
      remainingQuantity: addition.quantity,
    });
    fo!.status = 'OPEN';
    const level = shop.level(variant.inventoryItemId, fo!.assignedLocationId)!;
    shop.changeQuantities(level, { available: -addition.quantity, committed: addition.quantity });
    additions.push({ id: lineItem.id, delta: addition.quantity });
  }
  refreshOrderStatus(shop, order);
  touch(shop, order);
  shop.emit({ topic: 'orders/edited', resource: 'order', orderId: order.id, extra: { removals, additions } });
  shop.emit({ topic: 'orders/updated', resource: 'order', orderId: order.id });
  return { ok: true, value: order };
}

export const CANCEL_REASONS = ['CUSTOMER', 'DECLINED', 'FRAUD', 'INVENTORY', 'OTHER', 'STAFF'] as const;

/** Cancels an order: every unfulfilled unit leaves its fulfillment order; restocked if asked. */
export function cancelOrder(
  shop: SimShop,
  orderId: number,
  input: { reason: string; restock: boolean },
): MutationResult<SimOrder> {
  const order = shop.orders.get(orderId);
  if (!order) return fail('NOT_FOUND', ['orderId'], 'Order does not exist.');
  if (order.cancelledAt) return fail('INVALID', ['orderId'], 'Order is already cancelled.');
  if (!(CANCEL_REASONS as readonly string[]).includes(input.reason))
    return fail('INVALID', ['reason'], `Unknown cancel reason ${input.reason}.`);
  for (const lineItem of order.lineItems) {
    const open = unfulfilledQuantity(shop, order, lineItem.id);
    if (open > 0) {
      releaseUnfulfilled(shop, order, lineItem, open, input.restock);
      lineItem.currentQuantity -= Math.min(open, lineItem.currentQuantity);
    }
  }
  for (const fo of order.fulfillmentOrderIds.map((id) => shop.fulfillmentOrders.get(id)!)) {
    if (fo.status !== 'CLOSED') fo.status = 'CANCELLED';
  }
  const at = shop.now();
  order.cancelledAt = at;
  order.cancelReason = input.reason;
  order.closedAt ??= at;
  order.financialStatus = 'REFUNDED';
  touch(shop, order);
  shop.emit({ topic: 'orders/cancelled', resource: 'order', orderId: order.id });
  shop.emit({ topic: 'orders/updated', resource: 'order', orderId: order.id });
  return { ok: true, value: order };
}

/** `fulfillmentOrderMove`: moves (or splits off) unfulfilled units to another location, with their commitment. */
export function moveFulfillmentOrder(
  shop: SimShop,
  fulfillmentOrderId: number,
  newLocationId: number,
  lines: Array<{ id: number; quantity: number }> | null,
): MutationResult<{ original: SimFulfillmentOrder; moved: SimFulfillmentOrder }> {
  const fo = shop.fulfillmentOrders.get(fulfillmentOrderId);
  if (!fo) return fail('NOT_FOUND', ['id'], 'Fulfillment order does not exist.');
  if (fo.status !== 'OPEN')
    return fail('INVALID', ['id'], `Cannot move a fulfillment order that is ${fo.status.toLowerCase()}.`);
  if (!shop.locations.get(newLocationId)?.isActive)
    return fail('INVALID', ['newLocationId'], 'Location does not exist or is not active.');
  if (newLocationId === fo.assignedLocationId)
    return fail('INVALID', ['newLocationId'], 'The fulfillment order is already assigned to this location.');
  const order = shop.orders.get(fo.orderId)!;
  const moving = (
    lines ??
    fo.lineItems.filter((l) => l.remainingQuantity > 0).map((l) => ({ id: l.id, quantity: l.remainingQuantity }))
  ).map((wanted) => ({
    wanted,
    line: fo.lineItems.find((l) => l.id === wanted.id),
  }));
  for (const { wanted, line } of moving) {
    if (!line || wanted.quantity < 1 || wanted.quantity > line.remainingQuantity)
      return fail('INVALID', ['fulfillmentOrderLineItems'], `Bad line ${wanted.id} or quantity.`);
    const lineItem = order.lineItems.find((l) => l.id === line.lineItemId)!;
    if (!levelFor(shop, lineItem.variantId, newLocationId))
      return fail('INVALID', ['newLocationId'], `${lineItem.sku} is not stocked at the new location.`);
  }
  const whole =
    moving.length === fo.lineItems.filter((l) => l.remainingQuantity > 0).length &&
    moving.every(({ wanted, line }) => wanted.quantity === line!.remainingQuantity);
  const at = shop.now();
  const target: SimFulfillmentOrder = whole
    ? fo
    : {
        id: shop.nextId(),
        orderId: fo.orderId,
        assignedLocationId: newLocationId,
        status: 'OPEN',
        deliveryMethod: fo.deliveryMethod,
        lineItems: [],
        preparedForPickupAt: null,
        createdAt: at,
        updatedAt: at,
      };
  for (const { wanted, line } of moving) {
    const lineItem = order.lineItems.find((l) => l.id === line!.lineItemId)!;
    const from = levelFor(shop, lineItem.variantId, fo.assignedLocationId)!;
    const to = levelFor(shop, lineItem.variantId, newLocationId)!;
    shop.changeQuantities(from, { committed: -wanted.quantity, available: wanted.quantity });
    shop.changeQuantities(to, { available: -wanted.quantity, committed: wanted.quantity });
    if (!whole) {
      line!.remainingQuantity -= wanted.quantity;
      line!.totalQuantity -= wanted.quantity;
      target.lineItems.push({
        id: shop.nextId(),
        lineItemId: lineItem.id,
        totalQuantity: wanted.quantity,
        remainingQuantity: wanted.quantity,
      });
    }
  }
  if (whole) fo.assignedLocationId = newLocationId;
  else {
    shop.fulfillmentOrders.set(target.id, target);
    order.fulfillmentOrderIds.push(target.id);
  }
  fo.updatedAt = at;
  touch(shop, order);
  shop.emit({
    topic: 'fulfillment_orders/moved',
    resource: 'fulfillment_order',
    fulfillmentOrderId: target.id,
    extra: { originalId: fo.id },
  });
  return { ok: true, value: { original: fo, moved: target } };
}

/** Marks pickup fulfillment orders ready; Shopify notifies the customer. */
export function prepareForPickup(shop: SimShop, fulfillmentOrderIds: number[]): MutationResult<SimFulfillmentOrder[]> {
  const fos = fulfillmentOrderIds.map((id) => shop.fulfillmentOrders.get(id));
  for (const [index, fo] of fos.entries()) {
    if (!fo)
      return fail(
        'NOT_FOUND',
        ['input', 'lineItemsByFulfillmentOrder', String(index)],
        'Fulfillment order does not exist.',
      );
    if (fo.deliveryMethod !== 'PICK_UP')
      return fail(
        'INVALID',
        ['input', 'lineItemsByFulfillmentOrder', String(index)],
        'Only pickup fulfillment orders can be prepared for pickup.',
      );
    if (fo.status === 'CLOSED' || fo.status === 'CANCELLED')
      return fail(
        'INVALID',
        ['input', 'lineItemsByFulfillmentOrder', String(index)],
        `Fulfillment order is ${fo.status.toLowerCase()}.`,
      );
  }
  const at = shop.now();
  for (const fo of fos as SimFulfillmentOrder[]) {
    fo.preparedForPickupAt = at;
    fo.status = 'IN_PROGRESS';
    fo.updatedAt = at;
    shop.emit({
      topic: 'fulfillment_orders/line_items_prepared_for_pickup',
      resource: 'fulfillment_order',
      fulfillmentOrderId: fo.id,
    });
  }
  return { ok: true, value: fos as SimFulfillmentOrder[] };
}
