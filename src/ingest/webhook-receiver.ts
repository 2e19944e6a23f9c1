// POST /webhooks/shopify: verify, store the raw delivery, answer fast. Processing happens later, by
// the inbox processor, so a slow apply never makes Shopify time out and retry.
import type { Db } from '../platform/db/client.js';
import type { Clock } from '../platform/clock.js';
import { isValidWebhookSignature } from '../shopify/webhook-verify.js';
import { webhookInbox } from './inbox.schema.js';
import { HANDLED_TOPICS } from './topics.js';

export interface WebhookRequest {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export interface WebhookAnswer {
  status: 200 | 400 | 401 | 404;
  body: { received: boolean; duplicate?: boolean; error?: { code: string; message: string } };
}

const header = (headers: WebhookRequest['headers'], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const refuse = (status: WebhookAnswer['status'], code: string, message: string): WebhookAnswer => ({ status, body: { received: false, error: { code, message } } });

export function makeWebhookReceiver(deps: { db: Db; clock: Clock; shop: string; secret: string; onStored?: () => void }) {
  return async function receive(request: WebhookRequest): Promise<WebhookAnswer> {
    if (!isValidWebhookSignature(request.rawBody, header(request.headers, 'x-shopify-hmac-sha256'), deps.secret)) {
      return refuse(401, 'webhook.bad_signature', 'X-Shopify-Hmac-Sha256 does not match the body signed with the app secret.');
    }
    const shop = header(request.headers, 'x-shopify-shop-domain');
    if (shop !== deps.shop) return refuse(404, 'webhook.unknown_shop', `This Switchyard serves ${deps.shop}, not ${shop ?? '(no X-Shopify-Shop-Domain)'}.`);
    const topic = header(request.headers, 'x-shopify-topic');
    if (!topic || !HANDLED_TOPICS.has(topic)) return refuse(400, 'webhook.unknown_topic', `Topic ${topic ?? '(none)'} is not one Switchyard subscribes to.`);
    const webhookId = header(request.headers, 'x-shopify-webhook-id');
    if (!webhookId) return refuse(400, 'webhook.missing_id', 'X-Shopify-Webhook-Id is required.');
    let payload: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(request.rawBody.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      payload = parsed as Record<string, unknown>;
    } catch (error) {
      return refuse(400, 'webhook.malformed_json', `The body is not a JSON object: ${(error as Error).message}`);
    }
    const triggeredAt = header(request.headers, 'x-shopify-triggered-at');
    const updatedAt = typeof payload['updated_at'] === 'string' ? new Date(payload['updated_at']) : null;
    const stored = await deps.db
      .insert(webhookInbox)
      .values({
        webhookId,
        eventId: header(request.headers, 'x-shopify-event-id') ?? null,
        shopDomain: shop,
        topic,
        apiVersion: header(request.headers, 'x-shopify-api-version') ?? null,
        triggeredAt: triggeredAt && !Number.isNaN(Date.parse(triggeredAt)) ? new Date(triggeredAt) : null,
        receivedAt: deps.clock.now(),
        rawBody: request.rawBody.toString('utf8'),
        payload,
        resourceUpdatedAt: updatedAt && !Number.isNaN(updatedAt.getTime()) ? updatedAt : null,
        hmacVerified: true,
        nextAttemptAt: deps.clock.now(),
      })
      .onConflictDoNothing({ target: webhookInbox.webhookId })
      .returning({ id: webhookInbox.id });
    if (stored.length > 0) deps.onStored?.();
    return { status: 200, body: { received: true, duplicate: stored.length === 0 } };
  };
}
