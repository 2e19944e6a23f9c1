// Stopping under load, again and again: Switchyard is started on one database against a simulated
// shop, orders pour in (webhooks, routing, publishing, store work over HTTP), and it is stopped at a
// random moment. Every stop must finish within its bounds, with no step left unfinished.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, testConfig, waitFor, type TestDatabase } from './support/backend.js';
import { freePort } from './support/net.js';
import { simulatedShopVariables } from './support/switchyard-sim.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { startSimulator, type ShopCredentials, type Simulator } from '../src/simulator/server.js';
import { placeOrder } from '../src/simulator/orders.js';
import { makeLogger } from '../src/platform/logger.js';
import { makeRandom } from '../src/platform/random.js';

// Three in CI (one in the middle of the initial load); STOP_STRESS_CYCLES=20 for a longer hunt.
const CYCLES = Number(process.env['STOP_STRESS_CYCLES'] ?? 3);
/** The grace period the test gives running jobs; every other shutdown step has its own bound. */
const GRACE_SECONDS = 2;

let sim: Simulator;
let creds: ShopCredentials;
let testDb: TestDatabase;
let port: number;

beforeAll(async () => {
  sim = await startSimulator({ webhookTimeScale: 0.0005, bulkStepMs: 20 });
  creds = sim.createShop({ seed: 77, products: 30, stores: 4, plan: 'enterprise', bucketFactor: 50 });
  testDb = await createTestDatabase();
  port = await freePort();
});
afterAll(async () => {
  await sim?.close();
  await testDb?.drop();
});

async function start(log: { text: string }): Promise<Switchyard> {
  const logger = makeLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        log.text += chunk.toString();
        callback();
      },
    }),
  });
  return startSwitchyard(
    testConfig(testDb, {
      ...simulatedShopVariables(sim.url, creds, port),
      SWITCHYARD_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
    }),
    {
      logger,
      syncSettings: { overlapMs: 120_000, delayMs: 0, defaultLookbackMs: 86_400_000 },
      schedulerTickMs: 200,
    },
  );
}

/** Orders into Shopify and requests into Switchyard, until told to stop. */
function load(url: string, seed: number) {
  const shop = sim.shop(creds.shop);
  const random = makeRandom(seed);
  let running = true;
  const variants = [...shop.variants.values()];
  const orders = (async () => {
    while (running) {
      placeOrder(shop, {
        lines: [{ variantId: random.pick(variants).id, quantity: 1 }],
        shipping: random.chance(0.2) ? 'express' : 'standard',
      });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const requests = (async () => {
    while (running) {
      // A refused connection once the server is closing is expected: the point is load up to the stop.
      await fetch(`${url}/api/v1/orders?limit=50`)
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      await fetch(`${url}/api/v1/facilities`)
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
    }
  })();
  return async () => {
    running = false;
    await Promise.all([orders, requests]);
  };
}

describe(`stopping under load (${backend})`, () => {
  test(`${CYCLES} starts and stops at random moments under load: each stop finishes in time, no step left behind`, async () => {
    const random = makeRandom(1904);
    const durations: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const log = { text: '' };
      const switchyard = await start(log);
      // The first stop comes in the middle of the initial load (bulk operations under way); the next
      // start takes it up again.
      if (cycle === 1) {
        await waitFor(
          'the initial load',
          async () =>
            ((await (await fetch(`${switchyard.url}/api/v1/sync/health`)).json()) as { shop: { status: string } }).shop
              .status === 'connected',
          90_000,
          250,
        );
      }
      const stopLoad = load(switchyard.url!, cycle);
      await new Promise((r) => setTimeout(r, cycle === 0 ? 300 : 500 + Math.floor(random.next() * 3_000)));
      if (cycle === 0) {
        const status = (
          (await (await fetch(`${switchyard.url}/api/v1/sync/health`)).json()) as { shop: { status: string } }
        ).shop.status;
        expect(status, 'the first stop comes while the initial load is under way').not.toBe('connected');
      }
      const started = performance.now();
      await switchyard.stop();
      durations.push(Math.round(performance.now() - started));
      await stopLoad();
      const unfinished = log.text.split('\n').filter((l) => l.includes('did not finish in time'));
      expect({ cycle, unfinished }).toEqual({ cycle, unfinished: [] });
      expect(log.text).toContain('"msg":"stopped"');
    }
    console.info(`[stop stress] stop durations (ms): ${durations.join(', ')}`);
    // The grace period for running jobs, plus a few seconds for the server, the queue and the database.
    for (const ms of durations) expect(ms).toBeLessThan((GRACE_SECONDS + 8) * 1000);
  }, 600_000);
});
