// The connector against the simulator over HTTP: pacing by the shop's budget, bounded retries.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulator, type Simulator } from '../simulator/server.js';
import { silentLogger } from '../platform/logger.js';
import { makeCostBudget } from './budget.js';
import { makeShopifyClient } from './client.js';
import { operation } from './operation.js';
import { ProductsPage, ShopInfo } from './operations.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());

const Twenty = operation<{ products: { nodes: Array<{ id: string }> } }>(
  'Twenty',
  22,
  `query Twenty { products(first: 20) { nodes { id } } }`,
);

function clientFor(
  shop: ReturnType<Simulator['createShop']>,
  options: { maxAttempts?: number; throttlePatienceMs?: number } = {},
) {
  return makeShopifyClient(
    { shop: shop.shop, accessToken: shop.accessToken, apiVersion: shop.apiVersion, apiUrl: sim.url },
    { logger: silentLogger, budget: makeCostBudget(), baseDelayMs: 5, maxDelayMs: 40, ...options },
  );
}

describe('Shopify connector', () => {
  test('concurrent callers share the budget and are paced instead of throttled', async () => {
    // Plus plan (1,000 points/s) with a 100-point bucket; 40 calls of 22 points each.
    const shop = sim.createShop({ seed: 41, products: 25, stores: 1, plan: 'plus', bucketFactor: 0.1 });
    const client = clientFor(shop);
    const results = await Promise.all(Array.from({ length: 40 }, () => client.request(Twenty, {})));
    expect(results.every((r) => r.products.nodes.length === 20)).toBe(true);
    expect(client.stats.calls - client.stats.throttled).toBe(40);
    // The budget learns the bucket from the first answer; after that, pacing keeps THROTTLED rare.
    expect(client.stats.throttled).toBeLessThanOrEqual(2);
    expect(sim.stats(shop.shop).throttled).toBe(client.stats.throttled);
    expect(client.stats.costPoints).toBe(40 * 22);
  });

  test('HTTP 5xx and THROTTLED are retried; the answer arrives', async () => {
    const shop = sim.createShop({ seed: 42, products: 3, stores: 1 });
    sim.setFaults(shop.shop, { errorRate: 0.5, throttleRate: 0.2 });
    const client = clientFor(shop, { maxAttempts: 30 });
    for (let i = 0; i < 20; i++) expect((await client.request(ShopInfo, {})).shop.myshopifyDomain).toBe(shop.shop);
    expect(client.stats.retries).toBeGreaterThan(0);
    expect(client.stats.throttled).toBeGreaterThan(0);
    expect(client.stats.failures).toBe(0);
  });

  test('THROTTLED is waited out however many times it comes (within the patience), then fails clearly', async () => {
    const shop = sim.createShop({ seed: 45, products: 3, stores: 1 });
    // Most answers throttled: a try count as small as 2 must not make the call fail.
    sim.setFaults(shop.shop, { throttleRate: 0.7 });
    const client = clientFor(shop, { maxAttempts: 2 });
    for (let i = 0; i < 10; i++) expect((await client.request(ShopInfo, {})).shop.myshopifyDomain).toBe(shop.shop);
    expect(client.stats.throttled).toBeGreaterThan(10);
    expect(client.stats.failures).toBe(0);
    // Throttled without end: the call gives up once its patience is spent, and says so.
    sim.setFaults(shop.shop, { throttleRate: 1 });
    const impatient = clientFor(shop, { throttlePatienceMs: 300 });
    await expect(impatient.request(ShopInfo, {})).rejects.toMatchObject({
      code: 'shopify.throttled',
      message: expect.stringMatching(/kept throttling ShopInfo for \d+ s \(\d+ tries\)/),
    });
    sim.setFaults(shop.shop, { throttleRate: 0 });
  });

  test('a dead endpoint fails after bounded tries with a clear error; a GraphQL error fails at once', async () => {
    const shop = sim.createShop({ seed: 43, products: 3, stores: 1 });
    sim.setFaults(shop.shop, { errorRate: 1 });
    const client = clientFor(shop, { maxAttempts: 3 });
    await expect(client.request(ShopInfo, {})).rejects.toMatchObject({
      code: 'shopify.unavailable',
      message: expect.stringContaining('after 3 tries'),
    });
    sim.setFaults(shop.shop, { errorRate: 0 });
    const Broken = operation<unknown>('Broken', 1, `query Broken { shop { nmae } }`);
    const calls = client.stats.calls;
    await expect(client.request(Broken, {})).rejects.toMatchObject({
      code: 'shopify.request_failed',
      message: expect.stringContaining('Cannot query field "nmae"'),
    });
    expect(client.stats.calls).toBe(calls + 1);
  });

  test('named operations run against the simulator and return typed data', async () => {
    const shop = sim.createShop({ seed: 44, products: 12, stores: 1 });
    const client = clientFor(shop);
    const page = await client.request(ProductsPage, { query: null, after: null });
    expect(page.products.nodes).toHaveLength(10);
    expect(page.products.pageInfo.hasNextPage).toBe(true);
  });
});
