// app/uninstalled is destructive and its signature covers only the body: an old shop body of this app,
// sent again, must not disconnect the shop. Switchyard believes an uninstall only when Shopify itself
// refuses the app's token.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import { queryRows } from '../src/platform/db/rows.js';

let c: Connected;

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 19, products: 4, stores: 1 });
}, 120_000);
afterAll(async () => {
  await c?.close();
});

const shopStatus = async () => (await c.api('GET', '/api/v1/sync/health')).body.shop.status as string;
const inboxStatus = async (webhookId: string) =>
  (await queryRows<{ status: string }>(c.db(), sql`select status from webhook_inbox where webhook_id = ${webhookId}`))[0]?.status;

describe(`app/uninstalled (${backend})`, () => {
  test('a replayed shop body signed by the app, while the app is still installed, changes nothing', async () => {
    const body = JSON.stringify({
      ...JSON.parse(readFileSync(new URL('./fixtures/shopify-webhooks/app-uninstalled.json', import.meta.url), 'utf8')),
      myshopify_domain: c.creds.shop,
    });
    const webhookId = randomUUID();
    const response = await fetch(`${c.switchyard.url}/webhooks/shopify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': 'app/uninstalled',
        'x-shopify-shop-domain': c.creds.shop,
        'x-shopify-webhook-id': webhookId,
        'x-shopify-triggered-at': new Date().toISOString(),
        'x-shopify-hmac-sha256': createHmac('sha256', c.creds.clientSecret).update(body).digest('base64'),
      },
      body,
    });
    expect(response.status).toBe(200);
    await waitFor('the delivery to be processed', async () => (await inboxStatus(webhookId)) === 'processed', 30_000);
    expect(await shopStatus()).toBe('connected');
  });

  test('a real uninstall (Shopify then refuses the token) marks the shop uninstalled', async () => {
    const answer = await fetch(`${c.sim.url}/_sim/shops/${c.creds.shop}/apps/${encodeURIComponent(c.creds.accessToken)}`, { method: 'DELETE' });
    expect(answer.status).toBe(200);
    await waitFor('the uninstall to be applied', async () => (await shopStatus()) === 'uninstalled', 30_000);
  });
});
