import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../test/support/backend.js';
import type { Database } from '../platform/db/client.js';
import { isAppError } from '../platform/errors.js';
import { makeLogger } from '../platform/logger.js';
import { renewalBackoffMs, storedAccessTokens, storeInstalledTokens, type AccessTokens } from './access-tokens.js';
import { shopifyCredentials } from './credentials.schema.js';
import { makeSecretBox } from './secret-box.js';
import { TokenEndpointError, type IssuedToken, type TokenEndpoint, type TokenGrant } from './token-endpoint.js';

const SHOP = 'tokens-test.myshopify.com';
const box = makeSecretBox(Buffer.alloc(32, 7));
const logger = makeLogger({ level: 'silent' });

let testDb: TestDatabase;
let first: Database;
/** A second connection, as a second process has (PostgreSQL); the embedded database has one. */
let second: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  first = await testDb.open();
  second = backend === 'postgres' ? await testDb.open({ migrate: false }) : first;
});
afterAll(() => testDb.drop());

let clock = Date.parse('2026-12-07T10:00:00Z');
const now = () => clock;

beforeEach(async () => {
  await first.db.delete(shopifyCredentials);
});

/**
 * Shopify's token endpoint, strict about refresh tokens: each refresh retires the token it used, and a
 * retired token sent again locks the installation out (every token of the app refused from then on).
 * A call takes `delayMs`, long enough for two renewals to overlap.
 */
function fakeEndpoint(options: { lifetimeSeconds: number; delayMs?: number }) {
  let sequence = 0;
  let liveRefresh: string | undefined = 'refresh-0';
  let lockedOut = false;
  const calls: string[] = [];
  let failWith: TokenEndpointError | undefined;
  const endpoint: TokenEndpoint = {
    url: 'fake',
    async request(grant: TokenGrant): Promise<IssuedToken> {
      calls.push(grant.grant);
      await new Promise((r) => setTimeout(r, options.delayMs ?? 0));
      if (failWith) throw failWith;
      sequence += 1;
      if (grant.grant === 'refresh_token') {
        if (lockedOut || grant.refreshToken !== liveRefresh) {
          lockedOut = true;
          throw new TokenEndpointError('invalid_grant', 'refresh token already used: installation locked out', 400);
        }
        liveRefresh = `refresh-${sequence}`;
        return {
          accessToken: `access-${sequence}`,
          scope: 'read_orders',
          expiresInSeconds: options.lifetimeSeconds,
          refreshToken: liveRefresh,
          refreshExpiresInSeconds: 7_776_000,
        };
      }
      return {
        accessToken: `access-${sequence}`,
        scope: 'read_orders',
        expiresInSeconds: options.lifetimeSeconds,
        refreshToken: undefined,
        refreshExpiresInSeconds: undefined,
      };
    },
  };
  return {
    endpoint,
    calls,
    get lockedOut() {
      return lockedOut;
    },
    fail(error: TokenEndpointError | undefined) {
      failWith = error;
    },
  };
}

function source(
  db: Database,
  endpoint: TokenEndpoint,
  grant: 'client_credentials' | 'authorization_code',
  extra: { onRecovered?: () => void } = {},
): AccessTokens {
  return storedAccessTokens({
    db: db.db,
    shop: SHOP,
    grant,
    endpoint,
    box,
    logger,
    now,
    installUrl: 'http://oms.test/shopify/install?shop=x',
    waitForOthersMs: 10_000,
    ...extra,
  });
}

async function reason(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (isAppError(error)) return `${error.code}:${String(error.details['reason'])}`;
    throw error;
  }
}

