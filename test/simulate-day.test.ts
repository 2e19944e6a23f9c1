// A small retail day with every fault on, on this backend: the invariants hold and the report says
// what happened (`switchyard simulate-day`, run in-process here).
import { describe, expect, test } from 'vitest';
import { backend, createTestDatabase, testConfig } from './support/backend.js';
import { simulateDay } from '../src/harness/simulate-day.js';

// On PostgreSQL the jobs run in two worker processes, killed (SIGKILL) twice during the day.
const killWorker = backend === 'postgres' ? 2 : 0;

describe(`a day in the life (${backend})`, () => {
  test(`250 orders under dropped, duplicated webhooks and API errors${killWorker ? ', workers killed twice' : ''}: every invariant holds`, async () => {
    const testDb = await createTestDatabase();
    try {
      const config = testConfig(testDb);
      const report = await simulateDay(config, {
        orders: 250,
        stores: 4,
        products: 30,
        seed: 7,
        dropWebhooks: 0.3,
        duplicateWebhooks: 0.05,
        apiErrors: 0.02,
        killWorker,
        clockSpeed: 1440,
        tokenLifetimeSeconds: 15,
      });
      console.info(
        `[simulate-day] ${JSON.stringify({ orders: report.orders, orderToRoutedMs: report.orderToRoutedMs, api: report.shopifyApi, webhooks: report.webhooks, seconds: report.durationSeconds })}`,
      );
      expect(report.invariants.filter((i) => !i.holds)).toEqual([]);
      expect(report.invariants).toHaveLength(8);
      // Connected with the client ID and secret; tokens of 15 s expired and were renewed all day.
      expect(report.credentials.tokensIssued).toBeGreaterThanOrEqual(3);
      // Online orders, and POS sales with items shipped to the customer (routed like them).
      expect(report.customerEvents['pos_ship']).toBeGreaterThan(0);
      expect(report.orders.placed).toBe(250 + report.customerEvents['pos_ship']!);
      // Returns brought to stores happened, and the restock invariant above had some to check.
      expect(report.customerEvents['return']).toBeGreaterThan(0);
      expect(report.orders.routed).toBeGreaterThan(180);
      expect(report.orders.shipped + report.orders.pickedUp).toBeGreaterThan(180);
      expect(report.webhooks.dropped).toBeGreaterThan(0);
      expect(report.shopifyApi.faultsInjected).toBeGreaterThan(0);
      if (killWorker) {
        expect(report.workers?.kills).toHaveLength(killWorker);
        expect(report.workers!.kills.every((k) => k.restartedPid !== k.pid)).toBe(true);
      } else {
        expect(report.workers).toBeNull();
      }
      expect(report.ok).toBe(true);
    } finally {
      await testDb.drop();
    }
  }, 600_000);

  test('killing workers on the embedded database is refused with the reason', async () => {
    const testDb = await createTestDatabase();
    try {
      await expect(
        simulateDay(
          { ...testConfig(testDb), databaseUrl: undefined },
          {
            orders: 1,
            stores: 1,
            products: 1,
            seed: 1,
            dropWebhooks: 0,
            duplicateWebhooks: 0,
            apiErrors: 0,
            killWorker: 1,
            clockSpeed: 1440,
          },
        ),
      ).rejects.toThrow(/--kill-worker needs PostgreSQL/);
    } finally {
      await testDb.drop();
    }
  });
});
