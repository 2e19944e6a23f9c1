// Routing end to end: orders placed in the simulated Shopify are routed as they arrive, explained
// over HTTP, rejected and re-routed, rule documents validated over HTTP, replayed, and lines parked
// past their date auto-cancelled in Shopify exactly once.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import type { Switchyard } from '../src/main/switchyard.js';
import type { ShopCredentials, Simulator } from '../src/simulator/server.js';
import { placeOrder, type SimOrder } from '../src/simulator/orders.js';
import type { SimShop } from '../src/simulator/state.js';
import { queryRows } from '../src/platform/db/rows.js';
import { compareCountersWithLedger } from '../src/domains/inventory/index.js';

let c: Connected;
let sim: Simulator;
let creds: ShopCredentials;
let switchyard: Switchyard;
let shop: SimShop;

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 31, products: 20, stores: 3, plan: 'enterprise', bucketFactor: 20 });
  ({ sim, creds, shop, switchyard } = c);
}, 120_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${switchyard.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}
const db = () => switchyard.database.db;
const orderGid = (o: SimOrder) => encodeURIComponent(`gid://shopify/Order/${o.id}`);

async function linesOf(o: SimOrder) {
  return queryRows<{ id: number; sku: string; status: string; code: string | null; quantity: number }>(
    db(),
    sql`select ol.id, ol.sku, ol.status, f.code, ol.current_quantity as quantity from order_lines ol join orders o on o.id = ol.order_id
        left join facilities f on f.id = ol.facility_id where o.shopify_order_id = ${`gid://shopify/Order/${o.id}`} order by ol.id`,
  );
}

const variantsAt = (locationId: number, atLeast: number) =>
  [...shop.variants.values()].filter(
    (v) => (shop.level(v.inventoryItemId, locationId)?.quantities.available ?? 0) >= atLeast,
  );

