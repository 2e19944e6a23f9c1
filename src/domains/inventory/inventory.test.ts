import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import type { Database, Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { dispatchOutbox } from '../../platform/outbox.js';
import { applyProductSnapshot } from '../catalog/index.js';
import { facilities, facilityGroupMembers, facilityGroups } from '../facilities/facilities.schema.js';
import { applyOrderSnapshot, type OrderSnapshot } from '../orders/index.js';
import { makeOrderInventoryHandlers } from '../../flows/order-inventory.js';
import {
  compareCountersWithLedger,
  computeAtp,
  explainSkuAtp,
  consumeReservation,
  importCountFile,
  markChanged,
  recordEntries,
  recordRefundRestocks,
  recordVariance,
  releaseReservation,
  reserveStock,
  type ImportReport,
} from './index.js';
import { safetyStockRules } from './inventory.schema.js';

let testDb: TestDatabase;
let database: Database;
let db: Db;
const now = new Date('2026-11-28T10:00:00Z');
const ids: Record<string, number> = {};
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-counts-'));

async function onHand(sku: string, facility: string): Promise<number> {
  const [row] = await queryRows<{ on_hand: number }>(
    db,
    sql`select l.on_hand from inventory_levels l join variants v on v.id = l.variant_id join facilities f on f.id = l.facility_id where v.sku = ${sku} and f.code = ${facility}`,
  );
  return row?.on_hand ?? 0;
}

async function ledgerSize(): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from inventory_ledger`);
  return row!.n;
}

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const importFile = (p: string, perRow = false): Promise<ImportReport> =>
  importCountFile(db, { path: p, perRow, source: 'test', now: () => now });

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
  db = database.db;
  const made = await db
    .insert(facilities)
    .values([
      { code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE', canShip: true, defaultSafetyStock: 0 },
      { code: 'ST1', name: 'Store 1', kind: 'STORE', canPickup: true, defaultSafetyStock: 2 },
      {
        code: 'ST2',
        name: 'Store 2',
        kind: 'STORE',
        canPickup: true,
        defaultSafetyStock: 1,
        excludedFromOnlineAtp: true,
      },
      { code: 'ST3', name: 'Store 3', kind: 'STORE', brokeringEnabled: false },
      { code: 'QUEUE', name: 'Brokering queue', kind: 'VIRTUAL', queueKind: 'brokering' },
    ])
    .returning({ id: facilities.id, code: facilities.code });
  for (const f of made) ids[f.code] = f.id;
  await applyProductSnapshot(
    db,
    {
      shopifyProductId: 'gid://shopify/Product/1',
      handle: 'tee',
      title: 'Tee',
      status: 'ACTIVE',
      vendor: null,
      productType: null,
      tags: ['fragile', 'summer'],
      imageUrl: null,
      updatedAt: now,
      variants: ['A', 'B', 'C'].map((v, i) => ({
        shopifyVariantId: `gid://shopify/ProductVariant/${i + 1}`,
        shopifyInventoryItemId: `gid://shopify/InventoryItem/${i + 1}`,
        sku: `SKU-${v}`,
        barcode: `00000${i + 1}`,
        title: v,
        price: '10.00',
        weightGrams: 100,
        inventoryPolicy: 'DENY' as const,
        updatedAt: now,
      })),
    },
    now,
  );
  for (const v of await queryRows<{ id: number; sku: string }>(db, sql`select id, sku from variants`))
    ids[v.sku] = v.id;
});
afterAll(() => testDb.drop());

