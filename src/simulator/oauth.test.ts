// The token endpoint and the install page, as Shopify documents them, over real HTTP.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rawGraphQL } from '../../test/support/simulator.js';
import { startSimulator, type ShopCredentials, type Simulator } from './server.js';

let sim: Simulator;
let creds: ShopCredentials;

beforeAll(async () => {
  sim = await startSimulator({ bulkStepMs: 20 });
  creds = sim.createShop({ seed: 43, products: 3, stores: 1 });
});
afterAll(() => sim.close());

async function tokenRequest(params: Record<string, string>, as: 'form' | 'json' = 'form') {
  const response = await fetch(`${sim.url}/admin/oauth/access_token`, {
    method: 'POST',
    headers: { 'content-type': as === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: as === 'json' ? JSON.stringify(params) : new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const scopesQuery = { query: '{ currentAppInstallation { accessScopes { handle } } }' };
const scopesOf = async (token: string) => ((await rawGraphQL(sim.url, token, scopesQuery)).body['data']?.currentAppInstallation.accessScopes as Array<{ handle: string }>).map((s) => s.handle);

/** Installs `app` through the install page; the code and the redirect's parameters. */
async function install(app: ShopCredentials, scope: string, redirect = 'https://oms.example/shopify/callback') {
  const url = new URL(`${sim.url}/admin/oauth/authorize`);
  url.search = new URLSearchParams({ client_id: app.clientId, scope, redirect_uri: redirect, state: 'nonce-1', 'grant_options[]': '' }).toString();
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, location: response.headers.get('location'), text: response.status === 302 ? '' : await response.text() };
}

describe('client credentials grant', () => {
  test('form or JSON body: a working token for a day, with the app scopes; a wrong secret is invalid_client', async () => {
    for (const as of ['form', 'json'] as const) {
      const answer = await tokenRequest({ grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret }, as);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ expires_in: 86_399, scope: expect.stringContaining('read_orders') });
      expect((await rawGraphQL(sim.url, answer.body['access_token'], { query: '{ shop { name } }' })).status).toBe(200);
    }
    expect(await tokenRequest({ grant_type: 'client_credentials', client_id: creds.clientId, client_secret: 'shpss_wrong' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await tokenRequest({ grant_type: 'client_credentials', client_id: creds.clientId })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await tokenRequest({ grant_type: 'password', client_id: creds.clientId, client_secret: creds.clientSecret })).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });

  test('an expired token is answered 401 like an unknown one', async () => {
    const app = sim.addApp(creds.shop, { name: 'short-lived' });
    sim.setTokenLifetimes(creds.shop, { clientCredentialsSeconds: 1 });
    try {
      const { body } = await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret });
      expect(body['expires_in']).toBe(1);
      expect((await rawGraphQL(sim.url, body['access_token'], { query: '{ shop { name } }' })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_100));
      const expired = await rawGraphQL(sim.url, body['access_token'], { query: '{ shop { name } }' });
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual({ errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
      expect(sim.stats(creds.shop).expiredTokenCalls).toBeGreaterThan(0);
    } finally {
      sim.setTokenLifetimes(creds.shop, { clientCredentialsSeconds: 86_399 });
    }
  });

  test('a token keeps the scopes it was issued with; rotating the secret or uninstalling ends every token', async () => {
    const app = sim.addApp(creds.shop, { name: 'scoped', scopes: ['read_orders', 'read_products'] });
    const first = (await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret })).body['access_token'] as string;
    sim.setAppScopes(creds.shop, 'scoped', ['read_orders']);
    const second = (await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret })).body['access_token'] as string;
    expect(await scopesOf(first)).toEqual(['read_orders', 'read_products']);
    expect(await scopesOf(second)).toEqual(['read_orders']);
    const secret = sim.rotateSecret(creds.shop, 'scoped');
    expect((await rawGraphQL(sim.url, second, scopesQuery)).status).toBe(401);
    expect((await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret })).status).toBe(401);
    const third = (await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret })).body['access_token'] as string;
    expect((await rawGraphQL(sim.url, third, scopesQuery)).status).toBe(200);
    sim.uninstallApp(creds.shop, 'scoped');
    expect((await rawGraphQL(sim.url, third, scopesQuery)).status).toBe(401);
    expect(await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    sim.reinstallApp(creds.shop, 'scoped');
    expect((await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret })).status).toBe(200);
  });

  test('token endpoint faults answer 503', async () => {
    sim.setFaults(creds.shop, { tokenEndpointFailNext: 2 });
    const params = { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret };
    expect((await tokenRequest(params)).status).toBe(503);
    expect((await tokenRequest(params)).status).toBe(503);
    expect((await tokenRequest(params)).status).toBe(200);
  });
});

