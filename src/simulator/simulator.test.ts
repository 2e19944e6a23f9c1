// The simulator through the official Shopify client over real HTTP.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { officialClient, rawGraphQL } from '../../test/support/simulator.js';
import { isValidUpcA, upcA } from './seed.js';
import { startSimulator, type ShopCredentials, type Simulator } from './server.js';
import { gid } from './state.js';

let sim: Simulator;
let creds: ShopCredentials;

beforeAll(async () => {
  sim = await startSimulator();
  creds = sim.createShop({ seed: 7, products: 30, stores: 3 });
});
afterAll(() => sim.close());

const client = () => officialClient(sim.url, creds);

describe('schema-driven GraphQL', () => {
  test('the official client reads shop, locations, products, variants and inventory', async () => {
    const { data, errors, extensions } = await client().request(
      `query Catalog {
        shop { name myshopifyDomain currencyCode }
        locations(first: 10) { nodes { id name isActive address { city latitude longitude } } }
        products(first: 2, sortKey: ID) {
          nodes {
            id title handle status tags
            featuredMedia { ... on MediaImage { image { url } } }
            variants(first: 5) { nodes { id sku barcode title inventoryItem { id measurement { weight { value unit } } } } }
          }
        }
      }`,
    );
    expect(errors).toBeUndefined();
    expect(data.shop).toEqual({
      name: 'Simulated shop 7',
      myshopifyDomain: 'sim-7.myshopify.com',
      currencyCode: 'USD',
    });
    expect(data.locations.nodes).toHaveLength(5); // 2 warehouses + 3 stores
    expect(data.locations.nodes[0].address.latitude).toBeTypeOf('number');
    const product = data.products.nodes[0];
    expect(product.id).toMatch(/^gid:\/\/shopify\/Product\/\d+$/);
    expect(product.featuredMedia.image.url).toBe(
      `https://cdn.shopify.com/s/files/1/0000/0001/products/${product.handle}.jpg`,
    );
    for (const variant of product.variants.nodes) {
      expect(variant.sku).toMatch(/^SY-00001-\d$/);
      expect(isValidUpcA(variant.barcode)).toBe(true);
      expect(variant.inventoryItem.measurement.weight.unit).toBe('GRAMS');
    }
    expect(extensions?.cost).toMatchObject({ throttleStatus: { maximumAvailable: 2000, restoreRate: 100 } });
  });

  test('pagination walks every product exactly once, forwards and backwards', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const { data }: { data?: any } = await client().request(
        `query Page($after: String) { products(first: 7, after: $after) { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }`,
        { variables: { after } },
      );
      seen.push(...data.products.nodes.map((n: { id: string }) => n.id));
      expect(data.products.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!data.products.pageInfo.hasNextPage) break;
      after = data.products.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen).size).toBe(30);
    const { data } = await client().request(`{ products(last: 3, reverse: true) { nodes { id } } }`);
    expect(data.products.nodes.map((n: { id: string }) => n.id)).toEqual(seen.slice(0, 3).reverse());
  });

  test('search syntax and sort keys', async () => {
    const { data } = await client().request(
      `{ productVariants(first: 10, query: "sku:SY-00003-*") { nodes { sku product { title } } } }`,
    );
    expect(data.productVariants.nodes.length).toBeGreaterThan(0);
    for (const v of data.productVariants.nodes) expect(v.sku.startsWith('SY-00003-')).toBe(true);
    const byTitle = await client().request(`{ products(first: 250, sortKey: TITLE) { nodes { title } } }`);
    const titles = byTitle.data.products.nodes.map((n: { title: string }) => n.title);
    expect(titles).toEqual([...titles].sort());
    const none = await client().request(`{ products(first: 5, query: "tag:no-such-tag") { nodes { id } } }`);
    expect(none.data.products.nodes).toEqual([]);
  });

  test('node and nodes resolve GIDs of each implemented type', async () => {
    const state = sim.shop(creds.shop);
    const variant = [...state.variants.values()][0]!;
    const location = [...state.locations.values()][0]!;
    const { data } = await client().request(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on ProductVariant { sku } ... on Location { name } } }`,
      {
        variables: {
          ids: [gid('ProductVariant', variant.id), gid('Location', location.id), 'gid://shopify/Product/1'],
        },
      },
    );
    expect(data.nodes).toEqual([
      { __typename: 'ProductVariant', id: gid('ProductVariant', variant.id), sku: variant.sku },
      { __typename: 'Location', id: gid('Location', location.id), name: location.name },
      null,
    ]);
  });

  test('an invalid document gets GraphQL validation errors, no data', async () => {
    const { status, body } = await rawGraphQL(sim.url, creds.accessToken, { query: '{ shop { nmae } }' });
    expect(status).toBe(200);
    expect(body.data).toBeUndefined();
    expect(body.errors[0].message).toBe('Cannot query field "nmae" on type "Shop". Did you mean "name"?');
    expect(body.errors[0].locations).toEqual([{ line: 1, column: 10 }]);
    const syntax = await rawGraphQL(sim.url, creds.accessToken, { query: '{ shop { ' });
    expect(syntax.body.errors[0].message).toMatch(/^Syntax Error/);
  });

  test('a valid field the simulator does not implement is named, never a silent null', async () => {
    const { body } = await rawGraphQL(sim.url, creds.accessToken, { query: '{ shop { name weightUnit } }' });
    expect(body.errors).toEqual([
      {
        message: "Field 'Shop.weightUnit' is not implemented by the Switchyard Shopify simulator.",
        locations: [{ line: 1, column: 15 }],
        path: ['shop', 'weightUnit'],
        extensions: { code: 'NOT_IMPLEMENTED', typeName: 'Shop', fieldName: 'weightUnit' },
      },
    ]);
  });

  test('a wrong token is refused with 401', async () => {
    const bad = await rawGraphQL(sim.url, 'shpat_wrong', { query: '{ shop { name } }' });
    expect(bad.status).toBe(401);
  });

  test('every supported version is served; an unsupported older one falls forward to the oldest supported; anything else is 404', async () => {
    const ask = (version: string) =>
      rawGraphQL(sim.url, creds.accessToken, { query: '{ shop { myshopifyDomain } }' }, version);
    for (const version of ['2026-01', '2026-04', '2026-07', '2026-10']) {
      const answer = await ask(version);
      expect([version, answer.status, answer.headers.get('x-shopify-api-version'), answer.body.data]).toEqual([
        version,
        200,
        version,
        { shop: { myshopifyDomain: creds.shop } },
      ]);
    }
    for (const version of ['2025-10', '2025-01', '2019-04']) {
      const answer = await ask(version);
      expect([version, answer.status, answer.headers.get('x-shopify-api-version'), answer.body.data]).toEqual([
        version,
        200,
        '2026-01',
        { shop: { myshopifyDomain: creds.shop } },
      ]);
    }
    for (const version of ['2026-13', '2026-02', '2026-7', 'latest', 'unstable', '2027-01']) {
      const answer = await ask(version);
      expect([version, answer.status, answer.headers.get('x-shopify-api-version')]).toEqual([version, 404, null]);
      expect(answer.body.errors).toBe(
        `Not Found: ${version} is not an Admin API version served here (stable versions 2026-01, 2026-04, 2026-07, 2026-10; older ones fall forward to 2026-01).`,
      );
    }
  });

  test('each shop and app has its own token and data', async () => {
    const other = sim.createShop({ seed: 8, products: 2, stores: 1 });
    const second = sim.addApp(creds.shop, { name: 'ERP connector' });
    expect(second.accessToken).not.toBe(creds.accessToken);
    const a = await officialClient(sim.url, other).request('{ products(first: 10) { nodes { id } } }');
    expect(a.data.products.nodes).toHaveLength(2);
    const b = await officialClient(sim.url, second).request('{ shop { myshopifyDomain } }');
    expect(b.data.shop.myshopifyDomain).toBe(creds.shop);
  });
});

describe('cost and limits', () => {
  const cost = async (query: string, variables?: Record<string, unknown>) => {
    const { body } = await rawGraphQL(sim.url, creds.accessToken, { query, variables });
    return body.extensions.cost as { requestedQueryCost: number; actualQueryCost: number };
  };

  test('requested cost per Shopify rules; actual cost counts what was returned', async () => {
    expect(await cost('{ shop { name } }')).toMatchObject({ requestedQueryCost: 1, actualQueryCost: 1 });
    // connection: 2 + first × (node 1)
    expect(await cost('{ products(first: 10) { edges { cursor node { id title } } } }')).toMatchObject({
      requestedQueryCost: 12,
      actualQueryCost: 12,
    });
    // 5 locations exist: 2 + 5 × 1 actually returned of 2 + 50 requested
    expect(await cost('{ locations(first: 50) { nodes { id } } }')).toMatchObject({
      requestedQueryCost: 52,
      actualQueryCost: 7,
    });
    // nested: 2 + 10 × (1 + 1 (inventoryItem) + 2 + 5 × 1)
    const nested =
      '{ productVariants(first: 10) { nodes { sku inventoryItem { inventoryLevels(first: 5) { nodes { id } } } } } }';
    expect((await cost(nested)).requestedQueryCost).toBe(92);
    // variables count too
    expect((await cost('query($n: Int) { products(first: $n) { nodes { id } } }', { n: 3 })).requestedQueryCost).toBe(
      5,
    );
  });

  test('a mutation costs 10', async () => {
    const { body } = await rawGraphQL(sim.url, creds.accessToken, {
      query: `mutation { inventorySetQuantities(input: { name: "available", reason: "correction", quantities: [] }) @idempotent(key: "cost-probe") { userErrors { code } } }`,
    });
    expect(body.extensions.cost).toMatchObject({ requestedQueryCost: 10, actualQueryCost: 10 });
  });

  test('a query over 1,000 points is refused and not charged', async () => {
    const { body } = await rawGraphQL(sim.url, creds.accessToken, {
      query: '{ products(first: 250) { nodes { variants(first: 10) { nodes { id } } } } }',
    });
    expect(body.errors[0].extensions).toEqual({ code: 'MAX_COST_EXCEEDED', cost: 3252, maxCost: 1000 });
    expect(body.extensions.cost.actualQueryCost).toBeNull();
  });

  test('page sizes and input arrays are capped at 250', async () => {
    const page = await rawGraphQL(sim.url, creds.accessToken, { query: '{ products(first: 251) { nodes { id } } }' });
    expect(page.body.errors[0].message).toBe('The first argument must be between 0 and 250, got 251.');
    const missing = await rawGraphQL(sim.url, creds.accessToken, { query: '{ products { nodes { id } } }' });
    expect(missing.body.errors[0].message).toBe('you must provide one of first or last');
    const input = await rawGraphQL(sim.url, creds.accessToken, {
      query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
      variables: { ids: Array.from({ length: 251 }, (_, i) => `gid://shopify/Product/${i}`) },
    });
    expect(input.body.errors[0]).toEqual({
      message: 'The input array size of 251 is greater than the maximum allowed of 250.',
      extensions: { code: 'MAX_INPUT_SIZE_EXCEEDED' },
    });
  });

  test('THROTTLED once the bucket is empty, and recovery at the restore rate', async () => {
    const small = sim.createShop({ seed: 9, products: 25, stores: 1, bucketFactor: 0.5 }); // 50 points, 100/s
    const query = { query: '{ products(first: 20) { nodes { id } } }' }; // 22 points
    const first = await rawGraphQL(sim.url, small.accessToken, query);
    expect(first.body.extensions.cost).toMatchObject({
      requestedQueryCost: 22,
      actualQueryCost: 22,
      throttleStatus: { maximumAvailable: 50, restoreRate: 100 },
    });
    expect(first.body.extensions.cost.throttleStatus.currentlyAvailable).toBeGreaterThanOrEqual(27);
    await rawGraphQL(sim.url, small.accessToken, query);
    const throttled = await rawGraphQL(sim.url, small.accessToken, query);
    expect(throttled.status).toBe(200);
    expect(throttled.body.data).toBeUndefined();
    expect(throttled.body.errors).toEqual([
      {
        message: 'Throttled',
        extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' },
      },
    ]);
    expect(throttled.body.extensions.cost).toMatchObject({ requestedQueryCost: 22, actualQueryCost: null });
    expect(throttled.body.extensions.cost.throttleStatus.currentlyAvailable).toBeLessThan(22);
    // 100 points/s: 22 points are back within about 0.22 s.
    await new Promise((r) => setTimeout(r, 300));
    const recovered = await rawGraphQL(sim.url, small.accessToken, query);
    expect(recovered.body.errors).toBeUndefined();
    expect(sim.stats(small.shop).throttled).toBe(1);
  });
});

