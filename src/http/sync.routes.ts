import { Type } from 'typebox';
import type { App } from './app.js';
import { errorResponses, Id } from './schemas.js';

/** Implemented by ingest/, wired by main/ (http/ does not import ingest/). */
export interface SyncService {
  health(): Promise<Record<string, unknown>>;
  listDeliveries(status: 'pending' | 'processed' | 'parked' | 'discarded', limit: number): Promise<unknown[]>;
  retry(id: number): Promise<{ id: number; status: string }>;
  discard(id: number): Promise<{ id: number; status: string }>;
}

export type WebhookReceiver = (request: {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
}) => Promise<{ status: number; body: unknown }>;

export function registerSyncRoutes(
  app: App,
  deps: { sync: SyncService; receiveWebhook: WebhookReceiver; webhooksPerMinute: number },
): void {
  // Shopify's webhooks: the raw body is needed for the signature, so JSON is not parsed here.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 10 * 1024 * 1024 }, (_request, body, done) =>
      done(null, body),
    );
    scope.post(
      '/webhooks/shopify',
      {
        schema: {
          summary: 'Shopify webhook deliveries (HMAC-verified, stored, processed asynchronously)',
          tags: ['sync'],
        },
        // Shopify calls from its own addresses in bursts: a limit of its own, far above the API's.
        config: {
          access: 'shopify-webhook',
          rateLimit: deps.webhooksPerMinute > 0 ? { max: deps.webhooksPerMinute } : false,
        },
      },
      async (request, reply) => {
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const answer = await deps.receiveWebhook({ rawBody, headers: request.headers });
        return reply.status(answer.status).send(answer.body);
      },
    );
  });

  app.get(
    '/api/v1/sync/health',
    {
      schema: {
        summary:
          'Sync health per resource: polls, lag, inbox, parked deliveries, last reconciliation, access scopes granted and missing',
        tags: ['sync'],
      },
    },
    async () => deps.sync.health(),
  );

  app.get(
    '/api/v1/sync/webhooks',
    {
      schema: {
        summary: 'Webhook deliveries by status (parked ones need an operator)',
        tags: ['sync'],
        querystring: Type.Object(
          {
            status: Type.Union(
              [Type.Literal('pending'), Type.Literal('processed'), Type.Literal('parked'), Type.Literal('discarded')],
              { default: 'parked' },
            ),
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => ({ deliveries: await deps.sync.listDeliveries(request.query.status, request.query.limit) }),
  );

  for (const action of ['retry', 'discard'] as const) {
    app.post(
      `/api/v1/sync/webhooks/:id/${action}`,
      {
        schema: {
          summary: action === 'retry' ? 'Process a parked delivery again' : 'Give up on a parked delivery',
          tags: ['sync'],
          params: Type.Object({ id: Id() }),
          response: { 200: Type.Object({ id: Type.Integer(), status: Type.String() }), ...errorResponses },
        },
      },
      async (request) => deps.sync[action](request.params.id),
    );
  }
}
