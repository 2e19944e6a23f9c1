// Merchant settings: one JSON value per key in \`settings\`. The rooms that own a key validate it;
// this is the table's one writer.
import { sql } from 'drizzle-orm';
import type { Db } from './db/client.js';
import { queryRows } from './db/rows.js';

/** The value stored under `key`, if any. */
export async function readSetting<T>(db: Db, key: string): Promise<T | undefined> {
  const [row] = await queryRows<{ value: T }>(db, sql`select value from settings where key = ${key}`);
  return row?.value;
}

/** Stores `value` under `key` (replacing what was there), saying who changed it and when. */
export async function writeSetting(db: Db, key: string, value: unknown, by: string, now: Date): Promise<void> {
  await db.execute(
    sql`insert into settings (key, value, updated_at, updated_by) values (${key}, ${JSON.stringify(value)}::jsonb, ${now}, ${by})
        on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
  );
}
