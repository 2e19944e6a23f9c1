import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuleTester } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { renderTablesDoc, tableOwners, tableOwnersRule } from './tables.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

// A fake src/ with its own schema files, so the fixtures do not follow the real schema.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-tables-'));
const srcDir = path.join(root, 'src');
const schemas: Record<string, string> = {
  'domains/orders/orders.schema.ts': `
export const orders = pgTable('orders', { id: bigserial('id') });
export const orderLines = pgTable(
  'order_lines',
  { id: bigserial('id') },
);`,
  'domains/inventory/inventory.schema.ts': `export const inventoryLevels = pgTable('inventory_levels', { id: bigserial('id') });`,
  'domains/routing/routing.schema.ts': `export const routingDecisions = pgTable("routing_decisions", { id: bigserial('id') });`,
  'platform/db/platform.schema.ts': `export const outbox = pgTable('outbox', { id: bigserial('id') });`,
};
for (const [file, text] of Object.entries(schemas)) {
  fs.mkdirSync(path.dirname(path.join(srcDir, file)), { recursive: true });
  fs.writeFileSync(path.join(srcDir, file), text);
}
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const options = [{ srcDir }];
const at = (file: string) => path.join(srcDir, file);
const tester = new RuleTester({ languageOptions: { ecmaVersion: 2022, sourceType: 'module' } });
const message = (room: string, table: string, owner: string) =>
  `${room}/ may not write ${table} (owned by ${owner}/): call a function of ${owner}/. See docs/TABLES.md.`;

describe('tableOwners', () => {
  it('maps each table to its drizzle name, its room and its schema file, sorted by table', () => {
    expect(tableOwners(srcDir)).toEqual([
      {
        table: 'inventory_levels',
        identifier: 'inventoryLevels',
        room: 'domains/inventory',
        file: 'src/domains/inventory/inventory.schema.ts',
      },
      {
        table: 'order_lines',
        identifier: 'orderLines',
        room: 'domains/orders',
        file: 'src/domains/orders/orders.schema.ts',
      },
      { table: 'orders', identifier: 'orders', room: 'domains/orders', file: 'src/domains/orders/orders.schema.ts' },
      { table: 'outbox', identifier: 'outbox', room: 'platform', file: 'src/platform/db/platform.schema.ts' },
      {
        table: 'routing_decisions',
        identifier: 'routingDecisions',
        room: 'domains/routing',
        file: 'src/domains/routing/routing.schema.ts',
      },
    ]);
  });
});

describe('docs/TABLES.md', () => {
  it('is what `npm run tables` generates from the schema files (run it after changing a schema)', () => {
    const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const committed = fs.readFileSync(path.join(repo, 'docs', 'TABLES.md'), 'utf8');
    expect(committed).toBe(renderTablesDoc(path.join(repo, 'src')));
  });
});

