// Routing scenarios with hand-computed expectations: each filter, sort, assignment mode, threshold,
// action, express, pickup and rejection path; rule versions and validation; what-if replay.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import { makeFixture, type Fixture } from '../../../test/support/routing-fixture.js';
import type { Database, Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { compareCountersWithLedger } from '../inventory/index.js';
import { ORDER_EVENTS } from '../orders/index.js';
import { makeOrderInventoryHandlers } from '../../flows/order-inventory.js';
import {
  activateVersion,
  activeRules,
  createDraft,
  defaultRuleDocument,
  linesDueForAutoCancel,
  listRuleVersions,
  orderRoutingHistory,
  rejectLine,
  deleteDraft,
  getReplay,
  replayRules,
  requestReplay,
  rollbackRules,
  runQueuedReplays,
  runBrokering,
  setLineHold,
  updateDraft,
  validateRuleDocument,
  type RuleDocument,
  type InventoryRule,
} from './index.js';

let testDb: TestDatabase;
let database: Database;
let db: Db;
let fx: Fixture;
const now = new Date('2026-11-28T15:00:00Z');
const route = (extra: { orderIds?: number[] } = {}) =>
  runBrokering(db, { runs: 'all', trigger: 'test', now: () => now, ...extra });

/** A document with one routing whose rules are given (defaults filled in by validation). */
function rulesWith(
  rules: Array<Partial<InventoryRule> & { name: string }>,
  extra: Partial<RuleDocument> = {},
): RuleDocument {
  const doc = {
    ...defaultRuleDocument(),
    ...extra,
    runs: [
      {
        code: 'main',
        name: 'main',
        schedule: 'continuous',
        routings: [
          {
            name: 'all',
            enabled: true,
            orderFilters: { queues: ['brokering', 'rejected', 'unfillable'] },
            orderSorts: [{ field: 'order_date', direction: 'asc' }],
            rules,
          },
        ],
      },
    ],
  };
  const checked = validateRuleDocument(doc, { groups: new Set(['pilot']) });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return checked.document;
}
const park = { action: 'queue', queue: 'unfillable' } as const;

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
  db = database.db;
  fx = await makeFixture(db, now);
});
afterAll(() => testDb.drop());
beforeEach(() => fx.reset());

