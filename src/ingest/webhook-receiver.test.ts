// What the webhook endpoint refuses before anything is stored: a wrong content type, a signature with
// junk after it, a delivery replayed long after it was triggered, a body that does not fit its topic.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../test/support/backend.js';
import type { Database } from '../platform/db/client.js';
import { makeManualClock } from '../platform/clock.js';
import { queryRows } from '../platform/db/rows.js';
import { isValidWebhookSignature } from '../shopify/webhook-verify.js';
import { makeWebhookReceiver, type WebhookRequest } from './webhook-receiver.js';
import { bodyMisfit } from './webhook-shapes.js';

const SHOP = 'receiver-test.myshopify.com';
const SECRET = 'shpss_receiver_secret';
const clock = makeManualClock(new Date('2026-12-01T12:00:00Z'));
let testDb: TestDatabase;
let database: Database;
let receive: ReturnType<typeof makeWebhookReceiver>;

/** Shopify's sample body of a topic, with its times set to now (as a delivery made now carries). */
const sample = (name: string) => fresh(original(name));
const original = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../test/fixtures/shopify-webhooks/${name}.json`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
function fresh(body: Record<string, unknown>): Record<string, unknown> {
  const now = clock.now().toISOString();
  const out: Record<string, unknown> = { ...body };
  for (const key of ['updated_at', 'created_at', 'processed_at']) if (typeof out[key] === 'string') out[key] = now;
  if (out['order_edit'] && typeof out['order_edit'] === 'object')
    out['order_edit'] = { ...(out['order_edit'] as object), created_at: now, committed_at: now };
  return out;
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
  receive = makeWebhookReceiver({ db: database.db, clock, shop: SHOP, secret: SECRET, maxAgeSeconds: 86_400 });
});
afterAll(() => testDb.drop());

let next = 0;
function delivery(topic: string, body: unknown, headers: Record<string, string> = {}): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    rawBody: raw,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-shop-domain': SHOP,
      'x-shopify-webhook-id': `receiver-${++next}`,
      'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(raw).digest('base64'),
      'x-shopify-triggered-at': clock.now().toISOString(),
      ...headers,
    },
  };
}

const stored = async () =>
  (await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from webhook_inbox`))[0]!.n;

