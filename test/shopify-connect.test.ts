// Connecting the way Shopify requires since 2026, end to end against the simulator: a Dev Dashboard
// app's client ID and secret only (client credentials grant, tokens expiring every few seconds), an
// install through the install link (authorization code grant, expiring offline tokens and refresh
// tokens), a revoked or uninstalled app, and a token endpoint that fails.
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, childEnv, createTestDatabase, testConfig, waitFor, type TestDatabase } from './support/backend.js';
import { CLI, startChild } from './support/child.js';
import { freePort } from './support/net.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { startSimulator, type ShopCredentials, type Simulator } from '../src/simulator/server.js';
import { placeOrder } from '../src/simulator/orders.js';
import type { SimShop } from '../src/simulator/state.js';
import { queryRows } from '../src/platform/db/rows.js';
import { makeLogger } from '../src/platform/logger.js';

const SYNC = { syncSettings: { overlapMs: 120_000, delayMs: 0, defaultLookbackMs: 86_400_000 }, schedulerTickMs: 200 };
const KEY = 'ab'.repeat(32);

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ webhookTimeScale: 0.0005, bulkStepMs: 20 });
});
afterAll(() => sim?.close());

async function api(switchyard: Switchyard, method: string, path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${switchyard.url}${path}`, { method });
  return { status: response.status, body: await response.json() };
}

/** Places an order in Shopify; its GID. */
function order(shop: SimShop, input: Parameters<typeof placeOrder>[1]): string {
  const placed = placeOrder(shop, input);
  if (!placed.ok) throw new Error(JSON.stringify(placed.userErrors));
  return `gid://shopify/Order/${placed.value.id}`;
}

const health = async (switchyard: Switchyard) => (await api(switchyard, 'GET', '/api/v1/sync/health')).body;

async function orderCount(switchyard: Switchyard, shopifyIds: string[]): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    switchyard.database.db,
    sql`select count(*)::int as n from orders where shopify_order_id = any(${`{${shopifyIds.join(',')}}`}::text[])`,
  );
  return row!.n;
}

/** Job runs that failed because of a token: a call lost to an expired or refused token. */
async function runsLostToTokens(switchyard: Switchyard, since = new Date(0)): Promise<string[]> {
  const rows = await queryRows<{ job_name: string; error: string }>(
    switchyard.database.db,
    sql`select job_name, error from job_runs where status = 'failed' and started_at >= ${since} and (error like '%401%' or error ilike '%access token%' or error ilike '%credentials%')`,
  );
  return rows.map((r) => `${r.job_name}: ${r.error}`);
}

