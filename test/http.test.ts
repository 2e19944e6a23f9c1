// The HTTP edge end to end: a real server on a random port, real requests.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { backend, createTestDatabase, testConfig, waitFor, type TestDatabase } from './support/backend.js';
import { startSwitchyard, type Switchyard } from '../src/main/switchyard.js';
import { makeLogger } from '../src/platform/logger.js';
import { jobSchedules } from '../src/platform/db/platform.schema.js';
import { buildApp } from '../src/http/app.js';
import { makeMetrics } from '../src/platform/metrics.js';
import { makeJobRuntime } from '../src/platform/jobs/job-runtime.js';
import { systemClock } from '../src/platform/clock.js';

const API_TOKEN = 'test-token-0123456789abcdef';
const SECRETS = ['shpat_0123456789secret', 'shpss_apisecret987', API_TOKEN];

let testDb: TestDatabase;
let switchyard: Switchyard;
let logText = '';
const logSink = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    logText += chunk.toString();
    callback();
  },
});

beforeAll(async () => {
  testDb = await createTestDatabase();
  const config = testConfig(testDb, {
    SWITCHYARD_API_TOKEN: API_TOKEN,
    SHOPIFY_SHOP: 'demo-shop.myshopify.com',
    SHOPIFY_ADMIN_TOKEN: SECRETS[0]!,
    SHOPIFY_API_SECRET: SECRETS[1]!,
  });
  switchyard = await startSwitchyard(config, {
    logger: makeLogger({ level: 'debug', destination: logSink }),
    schedulerTickMs: 100,
  });
});
afterAll(async () => {
  await switchyard?.stop();
  await testDb.drop();
});

const auth = { authorization: `Bearer ${API_TOKEN}` };
async function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const response = await fetch(`${switchyard.url}${path}`, { ...init, headers: { ...auth, ...init.headers } });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: body as Record<string, any>, headers: response.headers };
}

