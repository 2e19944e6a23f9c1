// The one way Switchyard talks to Shopify's Admin GraphQL API: the official client behind our own
// cost-aware pacing and retries. The official client retries only HTTP 429/503 and knows nothing of
// query cost, so it is set to retry nothing and this file does both:
//   - before a call, wait until the shop's budget should hold the call's cost;
//   - THROTTLED: wait for the bucket (and a growing, jittered pause), retry for up to
//     `throttlePatienceMs`: Shopify saying "wait" is the normal flow when processes share a bucket;
//   - HTTP 5xx, timeouts, network errors: back off exponentially with jitter, retry (bounded);
//   - any other GraphQL error: fail at once with the errors (a bug or a schema change, not a blip).
import { createAdminApiClient } from '@shopify/admin-api-client';
import { AppError, isAppError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { makeCostBudget, type CostBudget, type ThrottleStatus } from './budget.js';
import type { Operation } from './operation.js';
import { staticAccessToken, type AccessTokens } from './access-tokens.js';

export interface ShopifyConnection {
  shop: string;
  /** Where each call's token comes from; or a fixed token (a legacy custom app, tests). */
  tokens?: AccessTokens;
  accessToken?: string;
  apiVersion: string;
  /** Where the Admin API is; default `https://{shop}`. The simulator's URL in demo mode and tests. */
  apiUrl?: string | undefined;
}

export interface CallStats {
  calls: number;
  costPoints: number;
  throttled: number;
  retries: number;
  failures: number;
  /** Calls Shopify answered 401 (an expired or revoked token), and those sent again with a renewed token. */
  unauthorized: number;
  retriedWithNewToken: number;
}

export interface ShopifyClient {
  readonly shop: string;
  readonly tokens: AccessTokens;
  readonly budget: CostBudget;
  readonly stats: CallStats;
  request<TData, TVariables extends Record<string, unknown>>(
    operation: Operation<TData, TVariables>,
    variables: TVariables,
  ): Promise<TData>;
}

export interface ClientOptions {
  logger: Logger;
  /** Total tries per call for transient failures. */
  maxAttempts?: number;
  /**
   * How long one call keeps retrying THROTTLED answers (default 10 minutes). Several processes share
   * a shop's bucket; a costly query can lose the race for it to many cheap ones for a while.
   */
  throttlePatienceMs?: number;
  /** First back-off delay for transient failures; doubles each try, with jitter, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  /** Shared per shop: pass the same budget to every client of one shop in a process. */
  budget?: CostBudget;
  random?: () => number;
}

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string };
}

interface ClientResponse {
  data?: unknown;
  errors?: { networkStatusCode?: number; message?: string; graphQLErrors?: GraphQLErrorShape[] };
  extensions?: {
    cost?: { requestedQueryCost: number; actualQueryCost: number | null; throttleStatus: ThrottleStatus };
  };
}

const budgets = new Map<string, CostBudget>();

/** The header that carries a call's token to the fetch below (never sent). */
const TOKEN_CARRIER = 'x-switchyard-call-token';

/** The process-wide budget of a shop (one bucket per app × shop at Shopify). */
export function sharedBudget(shop: string): CostBudget {
  let budget = budgets.get(shop);
  if (!budget) {
    budget = makeCostBudget();
    budgets.set(shop, budget);
  }
  return budget;
}

