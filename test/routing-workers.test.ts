// Two workers route the same queues at once: no unit is reserved twice, no line is lost. On
// PostgreSQL they are two processes; on the embedded database (one process by design) two routing
// passes run side by side in this process.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from './support/backend.js';
import { startChild } from './support/child.js';
import { makeFixture, SKUS, type Fixture } from './support/routing-fixture.js';
import type { Database, Db } from '../src/platform/db/client.js';
import { queryRows } from '../src/platform/db/rows.js';
import { makeRandom } from '../src/platform/random.js';
import { compareCountersWithLedger } from '../src/domains/inventory/index.js';
import { defaultRuleDocument, runBrokering, type BrokeringCounts } from '../src/domains/routing/index.js';

let testDb: TestDatabase;
let database: Database;
let db: Db;
let fx: Fixture;
const now = new Date();
const ORDERS = 400;

/** The same shop every time: scarce stock, 400 orders (standard, express, pickup), capacity on one store. */
async function seed() {
  await fx.reset();
  // Default rules, but taking only the brokering queue: each line is decided exactly once (the
  // default also re-tries parked lines, which a second worker would then decide again).
  const rules = defaultRuleDocument();
  rules.runs[0]!.routings[0]!.orderFilters.queues = ['brokering'];
  await fx.rules(rules);
  // Scarce stock: about 1,000 units wanted, 500 on hand, spread over the facilities.
  const random = makeRandom(42);
  for (const sku of SKUS)
    for (const f of ['WH-EAST', 'WH-WEST', 'ST-BOS', 'ST-PHL', 'ST-CHI']) await fx.stock(sku, f, random.int(5, 28));
  await db.execute(sql`update facilities set daily_order_capacity = 60 where code = 'ST-BOS'`);
  const places = ['NYC', 'BOS', 'PHL', 'LA', 'CHI'] as const;
  for (let i = 0; i < ORDERS; i++) {
    const kind = random.next();
    await fx.order({
      name: `#W${i}`,
      at: random.pick(places),
      lines: Array.from({ length: random.int(1, 3) }, () => ({ sku: random.pick(SKUS), quantity: random.int(1, 2) })),
      ...(kind < 0.15
        ? { method: 'pickup' as const, pickupAt: random.pick(['ST-BOS', 'ST-PHL', 'ST-CHI']) }
        : kind < 0.3
          ? { method: 'express' as const }
          : {}),
    });
  }
}

/** Every order decided once between the runs, no unit reserved twice, capacity kept, ledger = counters. */
async function expectEveryLineDecidedOnce(results: BrokeringCounts[]) {
  // Each worked, and between them they decided every order once.
  expect(results.every((r) => r.orders > 0)).toBe(true);
  const lines = await queryRows<{ status: string; n: number }>(
    db,
    sql`select status, count(*)::int as n from order_lines group by status order by status`,
  );
  expect(lines.find((l) => l.status === 'approved' || l.status === 'created')).toBeUndefined();
  const decided = lines.reduce((n, l) => n + l.n, 0);
  expect(results.reduce((n, r) => n + r.linesRouted + r.linesParked, 0)).toBe(decided);
  const [orderCount] = await queryRows<{ n: number }>(
    db,
    sql`select count(distinct order_id)::int as n from routing_decisions`,
  );
  expect(orderCount!.n).toBe(ORDERS);
  // No unit twice: reserved never above on hand; reserved = the active reservations = the brokered units.
  const over = await queryRows(db, sql`select * from inventory_levels where reserved > on_hand or reserved < 0`);
  expect(over).toEqual([]);
  const mismatch = await queryRows(
    db,
    sql`select l.variant_id, l.facility_id, l.reserved, coalesce(sum(r.quantity), 0)::int as held
        from inventory_levels l left join reservations r on r.variant_id = l.variant_id and r.facility_id = l.facility_id and r.status = 'active'
        group by 1, 2, 3 having l.reserved <> coalesce(sum(r.quantity), 0)`,
  );
  expect(mismatch).toEqual([]);
  const [units] = await queryRows<{ brokered: number; reserved: number; lines_reserved_twice: number }>(
    db,
    sql`select (select coalesce(sum(current_quantity), 0)::int from order_lines where status = 'brokered') as brokered,
               (select coalesce(sum(reserved), 0)::int from inventory_levels) as reserved,
               (select count(*)::int from (select order_line_id from reservations where status = 'active' group by 1 having count(*) > 1) x) as lines_reserved_twice`,
  );
  expect(units!.reserved).toBe(units!.brokered);
  expect(units!.lines_reserved_twice).toBe(0);
  const [capacity] = await queryRows<{ orders: number }>(
    db,
    sql`select coalesce(sum(orders), 0)::int as orders from facility_capacity_usage u join facilities f on f.id = u.facility_id where f.code = 'ST-BOS'`,
  );
  expect(capacity!.orders).toBeLessThanOrEqual(60);
  // Stock was scarce: some lines had to park, so the guards were tested against real contention.
  expect(lines.find((l) => l.status === 'unfillable')?.n ?? 0).toBeGreaterThan(0);
  expect((await compareCountersWithLedger(db)).drift).toEqual([]);
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
  db = database.db;
  fx = await makeFixture(db, now);
}, 120_000);
afterAll(() => testDb.drop());

