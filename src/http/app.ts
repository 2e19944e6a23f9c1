// The HTTP edge. buildApp() makes the Fastify app from its dependencies and does not listen, so tests
// can inject requests and main/ decides where to listen.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Database } from '../platform/db/client.js';
import { isAppError, type ErrorKind } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { JobRuntime } from '../platform/jobs/job-runtime.js';
import type { Clock } from '../platform/clock.js';
import { isDatabaseUnavailable } from '../platform/db/unavailable.js';
import { findUnstorableText, makeValidatorCompiler } from './validation.js';
import { checkAccess, type ApiAccess, type RouteAccess } from './access.js';
import { registerHealthRoutes } from './health.routes.js';
import { registerJobRoutes } from './jobs.routes.js';
import { registerSyncRoutes, type SyncService, type WebhookReceiver } from './sync.routes.js';
import { registerShopifyInstallRoutes, type ShopifyInstall } from './shopify-install.routes.js';
import { registerCatalogRoutes } from './catalog.routes.js';
import { registerOrderRoutes } from './orders.routes.js';
import { registerInventoryRoutes, type InventoryImportSettings } from './inventory.routes.js';
import { registerFacilityRoutes } from './facilities.routes.js';
import { registerRoutingRoutes } from './routing.routes.js';
import { registerFulfillmentRoutes } from './fulfillment.routes.js';
import type { OwedUnitsOf } from '../domains/fulfillment/index.js';

export interface AppDeps {
  database: Database;
  jobs: JobRuntime;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  startedAt: Date;
  role: string;
  version: string;
  /** How routes that need the API credential check it (see access.ts). */
  apiAccess: ApiAccess;
  /** Requests per minute per client address (0: no limit); Shopify's webhook deliveries have their own. */
  rateLimit: { perMinute: number; webhooksPerMinute: number };
  /** Fastify's `trustProxy`: which proxies' X-Forwarded-For names the client (rate limits, logs). */
  trustProxy?: string[] | undefined;
  publicUrl: string;
  /** Present when a Shopify shop is connected. */
  /** Present when a shop is connected; `owedBeforeHandOff` asks Shopify what it still owes before units leave. */
  shopify?:
    | {
        sync: SyncService;
        receiveWebhook: WebhookReceiver;
        owedBeforeHandOff?: OwedUnitsOf;
        install?: ShopifyInstall | undefined;
        onInstalled?: () => void;
      }
    | undefined;
  /** Asks for a job run soon (a change to publish). */
  requestJob?: ((name: string) => void) | undefined;
  /** Count file uploads: size and line limits, spool folder (defaults: 1 GiB, 64 KiB, the system's temp folder). */
  imports?: InventoryImportSettings | undefined;
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>;

/** A route Fastify knows, and who may call it (the route table tests walk). */
export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: RouteEntry[];
  }
}