describe('inventory mutations', () => {
  const SET = `mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
    inventorySetQuantities(input: $input) @idempotent(key: $key) {
      inventoryAdjustmentGroup { reason referenceDocumentUri changes { name delta quantityAfterChange } }
      userErrors { code field message }
    }
  }`;
  const ADJUST = `mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
    inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
      inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
      userErrors { code field message }
    }
  }`;

  function firstLevel() {
    const shop = sim.shop(creds.shop);
    const level = [...shop.levels.values()].find((l) => l.quantities.available > 0)!;
    return { level, itemId: gid('InventoryItem', level.itemId), locationId: gid('Location', level.locationId) };
  }

  test('set with compare-and-set: the right expected value applies; a stale one fails and changes nothing', async () => {
    const { level, itemId, locationId } = firstLevel();
    const before = level.quantities.available;
    const ok = await client().request(SET, {
      variables: {
        key: 'set-1',
        input: {
          name: 'available',
          reason: 'correction',
          referenceDocumentUri: 'gid://switchyard/Publish/1',
          quantities: [{ inventoryItemId: itemId, locationId, quantity: before + 5, changeFromQuantity: before }],
        },
      },
    });
    expect(ok.data.inventorySetQuantities.userErrors).toEqual([]);
    expect(ok.data.inventorySetQuantities.inventoryAdjustmentGroup.changes).toEqual([
      { name: 'available', delta: 5, quantityAfterChange: before + 5 },
      { name: 'on_hand', delta: 5, quantityAfterChange: expect.any(Number) },
    ]);
    const stale = await client().request(SET, {
      variables: {
        key: 'set-2',
        input: {
          name: 'available',
          reason: 'correction',
          quantities: [{ inventoryItemId: itemId, locationId, quantity: 0, changeFromQuantity: before }],
        },
      },
    });
    expect(stale.data.inventorySetQuantities).toEqual({
      inventoryAdjustmentGroup: null,
      userErrors: [
        {
          code: 'CHANGE_FROM_QUANTITY_STALE',
          field: ['input', 'quantities', '0', 'changeFromQuantity'],
          message: 'The changeFromQuantity value does not match persisted value.',
        },
      ],
    });
    expect(level.quantities.available).toBe(before + 5);
  });

  test('changeFromQuantity must be given (null opts out); one bad quantity applies none', async () => {
    const { level, itemId, locationId } = firstLevel();
    const before = level.quantities.available;
    const missing = await client().request(SET, {
      variables: {
        key: 'set-3',
        input: {
          name: 'available',
          reason: 'correction',
          quantities: [{ inventoryItemId: itemId, locationId, quantity: 1 }],
        },
      },
    });
    expect(missing.data.inventorySetQuantities.userErrors[0].field).toEqual([
      'input',
      'quantities',
      '0',
      'changeFromQuantity',
    ]);
    const mixed = await client().request(SET, {
      variables: {
        key: 'set-4',
        input: {
          name: 'available',
          reason: 'correction',
          quantities: [
            { inventoryItemId: itemId, locationId, quantity: 3, changeFromQuantity: null },
            { inventoryItemId: 'gid://shopify/InventoryItem/1', locationId, quantity: 3, changeFromQuantity: null },
          ],
        },
      },
    });
    expect(mixed.data.inventorySetQuantities.userErrors.map((e: { code: string }) => e.code)).toEqual([
      'INVALID_INVENTORY_ITEM',
    ]);
    expect(level.quantities.available).toBe(before);
    const badReason = await client().request(SET, {
      variables: {
        key: 'set-5',
        input: {
          name: 'available',
          reason: 'because',
          quantities: [{ inventoryItemId: itemId, locationId, quantity: 3, changeFromQuantity: null }],
        },
      },
    });
    expect(badReason.data.inventorySetQuantities.userErrors[0].code).toBe('INVALID_REASON');
  });

  test('@idempotent: a repeat changes nothing; the same key with other arguments is refused; no key is an error', async () => {
    const { level, itemId, locationId } = firstLevel();
    const before = level.quantities.available;
    const input = {
      name: 'available',
      reason: 'received',
      changes: [{ inventoryItemId: itemId, locationId, delta: 4, changeFromQuantity: before }],
    };
    const first = await client().request(ADJUST, { variables: { key: 'adjust-1', input } });
    const repeat = await client().request(ADJUST, { variables: { key: 'adjust-1', input } });
    expect(repeat.data).toEqual(first.data);
    expect(level.quantities.available).toBe(before + 4);
    const mismatch = await client().request(ADJUST, {
      variables: { key: 'adjust-1', input: { ...input, changes: [{ ...input.changes[0], delta: 9 }] } },
    });
    expect(mismatch.data.inventoryAdjustQuantities.userErrors).toEqual([
      {
        code: 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH',
        field: ['idempotent', 'key'],
        message: 'The same idempotency key cannot be used with different operation parameters.',
      },
    ]);
    expect(level.quantities.available).toBe(before + 4);
    const noKey = await rawGraphQL(sim.url, creds.accessToken, {
      query: `mutation($input: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $input) { userErrors { code } } }`,
      variables: { input },
    });
    expect(noKey.body.errors[0].message).toBe(
      'inventoryAdjustQuantities requires the @idempotent(key: "...") directive from API version 2026-04.',
    );
  });

  test('adjusting damaged needs a ledger document and moves on_hand; available forbids one', async () => {
    const { level, itemId, locationId } = firstLevel();
    const damaged = await client().request(ADJUST, {
      variables: {
        key: 'dmg-1',
        input: {
          name: 'damaged',
          reason: 'damaged',
          changes: [
            {
              inventoryItemId: itemId,
              locationId,
              delta: 2,
              changeFromQuantity: null,
              ledgerDocumentUri: 'switchyard://ledger/1',
            },
          ],
        },
      },
    });
    expect(
      damaged.data.inventoryAdjustQuantities.inventoryAdjustmentGroup.changes.map((c: { name: string }) => c.name),
    ).toEqual(['damaged', 'on_hand']);
    expect(level.quantities.damaged).toBe(2);
    const noDoc = await client().request(ADJUST, {
      variables: {
        key: 'dmg-2',
        input: {
          name: 'damaged',
          reason: 'damaged',
          changes: [{ inventoryItemId: itemId, locationId, delta: 1, changeFromQuantity: null }],
        },
      },
    });
    expect(noDoc.data.inventoryAdjustQuantities.userErrors[0].code).toBe('INVALID_LEDGER_DOCUMENT');
    const docOnAvailable = await client().request(ADJUST, {
      variables: {
        key: 'dmg-3',
        input: {
          name: 'available',
          reason: 'correction',
          changes: [
            {
              inventoryItemId: itemId,
              locationId,
              delta: 1,
              changeFromQuantity: null,
              ledgerDocumentUri: 'switchyard://x',
            },
          ],
        },
      },
    });
    expect(docOnAvailable.data.inventoryAdjustQuantities.userErrors[0].code).toBe('INVALID_AVAILABLE_DOCUMENT');
  });
});

