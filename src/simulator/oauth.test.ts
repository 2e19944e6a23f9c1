// The token endpoint and the install page, as Shopify documents them, over real HTTP.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rawGraphQL } from '../../test/support/simulator.js';
import { DEFAULT_SCOPES, startSimulator, type ShopCredentials, type Simulator } from './server.js';

let sim: Simulator;
let creds: ShopCredentials;

beforeAll(async () => {
  sim = await startSimulator({ bulkStepMs: 20 });
  creds = sim.createShop({ seed: 43, products: 3, stores: 1 });
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

async function tokenRequest(params: Record<string, string>, as: 'form' | 'json' = 'form') {
  const response = await fetch(`${sim.url}/admin/oauth/access_token`, {
    method: 'POST',
    headers: { 'content-type': as === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: as === 'json' ? JSON.stringify(params) : new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const scopesQuery = { query: '{ currentAppInstallation { accessScopes { handle } } }' };
const scopesOf = async (token: string) =>
  (
    (await rawGraphQL(sim.url, token, scopesQuery)).body['data']?.currentAppInstallation.accessScopes as Array<{
      handle: string;
    }>
  ).map((s) => s.handle);

const shopQuery = { query: '{ shop { name } }' };
const statusOf = async (token: string) => (await rawGraphQL(sim.url, token, shopQuery)).status;

/** Installs `app` through the install page; the code and the redirect's parameters. */
async function install(app: ShopCredentials, scope: string, redirect = 'https://oms.example/shopify/callback') {
  const url = new URL(`${sim.url}/admin/oauth/authorize`);
  url.search = new URLSearchParams({
    client_id: app.clientId,
    scope,
    redirect_uri: redirect,
    state: 'nonce-1',
    'grant_options[]': '',
  }).toString();
  const response = await fetch(url, { redirect: 'manual' });
  return {
    status: response.status,
    location: response.headers.get('location'),
    text: response.status === 302 ? '' : await response.text(),
  };
}

/** Installs `app` and trades the code for an expiring pair. */
async function installExpiring(app: ShopCredentials, scope: string) {
  const back = new URL((await install(app, scope)).location!);
  return (
    await tokenRequest({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      code: back.searchParams.get('code')!,
      expiring: '1',
    })
  ).body;
}

const refreshWith = (app: ShopCredentials, token: string, secret = app.clientSecret) =>
  tokenRequest({ grant_type: 'refresh_token', client_id: app.clientId, client_secret: secret, refresh_token: token });

describe('client credentials grant', () => {
  test('form or JSON body: a working token for a day, with the app scopes; a wrong secret is invalid_client', async () => {
    expect(creds.clientId).toMatch(/^[0-9a-f]{32}$/);
    expect(creds.clientSecret).toMatch(/^shpss_/);
    for (const as of ['form', 'json'] as const) {
      const answer = await tokenRequest(
        { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret },
        as,
      );
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ expires_in: 86_399, scope: expect.stringContaining('read_orders') });
      expect((await rawGraphQL(sim.url, answer.body['access_token'], { query: '{ shop { name } }' })).status).toBe(200);
    }
    expect(
      await tokenRequest({ grant_type: 'client_credentials', client_id: creds.clientId, client_secret: 'shpss_wrong' }),
    ).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await tokenRequest({ grant_type: 'client_credentials', client_id: creds.clientId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    expect(
      await tokenRequest({ grant_type: 'password', client_id: creds.clientId, client_secret: creds.clientSecret }),
    ).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect(
      await tokenRequest({
        grant_type: 'client_credentials',
        client_id: 'f'.repeat(32),
        client_secret: creds.clientSecret,
      }),
    ).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    // The legacy static token keeps working beside them.
    expect(await statusOf(creds.accessToken)).toBe(200);
  });

  test('an expired token is answered 401 like an unknown one', async () => {
    const app = sim.addApp(creds.shop, { name: 'short-lived' });
    sim.setTokenLifetimes(creds.shop, { clientCredentialsSeconds: 1 });
    try {
      const { body } = await tokenRequest({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect(body['expires_in']).toBe(1);
      expect((await rawGraphQL(sim.url, body['access_token'], { query: '{ shop { name } }' })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_100));
      const expired = await rawGraphQL(sim.url, body['access_token'], { query: '{ shop { name } }' });
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual({
        errors: '[API] Invalid API key or access token (unrecognized login or wrong password)',
      });
      expect(sim.stats(creds.shop).expiredTokenCalls).toBeGreaterThan(0);
    } finally {
      sim.setTokenLifetimes(creds.shop, { clientCredentialsSeconds: 86_399 });
    }
  });

  test('a token keeps the scopes it was issued with; rotating the secret or uninstalling ends every token', async () => {
    const app = sim.addApp(creds.shop, { name: 'scoped', scopes: ['read_orders', 'read_products'] });
    const first = (
      await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret })
    ).body['access_token'] as string;
    sim.setAppScopes(creds.shop, 'scoped', ['read_orders']);
    const second = (
      await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret })
    ).body['access_token'] as string;
    expect(await scopesOf(first)).toEqual(['read_orders', 'read_products']);
    expect(await scopesOf(second)).toEqual(['read_orders']);
    const revokedBefore = sim.stats(creds.shop).revokedTokenCalls;
    const secret = sim.rotateSecret(creds.shop, 'scoped');
    expect((await rawGraphQL(sim.url, second, scopesQuery)).status).toBe(401);
    expect(sim.stats(creds.shop).revokedTokenCalls).toBe(revokedBefore + 1);
    expect(
      (
        await tokenRequest({
          grant_type: 'client_credentials',
          client_id: app.clientId,
          client_secret: app.clientSecret,
        })
      ).status,
    ).toBe(401);
    const third = (
      await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret })
    ).body['access_token'] as string;
    expect((await rawGraphQL(sim.url, third, scopesQuery)).status).toBe(200);
    sim.uninstallApp(creds.shop, 'scoped');
    expect((await rawGraphQL(sim.url, third, scopesQuery)).status).toBe(401);
    expect(
      await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    sim.reinstallApp(creds.shop, 'scoped');
    expect(
      (await tokenRequest({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret })).status,
    ).toBe(200);
  });

  test('token endpoint faults answer 503, for the next N requests or by share; each request is counted by grant and outcome', async () => {
    const own = sim.createShop({ seed: 44, products: 1, stores: 1 });
    expect((await control('PUT', `/shops/${own.shop}/faults`, { tokenEndpointFailNext: 1.5 })).status).toBe(400);
    expect((await control('PUT', `/shops/${own.shop}/faults`, { tokenEndpointFailNext: 2 })).body).toMatchObject({
      tokenEndpointFailNext: 2,
      tokenEndpointErrorRate: 0,
    });
    const params = { grant_type: 'client_credentials', client_id: own.clientId, client_secret: own.clientSecret };
    expect(await tokenRequest(params)).toEqual({ status: 503, body: { errors: 'Service Unavailable' } });
    expect((await tokenRequest(params)).status).toBe(503);
    expect((await tokenRequest(params)).status).toBe(200);
    sim.setFaults(own.shop, { tokenEndpointErrorRate: 1 });
    expect((await tokenRequest(params)).status).toBe(503);
    sim.setFaults(own.shop, { tokenEndpointErrorRate: 0 });
    expect((await tokenRequest({ ...params, client_secret: 'shpss_wrong' })).status).toBe(401);
    const stats = sim.stats(own.shop);
    expect(stats.tokenRequests).toEqual({
      client_credentials: { issued: 1, refused: 1, unavailable: 3 },
      authorization_code: { issued: 0, refused: 0, unavailable: 0 },
      refresh_token: { issued: 0, refused: 0, unavailable: 0 },
    });
    expect(stats.faultsInjected).toBe(3);
  });

  test('token lifetimes: set through the control API (whole seconds > 0), answered in force; live tokens listed with their expiry', async () => {
    const own = sim.createShop({ seed: 45, products: 1, stores: 1 });
    expect(await control('PUT', `/shops/${own.shop}/token-lifetimes`, { clientCredentialsSeconds: 0 })).toMatchObject({
      status: 400,
    });
    expect(await control('PUT', `/shops/${own.shop}/token-lifetimes`, { clientCredentialsSeconds: 1.5 })).toMatchObject(
      { status: 400 },
    );
    expect(await control('PUT', `/shops/${own.shop}/token-lifetimes`, { accessSeconds: 60 })).toMatchObject({
      status: 400,
    });
    expect(await control('PUT', `/shops/${own.shop}/token-lifetimes`, { clientCredentialsSeconds: 120 })).toEqual({
      status: 200,
      body: {
        clientCredentialsSeconds: 120,
        expiringOfflineSeconds: 3600,
        refreshTokenSeconds: 7_776_000,
        refreshRetrySeconds: 2_592_000,
      },
    });
    const before = Date.now();
    const { body } = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: own.clientId,
      client_secret: own.clientSecret,
    });
    expect(body['expires_in']).toBe(120);
    const [live, ...others] = sim.liveTokens(own.shop, 'Switchyard');
    expect(others).toEqual([]);
    expect(live).toMatchObject({ grant: 'client_credentials', scopes: [...DEFAULT_SCOPES].sort() });
    expect(live!.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(live!.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    sim.rotateSecret(own.shop, 'Switchyard');
    expect(sim.liveTokens(own.shop, 'Switchyard')).toEqual([]);
    await expect(startSimulator({ tokenLifetimes: { clientCredentialsSeconds: -1 } })).rejects.toThrow(
      'whole number of seconds',
    );
  });
});

describe('install (authorization code grant) and refresh', () => {
  test('the install page redirects with a code signed by the app secret; the code is good once; expiring=1 gives a refresh token', async () => {
    const app = sim.addApp(creds.shop, {
      name: 'public',
      installed: false,
      redirectUrls: ['https://oms.example/shopify/callback'],
    });
    // Not installed yet: the token endpoint and the legacy token are refused.
    expect(
      await tokenRequest({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await statusOf(app.accessToken)).toBe(401);
    const refused = await install(app, 'read_orders', 'https://evil.example/cb');
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('redirect_uri is not allowed');
    expect((await install(app, 'read_orders,READ-ALL')).status).toBe(400);
    expect((await install({ ...app, clientId: '0'.repeat(32) }, 'read_orders')).status).toBe(400);
    expect(
      (await control('GET', `/shops/${creds.shop}/apps`)).body['apps'].find(
        (a: { name: string }) => a.name === 'public',
      ),
    ).toEqual({
      name: 'public',
      clientId: app.clientId,
      installed: false,
      scopes: [...DEFAULT_SCOPES].sort(),
      redirectUrls: ['https://oms.example/shopify/callback'],
    });
    const { status, location } = await install(app, 'read_orders,write_inventory');
    expect(status).toBe(302);
    const back = new URL(location!);
    expect(back.origin + back.pathname).toBe('https://oms.example/shopify/callback');
    const params = Object.fromEntries(back.searchParams);
    expect(Object.keys(params).sort()).toEqual(['code', 'hmac', 'host', 'shop', 'state', 'timestamp']);
    expect(params).toMatchObject({
      shop: creds.shop,
      state: 'nonce-1',
      host: Buffer.from(`${creds.shop}/admin`).toString('base64url'),
    });
    expect(Math.abs(Number(params['timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    const message = Object.keys(params)
      .filter((k) => k !== 'hmac')
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
    expect(params['hmac']).toBe(createHmac('sha256', app.clientSecret).update(message).digest('hex'));
    const exchange = await tokenRequest({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      code: params['code']!,
      expiring: '1',
    });
    expect(exchange).toMatchObject({
      status: 200,
      body: { expires_in: 3600, refresh_token_expires_in: 7_776_000, scope: 'read_orders,write_inventory' },
    });
    expect(exchange.body['refresh_token']).toMatch(/^shprt_/);
    expect(await scopesOf(exchange.body['access_token'])).toEqual(['read_orders', 'write_inventory']);
    expect(
      await tokenRequest({
        client_id: app.clientId,
        client_secret: app.clientSecret,
        code: params['code']!,
        expiring: '1',
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Without expiring=1: a token that does not expire, and no refresh token.
    const again = new URL((await install(app, 'read_orders')).location!);
    const plain = await tokenRequest({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      code: again.searchParams.get('code')!,
    });
    expect(plain.body['refresh_token']).toBeUndefined();
    expect(plain.body['expires_in']).toBeUndefined();
    // Installed: the legacy token works too. The redirect URLs can be changed afterwards.
    expect(await statusOf(app.accessToken)).toBe(200);
    expect(
      await control('PUT', `/shops/${creds.shop}/apps/public/redirect-urls`, { redirectUrls: ['not a url'] }),
    ).toMatchObject({ status: 400 });
    expect(
      await control('PUT', `/shops/${creds.shop}/apps/public/redirect-urls`, {
        redirectUrls: ['https://new.example/cb'],
      }),
    ).toEqual({ status: 200, body: { name: 'public', redirectUrls: ['https://new.example/cb'] } });
    expect((await install(app, 'read_orders')).status).toBe(400);
    expect((await install(app, 'read_orders', 'https://new.example/cb')).status).toBe(302);
  });

  test('refresh rotation: the used refresh token may be retried until its replacement is used, then it is refused', async () => {
    const app = sim.addApp(creds.shop, { name: 'rotating', installed: false });
    const back = new URL((await install(app, 'read_orders')).location!);
    const r0 = (
      await tokenRequest({
        client_id: app.clientId,
        client_secret: app.clientSecret,
        code: back.searchParams.get('code')!,
        expiring: '1',
      })
    ).body['refresh_token'] as string;
    const refresh = (token: string) =>
      tokenRequest({
        grant_type: 'refresh_token',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        refresh_token: token,
      });
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
      expect(
        (await rawGraphQL(sim.url, (await refresh(pair['refresh_token'])).body['access_token'], scopesQuery)).status,
      ).toBe(200);
    } finally {
      sim.setTokenLifetimes(creds.shop, { expiringOfflineSeconds: 3600 });
    }
  });

  test('a retry of a used refresh token: the replacement kept goes on, the others issued for it are refused; retries end after refreshRetrySeconds', async () => {
    const app = sim.addApp(creds.shop, { name: 'retrying', installed: false });
    const r0 = (await installExpiring(app, 'read_orders'))['refresh_token'] as string;
    const kept = (await refreshWith(app, r0)).body['refresh_token'] as string;
    const lost = (await refreshWith(app, r0)).body['refresh_token'] as string;
    // The app kept the first answer and uses it: the token it replaced and the other answer are retired.
    const next = await refreshWith(app, kept);
    expect(next.status).toBe(200);
    expect(await refreshWith(app, lost)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await refreshWith(app, r0)).status).toBe(400);
    // Two generations back from the newest pair: refused.
    const newest = (await refreshWith(app, next.body['refresh_token'])).body['refresh_token'] as string;
    expect((await refreshWith(app, kept)).status).toBe(400);
    // A used refresh token may be retried only for a while after its first use, even if its replacement is unused.
    sim.setTokenLifetimes(creds.shop, { refreshRetrySeconds: 1 });
    try {
      expect((await refreshWith(app, newest)).status).toBe(200);
      expect((await refreshWith(app, newest)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await refreshWith(app, newest)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    } finally {
      sim.setTokenLifetimes(creds.shop, { refreshRetrySeconds: 2_592_000 });
    }
  });

  test('a refresh token expires after refreshTokenSeconds', async () => {
    const app = sim.addApp(creds.shop, { name: 'expiring-refresh', installed: false });
    sim.setTokenLifetimes(creds.shop, { refreshTokenSeconds: 1 });
    try {
      const pair = await installExpiring(app, 'read_orders');
      expect(pair['refresh_token_expires_in']).toBe(1);
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await refreshWith(app, pair['refresh_token'])).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant' },
      });
    } finally {
      sim.setTokenLifetimes(creds.shop, { refreshTokenSeconds: 7_776_000 });
    }
  });

  test('a refresh issues the scopes granted now; the token issued before keeps its own', async () => {
    const app = sim.addApp(creds.shop, { name: 'rescoped', installed: false });
    const pair = await installExpiring(app, 'read_orders,read_products');
    sim.setAppScopes(creds.shop, 'rescoped', ['read_orders']);
    const refreshed = await refreshWith(app, pair['refresh_token']);
    expect(refreshed.body['scope']).toBe('read_orders');
    expect(await scopesOf(refreshed.body['access_token'])).toEqual(['read_orders']);
    expect(await scopesOf(pair['access_token'])).toEqual(['read_orders', 'read_products']);
    const denied = await rawGraphQL(sim.url, refreshed.body['access_token'], {
      query: '{ products(first: 1) { nodes { id } } }',
    });
    expect(denied.body['errors'][0].extensions.code).toBe('ACCESS_DENIED');
    expect(
      (await rawGraphQL(sim.url, pair['access_token'], { query: '{ products(first: 1) { nodes { id } } }' })).body[
        'errors'
      ],
    ).toBeUndefined();
  });

  test('rotating the secret (control API) ends access tokens, refresh tokens and unused codes; uninstalling by client ID ends the new ones', async () => {
    const app = sim.addApp(creds.shop, { name: 'revoked', installed: false });
    const pair = await installExpiring(app, 'read_orders');
    const pendingCode = new URL((await install(app, 'read_orders')).location!).searchParams.get('code')!;
    const rotated = await control('POST', `/shops/${creds.shop}/apps/revoked/rotate-secret`);
    expect(rotated).toMatchObject({
      status: 200,
      body: { name: 'revoked', clientSecret: expect.stringMatching(/^shpss_/) },
    });
    const secret = rotated.body['clientSecret'] as string;
    expect(secret).not.toBe(app.clientSecret);
    expect(await statusOf(pair['access_token'])).toBe(401);
    expect(await refreshWith(app, pair['refresh_token'])).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(await refreshWith(app, pair['refresh_token'], secret)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(
      await tokenRequest({ client_id: app.clientId, client_secret: secret, code: pendingCode, expiring: '1' }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Installed again with the new secret, then uninstalled by client ID: its tokens end and refreshes are refused.
    const renewed = await installExpiring({ ...app, clientSecret: secret }, 'read_orders');
    expect(await statusOf(renewed['access_token'])).toBe(200);
    expect((await control('DELETE', `/shops/${creds.shop}/apps/${app.clientId}`)).body).toEqual({ uninstalled: true });
    expect(await statusOf(renewed['access_token'])).toBe(401);
    expect(await statusOf(app.accessToken)).toBe(401);
    expect(await refreshWith(app, renewed['refresh_token'], secret)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(sim.liveTokens(creds.shop, 'revoked')).toEqual([]);
    // An install through the install page brings it back, with new tokens only.
    const back = await installExpiring({ ...app, clientSecret: secret }, 'read_orders');
    expect(await statusOf(back['access_token'])).toBe(200);
    expect(await statusOf(renewed['access_token'])).toBe(401);
    expect(await refreshWith(app, renewed['refresh_token'], secret)).toMatchObject({ status: 400 });
  });
});
