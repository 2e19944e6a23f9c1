// The simulated Shopify over real HTTP: the Admin GraphQL endpoint per shop and app, and a clearly
// separate control API under /_sim for tests, demos and rehearsals.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import { loadAdminSchema } from './admin-schema.js';
import { CostBucket, DEFAULT_BUCKET_FACTOR, PLANS, type PlanName } from './bucket.js';
import { executeAdminRequest, type GraphQLBody } from './executor.js';
import { generateShop, makeRandom, type Random } from './seed.js';
import { gid, onHand, parseGid, type MutationResult, type SimShop } from './state.js';
import type { SimApp } from './views.js';
import {
  cancelOrder,
  editOrder,
  placeOrder,
  posSale,
  refund,
  type PlaceOrderInput,
  type PosSaleInput,
  type RestockType,
  type SimRefund,
} from './orders.js';
import { adminInventoryEdit, createProduct, editProduct } from './scenario.js';
import { makeBulkRunner, type BulkFiles, type BulkRunner } from './bulk.js';
import { scopedFieldResolver, typeResolver } from './executor.js';
import { isScopeHandle, scopeRulesOf } from './scopes.js';
import type { StagedTarget } from './views.js';
import { startWebhookDispatcher, type WebhookDispatcher, type WebhookFaults, NO_WEBHOOK_FAULTS } from './webhooks.js';
import {
  makeOAuth,
  SHOPIFY_TOKEN_LIFETIMES,
  type LiveToken,
  type OAuthApp,
  type TokenGrantName,
  type TokenLifetimes,
  type TokenStats,
} from './oauth.js';

/** The version of the pinned Admin schema, and of webhook bodies. */
export const SIMULATED_API_VERSION = '2026-07';

/**
 * The stable versions Shopify supports in December 2026 (each for at least 12 months after its
 * release). The simulator answers every one of them with the pinned 2026-07 schema and rules.
 */
export const SUPPORTED_API_VERSIONS = ['2026-01', '2026-04', '2026-07', '2026-10'] as const;

/**
 * The version that answers a request made to `requested`: a supported version answers itself; an
 * older stable version is no longer supported, and Shopify falls it forward to the oldest supported
 * one; anything else (a malformed name, a month Shopify never releases, a version not released yet)
 * has no endpoint (null).
 */
export function servedApiVersion(requested: string): string | null {
  if (!/^\d{4}-(01|04|07|10)$/.test(requested)) return null;
  if ((SUPPORTED_API_VERSIONS as readonly string[]).includes(requested)) return requested;
  const oldest = SUPPORTED_API_VERSIONS[0];
  return requested < oldest ? oldest : null;
}

export interface ApiFaults {
  /** Share of GraphQL calls answered with HTTP 5xx (502/503/500) before doing anything. */
  errorRate: number;
  /** Share of GraphQL calls that hang for `timeoutMs` and then drop the connection. */
  timeoutRate: number;
  timeoutMs: number;
  /** Share of GraphQL calls answered THROTTLED whatever the bucket holds. */
  throttleRate: number;
  /** Share of mutations that are applied but whose answer is lost (the connection drops instead). */
  lostResponseRate: number;
  /** Milliseconds between applying a mutation and answering it (a window for crashes to fall in). */
  mutationAnswerDelayMs: number;
  /** Share of mutations answered with HTTP 503 without being applied (queries are answered). */
  mutationErrorRate: number;
  /** Share of token endpoint requests answered HTTP 503. */
  tokenEndpointErrorRate: number;
  /** The next this many token endpoint requests are answered HTTP 503. */
  tokenEndpointFailNext: number;
}

export const NO_FAULTS: ApiFaults = {
  errorRate: 0,
  timeoutRate: 0,
  timeoutMs: 10_000,
  throttleRate: 0,
  lostResponseRate: 0,
  mutationAnswerDelayMs: 0,
  mutationErrorRate: 0,
  tokenEndpointErrorRate: 0,
  tokenEndpointFailNext: 0,
};

interface AppEntry {
  app: SimApp;
  bucket: CostBucket;
}

interface ShopEntry {
  shop: SimShop;
  apps: Map<string, AppEntry>;
  faults: ApiFaults;
  random: Random;
  plan: PlanName;
  stats: {
    calls: number;
    pointsCharged: number;
    throttled: number;
    /** GraphQL and token endpoint faults injected. */
    faultsInjected: number;
    /** Token endpoint requests of this shop's apps by grant: issued, refused, answered 503 by a fault. */
    tokenRequests: Record<TokenGrantName, TokenStats>;
    /** Admin API calls refused (401) for a token past its expiry. */
    expiredTokenCalls: number;
    /** Admin API calls refused (401) for a token ended by a rotated secret or an uninstall. */
    revokedTokenCalls: number;
  };
  lifetimes: TokenLifetimes;
  webhooks: WebhookDispatcher;
  bulk: BulkRunner;
  /** Concurrent bulk operations allowed per type (Shopify: 5 from 2026-01; 1 before). */
  bulkConcurrency: number;
}

export interface CreateShopOptions {
  seed: number;
  products: number;
  stores: number;
  warehouses?: number;
  plan?: PlanName;
  /** Bucket size as a multiple of the restore rate (Shopify's is unpublished; about 20). */
  bucketFactor?: number;
  domain?: string;
  scopes?: string[];
  /** Concurrent bulk operations per type (default 5, as from API 2026-01; set 1 for older behaviour). */
  bulkConcurrency?: number;
}

