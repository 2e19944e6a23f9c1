// Crash test: Switchyard runs as its own process and is killed (SIGKILL) three times while it pushes
// fulfilments to Shopify; Shopify answers each mutation only after a pause, so kills fall between
// "Shopify applied it" and "Switchyard recorded it". After the restarts every shipment has exactly
// one fulfilment in Shopify: none missing, none twice.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { startSwitchyardProcess, type SwitchyardProcess } from './support/switchyard-sim.js';
import { placeOrder } from '../src/simulator/orders.js';
import { queryRows } from '../src/platform/db/rows.js';

const ORDERS = 60;

let p: SwitchyardProcess;
const api = (method: string, path: string, body?: unknown) => p.api(method, path, body);

beforeAll(async () => {
  p = await startSwitchyardProcess({ seed: 53, products: 20, stores: 2, plan: 'enterprise', bucketFactor: 50 });
}, 180_000);

afterAll(async () => {
  await p?.close();
}, 60_000);

describe(`fulfilment pushes survive SIGKILL (${backend})`, () => {
  test('killed three times while pushing: no fulfilment missing or duplicated', async () => {
    const { sim, creds, shop, testDb } = p;
    const warehouse = [...shop.locations.values()]
      .filter((l) => l.kind === 'warehouse')
      .sort((a, b) => a.id - b.id)[0]!;
    const stocked = [...shop.variants.values()].filter(
      (v) => (shop.level(v.inventoryItemId, warehouse.id)?.quantities.available ?? 0) >= 10,
    );
    for (let i = 0; i < ORDERS; i++) {
      const placed = placeOrder(shop, {
        lines: [{ variantId: stocked[i % stocked.length]!.id, quantity: 1 }],
        shipping: 'standard',
      });
      if (!placed.ok) throw new Error(JSON.stringify(placed.userErrors));
    }
    await sim.webhooks(creds.shop).idle();
    const facilities = ((await api('GET', '/api/v1/facilities')).facilities as Array<{ code: string; kind: string }>)
      .filter((f) => f.kind !== 'VIRTUAL')
      .map((f) => f.code);
    const work = async () =>
      (
        await Promise.all(
          facilities.map(async (code) => ({
            code,
            open: (await api('GET', `/api/v1/facilities/${code}/work`)).open as Array<{ orderId: number }>,
          })),
        )
      ).flatMap((w) => w.open.map((o) => ({ code: w.code, orderId: o.orderId })));
    await waitFor('every order routed', async () => (await work()).length === ORDERS, 90_000, 250);

    // Shopify now answers each mutation 300 ms after applying it.
    sim.setFaults(creds.shop, { mutationAnswerDelayMs: 300 });
    const shipped: Array<{ id: number; code: string }> = [];
    const todo = await work();
    let kills = 0;
    for (const [i, item] of todo.entries()) {
      const s = await api('POST', `/api/v1/facilities/${item.code}/shipments`, { order: String(item.orderId) });
      await api('POST', `/api/v1/facilities/${item.code}/shipments/${s.id}/pack`, { packages: [{ weightGrams: 500 }] });
      await api('POST', `/api/v1/facilities/${item.code}/shipments/${s.id}/ship`, {
        carrier: 'DHL',
        trackingNumber: `CRASH-${s.id}`,
      });
      shipped.push({ id: s.id, code: item.code });
      if (i % 20 === 19 && kills < 3) {
        // Let pushes run, then kill in the middle of one: a fulfilment is being created or answered.
        const before = shop.fulfillments.size;
        // (After a kill, the restarted process takes the job over once the dead run's heartbeat is stale: 30 s.)
        await waitFor('pushes to be under way', async () => shop.fulfillments.size > before, 90_000, 10);
        await new Promise((r) => setTimeout(r, 50 + ((i * 37) % 250)));
        p.child().kill('SIGKILL');
        await p.child().exited;
        kills++;
        await p.restart();
      }
    }
    expect(kills).toBe(3);
    await waitFor(
      'every shipment to be confirmed in Shopify',
      async () => {
        const views = await Promise.all(
          shipped.map((s) => api('GET', `/api/v1/facilities/${s.code}/shipments/${s.id}`)),
        );
        return views.every((v) => v.shopify.length === 1 && v.shopify[0].status === 'confirmed');
      },
      // An order the killed process held waits for its claim to run out (a minute) before another takes it.
      180_000,
      500,
    );
    sim.setFaults(creds.shop, { mutationAnswerDelayMs: 0 });
    p.child().kill('SIGTERM');
    await p.child().exited;

    const database = await testDb.open({ migrate: false, onDisk: true });
    const shipments = await queryRows<{
      id: number;
      tracking_number: string;
      shopify_fulfillment_id: string | null;
      pushes: string;
    }>(
      database.db,
      sql`select s.id, s.tracking_number, s.shopify_fulfillment_id, (select string_agg(status, ',') from fulfillment_pushes p where p.shipment_id = s.id) as pushes
          from shipments s where s.status = 'shipped' order by s.id`,
    );
    expect(shipments.map((s) => s.id).sort((a, b) => a - b)).toEqual(shipped.map((s) => s.id).sort((a, b) => a - b));
    const byTracking = new Map<string, number>();
    for (const f of shop.fulfillments.values()) {
      const number = f.trackingInfo[0]?.number ?? '';
      byTracking.set(number, (byTracking.get(number) ?? 0) + 1);
    }
    for (const s of shipments) {
      expect({ shipment: s.id, fulfilments: byTracking.get(s.tracking_number) ?? 0, pushes: s.pushes }).toEqual({
        shipment: s.id,
        fulfilments: 1,
        pushes: 'confirmed',
      });
      expect(shop.fulfillments.get(Number(s.shopify_fulfillment_id!.split('/').pop()))?.trackingInfo[0]?.number).toBe(
        s.tracking_number,
      );
    }
    expect(shop.fulfillments.size).toBe(shipped.length);
    const outcomes = await queryRows<{ outcome: string; n: number }>(
      database.db,
      sql`select outcome, count(*)::int as n from fulfillment_push_log group by 1 order by 1`,
    );
    console.info('[crash test] push outcomes', JSON.stringify(outcomes));
    await database.close();
  }, 600_000);
});