tester.run('switchyard/table-owners', tableOwnersRule as never, {
  valid: [
    // a room writes its own tables, by drizzle and by raw SQL
    {
      filename: at('domains/orders/orders.repo.ts'),
      code: 'await tx.update(orderLines).set({ qty: 1 }); await tx.insert(orders).values(row);',
      options,
    },
    {
      filename: at('domains/orders/orders.repo.ts'),
      code: 'await tx.execute(sql`update order_lines set qty = qty - ${n} where id = ${id}`);',
      options,
    },
    {
      filename: at('domains/inventory/inventory.repo.ts'),
      code: 'await db.execute(sql`with u as (update inventory_levels set on_hand = on_hand + 1 returning *) select * from u`);',
      options,
    },
    {
      filename: at('platform/db/outbox.ts'),
      code: "await tx.insert(schema.outbox).values(e); await db.execute(sql.raw('delete from outbox where sent'));",
      options,
    },
    // reading another room's table
    {
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.execute(sql`select l.id from order_lines l join orders o on o.id = l.order_id for update of l skip locked`);',
      options,
    },
    {
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.select().from(orderLines).where(eq(orderLines.id, id));',
      options,
    },
    // a write to its own table that reads another's
    {
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.execute(sql`insert into routing_decisions (order_id) select id from orders on conflict do update set at = now()`);',
      options,
    },
    // English words are not tables; only known table names are
    {
      filename: at('flows/place-order.ts'),
      code: "throw new Error('could not update the order, delete from the cart and insert into the queue');",
      options,
    },
    // a local value named like a table is not the table
    {
      filename: at('flows/place-order.ts'),
      code: 'function f(orders) { seen.delete(orders); } const outbox = new Set(); outbox.delete(x); cache.delete(outbox);',
      options,
    },
    // a table named in a hole that is not written
    {
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.execute(sql`select * from ${orderLines} where id = ${id}`);',
      options,
    },
    // tests may set up any table
    {
      filename: at('domains/routing/routing.test.ts'),
      code: 'await db.execute(sql`update order_lines set qty = 0`); await db.delete(orderLines);',
      options,
    },
    // outside src/ the rule does not apply
    { filename: path.join(root, 'test/e2e.ts'), code: 'await db.execute(sql`truncate order_lines`);', options },
  ],
  invalid: [
    {
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.execute(sql`\n  update order_lines as l set facility_id = ${f} where l.id = ${id}`);',
      options,
      errors: [{ message: message('domains/routing', 'order_lines', 'domains/orders'), line: 2, column: 10 }],
    },
    {
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.update(orderLines).set({ facilityId: f }).where(eq(orderLines.id, id));',
      options,
      errors: [{ message: message('domains/routing', 'order_lines', 'domains/orders'), line: 1, column: 17 }],
    },
    {
      filename: at('flows/place-order.ts'),
      code: 'import { orderLines } from "../domains/orders/index.js"; await tx.delete(orderLines); await tx.insert(schema.orders).values(o);',
      options,
      errors: [
        { message: message('flows', 'order_lines', 'domains/orders') },
        { message: message('flows', 'orders', 'domains/orders') },
      ],
    },
    {
      // a write hidden in a CTE
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.execute(sql`with moved as (insert into order_lines (id) select id from x returning id) select count(*) from moved`);',
      options,
      errors: [{ message: message('domains/routing', 'order_lines', 'domains/orders') }],
    },
    {
      filename: at('domains/orders/orders.repo.ts'),
      code: 'await tx.execute(sql`with u as (update inventory_levels l set reserved = reserved + 1) select 1`);',
      options,
      errors: [{ message: message('domains/orders', 'inventory_levels', 'domains/inventory') }],
    },
    {
      filename: at('jobs/housekeeping.ts'),
      code: 'await db.execute(sql`DELETE FROM "public"."outbox" WHERE sent_at < ${cutoff}`);',
      options,
      errors: [{ message: message('jobs', 'outbox', 'platform'), column: 44 }],
    },
    {
      filename: at('harness/reset.ts'),
      code: "await db.execute(sql.raw('truncate table orders, order_lines, outbox restart identity'));",
      options,
      errors: [
        { message: message('harness', 'orders', 'domains/orders') },
        { message: message('harness', 'order_lines', 'domains/orders') },
        { message: message('harness', 'outbox', 'platform') },
      ],
    },
    {
      // the table interpolated into the SQL
      filename: at('domains/routing/routing.repo.ts'),
      code: 'await tx.execute(sql`update ${orderLines} set qty = 0`);',
      options,
      errors: [{ message: message('domains/routing', 'order_lines', 'domains/orders') }],
    },
    {
      // a domain writes another domain's table
      filename: at('domains/inventory/inventory.repo.ts'),
      code: 'await tx.execute(sql`update routing_decisions set x = 1`);',
      options,
      errors: [{ message: message('domains/inventory', 'routing_decisions', 'domains/routing') }],
    },
  ],
});