// eslint-disable-next-line max-lines-per-function -- a factory: request and its retry helpers are closures over the one connection, budget and options
export function makeShopifyClient(connection: ShopifyConnection, options: ClientOptions): ShopifyClient {
  const maxAttempts = options.maxAttempts ?? 8;
  const throttlePatienceMs = options.throttlePatienceMs ?? 10 * 60_000;
  const baseDelayMs = options.baseDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const random = options.random ?? Math.random;
  const budget = options.budget ?? sharedBudget(connection.shop);
  const apiUrl = (connection.apiUrl ?? `https://${connection.shop}`).replace(/\/+$/, '');
  const stats: CallStats = {
    calls: 0,
    costPoints: 0,
    throttled: 0,
    retries: 0,
    failures: 0,
    unauthorized: 0,
    retriedWithNewToken: 0,
  };
  if (!connection.tokens && !connection.accessToken)
    throw new Error('A Shopify connection needs tokens or an access token.');
  const tokens = connection.tokens ?? staticAccessToken(connection.accessToken!);
  /** Last requested cost seen per operation: a better reservation than the static estimate. */
  const knownCost = new Map<string, number>();

  const client = createAdminApiClient({
    storeDomain: connection.shop,
    apiVersion: connection.apiVersion,
    // Each call sends the token of the moment (below); this one is never used.
    accessToken: 'set-per-request',
    retries: 0,
    // The client's own token header wins over a call's headers, so each call's token travels in a
    // header of ours and takes its place here.
    customFetchApi: (url, init) => {
      const headers = { ...((init?.headers ?? {}) as Record<string, string>) };
      const token = headers[TOKEN_CARRIER];
      delete headers[TOKEN_CARRIER];
      if (token !== undefined) headers['X-Shopify-Access-Token'] = token;
      return fetch(String(url).replace(/^https:\/\/[^/]+/, apiUrl), {
        ...(init as RequestInit),
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
    },
  });
  const log = options.logger.child({ shop: connection.shop });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const backoff = (attempt: number) =>
    Math.round(Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + random()));

  /** One call under the shop's budget; what Shopify answered (a call that failed is an answer with errors). */
  async function callOnce<TData, TVariables extends Record<string, unknown>>(
    op: Operation<TData, TVariables>,
    variables: TVariables,
    token: string,
  ): Promise<ClientResponse> {
    const cost = knownCost.get(op.name) ?? op.estimatedCost;
    await budget.reserve(cost);
    stats.calls += 1;
    let response: ClientResponse;
    try {
      response = (await client.request(op.document, {
        variables,
        headers: { [TOKEN_CARRIER]: token },
      })) as ClientResponse;
    } catch (error) {
      response = { errors: { message: error instanceof Error ? error.message : String(error) } };
    }
    const costInfo = response.extensions?.cost;
    budget.settle(cost, costInfo?.throttleStatus);
    if (costInfo) {
      knownCost.set(op.name, costInfo.requestedQueryCost);
      stats.costPoints += costInfo.actualQueryCost ?? 0;
    }
    return response;
  }

  async function request<TData, TVariables extends Record<string, unknown>>(
    op: Operation<TData, TVariables>,
    variables: TVariables,
  ): Promise<TData> {
    let throttledTries = 0;
    let throttledSince = 0;
    let transientTries = 0;
    let renewedAfter401 = false;
    let token = await tokens.current();
    for (;;) {
      const response = await callOnce(op, variables, token);
      const errors = response.errors;
      if (!errors) return response.data as TData;

      const graphQLErrors = errors.graphQLErrors ?? [];
      if (graphQLErrors.some((e) => e.extensions?.code === 'THROTTLED')) {
        stats.throttled += 1;
        throttledTries += 1;
        if (throttledTries === 1) throttledSince = performance.now();
        const waited = performance.now() - throttledSince;
        if (waited >= throttlePatienceMs) {
          stats.failures += 1;
          throw new AppError(
            'shopify.throttled',
            'unavailable',
            `Shopify kept throttling ${op.name} for ${Math.round(waited / 1000)} s (${throttledTries} tries).`,
            {
              operation: op.name,
              tries: throttledTries,
            },
          );
        }
        // The budget now knows how empty the bucket is: the next reserve() waits for it. The pause
        // on top spreads competing callers out (the same jittered back-off as for failures).
        log.debug({ operation: op.name, tries: throttledTries }, 'throttled by Shopify; waiting for the bucket');
        await sleep(backoff(throttledTries));
        continue;
      }
      const status = errors.networkStatusCode;
      const transient = status === undefined || status === 429 || status >= 500;
      if (graphQLErrors.length === 0 && transient && op.outcomeUnknownOnFailure && status !== 429) {
        // It may have applied: re-sending could do it twice. The caller looks at Shopify first.
        stats.failures += 1;
        throw new AppError(
          'shopify.outcome_unknown',
          'unavailable',
          `No answer from Shopify to ${op.name} (${errors.message ?? `HTTP ${status}`}); it may or may not have applied.`,
          {
            operation: op.name,
            status: status ?? null,
          },
        );
      }
      if (graphQLErrors.length === 0 && transient) {
        transientTries += 1;
        if (transientTries >= maxAttempts) {
          stats.failures += 1;
          throw new AppError(
            'shopify.unavailable',
            'unavailable',
            `Shopify did not answer ${op.name}: ${errors.message ?? 'no response'} (after ${transientTries} tries).`,
            {
              operation: op.name,
              status: status ?? null,
            },
          );
        }
        stats.retries += 1;
        const delay = backoff(transientTries);
        log.debug({ operation: op.name, status, delay }, 'transient Shopify failure; retrying');
        await sleep(delay);
        continue;
      }
      if (status === 401) {
        stats.unauthorized += 1;
        // Expired or revoked: a renewed token gets one more try (a 401 applied nothing).
        if (!renewedAfter401) {
          renewedAfter401 = true;
          const renewed = await tokens.refused(token).catch((error: unknown) => {
            // Shopify refusing the app itself (secret, grant, install) is as final as the 401.
            if (
              isAppError(error) &&
              ['invalid_client', 'invalid_grant', 'not_installed'].includes(String(error.details['reason']))
            )
              return undefined;
            stats.failures += 1;
            throw error;
          });
          if (renewed !== undefined) {
            stats.retriedWithNewToken += 1;
            token = renewed;
            continue;
          }
        }
      }
      stats.failures += 1;
      if (status === 401) {
        throw new AppError(
          'shopify.unauthorized',
          'unavailable',
          `Shopify does not accept the access token for ${connection.shop} (HTTP 401): the app was uninstalled or the token revoked.`,
          {
            operation: op.name,
            status,
          },
        );
      }
      const detail = graphQLErrors.map((e) => e.message).join('; ') || errors.message || 'unknown error';
      throw new AppError('shopify.request_failed', 'unavailable', `Shopify refused ${op.name}: ${detail}`, {
        operation: op.name,
        status: status ?? null,
        errors: graphQLErrors,
      });
    }
  }

  return { shop: connection.shop, tokens, budget, stats, request };
}