describe(`ledger and counters (${backend})`, () => {
  test('a replayed entry changes nothing; parallel writers lose no update; the ledger recomputes to the counters', async () => {
    const entry = (key: string, delta: number) => ({
      variantId: ids['SKU-C']!,
      facilityId: ids['WH1']!,
      delta,
      kind: 'receipt' as const,
      occurredAt: now,
      source: 'test',
      idempotencyKey: key,
    });
    const first = await db.transaction((tx) => recordEntries(tx, [entry('r-1', 10)], now));
    const again = await db.transaction((tx) => recordEntries(tx, [entry('r-1', 10)], now));
    expect(first).toEqual({ written: 1, replayed: 0 });
    expect(again).toEqual({ written: 0, replayed: 1 });
    // 40 writers at once, each +1 on the same counter, 10 of them replays of one key.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.transaction((tx) => recordEntries(tx, [entry(i < 10 ? 'r-same' : `r-par-${i}`, 1)], now)),
      ),
    );
    expect(await onHand('SKU-C', 'WH1')).toBe(10 + 1 + 30);
    expect((await compareCountersWithLedger(db)).drift).toEqual([]);
  });
});

describe(`publishing marks (${backend})`, () => {
  test('a level webhook asks to read one location; marks for the same variant add up; a read of everything wins', async () => {
    const v = ids['SKU-C']!;
    const mark = async () =>
      (
        await queryRows<{ needs_read: boolean; read_locations: string[] | null }>(
          db,
          sql`select needs_read, read_locations from inventory_publish_queue where variant_id = ${v}`,
        )
      )[0];
    await db.execute(sql`delete from inventory_publish_queue`);
    await markChanged(db, [v], now);
    expect(await mark()).toEqual({ needs_read: false, read_locations: null });
    await markChanged(db, [v], now, { needsRead: true, readAt: 'gid://shopify/Location/1' });
    expect(await mark()).toEqual({ needs_read: true, read_locations: ['gid://shopify/Location/1'] });
    await markChanged(db, [v], now);
    await markChanged(db, [v], now, { needsRead: true, readAt: 'gid://shopify/Location/2' });
    expect(await mark()).toEqual({
      needs_read: true,
      read_locations: ['gid://shopify/Location/1', 'gid://shopify/Location/2'],
    });
    await markChanged(db, [v], now, { needsRead: true });
    expect(await mark()).toEqual({ needs_read: true, read_locations: null });
    await markChanged(db, [v], now, { needsRead: true, readAt: 'gid://shopify/Location/3' });
    expect(await mark()).toEqual({ needs_read: true, read_locations: null });
    await db.execute(sql`delete from inventory_publish_queue`);
  });
});

