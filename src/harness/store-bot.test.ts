// The store bot against a scripted API: a call that gets no answer (dropped connection) is tried
// again in a later round; an HTTP error other than 404/409 still stops the bot.
import { expect, test } from 'vitest';
import type { ApiCall } from './local-api.js';
import { makeStoreBot } from './store-bot.js';

const dropped = () => new TypeError('fetch failed');

function scriptedApi(fail: (method: string, path: string) => Error | null) {
  const calls: string[] = [];
  const api = (async (method: string, path: string) => {
    calls.push(`${method} ${path}`);
    const error = fail(method, path);
    if (error) throw error;
    if (path === '/api/v1/facilities')
      return {
        facilities: [
          { code: 'ST-1', kind: 'STORE' },
          { code: 'ST-2', kind: 'STORE' },
        ],
      };
    if (path.endsWith('/work'))
      return { open: [{ orderId: 7, lines: [{ lineId: 70, transferTo: null }] }], shipments: [] };
    return {};
  }) as ApiCall;
  return { api, calls };
}

test('a dropped connection is counted and tried again next round; the round goes on with the other stores', async () => {
  let round = 0;
  const { api, calls } = scriptedApi((method, path) => {
    if (round === 1 && path === '/api/v1/facilities') return dropped();
    if (round === 2 && path === '/api/v1/facilities/ST-1/work') return dropped();
    if (round === 2 && method === 'POST' && path.startsWith('/api/v1/facilities/ST-2/')) return dropped();
    return null;
  });
  const bot = makeStoreBot(api, { seed: 1, associateDelaySeconds: 0, rejectShare: 0, label: 'test' });
  round = 1;
  expect(await bot.round()).toBe(0);
  expect(bot.connectionsLost).toBe(1);
  round = 2;
  await bot.round();
  expect(bot.connectionsLost).toBe(3);
  round = 3;
  // Both stores' open orders are taken now.
  expect(await bot.round()).toBe(2);
  expect(calls.filter((c) => c === 'POST /api/v1/facilities/ST-2/shipments')).toHaveLength(2);
  expect(calls.filter((c) => c === 'POST /api/v1/facilities/ST-1/shipments')).toHaveLength(1);
});

test('an HTTP error that is not a changed-work answer (404/409) still stops the bot', async () => {
  const { api } = scriptedApi((method) =>
    method === 'POST' ? new Error('POST /api/v1/facilities/ST-1/shipments: 500 {"error":"boom"}') : null,
  );
  const bot = makeStoreBot(api, { seed: 1, associateDelaySeconds: 0, rejectShare: 0, label: 'test' });
  await expect(bot.round()).rejects.toThrow(/500/);
  expect(bot.connectionsLost).toBe(0);
});
