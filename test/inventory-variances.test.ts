// POST /api/v1/inventory/variances over real HTTP: what cannot be true gets a 4xx with a stable code,
// the body is bounded by its schema, and a refused request writes nothing.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  backend,
  createTestDatabase,
  TEST_API_TOKEN,
  TEST_AUTH,
  testConfig,
  type TestDatabase,
} from './support/backend.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { queryRows } from '../src/platform/db/rows.js';
import type { Db } from '../src/platform/db/client.js';
import { seedTee } from './support/catalog.js';
import { facilities } from '../src/domains/facilities/facilities.schema.js';
import { recordEntries } from '../src/domains/inventory/index.js';

let testDb: TestDatabase;
let switchyard: Switchyard;
let db: Db;

beforeAll(async () => {
  testDb = await createTestDatabase();
  switchyard = await startSwitchyard(
    testConfig(testDb, { SWITCHYARD_DEMO: 'off', SWITCHYARD_API_TOKEN: TEST_API_TOKEN }),
  );
  db = switchyard.database.db;
  const now = new Date();
  const [wh] = await db
    .insert(facilities)
    .values({ code: 'WH1', name: 'Warehouse', kind: 'WAREHOUSE' })
    .returning({ id: facilities.id });
  await seedTee(db, ['A'], now);
  const [variant] = await queryRows<{ id: number }>(db, sql`select id from variants`);
  await db.transaction((tx) =>
    recordEntries(
      tx,
      [
        {
          variantId: variant!.id,
          facilityId: wh!.id,
          delta: 23,
          kind: 'receipt',
          occurredAt: new Date(now.getTime() - 3600_000),
          source: 'test',
          idempotencyKey: 'r-1',
        },
      ],
      now,
    ),
  );
});
afterAll(async () => {
  await switchyard?.stop();
  await testDb.drop();
});

async function state() {
  const [row] = await queryRows<{ ledger: number; on_hand: number; levels: number }>(
    db,
    sql`select (select count(*)::int from inventory_ledger) as ledger, (select coalesce(sum(on_hand), 0)::int from inventory_levels) as on_hand, (select count(*)::int from inventory_levels) as levels`,
  );
  return row!;
}

async function variance(body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const response = await fetch(`${switchyard.url}/api/v1/inventory/variances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...TEST_AUTH },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const base = { facility: 'WH1', sku: 'A', kind: 'found', quantity: 1, reason: 'shelf' };

describe(`variances over HTTP (${backend})`, () => {
  test('a found dated 9999-12-31 and a damaged of 100,000 where 23 are on hand are refused; nothing is written', async () => {
    const before = await state();
    const future = await variance({ ...base, quantity: 5, occurredAt: '9999-12-31T00:00:00Z' });
    expect(future.status).toBe(400);
    expect(future.body.error).toMatchObject({
      code: 'inventory.variance_in_future',
      details: { field: 'occurredAt', occurredAt: '9999-12-31T00:00:00.000Z' },
    });
    const damaged = await variance({ ...base, kind: 'damaged', quantity: 100_000 });
    expect(damaged).toEqual({
      status: 409,
      body: {
        error: {
          code: 'inventory.variance_exceeds_on_hand',
          message:
            'damaged 100,000 units of A at WH1 is more than the 23 units on hand there: on hand cannot go below 0. Count the shelf, or record what is there.',
          details: { field: 'quantity', facility: 'WH1', sku: 'A', onHand: 23, quantity: 100_000 },
        },
      },
    });
    expect((await variance({ ...base, occurredAt: '1970-01-01T00:00:00Z' })).body.error.code).toBe(
      'inventory.variance_too_old',
    );
    expect((await variance({ ...base, quantity: 0 })).body.error.code).toBe('inventory.variance_quantity');
    expect((await variance({ ...base, reason: 'wet\u0007box' })).body.error).toEqual({
      code: 'inventory.variance_text',
      message: 'reason "wet\\u0007box" holds control characters: send plain text.',
      details: { field: 'reason' },
    });
    // A NUL is refused at the edge, wherever it is.
    expect((await variance({ ...base, reason: 'wet\u0000box' })).body.error).toMatchObject({
      code: 'request.invalid',
      message: 'body/reason holds a NUL character, which no value may hold.',
    });
    expect(await state()).toEqual(before);
  });

  test('the body is bounded by its schema: integers the columns hold, strings of a sensible length', async () => {
    const before = await state();
    const huge = await variance({ ...base, quantity: 1e20 });
    expect(huge).toMatchObject({
      status: 400,
      body: { error: { code: 'request.invalid', message: 'body/quantity must be <= 1000000' } },
    });
    expect((await variance({ ...base, kind: 'count_variance', quantity: -1_000_001 })).body.error.message).toBe(
      'body/quantity must be >= -1000000',
    );
    expect((await variance({ ...base, reason: 'r'.repeat(1001) })).body.error.message).toBe(
      'body/reason must NOT have more than 1000 characters',
    );
    expect((await variance({ ...base, sku: 's'.repeat(256) })).body.error.message).toBe(
      'body/sku must NOT have more than 255 characters',
    );
    expect((await variance({ ...base, facility: 'f'.repeat(201) })).body.error.message).toBe(
      'body/facility must NOT have more than 200 characters',
    );
    expect((await variance({ ...base, idempotencyKey: 'k'.repeat(201) })).body.error.message).toBe(
      'body/idempotencyKey must NOT have more than 200 characters',
    );
    expect(await state()).toEqual(before);
    const taken = await variance({ ...base, kind: 'damaged', quantity: 23, idempotencyKey: 'all-of-them' });
    expect(taken).toMatchObject({ status: 201, body: { delta: -23, onHand: 0, replayed: false } });
  });

  test('a SKU with a NUL in the address is refused clearly (not a database error)', async () => {
    const response = await fetch(`${switchyard.url}/api/v1/inventory/A%00`, { headers: TEST_AUTH });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: 'request.invalid', message: 'params/sku holds a NUL character, which no value may hold.' },
    });
    // Other control characters reach the domain, which finds no such SKU.
    const bell = await fetch(`${switchyard.url}/api/v1/inventory/A%07`, { headers: TEST_AUTH });
    expect(bell.status).toBe(404);
    expect(await bell.json()).toEqual({
      error: { code: 'inventory.unknown_sku', message: 'No variant has SKU "A\\u0007".', details: { sku: 'A\\u0007' } },
    });
  });
});