/** Seconds a client should wait before trying again while the database is out of reach. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Every error a request meets, as an answer: its own body, 503 for the database, AppError by kind, 400 for validation, 500 for the rest (logged). */
function replyToError(error: FastifyError & { body?: ErrorBody }, request: FastifyRequest, reply: FastifyReply) {
  if (error.body) return reply.status(error.statusCode ?? 400).send(error.body);
  if (isDatabaseUnavailable(error)) {
    request.log.error({ err: error, method: request.method, route: request.routeOptions.url }, 'database unavailable');
    const body: ErrorBody = {
      error: {
        code: 'database.unavailable',
        message: 'The database cannot be reached right now. Try again shortly.',
      },
    };
    return reply.status(503).header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS)).send(body);
  }
  if (isAppError(error)) {
    const body: ErrorBody = { error: { code: error.code, message: error.message, details: error.details } };
    return reply.status(STATUS_BY_KIND[error.kind]).send(body);
  }
  if (error.validation) {
    const issues = error.validation.map((v) => ({
      where: `${error.validationContext ?? 'request'}${v.instancePath || ''}`,
      problem: v.message ?? 'is invalid',
      ...(v.params && 'additionalProperty' in v.params ? { property: v.params['additionalProperty'] } : {}),
      ...(v.params && 'allowedValues' in v.params ? { allowed: v.params['allowedValues'] } : {}),
    }));
    const message = issues
      .map((i) => `${i.where} ${i.problem}${'property' in i ? ` ("${String(i.property)}")` : ''}`)
      .join('; ');
    const body: ErrorBody = { error: { code: 'request.invalid', message, details: { issues } } };
    return reply.status(400).send(body);
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own client errors: bad JSON, wrong content type, body too large.
    const body: ErrorBody = {
      error: { code: `request.${error.code ?? 'bad_request'}`.toLowerCase(), message: error.message },
    };
    return reply.status(error.statusCode).send(body);
  }
  request.log.error({ err: error, method: request.method, route: request.routeOptions.url }, 'unhandled error');
  const body: ErrorBody = { error: { code: 'internal', message: 'Internal error. It has been logged.' } };
  return reply.status(500).send(body);
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Requests are counted in /metrics; failures are logged by the hooks below, not every request.
    logController: new LogController({ disableRequestLogging: true }),
    ...(deps.trustProxy && deps.trustProxy.length > 0 ? { trustProxy: deps.trustProxy } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  app.setValidatorCompiler(makeValidatorCompiler());

  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // Read when asked: a plugin's own onRoute hook (the documentation's) may still set the access.
    for (const method of methods) {
      routeTable.push({
        method,
        url: route.url,
        get access() {
          return route.config?.access ?? 'api';
        },
      });
    }
  });

  await app.register(helmet, {
    // The API documentation page loads its own script and styles; nothing else here serves HTML. Not
    // every installation is served over https (a store network, the demo): no forced upgrade.
    contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:'], 'upgrade-insecure-requests': null } },
  });

  // The limiter counts in each route's onRequest; the credential is checked after it (preParsing, still
  // before any body is read), so failed attempts count too.
  if (deps.rateLimit.perMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: deps.rateLimit.perMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_request, context) => {
        const body: ErrorBody = {
          error: {
            code: 'request.rate_limited',
            message: `Too many requests from this address: at most ${context.max} a minute. Try again in ${context.after}.`,
          },
        };
        return Object.assign(new Error(body.error.message), { statusCode: 429, body });
      },
    });
  }

  // The limiter counts per route; a target that matches no route is counted here, in the same bucket.
  const limitUnmatched =
    deps.rateLimit.perMinute > 0
      ? (app.rateLimit() as unknown as (this: App, request: unknown, reply: unknown) => Promise<void>)
      : undefined;
  app.addHook('preParsing', async (request, reply, payload) => {
    if (limitUnmatched && request.routeOptions.url === undefined) await limitUnmatched.call(app, request, reply);
    const refusal = checkAccess(request, deps.apiAccess);
    if (!refusal) return payload;
    if (refusal.status === 401) reply.header('www-authenticate', 'Bearer');
    const body: ErrorBody = { error: { code: refusal.code, message: refusal.message } };
    throw Object.assign(new Error(refusal.message), { statusCode: refusal.status, body });
  });

  // No text Switchyard stores may hold a NUL or a lone surrogate (PostgreSQL refuses both): refused
  // here, wherever it hides.
  app.addHook('preValidation', async (request) => {
    const found =
      findUnstorableText(request.params, 'params') ??
      findUnstorableText(request.query, 'querystring') ??
      findUnstorableText(request.body, 'body');
    if (!found) return;
    const body: ErrorBody = {
      error: { code: 'request.invalid', message: `${found.where} ${found.problem}.`, details: { issues: [found] } },
    };
    throw Object.assign(new Error(body.error.message), { statusCode: 400, body });
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Switchyard API',
        description: 'Order management for Shopify merchants: inventory truth, routing, store work.',
        version: deps.version,
      },
      servers: [{ url: deps.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: deps.apiAccess.mode === 'open' ? [] : [{ bearer: [] }],
    },
  });
  // The documentation is public: its routes say so.
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: 'public' };
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequestSeconds.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500)
      request.log.warn({ method: request.method, route, status: reply.statusCode }, 'request failed');
  });

  app.setErrorHandler((error: FastifyError & { body?: ErrorBody }, request, reply) =>
    replyToError(error, request, reply),
  );

  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: { code: 'request.not_found', message: `No route ${request.method} ${request.url.split('?')[0]}.` },
    };
    return reply.status(404).send(body);
  });

  registerHealthRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerCatalogRoutes(app, deps);
  registerOrderRoutes(app, deps);
  registerInventoryRoutes(app, deps);
  registerFacilityRoutes(app, deps);
  registerRoutingRoutes(app, deps);
  registerFulfillmentRoutes(app, deps);
  if (deps.shopify) registerSyncRoutes(app, { ...deps.shopify, webhooksPerMinute: deps.rateLimit.webhooksPerMinute });
  if (deps.shopify?.install) {
    registerShopifyInstallRoutes(app, {
      install: deps.shopify.install,
      publicUrl: deps.publicUrl,
      ...(deps.shopify.onInstalled ? { onInstalled: deps.shopify.onInstalled } : {}),
    });
  }
  return app;
}
