// The webhook inbox on a real database: duplicates stored once, retries with back-off, parking after
// five tries, and the operator's retry and discard.
import { createHmac } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../test/support/backend.js';
import type { Database } from '../platform/db/client.js';
import { makeManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { makeShopifyClient } from '../shopify/client.js';
import { webhookInbox } from './inbox.schema.js';
import { processInboxBatch, resourceKey, type InboxDelivery } from './inbox-processor.js';
import { makeSyncApi } from './sync-api.js';
import { makeWebhookReceiver } from './webhook-receiver.js';

const SHOP = 'inbox-test.myshopify.com';
const SECRET = 'shpss_inbox_secret';
let testDb: TestDatabase;
let database: Database;
const clock = makeManualClock(new Date('2026-11-28T08:00:00Z'));

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
});
afterAll(() => testDb.drop());

function delivery(id: string, topic: string, body: Record<string, unknown>) {
  const raw = Buffer.from(JSON.stringify(body));
  return {
    rawBody: raw,
    headers: {
      'x-shopify-topic': topic,
      'x-shopify-shop-domain': SHOP,
      'x-shopify-webhook-id': id,
      'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(raw).digest('base64'),
      'x-shopify-api-version': '2026-07',
      'x-shopify-triggered-at': clock.now().toISOString(),
      'content-type': 'application/json',
    },
  };
}

// The sync API reports the client's statistics; this client is never asked to call Shopify.
const idleShopify = makeShopifyClient(
  { shop: SHOP, accessToken: 'unused', apiVersion: '2026-07', apiUrl: 'http://127.0.0.1:9' },
  { logger: silentLogger },
);

describe(`webhook inbox (${backend})`, () => {
  test('a delivery Shopify sends twice is stored once', async () => {
    const receive = makeWebhookReceiver({ db: database.db, clock, shop: SHOP, secret: SECRET, maxAgeSeconds: 86_400 });
    const product = {
      id: 1,
      admin_graphql_api_id: 'gid://shopify/Product/1',
      variants: [],
      updated_at: '2026-11-28T07:00:00Z',
    };
    const first = await receive(delivery('dup-1', 'products/update', product));
    const again = await receive(delivery('dup-1', 'products/update', product));
    expect(first).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(again).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(await database.db.select().from(webhookInbox).where(eq(webhookInbox.webhookId, 'dup-1'))).toHaveLength(1);
  });

  test('a failing delivery is retried with back-off, parked after 5 tries, then retried or discarded by an operator', async () => {
    const receive = makeWebhookReceiver({ db: database.db, clock, shop: SHOP, secret: SECRET, maxAgeSeconds: 86_400 });
    await receive(delivery('bad-1', 'refunds/create', { id: 9, order_id: 90, refund_line_items: [] }));
    await receive(delivery('bad-2', 'refunds/create', { id: 10, order_id: 100, refund_line_items: [] }));
    let healthy = false;
    const handle = async (d: InboxDelivery) => {
      if (d.topic === 'refunds/create' && !healthy) throw new Error('the order of this refund could not be read');
      return 'applied';
    };
    const run = () => processInboxBatch({ db: database.db, clock, logger: silentLogger, handle });
    // Processed earlier: the products/update delivery of the first test, and the two failing ones.
    const first = await run();
    expect(first).toMatchObject({ processed: 1, failed: 2, parked: 0 });
    // Not due yet: nothing is taken again until its back-off has passed.
    expect(await run()).toMatchObject({ processed: 0, failed: 0, parked: 0 });
    for (let attempt = 2; attempt <= 5; attempt++) {
      clock.advance(3_600_000);
      const result = await run();
      expect(result.failed + result.parked).toBe(2);
      expect(result.parked).toBe(attempt === 5 ? 2 : 0);
    }
    const api = makeSyncApi({ db: database.db, clock, shop: SHOP, shopify: idleShopify });
    const parked = await api.listDeliveries('parked', 10);
    expect(parked.map((d) => [d.webhookId, d.attempts, d.lastError])).toEqual([
      ['bad-2', 5, 'the order of this refund could not be read'],
      ['bad-1', 5, 'the order of this refund could not be read'],
    ]);
    expect((await api.health()).webhooks).toMatchObject({ pending: 0, parked: 2 });

    const [two, one] = parked;
    await api.discard(two!.id);
    await expect(api.discard(two!.id)).rejects.toMatchObject({ code: 'sync.delivery_not_parked', kind: 'conflict' });
    await expect(api.retry(999_999)).rejects.toMatchObject({ code: 'sync.unknown_delivery', kind: 'not_found' });
    await api.retry(one!.id);
    healthy = true;
    expect(await run()).toMatchObject({ processed: 1, failed: 0, parked: 0 });
    const rows = await database.db
      .select({ id: webhookInbox.webhookId, status: webhookInbox.status })
      .from(webhookInbox);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({
      'dup-1': 'processed',
      'bad-1': 'processed',
      'bad-2': 'discarded',
    });
  });

  test('deliveries about one order are handled one after the other, in arrival order; other orders side by side', async () => {
    const receive = makeWebhookReceiver({ db: database.db, clock, shop: SHOP, secret: SECRET, maxAgeSeconds: 86_400 });
    for (let i = 0; i < 4; i++) {
      await receive(delivery(`lane-a-${i}`, 'orders/updated', { id: 501, line_items: [], step: i }));
      await receive(delivery(`lane-b-${i}`, 'orders/updated', { id: 502, line_items: [], step: i }));
    }
    const seen: Record<string, number[]> = {};
    let inFlight = 0;
    let mostInFlight = 0;
    const busy = new Set<unknown>();
    const handle = async (d: InboxDelivery) => {
      const id = d.payload['id'];
      expect(busy.has(id)).toBe(false);
      busy.add(id);
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      (seen[String(id)] ??= []).push(d.payload['step'] as number);
      inFlight--;
      busy.delete(id);
      return 'applied';
    };
    expect(await processInboxBatch({ db: database.db, clock, logger: silentLogger, handle })).toMatchObject({
      processed: 8,
      failed: 0,
    });
    expect(seen).toEqual({ '501': [0, 1, 2, 3], '502': [0, 1, 2, 3] });
    expect(mostInFlight).toBe(2);
    expect(resourceKey({ id: 1, topic: 'orders/edited', payload: { order_edit: { order_id: 77 } } })).toBe('order:77');
    expect(resourceKey({ id: 2, topic: 'refunds/create', payload: { order_id: 77 } })).toBe('order:77');
    expect(
      resourceKey({ id: 3, topic: 'inventory_levels/update', payload: { inventory_item_id: 5, location_id: 9 } }),
    ).toBe('item:5');
    expect(resourceKey({ id: 4, topic: 'bulk_operations/finish', payload: {} })).toBe('delivery:4');
  });
});