test(`two workers at once (${backend}): every line decided once, no unit reserved twice, capacity kept`, async () => {
  await seed();
  let results: BrokeringCounts[];
  if (testDb.url) {
    const workers = [
      startChild('test/support/route-worker.ts', [testDb.url, '15'], process.env),
      startChild('test/support/route-worker.ts', [testDb.url, '15'], process.env),
    ];
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes, workers.map((w) => w.output()).join('\n')).toEqual([0, 0]);
    results = workers.map((w) => JSON.parse(w.output().trim().split('\n').at(-1)!) as BrokeringCounts);
  } else {
    const pass = () => runBrokering(db, { runs: 'all', trigger: 'test', now: () => new Date(), batchSize: 15 });
    results = await Promise.all([pass(), pass()]);
  }
  await expectEveryLineDecidedOnce(results);
}, 180_000);

/** Where every line went, by order name and line position. */
async function outcome() {
  return queryRows<{ name: string; status: string; facility: string; quantity: number }>(
    db,
    sql`select o.name, ol.status, f.code as facility, coalesce(sum(r.quantity), 0)::int as quantity
        from order_lines ol join orders o on o.id = ol.order_id join facilities f on f.id = ol.facility_id
        left join reservations r on r.order_line_id = ol.id and r.status = 'active'
        group by o.name, ol.id, ol.status, f.code order by o.name, ol.id`,
  );
}

test(`one worker (${backend}): batches that overlap (read and decide the next while the last one writes) decide exactly as batches in turn`, async () => {
  await seed();
  const inTurn = await runBrokering(db, {
    runs: 'all',
    trigger: 'test',
    now: () => new Date(),
    batchSize: 15,
    pipeline: false,
  });
  const expected = await outcome();
  await seed();
  const overlapping = await runBrokering(db, { runs: 'all', trigger: 'test', now: () => new Date(), batchSize: 15 });
  // Overlapping needs a second connection: PostgreSQL has one, the embedded database takes batches in turn.
  expect(overlapping.pipelined).toBe(backend === 'postgres');
  expect(inTurn.pipelined).toBe(false);
  // Each batch took the one before it off the stock it read: no guard ever failed, and every line went
  // where it went when batches took turns.
  expect(overlapping.conflicts).toBe(0);
  expect(await outcome()).toEqual(expected);
  expect(expected.filter((l) => l.status === 'brokered').length).toBeGreaterThan(ORDERS / 2);
  expect(expected.some((l) => l.status === 'unfillable')).toBe(true);
  expect(overlapping.linesRouted).toBe(inTurn.linesRouted);
  expect(overlapping.approved).toBe(inTurn.approved);
}, 180_000);

test(`one worker (${backend}): a batch whose guard fails is decided again; the batches under way with it finish; nothing lost, nothing taken twice`, async () => {
  await seed();
  // The first batch, as it writes its traces, empties every level in its own transaction: its stock
  // guard fails and it rolls back (the emptying with it), while the next batches (on PostgreSQL) are
  // already under way and took its decisions off. It must be decided again, once.
  await db.execute(sql`create sequence test_steal`);
  await db.execute(
    sql.raw(`create function test_steal() returns trigger language plpgsql as $$
             begin if nextval('test_steal') = 1 then update inventory_levels set on_hand = reserved; end if; return null; end $$`),
  );
  await db.execute(
    sql`create trigger test_steal after insert on routing_decisions for each statement execute function test_steal()`,
  );
  try {
    const counts = await runBrokering(db, { runs: 'all', trigger: 'test', now: () => new Date(), batchSize: 15 });
    expect(counts.conflicts).toBe(1);
    expect(counts.pipelined).toBe(backend === 'postgres');
    await expectEveryLineDecidedOnce([counts]);
  } finally {
    await db.execute(sql`drop trigger test_steal on routing_decisions`);
    await db.execute(sql`drop function test_steal()`);
    await db.execute(sql`drop sequence test_steal`);
  }
}, 180_000);
