// When the database cannot be reached: start-up waits for it and says so; a running Switchyard answers
// 503 with Retry-After (never 500), health says unavailable, and it recovers by itself when the
// database is back. On PostgreSQL the database sits behind a TCP relay the test cuts and restores; the
// embedded database cannot go away on its own, so there the test closes it under a running Switchyard.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import {
  backend,
  createTestDatabase,
  serverUrl,
  TEST_API_TOKEN,
  TEST_AUTH,
  testConfig,
  waitFor,
  type TestDatabase,
} from './support/backend.js';
import { freePort } from './support/net.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { makeLogger } from '../src/platform/logger.js';

/** A TCP relay to PostgreSQL that can be cut (every connection dropped, nothing accepted) and restored. */
function makeRelay(target: { host: string; port: number }, port: number) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    url: (databaseUrl: string) => {
      const parsed = new URL(databaseUrl);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    open: () =>
      new Promise<void>((resolve) => {
        server = createServer((client) => {
          const upstream = connect(target.port, target.host);
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('close', () => sockets.delete(s));
            s.on('error', () => s.destroy());
          }
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server) return resolve();
        server.close(() => resolve());
        server = undefined;
      }),
  };
}

const captured = () => {
  let text = '';
  return {
    logger: makeLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _e, cb) {
          text += chunk.toString();
          cb();
        },
      }),
    }),
    text: () => text,
  };
};

let testDb: TestDatabase | undefined;
let switchyard: Switchyard | undefined;
afterAll(async () => {
  await switchyard?.stop();
  await testDb?.drop();
});

describe(`when the database cannot be reached (${backend})`, () => {
  test('start-up waits for it, then requests answer 503 with Retry-After during an outage and recover after it', async () => {
    testDb = await createTestDatabase();
    const log = captured();
    if (backend === 'postgres') {
      const target = new URL(serverUrl!);
      const relay = makeRelay({ host: target.hostname, port: Number(target.port || 5432) }, await freePort());
      const config = testConfig(testDb, {
        DATABASE_URL: relay.url(testDb.url!),
        SWITCHYARD_DATABASE_WAIT_SECONDS: '60',
        SWITCHYARD_API_TOKEN: TEST_API_TOKEN,
      });
      // The database comes up two seconds after Switchyard starts.
      const starting = startSwitchyard(config, { logger: log.logger });
      await new Promise((r) => setTimeout(r, 2_000));
      expect(log.text()).toContain('waiting for the database at 127.0.0.1');
      await relay.open();
      switchyard = await starting;
      const api = (path: string) => fetch(`${switchyard!.url}${path}`, { headers: TEST_AUTH });
      expect((await api('/api/v1/orders')).status).toBe(200);

      await relay.cut();
      const during = await api('/api/v1/orders');
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toBe('5');
      expect(await during.json()).toEqual({
        error: {
          code: 'database.unavailable',
          message: 'The database cannot be reached right now. Try again shortly.',
        },
      });
      for (const path of [
        '/api/v1/facilities',
        '/api/v1/jobs',
        '/api/v1/routing/versions',
        '/api/v1/inventory/safety-stock-rules',
      ]) {
        expect({ path, status: (await api(path)).status }).toEqual({ path, status: 503 });
      }
      expect((await api('/health')).status).toBe(503);

      await relay.open();
      await waitFor('requests to succeed again', async () => (await api('/api/v1/orders')).status === 200, 30_000, 250);
      expect((await api('/health')).status).toBe(200);
      // No request on the way was taken for a bug.
      expect(log.text()).not.toContain('unhandled error');
      expect(log.text()).toContain('database unavailable');
    } else {
      switchyard = await startSwitchyard(testConfig(testDb), { logger: log.logger });
      const api = (path: string) => fetch(`${switchyard!.url}${path}`);
      expect((await api('/api/v1/orders')).status).toBe(200);
      await switchyard.database.close();
      const during = await api('/api/v1/orders');
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toBe('5');
      expect((await api('/health')).status).toBe(503);
    }
  }, 120_000);

  test('start-up gives up after the wait, with a message that names where it looked and the setting', async () => {
    const port = await freePort();
    const db = await createTestDatabase();
    try {
      const config = testConfig(db, {
        DATABASE_URL: `postgres://postgres:secret-password@127.0.0.1:${port}/nowhere`,
        SWITCHYARD_DATABASE_WAIT_SECONDS: '1',
      });
      const log = captured();
      const failure = await startSwitchyard(config, { logger: log.logger }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(failure?.message).toBe(
        `The database at 127.0.0.1:${port}/nowhere cannot be reached (ECONNREFUSED); gave up after 1 s (SWITCHYARD_DATABASE_WAIT_SECONDS).`,
      );
      expect(log.text()).toContain(`waiting for the database at 127.0.0.1:${port}/nowhere (ECONNREFUSED)`);
      expect(log.text()).not.toContain('secret-password');
    } finally {
      await db.drop();
    }
  });
});
