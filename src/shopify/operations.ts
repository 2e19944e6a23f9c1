// Every GraphQL operation Switchyard sends to Shopify: named, typed, and validated against the real
// Admin schema by operations.test.ts. Page sizes keep each query under Shopify's 1,000-point limit.
import { operation } from './operation.js';

// ---------------------------------------------------------------------------------------------
// Shared shapes

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface ProductNode {
  id: string;
  handle: string;
  title: string;
  status: string;
  vendor: string | null;
  productType: string | null;
  tags: string[];
  updatedAt: string;
  featuredMedia: { image?: { url: string } | null } | null;
  variants: { nodes: VariantNode[]; pageInfo: PageInfo };
}

export interface VariantNode {
  id: string;
  title: string;
  sku: string | null;
  barcode: string | null;
  price: string | null;
  inventoryPolicy: 'DENY' | 'CONTINUE';
  updatedAt: string;
  inventoryItem: { id: string; measurement: { weight: { unit: string; value: number } | null } | null } | null;
}

export interface OrderNode {
  id: string;
  name: string;
  email: string | null;
  createdAt: string;
  updatedAt: string;
  cancelledAt: string | null;
  cancelReason: string | null;
  sourceName: string | null;
  tags: string[];
  displayFinancialStatus: string | null;
  displayFulfillmentStatus: string | null;
  customer: { firstName: string | null; lastName: string | null; email: string | null } | null;
  shippingAddress: {
    firstName: string | null;
    lastName: string | null;
    address1: string | null;
    address2: string | null;
    city: string | null;
    province: string | null;
    provinceCode: string | null;
    zip: string | null;
    countryCodeV2: string | null;
    phone: string | null;
    latitude: number | null;
    longitude: number | null;
  } | null;
  shippingLines: { nodes: Array<{ title: string; code: string | null; source: string | null }> };
  currentTotalPriceSet: { shopMoney: { amount: string; currencyCode: string } } | null;
  lineItems: { nodes: LineItemNode[]; pageInfo: PageInfo };
  fulfillmentOrders: {
    nodes: Array<{
      id: string;
      status: string;
      deliveryMethod: { methodType: string } | null;
      assignedLocation: { location: { id: string } | null };
    }>;
  };
  /** POS orders: the store of the sale. */
  retailLocation?: { id: string } | null;
  /** Absent where the read does not ask for them (the initial load's bulk query). */
  refunds?: RefundNode[];
}

export interface RefundNode {
  id: string;
  createdAt: string;
  refundLineItems: {
    nodes: Array<{
      id: string | null;
      quantity: number;
      restockType: string;
      location: { id: string } | null;
      lineItem: { id: string };
    }>;
  };
}

export interface LineItemNode {
  id: string;
  sku: string | null;
  title: string;
  variantTitle: string | null;
  quantity: number;
  currentQuantity: number;
  /** Units not fulfilled yet (refunded and removed units excluded). */
  unfulfilledQuantity: number;
  variant: { id: string } | null;
  originalUnitPriceSet: { shopMoney: { amount: string } } | null;
}

const PRODUCT_FIELDS = `
fragment ProductFields on Product {
  id handle title status vendor productType tags updatedAt
  featuredMedia { ... on MediaImage { image { url } } }
  variants(first: 20) {
    nodes { id title sku barcode price inventoryPolicy updatedAt inventoryItem { id measurement { weight { unit value } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const ORDER_FIELDS = `
