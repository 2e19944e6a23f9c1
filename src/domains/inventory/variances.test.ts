// Variances that cannot be true are refused with a stable code and a sentence, and write nothing: a
// time in the future (a `found` dated 9999-12-31 would outlive every later count) or before 2000, a
// quantity of 0 or past ±1,000,000, more units taken away than are on hand, on hand past the counter's
// range, text with control characters.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../../test/support/backend.js';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { seedTee } from '../../../test/support/catalog.js';
import { facilities } from '../facilities/facilities.schema.js';
import { explainSkuAtp, recordEntries, recordVariance, type VarianceInput } from './index.js';

let testDb: TestDatabase;
let db: Db;
const now = new Date('2026-11-28T10:00:00Z');
const ids: Record<string, number> = {};

/** Everything a variance could change. */
async function state() {
  const [row] = await queryRows<{ ledger: number; levels: string; queue: number; marks: number }>(
    db,
    sql`select (select count(*)::int from inventory_ledger) as ledger,
               (select coalesce(string_agg(variant_id || '/' || facility_id || '=' || on_hand || '/' || reserved, ',' order by variant_id, facility_id), '') from inventory_levels) as levels,
               (select count(*)::int from inventory_publish_queue) as queue, (select count(*)::int from inventory_count_marks) as marks`,
  );
  return row!;
}

async function onHand(sku: string, facility: string): Promise<number> {
  const [row] = await queryRows<{ on_hand: number }>(
    db,
    sql`select on_hand from inventory_levels where variant_id = ${ids[sku]!} and facility_id = ${ids[facility]!}`,
  );
  return row?.on_hand ?? 0;
}

async function receive(sku: string, facility: string, units: number, key: string): Promise<void> {
  await db.transaction((tx) =>
    recordEntries(
      tx,
      [
        {
          variantId: ids[sku]!,
          facilityId: ids[facility]!,
          delta: units,
          kind: 'receipt',
          occurredAt: new Date('2026-11-01T00:00:00Z'),
          source: 'test',
          idempotencyKey: key,
        },
      ],
      now,
    ),
  );
}

/** The error a refused variance throws, and proof that it wrote nothing. */
async function refused(
  input: Partial<VarianceInput>,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  const before = await state();
  let caught: unknown;
  try {
    await recordVariance(db, { facility: 'WH1', sku: 'A', kind: 'found', quantity: 1, reason: 'shelf', ...input }, now);
  } catch (error) {
    caught = error;
  }
  expect(await state()).toEqual(before);
  if (!caught) throw new Error(`not refused: ${JSON.stringify(input)}`);
  const { code, message, details } = caught as { code: string; message: string; details: Record<string, unknown> };
  return { code, message, details };
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = (await testDb.open()).db;
  const made = await db
    .insert(facilities)
    .values([
      { code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' },
      { code: 'ST1', name: 'Store', kind: 'STORE' },
    ])
    .returning({ id: facilities.id, code: facilities.code });
  for (const f of made) ids[f.code] = f.id;
  await seedTee(db, ['A', 'B', 'C'], now);
  for (const v of await queryRows<{ id: number; sku: string }>(db, sql`select id, sku from variants`))
    ids[v.sku] = v.id;
  await receive('A', 'WH1', 23, 'r-a');
});
afterAll(() => testDb.drop());