describe(`ERP count files (${backend})`, () => {
  test('a count applies as of its time: changes after it survive, changes before it are not counted twice', async () => {
    // A return at 05:00 (before the 06:00 count, so the ERP counted it) and a POS sale at 09:05.
    await db.transaction((tx) =>
      recordEntries(
        tx,
        [
          {
            variantId: ids['SKU-A']!,
            facilityId: ids['ST1']!,
            delta: 1,
            kind: 'return_restock',
            occurredAt: new Date('2026-11-28T05:00:00Z'),
            source: 'test',
            idempotencyKey: 'ret-1',
          },
          {
            variantId: ids['SKU-A']!,
            facilityId: ids['ST1']!,
            delta: -2,
            kind: 'pos_sale',
            occurredAt: new Date('2026-11-28T09:05:00Z'),
            source: 'test',
            idempotencyKey: 'pos-1',
          },
        ],
        now,
      ),
    );
    expect(await onHand('SKU-A', 'ST1')).toBe(-1);
    const csv = file(
      'count-1.csv',
      'facility,sku,quantity,counted_at\nST1,SKU-A,20,2026-11-28T06:00:00Z\nWH1,SKU-A,100,2026-11-28T06:00:00Z\nST1,SKU-B,5,2026-11-28T06:00:00Z\n',
    );
    const report = await importFile(csv);
    expect(report).toMatchObject({
      status: 'applied',
      rowsTotal: 3,
      rowsValid: 3,
      rowsApplied: 3,
      errorCount: 0,
      entriesWritten: 3,
    });
    // 20 counted at 06:00, then the 09:05 sale: 18.
    expect(await onHand('SKU-A', 'ST1')).toBe(18);
    expect(await onHand('SKU-A', 'WH1')).toBe(100);
    // The same file again changes nothing.
    const size = await ledgerSize();
    const again = await importFile(csv);
    expect(again).toMatchObject({ status: 'applied', entriesWritten: 0 });
    expect(await ledgerSize()).toBe(size);
    expect(await onHand('SKU-A', 'ST1')).toBe(18);
    // A sale from 05:30 arrives late: the 06:00 count already saw it, so on hand stays.
    await db.transaction((tx) =>
      recordEntries(
        tx,
        [
          {
            variantId: ids['SKU-A']!,
            facilityId: ids['ST1']!,
            delta: -3,
            kind: 'pos_sale',
            occurredAt: new Date('2026-11-28T05:30:00Z'),
            source: 'test',
            idempotencyKey: 'pos-late',
          },
        ],
        now,
      ),
    );
    expect(await onHand('SKU-A', 'ST1')).toBe(18);
    // An older count (yesterday's file, late) says nothing new.
    const old = await importFile(
      file('count-0.csv', 'facility,sku,quantity,counted_at\nST1,SKU-A,50,2026-11-27T06:00:00Z\n'),
    );
    expect(old).toMatchObject({ status: 'applied', rowsApplied: 0, rowsSuperseded: 1, entriesWritten: 0 });
    expect(await onHand('SKU-A', 'ST1')).toBe(18);
    expect((await compareCountersWithLedger(db)).drift).toEqual([]);
  });

  test('bad rows are reported with their line numbers and nothing is applied; --per-row applies the good ones', async () => {
    const text = [
      'facility,sku,quantity,counted_at',
      'ST1,SKU-B,7,2026-11-28T06:30:00Z',
      'NOPE,SKU-B,1,2026-11-28T06:30:00Z',
      'ST1,SKU-ZZZ,1,2026-11-28T06:30:00Z',
      'ST1,SKU-C,-4,2026-11-28T06:30:00Z',
      'ST1,SKU-C,2.5,2026-11-28T06:30:00Z',
      'ST1,SKU-C,3,yesterday',
      'ST1,SKU-B,8,2026-11-28T06:30:00Z',
      'ST1,SKU-C',
      'QUEUE,SKU-C,1,2026-11-28T06:30:00Z',
      'WH1,SKU-C,12,2026-11-28T06:30:00Z',
    ].join('\n');
    const before = { size: await ledgerSize(), b: await onHand('SKU-B', 'ST1'), c: await onHand('SKU-C', 'WH1') };
    const rejected = await importFile(file('bad.csv', text));
    expect(rejected.status).toBe('rejected');
    expect(rejected.errors).toEqual([
      { line: 3, reason: 'unknown facility "NOPE"' },
      { line: 4, reason: 'unknown SKU "SKU-ZZZ"' },
      { line: 5, reason: 'quantity -4 is negative' },
      { line: 6, reason: 'quantity "2.5" is not a whole number' },
      { line: 7, reason: 'counted_at "yesterday" is not a time with a zone (e.g. 2026-11-28T06:00:00Z)' },
      { line: 8, reason: 'the same SKU and facility as line 2' },
      { line: 9, reason: 'expected 4 fields, found 2' },
      { line: 10, reason: 'unknown facility "QUEUE"' },
    ]);
    expect({ size: await ledgerSize(), b: await onHand('SKU-B', 'ST1'), c: await onHand('SKU-C', 'WH1') }).toEqual(
      before,
    );

    const partial = await importFile(file('bad-per-row.csv', text), true);
    expect(partial).toMatchObject({ status: 'applied', errorCount: 8, rowsValid: 2, rowsApplied: 2 });
    expect(await onHand('SKU-B', 'ST1')).toBe(7);
    // Counted 12 at 06:30; the 41 units received at 10:00 (first test) came after the count.
    expect(await onHand('SKU-C', 'WH1')).toBe(12 + 41);
  });

  test('JSON Lines with barcodes; a header without the needed columns is refused', async () => {
    const jsonl = file(
      'count.jsonl',
      '{"facility":"ST2","barcode":"000003","quantity":9,"counted_at":"2026-11-28T07:00:00Z"}\nnot json\n',
    );
    const bad = await importFile(jsonl);
    expect(bad.errors).toEqual([{ line: 2, reason: 'not valid JSON' }]);
    const good = await importFile(
      file('count2.jsonl', '{"facility":"ST2","barcode":"000003","quantity":9,"counted_at":"2026-11-28T07:00:00Z"}\n'),
    );
    expect(good.status).toBe('applied');
    expect(await onHand('SKU-C', 'ST2')).toBe(9);
    const header = await importFile(file('header.csv', 'store,item,qty\nST1,SKU-A,1\n'));
    expect(header.errors).toEqual([
      {
        line: 1,
        reason:
          'header must name the columns facility, sku (or barcode), quantity, counted_at; missing: facility, counted_at, sku or barcode; found "store,item,qty"',
      },
    ]);
  });
});

