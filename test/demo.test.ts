// The demo behind `npm start`: with no shop configured, `switchyard serve` runs its own simulated
// Shopify store with customers and a store bot; within a minute orders arrive, are routed, shipped
// or handed over, and the API shows them (and Shopify got the fulfilments).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { childEnv, waitFor } from './support/backend.js';
import { CLI, startChild, type Child } from './support/child.js';

const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
let child: Child | undefined;
let demoUrl: string | undefined;

afterAll(async () => {
  child?.kill('SIGTERM');
  if (child) await child.exited;
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('demo mode', () => {
  test('npm start with no shop: orders flow, are routed and fulfilled within a minute, and the API shows them', async () => {
    const env = childEnv(
      { url: undefined, dataDir },
      {
        PORT: '0',
        SWITCHYARD_DEMO: 'auto',
        SWITCHYARD_DEMO_ORDERS_PER_MINUTE: '30',
        SWITCHYARD_DEMO_ASSOCIATE_SECONDS: '2',
      },
    );
    delete env['DATABASE_URL'];
    child = startChild(CLI, ['serve'], env);
    const banner = await child.waitForLine(/API docs\s+http:\/\/\S+\/docs/, 60_000);
    const url = banner.match(/(http:\/\/\S+)\/docs/)![1]!;
    const started = Date.now();
    expect(child.output()).toContain('Switchyard demo: no Shopify shop is configured');
    const get = async (path: string) => (await (await fetch(`${url}${path}`)).json()) as any;

    const done = await waitFor(
      'orders routed and fulfilled',
      async () => {
        const orders = (await get('/api/v1/orders?limit=250')).orders as Array<{
          status: string;
          lines: Array<{ status: string }>;
        }>;
        const routed = orders.filter((o) =>
          o.lines.some((l) => ['brokered', 'in_progress', 'shipped', 'picked_up'].includes(l.status)),
        );
        // Completed through the store work (a counter sale is complete from the start).
        const completed = orders.filter(
          (o) => o.status === 'completed' && o.lines.some((l) => l.status === 'shipped' || l.status === 'picked_up'),
        );
        return completed.length > 0
          ? { orders: orders.length, routed: routed.length, completed: completed.length }
          : null;
      },
      90_000,
      1000,
    );
    expect(done.orders).toBeGreaterThan(1);
    expect(done.routed).toBeGreaterThan(0);
    console.info(`[demo] after ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(done)}`);
    // Shopify heard of it: some push confirmed.
    const health = await get('/api/v1/sync/health');
    expect(health.shop.status).toBe('connected');
    await waitFor(
      'a fulfilment pushed to Shopify',
      async () => {
        const runs = await get('/api/v1/jobs/fulfillment.push/runs?limit=50');
        return runs.runs.some((r: { counts: Record<string, number> }) => (r.counts['orders'] ?? 0) > 0);
      },
      30_000,
      500,
    );
    demoUrl = url;
  }, 180_000);

  test('a second npm start in the same folder exits naming the first, and leaves it untouched', async () => {
    expect(demoUrl).toBeDefined();
    const ordersNow = async () =>
      ((await (await fetch(`${demoUrl}/api/v1/orders?limit=250`)).json()) as { orders: unknown[] }).orders.length;
    const before = await ordersNow();
    const env = childEnv({ url: undefined, dataDir }, { PORT: '0', SWITCHYARD_DEMO: 'auto' });
    delete env['DATABASE_URL'];
    const second = startChild(CLI, ['serve'], env);
    const timer = setTimeout(() => second.kill('SIGKILL'), 40_000);
    expect(await second.exited).toBe(1);
    clearTimeout(timer);
    expect(second.output()).toContain(`in use by another Switchyard process (pid ${child!.process.pid}`);
    // The first demo still runs on its data.
    expect(await ordersNow()).toBeGreaterThanOrEqual(before);
    expect(
      ((await (await fetch(`${demoUrl}/api/v1/sync/health`)).json()) as { shop: { status: string } }).shop.status,
    ).toBe('connected');
  }, 60_000);

  test('the demo will not listen beyond this machine without a token', async () => {
    const other = mkdtempSync(join(tmpdir(), 'switchyard-demo-host-'));
    try {
      const env = childEnv({ url: undefined, dataDir: other }, { PORT: '0', SWITCHYARD_DEMO: 'auto', HOST: '0.0.0.0' });
      delete env['DATABASE_URL'];
      const open = startChild(CLI, ['serve'], env);
      expect(await open.exited).toBe(2);
      expect(open.output()).toContain(
        'HOST must be this machine (127.0.0.1) for the demo unless SWITCHYARD_API_TOKEN is set',
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 60_000);
});
