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

afterAll(async () => {
  child?.kill('SIGTERM');
  if (child) await child.exited;
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('demo mode', () => {
  test('npm start with no shop: orders flow, are routed and fulfilled within a minute, and the API shows them', async () => {
    const env = childEnv({ url: undefined, dataDir }, { PORT: '0', SWITCHYARD_DEMO: 'auto', SWITCHYARD_DEMO_ORDERS_PER_MINUTE: '30', SWITCHYARD_DEMO_ASSOCIATE_SECONDS: '2' });
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
        const orders = (await get('/api/v1/orders?limit=250')).orders as Array<{ status: string; lines: Array<{ status: string }> }>;
        const routed = orders.filter((o) => o.lines.some((l) => ['brokered', 'in_progress', 'shipped', 'picked_up'].includes(l.status)));
        const completed = orders.filter((o) => o.status === 'completed');
        return completed.length > 0 ? { orders: orders.length, routed: routed.length, completed: completed.length } : null;
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
    const runs = await get('/api/v1/jobs/fulfillment.push/runs?limit=50');
    expect(runs.runs.some((r: { counts: Record<string, number> }) => (r.counts['orders'] ?? 0) > 0)).toBe(true);
  }, 180_000);
});
