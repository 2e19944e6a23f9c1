// The HTTP edge. buildApp() makes the Fastify app from its dependencies and does not listen, so tests
// can inject requests and main/ decides where to listen.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Database } from '../platform/db/client.js';
import { isAppError, type ErrorKind } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { JobRuntime } from '../platform/jobs/job-runtime.js';
import type { Clock } from '../platform/clock.js';
import { registerHealthRoutes } from './health.routes.js';
import { registerJobRoutes } from './jobs.routes.js';
import { registerSyncRoutes, type SyncService, type WebhookReceiver } from './sync.routes.js';
import { registerCatalogRoutes } from './catalog.routes.js';
import { registerOrderRoutes } from './orders.routes.js';
import { registerInventoryRoutes, type InventoryImportSettings } from './inventory.routes.js';
import { registerFacilityRoutes } from './facilities.routes.js';
import { registerRoutingRoutes } from './routing.routes.js';
import { registerFulfillmentRoutes } from './fulfillment.routes.js';

export interface AppDeps {
  database: Database;
  jobs: JobRuntime;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  startedAt: Date;
  role: string;
  version: string;
  /** When set, /api/* requires `Authorization: Bearer <token>`. */
  apiToken: string | undefined;
  publicUrl: string;
  /** Present when a Shopify shop is connected. */
  shopify?: { sync: SyncService; receiveWebhook: WebhookReceiver } | undefined;
  /** Asks for a job run soon (a change to publish). */
  requestJob?: ((name: string) => void) | undefined;
  /** Count file uploads: size and line limits, spool folder (defaults: 1 GiB, 64 KiB, the system's temp folder). */
  imports?: InventoryImportSettings | undefined;
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>;

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

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Requests are counted in /metrics; failures are logged by the hooks below, not every request.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Switchyard API',
        description: 'Order management for Shopify merchants: inventory truth, routing, store work.',
        version: deps.version,
      },
      servers: [{ url: deps.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: deps.apiToken ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (request) => {
    if (!deps.apiToken || !request.url.startsWith('/api/')) return;
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const expected = Buffer.from(deps.apiToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      const body: ErrorBody = { error: { code: 'auth.unauthorized', message: 'Send the API token as "Authorization: Bearer <token>".' } };
      throw Object.assign(new Error(body.error.message), { statusCode: 401, body });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequestSeconds.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) request.log.warn({ method: request.method, url: request.url, status: reply.statusCode }, 'request failed');
  });

  app.setErrorHandler((error: FastifyError & { body?: ErrorBody }, request, reply) => {
    if (error.body) return reply.status(error.statusCode ?? 400).send(error.body);
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
      const body: ErrorBody = { error: { code: `request.${error.code ?? 'bad_request'}`.toLowerCase(), message: error.message } };
      return reply.status(error.statusCode).send(body);
    }
    request.log.error({ err: error, method: request.method, url: request.url }, 'unhandled error');
    const body: ErrorBody = { error: { code: 'internal', message: 'Internal error. It has been logged.' } };
    return reply.status(500).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = { error: { code: 'request.not_found', message: `No route ${request.method} ${request.url.split('?')[0]}.` } };
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
  if (deps.shopify) registerSyncRoutes(app, deps.shopify);
  return app;
}