describe(`routing scenarios (${backend})`, () => {
  test('default rules: the nearest facility holding the whole order gets it, reserved there', async () => {
    await fx.stock('A', 'WH-EAST', 10);
    await fx.stock('B', 'WH-EAST', 10);
    await fx.stock('A', 'ST-BOS', 5);
    await fx.stock('B', 'ST-BOS', 5);
    const o = await fx.order({
      name: '#1',
      at: 'BOS',
      lines: [
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 1 },
      ],
    });
    const counts = await route();
    expect(counts).toMatchObject({ approved: 2, orders: 1, linesRouted: 2, linesParked: 0 });
    expect(await fx.line(o.lines[0]!)).toMatchObject({ status: 'brokered', facility: 'ST-BOS' });
    expect(await fx.line(o.lines[1]!)).toMatchObject({ status: 'brokered', facility: 'ST-BOS' });
    expect(await fx.level('A', 'ST-BOS')).toEqual({ onHand: 5, reserved: 2 });
    expect(await fx.level('A', 'WH-EAST')).toEqual({ onHand: 10, reserved: 0 });
    const [capacity] = await queryRows<{ orders: number; local_date: string }>(
      db,
      sql`select orders, local_date::text from facility_capacity_usage where facility_id = ${fx.ids['ST-BOS']!}`,
    );
    expect(capacity).toEqual({ orders: 1, local_date: '2026-11-28' });
    // Routing again changes nothing: the order waits no more.
    expect(await route()).toMatchObject({ orders: 0, linesRouted: 0 });
    const [decision] = await orderRoutingHistory(db, o.id);
    expect(decision!.summary).toBe('Routed: 2 line(s) at ST-BOS.');
  });

  test("safety stock is never promised: the level's own figure, else a tag rule, else the facility's default", async () => {
    await fx.stock('A', 'WH-EAST', 10);
    await fx.stock('A', 'ST-BOS', 5);
    await db.execute(sql`update facilities set default_safety_stock = 4 where code = 'ST-BOS'`);
    // 5 on hand − 4 kept = 1 unit at the nearby store: two go to the warehouse.
    const first = await fx.order({ name: '#s1', at: 'BOS', lines: [{ sku: 'A', quantity: 2 }] });
    await route();
    expect(await fx.line(first.lines[0]!)).toMatchObject({ status: 'brokered', facility: 'WH-EAST' });
    // The level's own figure wins over the default.
    await db.execute(
      sql`update inventory_levels set safety_stock = 0 where variant_id = ${fx.ids['A']!} and facility_id = ${fx.ids['ST-BOS']!}`,
    );
    const second = await fx.order({ name: '#s2', at: 'BOS', lines: [{ sku: 'A', quantity: 2 }] });
    await route();
    expect(await fx.line(second.lines[0]!)).toMatchObject({ status: 'brokered', facility: 'ST-BOS' });
    // A tag rule for the store: B is fragile, keep 3 of it there (4 on hand: one can go).
    await fx.stock('B', 'WH-EAST', 10);
    await fx.stock('B', 'ST-BOS', 4);
    await db.execute(
      sql`update products set tags = '{fragile}' where id = (select product_id from variants where id = ${fx.ids['B']!})`,
    );
    await db.execute(
      sql`insert into safety_stock_rules (tag, facility_id, quantity) values ('fragile', ${fx.ids['ST-BOS']!}, 3)`,
    );
    const two = await fx.order({ name: '#s3', at: 'BOS', lines: [{ sku: 'B', quantity: 2 }] });
    const one = await fx.order({ name: '#s4', at: 'BOS', lines: [{ sku: 'B', quantity: 1 }] });
    await route();
    expect(await fx.line(two.lines[0]!)).toMatchObject({ status: 'brokered', facility: 'WH-EAST' });
    expect(await fx.line(one.lines[0]!)).toMatchObject({ status: 'brokered', facility: 'ST-BOS' });
    expect(await fx.level('B', 'ST-BOS')).toEqual({ onHand: 4, reserved: 1 });
  });

  test('orders that are not paid or on hold, and lines sold over a counter, are not approved; a POS line shipped to the customer is', async () => {
    await fx.stock('A', 'WH-EAST', 10);
    const pending = await fx.order({
      name: '#p',
      at: 'NYC',
      lines: [{ sku: 'A', quantity: 1 }],
      financialStatus: 'PENDING',
    });
    const pos = await fx.order({
      name: '#pos',
      at: 'NYC',
      lines: [{ sku: 'A', quantity: 1, overCounter: true }],
      sourceName: 'pos',
    });
    const held = await fx.order({
      name: '#h',
      at: 'NYC',
      lines: [{ sku: 'A', quantity: 1 }],
      tags: ['switchyard-hold'],
    });
    const tagged = await fx.order({
      name: '#t',
      at: 'NYC',
      lines: [{ sku: 'A', quantity: 1 }],
      financialStatus: 'PENDING',
      tags: ['switchyard-approved'],
    });
    const shipAndCarry = await fx.order({
      name: '#pos-ship',
      at: 'NYC',
      lines: [
        { sku: 'A', quantity: 1, overCounter: true },
        { sku: 'A', quantity: 2 },
      ],
      sourceName: 'pos',
    });
    expect(await route()).toMatchObject({ approved: 2, linesRouted: 2 });
    for (const line of [pending.lines[0]!, pos.lines[0]!, held.lines[0]!, shipAndCarry.lines[0]!])
      expect((await fx.line(line)).status).toBe('created');
    expect(await fx.line(tagged.lines[0]!)).toMatchObject({ status: 'brokered', facility: 'WH-EAST' });
    expect(await fx.line(shipAndCarry.lines[1]!)).toMatchObject({ status: 'brokered', facility: 'WH-EAST' });
    expect(await fx.level('A', 'WH-EAST')).toEqual({ onHand: 10, reserved: 3 });
  });

  test('split: no facility holds everything, so each part goes where it is; the trace says why', async () => {
    await fx.stock('A', 'WH-WEST', 3);
    await fx.stock('B', 'ST-PHL', 3);
    const o = await fx.order({
      name: '#2',
      at: 'NYC',
      lines: [
        { sku: 'A', quantity: 1 },
        { sku: 'B', quantity: 1 },
      ],
    });
    await route();
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'WH-WEST', status: 'brokered' });
    expect(await fx.line(o.lines[1]!)).toMatchObject({ facility: 'ST-PHL', status: 'brokered' });
    const [d] = await orderRoutingHistory(db, o.id);
    const trace = d!.trace as {
      split: string;
      rules: Array<{ rule: string; outcome: string; removed: Array<{ filter: string; facilities: string[] }> }>;
    };
    expect(trace.split).toContain('split into 2 parts');
    expect(trace.rules[0]!.rule).toBe('One facility for the whole order');
    expect(trace.rules[0]!.removed.find((r) => r.filter === 'stock' && r.facilities.length > 0)).toEqual({
      filter: 'stock',
      reason: 'cannot fill every line',
      facilities: ['WH-WEST', 'ST-PHL'],
    });
    expect(trace.rules[0]!.removed.find((r) => r.filter === 'stock' && r.facilities.length === 0)).toEqual({
      filter: 'stock',
      reason: 'holds none of these items',
      facilities: [],
      count: 3,
    });
  });

  test('split threshold: a part worth less than the minimum is not split off; it is parked', async () => {
    await fx.rules(
      rulesWith([{ name: 'split if worth it', assignment: { mode: 'split', minPartValue: 20 }, onUnfilled: park }]),
    );
    await fx.stock('A', 'WH-EAST', 3); // A costs 10: under the threshold as a part of its own
    await fx.stock('B', 'ST-PHL', 3); // B costs 30
    const o = await fx.order({
      name: '#3',
      at: 'NYC',
      lines: [
        { sku: 'A', quantity: 1, price: 10 },
        { sku: 'B', quantity: 1, price: 30 },
      ],
    });
    await route();
    expect(await fx.line(o.lines[1]!)).toMatchObject({ facility: 'ST-PHL', status: 'brokered' });
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'QUEUE-UNFILLABLE', status: 'unfillable' });
  });

  test('a kit is never split: it goes whole to a facility that has every piece, else it is parked', async () => {
    await fx.rules(rulesWith([{ name: 'split', assignment: { mode: 'split' }, onUnfilled: park }]));
    await fx.stock('A', 'WH-EAST', 3);
    await fx.stock('B', 'ST-PHL', 3);
    const split = await fx.order({
      name: '#4',
      at: 'NYC',
      lines: [
        { sku: 'A', quantity: 1, group: 'kit' },
        { sku: 'B', quantity: 1, group: 'kit' },
        { sku: 'A', quantity: 1 },
      ],
    });
    await route();
    expect(await fx.line(split.lines[2]!)).toMatchObject({ facility: 'WH-EAST' }); // the loose line still ships
    expect(await fx.line(split.lines[0]!)).toMatchObject({ status: 'unfillable' });
    expect(await fx.line(split.lines[1]!)).toMatchObject({ status: 'unfillable' });
    // Looked at again with nothing changed: still parked, no new decision written.
    const decisionsBefore = (await orderRoutingHistory(db, split.id)).length;
    expect(await route()).toMatchObject({ orders: 0, unchanged: 1 });
    expect((await orderRoutingHistory(db, split.id)).length).toBe(decisionsBefore);
    await fx.stock('A', 'WH-WEST', 1);
    await fx.stock('B', 'WH-WEST', 1);
    await route();
    expect(await fx.line(split.lines[0]!)).toMatchObject({ facility: 'WH-WEST', status: 'brokered' });
    expect(await fx.line(split.lines[1]!)).toMatchObject({ facility: 'WH-WEST', status: 'brokered' });
  });

  test('split: two lines of one item never count the same units twice', async () => {
    await fx.rules(rulesWith([{ name: 'split', assignment: { mode: 'split' }, onUnfilled: park }]));
    await fx.stock('A', 'ST-PHL', 2);
    await fx.stock('A', 'WH-WEST', 5);
    const o = await fx.order({
      name: '#4c',
      at: 'PHL',
      lines: [
        { sku: 'A', quantity: 2 },
        { sku: 'A', quantity: 1 },
      ],
    });
    await route();
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'ST-PHL', status: 'brokered' });
    expect(await fx.line(o.lines[1]!)).toMatchObject({ facility: 'WH-WEST', status: 'brokered' });
    expect(await fx.level('A', 'ST-PHL')).toEqual({ onHand: 2, reserved: 2 });
  });

  test('radius: facilities too far away are removed, named in the trace', async () => {
    await fx.rules(rulesWith([{ name: 'within 100 km', filters: { radiusKm: 100 }, onUnfilled: park }]));
    await fx.stock('A', 'WH-EAST', 3); // New York is about 300 km from Boston
    const far = await fx.order({ name: '#5', at: 'BOS', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(far.lines[0]!)).toMatchObject({ status: 'unfillable' });
    const [d] = await orderRoutingHistory(db, far.id);
    const removed = (
      d!.trace as { rules: Array<{ removed: Array<{ filter: string; reason: string; facilities: string[] }> }> }
    ).rules[0]!.removed;
    expect(removed).toContainEqual({ filter: 'radiusKm', reason: 'more than 100 km away', facilities: ['WH-EAST'] });
    await fx.stock('A', 'ST-BOS', 1);
    const near = await fx.order({ name: '#5b', at: 'BOS', lines: [{ sku: 'A', quantity: 1 }] });
    await route({ orderIds: [near.id] });
    expect(await fx.line(near.lines[0]!)).toMatchObject({ facility: 'ST-BOS' });
  });

  test('facility groups: include keeps only members, exclude removes them', async () => {
    await fx.stock('A', 'WH-EAST', 5);
    await fx.stock('A', 'ST-PHL', 5);
    await fx.rules(rulesWith([{ name: 'pilot stores', filters: { groupsInclude: ['pilot'] }, onUnfilled: park }]));
    const a = await fx.order({ name: '#6', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(a.lines[0]!)).toMatchObject({ facility: 'ST-PHL' });
    await fx.rules(rulesWith([{ name: 'no pilot', filters: { groupsExclude: ['pilot'] }, onUnfilled: park }]));
    const b = await fx.order({ name: '#6b', at: 'PHL', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(b.lines[0]!)).toMatchObject({ facility: 'WH-EAST' });
  });

  test('minimum stock to keep: a facility that would fall under it is passed over', async () => {
    await fx.rules(rulesWith([{ name: 'keep 2', filters: { minStockToKeep: 2 }, onUnfilled: park }]));
    await fx.stock('A', 'ST-BOS', 2);
    await fx.stock('A', 'WH-EAST', 3);
    const o = await fx.order({ name: '#7', at: 'BOS', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'WH-EAST' }); // 3 − 1 = 2 kept
    const p = await fx.order({ name: '#7b', at: 'BOS', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(p.lines[0]!)).toMatchObject({ status: 'unfillable' }); // WH-EAST now 2 free: 2 − 1 < 2
  });

  test('daily capacity: a full facility is skipped; usage is counted per order per local day', async () => {
    await db.execute(sql`update facilities set daily_order_capacity = 1 where code = 'ST-BOS'`);
    await fx.stock('A', 'ST-BOS', 10);
    await fx.stock('A', 'WH-EAST', 10);
    const first = await fx.order({
      name: '#8',
      at: 'BOS',
      lines: [
        { sku: 'A', quantity: 1 },
        { sku: 'A', quantity: 1 },
      ],
    });
    const second = await fx.order({ name: '#8b', at: 'BOS', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(first.lines[0]!)).toMatchObject({ facility: 'ST-BOS' });
    expect(await fx.line(second.lines[0]!)).toMatchObject({ facility: 'WH-EAST' });
    const [d] = await orderRoutingHistory(db, second.id);
    const removed = (d!.trace as { rules: Array<{ removed: Array<{ filter: string; facilities: string[] }> }> })
      .rules[0]!.removed;
    expect(removed.find((r) => r.filter === 'capacity')!.facilities).toEqual(['ST-BOS']);
    const usage = await queryRows<{ code: string; orders: number }>(
      db,
      sql`select f.code, u.orders from facility_capacity_usage u join facilities f on f.id = u.facility_id order by f.code`,
    );
    expect(usage).toEqual([
      { code: 'ST-BOS', orders: 1 },
      { code: 'WH-EAST', orders: 1 },
    ]);
    // Capacity 0 switches a facility off.
    await db.execute(sql`update facilities set daily_order_capacity = 0 where code = 'WH-EAST'`);
    const third = await fx.order({ name: '#8c', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(third.lines[0]!)).toMatchObject({ status: 'unfillable' });
  });

  test('sorts without scores: first fit by facility priority, then by stock', async () => {
    await db.execute(sql`update facilities set brokering_priority = 10 where code = 'WH-WEST'`);
    await fx.stock('A', 'WH-WEST', 5);
    await fx.stock('A', 'WH-EAST', 8);
    await fx.stock('A', 'ST-BOS', 20);
    await fx.rules(
      rulesWith([
        { name: 'by priority', useScores: false, sorts: [{ field: 'priority', direction: 'desc' }], onUnfilled: park },
      ]),
    );
    const a = await fx.order({ name: '#9', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(a.lines[0]!)).toMatchObject({ facility: 'WH-WEST' }); // far away, but first by priority
    await fx.rules(
      rulesWith([
        { name: 'by stock', useScores: false, sorts: [{ field: 'stock', direction: 'desc' }], onUnfilled: park },
      ]),
    );
    const b = await fx.order({ name: '#9b', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(b.lines[0]!)).toMatchObject({ facility: 'ST-BOS' }); // 20 on hand
    await fx.rules(
      rulesWith([
        { name: 'by distance', useScores: false, sorts: [{ field: 'distance', direction: 'asc' }], onUnfilled: park },
      ]),
    );
    const c = await fx.order({ name: '#9c', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(c.lines[0]!)).toMatchObject({ facility: 'WH-EAST' });
    await db.execute(
      sql`update facilities set daily_order_capacity = case code when 'WH-WEST' then 5 when 'WH-EAST' then 50 when 'ST-BOS' then 20 end where code in ('WH-WEST', 'WH-EAST', 'ST-BOS')`,
    );
    await fx.rules(
      rulesWith([
        {
          name: 'most capacity left',
          useScores: false,
          sorts: [{ field: 'capacity_left', direction: 'desc' }],
          onUnfilled: park,
        },
      ]),
    );
    const d = await fx.order({ name: '#9d', at: 'LA', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(d.lines[0]!)).toMatchObject({ facility: 'WH-EAST' }); // 50 − 2 used today, the most left
  });

  test('scarce orders first: the order with one possible facility is served before an older one with two', async () => {
    const single = rulesWith([{ name: 'whole', onUnfilled: park }]);
    for (const scarceFirst of [false, true]) {
      await fx.reset();
      await fx.rules({ ...single, scarceFirst });
      await fx.stock('A', 'WH-EAST', 1);
      await fx.stock('A', 'ST-PHL', 1);
      await fx.stock('C', 'ST-PHL', 5);
      const older = await fx.order({
        name: '#10',
        at: 'PHL',
        lines: [{ sku: 'A', quantity: 1 }],
        createdAt: new Date(now.getTime() - 3_600_000),
      });
      const scarce = await fx.order({
        name: '#10b',
        at: 'NYC',
        lines: [
          { sku: 'A', quantity: 1 },
          { sku: 'C', quantity: 1 },
        ],
      });
      await route();
      if (scarceFirst) {
        expect(await fx.line(scarce.lines[0]!)).toMatchObject({ facility: 'ST-PHL' });
        expect(await fx.line(older.lines[0]!)).toMatchObject({ facility: 'WH-EAST' });
      } else {
        // By order date alone the older order takes Philadelphia's unit and the scarce one cannot be filled.
        expect(await fx.line(older.lines[0]!)).toMatchObject({ facility: 'ST-PHL' });
        expect(await fx.line(scarce.lines[0]!)).toMatchObject({ status: 'unfillable' });
      }
    }
  });

  test('express: the nearest facility that can ship everything fast, never split', async () => {
    await fx.stock('A', 'WH-EAST', 5);
    await fx.stock('B', 'WH-EAST', 5);
    await fx.stock('A', 'ST-BOS', 5);
    const o = await fx.order({ name: '#11', at: 'NYC', method: 'express', lines: [{ sku: 'A', quantity: 1 }] });
    await route();
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'ST-BOS' }); // WH-EAST is nearer but cannot do express
    const p = await fx.order({
      name: '#11b',
      at: 'BOS',
      method: 'express',
      lines: [
        { sku: 'A', quantity: 1 },
        { sku: 'B', quantity: 1 },
      ],
    });
    await route();
    expect(await fx.line(p.lines[0]!)).toMatchObject({ status: 'unfillable' }); // the split rule does not split express
    expect(await fx.line(p.lines[1]!)).toMatchObject({ status: 'unfillable' });
  });

  test('pickup: the chosen store; if it cannot fill, the pickup-rejected queue, or a transfer by setting', async () => {
    await fx.stock('A', 'ST-CHI', 2);
    await fx.stock('A', 'WH-EAST', 5);
    await fx.stock('B', 'WH-EAST', 5);
    const ok = await fx.order({
      name: '#12',
      at: 'CHI',
      method: 'pickup',
      pickupAt: 'ST-CHI',
      lines: [{ sku: 'A', quantity: 2 }],
    });
    const short = await fx.order({
      name: '#12b',
      at: 'CHI',
      method: 'pickup',
      pickupAt: 'ST-CHI',
      lines: [{ sku: 'B', quantity: 1 }],
    });
    await route();
    expect(await fx.line(ok.lines[0]!)).toMatchObject({ facility: 'ST-CHI', status: 'brokered' });
    expect(await fx.line(short.lines[0]!)).toMatchObject({ facility: 'QUEUE-PICKUP-REJECTED', status: 'unfillable' });
    await fx.rules({ ...(await activeRules(db)).document, pickupFallback: 'transfer' });
    const transfer = await fx.order({
      name: '#12c',
      at: 'CHI',
      method: 'pickup',
      pickupAt: 'ST-CHI',
      lines: [{ sku: 'B', quantity: 1 }],
    });
    await route({ orderIds: [transfer.id] });
    expect(await fx.line(transfer.lines[0]!)).toMatchObject({
      facility: 'WH-EAST',
      transferTo: 'ST-CHI',
      status: 'brokered',
    });
  });

  test('order filters pick the routing: shipping method, tags, channel, priority, promise date; unmatched orders wait', async () => {
    await fx.stock('A', 'WH-EAST', 20);
    await fx.stock('A', 'WH-WEST', 20);
    const east = { name: 'east', sorts: [], useScores: false, onUnfilled: park, filters: { radiusKm: 5000 } } as const;
    const doc = rulesWith([
      {
        name: 'west only',
        filters: { groupsExclude: ['pilot'] },
        useScores: false,
        sorts: [{ field: 'priority', direction: 'desc' }],
        onUnfilled: park,
      },
    ]);
    await db.execute(sql`update facilities set brokering_priority = 5 where code = 'WH-WEST'`);
    const base = doc.runs[0]!.routings[0]!;
    doc.runs[0]!.routings = [
      {
        ...base,
        name: 'vip web orders',
        orderFilters: { queues: ['brokering'], tagsAll: ['vip'], salesChannels: ['web'], minPriority: 1 },
        rules: [{ ...base.rules[0]!, ...east, sorts: [{ field: 'distance', direction: 'asc' }] }],
      },
      {
        ...base,
        name: 'due soon',
        orderFilters: { queues: ['brokering'], promisedWithinHours: 24, tagsNone: ['vip'] },
        rules: [{ ...base.rules[0]!, ...east, sorts: [{ field: 'distance', direction: 'asc' }] }],
      },
      {
        ...base,
        name: 'standard by priority',
        orderFilters: { queues: ['brokering'], shippingMethods: ['standard'], maxPriority: 0, tagsNone: ['vip'] },
      },
    ];
    await fx.rules(doc);
    const vip = await fx.order({
      name: '#f1',
      at: 'NYC',
      lines: [{ sku: 'A', quantity: 1 }],
      tags: ['vip'],
      priority: 2,
    });
    const vipLow = await fx.order({
      name: '#f2',
      at: 'NYC',
      lines: [{ sku: 'A', quantity: 1 }],
      tags: ['vip'],
      priority: 0,
    });
    const plain = await fx.order({ name: '#f3', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    const soon = await fx.order({ name: '#f4', at: 'NYC', lines: [{ sku: 'A', quantity: 1 }], priority: 3 });
    await db.execute(
      sql`update orders set promise_date = ${new Date(now.getTime() + 6 * 3_600_000)} where id = ${soon.id}`,
    );
    await route();
    expect(await fx.line(vip.lines[0]!)).toMatchObject({ facility: 'WH-EAST' }); // nearest, VIP routing
    expect(await fx.line(plain.lines[0]!)).toMatchObject({ facility: 'WH-WEST' }); // priority sort, standard routing
    expect(await fx.line(soon.lines[0]!)).toMatchObject({ facility: 'WH-EAST' }); // promised within 24 h
    expect(await fx.line(vipLow.lines[0]!)).toMatchObject({ status: 'approved', facility: 'QUEUE-BROKERING' }); // no routing takes it: it waits
    const [d] = await orderRoutingHistory(db, vip.id);
    expect(d!.routing).toBe('vip web orders');
    expect((await orderRoutingHistory(db, vipLow.id)).length).toBe(0);
  });

  test('next rule, then a queue with an auto-cancel date that a later parking keeps; held lines are not due', async () => {
    await fx.rules(
      rulesWith([
        { name: 'pilot only', filters: { groupsInclude: ['pilot'] }, onUnfilled: { action: 'next_rule' } },
        {
          name: 'park',
          filters: { groupsInclude: ['pilot'] },
          onUnfilled: { action: 'queue', queue: 'backorder', autoCancelAfterDays: 3 },
        },
      ]),
    );
    const o = await fx.order({
      name: '#13',
      at: 'NYC',
      lines: [
        { sku: 'D', quantity: 1 },
        { sku: 'E', quantity: 1 },
      ],
    });
    await route();
    const first = await fx.line(o.lines[0]!);
    expect(first).toMatchObject({ facility: 'QUEUE-BACKORDER', status: 'unfillable' });
    expect(first.autoCancelAt!.toISOString()).toBe('2026-12-01T15:00:00.000Z');
    const [d] = await orderRoutingHistory(db, o.id);
    expect((d!.trace as { rules: Array<{ outcome: string }> }).rules.map((r) => r.outcome)).toEqual([
      'no facility passed every filter with the stock; 2 line(s) left for the next rule',
      'no facility passed every filter with the stock; 2 line(s) parked in backorder (auto-cancel after 3 days)',
    ]);
    // Due three days later, unless held; both lines due = the whole order.
    const later = new Date(now.getTime() + 3 * 86_400_000);
    await setLineHold(db, o.id, o.lines[1]!, true, 'test', now);
    expect((await linesDueForAutoCancel(db, later)).map((l) => [l.lineId, l.wholeOrder])).toEqual([
      [o.lines[0]!, false],
    ]);
    await setLineHold(db, o.id, o.lines[1]!, false, 'test', now);
    expect((await linesDueForAutoCancel(db, later)).map((l) => l.wholeOrder)).toEqual([true, true]);
  });
});

describe(`order changes after routing (${backend})`, () => {
  test('a routed line that grows (an order edit) is released and routed again whole', async () => {
    await fx.stock('A', 'ST-PHL', 2);
    await fx.stock('A', 'WH-EAST', 10);
    const o = await fx.order({ name: '#30', at: 'PHL', lines: [{ sku: 'A', quantity: 2 }] });
    await route();
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'ST-PHL', status: 'brokered' });
    await db.execute(sql`update order_lines set quantity = 3, current_quantity = 3 where id = ${o.lines[0]!}`);
    const handlers = makeOrderInventoryHandlers(() => now);
    await db.transaction((tx) =>
      handlers[ORDER_EVENTS.lineQuantityIncreased]!(tx, {
        id: 1,
        topic: ORDER_EVENTS.lineQuantityIncreased,
        payload: { orderId: o.id, lineId: o.lines[0]!, from: 2, to: 3, delta: 1 },
      } as never),
    );
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'QUEUE-BROKERING', status: 'approved' });
    expect(await fx.level('A', 'ST-PHL')).toEqual({ onHand: 2, reserved: 0 });
    await route();
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'WH-EAST', status: 'brokered' }); // Philadelphia has 2, not 3
    expect(await fx.level('A', 'WH-EAST')).toEqual({ onHand: 10, reserved: 3 });
  });
});

describe(`rejection (${backend})`, () => {
  test('not in stock: the store is zeroed in the ledger, its other lines of the SKU go too, each is re-routed at once', async () => {
    await fx.stock('A', 'ST-BOS', 4);
    await fx.stock('A', 'WH-EAST', 10);
    const o1 = await fx.order({ name: '#20', at: 'BOS', lines: [{ sku: 'A', quantity: 1 }] });
    const o2 = await fx.order({ name: '#21', at: 'BOS', lines: [{ sku: 'A', quantity: 2 }] });
    await route();
    expect((await fx.line(o1.lines[0]!)).facility).toBe('ST-BOS');
    expect((await fx.line(o2.lines[0]!)).facility).toBe('ST-BOS');
    const result = await rejectLine(
      db,
      { orderId: o1.id, lineId: o1.lines[0]!, facilityCode: 'ST-BOS', reason: 'not_in_stock', by: 'test' },
      now,
    );
    expect(result).toMatchObject({
      rejectedLineIds: [o1.lines[0]!, o2.lines[0]!],
      stockEffect: 'zero',
      stockDelta: -4,
    });
    expect(await fx.level('A', 'ST-BOS')).toEqual({ onHand: 0, reserved: 0 });
    await route({ orderIds: result.affectedOrderIds });
    for (const o of [o1, o2]) {
      const line = await fx.line(o.lines[0]!);
      expect(line).toMatchObject({ facility: 'WH-EAST', status: 'brokered' });
      expect(line.excluded).toEqual([fx.ids['ST-BOS']!]);
    }
    expect(await fx.level('A', 'WH-EAST')).toEqual({ onHand: 10, reserved: 3 });
    expect((await compareCountersWithLedger(db)).drift).toEqual([]);
    // Even with stock back at the store, the line is never offered to it again.
    await fx.stock('A', 'ST-BOS', 10);
    await rejectLine(
      db,
      { orderId: o1.id, lineId: o1.lines[0]!, facilityCode: 'WH-EAST', reason: 'no_capacity', by: 'test' },
      now,
    );
    expect(await fx.level('A', 'WH-EAST')).toEqual({ onHand: 10, reserved: 2 }); // no stock effect
    await route({ orderIds: [o1.id] });
    expect(await fx.line(o1.lines[0]!)).toMatchObject({ status: 'unfillable' }); // ST-BOS and WH-EAST both rejected it
  });

  test('damaged lowers the store by the quantity; wrong states and unknown reasons are refused and change nothing', async () => {
    await fx.stock('B', 'ST-PHL', 5);
    await fx.stock('B', 'WH-EAST', 5);
    const o = await fx.order({ name: '#22', at: 'PHL', lines: [{ sku: 'B', quantity: 2 }] });
    await route();
    await expect(
      rejectLine(db, { orderId: o.id, lineId: o.lines[0]!, facilityCode: 'ST-PHL', reason: 'lost', by: 'test' }, now),
    ).rejects.toThrow('"lost" is not a rejection reason');
    await expect(
      rejectLine(
        db,
        { orderId: o.id, lineId: o.lines[0]!, facilityCode: 'WH-EAST', reason: 'damaged', by: 'test' },
        now,
      ),
    ).rejects.toThrow('assigned to ST-PHL, not WH-EAST');
    await expect(
      rejectLine(
        db,
        { orderId: o.id + 999, lineId: o.lines[0]!, facilityCode: 'ST-PHL', reason: 'damaged', by: 'test' },
        now,
      ),
    ).rejects.toThrow('has no line');
    expect(await fx.level('B', 'ST-PHL')).toEqual({ onHand: 5, reserved: 2 });
    const r = await rejectLine(
      db,
      { orderId: o.id, lineId: o.lines[0]!, facilityCode: 'ST-PHL', reason: 'damaged', by: 'test' },
      now,
    );
    expect(r).toMatchObject({ stockDelta: -2, rejectedLineIds: [o.lines[0]!] });
    expect(await fx.level('B', 'ST-PHL')).toEqual({ onHand: 3, reserved: 0 });
    await expect(
      rejectLine(
        db,
        { orderId: o.id, lineId: o.lines[0]!, facilityCode: 'ST-PHL', reason: 'damaged', by: 'test' },
        now,
      ),
    ).rejects.toThrow('is rejected; only a line assigned');
    await route({ orderIds: [o.id] });
    expect(await fx.line(o.lines[0]!)).toMatchObject({ facility: 'WH-EAST' });
  });
});

describe(`rule versions (${backend})`, () => {
  test('invalid documents: every problem with its path, nothing saved', async () => {
    const before = (await listRuleVersions(db)).length;
    const bad = {
      runs: [
        {
          code: 'Bad Code',
          schedule: 'every 0m',
          routings: [
            {
              name: 'r',
              orderFilters: { queues: ['nowhere'], minPriority: 5, maxPriority: 1 },
              rules: [
                {
                  name: 'x',
                  filters: { groupsInclude: ['ghosts'], radiusKm: -5, capabilities: ['fly'] },
                  assignment: { mode: 'single', minPartValue: 3 },
                  onUnfilled: { action: 'next_rule' },
                },
              ],
            },
          ],
        },
      ],
      scoring: { distance: -1, color: 2 },
    };
    await expect(createDraft(db, { name: 'bad', document: bad, by: 'test' }, now)).rejects.toMatchObject({
      code: 'routing.invalid_rules',
    });
    const result = validateRuleDocument(bad, { groups: new Set(['pilot']) });
    expect(result.ok).toBe(false);
    const paths = !result.ok ? result.problems.map((p) => `${p.path}: ${p.message}`) : [];
    expect(paths).toEqual(
      expect.arrayContaining([
        '$.scoring.color: unknown field; allowed: distance, packages, capacityHeadroom, facilityPriority',
        '$.scoring.distance: must be ≥ 0',
        '$.runs[0].code: must be 1–40 lowercase letters, digits or dashes',
        expect.stringMatching(/^\$\.runs\[0\]\.schedule: Schedule "every 0m"/),
        '$.runs[0].routings[0].orderFilters.queues[0]: "nowhere" is not one of brokering, rejected, unfillable, backorder, pickup_rejected',
        '$.runs[0].routings[0].orderFilters.minPriority: is above maxPriority (1): no order can match',
        '$.runs[0].routings[0].rules[0].filters.groupsInclude[0]: no facility group has code "ghosts"',
        '$.runs[0].routings[0].rules[0].filters.radiusKm: must be above 0',
        '$.runs[0].routings[0].rules[0].filters.capabilities[0]: "fly" is not one of ship, pickup, express',
        '$.runs[0].routings[0].rules[0].assignment.minPartValue: only applies to mode "split"',
        '$.runs[0].routings[0].rules[0].onUnfilled: the last rule has no next rule: say which queue gets what is left',
      ]),
    );
    expect((await listRuleVersions(db)).length).toBe(before);
  });

  test('drafts change, active versions do not; activation archives the old; rollback brings it back', async () => {
    const original = await activeRules(db);
    const draft = await createDraft(db, { name: 'radius trial', by: 'test' }, now);
    expect(draft.document).toEqual(original.document);
    const doc = rulesWith([{ name: 'near', filters: { radiusKm: 50 }, onUnfilled: park }]);
    await updateDraft(db, draft.id, { document: doc }, now);
    await activateVersion(db, draft.id, now);
    expect((await activeRules(db)).versionId).toBe(draft.id);
    await expect(updateDraft(db, draft.id, { name: 'x' }, now)).rejects.toMatchObject({ code: 'routing.not_a_draft' });
    const back = await rollbackRules(db, now);
    expect(back.id).toBe(original.versionId);
    expect((await activeRules(db)).document).toEqual(original.document);
    const statuses = Object.fromEntries((await listRuleVersions(db)).map((v) => [v.id, v.status]));
    expect(statuses[draft.id]).toBe('archived');
    expect(statuses[original.versionId!]).toBe('active');
  });
});

describe(`what-if replay (${backend})`, () => {
  test('a draft is compared with the active rules over a period; nothing is written', async () => {
    await fx.stock('A', 'WH-WEST', 20);
    await fx.stock('A', 'ST-PHL', 3);
    await fx.stock('B', 'WH-EAST', 20);
    for (let i = 0; i < 6; i++)
      await fx.order({
        name: `#r${i}`,
        at: 'NYC',
        lines: [
          { sku: 'A', quantity: 1 },
          { sku: 'B', quantity: 1 },
        ],
      });
    const draft = await createDraft(
      db,
      { name: 'no split', document: rulesWith([{ name: 'whole only', onUnfilled: park }]), by: 'test' },
      now,
    );
    const tables = async () =>
      (
        await queryRows<{ n: number }>(
          db,
          sql`select (select count(*) from reservations) + (select count(*) from routing_decisions) + (select count(*) from order_lines where status <> 'created') as n`,
        )
      )[0]!.n;
    const before = await tables();
    const result = await replayRules(db, {
      candidateId: draft.id,
      from: new Date(now.getTime() - 86_400_000),
      to: new Date(now.getTime() + 1),
    });
    expect(await tables()).toBe(before);
    // Active (default) rules split every order: A from Philadelphia (3) then Los Angeles, B from New York.
    expect(result.baseline.metrics).toMatchObject({
      orders: 6,
      lines: 12,
      units: 12,
      fillRate: 1,
      splitRate: 1,
      packagesPerOrder: 2,
      linesParked: 0,
    });
    expect(result.baseline.metrics.loadPerFacility).toEqual({ 'ST-PHL': 3, 'WH-WEST': 3, 'WH-EAST': 6 });
    // The draft never splits: no facility holds A and B together, so everything parks.
    expect(result.candidate.metrics).toMatchObject({
      fillRate: 0,
      splitRate: 0,
      linesParked: 12,
      parkedByQueue: { unfillable: 12 },
    });
    expect(result.ratios.fillRate).toBe(0);
  });

  test('replays are queued, checked first, run one at a time with progress, and a stopped one waits for the next run', async () => {
    await fx.stock('A', 'WH-WEST', 20);
    for (let i = 0; i < 6; i++) await fx.order({ name: `#q${i}`, at: 'NYC', lines: [{ sku: 'A', quantity: 1 }] });
    const draft = await createDraft(
      db,
      { name: 'queued replay', document: rulesWith([{ name: 'whole only', onUnfilled: park }]), by: 'test' },
      now,
    );
    const period = { from: new Date(now.getTime() - 86_400_000), to: new Date(now.getTime() + 1) };
    // Too many orders for the limit: refused before anything is queued.
    await expect(requestReplay(db, { candidateId: draft.id, ...period }, 'test', now, 5)).rejects.toMatchObject({
      code: 'routing.replay_size',
      message: 'The period holds 6 orders; a replay routes at most 5: choose a shorter period.',
    });
    await expect(
      requestReplay(db, { candidateId: draft.id, generated: { orders: 6, seed: 1 } }, 'test', now, 5),
    ).rejects.toMatchObject({ code: 'routing.replay_size' });
    await expect(requestReplay(db, { candidateId: 999_999, ...period }, 'test', now)).rejects.toMatchObject({
      code: 'routing.unknown_version',
    });
    expect((await queryRows<{ n: number }>(db, sql`select count(*)::int as n from routing_replays`))[0]!.n).toBe(0);

    const first = await requestReplay(db, { candidateId: draft.id, ...period }, 'test', now);
    expect(first).toMatchObject({ status: 'queued', orders: 6, progress: null, result: null });
    const doomed = await createDraft(
      db,
      { name: 'deleted before it runs', document: rulesWith([{ name: 'x', onUnfilled: park }]), by: 'test' },
      now,
    );
    const second = await requestReplay(db, { candidateId: doomed.id, ...period }, 'test', now);
    await deleteDraft(db, doomed.id);

    const progress: string[] = [];
    expect(
      await runQueuedReplays(db, {
        now: () => now,
        signal: new AbortController().signal,
        onProgress: (m) => progress.push(m),
      }),
    ).toEqual({ succeeded: 1, failed: 1 });
    expect(progress).toContain(`replay ${first.id}: candidate: 6 of 6 orders`);
    const done = await getReplay(db, first.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: { percent: 100, message: 'done' }, error: null });
    expect((done.result as { candidate: { metrics: { orders: number } } }).candidate.metrics.orders).toBe(6);
    expect(await getReplay(db, second.id)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining(`${doomed.id}`),
    });

    // A run told to stop puts the replay it was on back in the queue.
    const third = await requestReplay(db, { candidateId: draft.id, ...period }, 'test', now);
    const stopping = new AbortController();
    await runQueuedReplays(db, { now: () => now, signal: stopping.signal, onProgress: () => stopping.abort() });
    expect(await getReplay(db, third.id)).toMatchObject({ status: 'queued', progress: null, startedAt: null });
    await runQueuedReplays(db, { now: () => now, signal: new AbortController().signal });
    expect(await getReplay(db, third.id)).toMatchObject({ status: 'succeeded' });

    // A replay another run is on (its claim alive) is left to it; one whose run died is taken again.
    const fourth = await requestReplay(db, { candidateId: draft.id, ...period }, 'test', now);
    await db.execute(
      sql`update routing_replays set status = 'running', leased_until = ${new Date(now.getTime() + 60_000)} where id = ${fourth.id}`,
    );
    expect(await runQueuedReplays(db, { now: () => now, signal: new AbortController().signal })).toEqual({
      succeeded: 0,
      failed: 0,
    });
    expect(await getReplay(db, fourth.id)).toMatchObject({ status: 'running' });
    expect(
      await runQueuedReplays(db, {
        now: () => new Date(now.getTime() + 120_000),
        signal: new AbortController().signal,
      }),
    ).toEqual({ succeeded: 1, failed: 0 });
    expect(await getReplay(db, fourth.id)).toMatchObject({ status: 'succeeded' });
    await expect(getReplay(db, 999_999)).rejects.toMatchObject({ code: 'routing.unknown_replay', kind: 'not_found' });
  });
});
