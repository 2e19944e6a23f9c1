// GraphQL views of orders, fulfillment orders, fulfillments and refunds (see views.ts for the rules).
import { GraphQLError } from 'graphql';
import { paginate, type ConnectionArgs } from './connection.js';
import {
  fulfilledQuantity,
  fulfillmentStatus,
  unfulfilledQuantity,
  type SimFulfillment,
  type SimFulfillmentOrder,
  type SimLineItem,
  type SimOrder,
  type SimRefund,
} from './orders.js';
import { matches, parseSearch, SearchSyntaxError, type SearchFields } from './search.js';
import { gid, type SimShop } from './state.js';
import { LocationView, VariantView, ProductView } from './views.js';

const iso = (date: Date | null) => (date ? date.toISOString() : null);
const DAY_MS = 86_400_000;
/** Without read_all_orders an app sees the last 60 days of orders only. */
export const ORDER_VISIBILITY_DAYS = 60;

const money = (shop: SimShop, amount: number | string) => ({
  shopMoney: { amount: typeof amount === 'number' ? amount.toFixed(2) : amount, currencyCode: shop.currencyCode },
  presentmentMoney: {
    amount: typeof amount === 'number' ? amount.toFixed(2) : amount,
    currencyCode: shop.currencyCode,
  },
});

export function orderTotal(order: SimOrder, current: boolean): number {
  return order.lineItems.reduce((sum, l) => sum + Number(l.price) * (current ? l.currentQuantity : l.quantity), 0);
}

export class OrderView {
  readonly __typename = 'Order';
  constructor(
    private readonly shop: SimShop,
    private readonly order: SimOrder,
  ) {}
  get id() {
    return gid('Order', this.order.id);
  }
  get legacyResourceId() {
    return String(this.order.id);
  }
  get name() {
    return this.order.name;
  }
  get number() {
    return this.order.number;
  }
  get email() {
    return this.order.email;
  }
  get note() {
    return this.order.note;
  }
  get createdAt() {
    return iso(this.order.createdAt);
  }
  get updatedAt() {
    return iso(this.order.updatedAt);
  }
  get processedAt() {
    return iso(this.order.processedAt);
  }
  get cancelledAt() {
    return iso(this.order.cancelledAt);
  }
  get cancelReason() {
    return this.order.cancelReason;
  }
  get closed() {
    return this.order.closedAt !== null;
  }
  get closedAt() {
    return iso(this.order.closedAt);
  }
  get sourceName() {
    return this.order.sourceName;
  }
  get retailLocation() {
    const location =
      this.order.retailLocationId === null ? undefined : this.shop.locations.get(this.order.retailLocationId);
    return location ? new LocationView(this.shop, location) : null;
  }
  get tags() {
    return this.order.tags;
  }
  get currencyCode() {
    return this.shop.currencyCode;
  }
  get displayFinancialStatus() {
    return this.order.financialStatus;
  }
  get displayFulfillmentStatus() {
    return fulfillmentStatus(this.shop, this.order);
  }
  get totalPriceSet() {
    return money(this.shop, orderTotal(this.order, false));
  }
  get currentTotalPriceSet() {
    return money(this.shop, orderTotal(this.order, true));
  }
  get customer() {
    const c = this.order.customer;
    return {
      id: gid('Customer', c.id),
      firstName: c.firstName,
      lastName: c.lastName,
      email: c.email,
      displayName: `${c.firstName} ${c.lastName}`,
    };
  }
  get shippingAddress() {
    const a = this.order.shippingAddress;
    if (!a) return null;
    return {
      ...a,
      name: `${a.firstName} ${a.lastName}`,
      countryCodeV2: a.countryCode,
      formatted: [a.address1, `${a.city} ${a.provinceCode} ${a.zip}`, a.country],
      coordinatesValidated: true,
    };
  }
  get shippingLine() {
    return this.shippingLineView();
  }
  private shippingLineView() {
    const s = this.order.shippingLine;
    return s
      ? {
          id: gid('ShippingLine', this.order.id),
          title: s.title,
          code: s.code,
          source: s.source,
          isRemoved: false,
          originalPriceSet: money(this.shop, 0),
        }
      : null;
  }
  shippingLines(args: ConnectionArgs) {
    const line = this.shippingLineView();
    return paginate(
      line ? [line] : [],
      args,
      () => this.order.id,
      (l) => l,
    );
  }
  lineItems(args: ConnectionArgs) {
    return paginate(
      this.order.lineItems,
      args,
      (l) => l.id,
      (l) => new LineItemView(this.shop, this.order, l),
    );
  }
  fulfillmentOrders(args: ConnectionArgs) {
    const fos = this.order.fulfillmentOrderIds.map((id) => this.shop.fulfillmentOrders.get(id)!);
    return paginate(
      fos,
      args,
      (f) => f.id,
      (f) => new FulfillmentOrderView(this.shop, f),
    );
  }
  fulfillments(args: { first?: number | null }) {
    const list = this.order.fulfillmentIds.map((id) => new FulfillmentView(this.shop, this.shop.fulfillments.get(id)!));
    return args.first == null ? list : list.slice(0, args.first);
  }
  refunds(args: { first?: number | null }) {
    const list = this.order.refunds.map((r) => new RefundView(this.shop, this.order, r));
    return args.first == null ? list : list.slice(0, args.first);
  }
}