export interface ShopCredentials {
  shop: string;
  /** The legacy custom app's static token. */
  accessToken: string;
  /** The app's client ID and secret: what a Dev Dashboard app has (the client credentials grant). */
  clientId: string;
  clientSecret: string;
  apiVersion: string;
  plan: PlanName;
}

export interface SimulatorOptions {
  port?: number;
  host?: string;
  schemaCacheDir?: string;
  /** Multiplies webhook retry delays (1 = Shopify's real 4 hours; 0.001 = about 14 s). */
  webhookTimeScale?: number;
  /** Milliseconds a bulk operation spends in CREATED and again in RUNNING. */
  bulkStepMs?: number;
  /** Token lifetimes of new shops (default Shopify's: a day, an hour, 90 days; retries of a used refresh token 30 days). */
  tokenLifetimes?: Partial<TokenLifetimes>;
}

export interface AddAppOptions {
  name: string;
  scopes?: string[];
  plan?: PlanName;
  bucketFactor?: number;
  /** False: an app to be installed through the install link (`/admin/oauth/authorize`); its legacy token works once installed. */
  installed?: boolean;
  /** Redirect URIs an install may name (absolute URLs; empty, the default: any). */
  redirectUrls?: string[];
}

export interface Simulator {
  url: string;
  server: Server;
  createShop(options: CreateShopOptions): ShopCredentials;
  addApp(domain: string, options: AddAppOptions): ShopCredentials;
  /** Sets how long new tokens of a shop last; answers the lifetimes in force. */
  setTokenLifetimes(domain: string, lifetimes: Partial<TokenLifetimes>): TokenLifetimes;
  /** The developer rotates an app's client secret: the old one and every token issued so far stop working. Answers the new secret. */
  rotateSecret(domain: string, appName: string): string;
  /** The merchant uninstalls an app (by name, client ID or legacy token): app/uninstalled, then every token stops working. */
  uninstallApp(domain: string, app: string): void;
  /** Installs an uninstalled app again (as from the Dev Dashboard), with its scopes. */
  reinstallApp(domain: string, appName: string): void;
  /** The access tokens from the token endpoint that still work for an app, oldest first (tests). */
  liveTokens(domain: string, appName: string): LiveToken[];
  /** Replaces the redirect URIs an install of the app may name (empty: any); answers them. */
  setRedirectUrls(domain: string, appName: string, urls: string[]): string[];
  /** Replaces the access scopes granted to an app of a shop (by its name); answers them. */
  setAppScopes(domain: string, appName: string, scopes: string[]): string[];
  shop(domain: string): SimShop;
  setFaults(domain: string, faults: Partial<ApiFaults>): ApiFaults;
  stats(domain: string): ShopEntry['stats'];
  /** Webhook deliveries of a shop: faults, statistics, log, and idle() to wait for quiet. */
  webhooks(domain: string): WebhookDispatcher;
  setWebhookFaults(domain: string, faults: Partial<WebhookFaults>): WebhookFaults;
  /** Changes how many bulk operations of one type may run at once in a shop. */
  setBulkConcurrency(domain: string, limit: number): void;
  /** Moves the simulated clock forward (order ages, visibility windows, timestamps). */
  advanceClock(ms: number): Date;
  now(): Date;
  close(): Promise<void>;
}

/**
 * The scopes of a generated shop's first app: what Switchyard needs (src/shopify/scopes.ts; the
 * simulator may not import it), and write_products for the pre-order mutations.
 */
export const DEFAULT_SCOPES = [
  'read_customers',
  'read_inventory',
  'write_inventory',
  'read_locations',
  'read_merchant_managed_fulfillment_orders',
  'write_merchant_managed_fulfillment_orders',
  'read_orders',
  'write_orders',
  'read_products',
  'write_products',
];

/** Checks token lifetimes from the control API, a test or the simulator's options: whole seconds > 0. */
function validLifetimes(lifetimes: unknown): Partial<TokenLifetimes> {
  if (!lifetimes || typeof lifetimes !== 'object' || Array.isArray(lifetimes))
    throw new SimulatorError(400, `Token lifetimes must be an object such as { "clientCredentialsSeconds": 60 }.`);
  for (const [key, value] of Object.entries(lifetimes)) {
    if (!(key in SHOPIFY_TOKEN_LIFETIMES))
      throw new SimulatorError(
        400,
        `Unknown lifetime "${key}"; known: ${Object.keys(SHOPIFY_TOKEN_LIFETIMES).join(', ')}`,
      );
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
      throw new SimulatorError(400, `${key} must be a whole number of seconds > 0 (got ${JSON.stringify(value)}).`);
  }
  return lifetimes as Partial<TokenLifetimes>;
}

/** Checks redirect URIs: an array of absolute URLs. */
function validRedirectUrls(urls: unknown): string[] {
  if (!Array.isArray(urls) || !urls.every((url) => typeof url === 'string' && URL.canParse(url)))
    throw new SimulatorError(400, `redirectUrls must be an array of absolute URLs (got ${JSON.stringify(urls)}).`);
  return [...new Set(urls as string[])];
}

/** Checks a list of scopes from the control API (or a test): an array of scope handles. */
function validScopes(scopes: unknown, field: string): string[] {
  if (!Array.isArray(scopes) || !scopes.every(isScopeHandle)) {
    throw new SimulatorError(
      400,
      `${field} must be an array of scope handles such as "read_orders" (got ${JSON.stringify(scopes)}).`,
    );
  }
  return [...new Set(scopes)];
}

