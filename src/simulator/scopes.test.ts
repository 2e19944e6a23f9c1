// Access scopes: what the schema's words make of them, and Shopify's ACCESS_DENIED over real HTTP
// with the official client, for apps granted fewer scopes through the control API.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { officialClient, rawGraphQL } from '../../test/support/simulator.js';
import { loadAdminSchema } from './admin-schema.js';
import { scopeRulesOf, scopesStatedIn } from './scopes.js';
import { SIMULATED_API_VERSION, startSimulator, type ShopCredentials, type Simulator } from './server.js';
import { gid, type SimShop } from './state.js';
import { placeOrder } from './orders.js';

let sim: Simulator;
let creds: ShopCredentials;
let shop: SimShop;

beforeAll(async () => {
  sim = await startSimulator({ bulkStepMs: 20 });
  creds = sim.createShop({ seed: 41, products: 5, stores: 2 });
  shop = sim.shop(creds.shop);
});
afterAll(() => sim.close());

async function control(method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}/_sim${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** A new app of the test shop with exactly these scopes, through the control API. */
async function appWith(name: string, scopes: string[]): Promise<ShopCredentials> {
  const created = await control('POST', `/shops/${creds.shop}/apps`, { name, scopes });
  expect(created.status).toBe(201);
  return created.body as ShopCredentials;
}

const DOCUMENTATION = 'https://shopify.dev/api/usage/access-scopes';
const ORDER_ACCESS =
  '`read_orders` access scope, `read_marketplace_orders` access scope or `read_buyer_membership_orders` access scope.';

describe('requirements read from the schema', () => {
  test("a description's scope sentence, in each of Shopify's phrasings", () => {
    expect(
      scopesStatedIn(
        'The webhook topic for `orders/delete` events. Occurs whenever an order is deleted. Requires the `read_orders` scope.',
      ),
    ).toEqual(['read_orders']);
    expect(
      scopesStatedIn(
        'Occurs whenever an\ninventory item is created. Requires at least one of the following scopes:\nread_inventory, read_products.',
      ),
    ).toEqual(['read_inventory', 'read_products']);
    expect(scopesStatedIn('Requires an active user. Requires the\n`read_themes` scope.')).toEqual(['read_themes']);
    expect(scopesStatedIn('The ID of the customer. Requires `write_customers` access_scope.')).toEqual([
      'write_customers',
    ]);
    expect(scopesStatedIn('Notifies when a Bulk Operation finishes.')).toBeNull();
    expect(scopesStatedIn(null)).toBeNull();
  });

  test('objects need what their resource’s webhook topics state; fields returning them need the same; mutations their reference page', () => {
    const schema = loadAdminSchema(SIMULATED_API_VERSION);
    const rules = scopeRulesOf(schema);
    const types = Object.fromEntries(
      [
        'Order',
        'Refund',
        'Product',
        'ProductVariant',
        'InventoryItem',
        'InventoryLevel',
        'Location',
        'FulfillmentOrder',
        'Fulfillment',
        'Customer',
        'LineItem',
        'Shop',
        'BulkOperation',
        'AppInstallation',
      ].map((t) => [t, rules.type(t) ?? null]),
    );
    expect(types).toEqual({
      Order: ['read_orders', 'read_marketplace_orders', 'read_buyer_membership_orders'],
      Refund: ['read_orders', 'read_marketplace_orders', 'read_buyer_membership_orders'],
      Product: ['read_products'],
      ProductVariant: ['read_products'],
      InventoryItem: ['read_inventory', 'read_products'],
      InventoryLevel: ['read_inventory'],
      Location: ['read_locations'],
      FulfillmentOrder: [
        'read_assigned_fulfillment_orders',
        'read_merchant_managed_fulfillment_orders',
        'read_third_party_fulfillment_orders',
        'read_marketplace_fulfillment_orders',
      ],
      Fulfillment: ['read_orders', 'read_marketplace_orders', 'read_buyer_membership_orders'],
      Customer: ['read_customers'],
      LineItem: null,
      Shop: null,
      BulkOperation: null,
      AppInstallation: null,
    });
    const query = schema.getQueryType()!;
    const field = (type: string, name: string) => rules.field(schema.getType(type) as never, name) ?? null;
    expect(
      ['orders', 'inventoryItems', 'locations', 'shop', 'bulkOperations', 'currentAppInstallation'].map(
        (f) => rules.field(query, f) ?? null,
      ),
    ).toEqual([
      ['read_orders', 'read_marketplace_orders', 'read_buyer_membership_orders'],
      ['read_inventory', 'read_products'],
      ['read_locations'],
      null,
      null,
      null,
    ]);
    expect([
      field('LineItem', 'variant'),
      field('FulfillmentOrderAssignedLocation', 'location'),
      field('Order', 'customer'),
      field('Order', 'lineItems'),
    ]).toEqual([['read_products'], ['read_locations'], ['read_customers'], null]);
    expect(
      ['inventorySetQuantities', 'fulfillmentCreate', 'bulkOperationRunQuery'].map((f) => field('Mutation', f)),
    ).toEqual([
      ['write_inventory'],
      [
        'write_assigned_fulfillment_orders',
        'write_merchant_managed_fulfillment_orders',
        'write_third_party_fulfillment_orders',
      ],
      null,
    ]);
    expect([
      rules.checksEachObject(query, 'node'),
      rules.checksEachObject(query, 'nodes'),
      rules.checksEachObject(query, 'orders'),
    ]).toEqual([true, true, false]);
    expect([
      rules.topic('ORDERS_CREATE'),
      rules.topic('INVENTORY_LEVELS_UPDATE'),
      rules.topic('APP_UNINSTALLED') ?? null,
    ]).toEqual([['read_orders', 'read_marketplace_orders'], ['read_inventory'], null]);
  });
});

describe('ACCESS_DENIED', () => {
  test("a query field without its scope: Shopify's error, data null where the field was, nothing else lost", async () => {
    const products = await appWith('catalog reader', ['read_products']);
    const { status, body } = await rawGraphQL(sim.url, products.accessToken, {
      query: '{ shop { name } orders(first: 1) { nodes { id } } }',
    });
    expect(status).toBe(200);
    expect(body.errors).toEqual([
      {
        message: `Access denied for orders field. Required access: ${ORDER_ACCESS}`,
        locations: [{ line: 1, column: 17 }],
        path: ['orders'],
        extensions: { code: 'ACCESS_DENIED', documentation: DOCUMENTATION, requiredAccess: ORDER_ACCESS },
      },
    ]);
    // `orders` is non-null: its null takes the whole answer, as in Shopify.
    expect(body.data).toBeNull();
    const allowed = await officialClient(sim.url, products).request(
      '{ shop { name } products(first: 1) { nodes { id } } }',
    );
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data.products.nodes).toHaveLength(1);
  });

  test('a nested field is refused on its own path; write_x includes read_x', async () => {
    const orderOnly = await appWith('order reader', ['write_orders']);
    const order = placeOrder(shop, {
      lines: [{ variantId: [...shop.variants.keys()][0]!, quantity: 1 }],
      shipping: 'standard',
    });
    if (!order.ok) throw new Error(JSON.stringify(order.userErrors));
    const { body } = await rawGraphQL(sim.url, orderOnly.accessToken, {
      query: 'query($id: ID!) { order(id: $id) { id lineItems(first: 5) { nodes { sku variant { id } } } } }',
      variables: { id: gid('Order', order.value.id) },
    });
    expect(body.errors).toEqual([
      {
        message: 'Access denied for variant field. Required access: `read_products` access scope.',
        locations: [{ line: 1, column: 73 }],
        path: ['order', 'lineItems', 'nodes', 0, 'variant'],
        extensions: {
          code: 'ACCESS_DENIED',
          documentation: DOCUMENTATION,
          requiredAccess: '`read_products` access scope.',
        },
      },
    ]);
    expect(body.data).toEqual({
      order: {
        id: gid('Order', order.value.id),
        lineItems: { nodes: [{ sku: order.value.lineItems[0]!.sku, variant: null }] },
      },
    });
  });

  test('nodes refuses each object the app may not read, and answers the others', async () => {
    const products = await appWith('node reader', ['read_products']);
    const product = [...shop.products.values()][0]!;
    const order = [...shop.orders.values()][0]!;
    const { body } = await rawGraphQL(sim.url, products.accessToken, {
      query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
      variables: { ids: [gid('Product', product.id), gid('Order', order.id)] },
    });
    expect(body.data).toEqual({ nodes: [{ id: gid('Product', product.id) }, null] });
    expect(body.errors).toEqual([
      {
        message: `Access denied for nodes field. Required access: ${ORDER_ACCESS}`,
        locations: [{ line: 1, column: 23 }],
        path: ['nodes', 1],
        extensions: { code: 'ACCESS_DENIED', documentation: DOCUMENTATION, requiredAccess: ORDER_ACCESS },
      },
    ]);
  });

  test('a mutation without its scope changes nothing', async () => {
    const readOnly = await appWith('inventory reader', ['read_inventory']);
    const level = [...shop.levels.values()][0]!;
    const before = { ...level.quantities };
    const { body } = await rawGraphQL(sim.url, readOnly.accessToken, {
      query: `mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) @idempotent(key: "scope-test-1") { inventoryAdjustmentGroup { id } userErrors { message } } }`,
      variables: {
        input: {
          name: 'available',
          reason: 'correction',
          quantities: [
            {
              inventoryItemId: gid('InventoryItem', level.itemId),
              locationId: gid('Location', level.locationId),
              quantity: before.available + 5,
              changeFromQuantity: null,
            },
          ],
        },
      },
    });
    expect(body.data).toEqual({ inventorySetQuantities: null });
    expect(body.errors).toEqual([
      {
        message: 'Access denied for inventorySetQuantities field. Required access: `write_inventory` access scope.',
        locations: [{ line: 1, column: 50 }],
        path: ['inventorySetQuantities'],
        extensions: {
          code: 'ACCESS_DENIED',
          documentation: DOCUMENTATION,
          requiredAccess: '`write_inventory` access scope.',
        },
      },
    ]);
    expect(level.quantities).toEqual(before);
    expect(shop.idempotency.has('scope-test-1')).toBe(false);
  });

  test('tags need write access to the object tagged; a topic needs its scopes to be subscribed to', async () => {
    const products = await appWith('product tagger', ['write_products']);
    const client = officialClient(sim.url, products);
    const product = [...shop.products.values()][1]!;
    const order = [...shop.orders.values()][0]!;
    const tag = `mutation($id: ID!) { tagsAdd(id: $id, tags: ["checked"]) { node { id } userErrors { message } } }`;
    expect((await client.request(tag, { variables: { id: gid('Product', product.id) } })).data.tagsAdd).toEqual({
      node: { id: gid('Product', product.id) },
      userErrors: [],
    });
    expect(product.tags).toContain('checked');
    const refused = await client.request(tag, { variables: { id: gid('Order', order.id) } });
    expect(refused.errors?.graphQLErrors?.[0]).toMatchObject({
      message:
        'Access denied for tagsAdd field. Required access: `write_orders` access scope, `write_marketplace_orders` access scope or `write_buyer_membership_orders` access scope.',
      extensions: { code: 'ACCESS_DENIED' },
    });
    expect(order.tags).not.toContain('checked');

    const subscribe = `mutation($t: WebhookSubscriptionTopic!) { webhookSubscriptionCreate(topic: $t, webhookSubscription: { uri: "https://example.com/hooks" }) { webhookSubscription { topic } userErrors { message } } }`;
    const subscriptions = shop.webhookSubscriptions.size;
    const ordersCreate = await client.request(subscribe, { variables: { t: 'ORDERS_CREATE' } });
    expect(ordersCreate.errors?.graphQLErrors?.[0]).toMatchObject({
      message:
        'Access denied for webhookSubscriptionCreate field. Required access: `read_orders` access scope or `read_marketplace_orders` access scope.',
      extensions: {
        code: 'ACCESS_DENIED',
        requiredAccess: '`read_orders` access scope or `read_marketplace_orders` access scope.',
      },
    });
    expect(shop.webhookSubscriptions.size).toBe(subscriptions);
    const productsUpdate = await client.request(subscribe, { variables: { t: 'PRODUCTS_UPDATE' } });
    expect(productsUpdate.data.webhookSubscriptionCreate).toEqual({
      webhookSubscription: { topic: 'PRODUCTS_UPDATE' },
      userErrors: [],
    });
  });

  test('a bulk query touching a field without its scope fails with ACCESS_DENIED', async () => {
    const products = await appWith('bulk reader', ['read_products']);
    const client = officialClient(sim.url, products);
    const run = async (query: string) => {
      const started = await client.request(
        `mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }`,
        { variables: { q: query } },
      );
      const id = started.data.bulkOperationRunQuery.bulkOperation.id;
      for (;;) {
        const { data } = await client.request(`query($id: ID!) { bulkOperation(id: $id) { status errorCode url } }`, {
          variables: { id },
        });
        if (!['CREATED', 'RUNNING'].includes(data.bulkOperation.status)) return data.bulkOperation;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    expect(await run('{ orders { edges { node { id } } } }')).toEqual({
      status: 'FAILED',
      errorCode: 'ACCESS_DENIED',
      url: null,
    });
    expect(await run('{ products { edges { node { id } } } }')).toMatchObject({ status: 'COMPLETED', errorCode: null });
  });
});

describe('granted scopes', () => {
  test('currentAppInstallation lists the granted scopes (write_x without the read_x it includes)', async () => {
    const app = await appWith('lister', ['write_orders', 'read_products']);
    const { data } = await officialClient(sim.url, app).request(
      '{ currentAppInstallation { id accessScopes { handle description } } }',
    );
    expect(data.currentAppInstallation.accessScopes).toEqual([
      { handle: 'read_products', description: 'Read products' },
      { handle: 'write_orders', description: 'Modify orders' },
    ]);
    expect(data.currentAppInstallation.id).toMatch(/^gid:\/\/shopify\/AppInstallation\/\d+$/);
  });

  test("a generated shop's first app has the scopes Switchyard needs", async () => {
    const { data } = await officialClient(sim.url, creds).request(
      '{ currentAppInstallation { accessScopes { handle } } }',
    );
    expect(data.currentAppInstallation.accessScopes.map((s: { handle: string }) => s.handle)).toEqual([
      'read_customers',
      'read_inventory',
      'read_locations',
      'read_merchant_managed_fulfillment_orders',
      'read_orders',
      'read_products',
      'write_inventory',
      'write_merchant_managed_fulfillment_orders',
      'write_orders',
      'write_products',
    ]);
  });

  test('the control API lists apps and changes their scopes; bad input is refused and changes nothing', async () => {
    const app = await appWith('changing', ['read_products']);
    const client = officialClient(sim.url, app);
    expect(
      (await client.request('{ locations(first: 1) { nodes { id } } }')).errors?.graphQLErrors?.[0]?.extensions?.code,
    ).toBe('ACCESS_DENIED');
    const changed = await control('PUT', `/shops/${creds.shop}/apps/changing/scopes`, {
      scopes: ['read_products', 'read_locations'],
    });
    expect(changed).toEqual({ status: 200, body: { name: 'changing', scopes: ['read_locations', 'read_products'] } });
    expect((await client.request('{ locations(first: 1) { nodes { id } } }')).data.locations.nodes).toHaveLength(1);
    const listed = await control('GET', `/shops/${creds.shop}/apps`);
    expect(listed.body.apps.find((a: { name: string }) => a.name === 'changing')).toMatchObject({
      name: 'changing',
      installed: true,
      scopes: ['read_locations', 'read_products'],
    });

    expect(await control('PUT', `/shops/${creds.shop}/apps/changing/scopes`, { scopes: ['read orders'] })).toEqual({
      status: 400,
      body: { error: 'scopes must be an array of scope handles such as "read_orders" (got ["read orders"]).' },
    });
    expect(await control('PUT', `/shops/${creds.shop}/apps/nobody/scopes`, { scopes: [] })).toEqual({
      status: 404,
      body: { error: `Shop ${creds.shop} has no app named "nobody".` },
    });
    expect(await control('POST', `/shops/${creds.shop}/apps`, { name: 'changing' })).toEqual({
      status: 409,
      body: { error: `Shop ${creds.shop} has an app named "changing" already.` },
    });
    expect(await control('POST', `/shops/${creds.shop}/apps`, { name: 'bad', scopes: 'read_orders' })).toEqual({
      status: 400,
      body: { error: 'scopes must be an array of scope handles such as "read_orders" (got "read_orders").' },
    });
    // Nothing half-applied: the refused changes left the app as it was, and no app "bad" exists.
    expect(
      (await control('GET', `/shops/${creds.shop}/apps`)).body.apps.filter((a: { name: string }) =>
        ['changing', 'bad'].includes(a.name),
      ),
    ).toMatchObject([{ name: 'changing', scopes: ['read_locations', 'read_products'] }]);
  });
});
