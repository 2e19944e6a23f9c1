// Who may call what: every route Fastify knows, entered every way a request target can be spelled,
// with and without the credential; the API closed where no credential is configured; security
// headers and rate limits at the edge.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, testConfig, type TestDatabase } from './support/backend.js';
import { rawRequest } from './support/raw-http.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { apiAccessOf, loadConfig } from '../src/main/config.js';
import type { RouteEntry } from '../src/http/app.js';

const API_TOKEN = 'access-test-token-0123456789';
const SHOP = {
  SHOPIFY_SHOP: 'access-shop.myshopify.com',
  // An app installed through its install link: every kind of route exists, the install's too.
  SHOPIFY_CLIENT_ID: '0123456789abcdef0123456789abcdef',
  SHOPIFY_GRANT: 'authorization_code',
  SWITCHYARD_ENCRYPTION_KEY: '00'.repeat(32),
  SWITCHYARD_PUBLIC_URL: 'http://127.0.0.1:8080',
  SHOPIFY_API_SECRET: 'shpss_access_test',
  // Nothing answers there: the shop is never called (no initial load in these tests).
  SHOPIFY_API_URL: 'http://127.0.0.1:9',
};

/** Routes anyone may call. Anything else needs the credential. */
const PUBLIC_ROUTES = [
  '/health',
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/*',
  '/docs/*',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
];

const PARAM_VALUES: Record<string, string> = { name: 'housekeeping.prune-history' };

/** A concrete path for a route pattern: every parameter filled with a plausible value. */
function concretePath(url: string): string {
  return url.replace(/:(\w+)/g, (_m, name: string) => PARAM_VALUES[name] ?? '1').replace('*', 'x');
}

/** Ways to spell the same target that a router may decode or normalise before it matches. */
function spellings(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const tail = rest.length > 0 ? `/${rest.join('/')}` : '';
  const encodeFirstLetter = (segment: string) => `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`;
  const encodeAll = (segment: string) =>
    [...segment].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('');
  return [
    path,
    `/${encodeFirstLetter(first)}${tail}`,
    `/${first.slice(0, 1)}%${first.charCodeAt(1).toString(16)}${first.slice(2)}${tail}`,
    `/${encodeAll(first)}${tail}`,
    `/${first}${tail.replaceAll('/', '%2F')}`,
    `http://x${path}`,
    `https://attacker.example${path}`,
    `/${path}`,
    `/${first}/${tail}`,
    path.toUpperCase(),
    `/${first.slice(0, 1).toUpperCase()}${first.slice(1)}${tail}`,
    `${path}/`,
    `/x/..${path}`,
    `/${first}/.${tail}`,
    `/docs/..${path}`,
    `/docs/static/..%2F..${path}`,
    `${path};x`,
    `${path}?x=1`,
    `${path}%00`,
  ];
}

let testDb: TestDatabase;
let switchyard: Switchyard;
let port: number;

beforeAll(async () => {
  testDb = await createTestDatabase();
  switchyard = await startSwitchyard(testConfig(testDb, { SWITCHYARD_API_TOKEN: API_TOKEN, ...SHOP }), {
    autoConnect: false,
  });
  port = Number(new URL(switchyard.url!).port);
});
afterAll(async () => {
  await switchyard?.stop();
  await testDb?.drop();
});

const routes = (): RouteEntry[] => switchyard.app!.routeTable.filter((r) => r.method !== 'OPTIONS');

describe('every route says who may call it', () => {
  test('the public routes are exactly the health check, the API documentation, Shopify webhooks and the install link and callback', () => {
    const open = routes().filter((r) => r.access !== 'api');
    expect(open.filter((r) => r.access === 'shopify-webhook').map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /webhooks/shopify',
    ]);
    expect(
      open
        .filter((r) => r.access === 'shopify-install')
        .map((r) => `${r.method} ${r.url}`)
        .filter((r) => !r.startsWith('HEAD')),
    ).toEqual(['GET /shopify/install', 'GET /shopify/callback']);
    expect(open.every((r) => ['public', 'shopify-webhook', 'shopify-install'].includes(r.access))).toBe(true);
    for (const route of open.filter((r) => r.access === 'public')) expect(PUBLIC_ROUTES).toContain(route.url);
    // The API is all behind the credential, and there is plenty of it.
    const api = routes().filter((r) => r.url.startsWith('/api/'));
    expect(api.length).toBeGreaterThan(40);
    expect(api.every((r) => r.access === 'api')).toBe(true);
    expect(routes().find((r) => r.url === '/metrics')?.access).toBe('api');
  });

  test('no route that needs the credential can be entered without it, however the target is spelled', async () => {
    const entered: string[] = [];
    const failed: string[] = [];
    for (const route of routes().filter((r) => r.access === 'api')) {
      for (const target of spellings(concretePath(route.url))) {
        const response = await rawRequest(
          port,
          route.method,
          target,
          route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE'
            ? {}
            : { 'content-type': 'application/json' },
          route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH' ? '{}' : '',
        );
        if (response.status < 400) entered.push(`${route.method} ${target} → ${response.status}`);
        if (response.status >= 500)
          failed.push(`${route.method} ${target} → ${response.status} ${response.body.slice(0, 200)}`);
      }
    }
    expect(entered).toEqual([]);
    expect(failed).toEqual([]);
  });

  test('the plain target answers 401 without the credential, with a wrong one, and lets the right one through', async () => {
    for (const route of routes().filter((r) => r.access === 'api' && r.method !== 'HEAD')) {
      const path = concretePath(route.url);
      const body = route.method === 'GET' || route.method === 'DELETE' ? '' : '{}';
      const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
      const none = await rawRequest(port, route.method, path, headers, body);
      expect({
        route: `${route.method} ${route.url}`,
        status: none.status,
        code: JSON.parse(none.body).error?.code,
      }).toEqual({ route: `${route.method} ${route.url}`, status: 401, code: 'auth.unauthorized' });
      expect(none.headers['www-authenticate']).toBe('Bearer');
      const wrong = await rawRequest(
        port,
        route.method,
        path,
        { ...headers, authorization: `Bearer ${API_TOKEN.slice(0, -1)}x` },
        body,
      );
      expect(wrong.status).toBe(401);
      const right = await rawRequest(
        port,
        route.method,
        path,
        { ...headers, authorization: `Bearer ${API_TOKEN}` },
        body,
      );
      expect({ route: `${route.method} ${route.url}`, authorised: right.status !== 401 }).toEqual({
        route: `${route.method} ${route.url}`,
        authorised: true,
      });
    }
  });

  test('a target that matches no route needs the credential too (nothing is open by omission)', async () => {
    expect((await rawRequest(port, 'GET', '/api/v1/nothing-here')).status).toBe(401);
    expect((await rawRequest(port, 'GET', '/anything')).status).toBe(401);
    expect(
      (await rawRequest(port, 'GET', '/api/v1/nothing-here', { authorization: `Bearer ${API_TOKEN}` })).status,
    ).toBe(404);
  });

  test('health and the documentation need nothing', async () => {
    expect((await rawRequest(port, 'GET', '/health')).status).toBe(200);
    expect((await rawRequest(port, 'GET', '/docs/json')).status).toBe(200);
  });
});