describe(`client credentials grant (${backend})`, () => {
  let testDb: TestDatabase;
  let switchyard: Switchyard;
  let creds: ShopCredentials;

  beforeAll(async () => {
    creds = sim.createShop({ seed: 61, products: 8, stores: 2, plan: 'enterprise' });
    // Tokens live 3 s: they expire again and again during the test.
    sim.setTokenLifetimes(creds.shop, { clientCredentialsSeconds: 3 });
    testDb = await createTestDatabase();
    const port = await freePort();
    switchyard = await startSwitchyard(
      testConfig(testDb, {
        PORT: String(port),
        SWITCHYARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
        SHOPIFY_SHOP: creds.shop,
        SHOPIFY_CLIENT_ID: creds.clientId,
        SHOPIFY_API_SECRET: creds.clientSecret,
        SHOPIFY_API_URL: sim.url,
      }),
      SYNC,
    );
  });
  afterAll(async () => {
    await switchyard?.stop();
    await testDb?.drop();
  });

  test('with only the client ID and secret: the initial load completes, and expiring tokens are renewed without a call lost', async () => {
    await waitFor('the initial load', async () => (await health(switchyard)).shop.status === 'connected', 90_000, 250);
    const shop = sim.shop(creds.shop);
    const variants = [...shop.variants.values()];
    const placed: string[] = [];
    // Orders over 6 s: two token lifetimes.
    for (let i = 0; i < 12; i++) {
      placed.push(
        order(shop, { lines: [{ variantId: variants[i % variants.length]!.id, quantity: 1 }], shipping: 'standard' }),
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitFor(
      'every order in Switchyard',
      async () => (await orderCount(switchyard, placed)) === placed.length,
      60_000,
      250,
    );
    const { credentials, api: calls } = await health(switchyard);
    expect(credentials).toMatchObject({ grant: 'client_credentials', status: 'connected', failure: null });
    // Renewed when a call needs a token (no call, no renewal): at least once more over 6 s of orders.
    expect(credentials.renewals).toBeGreaterThanOrEqual(2);
    expect(sim.stats(creds.shop).tokenRequests.client_credentials.issued).toBe(credentials.renewals);
    // A token that expired under a call was renewed and the call sent again: none failed for it.
    expect(calls.unauthorized).toBe(calls.retriedWithNewToken);
    expect(await runsLostToTokens(switchyard)).toEqual([]);
    // The token is sealed at rest.
    const [row] = await queryRows<{ access_token: string }>(
      switchyard.database.db,
      sql`select access_token from shopify_credentials`,
    );
    expect(row!.access_token.startsWith('v1:')).toBe(true);
    expect(row!.access_token).not.toContain('shpat_');
  });

  test('the token endpoint failing, then the app uninstalled: Switchyard keeps running, calls wait with the reason, and the sync resumes by itself', async () => {
    const shop = sim.shop(creds.shop);
    const variants = [...shop.variants.values()];
    // Shopify's token endpoint answers 503 for a while: the token runs out, calls wait.
    sim.setFaults(creds.shop, { tokenEndpointErrorRate: 1 });
    // A reconciliation needs Shopify: its calls find the token expired and renewing refused.
    const reconcile = () => fetch(`${switchyard.url}/api/v1/jobs/sync.reconcile/run`, { method: 'POST' });
    await waitFor(
      'credentials waiting for the token endpoint',
      async () => {
        await reconcile();
        return (await health(switchyard)).credentials.failure?.code === 'unavailable';
      },
      30_000,
      1_000,
    );
    expect((await health(switchyard)).credentials.status).toBe('waiting');
    const whileDown = order(shop, { lines: [{ variantId: variants[0]!.id, quantity: 1 }], shipping: 'standard' });
    sim.setFaults(creds.shop, { tokenEndpointErrorRate: 0 });
    await waitFor(
      'credentials back',
      async () => (await health(switchyard)).credentials.status === 'connected',
      60_000,
      250,
    );
    await waitFor(
      'the order placed meanwhile',
      async () => (await orderCount(switchyard, [whileDown])) === 1,
      60_000,
      250,
    );

    // The merchant uninstalls the app: every token ends, renewing is refused.
    sim.uninstallApp(creds.shop, 'Switchyard');
    await waitFor(
      'credentials refused',
      async () => {
        await reconcile();
        return (await health(switchyard)).credentials.failure?.code === 'invalid_grant';
      },
      30_000,
      1_000,
    );
    // Shopify's app/uninstalled is believed: a new token was refused.
    await waitFor(
      'the shop marked uninstalled',
      async () => (await health(switchyard)).shop.status === 'uninstalled',
      30_000,
      250,
    );
    const waiting = (await health(switchyard)).credentials;
    expect(waiting.status).toBe('waiting');
    expect(waiting.failure.message).toContain('install it again');
    const whileUninstalled = order(shop, {
      lines: [{ variantId: variants[1]!.id, quantity: 2 }],
      shipping: 'standard',
    });
    // The API still answers.
    expect((await api(switchyard, 'GET', '/api/v1/orders?limit=1')).status).toBe(200);
    // Installed again: within the back-off Switchyard has a token, reconciles, and the order placed meanwhile arrives.
    sim.reinstallApp(creds.shop, 'Switchyard');
    await waitFor(
      'credentials back after the reinstall',
      async () => (await health(switchyard)).credentials.status === 'connected',
      90_000,
      500,
    );
    await waitFor(
      'the order placed while uninstalled',
      async () => (await orderCount(switchyard, [whileUninstalled])) === 1,
      90_000,
      500,
    );
    expect((await health(switchyard)).shop.status).toBe('connected');
  });
});

describe(`install through the install link: authorization code grant, expiring offline tokens (${backend})`, () => {
  let testDb: TestDatabase;
  let switchyard: Switchyard;
  let app: ShopCredentials;
  let publicUrl: string;
  let logs = '';

  beforeAll(async () => {
    const creds = sim.createShop({ seed: 62, products: 6, stores: 1, plan: 'enterprise' });
    // The integrator's app, not installed yet; offline tokens of 2 s.
    app = sim.addApp(creds.shop, { name: 'Integrator', installed: false, scopes: [] });
    sim.setTokenLifetimes(creds.shop, { expiringOfflineSeconds: 2 });
    testDb = await createTestDatabase();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    switchyard = await startSwitchyard(
      testConfig(testDb, {
        PORT: String(port),
        SWITCHYARD_PUBLIC_URL: publicUrl,
        SHOPIFY_SHOP: app.shop,
        SHOPIFY_CLIENT_ID: app.clientId,
        SHOPIFY_API_SECRET: app.clientSecret,
        SHOPIFY_GRANT: 'authorization_code',
        SWITCHYARD_ENCRYPTION_KEY: KEY,
        SHOPIFY_API_URL: sim.url,
      }),
      {
        ...SYNC,
        logger: makeLogger({
          level: 'debug',
          destination: new Writable({ write: (chunk: Buffer, _e, done) => ((logs += chunk.toString()), done()) }),
        }),
      },
    );
  });
  afterAll(async () => {
    await switchyard?.stop();
    await testDb?.drop();
  });

  const get = (path: string, cookie?: string) =>
    fetch(path.startsWith('http') ? path : `${publicUrl}${path}`, {
      redirect: 'manual',
      headers: cookie ? { cookie } : {},
    });

  /** Starts an install: the state cookie and Shopify's answer (the callback URL). */
  async function startInstall(): Promise<{ cookie: string; callback: URL }> {
    const start = await get(`/shopify/install?shop=${app.shop}`);
    expect(start.status).toBe(302);
    const cookie = start.headers.get('set-cookie')!.split(';')[0]!;
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.pathname).toBe('/admin/oauth/authorize');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${publicUrl}/shopify/callback`);
    expect(authorize.searchParams.get('scope')).toContain('read_orders');
    const approved = await get(authorize.toString());
    expect(approved.status).toBe(302);
    return { cookie, callback: new URL(approved.headers.get('location')!) };
  }

  const resigned = (url: URL, change: Record<string, string>, secret = app.clientSecret) => {
    const params = { ...Object.fromEntries(url.searchParams), ...change };
    delete (params as Record<string, string>)['hmac'];
    const message = Object.keys(params)
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
    const next = new URL(url.toString());
    for (const [k, v] of Object.entries(change)) next.searchParams.set(k, v);
    next.searchParams.set('hmac', createHmac('sha256', secret).update(message).digest('hex'));
    return next;
  };

  test('before the install: running, waiting for the install with the link; the callback refuses what is not this install', async () => {
    const before = await health(switchyard);
    expect(before.credentials).toMatchObject({ grant: 'authorization_code', status: 'not_installed' });
    await waitFor(
      'the initial load to wait for the install',
      async () => (await health(switchyard)).credentials.failure?.message?.includes('/shopify/install?shop='),
      30_000,
      250,
    );
    // Only the configured shop, and only a myshopify domain.
    expect((await get('/shopify/install?shop=other-store.myshopify.com')).status).toBe(403);
    expect((await get('/shopify/install?shop=evil.example.com')).status).toBe(400);
    expect((await get('/shopify/install')).status).toBe(400);

    const { cookie, callback } = await startInstall();
    const refused = async (url: URL | string, withCookie: string | undefined, code: number, words: string) => {
      const response = await get(url.toString(), withCookie);
      expect(response.status).toBe(code);
      expect(await response.text()).toContain(words);
    };
    // A bad signature, or none.
    await refused(resigned(callback, {}, 'shpss_not_the_secret'), cookie, 400, 'not signed by Shopify');
    const unsigned = new URL(callback.toString());
    unsigned.searchParams.delete('hmac');
    await refused(unsigned, cookie, 400, 'not signed by Shopify');
    // Signed, but not a myshopify shop, or another shop.
    await refused(resigned(callback, { shop: 'evil.example.com' }), cookie, 400, 'myshopify.com');
    await refused(
      resigned(callback, { shop: 'other-store.myshopify.com' }),
      cookie,
      403,
      'cannot be installed on another shop',
    );
    // A missing or foreign state; a browser that did not start it.
    const stateless = new URL(callback.toString());
    stateless.searchParams.delete('state');
    await refused(resigned(stateless, {}), cookie, 400, 'no state');
    await refused(
      resigned(callback, { state: 'f'.repeat(48) }),
      'switchyard_install_state=' + 'f'.repeat(48),
      400,
      'already used or has expired',
    );
    await refused(callback, undefined, 400, 'did not start this install');
    expect((await health(switchyard)).credentials.status).toBe('not_installed');

    // The real answer installs; the same answer again is refused (the state was spent).
    const installed = await get(callback.toString(), cookie);
    expect(installed.status).toBe(200);
    expect(await installed.text()).toContain('Switchyard is connected');
    await refused(callback, cookie, 400, 'already used');
  });

  test('after the install: the shop is loaded, and offline tokens of 2 s are refreshed with rotation without a call lost; the refresh token is sealed', async () => {
    const installedAt = new Date();
    await waitFor(
      'the initial load after the install',
      async () => (await health(switchyard)).shop.status === 'connected',
      90_000,
      250,
    );
    const shop = sim.shop(app.shop);
    const variants = [...shop.variants.values()];
    const placed: string[] = [];
    for (let i = 0; i < 10; i++) {
      placed.push(
        order(shop, { lines: [{ variantId: variants[i % variants.length]!.id, quantity: 1 }], shipping: 'standard' }),
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitFor(
      'every order in Switchyard',
      async () => (await orderCount(switchyard, placed)) === placed.length,
      60_000,
      250,
    );
    const { credentials, api: calls } = await health(switchyard);
    expect(credentials).toMatchObject({ grant: 'authorization_code', status: 'connected', failure: null });
    expect(sim.stats(app.shop).tokenRequests.refresh_token.issued).toBeGreaterThanOrEqual(2);
    expect(sim.stats(app.shop).tokenRequests.refresh_token.refused).toBe(0);
    expect(calls.unauthorized).toBe(calls.retriedWithNewToken);
    // (Before the install, the initial load waited for it: those runs are not lost calls.)
    expect(await runsLostToTokens(switchyard, installedAt)).toEqual([]);
    const [row] = await queryRows<{ refresh_token: string }>(
      switchyard.database.db,
      sql`select refresh_token from shopify_credentials`,
    );
    expect(row!.refresh_token.startsWith('v1:')).toBe(true);
    expect(row!.refresh_token).not.toContain('shprt_');
    // Renewals are logged, never a token, a code or the secret (debug level included).
    expect(logs).toContain('Shopify access token renewed');
    expect(logs).not.toMatch(/shpat_[0-9a-f]{8}|shprt_[0-9a-f]{8}/);
    expect(logs).not.toContain(app.clientSecret);
  });
});

describe(`switchyard shopify connect (${backend})`, () => {
  test('with a client ID and secret: says how it connected, which scopes are granted and which are missing, and loads', async () => {
    const creds = sim.createShop({ seed: 63, products: 3, stores: 1 });
    // An app without write_orders: connecting goes on, naming what stops working.
    const app = sim.addApp(creds.shop, {
      name: 'Fewer',
      scopes: [
        'read_customers',
        'read_inventory',
        'write_inventory',
        'read_locations',
        'read_merchant_managed_fulfillment_orders',
        'write_merchant_managed_fulfillment_orders',
        'read_orders',
        'read_products',
      ],
    });
    const testDb = await createTestDatabase();
    try {
      const env = childEnv(testDb, {
        SHOPIFY_SHOP: app.shop,
        SHOPIFY_CLIENT_ID: app.clientId,
        SHOPIFY_API_SECRET: app.clientSecret,
        SHOPIFY_API_URL: sim.url,
        LOG_LEVEL: 'silent',
      });
      const child = startChild(CLI, ['shopify', 'connect', '--yes'], env);
      expect(await child.exited).toBe(0);
      const output = child.output();
      expect(output).toContain(`Connected to ${app.shop} (client credentials grant, token valid until`);
      expect(output).toMatch(
        /Access scopes granted: read_customers, read_inventory, read_locations, .*write_inventory/,
      );
      expect(output).toMatch(/write_orders +Cancelling orders and refunding lines/);
      expect(output).toContain('Loaded:');
      // A wrong secret: a clear error naming the settings, exit code not 0.
      const wrong = startChild(CLI, ['shopify', 'connect', '--yes'], { ...env, SHOPIFY_API_SECRET: 'shpss_wrong' });
      expect(await wrong.exited).not.toBe(0);
      expect(wrong.output()).toContain('check SHOPIFY_CLIENT_ID and SHOPIFY_API_SECRET');
      expect(wrong.output()).not.toContain('shpss_wrong');
    } finally {
      await testDb.drop();
    }
  });
});