export class LineItemView {
  readonly __typename = 'LineItem';
  constructor(
    private readonly shop: SimShop,
    private readonly order: SimOrder,
    private readonly line: SimLineItem,
  ) {}
  get id() {
    return gid('LineItem', this.line.id);
  }
  get sku() {
    return this.line.sku;
  }
  get title() {
    return this.line.title;
  }
  get name() {
    return `${this.line.title} - ${this.line.variantTitle}`;
  }
  get variantTitle() {
    return this.line.variantTitle;
  }
  get quantity() {
    return this.line.quantity;
  }
  get currentQuantity() {
    return this.line.currentQuantity;
  }
  get unfulfilledQuantity() {
    return unfulfilledQuantity(this.shop, this.order, this.line.id);
  }
  get fulfillableQuantity() {
    return unfulfilledQuantity(this.shop, this.order, this.line.id);
  }
  get refundableQuantity() {
    return this.line.currentQuantity;
  }
  get requiresShipping() {
    return true;
  }
  get originalUnitPriceSet() {
    return money(this.shop, this.line.price);
  }
  get variant() {
    const variant = this.shop.variants.get(this.line.variantId);
    return variant ? new VariantView(this.shop, variant) : null;
  }
  get product() {
    const product = this.shop.products.get(this.line.productId);
    return product ? new ProductView(this.shop, product) : null;
  }
  get weight() {
    return { unit: 'GRAMS', value: this.line.grams };
  }
  get fulfilledQuantity() {
    return fulfilledQuantity(this.shop, this.order, this.line.id);
  }
}

export class FulfillmentOrderView {
  readonly __typename = 'FulfillmentOrder';
  constructor(
    private readonly shop: SimShop,
    private readonly fo: SimFulfillmentOrder,
  ) {}
  get id() {
    return gid('FulfillmentOrder', this.fo.id);
  }
  get orderId() {
    return gid('Order', this.fo.orderId);
  }
  get orderName() {
    return this.shop.orders.get(this.fo.orderId)!.name;
  }
  get status() {
    return this.fo.status;
  }
  get requestStatus() {
    return 'UNSUBMITTED';
  }
  get createdAt() {
    return iso(this.fo.createdAt);
  }
  get updatedAt() {
    return iso(this.fo.updatedAt);
  }
  get order() {
    return new OrderView(this.shop, this.shop.orders.get(this.fo.orderId)!);
  }
  get deliveryMethod() {
    const presentedName = { PICK_UP: 'Pickup', RETAIL: 'In store', SHIPPING: 'Shipping', LOCAL: 'Local delivery' }[
      this.fo.deliveryMethod
    ];
    return { id: gid('DeliveryMethod', this.fo.id), methodType: this.fo.deliveryMethod, presentedName };
  }
  get assignedLocation() {
    const location = this.shop.locations.get(this.fo.assignedLocationId)!;
    const a = location.address;
    return {
      name: location.name,
      address1: a.address1,
      address2: a.address2,
      city: a.city,
      province: a.province,
      zip: a.zip,
      countryCode: a.countryCode,
      phone: a.phone,
      location: new LocationView(this.shop, location),
    };
  }
  get supportedActions() {
    const open = this.fo.status === 'OPEN' || this.fo.status === 'IN_PROGRESS';
    const actions = open ? ['CREATE_FULFILLMENT', 'HOLD'] : [];
    if (this.fo.status === 'OPEN') actions.push('MOVE');
    if (open && this.fo.deliveryMethod === 'PICK_UP') actions.push('MARK_AS_OPEN');
    return actions.map((action) => ({ action, externalUrl: null }));
  }
  lineItems(args: ConnectionArgs) {
    const order = this.shop.orders.get(this.fo.orderId)!;
    return paginate(
      this.fo.lineItems,
      args,
      (l) => l.id,
      (l) => {
        const lineItem = order.lineItems.find((li) => li.id === l.lineItemId)!;
        return {
          id: gid('FulfillmentOrderLineItem', l.id),
          totalQuantity: l.totalQuantity,
          remainingQuantity: l.remainingQuantity,
          sku: lineItem.sku,
          productTitle: lineItem.title,
          variantTitle: lineItem.variantTitle,
          inventoryItemId: gid('InventoryItem', this.shop.variants.get(lineItem.variantId)!.inventoryItemId),
          lineItem: new LineItemView(this.shop, order, lineItem),
          variant: new VariantView(this.shop, this.shop.variants.get(lineItem.variantId)!),
        };
      },
    );
  }
  fulfillments(args: ConnectionArgs) {
    const list = [...this.shop.fulfillments.values()].filter((f) =>
      f.lines.some((l) => l.fulfillmentOrderId === this.fo.id),
    );
    return paginate(
      list,
      args,
      (f) => f.id,
      (f) => new FulfillmentView(this.shop, f),
    );
  }
}

