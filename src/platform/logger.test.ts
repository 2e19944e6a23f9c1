// Logs carry no personal data: a failed query's values (customers' names, addresses, whole webhook
// bodies) never reach a log line, though the query and the database's error do.
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { backend, createTestDatabase, type TestDatabase } from '../../test/support/backend.js';
import type { Database } from './db/client.js';
import { makeLogger } from './logger.js';

let testDb: TestDatabase;
let database: Database;
beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await testDb.open();
});
afterAll(() => testDb.drop());

test(`a failed query is logged without its values (${backend})`, async () => {
  let text = '';
  const logger = makeLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    }),
  });
  const customer = JSON.stringify({ name: 'Jane Roe', email: 'jane.roe@example.com', address1: '12 Elm Street' });
  const error = await database.db.execute(sql`insert into no_such_table (body) values (${customer})`).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect(String((error as Error).message)).toContain('jane.roe@example.com');
  logger.error({ err: error }, 'query failed');
  logger.warn({ error }, 'query failed again');
  expect(text).toContain('insert into no_such_table');
  expect(text).toContain('no_such_table');
  expect(text).toContain('params: [redacted]');
  expect(text).not.toContain('jane.roe@example.com');
  expect(text).not.toContain('Elm Street');
});

test(`a row PostgreSQL refuses is logged without the row (${backend})`, async () => {
  let text = '';
  const logger = makeLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    }),
  });
  await database.db.execute(sql`create table logged_customers (name text not null, email text not null)`);
  // A not-null failure: PostgreSQL's detail repeats the failing row.
  const notNull = await database.db
    .execute(sql`insert into logged_customers (name, email) values (${'Jane Roe'}, null)`)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  // Bad JSON text: PostgreSQL's `where` quotes the text it was reading.
  const badJson = await database.db
    .execute(sql`select ${'{"email":"jane.roe@example.com","x":"\\ud800"}'}::jsonb`)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(notNull).toBeInstanceOf(Error);
  expect(badJson).toBeInstanceOf(Error);
  logger.error({ err: notNull }, 'insert failed');
  logger.error({ err: badJson }, 'read failed');
  logger.error({ err: new AggregateError([badJson], 'several failed') }, 'several failed');
  expect(text).toContain('logged_customers');
  expect(text).not.toContain('Jane Roe');
  expect(text).not.toContain('jane.roe@example.com');
});
