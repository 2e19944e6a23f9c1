// POST /webhooks/shopify: verify, store the raw delivery, answer fast. Processing happens later, by
// the inbox processor, so a slow apply never makes Shopify time out and retry.
import type { Db } from '../platform/db/client.js';
import type { Clock } from '../platform/clock.js';
import { isValidWebhookSignature } from '../shopify/webhook-verify.js';
import { webhookInbox } from './inbox.schema.js';
import { HANDLED_TOPICS } from './topics.js';
import { bodyMisfit, bodyTime } from './webhook-shapes.js';
import { createHash } from 'node:crypto';

export interface WebhookRequest {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export interface WebhookAnswer {
  status: 200 | 400 | 401 | 404 | 415;
  body: { received: boolean; duplicate?: boolean; error?: { code: string; message: string } };
}

const header = (headers: WebhookRequest['headers'], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const refuse = (status: WebhookAnswer['status'], code: string, message: string): WebhookAnswer => ({
  status,
  body: { received: false, error: { code, message } },
});

/** Half of a UTF-16 surrogate pair without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Every string of a parsed body as PostgreSQL can store it (text or jsonb): NUL characters dropped,
 * lone surrogates replaced by U+FFFD. Shopify's data is kept; only what no database column holds goes.
 */
function storable(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k) as string, storable(v)]));
  return value;
}

export function makeWebhookReceiver(deps: {
  db: Db;
  clock: Clock;
  shop: string;
  secret: string;
  maxAgeSeconds: number;
  onStored?: () => void;
}) {
  return async function receive(request: WebhookRequest): Promise<WebhookAnswer> {
    const contentType = header(request.headers, 'content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      return refuse(
        415,
        'webhook.content_type',
        `Shopify sends webhooks as application/json; this delivery says ${JSON.stringify(contentType.slice(0, 100))}.`,
      );
    }
    if (!isValidWebhookSignature(request.rawBody, header(request.headers, 'x-shopify-hmac-sha256'), deps.secret)) {
      return refuse(
        401,
        'webhook.bad_signature',
        'X-Shopify-Hmac-Sha256 does not match the body signed with the app secret.',
      );
    }
    const shop = header(request.headers, 'x-shopify-shop-domain');
    if (shop !== deps.shop)
      return refuse(
        404,
        'webhook.unknown_shop',
        `This Switchyard serves ${deps.shop}, not ${shop ?? '(no X-Shopify-Shop-Domain)'}.`,
      );
    const topic = header(request.headers, 'x-shopify-topic');
    if (!topic || !HANDLED_TOPICS.has(topic))
      return refuse(400, 'webhook.unknown_topic', `Topic ${topic ?? '(none)'} is not one Switchyard subscribes to.`);
    const webhookId = header(request.headers, 'x-shopify-webhook-id');
    if (!webhookId || webhookId.length > 200)
      return refuse(400, 'webhook.missing_id', 'X-Shopify-Webhook-Id is required (at most 200 characters).');
    // A valid body captured long ago and sent again is refused: Shopify's own retries of a delivery
    // end within hours, and whatever a refused delivery held, the pollers and reconciliation find.
    const triggeredAt = header(request.headers, 'x-shopify-triggered-at');
    const triggeredMs = triggeredAt ? Date.parse(triggeredAt) : Number.NaN;
    if (!Number.isFinite(triggeredMs))
      return refuse(
        400,
        'webhook.missing_triggered_at',
        'X-Shopify-Triggered-At must be the time Shopify triggered the delivery.',
      );
    const ageSeconds = (deps.clock.now().getTime() - triggeredMs) / 1000;
    if (ageSeconds > deps.maxAgeSeconds) {
      return refuse(
        400,
        'webhook.too_old',
        `This delivery was triggered at ${new Date(triggeredMs).toISOString()}, ${Math.round(ageSeconds / 3600)} h ago; deliveries older than ${Math.round(deps.maxAgeSeconds / 3600)} h (SHOPIFY_WEBHOOK_MAX_AGE_HOURS) are refused as replays. Nothing is lost: the order and inventory pollers and the reconciliation read Shopify directly.`,
      );
    }
    let payload: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(request.rawBody.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      payload = storable(parsed) as Record<string, unknown>;
    } catch (error) {
      return refuse(
        400,
        'webhook.malformed_json',
        `The body is not a JSON object: ${(error as Error).message.slice(0, 200)}`,
      );
    }
    const misfit = bodyMisfit(topic, payload, deps.shop);
    if (misfit)
      return refuse(400, 'webhook.body_does_not_fit_topic', `The body does not fit the topic ${topic}: ${misfit}.`);
    // The headers are not signed: the body's own time says how old the change is, whatever they say.
    const changedAt = bodyTime(topic, payload);
    if (changedAt !== null && (deps.clock.now().getTime() - changedAt) / 1000 > deps.maxAgeSeconds) {
      return refuse(
        400,
        'webhook.too_old',
        `The change this body tells of happened at ${new Date(changedAt).toISOString()}, more than ${Math.round(deps.maxAgeSeconds / 3600)} h ago (SHOPIFY_WEBHOOK_MAX_AGE_HOURS): refused as a replay. The pollers and the reconciliation read Shopify directly.`,
      );
    }
    const updatedAt = typeof payload['updated_at'] === 'string' ? new Date(payload['updated_at']) : null;
    const stored = await deps.db
      .insert(webhookInbox)
      .values({
        webhookId,
        eventId: header(request.headers, 'x-shopify-event-id') ?? null,
        shopDomain: shop,
        topic,
        apiVersion: header(request.headers, 'x-shopify-api-version') ?? null,
        triggeredAt: new Date(triggeredMs),
        receivedAt: deps.clock.now(),
        rawBody: request.rawBody.toString('utf8'),
        bodySha256: createHash('sha256').update(request.rawBody).digest('hex'),
        payload,
        resourceUpdatedAt: updatedAt && !Number.isNaN(updatedAt.getTime()) ? updatedAt : null,
        hmacVerified: true,
        nextAttemptAt: deps.clock.now(),
      })
      // A webhook id seen before (Shopify's retry), or the same body for the same topic under another id.
      .onConflictDoNothing()
      .returning({ id: webhookInbox.id });
    if (stored.length > 0) deps.onStored?.();
    return { status: 200, body: { received: true, duplicate: stored.length === 0 } };
  };
}