describe(`variances (${backend})`, () => {
  test('found and damaged stock move on hand with a reason; a retried request applies once; bad input changes nothing', async () => {
    const start = await onHand('SKU-B', 'WH1');
    const found = await recordVariance(
      db,
      { facility: 'WH1', sku: 'SKU-B', kind: 'found', quantity: 4, reason: 'back room', idempotencyKey: 'v1' },
      now,
    );
    expect(found).toMatchObject({ delta: 4, onHand: start + 4, replayed: false });
    expect(
      await recordVariance(
        db,
        { facility: 'WH1', sku: 'SKU-B', kind: 'found', quantity: 4, reason: 'back room', idempotencyKey: 'v1' },
        now,
      ),
    ).toMatchObject({ replayed: true, onHand: start + 4 });
    expect(
      await recordVariance(db, { facility: 'WH1', sku: 'SKU-B', kind: 'damaged', quantity: 1, reason: 'wet box' }, now),
    ).toMatchObject({ delta: -1, onHand: start + 3 });
    const size = await ledgerSize();
    await expect(
      recordVariance(db, { facility: 'WH1', sku: 'NOPE', kind: 'found', quantity: 1, reason: 'x' }, now),
    ).rejects.toMatchObject({ code: 'inventory.unknown_sku' });
    await expect(
      recordVariance(db, { facility: 'XX', sku: 'SKU-B', kind: 'found', quantity: 1, reason: 'x' }, now),
    ).rejects.toMatchObject({ code: 'inventory.unknown_facility' });
    await expect(
      recordVariance(db, { facility: 'WH1', sku: 'SKU-B', kind: 'damaged', quantity: -1, reason: 'x' }, now),
    ).rejects.toMatchObject({ code: 'inventory.variance_quantity' });
    await expect(
      recordVariance(db, { facility: 'QUEUE', sku: 'SKU-B', kind: 'found', quantity: 1, reason: 'x' }, now),
    ).rejects.toMatchObject({ code: 'inventory.virtual_facility' });
    expect(await ledgerSize()).toBe(size);
    expect(await onHand('SKU-B', 'WH1')).toBe(start + 3);
  });
});