describe(`variances that cannot be true (${backend})`, () => {
  test('a time in the future beyond 5 minutes, or before 2000, is refused; within 5 minutes it is taken', async () => {
    expect(await refused({ occurredAt: new Date('9999-12-31T00:00:00Z') })).toEqual({
      code: 'inventory.variance_in_future',
      message:
        "occurredAt 9999-12-31T00:00:00.000Z is in the future (the server's time is 2026-11-28T10:00:00.000Z; up to 5 minutes of clock difference are allowed). A variance is recorded once it happened.",
      details: { field: 'occurredAt', occurredAt: '9999-12-31T00:00:00.000Z', now: '2026-11-28T10:00:00.000Z' },
    });
    expect((await refused({ occurredAt: new Date(now.getTime() + 5 * 60_000 + 1) })).code).toBe(
      'inventory.variance_in_future',
    );
    expect(await refused({ occurredAt: new Date('1999-12-31T23:59:59Z') })).toEqual({
      code: 'inventory.variance_too_old',
      message: 'occurredAt 1999-12-31T23:59:59.000Z is before 2000-01-01: a typo or a zero date.',
      details: { field: 'occurredAt', occurredAt: '1999-12-31T23:59:59.000Z' },
    });
    expect((await refused({ occurredAt: new Date('0000-01-01T00:00:00Z') })).code).toBe('inventory.variance_too_old');
    expect((await refused({ occurredAt: new Date('not a time') })).code).toBe('inventory.variance_time');
    // A clock a little ahead of the server's is fine.
    const ahead = await recordVariance(
      db,
      {
        facility: 'ST1',
        sku: 'B',
        kind: 'found',
        quantity: 2,
        reason: 'shelf',
        occurredAt: new Date(now.getTime() + 4 * 60_000),
      },
      now,
    );
    expect(ahead).toMatchObject({ delta: 2, onHand: 2, replayed: false });
  });

  test('a quantity of 0, past ±1,000,000, or of the wrong sign is refused', async () => {
    expect(await refused({ quantity: 0 })).toEqual({
      code: 'inventory.variance_quantity',
      message: 'quantity must be a whole number other than 0.',
      details: { field: 'quantity' },
    });
    expect(await refused({ quantity: 1_000_001 })).toEqual({
      code: 'inventory.variance_quantity',
      message: 'quantity 1000001 is more than one record can move (at most 1,000,000 units).',
      details: { field: 'quantity' },
    });
    expect((await refused({ kind: 'count_variance', quantity: -2_000_000_000 })).code).toBe(
      'inventory.variance_quantity',
    );
    expect((await refused({ quantity: 1.5 })).code).toBe('inventory.variance_quantity');
    expect((await refused({ kind: 'damaged', quantity: -1 })).code).toBe('inventory.variance_quantity');
  });

  test('damaged 100,000 where 23 are on hand is refused; damaged 23 is taken; then nothing more can be taken away', async () => {
    expect(await onHand('A', 'WH1')).toBe(23);
    expect(await refused({ kind: 'damaged', quantity: 100_000 })).toEqual({
      code: 'inventory.variance_exceeds_on_hand',
      message:
        'damaged 100,000 units of A at WH1 is more than the 23 units on hand there: on hand cannot go below 0. Count the shelf, or record what is there.',
      details: { field: 'quantity', facility: 'WH1', sku: 'A', onHand: 23, quantity: 100_000 },
    });
    expect((await refused({ kind: 'count_variance', quantity: -24 })).details).toMatchObject({
      onHand: 23,
      quantity: -24,
    });
    const all = await recordVariance(
      db,
      { facility: 'WH1', sku: 'A', kind: 'damaged', quantity: 23, reason: 'flood', idempotencyKey: 'flood-1' },
      now,
    );
    expect(all).toMatchObject({ delta: -23, onHand: 0, replayed: false });
    expect(await refused({ kind: 'damaged', quantity: 1 })).toMatchObject({
      code: 'inventory.variance_exceeds_on_hand',
      details: { onHand: 0 },
    });
    // A pair never seen before holds 0: nothing to take away, and no level row is left behind.
    expect(await refused({ sku: 'C', kind: 'count_variance', quantity: -1 })).toMatchObject({
      code: 'inventory.variance_exceeds_on_hand',
      details: { onHand: 0 },
    });
    // The retried request answers as the first did, though on hand is 0 now.
    expect(
      await recordVariance(
        db,
        { facility: 'WH1', sku: 'A', kind: 'damaged', quantity: 23, reason: 'flood', idempotencyKey: 'flood-1' },
        now,
      ),
    ).toMatchObject({
      delta: -23,
      onHand: 0,
      replayed: true,
    });
  });

  test('two requests for the last units: one is taken, the other refused', async () => {
    await receive('B', 'WH1', 5, 'r-b');
    const outcomes = await Promise.allSettled([
      recordVariance(db, { facility: 'WH1', sku: 'B', kind: 'damaged', quantity: 5, reason: 'dropped' }, now),
      recordVariance(db, { facility: 'WH1', sku: 'B', kind: 'damaged', quantity: 5, reason: 'dropped' }, now),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({
      reason: { code: 'inventory.variance_exceeds_on_hand' },
    });
    expect(await onHand('B', 'WH1')).toBe(0);
  });

  test("on hand past the counter's range is refused", async () => {
    await receive('C', 'ST1', 2_147_000_000, 'r-c');
    expect(await refused({ facility: 'ST1', sku: 'C', quantity: 1_000_000 })).toEqual({
      code: 'inventory.variance_out_of_range',
      message: 'found 1,000,000 units would take on hand of C at ST1 past 2,147,483,647.',
      details: { field: 'quantity', onHand: 2_147_000_000, quantity: 1_000_000 },
    });
  });

  test('text with NUL or control characters, or too long, is refused before anything is looked up', async () => {
    expect(await refused({ reason: 'wet\u0000box' })).toEqual({
      code: 'inventory.variance_text',
      message: 'reason "wet\\u0000box" holds control characters: send plain text.',
      details: { field: 'reason' },
    });
    expect(await refused({ sku: 'A\u0000' })).toMatchObject({
      code: 'inventory.variance_text',
      details: { field: 'sku' },
    });
    expect(await refused({ facility: 'WH1\u001b' })).toMatchObject({
      code: 'inventory.variance_text',
      details: { field: 'facility' },
    });
    expect(await refused({ idempotencyKey: 'k\u0000' })).toMatchObject({
      code: 'inventory.variance_text',
      details: { field: 'idempotencyKey' },
    });
    expect(await refused({ reason: 'r'.repeat(1001) })).toEqual({
      code: 'inventory.variance_text',
      message: 'reason is 1,001 characters long: at most 1000.',
      details: { field: 'reason' },
    });
    // A reason may run over lines.
    expect(
      await recordVariance(
        db,
        { facility: 'ST1', sku: 'B', kind: 'found', quantity: 1, reason: 'back room,\nbehind the boxes' },
        now,
      ),
    ).toMatchObject({ delta: 1 });
    // Looking a SKU up by a name holding NUL finds nothing (PostgreSQL is not asked).
    await expect(explainSkuAtp(db, 'A\u0000')).rejects.toMatchObject({
      code: 'inventory.unknown_sku',
      message: 'No variant has SKU "A\\u0000".',
    });
  });
});