describe(`routing against Shopify (${backend})`, () => {
  const placed: SimOrder[] = [];

  test('orders placed in Shopify are routed as they arrive, and the routing is explained', async () => {
    const warehouse = [...shop.locations.values()].find((l) => l.kind === 'warehouse')!;
    const stocked = variantsAt(warehouse.id, 5);
    for (let i = 0; i < 5; i++) {
      const result = placeOrder(shop, {
        lines: [
          { variantId: stocked[i]!.id, quantity: 1 },
          { variantId: stocked[i + 5]!.id, quantity: 2 },
        ],
        shipping: 'standard',
      });
      if (!result.ok) throw new Error(JSON.stringify(result.userErrors));
      placed.push(result.value);
    }
    await sim.webhooks(creds.shop).idle();
    await waitFor(
      'the orders to be routed',
      async () => {
        const lines = await Promise.all(placed.map(linesOf));
        return lines.every((l) => l.length === 2) && lines.flat().every((l) => l.status === 'brokered');
      },
      60_000,
      200,
    );
    const { status, body } = await api('GET', `/api/v1/orders/${orderGid(placed[0]!)}/routing`);
    expect(status).toBe(200);
    expect(body.lines).toHaveLength(2);
    expect(body.lines[0].where).toMatch(/^at /);
    // Routed by the arrivals job, or by the minute's sweep when its slot came as the orders arrived.
    expect(body.decisions[0]).toMatchObject({
      run: 'default',
      routing: 'All waiting orders',
      trigger: expect.stringMatching(/^(arrivals|sweep)$/),
    });
    expect(body.decisions[0].summary).toMatch(/^Routed: /);
    expect(body.decisions[0].rules[0].rule).toBe('One facility for the whole order');
    expect(body.decisions[0].rules[0].scores[0]).toMatch(/score [\d.]+ \(/);
    // Reserved where routed: reserved counters match the brokered lines.
    const [r] = await queryRows<{ reserved: number; brokered: number }>(
      db(),
      sql`select (select coalesce(sum(reserved), 0)::int from inventory_levels) as reserved, (select coalesce(sum(current_quantity), 0)::int from order_lines where status = 'brokered') as brokered`,
    );
    expect(r!.reserved).toBe(r!.brokered);
  }, 90_000);

  test('a store rejects a line: re-routed at once elsewhere; wrong requests are refused and change nothing', async () => {
    const [line] = await linesOf(placed[1]!);
    const rejected = await api('POST', `/api/v1/orders/${orderGid(placed[1]!)}/lines/${line!.id}/reject`, {
      facility: line!.code,
      reason: 'damaged',
      note: 'box crushed',
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({
      rejectedLineIds: [line!.id],
      stockEffect: 'lower',
      stockDelta: -line!.quantity,
    });
    const after = (await linesOf(placed[1]!))[0]!;
    expect(after.code).not.toBe(line!.code);
    expect(['brokered', 'unfillable']).toContain(after.status);
    const explained = (await api('GET', `/api/v1/orders/${orderGid(placed[1]!)}/routing`)).body;
    expect(explained.lines[0].rejectedBy).toEqual([line!.code]);
    expect(explained.decisions.at(-1).trigger).toBe('rejection:damaged');

    const again = await api('POST', `/api/v1/orders/${orderGid(placed[1]!)}/lines/${line!.id}/reject`, {
      facility: line!.code,
      reason: 'damaged',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toMatch(/^routing\./);
    const unknownReason = await api(
      'POST',
      `/api/v1/orders/${orderGid(placed[2]!)}/lines/${(await linesOf(placed[2]!))[0]!.id}/reject`,
      { facility: 'X', reason: 'bored' },
    );
    expect(unknownReason.status).toBe(400);
    expect(unknownReason.body.error.message).toContain('"bored" is not a rejection reason');
    const noLine = await api('POST', `/api/v1/orders/${orderGid(placed[2]!)}/lines/999999/reject`, {
      facility: 'X',
      reason: 'damaged',
    });
    expect(noLine.status).toBe(404);
    const badReason = await api('PUT', '/api/v1/routing/rejection-reasons/lost', {
      label: 'Lost',
      stockEffect: 'vanish',
    });
    expect(badReason.status).toBe(400);
    expect(
      (await api('GET', '/api/v1/routing/rejection-reasons')).body.reasons.map((r: { code: string }) => r.code),
    ).not.toContain('lost');
    expect((await compareCountersWithLedger(db())).drift).toEqual([]);
  }, 60_000);

  test('rule documents over HTTP: 400 with every problem and nothing saved; drafts, activation, rollback, replay', async () => {
    const before = (await api('GET', '/api/v1/routing/versions')).body.versions.length;
    const bad = await api('POST', '/api/v1/routing/versions', {
      name: 'bad',
      document: {
        runs: [{ code: 'x', routings: [{ name: 'r', rules: [{ name: 'a', filters: { groupsInclude: ['nope'] } }] }] }],
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('routing.invalid_rules');
    expect(bad.body.error.details.problems).toEqual(
      expect.arrayContaining([
        {
          path: '$.runs[0].routings[0].rules[0].filters.groupsInclude[0]',
          message: 'no facility group has code "nope"',
        },
        {
          path: '$.runs[0].routings[0].rules[0].onUnfilled',
          message: 'the last rule has no next rule: say which queue gets what is left',
        },
      ]),
    );
    const notJson = await fetch(`${switchyard.url}/api/v1/routing/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "x", "document": {',
    });
    expect(notJson.status).toBe(400);
    expect((await api('GET', '/api/v1/routing/versions')).body.versions.length).toBe(before);
    const validated = await api('POST', '/api/v1/routing/validate', { runs: [] });
    expect(validated.body).toMatchObject({
      valid: false,
      problems: [{ path: '$.runs', message: 'must be a non-empty list of brokering runs' }],
    });

    const defaults = (await api('GET', '/api/v1/routing/default-rules')).body;
    defaults.runs[0].routings[0].rules[1].assignment = { mode: 'split', minPartValue: 1000 };
    const draft = await api('POST', '/api/v1/routing/versions', { name: 'high split threshold', document: defaults });
    expect(draft.status).toBe(201);
    expect(draft.body.status).toBe('draft');
    // A replay is queued and run by a job; the caller polls it.
    const finished = async (queued: { status: number; body: { id: number; status: string } }) => {
      expect(queued.status).toBe(202);
      expect(queued.body.status).toBe('queued');
      return waitFor(
        'the replay to finish',
        async () => {
          const { body } = await api('GET', `/api/v1/routing/replays/${queued.body.id}`);
          return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
        },
        60_000,
        200,
      );
    };
    const replay = await finished(
      await api('POST', '/api/v1/routing/replay', {
        draftId: draft.body.id,
        from: new Date(Date.now() - 86_400_000).toISOString(),
        to: new Date(Date.now() + 60_000).toISOString(),
      }),
    );
    expect(replay.status).toBe('succeeded');
    expect(replay.progress).toEqual({ percent: 100, message: 'done' });
    expect(replay.result.candidate.metrics.orders).toBeGreaterThanOrEqual(placed.length);
    expect(replay.result.baseline.metrics.orders).toBe(replay.result.candidate.metrics.orders);
    expect(replay.result.ratios).toHaveProperty('fillRate');
    const generated = await finished(
      await api('POST', '/api/v1/routing/replay', { draftId: draft.body.id, generated: { orders: 200, seed: 3 } }),
    );
    expect(generated.result.candidate.metrics.orders).toBe(200);
    // Too many orders: refused at once, with the limit, and nothing queued.
    const tooMany = await api('POST', '/api/v1/routing/replay', {
      draftId: draft.body.id,
      generated: { orders: 200_000, seed: 3 },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toContain('must be <= 50000');
    expect((await api('GET', `/api/v1/routing/replays/${generated.id + 1}`)).status).toBe(404);
    const activated = await api('POST', `/api/v1/routing/versions/${draft.body.id}/activate`);
    expect(activated.body.status).toBe('active');
    const frozen = await api('PUT', `/api/v1/routing/versions/${draft.body.id}`, { name: 'renamed' });
    expect(frozen.status).toBe(409);
    const rolledBack = await api('POST', '/api/v1/routing/rollback');
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.body.id).not.toBe(draft.body.id);
  }, 60_000);

  test('lines parked past their date are cancelled in Shopify once: whole orders cancelled, partial ones refunded', async () => {
    // Rules that route only to a group holding one warehouse; park the rest with a 1-day auto-cancel.
    const warehouse = [...shop.locations.values()].find((l) => l.kind === 'warehouse')!;
    const facilities = (await api('GET', '/api/v1/facilities')).body.facilities as Array<{
      code: string;
      shopifyLocationId: string | null;
    }>;
    const whCode = facilities.find((f) => f.shopifyLocationId === `gid://shopify/Location/${warehouse.id}`)!.code;
    await switchyard.database.db.execute(
      sql`insert into facility_groups (code, name) values ('one-wh', 'One warehouse')`,
    );
    await switchyard.database.db.execute(
      sql`insert into facility_group_members (group_id, facility_id) select g.id, f.id from facility_groups g, facilities f where g.code = 'one-wh' and f.code = ${whCode}`,
    );
    const doc = (await api('GET', '/api/v1/routing/default-rules')).body;
    doc.runs[0].routings[0].rules = [
      {
        name: 'warehouse only',
        filters: { groupsInclude: ['one-wh'] },
        assignment: { mode: 'split' },
        onUnfilled: { action: 'queue', queue: 'unfillable', autoCancelAfterDays: 1 },
      },
    ];
    const draft = await api('POST', '/api/v1/routing/versions', { name: 'warehouse only', document: doc });
    expect((await api('POST', `/api/v1/routing/versions/${draft.body.id}/activate`)).status).toBe(200);
    // A SKU the warehouse has none of (in Switchyard's truth): zero it with a variance.
    const [stockedSku, emptySku] = variantsAt(warehouse.id, 3).slice(20);
    const level = await queryRows<{ on_hand: number }>(
      db(),
      sql`select l.on_hand from inventory_levels l join variants v on v.id = l.variant_id join facilities f on f.id = l.facility_id where v.sku = ${emptySku!.sku} and f.code = ${whCode}`,
    );
    await api('POST', '/api/v1/inventory/variances', {
      facility: whCode,
      sku: emptySku!.sku,
      kind: 'damaged',
      quantity: level[0]!.on_hand,
      reason: 'test: none left',
    });
    const whole = placeOrder(shop, { lines: [{ variantId: emptySku!.id, quantity: 1 }], shipping: 'standard' });
    const partial = placeOrder(shop, {
      lines: [
        { variantId: stockedSku!.id, quantity: 1 },
        { variantId: emptySku!.id, quantity: 1 },
      ],
      shipping: 'standard',
    });
    if (!whole.ok || !partial.ok) throw new Error('order refused');
    await sim.webhooks(creds.shop).idle();
    await waitFor(
      'the orders to be decided',
      async () =>
        (await linesOf(partial.value)).every((l) => l.status !== 'approved' && l.status !== 'created') &&
        (await linesOf(whole.value))[0]?.status === 'unfillable',
      60_000,
      200,
    );
    expect((await linesOf(partial.value)).map((l) => l.status)).toEqual(['brokered', 'unfillable']);
    const parkedQueue = await api('GET', '/api/v1/routing/queues/unfillable');
    expect(parkedQueue.body.lines.some((l: { order_name: string }) => l.order_name === whole.value.name)).toBe(true);

    // A day later (moved in the database: the job reads the real clock).
    await db().execute(
      sql`update order_lines set auto_cancel_at = now() - interval '1 minute' where status = 'unfillable'`,
    );
    const run = await switchyard.jobs.runHere('routing.auto-cancel', 'cli');
    expect(run.status, run.error ?? '').toBe('succeeded');
    expect(shop.orders.get(whole.value.id)!.cancelledAt).not.toBeNull();
    const partialInShopify = shop.orders.get(partial.value.id)!;
    expect(partialInShopify.cancelledAt).toBeNull();
    expect(partialInShopify.lineItems.map((l) => l.currentQuantity)).toEqual([1, 0]);
    // Once: a second run finds nothing due and Shopify is unchanged.
    const second = await switchyard.jobs.runHere('routing.auto-cancel', 'cli');
    expect(second.counts).toEqual({});
    expect(partialInShopify.lineItems.map((l) => l.currentQuantity)).toEqual([1, 0]);
    await sim.webhooks(creds.shop).idle();
    await waitFor(
      "Shopify's changes to come back",
      async () =>
        (await linesOf(whole.value))[0]!.status === 'cancelled' &&
        (await linesOf(partial.value))[1]!.status === 'cancelled',
      60_000,
      200,
    );
    expect((await linesOf(partial.value))[0]!.status).toBe('brokered');
  }, 120_000);
});