describe(`HTTP on ${backend}`, () => {
  test('GET /health: status, database kind, migrations version, uptime', async () => {
    const { status, body } = await call('/health', { headers: {} });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      role: 'all',
      version: '0.1.0',
      database: { kind: backend, reachable: true, migrationsVersion: '0014_shopify_credentials', migrationsPending: 0 },
    });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  test('OpenAPI document and UI at /docs', async () => {
    const ui = await fetch(`${switchyard.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
    const { status, body } = await call('/docs/json');
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/health',
        '/api/v1/jobs',
        '/api/v1/jobs/{name}/run',
        '/api/v1/jobs/{name}/schedule',
        '/api/v1/jobs/{name}/runs',
      ]),
    );
  });

  test('/metrics in Prometheus format', async () => {
    await call('/api/v1/jobs');
    const response = await fetch(`${switchyard.url}/metrics`, { headers: auth });
    const text = await response.text();
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(text).toContain('switchyard_process_cpu_seconds_total');
    expect(text).toMatch(
      /switchyard_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/jobs",status="200"\} \d+/,
    );
  });

  test('the API and metrics need the token; health does not', async () => {
    expect((await call('/api/v1/jobs', { headers: { authorization: '' } })).status).toBe(401);
    expect((await call('/metrics', { headers: { authorization: '' } })).status).toBe(401);
    const wrong = await call('/api/v1/jobs', { headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'auth.unauthorized' } } });
    expect((await call('/health', { headers: { authorization: '' } })).status).toBe(200);
  });

  test('jobs: list, run now, history', async () => {
    const list = await call('/api/v1/jobs');
    expect(list.status).toBe(200);
    expect(list.body.jobs.map((j: { name: string }) => j.name)).toContain('housekeeping.prune-history');
    const run = await call('/api/v1/jobs/housekeeping.prune-history/run', { method: 'POST' });
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ job: 'housekeeping.prune-history', queueJobId: expect.any(String) });
    const history = await waitFor('the requested run', async () => {
      const { body } = await call('/api/v1/jobs/housekeeping.prune-history/runs?limit=5');
      return body.runs.find(
        (r: { trigger: string; status: string }) => r.trigger === 'api' && r.status === 'succeeded',
      );
    });
    expect(history).toMatchObject({ counts: { jobRunsDeleted: 0, outboxDeleted: 0 }, error: null });
    const one = await call(`/api/v1/job-runs/${history.id}`);
    expect(one.body.id).toBe(history.id);
  });

  test('schedules change without a deploy; bad changes get a clear 400 and save nothing', async () => {
    const ok = await call('/api/v1/jobs/housekeeping.prune-history/schedule', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ schedule: '0 4 * * * tz=Europe/Berlin' }),
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ schedule: '0 4 * * * tz=Europe/Berlin', enabled: true });

    const cases: Array<[unknown, number, string]> = [
      [{ schedule: 'every blue moon' }, 400, 'jobs.invalid_schedule'],
      [{ schedule: 15 }, 400, 'request.invalid'], // a number is not a schedule: bodies are never coerced
      [{ enabled: 'perhaps' }, 400, 'request.invalid'],
      [{ schedule: 'every 1m', colour: 'red' }, 400, 'request.invalid'],
      [{}, 400, 'jobs.empty_change'],
    ];
    for (const [payload, status, code] of cases) {
      const bad = await call('/api/v1/jobs/housekeeping.prune-history/schedule', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      expect(bad.status).toBe(status);
      expect(bad.body.error.code).toBe(code);
    }
    const extra = await call('/api/v1/jobs/housekeeping.prune-history/schedule', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ schedule: 'every 1m', colour: 'red' }),
    });
    expect(extra.body.error.message).toBe('body must NOT have additional properties ("colour")');
    const [row] = await switchyard.database.db
      .select()
      .from(jobSchedules)
      .where(eq(jobSchedules.jobName, 'housekeeping.prune-history'));
    expect(row!.schedule).toBe('0 4 * * * tz=Europe/Berlin');
  });

  test('unknown things: 404 with a stable code; malformed JSON: 400', async () => {
    const unknownJob = await call('/api/v1/jobs/no.such.job/run', { method: 'POST' });
    expect(unknownJob.status).toBe(404);
    expect(unknownJob.body.error).toMatchObject({
      code: 'jobs.unknown_job',
      message: expect.stringContaining('housekeeping.prune-history'),
    });
    expect(await call('/api/v1/nowhere')).toMatchObject({
      status: 404,
      body: { error: { code: 'request.not_found' } },
    });
    const malformed = await call('/api/v1/jobs/housekeeping.prune-history/schedule', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"schedule": ',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toMatch(/^request\./);
    expect((await call('/api/v1/job-runs/abc')).body.error.code).toBe('request.invalid');
  });

  test('secrets never appear in the logs', async () => {
    await call('/api/v1/jobs', { headers: { 'x-shopify-access-token': SECRETS[0]! } });
    expect(logText).toContain('demo-shop.myshopify.com');
    for (const secret of SECRETS) expect(logText).not.toContain(secret);
  });
});

describe('when the database goes away', () => {
  test('requests are answered 503 with Retry-After, without internals, and health says unavailable', async () => {
    const other = await createTestDatabase();
    const database = await other.open();
    let logged = '';
    const logger = makeLogger({
      level: 'error',
      destination: new Writable({
        write(chunk: Buffer, _e, cb) {
          logged += chunk.toString();
          cb();
        },
      }),
    });
    const jobs = makeJobRuntime({ database, jobs: [], clock: systemClock, logger });
    const app = await buildApp({
      database,
      jobs,
      logger,
      metrics: makeMetrics(),
      clock: systemClock,
      startedAt: new Date(),
      role: 'all',
      version: 'test',
      apiAccess: { mode: 'open' },
      rateLimit: { perMinute: 0, webhooksPerMinute: 0 },
      publicUrl: 'http://localhost',
    });
    await database.close();
    const response = await app.inject({ method: 'GET', url: '/api/v1/jobs' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toEqual({
      error: { code: 'database.unavailable', message: 'The database cannot be reached right now. Try again shortly.' },
    });
    expect(logged).toContain('database unavailable');
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: 'unavailable', database: { reachable: false } });
    await app.close();
    await other.drop();
  });
});