describe('security headers', () => {
  test('answers carry the usual protections', async () => {
    const response = await rawRequest(port, 'GET', '/health');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['strict-transport-security']).toContain('max-age=');
    expect(response.headers['x-powered-by']).toBeUndefined();
  });
});

describe('when the API opens without a credential', () => {
  const base = { PORT: '0', LOG_LEVEL: 'silent', SWITCHYARD_DATA_DIR: '/tmp/unused' };
  test('a real shop without a token: closed, wherever it listens', () => {
    for (const HOST of ['127.0.0.1', '0.0.0.0']) {
      const access = apiAccessOf(
        loadConfig({
          ...base,
          HOST,
          SHOPIFY_SHOP: 'real.myshopify.com',
          SHOPIFY_ADMIN_TOKEN: 'shpat_x',
          SHOPIFY_API_SECRET: 'shpss_x',
        }),
      );
      expect(access).toMatchObject({ mode: 'closed', reason: expect.stringContaining('SWITCHYARD_API_TOKEN') });
    }
  });
  test('a simulated shop on this machine, or none on the embedded database: open on loopback only, with no proxy in front', () => {
    expect(apiAccessOf(loadConfig({ ...base, HOST: '127.0.0.1', ...SHOP }))).toEqual({ mode: 'open' });
    expect(apiAccessOf(loadConfig({ ...base, HOST: '0.0.0.0', ...SHOP }))).toMatchObject({ mode: 'closed' });
    expect(apiAccessOf(loadConfig({ ...base, HOST: '::1' }))).toEqual({ mode: 'open' });
    // A server database without a shop is a production set-up not fully configured, wherever it listens.
    expect(apiAccessOf(loadConfig({ ...base, HOST: '::', DATABASE_URL: 'postgres://x@db/x' }))).toMatchObject({
      mode: 'closed',
    });
    expect(apiAccessOf(loadConfig({ ...base, HOST: '127.0.0.1', DATABASE_URL: 'postgres://x@db/x' }))).toMatchObject({
      mode: 'closed',
      reason: expect.stringContaining('DATABASE_URL'),
    });
    // Behind a reverse proxy on this machine, loopback is everyone.
    expect(apiAccessOf(loadConfig({ ...base, HOST: '127.0.0.1', SWITCHYARD_TRUST_PROXY: 'loopback' }))).toMatchObject({
      mode: 'closed',
      reason: expect.stringContaining('SWITCHYARD_TRUST_PROXY'),
    });
    expect(
      apiAccessOf(loadConfig({ ...base, HOST: '127.0.0.1', SWITCHYARD_TRUST_PROXY: 'loopback', ...SHOP })),
    ).toMatchObject({ mode: 'closed' });
  });
  test('the demo listens on loopback by default; other set-ups on every interface', () => {
    expect(loadConfig({ ...base }).host).toBe('127.0.0.1');
    expect(loadConfig({ ...base, SWITCHYARD_DEMO: 'off' }).host).toBe('0.0.0.0');
    expect(loadConfig({ ...base, DATABASE_URL: 'postgres://x@db/x' }).host).toBe('0.0.0.0');
  });
  test('with a token: the token, always', () => {
    expect(apiAccessOf(loadConfig({ ...base, HOST: '127.0.0.1', SWITCHYARD_API_TOKEN: API_TOKEN }))).toEqual({
      mode: 'token',
      token: API_TOKEN,
    });
  });

  test('a closed API refuses every API route with a message saying what to set, and still answers health', async () => {
    const db = await createTestDatabase();
    const closed = await startSwitchyard(
      testConfig(db, { ...SHOP, SHOPIFY_API_URL: 'https://access-shop.myshopify.com' }),
      { autoConnect: false },
    );
    try {
      const closedPort = Number(new URL(closed.url!).port);
      for (const route of closed.app!.routeTable.filter((r) => r.access === 'api' && r.method === 'GET').slice(0, 10)) {
        const response = await rawRequest(closedPort, 'GET', concretePath(route.url), {
          authorization: 'Bearer anything-at-all-really',
        });
        expect(response.status).toBe(503);
        expect(JSON.parse(response.body).error).toMatchObject({
          code: 'auth.not_configured',
          message: expect.stringContaining('SWITCHYARD_API_TOKEN'),
        });
      }
      expect((await rawRequest(closedPort, 'GET', '/health')).status).toBe(200);
    } finally {
      await closed.stop();
      await db.drop();
    }
  });
});