describe(`ATP (${backend})`, () => {
  beforeEach(async () => {
    await db.execute(sql`delete from safety_stock_rules`);
    await db.execute(sql`update inventory_levels set safety_stock = null`);
  });

  test('every term per facility, safety stock by product, tag rule and facility default, and the online figure', async () => {
    // SKU-A: WH1 100, ST1 18 (default safety 2), ST2 0 (excluded), ST3 none.
    await recordVariance(db, { facility: 'ST3', sku: 'SKU-A', kind: 'found', quantity: 6, reason: 'count' }, now);
    let atp = (await computeAtp(db, [ids['SKU-A']!])).get(ids['SKU-A']!)!;
    const byCode = Object.fromEntries(atp.facilities.map((f) => [f.facilityCode, f]));
    expect(byCode['WH1']).toMatchObject({
      onHand: 100,
      reserved: 0,
      safetyStock: 0,
      safetySource: 'facility_default',
      atp: 100,
      countsOnline: true,
    });
    expect(byCode['ST1']).toMatchObject({ onHand: 18, safetyStock: 2, atp: 16, countsOnline: true });
    expect(byCode['ST3']).toMatchObject({ onHand: 6, brokeringEnabled: false, atp: 0 });
    expect(atp).toMatchObject({ facilityAtpSum: 116, channelThreshold: 0, queueDemand: 0, onlineAtp: 116 });

    // A tag rule for all facilities, a stricter one for ST1, a product × facility figure for WH1.
    await db.insert(safetyStockRules).values([
      { tag: 'fragile', facilityId: null, quantity: 3 },
      { tag: 'summer', facilityId: ids['ST1']!, quantity: 5 },
    ]);
    await db.execute(
      sql`update inventory_levels set safety_stock = 10 where variant_id = ${ids['SKU-A']!} and facility_id = ${ids['WH1']!}`,
    );
    atp = (await computeAtp(db, [ids['SKU-A']!])).get(ids['SKU-A']!)!;
    const terms = Object.fromEntries(atp.facilities.map((f) => [f.facilityCode, f]));
    expect(terms['WH1']).toMatchObject({ safetyStock: 10, safetySource: 'product', atp: 90 });
    expect(terms['ST1']).toMatchObject({ safetyStock: 5, safetySource: 'tag:summer', atp: 13 });
    expect(atp.onlineAtp).toBe(103);

    // A channel group with a threshold, and an order waiting to be routed.
    const [group] = await db
      .insert(facilityGroups)
      .values({ code: 'online', name: 'Online', purpose: 'online_channel', channelThreshold: 4 })
      .returning({ id: facilityGroups.id });
    await db.insert(facilityGroupMembers).values([
      { groupId: group!.id, facilityId: ids['WH1']! },
      { groupId: group!.id, facilityId: ids['ST1']! },
    ]);
    await applyOrderSnapshot(
      db,
      order('gid://shopify/Order/50', [{ sku: 'SKU-A', variant: 1, quantity: 7 }]),
      'test',
      now,
    );
    const explained = await explainSkuAtp(db, 'SKU-A');
    expect(explained.atp).toMatchObject({ facilityAtpSum: 103, channelThreshold: 4, queueDemand: 7, onlineAtp: 92 });
    await expect(explainSkuAtp(db, 'NOPE')).rejects.toMatchObject({ code: 'inventory.unknown_sku' });
    await db.execute(sql`delete from facility_group_members`);
    await db.execute(sql`delete from facility_groups`);
  });
});

function order(
  id: string,
  lines: Array<{ sku: string; variant: number; quantity: number; current?: number; counter?: boolean }>,
  overrides: Partial<OrderSnapshot> = {},
): OrderSnapshot {
  return {
    shopifyOrderId: id,
    name: `#${id.split('/').pop()}`,
    email: null,
    sourceName: 'web',
    tags: [],
    financialStatus: 'PAID',
    fulfillmentStatus: 'UNFULFILLED',
    createdAt: new Date('2026-11-28T09:00:00Z'),
    updatedAt: new Date('2026-11-28T09:00:00Z'),
    cancelledAt: null,
    cancelReason: null,
    customer: null,
    shippingAddress: null,
    latitude: null,
    longitude: null,
    shippingMethod: 'standard',
    shippingLineTitle: null,
    pickupLocationId: null,
    currencyCode: 'USD',
    totalPrice: '10.00',
    lines: lines.map((l, i) => ({
      shopifyLineItemId: `${id}/line/${i}`,
      shopifyVariantId: `gid://shopify/ProductVariant/${l.variant}`,
      sku: l.sku,
      title: l.sku,
      quantity: l.quantity,
      currentQuantity: l.current ?? l.quantity,
      unitPrice: '10.00',
      soldOverCounter: l.counter ?? false,
    })),
    refunds: [],
    ...overrides,
  };
}