async function readBody(request: IncomingMessage, limit = 20 * 1024 * 1024): Promise<string> {
  return (await readRawBody(request, limit)).toString('utf8');
}

function readRawBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** A control route: the method, the path after /_sim/shops/{domain}/ (`*` for any one segment), and what it does. */
type ControlRoute<C> = [method: string, pattern: string, handle: (c: C) => void];

interface ShopControl {
  domain: string;
  path: string[];
  input: Record<string, unknown>;
  response: ServerResponse;
}

interface ShopDataControl extends ShopControl {
  shop: SimShop;
  /** 201 with the view of the value, or 422 with Shopify's user errors. */
  answer: (result: MutationResult<unknown>, view: (value: never) => unknown) => void;
}

function findRoute<C>(routes: Array<ControlRoute<C>>, method: string, rest: string[]): ControlRoute<C> | undefined {
  return routes.find(([m, pattern]) => {
    const parts = pattern.split('/');
    return m === method && parts.length === rest.length && parts.every((p, i) => p === '*' || p === rest[i]);
  });
}

/** The order of /_sim/shops/{domain}/orders/{id}/…: its GID or its number. */
const orderIdOf = (path: string[]) => (path[3] ? (parseGid(path[3], 'Order') ?? Number(path[3])) : NaN);

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