describe('rate limits', () => {
  test('an address that sends too much gets 429 with Retry-After; the webhook endpoint has its own limit', async () => {
    const db = await createTestDatabase();
    const limited = await startSwitchyard(
      testConfig(db, {
        SWITCHYARD_API_TOKEN: API_TOKEN,
        ...SHOP,
        SWITCHYARD_RATE_LIMIT_PER_MINUTE: '5',
        SWITCHYARD_WEBHOOK_RATE_LIMIT_PER_MINUTE: '8',
      }),
      { autoConnect: false },
    );
    try {
      const limitedPort = Number(new URL(limited.url!).port);
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push(
          (await rawRequest(limitedPort, 'GET', '/api/v1/jobs', { authorization: `Bearer ${API_TOKEN}` })).status,
        );
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const refused = await rawRequest(limitedPort, 'GET', '/api/v1/jobs', { authorization: `Bearer ${API_TOKEN}` });
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
      expect(JSON.parse(refused.body).error).toMatchObject({ code: 'request.rate_limited' });
      // Failed attempts count as well: no guessing the token at speed, on a route or off one.
      expect(
        (await rawRequest(limitedPort, 'GET', '/api/v1/jobs', { authorization: 'Bearer guess-guess-guess-guess' }))
          .status,
      ).toBe(429);
      expect(
        (
          await rawRequest(limitedPort, 'GET', '/api/v1/no-such-route', {
            authorization: 'Bearer guess-guess-guess-guess',
          })
        ).status,
      ).toBe(429);
      expect((await rawRequest(limitedPort, 'GET', '/nope')).status).toBe(429);
      const webhooks: number[] = [];
      for (let i = 0; i < 10; i++)
        webhooks.push(
          (await rawRequest(limitedPort, 'POST', '/webhooks/shopify', { 'content-type': 'application/json' }, '{}'))
            .status,
        );
      expect(webhooks.slice(0, 8).every((s) => s === 401)).toBe(true);
      expect(webhooks.slice(8)).toEqual([429, 429]);
    } finally {
      await limited.stop();
      await db.drop();
    }
  });
});