export class FulfillmentView {
  readonly __typename = 'Fulfillment';
  constructor(
    private readonly shop: SimShop,
    private readonly fulfillment: SimFulfillment,
  ) {}
  get id() {
    return gid('Fulfillment', this.fulfillment.id);
  }
  get legacyResourceId() {
    return String(this.fulfillment.id);
  }
  get name() {
    const order = this.shop.orders.get(this.fulfillment.orderId)!;
    return `${order.name}-F${order.fulfillmentIds.indexOf(this.fulfillment.id) + 1}`;
  }
  get status() {
    return this.fulfillment.status;
  }
  get displayStatus() {
    return 'FULFILLED';
  }
  get createdAt() {
    return iso(this.fulfillment.createdAt);
  }
  get updatedAt() {
    return iso(this.fulfillment.updatedAt);
  }
  get totalQuantity() {
    return this.fulfillment.lines.reduce((sum, l) => sum + l.quantity, 0);
  }
  get trackingInfo() {
    return this.fulfillment.trackingInfo;
  }
  get location() {
    return new LocationView(this.shop, this.shop.locations.get(this.fulfillment.locationId)!);
  }
  get order() {
    return new OrderView(this.shop, this.shop.orders.get(this.fulfillment.orderId)!);
  }
  fulfillmentLineItems(args: ConnectionArgs) {
    const order = this.shop.orders.get(this.fulfillment.orderId)!;
    return paginate(
      this.fulfillment.lines,
      args,
      (l) => l.fulfillmentOrderLineItemId,
      (l) => ({
        id: gid('FulfillmentLineItem', l.fulfillmentOrderLineItemId),
        quantity: l.quantity,
        lineItem: new LineItemView(
          this.shop,
          order,
          order.lineItems.find((li) => li.id === l.lineItemId)!,
        ),
      }),
    );
  }
}

