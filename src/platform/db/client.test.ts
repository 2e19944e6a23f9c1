import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import type { Database } from './client.js';
import { queryRows } from './rows.js';

let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
});
afterAll(() => testDb.drop());

describe(`database on ${backend}`, () => {
  test('reports which backend it is', () => {
    expect(database.kind).toBe(backend);
  });

  test('the same query returns the same JS types on both backends', async () => {
    const [row] = await queryRows(
      database.db,
      sql`select 42::int2 as small, 7::int4 as int, 9007199254740991::int8 as big, array[1,2]::int8[] as bigs,
                 12.50::numeric(14,2) as money, true as flag, 'x'::text as label, array['a','b']::text[] as tags,
                 '{"a":[1,2]}'::jsonb as doc, '2026-11-28'::date as day, array['2026-11-28']::date[] as days,
                 '2026-11-28T06:00:00Z'::timestamptz as at, 1.5::float8 as ratio, null::int8 as missing`,
    );
    expect(row).toEqual({
      small: 42,
      int: 7,
      big: 9007199254740991,
      bigs: [1, 2],
      money: '12.50',
      flag: true,
      label: 'x',
      tags: ['a', 'b'],
      doc: { a: [1, 2] },
      day: '2026-11-28',
      days: ['2026-11-28'],
      at: new Date('2026-11-28T06:00:00Z'),
      ratio: 1.5,
      missing: null,
    });
  });

  test('an int8 beyond 2^53 is refused rather than silently rounded', async () => {
    await expect(queryRows(database.db, sql`select 9007199254740993::int8 as big`)).rejects.toThrow(
      /beyond JavaScript's safe integer range/,
    );
    const viaDrizzle = await database.db
      .execute(sql`select 9007199254740993::int8 as big`)
      .catch((error: unknown) => error);
    expect(String((viaDrizzle as { cause?: unknown }).cause ?? viaDrizzle)).toMatch(
      /beyond JavaScript's safe integer range/,
    );
  });

  test('ids and counts come back as numbers through drizzle, raw SQL and inside transactions', async () => {
    const rows = await queryRows<{ id: number }>(
      database.db,
      sql`insert into facility_groups (code, name) values ('g1', 'Group 1') returning id`,
    );
    expect(typeof rows[0]!.id).toBe('number');
    const viaDrizzle = (await database.db.execute(sql`select count(*) as n from facility_groups`)) as unknown as {
      rows: Array<{ n: unknown }>;
    };
    expect(viaDrizzle.rows[0]!.n).toBe(1);
    const inTx = await database.db.transaction(async (tx) =>
      queryRows<{ n: number; at: Date }>(tx, sql`select count(*) as n, now() as at from facility_groups`),
    );
    expect(inTx[0]!.n).toBe(1);
    expect(inTx[0]!.at).toBeInstanceOf(Date);
  });

  test('queries run without JIT compilation, inside transactions too', async () => {
    const [plain] = await queryRows<{ jit: string }>(database.db, sql`show jit`);
    expect(plain!.jit).toBe('off');
    const inTx = await database.db.transaction(async (tx) => queryRows<{ jit: string }>(tx, sql`show jit`));
    expect(inTx[0]!.jit).toBe('off');
  });

  test('migrations are idempotent', async () => {
    const first = await database.migrationStatus();
    expect(first).toEqual({
      version: '0014_shopify_credentials',
      applied: first.available,
      available: first.available,
    });
    const again = await database.migrate();
    expect(again).toEqual(first);
    const tables = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    expect(tables[0]!.n).toBe(first.available);
  });

  test('the core schema has the tables later rooms build on', async () => {
    const rows = await queryRows<{ table_name: string }>(
      database.db,
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'facilities',
      'facility_capacity_usage',
      'facility_group_members',
      'facility_groups',
      'fulfillment_push_log',
      'fulfillment_pushes',
      'fulfillment_sync',
      'inventory_count_marks',
      'inventory_import_rows',
      'inventory_imports',
      'inventory_ledger',
      'inventory_levels',
      'inventory_publish_log',
      'inventory_publish_queue',
      'inventory_sync_differences',
      'job_runs',
      'job_schedules',
      'order_history',
      'order_lines',
      'order_refund_lines',
      'orders',
      'outbox',
      'products',
      'rejection_reasons',
      'reservations',
      'routing_decisions',
      'routing_replays',
      'routing_rule_versions',
      'routing_run_slots',
      'safety_stock_rules',
      'settings',
      'shipment_lines',
      'shipments',
      'shopify_credentials',
      'shopify_inventory_snapshot',
      'shopify_oauth_states',
      'shops',
      'variants',
      'webhook_inbox',
    ]);
  });
});

describe('concurrent migrations', () => {
  test('processes starting together on one fresh database migrate it once', async () => {
    const fresh = await createTestDatabase();
    try {
      if (backend === 'postgres') {
        const [a, b, c] = await Promise.all([
          fresh.open({ migrate: false }),
          fresh.open({ migrate: false }),
          fresh.open({ migrate: false }),
        ]);
        const statuses = await Promise.all([a!.migrate(), b!.migrate(), c!.migrate()]);
        for (const status of statuses) expect(status.applied).toBe(status.available);
        const rows = await queryRows<{ n: number }>(
          a!.db,
          sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
        );
        expect(rows[0]!.n).toBe(statuses[0]!.available);
      } else {
        // The embedded database serves a single process: concurrent callers share one instance.
        const only = await fresh.open({ migrate: false });
        const statuses = await Promise.all([only.migrate(), only.migrate()]);
        for (const status of statuses) expect(status.applied).toBe(status.available);
      }
    } finally {
      await fresh.drop();
    }
  });
});
