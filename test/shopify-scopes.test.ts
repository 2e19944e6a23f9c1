// Switchyard connected to a Shopify app granted fewer access scopes than it needs: it says which
// are missing and what stops working, in sync health and in a warning, and stops connecting when
// one it cannot work without is missing.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import { backend } from './support/backend.js';
import { DEFAULT_SCOPES } from '../src/simulator/server.js';
import { makeLogger } from '../src/platform/logger.js';
import { makeShopifyClient } from '../src/shopify/client.js';
import { checkAccessScopes } from '../src/ingest/access-scopes.js';
import { SCOPES_NEEDED } from '../src/shopify/scopes.js';

const without = (...scopes: string[]) => DEFAULT_SCOPES.filter((s) => !scopes.includes(s)).sort();
const stopsWorking = (scope: string) => SCOPES_NEEDED.find((n) => n.scope === scope)!.whatStopsWorking;

let connected: Connected;

beforeAll(async () => {
  // The legacy token: its scopes follow the app's as the test changes them.
  connected = await connectToSimulatedShop(
    { seed: 91, products: 6, stores: 2, scopes: without('write_inventory', 'write_orders') },
    { legacyToken: true },
  );
}, 120_000);
afterAll(() => connected?.close(), 60_000);

describe(`access scopes on ${backend}`, () => {
  test('connected to an app lacking scopes, sync health lists each missing one with what stops working', async () => {
    const { body } = await connected.api('GET', '/api/v1/sync/health');
    expect(body.shop.status).toBe('connected');
    expect(body.scopes).toEqual({
      checkedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      granted: without('write_inventory', 'write_orders'),
      missing: [
        {
          scope: 'write_inventory',
          whatStopsWorking: 'Publishing available quantities is refused: Shopify keeps selling from its own figures.',
        },
        {
          scope: 'write_orders',
          whatStopsWorking:
            'Cancelling orders and refunding lines that cannot be fulfilled (routing.auto-cancel) is refused in Shopify.',
        },
      ],
    });
  });

  test('without a scope it cannot work without, connecting stops with an error naming it, and changes nothing', async () => {
    const { sim, creds, switchyard } = connected;
    const before = (await connected.api('GET', '/api/v1/sync/health')).body;
    sim.setAppScopes(creds.shop, 'Switchyard', without('write_inventory', 'write_orders', 'read_customers'));
    const run = await switchyard.jobs.runHere('sync.initial-load', 'cli');
    expect(run.status).toBe('failed');
    expect(run.error).toBe(
      `Connecting to ${creds.shop} stops: the Shopify app lacks access scopes Switchyard cannot work without. read_customers: ${stopsWorking('read_customers')} Grant them in the app's configuration, then connect again.`,
    );
    const after = (await connected.api('GET', '/api/v1/sync/health')).body;
    expect(after.shop).toEqual(before.shop);
    expect(after.initialLoad).toEqual(before.initialLoad);
    expect(after.scopes.granted).toEqual(without('write_inventory', 'write_orders', 'read_customers'));
    expect(after.scopes.missing.map((m: { scope: string }) => m.scope)).toEqual([
      'read_customers',
      'write_inventory',
      'write_orders',
    ]);

    // Granted again, the load goes through and health says so.
    sim.setAppScopes(creds.shop, 'Switchyard', DEFAULT_SCOPES);
    expect((await switchyard.jobs.runHere('sync.initial-load', 'cli')).status).toBe('succeeded');
    expect((await connected.api('GET', '/api/v1/sync/health')).body.scopes.missing).toEqual([]);
  }, 120_000);

  test('a missing scope is logged as a warning naming it and what stops working; read_all_orders is needed for a window past 60 days', async () => {
    const { sim, creds } = connected;
    sim.setAppScopes(creds.shop, 'Switchyard', without('write_merchant_managed_fulfillment_orders'));
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').trim().split('\n')));
    const log = makeLogger({ level: 'warn', destination: stream });
    const shopify = makeShopifyClient(
      { shop: creds.shop, accessToken: creds.accessToken, apiVersion: creds.apiVersion, apiUrl: sim.url },
      { logger: log },
    );
    const check = (orderWindowMonths: number) =>
      checkAccessScopes({ db: connected.db(), shopify, shop: creds.shop, orderWindowMonths, at: new Date(), log });

    const oneMonth = await check(1);
    expect(oneMonth.missing.map((m) => m.scope)).toEqual(['write_merchant_managed_fulfillment_orders']);
    const sixMonths = await check(6);
    expect(sixMonths.missing.map((m) => m.scope)).toEqual([
      'write_merchant_managed_fulfillment_orders',
      'read_all_orders',
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string; missing: unknown });
    expect(warnings.map((w) => [w.level, w.msg])).toEqual([
      [
        40,
        `The Shopify app lacks access scopes Switchyard needs. write_merchant_managed_fulfillment_orders: ${stopsWorking('write_merchant_managed_fulfillment_orders')} Grant them in the app's configuration, then connect again.`,
      ],
      [
        40,
        `The Shopify app lacks access scopes Switchyard needs. write_merchant_managed_fulfillment_orders: ${stopsWorking('write_merchant_managed_fulfillment_orders')} read_all_orders: Orders older than 60 days are invisible: an initial load of 2 or 6 months brings only the last 60 days. Grant them in the app's configuration, then connect again.`,
      ],
    ]);
    expect(warnings[0]!.missing).toEqual([
      {
        scope: 'write_merchant_managed_fulfillment_orders',
        whatStopsWorking: stopsWorking('write_merchant_managed_fulfillment_orders'),
      },
    ]);
    sim.setAppScopes(creds.shop, 'Switchyard', DEFAULT_SCOPES);
  });
});