describe(`reservations and order events (${backend})`, () => {
  // Outbox rows are stamped by the database clock: deliver as of the real time.
  const deliver = () => dispatchOutbox({ db, now: () => new Date(), handlers: makeOrderInventoryHandlers(() => now) });

  test('reserving never promises more than is there, even with parallel reservers', async () => {
    // SKU-B at WH1: on hand as the variance test left it.
    const there = await onHand('SKU-B', 'WH1');
    await applyOrderSnapshot(
      db,
      order('gid://shopify/Order/60', [{ sku: 'SKU-B', variant: 2, quantity: 1 }]),
      'test',
      now,
    );
    const [line] = await queryRows<{ id: number }>(
      db,
      sql`select id from order_lines where shopify_line_item_id = 'gid://shopify/Order/60/line/0'`,
    );
    const tries = await Promise.all(
      Array.from({ length: there + 3 }, () =>
        db.transaction((tx) =>
          reserveStock(
            tx,
            { orderLineId: line!.id, variantId: ids['SKU-B']!, facilityId: ids['WH1']!, quantity: 1 },
            now,
          ),
        ),
      ),
    );
    expect(tries.filter(Boolean)).toHaveLength(there);
    const [level] = await queryRows<{ reserved: number }>(
      db,
      sql`select reserved from inventory_levels where variant_id = ${ids['SKU-B']!} and facility_id = ${ids['WH1']!}`,
    );
    expect(level!.reserved).toBe(there);
    expect(await db.transaction((tx) => releaseReservation(tx, line!.id, 'test', now))).toBe(there);
  });

  test('a partial cancellation trims the reservation; a cancellation releases it; a POS sale lowers the store once', async () => {
    await deliver();
    const o = order('gid://shopify/Order/70', [{ sku: 'SKU-A', variant: 1, quantity: 5 }]);
    await applyOrderSnapshot(db, o, 'test', now);
    await deliver();
    const [line] = await queryRows<{ id: number }>(
      db,
      sql`select id from order_lines where shopify_line_item_id = 'gid://shopify/Order/70/line/0'`,
    );
    expect(
      await db.transaction((tx) =>
        reserveStock(
          tx,
          { orderLineId: line!.id, variantId: ids['SKU-A']!, facilityId: ids['WH1']!, quantity: 5 },
          now,
        ),
      ),
    ).toBe(true);
    const reserved = async () =>
      (
        await queryRows<{ reserved: number }>(
          db,
          sql`select reserved from inventory_levels where variant_id = ${ids['SKU-A']!} and facility_id = ${ids['WH1']!}`,
        )
      )[0]!.reserved;
    expect(await reserved()).toBe(5);
    await applyOrderSnapshot(
      db,
      { ...o, updatedAt: new Date('2026-11-28T09:10:00Z'), lines: [{ ...o.lines[0]!, currentQuantity: 2 }] },
      'test',
      now,
    );
    expect(await deliver()).toMatchObject({ failed: 0 });
    expect(await reserved()).toBe(2);
    await applyOrderSnapshot(
      db,
      {
        ...o,
        updatedAt: new Date('2026-11-28T09:20:00Z'),
        cancelledAt: new Date('2026-11-28T09:20:00Z'),
        lines: [{ ...o.lines[0]!, currentQuantity: 0 }],
      },
      'test',
      now,
    );
    await deliver();
    expect(await reserved()).toBe(0);

    // POS: the store's on hand drops once, however often the order arrives.
    await db.execute(
      sql`update facilities set shopify_location_id = 'gid://shopify/Location/7' where id = ${ids['ST1']!}`,
    );
    const before = await onHand('SKU-B', 'ST1');
    const pos = order('gid://shopify/Order/80', [{ sku: 'SKU-B', variant: 2, quantity: 2, counter: true }], {
      sourceName: 'pos',
      fulfillmentStatus: 'FULFILLED',
      pickupLocationId: 'gid://shopify/Location/7',
    });
    await applyOrderSnapshot(db, pos, 'webhook', now);
    await applyOrderSnapshot(db, pos, 'poll', now);
    await deliver();
    await applyOrderSnapshot(db, { ...pos, updatedAt: new Date('2026-11-28T09:30:00Z'), tags: ['x'] }, 'poll', now);
    await deliver();
    expect(await onHand('SKU-B', 'ST1')).toBe(before - 2);
    // A POS order is not demand waiting for routing.
    expect((await computeAtp(db, [ids['SKU-B']!])).get(ids['SKU-B']!)!.queueDemand).toBe(1);
    expect((await compareCountersWithLedger(db)).drift).toEqual([]);
  });

  test('refunds: a return restocked at a store raises on hand there once; without restock nothing moves; a cancellation puts back no unit that already left in a parcel', async () => {
    await db.execute(
      sql`update facilities set shopify_location_id = 'gid://shopify/Location/8' where id = ${ids['ST2']!}`,
    );
    await db.execute(
      sql`update facilities set shopify_location_id = 'gid://shopify/Location/9' where id = ${ids['WH1']!}`,
    );
    const entries = async (kind: string) =>
      queryRows<{ key: string; delta: number; facility: string; occurred_at: Date }>(
        db,
        sql`select g.idempotency_key as key, g.delta, f.code as facility, g.occurred_at from inventory_ledger g join facilities f on f.id = g.facility_id where g.kind = ${kind} order by g.id`,
      );
    const refundLine = (
      id: string,
      line: string,
      quantity: number,
      restockType: 'RETURN' | 'NO_RESTOCK' | 'CANCEL',
      locationId: string | null,
    ) => ({
      shopifyRefundLineId: `gid://shopify/RefundLineItem/${id}`,
      shopifyLineItemId: line,
      quantity,
      restockType,
      locationId,
    });
    const at = new Date('2026-11-28T09:45:00Z');

    // A counter sale at ST1: one unit brought back to ST2 and put on its shelf, one refunded without restock.
    const sale = order('gid://shopify/Order/90', [{ sku: 'SKU-A', variant: 1, quantity: 2, counter: true }], {
      sourceName: 'pos',
      fulfillmentStatus: 'FULFILLED',
      pickupLocationId: 'gid://shopify/Location/7',
    });
    await applyOrderSnapshot(db, sale, 'webhook', now);
    await deliver();
    const [st1, st2] = [await onHand('SKU-A', 'ST1'), await onHand('SKU-A', 'ST2')];
    const returned = {
      ...sale,
      updatedAt: new Date('2026-11-28T09:46:00Z'),
      lines: [{ ...sale.lines[0]!, currentQuantity: 0 }],
      refunds: [
        {
          shopifyRefundId: 'gid://shopify/Refund/91',
          createdAt: at,
          lines: [refundLine('911', 'gid://shopify/Order/90/line/0', 1, 'RETURN', 'gid://shopify/Location/8')],
        },
        {
          shopifyRefundId: 'gid://shopify/Refund/92',
          createdAt: at,
          lines: [refundLine('921', 'gid://shopify/Order/90/line/0', 1, 'NO_RESTOCK', null)],
        },
      ],
    };
    expect(await applyOrderSnapshot(db, returned, 'webhook:refunds/create', now)).toBe('updated');
    expect(await applyOrderSnapshot(db, returned, 'poll', now)).toBe('unchanged');
    await deliver();
    expect([await onHand('SKU-A', 'ST1'), await onHand('SKU-A', 'ST2')]).toEqual([st1, st2 + 1]);
    expect(await entries('return_restock')).toContainEqual({
      key: 'return_restock:gid://shopify/RefundLineItem/911',
      delta: 1,
      facility: 'ST2',
      occurred_at: at,
    });
    // The same refund lines handled again (an event delivered twice) write nothing.
    const rows = (
      await queryRows<{ id: number }>(
        db,
        sql`select id from order_refund_lines where shopify_refund_id in ('gid://shopify/Refund/91', 'gid://shopify/Refund/92')`,
      )
    ).map((r) => r.id);
    expect(await db.transaction((tx) => recordRefundRestocks(tx, rows, now))).toBe(0);
    expect(await onHand('SKU-A', 'ST2')).toBe(st2 + 1);

    // Online orders of SKU-C at WH1, two units each, reserved there; one unit of each shipped by Switchyard
    // while Shopify still saw it open. Cancelling one unit (with restock) takes the unit not shipped;
    // cancelling both does not put the shipped one back on the shelf: it is in a parcel.
    const wh = await onHand('SKU-C', 'WH1');
    const shipOne = async (shopifyId: string) => {
      const o = order(shopifyId, [{ sku: 'SKU-C', variant: 3, quantity: 2 }]);
      await applyOrderSnapshot(db, o, 'webhook', now);
      const [line] = await queryRows<{ id: number }>(
        db,
        sql`select id from order_lines where shopify_line_item_id = ${`${shopifyId}/line/0`}`,
      );
      await db.transaction(async (tx) => {
        expect(
          await reserveStock(
            tx,
            { orderLineId: line!.id, variantId: ids['SKU-C']!, facilityId: ids['WH1']!, quantity: 2 },
            now,
          ),
        ).toBe(true);
        await consumeReservation(
          tx,
          {
            orderLineId: line!.id,
            variantId: ids['SKU-C']!,
            facilityId: ids['WH1']!,
            quantity: 1,
            shipmentKey: `test:${line!.id}`,
            occurredAt: now,
            source: 'test',
          },
          now,
        );
        await tx.execute(sql`update order_lines set shipped_quantity = 1 where id = ${line!.id}`);
      });
      return o;
    };
    const partly = await shipOne('gid://shopify/Order/93');
    const wholly = await shipOne('gid://shopify/Order/94');
    await deliver();
    expect(await onHand('SKU-C', 'WH1')).toBe(wh - 2);
    const cancelled = (o: OrderSnapshot, id: string, quantity: number) => ({
      ...o,
      updatedAt: new Date('2026-11-28T09:50:00Z'),
      lines: [{ ...o.lines[0]!, currentQuantity: 2 - quantity }],
      refunds: [
        {
          shopifyRefundId: `gid://shopify/Refund/${id}`,
          createdAt: at,
          lines: [refundLine(id, o.lines[0]!.shopifyLineItemId, quantity, 'CANCEL', 'gid://shopify/Location/9')],
        },
      ],
    });
    await applyOrderSnapshot(db, cancelled(partly, '931', 1), 'webhook:refunds/create', now);
    await applyOrderSnapshot(db, cancelled(wholly, '941', 2), 'webhook:refunds/create', now);
    await deliver();
    expect(await onHand('SKU-C', 'WH1')).toBe(wh - 2);
    // The two orders' lines moved stock only by their shipments.
    const kinds = await queryRows<{ kind: string; delta: number }>(
      db,
      sql`select g.kind, g.delta from inventory_ledger g join order_lines ol on g.reference_type = 'order_line' and g.reference_id = ol.id::text
          where ol.shopify_line_item_id in ('gid://shopify/Order/93/line/0', 'gid://shopify/Order/94/line/0') order by g.id`,
    );
    expect(kinds).toEqual([
      { kind: 'shipment', delta: -1 },
      { kind: 'shipment', delta: -1 },
    ]);
    const [reserved] = await queryRows<{ reserved: number }>(
      db,
      sql`select reserved from inventory_levels where variant_id = ${ids['SKU-C']!} and facility_id = ${ids['WH1']!}`,
    );
    expect(reserved!.reserved).toBe(0);
    expect((await compareCountersWithLedger(db)).drift).toEqual([]);
  });
});
