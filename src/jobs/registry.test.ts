// The registry's table (the comment at the top of registry.ts) and the jobs a process with a shop
// registers are the same list: a job added, renamed or dropped without its line fails here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { makeIngest } from '../ingest/index.js';
import { systemClock } from '../platform/clock.js';
import type { Db } from '../platform/db/client.js';
import { makeLogger } from '../platform/logger.js';
import { staticAccessToken } from '../shopify/access-tokens.js';
import { makeShopifyClient } from '../shopify/client.js';
import { housekeepingJobs, makeJobRegistry } from './registry.js';

/** Job names in the table of registry.ts (a row may name several, comma-separated). */
function documentedJobs(): string[] {
  const source = readFileSync(fileURLToPath(new URL('./registry.ts', import.meta.url)), 'utf8');
  return source
    .split('\n')
    .filter((line) => line.startsWith('// | ') && !line.startsWith('// | job |'))
    .flatMap((line) => line.slice(5).split('|')[0]!.split(','))
    .map((name) => name.trim());
}

describe('job registry', () => {
  const logger = makeLogger({ level: 'silent' });
  const shopify = makeShopifyClient(
    {
      shop: 'registry-test.myshopify.com',
      tokens: staticAccessToken('unused'),
      apiVersion: '2026-10',
      apiUrl: 'http://127.0.0.1:9',
    },
    { logger },
  );
  const ingest = makeIngest({
    db: {} as Db,
    clock: systemClock,
    logger,
    shopify,
    shop: 'registry-test.myshopify.com',
    apiSecret: 'unused',
    apiVersion: '2026-10',
    webhookMaxAgeSeconds: 86_400,
    webhookUrl: 'http://127.0.0.1:9/webhooks/shopify',
    initialLoadMonths: 1,
  });

  test('lists every job a process with a shop runs, and nothing else', () => {
    const registered = makeJobRegistry({ shopify, requestRun: () => {}, ingestJobs: ingest.jobs }).map(
      (job) => job.name,
    );
    expect(new Set(registered).size).toBe(registered.length);
    expect([...registered].sort()).toEqual([...documentedJobs()].sort());
  });

  test('the CLI registers the housekeeping jobs alone', () => {
    expect(housekeepingJobs().map((job) => job.name)).toEqual([
      'housekeeping.prune-history',
      'housekeeping.table-upkeep',
    ]);
  });
});