fragment OrderFields on Order {
  id name email createdAt updatedAt cancelledAt cancelReason sourceName tags displayFinancialStatus displayFulfillmentStatus
  customer { firstName lastName email }
  shippingAddress { firstName lastName address1 address2 city province provinceCode zip countryCodeV2 phone latitude longitude }
  shippingLines(first: 2) { nodes { title code source } }
  currentTotalPriceSet { shopMoney { amount currencyCode } }
  lineItems(first: 10) { nodes { id sku title variantTitle quantity currentQuantity unfulfilledQuantity variant { id } originalUnitPriceSet { shopMoney { amount } } } pageInfo { hasNextPage endCursor } }
  fulfillmentOrders(first: 3) { nodes { id status deliveryMethod { methodType } assignedLocation { location { id } } } }
  retailLocation { id }
  refunds(first: 10) { id createdAt refundLineItems(first: 10) { nodes { id quantity restockType location { id } lineItem { id } } } }
}`;

// ---------------------------------------------------------------------------------------------
// Queries

export const ShopInfo = operation<{
  shop: { name: string; myshopifyDomain: string; currencyCode: string; ianaTimezone: string };
}>('ShopInfo', 1, `query ShopInfo { shop { name myshopifyDomain currencyCode ianaTimezone } }`);

/** The scopes granted to the app (see scopes.ts for what Switchyard needs). */
export const AppAccessScopes = operation<{ currentAppInstallation: { accessScopes: Array<{ handle: string }> } }>(
  'AppAccessScopes',
  2,
  `query AppAccessScopes { currentAppInstallation { accessScopes { handle } } }`,
);

export interface LocationNode {
  id: string;
  name: string;
  isActive: boolean;
  fulfillsOnlineOrders: boolean;
  shipsInventory: boolean;
  address: {
    address1: string | null;
    city: string | null;
    province: string | null;
    provinceCode: string | null;
    zip: string | null;
    countryCode: string | null;
    latitude: number | null;
    longitude: number | null;
  };
}

export const LocationsPage = operation<
  { locations: { nodes: LocationNode[]; pageInfo: PageInfo } },
  { after: string | null }
>(
  'LocationsPage',
  202,
  `query LocationsPage($after: String) {
    locations(first: 100, after: $after, includeInactive: true) {
      nodes { id name isActive fulfillsOnlineOrders shipsInventory address { address1 city province provinceCode zip countryCode latitude longitude } }
      pageInfo { hasNextPage endCursor }
    }
  }`,
);

export const ProductsPage = operation<
  { products: { nodes: ProductNode[]; pageInfo: PageInfo } },
  { query: string | null; after: string | null }
>(
  'ProductsPage',
  852,
  `query ProductsPage($query: String, $after: String) {
    products(first: 10, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { ...ProductFields } pageInfo { hasNextPage endCursor } }
  }
  ${PRODUCT_FIELDS}`,
);

export const ProductVariantsPage = operation<
  { product: { variants: { nodes: VariantNode[]; pageInfo: PageInfo } } | null },
  { id: string; after: string | null }
>(
  'ProductVariantsPage',
  403,
  `query ProductVariantsPage($id: ID!, $after: String) {
    product(id: $id) {
      variants(first: 100, after: $after) {
        nodes { id title sku barcode price inventoryPolicy updatedAt inventoryItem { id measurement { weight { unit value } } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }`,
);

export const OrdersPage = operation<
  { orders: { nodes: OrderNode[]; pageInfo: PageInfo } },
  { query: string | null; after: string | null }
>(
  'OrdersPage',
  992,
  `query OrdersPage($query: String, $after: String) {
    orders(first: 10, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { ...OrderFields } pageInfo { hasNextPage endCursor } }
  }
  ${ORDER_FIELDS}`,
);

/** Only the ids and versions of a window's orders: a poll fetches in full only those it lacks or has older. */
export const OrdersIndexPage = operation<
  { orders: { nodes: Array<{ id: string; updatedAt: string }>; pageInfo: PageInfo } },
  { query: string | null; after: string | null }
>(
  'OrdersIndexPage',
  252,
  `query OrdersIndexPage($query: String, $after: String) {
    orders(first: 250, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } }
  }`,
);

/** Up to this many orders by id in one call: 10 × 99 points stays under Shopify's 1,000-point limit per query. */
export const ORDERS_BY_IDS_MAX = 10;

/** Orders by id, in full; ones that no longer exist come back null. */
export const OrdersByIds = operation<{ nodes: Array<OrderNode | null> }, { ids: string[] }>(
  'OrdersByIds',
  // Requested cost per id (as for InventoryLevelsByIds); the budget learns the real cost from the first answer.
  99,
  `query OrdersByIds($ids: [ID!]!) { nodes(ids: $ids) { ...OrderFields } }
  ${ORDER_FIELDS}`,
);

export const OrderById = operation<{ order: OrderNode | null }, { id: string }>(
  'OrderById',
  99,
  `query OrderById($id: ID!) { order(id: $id) { ...OrderFields } }
  ${ORDER_FIELDS}`,
);

/** What Shopify still owes of an order, per line: cheap (a few points), read before units leave a store. */
export const OrderOwed = operation<
  {
    order: {
      id: string;
      updatedAt: string;
      cancelledAt: string | null;
      lineItems: { nodes: Array<{ id: string; currentQuantity: number; unfulfilledQuantity: number }> };
    } | null;
  },
  { id: string; first: number }
>(
  'OrderOwed',
  // The order and the connection; each line adds a point (the budget learns the real cost per call).
  3,
  `query OrderOwed($id: ID!, $first: Int!) {
    order(id: $id) { id updatedAt cancelledAt lineItems(first: $first) { nodes { id currentQuantity unfulfilledQuantity } } }
  }`,
);

/**
 * Which lines each fulfilment order of an order holds: read only for an order with both an in-store
 * (RETAIL) fulfilment order and one to deliver, to tell which lines the customer took home.
 */
export const OrderFulfillmentOrderLines = operation<
  {
    order: {
      fulfillmentOrders: {
        nodes: Array<{
          deliveryMethod: { methodType: string } | null;
          lineItems: { nodes: Array<{ lineItem: { id: string } }> };
        }>;
      };
    } | null;
  },
  { id: string }
>(
  'OrderFulfillmentOrderLines',
  523,
  `query OrderFulfillmentOrderLines($id: ID!) {
    order(id: $id) { fulfillmentOrders(first: 5) { nodes { deliveryMethod { methodType } lineItems(first: 50) { nodes { lineItem { id } } } } } }
  }`,
);

export const OrderLineItemsPage = operation<
  { order: { lineItems: { nodes: LineItemNode[]; pageInfo: PageInfo } } | null },
  { id: string; after: string | null }
>(
  'OrderLineItemsPage',
  403,
  `query OrderLineItemsPage($id: ID!, $after: String) {
    order(id: $id) {
      lineItems(first: 100, after: $after) { nodes { id sku title variantTitle quantity currentQuantity unfulfilledQuantity variant { id } originalUnitPriceSet { shopMoney { amount } } } pageInfo { hasNextPage endCursor } }
    }
  }`,
);

export const WebhookSubscriptions = operation<{
  webhookSubscriptions: { nodes: Array<{ id: string; topic: string; uri: string }> };
}>(
  'WebhookSubscriptions',
  102,
  `query WebhookSubscriptions { webhookSubscriptions(first: 100) { nodes { id topic uri } } }`,
);

export interface InventoryLevelNode {
  id: string;
  location: { id: string };
  item: { id: string };
  quantities: Array<{ name: string; quantity: number }>;
  /** When the level last changed, by Shopify's clock. */
  updatedAt: string;
}

/** Levels by id (`gid://shopify/InventoryLevel/<location>?inventory_item_id=<item>`); missing ones come back null. */
export const InventoryLevelsByIds = operation<{ nodes: Array<InventoryLevelNode | null> }, { ids: string[] }>(
  'InventoryLevelsByIds',
  // Requested cost does not see the length of `ids`; the budget learns the real cost (≈ 4 per id) from the first answer.
  4,
  `query InventoryLevelsByIds($ids: [ID!]!) {
    nodes(ids: $ids) { ... on InventoryLevel { id updatedAt location { id } item { id } quantities(names: ["available", "committed", "on_hand"]) { name quantity } } }
  }`,
);

// ---------------------------------------------------------------------------------------------
// Mutations

export interface UserErrorNode {
  field: string[] | null;
  message: string;
}

export const WebhookSubscriptionCreate = operation<
  { webhookSubscriptionCreate: { webhookSubscription: { id: string } | null; userErrors: UserErrorNode[] } },
  { topic: string; uri: string }
>(
  'WebhookSubscriptionCreate',
  10,
  `mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
    webhookSubscriptionCreate(topic: $topic, webhookSubscription: { uri: $uri }) { webhookSubscription { id } userErrors { field message } }
  }`,
);

export const WebhookSubscriptionDelete = operation<
  { webhookSubscriptionDelete: { deletedWebhookSubscriptionId: string | null; userErrors: UserErrorNode[] } },
  { id: string }
>(
  'WebhookSubscriptionDelete',
  10,
  `mutation WebhookSubscriptionDelete($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } } }`,
);

export interface InventoryUserError extends UserErrorNode {
  code: string | null;
}

export interface InventorySetInput {
  name: 'available';
  reason: string;
  referenceDocumentUri: string;
  quantities: Array<{
    inventoryItemId: string;
    locationId: string;
    quantity: number;
    changeFromQuantity: number | null;
  }>;
}

/** Compare-and-set of `available` (≤ 250 quantities), under an idempotency key. */
export const InventorySetQuantities = operation<
  { inventorySetQuantities: { inventoryAdjustmentGroup: { id: string } | null; userErrors: InventoryUserError[] } },
  { key: string; input: InventorySetInput }
>(
  'InventorySetQuantities',
  10,
  `mutation InventorySetQuantities($key: String!, $input: InventorySetQuantitiesInput!) {
    inventorySetQuantities(input: $input) @idempotent(key: $key) { inventoryAdjustmentGroup { id } userErrors { field message code } }
  }`,
);

/** Cancels a whole order (asynchronous in Shopify: the job finishes it); restocks and refunds. */
export const OrderCancel = operation<
  {
    orderCancel: {
      job: { id: string; done: boolean } | null;
      orderCancelUserErrors: Array<UserErrorNode & { code: string | null }>;
    };
  },
  {
    orderId: string;
    reason: 'CUSTOMER' | 'DECLINED' | 'FRAUD' | 'INVENTORY' | 'OTHER' | 'STAFF';
    restock: boolean;
    notifyCustomer: boolean;
    staffNote: string | null;
  }
>(
  'OrderCancel',
  10,
  `mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
    orderCancel(orderId: $orderId, reason: $reason, restock: $restock, notifyCustomer: $notifyCustomer, refund: true, staffNote: $staffNote) {
      job { id done } orderCancelUserErrors { field message code }
    }
  }`,
);

/**
 * Cancels some unfulfilled units of an order: a refund with restock type CANCEL (back to Shopify's
 * available) or NO_RESTOCK. Under an idempotency key (required since 2026-04): a retry applies once.
 */
export const RefundCreate = operation<
  { refundCreate: { refund: { id: string } | null; userErrors: UserErrorNode[] } },
  {
    key: string;
    input: {
      orderId: string;
      notify: boolean;
      note: string | null;
      refundLineItems: Array<{ lineItemId: string; quantity: number; restockType: 'CANCEL' | 'NO_RESTOCK' }>;
    };
  }
>(
  'RefundCreate',
  10,
  `mutation RefundCreate($key: String!, $input: RefundInput!) { refundCreate(input: $input) @idempotent(key: $key) { refund { id } userErrors { field message } } }`,
);

export interface FulfillmentNode {
  id: string;
  status: string;
  createdAt: string;
  location: { id: string } | null;
  trackingInfo: Array<{ number: string | null; company: string | null; url: string | null }>;
  fulfillmentLineItems: { nodes: Array<{ quantity: number; lineItem: { id: string } }> };
}

export interface FulfillmentOrderNode {
  id: string;
  status: string;
  deliveryMethod: { methodType: string } | null;
  assignedLocation: { location: { id: string } | null };
  lineItems: { nodes: Array<{ id: string; remainingQuantity: number; lineItem: { id: string } }> };
}

/** An order's fulfilments and fulfilment orders: what a push needs, and what it checks before retrying. */
export const OrderFulfillmentState = operation<
  {
    order: {
      id: string;
      cancelledAt: string | null;
      fulfillments: FulfillmentNode[];
      fulfillmentOrders: { nodes: FulfillmentOrderNode[] };
    } | null;
  },
  { id: string }
>(
  'OrderFulfillmentState',
  508,
  `query OrderFulfillmentState($id: ID!) {
    order(id: $id) {
      id cancelledAt
      fulfillments(first: 20) {
        id status createdAt location { id } trackingInfo(first: 1) { number company url }
        fulfillmentLineItems(first: 20) { nodes { quantity lineItem { id } } }
      }
      fulfillmentOrders(first: 10) {
        nodes {
          id status deliveryMethod { methodType } assignedLocation { location { id } }
          lineItems(first: 20) { nodes { id remainingQuantity lineItem { id } } }
        }
      }
    }
  }`,
);

export interface FulfillmentInput {
  lineItemsByFulfillmentOrder: Array<{
    fulfillmentOrderId: string;
    fulfillmentOrderLineItems: Array<{ id: string; quantity: number }>;
  }>;
  notifyCustomer: boolean;
  trackingInfo?: { company: string | null; number: string | null; url: string | null };
}

/** Creates one fulfilment (all its fulfilment orders belong to one order and one location). */
/** Moves (some units of) a fulfilment order to another location, which must stock the items. */
export const FulfillmentOrderMove = operation<
  {
    fulfillmentOrderMove: {
      movedFulfillmentOrder: { id: string; assignedLocation: { location: { id: string } | null } } | null;
      userErrors: UserErrorNode[];
    };
  },
  { id: string; newLocationId: string; fulfillmentOrderLineItems: Array<{ id: string; quantity: number }> }
>(
  'FulfillmentOrderMove',
  10,
  `mutation FulfillmentOrderMove($id: ID!, $newLocationId: ID!, $fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]) {
    fulfillmentOrderMove(id: $id, newLocationId: $newLocationId, fulfillmentOrderLineItems: $fulfillmentOrderLineItems) {
      movedFulfillmentOrder { id assignedLocation { location { id } } } userErrors { field message }
    }
  }`,
  // A move repeated after it applied would move more units: on no answer, look at the order again.
  { outcomeUnknownOnFailure: true },
);

export const FulfillmentCreate = operation<
  {
    fulfillmentCreate: {
      fulfillment: { id: string; status: string; createdAt: string; location: { id: string } | null } | null;
      userErrors: UserErrorNode[];
    };
  },
  { fulfillment: FulfillmentInput; message: string | null }
>(
  'FulfillmentCreate',
  10,
  `mutation FulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
    fulfillmentCreate(fulfillment: $fulfillment, message: $message) { fulfillment { id status createdAt location { id } } userErrors { field message } }
  }`,
  { outcomeUnknownOnFailure: true },
);

/** Marks pickup fulfilment orders ready; Shopify tells the customer. */
export const PreparedForPickup = operation<
  { fulfillmentOrderLineItemsPreparedForPickup: { userErrors: UserErrorNode[] } },
  { input: { lineItemsByFulfillmentOrder: Array<{ fulfillmentOrderId: string }> } }
>(
  'PreparedForPickup',
  10,
  `mutation PreparedForPickup($input: FulfillmentOrderLineItemsPreparedForPickupInput!) {
    fulfillmentOrderLineItemsPreparedForPickup(input: $input) { userErrors { field message } }
  }`,
);

/** All operations, for the schema validation test. */
export const ALL_OPERATIONS = [
  ShopInfo,
  AppAccessScopes,
  LocationsPage,
  ProductsPage,
  ProductVariantsPage,
  OrdersPage,
  OrdersIndexPage,
  OrdersByIds,
  OrderById,
  OrderLineItemsPage,
  OrderOwed,
  OrderFulfillmentOrderLines,
  WebhookSubscriptions,
  WebhookSubscriptionCreate,
  WebhookSubscriptionDelete,
  InventoryLevelsByIds,
  InventorySetQuantities,
  OrderCancel,
  RefundCreate,
  OrderFulfillmentState,
  FulfillmentCreate,
  FulfillmentOrderMove,
  PreparedForPickup,
];