describe('fault injection on the GraphQL endpoint', () => {
  test('5xx, timeouts and forced THROTTLED, each per shop', async () => {
    const faulty = sim.createShop({ seed: 11, products: 1, stores: 1 });
    sim.setFaults(faulty.shop, { errorRate: 1 });
    const failed = await rawGraphQL(sim.url, faulty.accessToken, { query: '{ shop { name } }' });
    expect([500, 502, 503]).toContain(failed.status);
    expect(failed.body).toEqual({ errors: 'Internal Server Error' });
    sim.setFaults(faulty.shop, { errorRate: 0, throttleRate: 1 });
    const throttled = await rawGraphQL(sim.url, faulty.accessToken, { query: '{ shop { name } }' });
    expect(throttled.body.errors[0].extensions.code).toBe('THROTTLED');
    sim.setFaults(faulty.shop, { throttleRate: 0, timeoutRate: 1, timeoutMs: 100 });
    await expect(rawGraphQL(sim.url, faulty.accessToken, { query: '{ shop { name } }' })).rejects.toThrow();
    sim.setFaults(faulty.shop, { timeoutRate: 0 });
    expect((await rawGraphQL(sim.url, faulty.accessToken, { query: '{ shop { name } }' })).status).toBe(200);
    expect(sim.stats(faulty.shop).faultsInjected).toBe(3);
    // Other shops are untouched.
    expect((await rawGraphQL(sim.url, creds.accessToken, { query: '{ shop { name } }' })).status).toBe(200);
    expect(() => sim.setFaults(faulty.shop, { errorRate: 2 })).toThrow(
      'Fault errorRate must be a number (rates 0 to 1).',
    );
  });

  test('a lost answer: the mutation applies, the caller hears nothing; queries still answer', async () => {
    const faulty = sim.createShop({ seed: 12, products: 1, stores: 1 });
    const shop = sim.shop(faulty.shop);
    const variant = [...shop.variants.values()][0]!;
    const location = [...shop.locations.values()][0]!;
    const level = shop.level(variant.inventoryItemId, location.id)!;
    const before = level.quantities.available;
    sim.setFaults(faulty.shop, { lostResponseRate: 1 });
    const set = `mutation Set($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) @idempotent(key: "lost-1") { userErrors { message } } }`;
    const input = {
      name: 'available',
      reason: 'correction',
      quantities: [
        {
          inventoryItemId: `gid://shopify/InventoryItem/${variant.inventoryItemId}`,
          locationId: `gid://shopify/Location/${location.id}`,
          quantity: before + 3,
          changeFromQuantity: before,
        },
      ],
    };
    await expect(rawGraphQL(sim.url, faulty.accessToken, { query: set, variables: { input } })).rejects.toThrow();
    expect(level.quantities.available).toBe(before + 3);
    expect((await rawGraphQL(sim.url, faulty.accessToken, { query: '{ shop { name } }' })).status).toBe(200);
    expect(sim.stats(faulty.shop).faultsInjected).toBe(1);
  });
});

describe('deterministic generation', () => {
  test('the same seed gives an identical store; UPC-A check digits are right', async () => {
    const other = await startSimulator();
    try {
      const a = other.createShop({ seed: 42, products: 20, stores: 4 });
      const first = await (await fetch(`${other.url}/_sim/shops/${a.shop}/state`)).json();
      const again = await startSimulator();
      try {
        const b = again.createShop({ seed: 42, products: 20, stores: 4 });
        const second = await (await fetch(`${again.url}/_sim/shops/${b.shop}/state`)).json();
        expect(second).toEqual(first);
      } finally {
        await again.close();
      }
    } finally {
      await other.close();
    }
    expect(upcA('03600029145')).toBe('036000291452');
    expect(isValidUpcA('036000291452')).toBe(true);
    expect(isValidUpcA('036000291453')).toBe(false);
  });
});