describe(`access tokens (${backend})`, () => {
  test('client credentials: obtained once, shared through the database sealed, renewed ahead of expiry', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 60 });
    const a = source(first, shopify.endpoint, 'client_credentials');
    const b = source(second, shopify.endpoint, 'client_credentials');
    expect(await a.current()).toBe('access-1');
    expect(await a.current()).toBe('access-1');
    // The other process reads it instead of asking Shopify.
    expect(await b.current()).toBe('access-1');
    expect(shopify.calls).toEqual(['client_credentials']);
    const [row] = await first.db.select().from(shopifyCredentials).where(eq(shopifyCredentials.shop, SHOP));
    expect(row!.accessToken).not.toContain('access-1');
    // A quarter of the lifetime ahead (15 s of 60): renewed before Shopify would refuse it.
    clock += 44_000;
    expect(await a.current()).toBe('access-1');
    clock += 2_000;
    expect(await a.current()).toBe('access-2');
    expect(await b.current()).toBe('access-2');
    expect(shopify.calls).toHaveLength(2);
    expect((await a.status()).status).toBe('connected');
  });

  test('two processes renewing at the same moment under refresh-token rotation: one refresh, the other reads it; never locked out', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 3600, delayMs: 150 });
    await storeInstalledTokens(
      first.db,
      box,
      SHOP,
      {
        accessToken: 'access-0',
        scope: 'read_orders',
        expiresInSeconds: 3600,
        refreshToken: 'refresh-0',
        refreshExpiresInSeconds: 7_776_000,
      },
      clock,
    );
    const a = source(first, shopify.endpoint, 'authorization_code');
    const b = source(second, shopify.endpoint, 'authorization_code');
    expect(await a.current()).toBe('access-0');
    expect(await b.current()).toBe('access-0');
    for (let round = 0; round < 3; round += 1) {
      // Both see the token refused by Shopify at once (a barrier: both calls start together).
      const before = shopify.calls.length;
      const token = await a.current();
      const [fromA, fromB] = await Promise.all([a.refused(token), b.refused(token)]);
      expect(fromA).toBe(fromB);
      expect(fromA).not.toBe(token);
      expect(shopify.calls.length - before).toBe(1);
      // And both renewing ahead of expiry at the same moment.
      clock += 3_400_000;
      const ahead = shopify.calls.length;
      await Promise.all([a.current(), b.current()]);
      expect(shopify.calls.length - ahead).toBe(1);
      // One renewed; the other used the old token, still good, meanwhile, and has the new one now.
      expect(await b.current()).toBe(await a.current());
      expect(shopify.calls.length - ahead).toBe(1);
      expect(shopify.lockedOut).toBe(false);
    }
    expect((await a.status()).renewals).toBe(1 + 6);
  });

  test('a renewal refused while the app was being installed again does not cover the new install', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 3600, delayMs: 200 });
    await storeInstalledTokens(
      first.db,
      box,
      SHOP,
      {
        accessToken: 'access-0',
        scope: 'read_orders',
        expiresInSeconds: 3600,
        refreshToken: 'refresh-old',
        refreshExpiresInSeconds: 7_776_000,
      },
      clock,
    );
    const a = source(first, shopify.endpoint, 'authorization_code');
    expect(await a.current()).toBe('access-0');
    // Shopify refuses the old refresh token (the app was uninstalled)...
    shopify.fail(new TokenEndpointError('invalid_grant', 'refused: install it again', 400));
    const renewing = a.refused('access-0');
    // ...while the merchant installs it again and the callback stores new tokens.
    await new Promise((r) => setTimeout(r, 50));
    await storeInstalledTokens(
      first.db,
      box,
      SHOP,
      {
        accessToken: 'access-new',
        scope: 'read_orders',
        expiresInSeconds: 3600,
        refreshToken: 'refresh-new',
        refreshExpiresInSeconds: 7_776_000,
      },
      clock,
    );
    expect(await renewing).toBe('access-new');
    expect(await a.status()).toMatchObject({ status: 'connected', failure: null, nextAttemptAt: null });
  });

  test('a claim left by a process that died mid-renewal runs out, and another process renews', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 60 });
    const a = source(first, shopify.endpoint, 'client_credentials');
    await a.current();
    clock += 50_000;
    await first.db
      .update(shopifyCredentials)
      .set({ renewingBy: 'gone-host:1:1', renewingUntil: new Date(clock + 5_000) });
    const b = source(second, shopify.endpoint, 'client_credentials');
    // The dead process's claim still holds for 5 s: the token, still good for 10 s, serves meanwhile.
    expect(await b.current()).toBe('access-1');
    expect(shopify.calls).toHaveLength(1);
    clock += 6_000;
    expect(await b.current()).toBe('access-2');
    // Refused by Shopify while a dead claim holds: the other waits for the claim to run out.
    await first.db
      .update(shopifyCredentials)
      .set({ renewingBy: 'gone-host:1:1', renewingUntil: new Date(clock + 5_000) });
    const started = performance.now();
    const waited = b.refused('access-2');
    setTimeout(() => {
      clock += 6_000;
    }, 300);
    expect(await waited).toBe('access-3');
    expect(performance.now() - started).toBeGreaterThan(250);
  });

  test('a refused secret: calls wait with the reason under back-off, the endpoint is not hammered, and all resumes by itself', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 60 });
    let recovered = 0;
    const a = source(first, shopify.endpoint, 'client_credentials', { onRecovered: () => (recovered += 1) });
    shopify.fail(new TokenEndpointError('invalid_client', "Shopify refused the app's client ID or secret", 401));
    expect(await reason(a.current())).toBe('shopify.credentials_unavailable:invalid_client');
    expect(await reason(a.current())).toBe('shopify.credentials_unavailable:invalid_client');
    expect(shopify.calls).toHaveLength(1);
    const status = await a.status();
    expect(status.status).toBe('waiting');
    expect(status.failure).toMatchObject({ code: 'invalid_client', attempts: 1 });
    expect(Date.parse(status.nextAttemptAt!)).toBe(clock + renewalBackoffMs(1));
    // Still refused at the next attempt: the back-off grows.
    clock += renewalBackoffMs(1) + 1;
    expect(await reason(a.current())).toBe('shopify.credentials_unavailable:invalid_client');
    expect((await a.status()).failure).toMatchObject({ attempts: 2 });
    // The merchant fixes the secret; the next attempt after the back-off gets a token.
    shopify.fail(undefined);
    clock += renewalBackoffMs(2) + 1;
    expect(await a.current()).toBe('access-1');
    expect(recovered).toBe(1);
    expect(await a.status()).toMatchObject({ status: 'connected', failure: null, nextAttemptAt: null });
  });

  test('the token endpoint down (5xx): waiting, then renewed; a token that still works is used meanwhile', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 60 });
    const a = source(first, shopify.endpoint, 'client_credentials');
    expect(await a.current()).toBe('access-1');
    shopify.fail(new TokenEndpointError('unavailable', "Shopify's token endpoint failed (HTTP 503).", 503));
    clock += 50_000;
    // Renewing ahead failed, but the token has 10 s left.
    expect(await a.current()).toBe('access-1');
    expect((await a.status()).status).toBe('waiting');
    clock += 9_000;
    expect(await reason(a.current())).toBe('shopify.credentials_unavailable:unavailable');
    shopify.fail(undefined);
    clock += renewalBackoffMs(2);
    expect(await a.current()).toBe('access-2');
  });

  test('authorization code grant before any install: waiting for the install, naming the link, without asking Shopify', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 3600 });
    const a = source(first, shopify.endpoint, 'authorization_code');
    let message = '';
    try {
      await a.current();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('not installed');
    expect(message).toContain('http://oms.test/shopify/install');
    expect(shopify.calls).toHaveLength(0);
    expect((await a.status()).status).toBe('not_installed');
    // The install stores tokens: every process picks them up.
    await storeInstalledTokens(
      first.db,
      box,
      SHOP,
      {
        accessToken: 'access-0',
        scope: 'read_orders',
        expiresInSeconds: 3600,
        refreshToken: 'refresh-0',
        refreshExpiresInSeconds: 7_776_000,
      },
      clock,
    );
    expect(await a.current()).toBe('access-0');
    expect((await a.status()).status).toBe('connected');
  });

  test('tokens sealed under another key are not used: client credentials obtains a new one, an install asks to be redone', async () => {
    const shopify = fakeEndpoint({ lifetimeSeconds: 60 });
    const otherBox = makeSecretBox(Buffer.alloc(32, 9));
    await storeInstalledTokens(
      first.db,
      otherBox,
      SHOP,
      {
        accessToken: 'old',
        scope: '',
        expiresInSeconds: 3600,
        refreshToken: 'refresh-0',
        refreshExpiresInSeconds: 100,
      },
      clock,
    );
    const installed = source(first, shopify.endpoint, 'authorization_code');
    let message = '';
    await installed.current().catch((error: Error) => (message = error.message));
    expect(message).toContain('SWITCHYARD_ENCRYPTION_KEY');
    expect(shopify.calls).toHaveLength(0);
    await first.db.delete(shopifyCredentials);
    const own = source(first, shopify.endpoint, 'client_credentials');
    await first.db.insert(shopifyCredentials).values({
      shop: SHOP,
      grant: 'client_credentials',
      accessToken: otherBox.seal('old', `${SHOP}/access_token`),
      accessExpiresAt: new Date(clock + 3_600_000),
      generation: 1,
    });
    expect(await own.current()).toBe('access-1');
  });
});