describe(`webhook receiver (${backend})`, () => {
  test("Shopify's own sample bodies fit their topics and are stored", async () => {
    const cases: Array<[string, string]> = [
      ['orders/create', 'orders-create'],
      ['orders/updated', 'orders-create'],
      ['orders/cancelled', 'orders-create'],
      ['orders/edited', 'orders-edited'],
      ['refunds/create', 'refunds-create'],
      ['products/create', 'products-create'],
      ['products/update', 'products-create'],
      ['bulk_operations/finish', 'bulk-operations-finish'],
      ['app/uninstalled', 'app-uninstalled'],
      ['inventory_levels/update', 'inventory-levels-update'],
    ];
    const before = await stored();
    for (const [topic, file] of cases)
      expect({ topic, answer: await receive(delivery(topic, sample(file))) }).toEqual({
        topic,
        answer: { status: 200, body: { received: true, duplicate: false } },
      });
    expect(await stored()).toBe(before + cases.length);
    expect((await receive(delivery('products/delete', { id: 788032119674292900 }))).status).toBe(200);
  });

  test('a valid old body sent under another topic is refused: an order is not an uninstall', async () => {
    const before = await stored();
    const order = sample('orders-create');
    for (const topic of [
      'app/uninstalled',
      'products/delete',
      'products/update',
      'inventory_levels/update',
      'bulk_operations/finish',
      'refunds/create',
      'orders/edited',
    ]) {
      const answer = await receive(delivery(topic, order));
      expect({ topic, status: answer.status, code: answer.body.error?.code }).toEqual({
        topic,
        status: 400,
        code: 'webhook.body_does_not_fit_topic',
      });
    }
    expect((await receive(delivery('orders/create', sample('app-uninstalled')))).body.error?.code).toBe(
      'webhook.body_does_not_fit_topic',
    );
    expect((await receive(delivery('orders/create', sample('products-create')))).body.error?.code).toBe(
      'webhook.body_does_not_fit_topic',
    );
    // Another shop's shop body.
    const other = { ...sample('app-uninstalled'), myshopify_domain: 'someone-else.myshopify.com' };
    expect((await receive(delivery('app/uninstalled', other))).body.error?.message).toContain(
      'someone-else.myshopify.com',
    );
    expect(await stored()).toBe(before);
  });

  test('deliveries triggered more than the window ago are refused, and the answer says why', async () => {
    const before = await stored();
    const body = sample('products-create');
    const old = await receive(
      delivery('products/update', body, {
        'x-shopify-triggered-at': new Date(clock.now().getTime() - 25 * 3_600_000).toISOString(),
      }),
    );
    expect(old.status).toBe(400);
    expect(old.body.error).toMatchObject({
      code: 'webhook.too_old',
      message: expect.stringContaining('older than 24 h (SHOPIFY_WEBHOOK_MAX_AGE_HOURS)'),
    });
    const missing = delivery('products/update', body);
    delete missing.headers['x-shopify-triggered-at'];
    expect((await receive(missing)).body.error?.code).toBe('webhook.missing_triggered_at');
    expect(
      (await receive(delivery('products/update', body, { 'x-shopify-triggered-at': 'yesterday' }))).body.error?.code,
    ).toBe('webhook.missing_triggered_at');
    expect(await stored()).toBe(before);
    // Within the window (Shopify retries for hours): taken.
    expect(
      (
        await receive(
          delivery('products/update', body, {
            'x-shopify-triggered-at': new Date(clock.now().getTime() - 23 * 3_600_000).toISOString(),
          }),
        )
      ).status,
    ).toBe(200);
  });

  test('an old body sent again under fresh headers (a new id, a new triggered-at) is refused by its own time', async () => {
    const before = await stored();
    for (const [topic, file] of [
      ['orders/updated', 'orders-create'],
      ['refunds/create', 'refunds-create'],
      ['orders/edited', 'orders-edited'],
      ['products/update', 'products-create'],
    ] as const) {
      const answer = await receive(delivery(topic, original(file)));
      expect({ topic, status: answer.status, code: answer.body.error?.code }).toEqual({
        topic,
        status: 400,
        code: 'webhook.too_old',
      });
      expect(answer.body.error?.message).toContain('2022-01-01T00:00:00.000Z');
    }
    expect(await stored()).toBe(before);
  });

  test('the same body for the same topic is stored once, whatever webhook id it comes under', async () => {
    const body = { ...sample('products-create'), title: 'Stored once' };
    const first = await receive(delivery('products/update', body));
    const again = await receive(delivery('products/update', body));
    expect(first).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(again).toEqual({ status: 200, body: { received: true, duplicate: true } });
    // Another topic with the same body is another delivery.
    expect((await receive(delivery('products/create', body))).body.duplicate).toBe(false);
  });

  test('only application/json is taken', async () => {
    const before = await stored();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp', '']) {
      const answer = await receive(delivery('products/update', sample('products-create'), { 'content-type': type }));
      expect({ type, status: answer.status, code: answer.body.error?.code }).toEqual({
        type,
        status: 415,
        code: 'webhook.content_type',
      });
    }
    expect(await stored()).toBe(before);
    expect(
      (
        await receive(
          delivery('products/update', sample('products-create'), { 'content-type': 'application/json; charset=utf-8' }),
        )
      ).status,
    ).toBe(200);
  });

  test('a signature with anything before or after it is refused', async () => {
    const body = Buffer.from(JSON.stringify(sample('products-create')));
    const good = createHmac('sha256', SECRET).update(body).digest('base64');
    expect(isValidWebhookSignature(body, good, SECRET)).toBe(true);
    for (const bad of [
      `${good}!!junk`,
      `${good}AAAA`,
      `${good} `,
      ` ${good}`,
      `${good}\n`,
      good.replace('=', '=x'),
      good.slice(0, -1),
      '',
    ]) {
      expect({ bad, valid: isValidWebhookSignature(body, bad, SECRET) }).toEqual({ bad, valid: false });
    }
    const before = await stored();
    const answer = await receive(
      delivery('products/update', sample('products-create'), { 'x-shopify-hmac-sha256': `${good}!!junk` }),
    );
    expect(answer.status).toBe(401);
    expect(await stored()).toBe(before);
  });

  test('NUL characters and lone surrogates in a body are made storable, not a crash', async () => {
    const body = { ...sample('products-create'), title: 'Ni\u0000ce', vendor: 'Acme \ud800 Co' };
    const answer = await receive(delivery('products/update', body, { 'x-shopify-webhook-id': 'nul-1' }));
    expect(answer.status).toBe(200);
    const [row] = await queryRows<{ title: string; vendor: string }>(
      database.db,
      sql`select payload->>'title' as title, payload->>'vendor' as vendor from webhook_inbox where webhook_id = 'nul-1'`,
    );
    expect(row).toEqual({ title: 'Nice', vendor: 'Acme \uFFFD Co' });
  });

  test('shapes name what a body of the topic holds', () => {
    expect(bodyMisfit('app/uninstalled', { id: 1, name: 'x', myshopify_domain: null }, SHOP)).toBeUndefined();
    expect(bodyMisfit('app/uninstalled', { id: 1, name: 'x', myshopify_domain: SHOP, line_items: [] }, SHOP)).toContain(
      'not an order',
    );
    expect(bodyMisfit('orders/create', { id: 1 }, SHOP)).toBe('an order body has line_items');
    expect(bodyMisfit('nope/nope', {}, SHOP)).toBe('no body shape is known for nope/nope');
  });
});