describe('install (authorization code grant) and refresh', () => {
  test('the install page redirects with a code signed by the app secret; the code is good once; expiring=1 gives a refresh token', async () => {
    const app = sim.addApp(creds.shop, { name: 'public', installed: false, redirectUrls: ['https://oms.example/shopify/callback'] });
    expect((await install(app, 'read_orders', 'https://evil.example/cb')).status).toBe(400);
    expect((await install(app, 'read_orders,READ-ALL')).status).toBe(400);
    const { status, location } = await install(app, 'read_orders,write_inventory');
    expect(status).toBe(302);
    const back = new URL(location!);
    expect(back.origin + back.pathname).toBe('https://oms.example/shopify/callback');
    const params = Object.fromEntries(back.searchParams);
    expect(params).toMatchObject({ shop: creds.shop, state: 'nonce-1' });
    const message = Object.keys(params).filter((k) => k !== 'hmac').sort().map((k) => `${k}=${params[k]}`).join('&');
    expect(params['hmac']).toBe(createHmac('sha256', app.clientSecret).update(message).digest('hex'));
    const exchange = await tokenRequest({ client_id: app.clientId, client_secret: app.clientSecret, code: params['code']!, expiring: '1' });
    expect(exchange).toMatchObject({ status: 200, body: { expires_in: 3600, refresh_token_expires_in: 7_776_000, scope: 'read_orders,write_inventory' } });
    expect(exchange.body['refresh_token']).toMatch(/^shprt_/);
    expect(await scopesOf(exchange.body['access_token'])).toEqual(['read_orders', 'write_inventory']);
    expect(await tokenRequest({ client_id: app.clientId, client_secret: app.clientSecret, code: params['code']!, expiring: '1' })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Without expiring=1: a token that does not expire, and no refresh token.
    const again = new URL((await install(app, 'read_orders')).location!);
    const plain = await tokenRequest({ client_id: app.clientId, client_secret: app.clientSecret, code: again.searchParams.get('code')! });
    expect(plain.body['refresh_token']).toBeUndefined();
    expect(plain.body['expires_in']).toBeUndefined();
  });

  test('refresh rotation: the used refresh token may be retried until its replacement is used, then it is refused', async () => {
    const app = sim.addApp(creds.shop, { name: 'rotating', installed: false });
    const back = new URL((await install(app, 'read_orders')).location!);
    const r0 = (await tokenRequest({ client_id: app.clientId, client_secret: app.clientSecret, code: back.searchParams.get('code')!, expiring: '1' })).body['refresh_token'] as string;
    const refresh = (token: string) => tokenRequest({ grant_type: 'refresh_token', client_id: app.clientId, client_secret: app.clientSecret, refresh_token: token });
    const first = await refresh(r0);
    expect(first.status).toBe(200);
    const r1 = first.body['refresh_token'] as string;
    expect(r1).not.toBe(r0);
    // The answer was lost: r0 again still works (a second replacement)...
    const retried = await refresh(r0);
    expect(retried.status).toBe(200);
    // ...until a replacement is used: then r0 is refused, and so is everything two generations back.
    const second = await refresh(r1);
    expect(second.status).toBe(200);
    expect(await refresh(r0)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const r2 = second.body['refresh_token'] as string;
    expect((await refresh(r2)).status).toBe(200);
    expect((await refresh(r1)).status).toBe(400);
    expect(sim.stats(creds.shop).tokenRequests.refresh_token.issued).toBeGreaterThanOrEqual(4);
    // A short lifetime for tests: the access token expires, the refresh gives a working one.
    sim.setTokenLifetimes(creds.shop, { expiringOfflineSeconds: 1 });
    try {
      const pair = (await refresh((await refresh(r2)).body['refresh_token'])).body;
      expect(pair['expires_in']).toBe(1);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await rawGraphQL(sim.url, pair['access_token'], scopesQuery)).status).toBe(401);
      expect((await rawGraphQL(sim.url, (await refresh(pair['refresh_token'])).body['access_token'], scopesQuery)).status).toBe(200);
    } finally {
      sim.setTokenLifetimes(creds.shop, { expiringOfflineSeconds: 3600 });
    }
  });
});