// eslint-disable-next-line max-lines-per-function -- the simulator's factory: its GraphQL handler, control routes and shop functions are closures over the shops, tokens and clock
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  if (options.tokenLifetimes !== undefined) validLifetimes(options.tokenLifetimes);
  const schema: GraphQLSchema = loadAdminSchema(SIMULATED_API_VERSION, options.schemaCacheDir);
  const scopeRules = scopeRulesOf(schema);
  const fieldResolver = scopedFieldResolver(scopeRules);
  const shops = new Map<string, ShopEntry>();
  const files: BulkFiles = { results: new Map(), staged: new Map() };
  let baseUrl = '';
  // Every app by its legacy token, installed or not: a call is refused while the app is not installed.
  const byToken = new Map<string, { entry: ShopEntry; appEntry: AppEntry }>();
  let clockOffsetMs = 0;
  const now = () => new Date(Date.now() + clockOffsetMs);

  function entryOf(domain: string): ShopEntry {
    const entry = shops.get(domain);
    if (!entry) throw new SimulatorError(404, `No simulated shop ${domain}.`);
    return entry;
  }

  const byClientId = new Map<string, { entry: ShopEntry; appEntry: AppEntry }>();
  const oauth = makeOAuth((clientId): OAuthApp | undefined => {
    const found = byClientId.get(clientId);
    if (!found) return undefined;
    const { entry, appEntry } = found;
    return {
      app: appEntry.app,
      shop: {
        domain: entry.shop.domain,
        lifetimes: entry.lifetimes,
        faults: entry.faults,
        random: entry.random,
        stats: entry.stats,
      },
    };
  });

  function appNamed(domain: string, name: string): AppEntry {
    const entry = entryOf(domain);
    const found = [...entry.apps.values()].find(
      (a) => a.app.name === name || a.app.clientId === name || a.app.accessToken === name,
    );
    if (!found) throw new SimulatorError(404, `Shop ${domain} has no app "${name}".`);
    return found;
  }

  function addApp(domain: string, appOptions: AddAppOptions): ShopCredentials {
    const entry = entryOf(domain);
    if (typeof appOptions.name !== 'string' || appOptions.name.trim() === '')
      throw new SimulatorError(400, 'An app needs a "name".');
    if ([...entry.apps.values()].some((a) => a.app.name === appOptions.name))
      throw new SimulatorError(409, `Shop ${domain} has an app named "${appOptions.name}" already.`);
    const scopes = appOptions.scopes === undefined ? DEFAULT_SCOPES : validScopes(appOptions.scopes, 'scopes');
    const plan = appOptions.plan ?? entry.plan;
    const restoreRate = PLANS[plan].restoreRate;
    const redirectUrls = appOptions.redirectUrls === undefined ? [] : validRedirectUrls(appOptions.redirectUrls);
    if (appOptions.installed !== undefined && typeof appOptions.installed !== 'boolean')
      throw new SimulatorError(400, 'installed must be true or false.');
    const app: SimApp = {
      name: appOptions.name,
      accessToken: `shpat_${randomBytes(16).toString('hex')}`,
      clientId: randomBytes(16).toString('hex'),
      clientSecret: `shpss_${randomBytes(16).toString('hex')}`,
      redirectUrls,
      installed: appOptions.installed ?? true,
      epoch: 0,
      scopes: new Set(scopes),
    };
    const appEntry: AppEntry = {
      app,
      bucket: new CostBucket(
        restoreRate * (appOptions.bucketFactor ?? DEFAULT_BUCKET_FACTOR),
        restoreRate,
        performance.now(),
      ),
    };
    entry.apps.set(app.accessToken, appEntry);
    byToken.set(app.accessToken, { entry, appEntry });
    byClientId.set(app.clientId, { entry, appEntry });
    return {
      shop: domain,
      accessToken: app.accessToken,
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      apiVersion: SIMULATED_API_VERSION,
      plan,
    };
  }

  /**
   * The merchant uninstalls an app: Shopify sends it app/uninstalled, then its tokens (legacy, issued,
   * refresh) and unused install codes stop working and its webhook subscriptions are gone.
   */
  function uninstallApp(domain: string, which: string): void {
    const entry = entryOf(domain);
    const { app } = appNamed(domain, which);
    if (!app.installed) throw new SimulatorError(404, `The app "${app.name}" is not installed on ${domain}.`);
    const accessToken = app.accessToken;
    // Delivered while the app's secret is still known: the dispatcher signs each delivery as it is made.
    entry.shop.emit({ topic: 'app/uninstalled', resource: 'app', appToken: accessToken });
    app.installed = false;
    app.epoch += 1;
    for (const [id, subscription] of entry.shop.webhookSubscriptions)
      if (subscription.appToken === accessToken) entry.shop.webhookSubscriptions.delete(id);
  }

  function reinstallApp(domain: string, appName: string): void {
    appNamed(domain, appName).app.installed = true;
  }

  function rotateSecret(domain: string, appName: string): string {
    const { app } = appNamed(domain, appName);
    app.clientSecret = `shpss_${randomBytes(16).toString('hex')}`;
    app.epoch += 1;
    return app.clientSecret;
  }

  function setTokenLifetimes(domain: string, lifetimes: Partial<TokenLifetimes>): TokenLifetimes {
    const entry = entryOf(domain);
    entry.lifetimes = { ...entry.lifetimes, ...validLifetimes(lifetimes) };
    return entry.lifetimes;
  }

  function setRedirectUrls(domain: string, appName: string, urls: string[]): string[] {
    const { app } = appNamed(domain, appName);
    app.redirectUrls = validRedirectUrls(urls);
    return app.redirectUrls;
  }

  function setAppScopes(domain: string, appName: string, scopes: string[]): string[] {
    const found = [...entryOf(domain).apps.values()].find((a) => a.app.name === appName);
    if (!found) throw new SimulatorError(404, `Shop ${domain} has no app named "${appName}".`);
    const granted = validScopes(scopes, 'scopes');
    found.app.scopes = new Set(granted);
    return granted.sort();
  }

  function createShop(shopOptions: CreateShopOptions): ShopCredentials {
    if (shopOptions.scopes !== undefined) validScopes(shopOptions.scopes, 'scopes');
    const shop = generateShop({ ...shopOptions, now });
    if (shops.has(shop.domain)) throw new SimulatorError(409, `Shop ${shop.domain} exists already.`);
    const plan = shopOptions.plan ?? 'standard';
    const random = makeRandom(shopOptions.seed ^ 0x5eed);
    const bulk = makeBulkRunner(shop, {
      schema,
      files,
      baseUrl: () => baseUrl,
      concurrency: () => entryOf(shop.domain).bulkConcurrency,
      stepMs: () => options.bulkStepMs ?? 20,
      fieldResolver,
      typeResolver,
    });
    shops.set(shop.domain, {
      bulk,
      bulkConcurrency: shopOptions.bulkConcurrency ?? 5,
      shop,
      apps: new Map(),
      faults: { ...NO_FAULTS },
      random,
      plan,
      stats: {
        calls: 0,
        pointsCharged: 0,
        throttled: 0,
        faultsInjected: 0,
        tokenRequests: {
          client_credentials: { issued: 0, refused: 0, unavailable: 0 },
          authorization_code: { issued: 0, refused: 0, unavailable: 0 },
          refresh_token: { issued: 0, refused: 0, unavailable: 0 },
        },
        expiredTokenCalls: 0,
        revokedTokenCalls: 0,
      },
      lifetimes: { ...SHOPIFY_TOKEN_LIFETIMES, ...options.tokenLifetimes },
      webhooks: startWebhookDispatcher({
        shop,
        apiVersion: SIMULATED_API_VERSION,
        // By the app's identity (its legacy token), installed or not: the last app/uninstalled is signed too.
        secretOf: (token) => shops.get(shop.domain)?.apps.get(token)?.app.clientSecret,
        random: makeRandom(shopOptions.seed ^ 0x40b),
        timeScale: options.webhookTimeScale ?? 1,
      }),
    });
    return addApp(shop.domain, {
      name: 'Switchyard',
      ...(shopOptions.scopes ? { scopes: shopOptions.scopes } : {}),
      ...(shopOptions.bucketFactor ? { bucketFactor: shopOptions.bucketFactor } : {}),
    });
  }

  async function handleGraphQL(
    request: IncomingMessage,
    response: ServerResponse,
    requestedVersion: string,
  ): Promise<void> {
    const version = servedApiVersion(requestedVersion);
    if (version === null) {
      await readBody(request).catch(() => '');
      send(response, 404, {
        errors: `Not Found: ${requestedVersion} is not an Admin API version served here (stable versions ${SUPPORTED_API_VERSIONS.join(', ')}; older ones fall forward to ${SUPPORTED_API_VERSIONS[0]}).`,
      });
      return;
    }
    // Shopify names the version that answered, so a client can tell it was fallen forward.
    const versionHeader = { 'x-shopify-api-version': version };
    const token = request.headers['x-shopify-access-token'];
    let found = typeof token === 'string' ? byToken.get(token) : undefined;
    if (found && !found.appEntry.app.installed) {
      found.entry.stats.revokedTokenCalls += 1;
      found = undefined;
    }
    // A token from the token endpoint: its own scopes, and only until it expires.
    let tokenScopes: Set<string> | undefined;
    if (!found && typeof token === 'string' && !byToken.has(token)) {
      const issued = oauth.lookup(token);
      if (typeof issued === 'object') {
        found = byClientId.get(issued.found.app.clientId);
        tokenScopes = issued.scopes;
      }
    }
    if (!found) {
      await readBody(request).catch(() => '');
      send(
        response,
        401,
        { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' },
        versionHeader,
      );
      return;
    }
    const { entry, appEntry } = found;
    entry.stats.calls += 1;
    const faults = entry.faults;
    if (faults.timeoutRate > 0 && entry.random.chance(faults.timeoutRate)) {
      entry.stats.faultsInjected += 1;
      setTimeout(() => request.socket.destroy(), faults.timeoutMs).unref();
      return;
    }
    if (faults.errorRate > 0 && entry.random.chance(faults.errorRate)) {
      entry.stats.faultsInjected += 1;
      await readBody(request).catch(() => ''); // drain the request so the connection stays usable
      const status = entry.random.pick([500, 502, 503]);
      send(response, status, { errors: 'Internal Server Error' }, versionHeader);
      return;
    }
    let body: GraphQLBody;
    try {
      body = JSON.parse(await readBody(request)) as GraphQLBody;
    } catch {
      send(response, 400, { errors: 'Body must be JSON: { "query": "...", "variables": { ... } }' }, versionHeader);
      return;
    }
    if (
      faults.mutationErrorRate > 0 &&
      /^\s*mutation\b/.test(typeof body.query === 'string' ? body.query : '') &&
      entry.random.chance(faults.mutationErrorRate)
    ) {
      entry.stats.faultsInjected += 1;
      send(response, 503, { errors: 'Service Unavailable' });
      return;
    }
    const nowMs = performance.now();
    if (faults.throttleRate > 0 && entry.random.chance(faults.throttleRate)) {
      entry.stats.faultsInjected += 1;
      appEntry.bucket.drain(nowMs);
    }
    const result = await executeAdminRequest({
      schema,
      shop: entry.shop,
      app: tokenScopes ? { ...appEntry.app, scopes: tokenScopes } : appEntry.app,
      bucket: appEntry.bucket,
      body,
      nowMs,
      services: {
        bulk: entry.bulk,
        scopes: scopeRules,
        stage: (input) => stageTarget(entry.shop, input.filename, input.mimeType),
      },
      fieldResolver,
    });
    entry.stats.pointsCharged += result.charged;
    if (result.throttled) entry.stats.throttled += 1;
    const mutation = /^\s*mutation\b/.test(typeof body.query === 'string' ? body.query : '');
    if (mutation && faults.mutationAnswerDelayMs > 0)
      await new Promise((resolve) => setTimeout(resolve, faults.mutationAnswerDelayMs));
    if (faults.lostResponseRate > 0 && mutation && !result.throttled && entry.random.chance(faults.lostResponseRate)) {
      // Done, but the caller never hears of it: only a look at the shop tells.
      entry.stats.faultsInjected += 1;
      request.socket.destroy();
      return;
    }
    send(response, result.status, result.body, versionHeader);
  }

  async function handleControl(request: IncomingMessage, response: ServerResponse, path: string[]): Promise<void> {
    const method = request.method ?? 'GET';
    let input: Record<string, unknown> = {};
    if (method !== 'GET') {
      try {
        input = JSON.parse((await readBody(request)) || '{}') as Record<string, unknown>;
      } catch {
        throw new SimulatorError(400, 'The body must be JSON.');
      }
    }
    // /_sim/shops
    if (path[0] === 'shops' && path.length === 1 && method === 'POST') {
      send(response, 201, createShop(input as unknown as CreateShopOptions));
      return;
    }
    if (path[0] === 'shops' && path[1]) {
      const domain = path[1];
      const rest = path.slice(2);
      const setUp = findRoute(shopRoutes, method, rest);
      if (setUp) return setUp[2]({ domain, path, input, response });
      // The shop's data: an unknown shop is refused here, before the route is looked for.
      const shop = entryOf(domain).shop;
      const data = findRoute(shopDataRoutes, method, rest);
      if (data) {
        const answer = (result: MutationResult<unknown>, view: (value: never) => unknown) =>
          result.ok
            ? send(response, 201, view(result.value as never))
            : send(response, 422, { userErrors: result.userErrors });
        return data[2]({ domain, path, input, response, shop, answer });
      }
    }
    if (path[0] === 'clock' && path[1] === 'advance' && method === 'POST') {
      send(response, 200, { now: advanceClock(Number(input['ms'] ?? 0)).toISOString() });
      return;
    }
    if (path[0] === 'clock' && method === 'GET') {
      send(response, 200, { now: now().toISOString() });
      return;
    }
    throw new SimulatorError(404, `No control route ${method} /_sim/${path.join('/')}`);
  }

  // /_sim/shops/{domain}/…: the shop's apps, faults and what it has seen.
  const shopRoutes: Array<ControlRoute<ShopControl>> = [
    [
      'POST',
      'apps',
      ({ domain, input, response }) => send(response, 201, addApp(domain, input as unknown as AddAppOptions)),
    ],
    [
      'POST',
      'apps/*/rotate-secret',
      ({ domain, path, response }) =>
        send(response, 200, { name: path[3], clientSecret: rotateSecret(domain, path[3]!) }),
    ],
    [
      'POST',
      'apps/*/install',
      ({ domain, path, response }) => {
        reinstallApp(domain, path[3]!);
        send(response, 200, { name: path[3], installed: true });
      },
    ],
    [
      'PUT',
      'token-lifetimes',
      ({ domain, input, response }) => send(response, 200, setTokenLifetimes(domain, input as Partial<TokenLifetimes>)),
    ],
    [
      'PUT',
      'apps/*/redirect-urls',
      ({ domain, path, input, response }) =>
        send(response, 200, {
          name: path[3],
          redirectUrls: setRedirectUrls(domain, path[3]!, input['redirectUrls'] as string[]),
        }),
    ],
    [
      'DELETE',
      'apps/*',
      ({ domain, path, response }) => {
        uninstallApp(domain, decodeURIComponent(path[3]!));
        send(response, 200, { uninstalled: true });
      },
    ],
    [
      'GET',
      'apps',
      ({ domain, response }) =>
        send(response, 200, {
          apps: [...entryOf(domain).apps.values()].map(({ app }) => ({
            name: app.name,
            clientId: app.clientId,
            installed: app.installed,
            scopes: [...app.scopes].sort(),
            redirectUrls: app.redirectUrls,
          })),
        }),
    ],
    [
      'PUT',
      'apps/*/scopes',
      ({ domain, path, input, response }) =>
        send(response, 200, { name: path[3], scopes: setAppScopes(domain, path[3]!, input['scopes'] as string[]) }),
    ],
    [
      'PUT',
      'faults',
      ({ domain, input, response }) => send(response, 200, setFaults(domain, input as Partial<ApiFaults>)),
    ],
    ['GET', 'state', ({ domain, response }) => send(response, 200, dumpState(entryOf(domain)))],
    [
      'PUT',
      'webhook-faults',
      ({ domain, input, response }) => send(response, 200, setWebhookFaults(domain, input as Partial<WebhookFaults>)),
    ],
    [
      'GET',
      'webhooks',
      ({ domain, response }) => {
        const { stats, log } = entryOf(domain).webhooks;
        send(response, 200, { stats, deliveries: log.map(({ payload: _payload, ...rest }) => rest) });
      },
    ],
  ];

  // /_sim/shops/{domain}/…: what customers, staff and the merchant do in the shop.
  const shopDataRoutes: Array<ControlRoute<ShopDataControl>> = [
    [
      'POST',
      'orders',
      ({ shop, input, answer }) =>
        answer(placeOrder(shop, resolveOrderInput(shop, input)), (o: { id: number }) => ({ id: gid('Order', o.id) })),
    ],
    [
      'POST',
      'pos-sales',
      ({ shop, input, answer }) => {
        // Lines with `ship: true` are shipped to the customer (`shipTo`, default an address in the store's city).
        const { lines } = resolveOrderInput(shop, input);
        const ship = ((input['lines'] as Array<{ ship?: boolean }>) ?? []).map((l) => l.ship === true);
        const shipTo = input['shipTo'] as PosSaleInput['shipTo'] | undefined;
        const shipping = input['shipping'] === 'express' ? 'express' : 'standard';
        answer(
          posSale(shop, {
            locationId: parseGid(String(input['locationId']), 'Location') ?? -1,
            lines: lines.map((l, i) => ({ ...l, ship: ship[i] ?? false })),
            shipping,
            ...(shipTo ? { shipTo } : {}),
          }),
          (o: { id: number }) => ({ id: gid('Order', o.id) }),
        );
      },
    ],
    [
      'POST',
      'orders/*/edit',
      ({ shop, path, input, answer }) => {
        const remove = ((input['remove'] as Array<{ lineItemId: string; quantity: number }>) ?? []).map((r) => ({
          lineItemId: parseGid(r.lineItemId, 'LineItem') ?? -1,
          quantity: r.quantity,
        }));
        const add = resolveOrderInput(shop, { lines: input['add'] ?? [], shipping: 'standard' }, true).lines;
        answer(editOrder(shop, orderIdOf(path), { remove, add }), (o: { id: number }) => ({ id: gid('Order', o.id) }));
      },
    ],
    [
      'POST',
      'orders/*/refunds',
      ({ shop, path, input, answer }) => {
        // `locationId`: where a RETURN puts the units back (a store where the customer brought them).
        const lines = (
          (input['lines'] as Array<{
            lineItemId: string;
            quantity: number;
            restockType: RestockType;
            locationId?: string;
          }>) ?? []
        ).map((l) => ({
          lineItemId: parseGid(l.lineItemId, 'LineItem') ?? -1,
          quantity: l.quantity,
          restockType: l.restockType,
          ...(l.locationId ? { locationId: parseGid(l.locationId, 'Location') ?? -1 } : {}),
        }));
        answer(
          refund(shop, orderIdOf(path), {
            lines,
            ...(typeof input['note'] === 'string' ? { note: input['note'] } : {}),
          }),
          (r: SimRefund) => ({
            id: gid('Refund', r.id),
            lines: r.lines.map((l) => ({
              id: gid('RefundLineItem', l.id),
              lineItemId: gid('LineItem', l.lineItemId),
              quantity: l.quantity,
              restockType: l.restockType,
              locationId: l.locationId === null ? null : gid('Location', l.locationId),
            })),
          }),
        );
      },
    ],
    [
      'POST',
      'orders/*/cancel',
      ({ shop, path, input, answer }) =>
        answer(
          cancelOrder(shop, orderIdOf(path), {
            reason: String(input['reason'] ?? 'CUSTOMER'),
            restock: input['restock'] !== false,
          }),
          (o: { id: number }) => ({ id: gid('Order', o.id) }),
        ),
    ],
    [
      'POST',
      'products',
      ({ shop, input, answer }) =>
        answer(createProduct(shop, input as unknown as Parameters<typeof createProduct>[1]), (p: { id: number }) => ({
          id: gid('Product', p.id),
        })),
    ],
    [
      'PATCH',
      'products/*',
      ({ shop, path, input, answer }) =>
        answer(editProduct(shop, parseGid(path[3], 'Product') ?? Number(path[3]), input), (p: { id: number }) => ({
          id: gid('Product', p.id),
        })),
    ],
    [
      'POST',
      'inventory',
      ({ shop, input, answer }) => {
        const variant = [...shop.variants.values()].find((v) => v.sku === input['sku']);
        answer(
          adminInventoryEdit(shop, {
            itemId: variant?.inventoryItemId ?? parseGid(String(input['inventoryItemId']), 'InventoryItem') ?? -1,
            locationId: parseGid(String(input['locationId']), 'Location') ?? -1,
            delta: Number(input['delta']),
          }),
          (available: number) => ({ available }),
        );
      },
    ],
  ];

  function setFaults(domain: string, faults: Partial<ApiFaults>): ApiFaults {
    const entry = entryOf(domain);
    for (const [key, value] of Object.entries(faults)) {
      if (!(key in NO_FAULTS))
        throw new SimulatorError(400, `Unknown fault "${key}"; known: ${Object.keys(NO_FAULTS).join(', ')}`);
      if (typeof value !== 'number' || value < 0 || (key.endsWith('Rate') && value > 1))
        throw new SimulatorError(400, `Fault ${key} must be a number (rates 0 to 1).`);
      if (key === 'tokenEndpointFailNext' && !Number.isInteger(value))
        throw new SimulatorError(400, 'Fault tokenEndpointFailNext must be a whole number of requests.');
    }
    entry.faults = { ...entry.faults, ...faults };
    return entry.faults;
  }

  function stageTarget(shop: SimShop, filename: string, mimeType: string): StagedTarget {
    const key = `tmp/${shop.domain}/bulk/${randomBytes(8).toString('hex')}/${filename}`;
    return {
      url: `${baseUrl}/_sim/staged-uploads`,
      resourceUrl: null,
      parameters: [
        { name: 'key', value: key },
        { name: 'Content-Type', value: mimeType },
        { name: 'success_action_status', value: '201' },
        { name: 'acl', value: 'private' },
        {
          name: 'policy',
          value: Buffer.from(JSON.stringify({ key, expires: now().getTime() + 86_400_000 })).toString('base64'),
        },
      ],
    };
  }

  /** The staged upload target: multipart/form-data, form parameters first and the file last. */
  async function handleStagedUpload(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readRawBody(request, 100 * 1024 * 1024);
    const form = await new Request('http://simulator/upload', {
      method: 'POST',
      headers: { 'content-type': String(request.headers['content-type'] ?? '') },
      body: raw,
    })
      .formData()
      .catch(() => null);
    const key = form?.get('key');
    const file = form?.get('file');
    if (!form || typeof key !== 'string' || !file || typeof file === 'string') {
      response
        .writeHead(400, { 'content-type': 'application/xml' })
        .end(
          '<Error><Code>InvalidArgument</Code><Message>Expected multipart form data with a key parameter and a file.</Message></Error>',
        );
      return;
    }
    const keys = [...form.keys()];
    if (keys.indexOf('file') !== keys.length - 1) {
      response
        .writeHead(400, { 'content-type': 'application/xml' })
        .end(
          '<Error><Code>InvalidArgument</Code><Message>The file must be the last field of the form.</Message></Error>',
        );
      return;
    }
    files.staged.set(key, Buffer.from(await file.arrayBuffer()));
    response
      .writeHead(201, { 'content-type': 'application/xml' })
      .end(`<PostResponse><Key>${key}</Key></PostResponse>`);
  }

  function handleBulkFile(response: ServerResponse, key: string): void {
    const file = files.results.get(key);
    if (!file) {
      response.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    if (now().getTime() > file.expiresAt) {
      response
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>ExpiredToken</Code><Message>Request has expired</Message></Error>');
      return;
    }
    response
      .writeHead(200, { 'content-type': 'application/jsonl', 'content-length': Buffer.byteLength(file.content) })
      .end(file.content);
  }

  function setWebhookFaults(domain: string, faults: Partial<WebhookFaults>): WebhookFaults {
    const dispatcher = entryOf(domain).webhooks;
    for (const [key, value] of Object.entries(faults)) {
      if (!(key in NO_WEBHOOK_FAULTS))
        throw new SimulatorError(
          400,
          `Unknown webhook fault "${key}"; known: ${Object.keys(NO_WEBHOOK_FAULTS).join(', ')}`,
        );
      if (typeof value !== 'number' || value < 0 || (key.endsWith('Rate') && value > 1))
        throw new SimulatorError(400, `Webhook fault ${key} must be a number (rates 0 to 1).`);
    }
    Object.assign(dispatcher.faults, faults);
    return dispatcher.faults;
  }

  async function handleTokenRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request, 64 * 1024);
    const type = String(request.headers['content-type'] ?? '');
    let params: Record<string, string> = {};
    if (type.includes('application/json')) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed && typeof parsed === 'object')
          params = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
      } catch {
        send(response, 400, { error: 'invalid_request', error_description: 'The body is not valid JSON.' });
        return;
      }
    } else {
      params = Object.fromEntries(new URLSearchParams(raw));
    }
    const answer = oauth.tokenRequest(params);
    send(response, answer.status, answer.body);
  }

  function advanceClock(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) throw new SimulatorError(400, 'The clock only moves forward: give ms ≥ 0.');
    clockOffsetMs += ms;
    return now();
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const segments = url.pathname
      .split('/')
      .filter(Boolean)
      .map((segment) => decodeURIComponent(segment));
    const run = async () => {
      const graphql = /^\/admin\/api\/([^/]+)\/graphql\.json$/.exec(url.pathname);
      if (graphql && request.method === 'POST') return handleGraphQL(request, response, graphql[1]!);
      if (url.pathname === '/admin/oauth/access_token' && request.method === 'POST')
        return handleTokenRequest(request, response);
      if (url.pathname === '/admin/oauth/authorize' && request.method === 'GET') {
        const answer = oauth.authorize(Object.fromEntries(url.searchParams));
        if (answer.location) response.writeHead(302, { location: answer.location }).end();
        else send(response, answer.status, { errors: answer.message });
        return;
      }
      if (segments[0] === '_sim' && segments[1] === 'staged-uploads' && request.method === 'POST')
        return handleStagedUpload(request, response);
      if (segments[0] === '_sim' && segments[1] === 'bulk' && request.method === 'GET')
        return handleBulkFile(response, segments.slice(2).join('/'));
      if (segments[0] === '_sim') return handleControl(request, response, segments.slice(1));
      send(response, 404, { errors: 'Not Found' });
    };
    run().catch((error: unknown) => {
      if (response.headersSent) return;
      if (error instanceof SimulatorError) send(response, error.status, { error: error.message });
      else send(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  baseUrl = `http://${address.address}:${address.port}`;

  return {
    url: `http://${address.address}:${address.port}`,
    server,
    createShop,
    addApp,
    setAppScopes,
    setTokenLifetimes,
    rotateSecret,
    uninstallApp,
    reinstallApp,
    liveTokens: (domain, appName) => oauth.liveTokens(appNamed(domain, appName).app.clientId),
    setRedirectUrls,
    shop: (domain) => entryOf(domain).shop,
    setFaults,
    stats: (domain) => entryOf(domain).stats,
    webhooks: (domain) => entryOf(domain).webhooks,
    setBulkConcurrency: (domain, limit) => {
      entryOf(domain).bulkConcurrency = limit;
    },
    setWebhookFaults,
    advanceClock,
    now,
    close: () =>
      new Promise<void>((resolve) => {
        for (const entry of shops.values()) entry.webhooks.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Order input from the control API: lines by SKU or variant GID, locations by GID. */
function resolveOrderInput(shop: SimShop, input: Record<string, unknown>, allowEmpty = false): PlaceOrderInput {
  const lines = ((input['lines'] as Array<{ sku?: string; variantId?: string; quantity: number }>) ?? []).map(
    (line) => {
      const variant = line.sku ? [...shop.variants.values()].find((v) => v.sku === line.sku) : undefined;
      return {
        variantId: variant?.id ?? parseGid(line.variantId ?? null, 'ProductVariant') ?? -1,
        quantity: Number(line.quantity),
      };
    },
  );
  if (!allowEmpty && lines.length === 0)
    throw new SimulatorError(400, 'Give "lines": [{ "sku" or "variantId", "quantity" }].');
  const locationId = input['locationId'] ? (parseGid(String(input['locationId']), 'Location') ?? -1) : undefined;
  return {
    lines,
    shipping: (input['shipping'] as PlaceOrderInput['shipping']) ?? 'standard',
    ...(locationId === undefined ? {} : { locationId }),
    ...(input['tags'] ? { tags: input['tags'] as string[] } : {}),
    ...(input['createdAt'] ? { createdAt: new Date(String(input['createdAt'])) } : {}),
  };
}

export class SimulatorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Everything a test may want to compare with, in Shopify's terms (GIDs). */
export function dumpState(entry: ShopEntry) {
  const { shop } = entry;
  return {
    shop: { domain: shop.domain, name: shop.name, plan: entry.plan },
    locations: [...shop.locations.values()].map((l) => ({
      id: gid('Location', l.id),
      name: l.name,
      kind: l.kind,
      address: l.address,
      isActive: l.isActive,
    })),
    products: [...shop.products.values()].map((p) => ({
      id: gid('Product', p.id),
      title: p.title,
      handle: p.handle,
      status: p.status,
      tags: p.tags,
      variants: p.variantIds.map((id) => {
        const v = shop.variants.get(id)!;
        return {
          id: gid('ProductVariant', v.id),
          sku: v.sku,
          barcode: v.barcode,
          title: v.title,
          price: v.price,
          inventoryItemId: gid('InventoryItem', v.inventoryItemId),
        };
      }),
    })),
    inventoryLevels: [...shop.levels.values()].map((l) => ({
      inventoryItemId: gid('InventoryItem', l.itemId),
      locationId: gid('Location', l.locationId),
      ...l.quantities,
      on_hand: onHand(l.quantities),
    })),
    stats: entry.stats,
  };
}
