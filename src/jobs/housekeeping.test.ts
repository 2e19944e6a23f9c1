import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../test/support/backend.js';
import type { Database } from '../platform/db/client.js';
import { queryRows } from '../platform/db/rows.js';
import { autovacuumRunning, upkeepTables } from './housekeeping.js';

let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
});
afterAll(() => testDb.drop());

interface Stats extends Record<string, unknown> {
  dead: number;
  vacuums: number;
  analyzes: number;
}

const groupStats = async () =>
  (
    await queryRows<Stats>(
      database.db,
      sql`select n_dead_tup::int8 as dead, (vacuum_count + autovacuum_count)::int8 as vacuums, (analyze_count + autoanalyze_count)::int8 as analyzes
            from pg_stat_user_tables where schemaname = 'public' and relname = 'facility_groups'`,
    )
  )[0]!;

describe(`table upkeep on ${backend}`, () => {
  test('autovacuum is seen running exactly when the server runs it (never on the embedded database)', async () => {
    // PostgreSQL starts the launcher when autovacuum and track_counts are both on.
    const [settings] = await queryRows<{ autovacuum: string; track_counts: string }>(
      database.db,
      sql`select current_setting('autovacuum') as autovacuum, current_setting('track_counts') as track_counts`,
    );
    const serverRunsIt = backend === 'postgres' && settings!.autovacuum === 'on' && settings!.track_counts === 'on';
    expect(await autovacuumRunning(database.db)).toBe(serverRunsIt);
  });

  test('a table with many dead rows is vacuumed and analyzed once; quiet tables are left alone', async () => {
    // Churn: 2,000 rows written, every one rewritten, half deleted. The statistics are flushed when the
    // session goes idle; forcing it spares the test the collector's 1–10 s pause.
    await database.db.transaction(async (tx) => {
      await tx.execute(
        sql`insert into facility_groups (code, name) select 'g' || g, 'Group ' || g from generate_series(1, 2000) g`,
      );
      await tx.execute(sql`update facility_groups set name = name || '!'`);
      await tx.execute(sql`delete from facility_groups where id % 2 = 0`);
      await tx.execute(sql`select pg_stat_force_next_flush()`);
    });
    const deadline = Date.now() + 20_000;
    while ((await groupStats()).dead === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const before = await groupStats();
    expect(before.dead).toBeGreaterThan(1000);

    const first = await upkeepTables(database.db, { evenWithAutovacuum: true });
    expect(first.needed).toBe(true);
    expect(first.vacuumed).toContain('public.facility_groups');
    expect(first.vacuumed).not.toContain('public.facilities');
    const after = await groupStats();
    expect(after.dead).toBe(0);
    expect(after.vacuums).toBeGreaterThan(before.vacuums);
    expect(after.analyzes).toBeGreaterThan(before.analyzes);
    const [live] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int8 as n from facility_groups`);
    expect(live!.n).toBe(1000);

    const second = await upkeepTables(database.db, { evenWithAutovacuum: true });
    expect(second.vacuumed).not.toContain('public.facility_groups');
    expect(second.analyzed).not.toContain('public.facility_groups');
  });
});