export class RefundView {
  readonly __typename = 'Refund';
  constructor(
    private readonly shop: SimShop,
    private readonly owner: SimOrder,
    private readonly refund: SimRefund,
  ) {}
  get id() {
    return gid('Refund', this.refund.id);
  }
  get createdAt() {
    return iso(this.refund.createdAt);
  }
  get note() {
    return this.refund.note;
  }
  get processedAt() {
    return iso(this.refund.createdAt);
  }
  get updatedAt() {
    return iso(this.refund.createdAt);
  }
  get order() {
    return new OrderView(this.shop, this.owner);
  }
  get return() {
    return null;
  }
  refundLineItems(args: ConnectionArgs) {
    return paginate(
      this.refund.lines,
      args,
      (l) => l.id,
      (l) => {
        const lineItem = this.owner.lineItems.find((li) => li.id === l.lineItemId)!;
        return {
          id: gid('RefundLineItem', l.id),
          quantity: l.quantity,
          restockType: l.restockType,
          restocked: l.restockType !== 'NO_RESTOCK',
          location: l.locationId ? new LocationView(this.shop, this.shop.locations.get(l.locationId)!) : null,
          lineItem: new LineItemView(this.shop, this.owner, lineItem),
          priceSet: money(this.shop, lineItem.price),
          subtotalSet: money(this.shop, Number(lineItem.price) * l.quantity),
          totalTaxSet: money(this.shop, 0),
        };
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------

const orderSearch = (shop: SimShop): SearchFields<SimOrder> => ({
  defaultFields: ['name', 'email'],
  fields: {
    id: (o) => o.id,
    name: (o) => [o.name, o.name.replace('#', '')],
    email: (o) => o.email,
    created_at: (o) => o.createdAt,
    updated_at: (o) => o.updatedAt,
    processed_at: (o) => o.processedAt,
    status: (o) => (o.cancelledAt ? ['cancelled', 'closed'] : o.closedAt ? 'closed' : 'open'),
    financial_status: (o) => o.financialStatus.toLowerCase(),
    fulfillment_status: (o) => {
      const status = fulfillmentStatus(shop, o);
      return status === 'FULFILLED'
        ? ['shipped', 'fulfilled']
        : status === 'PARTIALLY_FULFILLED'
          ? ['partial', 'unshipped']
          : ['unshipped', 'unfulfilled'];
    },
    tag: (o) => o.tags,
    sku: (o) => o.lineItems.map((l) => l.sku),
    source_name: (o) => o.sourceName,
  },
});

const ORDER_SORTS: Record<string, (o: SimOrder) => number | string> = {
  ID: (o) => o.id,
  CREATED_AT: (o) => o.createdAt.getTime(),
  UPDATED_AT: (o) => o.updatedAt.getTime(),
  PROCESSED_AT: (o) => o.processedAt.getTime(),
  ORDER_NUMBER: (o) => o.number,
};

/** Without read_all_orders an app sees the orders created in the last ORDER_VISIBILITY_DAYS. */
const visibleSince = (shop: SimShop) => shop.now().getTime() - ORDER_VISIBILITY_DAYS * DAY_MS;

export function visibleOrders(shop: SimShop, readAllOrders: boolean): SimOrder[] {
  const all = [...shop.orders.values()];
  if (readAllOrders) return all;
  const since = visibleSince(shop);
  return all.filter((o) => o.createdAt.getTime() >= since);
}

/** One order's visibility, without building the list. */
function isVisible(shop: SimShop, order: SimOrder, readAllOrders: boolean): boolean {
  return readAllOrders || order.createdAt.getTime() >= visibleSince(shop);
}

export function makeOrderQueries(shop: SimShop, readAllOrders: boolean) {
  const canSee = (order: SimOrder | undefined) => (order && isVisible(shop, order, readAllOrders) ? order : undefined);
  return {
    orders: (args: ConnectionArgs & { query?: string | null; sortKey?: string | null }) => {
      let tree;
      try {
        tree = args.query ? parseSearch(args.query) : null;
      } catch (error) {
        if (error instanceof SearchSyntaxError)
          throw new GraphQLError(error.message, { extensions: { code: 'BAD_REQUEST' } });
        throw error;
      }
      const sortKey = ORDER_SORTS[args.sortKey ?? 'ID'];
      if (!sortKey)
        throw new GraphQLError(`Sort key ${args.sortKey} is not supported by the simulator for orders.`, {
          extensions: { code: 'NOT_IMPLEMENTED' },
        });
      const spec = orderSearch(shop);
      const list = visibleOrders(shop, readAllOrders)
        .filter((o) => matches(tree, o, spec))
        .sort((a, b) => {
          const ka = sortKey(a);
          const kb = sortKey(b);
          return ka < kb ? -1 : ka > kb ? 1 : a.id - b.id;
        });
      return paginate(
        list,
        args,
        (o) => o.id,
        (o) => new OrderView(shop, o),
      );
    },
    order: (args: Record<string, unknown>) => {
      const match = /^gid:\/\/shopify\/Order\/(\d+)$/.exec(String(args['id']));
      const order = canSee(match ? shop.orders.get(Number(match[1])) : undefined);
      return order ? new OrderView(shop, order) : null;
    },
    fulfillmentOrder: (args: Record<string, unknown>) => {
      const match = /^gid:\/\/shopify\/FulfillmentOrder\/(\d+)$/.exec(String(args['id']));
      const fo = match ? shop.fulfillmentOrders.get(Number(match[1])) : undefined;
      return fo && canSee(shop.orders.get(fo.orderId)) ? new FulfillmentOrderView(shop, fo) : null;
    },
    fulfillment: (args: Record<string, unknown>) => {
      const match = /^gid:\/\/shopify\/Fulfillment\/(\d+)$/.exec(String(args['id']));
      const fulfillment = match ? shop.fulfillments.get(Number(match[1])) : undefined;
      return fulfillment && canSee(shop.orders.get(fulfillment.orderId))
        ? new FulfillmentView(shop, fulfillment)
        : null;
    },
  };
}

/** Node lookups for order-side types (used by node/nodes). */
export function orderNodeView(shop: SimShop, type: string, id: number, readAllOrders: boolean): object | null {
  const visible = (orderId: number) => {
    const order = shop.orders.get(orderId);
    return order && isVisible(shop, order, readAllOrders) ? order : undefined;
  };
  switch (type) {
    case 'Order': {
      const order = visible(id);
      return order ? new OrderView(shop, order) : null;
    }
    case 'FulfillmentOrder': {
      const fo = shop.fulfillmentOrders.get(id);
      return fo && visible(fo.orderId) ? new FulfillmentOrderView(shop, fo) : null;
    }
    case 'Fulfillment': {
      const f = shop.fulfillments.get(id);
      return f && visible(f.orderId) ? new FulfillmentView(shop, f) : null;
    }
    default:
      return null;
  }
}
