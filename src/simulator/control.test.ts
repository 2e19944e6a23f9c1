// The /_sim control API over real HTTP (what the demo, rehearsals and other-language tests use), and
// the remaining mutations through the official client.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { officialClient } from '../../test/support/simulator.js';
import { startSimulator, type ShopCredentials, type Simulator } from './server.js';

let sim: Simulator;
let creds: ShopCredentials;

beforeAll(async () => {
  sim = await startSimulator();
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

describe('control API', () => {
  test('create a shop, place orders of every kind, edit, refund, cancel, change products and stock, read state', async () => {
    const created = await control('POST', '/shops', { seed: 5, products: 8, stores: 2, plan: 'plus' });
    expect(created.status).toBe(201);
    creds = created.body as ShopCredentials;
    expect(creds).toMatchObject({
      shop: 'sim-5.myshopify.com',
      apiVersion: '2026-07',
      plan: 'plus',
      accessToken: expect.stringMatching(/^shpat_/),
      clientSecret: expect.stringMatching(/^shpss_/),
    });
    const domain = creds.shop;
    let state = (await control('GET', `/shops/${domain}/state`)).body;
    const store = state.locations.find((l: { kind: string }) => l.kind === 'store');
    const sku = state.products[0].variants[0].sku;
    const levelOf = (s: any, locationId: string) =>
      s.inventoryLevels.find(
        (l: any) => l.locationId === locationId && l.inventoryItemId === s.products[0].variants[0].inventoryItemId,
      );
    await control('POST', `/shops/${domain}/inventory`, { sku, locationId: store.id, delta: 10 });
    state = (await control('GET', `/shops/${domain}/state`)).body;
    const start = levelOf(state, store.id);

    const online = await control('POST', `/shops/${domain}/orders`, {
      lines: [{ sku, quantity: 3 }],
      shipping: 'express',
      locationId: store.id,
      tags: ['express'],
    });
    expect(online.status).toBe(201);
    const pickup = await control('POST', `/shops/${domain}/orders`, {
      lines: [{ sku, quantity: 1 }],
      shipping: 'pickup',
      locationId: store.id,
    });
    expect(pickup.status).toBe(201);
    const pos = await control('POST', `/shops/${domain}/pos-sales`, {
      locationId: store.id,
      lines: [{ sku, quantity: 1 }],
    });
    expect(pos.status).toBe(201);
    state = (await control('GET', `/shops/${domain}/state`)).body;
    expect(levelOf(state, store.id)).toMatchObject({
      available: start.available - 5,
      committed: start.committed + 4,
      on_hand: start.on_hand - 1,
    });

    const orderId = online.body.id as string;
    const { data } = await officialClient(sim.url, creds).request(
      `query($id: ID!) { order(id: $id) { lineItems(first: 5) { nodes { id } } } }`,
      { variables: { id: orderId } },
    );
    const lineItemId = data.order.lineItems.nodes[0].id;
    expect(
      (
        await control('POST', `/shops/${domain}/orders/${encodeURIComponent(orderId)}/refunds`, {
          lines: [{ lineItemId, quantity: 1, restockType: 'CANCEL' }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await control('POST', `/shops/${domain}/orders/${encodeURIComponent(orderId)}/edit`, {
          remove: [{ lineItemId, quantity: 1 }],
          add: [{ sku, quantity: 1 }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await control('POST', `/shops/${domain}/orders/${encodeURIComponent(pickup.body.id)}/cancel`, {
          reason: 'CUSTOMER',
          restock: true,
        })
      ).status,
    ).toBe(201);
    state = (await control('GET', `/shops/${domain}/state`)).body;
    // refund −1 and edit −1 +1 leave 2 committed of the express order; the cancelled pickup returns 1.
    expect(levelOf(state, store.id)).toMatchObject({ committed: start.committed + 2, on_hand: start.on_hand - 1 });

    const product = await control('POST', `/shops/${domain}/products`, {
      title: 'Rain Shell',
      tags: ['new'],
      variants: [{ sku: 'RS-1', price: '89.00' }],
      stock: 4,
    });
    expect(product.status).toBe(201);
    expect(
      (
        await control('PATCH', `/shops/${domain}/products/${encodeURIComponent(product.body.id)}`, {
          title: 'Rain Shell II',
          tags: ['new', 'outerwear'],
        })
      ).status,
    ).toBe(201);
    state = (await control('GET', `/shops/${domain}/state`)).body;
    expect(state.products.find((p: { id: string }) => p.id === product.body.id)).toMatchObject({
      title: 'Rain Shell II',
      tags: ['new', 'outerwear'],
      variants: [{ sku: 'RS-1', price: '89.00' }],
    });
  });

  test('a POS sale with lines shipped to the customer, and a return restocked at a store, over the control API', async () => {
    const domain = creds.shop;
    let state = (await control('GET', `/shops/${domain}/state`)).body;
    const [first, second] = state.locations.filter((l: { kind: string }) => l.kind === 'store');
    const warehouse = state.locations.find((l: { kind: string }) => l.kind === 'warehouse');
    const [a, b] = [state.products[1].variants[0], state.products[2].variants[0]];
    const level = (s: any, v: { inventoryItemId: string }, locationId: string) =>
      s.inventoryLevels.find((l: any) => l.locationId === locationId && l.inventoryItemId === v.inventoryItemId);
    await control('POST', `/shops/${domain}/inventory`, { sku: a.sku, locationId: first.id, delta: 5 });
    await control('POST', `/shops/${domain}/inventory`, { sku: b.sku, locationId: warehouse.id, delta: 5 });
    state = (await control('GET', `/shops/${domain}/state`)).body;
    const [shelf, from, back] = [level(state, a, first.id), level(state, b, warehouse.id), level(state, a, second.id)];
    const shipTo = {
      address1: '1 Main St',
      address2: null,
      city: 'Albany',
      province: 'New York',
      provinceCode: 'NY',
      zip: '12207',
      country: 'United States',
      countryCode: 'US',
      phone: null,
      latitude: 42.65,
      longitude: -73.75,
      firstName: 'Sam',
      lastName: 'Lee',
    };
    const sale = await control('POST', `/shops/${domain}/pos-sales`, {
      locationId: first.id,
      lines: [
        { sku: a.sku, quantity: 2 },
        { sku: b.sku, quantity: 1, ship: true },
      ],
      shipTo,
    });
    expect(sale.status).toBe(201);
    state = (await control('GET', `/shops/${domain}/state`)).body;
    expect(level(state, a, first.id)).toMatchObject({ available: shelf.available - 2, on_hand: shelf.on_hand - 2 });
    expect(level(state, b, warehouse.id)).toMatchObject({
      available: from.available - 1,
      committed: from.committed + 1,
      on_hand: from.on_hand,
    });
    const { data } = await officialClient(sim.url, creds).request(
      `query($id: ID!) { order(id: $id) { shippingAddress { city } lineItems(first: 5) { nodes { id sku } } fulfillmentOrders(first: 5) { nodes { deliveryMethod { methodType } assignedLocation { location { id } } } } } }`,
      { variables: { id: sale.body.id } },
    );
    expect(data.order.shippingAddress).toEqual({ city: 'Albany' });
    expect(data.order.fulfillmentOrders.nodes).toEqual([
      { deliveryMethod: { methodType: 'RETAIL' }, assignedLocation: { location: { id: first.id } } },
      { deliveryMethod: { methodType: 'SHIPPING' }, assignedLocation: { location: { id: warehouse.id } } },
    ]);
    // The customer brings one unit back to the other store, where it goes back on the shelf.
    const lineItemId = data.order.lineItems.nodes.find((l: { sku: string }) => l.sku === a.sku).id;
    const returned = await control('POST', `/shops/${domain}/orders/${encodeURIComponent(sale.body.id)}/refunds`, {
      lines: [{ lineItemId, quantity: 1, restockType: 'RETURN', locationId: second.id }],
    });
    expect(returned).toMatchObject({
      status: 201,
      body: { lines: [{ lineItemId, quantity: 1, restockType: 'RETURN', locationId: second.id }] },
    });
    state = (await control('GET', `/shops/${domain}/state`)).body;
    expect(level(state, a, second.id)).toMatchObject({ available: back.available + 1, on_hand: back.on_hand + 1 });
    expect(level(state, a, first.id)).toMatchObject({ available: shelf.available - 2, on_hand: shelf.on_hand - 2 });
  });

  test('bad control requests are refused clearly and change nothing', async () => {
    const domain = creds.shop;
    const before = (await control('GET', `/shops/${domain}/state`)).body;
    expect(await control('POST', `/shops/${domain}/orders`, { lines: [] })).toMatchObject({
      status: 400,
      body: { error: 'Give "lines": [{ "sku" or "variantId", "quantity" }].' },
    });
    expect((await control('POST', `/shops/${domain}/orders`, { lines: [{ sku: 'NOPE', quantity: 1 }] })).body).toEqual({
      userErrors: [{ code: 'INVALID_VARIANT', field: ['lines', '0', 'variantId'], message: 'Unknown variant.' }],
    });
    expect((await control('GET', '/shops/unknown.myshopify.com/state')).status).toBe(404);
    expect((await control('PUT', `/shops/${domain}/faults`, { errorRate: 3 })).status).toBe(400);
    expect((await control('POST', '/clock/advance', { ms: -5 })).status).toBe(400);
    const after = (await control('GET', `/shops/${domain}/state`)).body;
    expect(after.inventoryLevels).toEqual(before.inventoryLevels);
  });

  test('the simulated clock moves forward on request', async () => {
    const before = (await control('GET', '/clock')).body.now;
    const after = (await control('POST', '/clock/advance', { ms: 3_600_000 })).body.now;
    expect(Date.parse(after) - Date.parse(before)).toBeGreaterThanOrEqual(3_600_000);
  });
});

describe('remaining mutations through the official client', () => {
  test('fulfillmentOrderMove moves an order to a store; tagsRemove; webhook subscriptions listed and deleted', async () => {
    const client = officialClient(sim.url, creds);
    const domain = creds.shop;
    const state = (await control('GET', `/shops/${domain}/state`)).body;
    const warehouse = state.locations.find((l: { kind: string }) => l.kind === 'warehouse');
    const store = state.locations.find((l: { kind: string }) => l.kind === 'store');
    const sku = state.products[1].variants[0].sku;
    await control('POST', `/shops/${domain}/inventory`, { sku, locationId: warehouse.id, delta: 5 });
    await control('POST', `/shops/${domain}/inventory`, { sku, locationId: store.id, delta: 5 });
    const order = await control('POST', `/shops/${domain}/orders`, {
      lines: [{ sku, quantity: 2 }],
      shipping: 'standard',
      locationId: warehouse.id,
      tags: ['a', 'b'],
    });
    const { data } = await client.request(
      `query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 1) { nodes { id } } } }`,
      { variables: { id: order.body.id } },
    );
    const moved = await client.request(
      `mutation($id: ID!, $to: ID!) { fulfillmentOrderMove(id: $id, newLocationId: $to) { movedFulfillmentOrder { id assignedLocation { location { id } } } remainingFulfillmentOrder { id } userErrors { message } } }`,
      { variables: { id: data.order.fulfillmentOrders.nodes[0].id, to: store.id } },
    );
    expect(moved.data.fulfillmentOrderMove).toMatchObject({
      movedFulfillmentOrder: { assignedLocation: { location: { id: store.id } } },
      remainingFulfillmentOrder: null,
      userErrors: [],
    });

    const untagged = await client.request(
      `mutation($id: ID!) { tagsRemove(id: $id, tags: ["a"]) { node { ... on Order { tags } } userErrors { message } } }`,
      { variables: { id: order.body.id } },
    );
    expect(untagged.data.tagsRemove.node.tags).toEqual(['b']);

    const sub = await client.request(
      `mutation { webhookSubscriptionCreate(topic: ORDERS_UPDATED, webhookSubscription: { uri: "https://oms.example.com/webhooks/shopify" }) { webhookSubscription { id topic uri } userErrors { message } } }`,
    );
    const subId = sub.data.webhookSubscriptionCreate.webhookSubscription.id;
    const twice = await client.request(
      `mutation { webhookSubscriptionCreate(topic: ORDERS_UPDATED, webhookSubscription: { uri: "https://oms.example.com/webhooks/shopify" }) { userErrors { message } } }`,
    );
    expect(twice.data.webhookSubscriptionCreate.userErrors[0].message).toBe(
      'Address for this topic has already been taken',
    );
    const listed = await client.request(`{ webhookSubscriptions(first: 10) { nodes { id topic uri } } }`);
    expect(listed.data.webhookSubscriptions.nodes).toEqual([
      { id: subId, topic: 'ORDERS_UPDATED', uri: 'https://oms.example.com/webhooks/shopify' },
    ]);
    const deleted = await client.request(
      `mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { message } } }`,
      { variables: { id: subId } },
    );
    expect(deleted.data.webhookSubscriptionDelete).toEqual({ deletedWebhookSubscriptionId: subId, userErrors: [] });
  });
});
