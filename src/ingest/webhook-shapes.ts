// Does a webhook body fit its topic? Shopify's signature covers the body, not the headers: a body
// captured once (an old orders/create) can be sent again under another X-Shopify-Topic with its
// valid signature. Each topic's body has a shape of its own; a body of another shape is refused
// before it is stored. Shapes are checked loosely (the fields Switchyard relies on, and the
// resource kind in the GID where there is one), so that new fields in newer API versions pass.

type Body = Record<string, unknown>;

const isGidOf = (kind: string) => (value: unknown) =>
  typeof value === 'string' && value.startsWith(`gid://shopify/${kind}/`);
const isId = (value: unknown) =>
  (typeof value === 'number' && Number.isFinite(value)) ||
  (typeof value === 'string' && /^(gid:\/\/shopify\/\w+\/)?\d+$/.test(value));
const isObject = (value: unknown): value is Body =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Fields that only order-like bodies carry: a shop or a deletion body with them is something else. */
const ORDER_MARKERS = ['line_items', 'order_edit', 'refund_line_items', 'order_id', 'inventory_item_id'];

function orderBody(body: Body): string | undefined {
  if (!isId(body['id'])) return 'an order body has a numeric id';
  if (body['admin_graphql_api_id'] !== undefined && !isGidOf('Order')(body['admin_graphql_api_id']))
    return 'an order body has an Order GID';
  if (!Array.isArray(body['line_items'])) return 'an order body has line_items';
  return undefined;
}

const SHAPES: Record<string, (body: Body, shop: string) => string | undefined> = {
  'orders/create': orderBody,
  'orders/updated': orderBody,
  'orders/cancelled': orderBody,
  'orders/fulfilled': orderBody,
  'orders/edited': (body) =>
    isObject(body['order_edit']) && isId(body['order_edit']['order_id'])
      ? undefined
      : 'an order edit body has order_edit.order_id',
  'refunds/create': (body) => {
    if (!isId(body['order_id'])) return 'a refund body has an order_id';
    if (!Array.isArray(body['refund_line_items'])) return 'a refund body has refund_line_items';
    if (body['admin_graphql_api_id'] !== undefined && !isGidOf('Refund')(body['admin_graphql_api_id']))
      return 'a refund body has a Refund GID';
    return undefined;
  },
  'products/create': productBody,
  'products/update': productBody,
  'products/delete': (body) => {
    if (!isId(body['id'])) return 'a product deletion body has the product id';
    return ORDER_MARKERS.some((k) => k in body) ||
      ['variants', 'title', 'name', 'myshopify_domain'].some((k) => k in body)
      ? 'a product deletion body carries only the product id'
      : undefined;
  },
  'inventory_levels/update': (body) => {
    if (!isId(body['inventory_item_id']) || !isId(body['location_id']))
      return 'an inventory level body has inventory_item_id and location_id';
    if (body['admin_graphql_api_id'] !== undefined && !isGidOf('InventoryLevel')(body['admin_graphql_api_id']))
      return 'an inventory level body has an InventoryLevel GID';
    return undefined;
  },
  'bulk_operations/finish': (body) =>
    isGidOf('BulkOperation')(body['admin_graphql_api_id']) && typeof body['status'] === 'string'
      ? undefined
      : 'a bulk operation body has a BulkOperation GID and a status',
  'app/uninstalled': (body, shop) => {
    if (!isId(body['id']) || typeof body['name'] !== 'string' || !('myshopify_domain' in body))
      return 'an app/uninstalled body is the shop (id, name, myshopify_domain)';
    if (ORDER_MARKERS.some((k) => k in body) || 'admin_graphql_api_id' in body)
      return 'an app/uninstalled body is the shop, not an order, product or level';
    const domain = body['myshopify_domain'];
    if (domain !== null && domain !== shop)
      return `an app/uninstalled body names this shop (${shop}), not ${String(domain).slice(0, 100)}`;
    return undefined;
  },
};

function productBody(body: Body): string | undefined {
  if (!isId(body['id'])) return 'a product body has a numeric id';
  if (!isGidOf('Product')(body['admin_graphql_api_id'])) return 'a product body has a Product GID';
  if (!Array.isArray(body['variants'])) return 'a product body has variants';
  return undefined;
}

/**
 * When the change a body tells of happened, in the body's own words (signed, unlike the headers):
 * the resource's `updated_at`, a refund's `created_at`, an edit's `committed_at`. Null where a body
 * has no such time (a deletion, a bulk operation, the shop of app/uninstalled, whose own updated_at
 * says nothing of the uninstall).
 */
export function bodyTime(topic: string, body: Body): number | null {
  const at = (value: unknown) =>
    typeof value === 'string' && Number.isFinite(Date.parse(value)) ? Date.parse(value) : null;
  if (topic === 'orders/edited')
    return isObject(body['order_edit'])
      ? (at(body['order_edit']['committed_at']) ?? at(body['order_edit']['created_at']))
      : null;
  if (topic === 'refunds/create') return at(body['processed_at']) ?? at(body['created_at']);
  if (
    topic.startsWith('orders/') ||
    topic === 'products/create' ||
    topic === 'products/update' ||
    topic === 'inventory_levels/update'
  )
    return at(body['updated_at']);
  return null;
}

/** Undefined when the body fits the topic; otherwise what a body of that topic should hold. */
export function bodyMisfit(topic: string, body: Body, shop: string): string | undefined {
  const shape = SHAPES[topic];
  return shape ? shape(body, shop) : `no body shape is known for ${topic}`;
}
