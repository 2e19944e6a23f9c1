// Switchyard as real processes: the data-dir lock, graceful shutdown during a job, roles, the CLI.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import {
  backend,
  childEnv,
  createTestDatabase,
  TEST_API_TOKEN,
  TEST_AUTH,
  waitFor,
  type TestDatabase,
} from './support/backend.js';
import { CLI, listeningUrl, startChild, type Child } from './support/child.js';
import { stepsByRun } from './support/jobs.js';
import { jobRuns } from '../src/platform/db/platform.schema.js';
import { openDatabase } from '../src/platform/db/client.js';

const SERVE_WITH_TEST_JOBS = 'test/support/serve-with-test-jobs.ts';
const children: Child[] = [];
function spawnChild(script: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = startChild(script, args, env);
  children.push(child);
  return child;
}
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

async function getJson(url: string) {
  const response = await fetch(url, { headers: TEST_AUTH });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('the embedded database is locked to one process', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  test('a second process on the same data dir exits non-zero with a clear message; the first keeps its data', async () => {
    // Always PGlite here: the lock exists for the embedded database.
    const env = childEnv({ ...db, url: undefined }, { PORT: '0', SWITCHYARD_API_TOKEN: TEST_API_TOKEN });
    delete env['DATABASE_URL'];
    const first = spawnChild(CLI, ['serve'], env);
    const url = await listeningUrl(first);
    const changed = await fetch(`${url}/api/v1/jobs/housekeeping.prune-history/schedule`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...TEST_AUTH },
      body: JSON.stringify({ schedule: 'every 6h' }),
    });
    expect(changed.status).toBe(200);

    const second = spawnChild(CLI, ['serve'], env);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(
      `switchyard: The data directory ${db.dataDir} is in use by another Switchyard process (pid ${first.process.pid}`,
    );

    expect((await getJson(`${url}/health`)).status).toBe(200);
    const jobs = await getJson(`${url}/api/v1/jobs`);
    expect(jobs.body.jobs[0].schedule).toBe('every 6h');

    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // After a clean stop the data is there for the next process.
    const list = spawnChild(CLI, ['jobs', 'list', '--json'], env);
    expect(await list.exited).toBe(0);
    expect(JSON.parse(list.output())[0].schedule).toBe('every 6h');
  });
});

describe(`graceful shutdown on ${backend}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  async function runsOfSlowJob() {
    const database = await openDatabase({ url: db.url, dataDir: db.dataDir });
    try {
      const runs = await database.db.select().from(jobRuns).where(eq(jobRuns.jobName, 'test.slow'));
      return { runs, steps: await stepsByRun(database.db, 'test.slow') };
    } finally {
      await database.close();
    }
  }

  async function startAndTriggerSlowJob(extraEnv: Record<string, string>) {
    const child = spawnChild(
      SERVE_WITH_TEST_JOBS,
      [],
      childEnv(db, { PORT: '0', SWITCHYARD_API_TOKEN: TEST_API_TOKEN, ...extraEnv }),
    );
    const url = await listeningUrl(child);
    const requested = await fetch(`${url}/api/v1/jobs/test.slow/run`, { method: 'POST', headers: TEST_AUTH });
    expect(requested.status).toBe(202);
    await waitFor('the slow job to be running', async () => {
      const { body } = await getJson(`${url}/api/v1/jobs/test.slow/runs?limit=1`);
      return body.runs[0]?.status === 'running' && (body.runs[0].counts.steps ?? 0) >= 1;
    });
    return { child, url };
  }

  test('SIGTERM during a job: the job finishes within the grace period, then the process exits 0', async () => {
    const { child } = await startAndTriggerSlowJob({ SWITCHYARD_SHUTDOWN_GRACE_SECONDS: '30' });
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const { runs, steps } = await runsOfSlowJob();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'succeeded', counts: { steps: 10 }, error: null });
    expect(steps.get(runs[0]!.id)).toBe(10);
  });

  test('SIGTERM with no grace left: the job stops at a safe point, is recorded as interrupted, and is retried after restart', async () => {
    const { child } = await startAndTriggerSlowJob({ SWITCHYARD_SHUTDOWN_GRACE_SECONDS: '0' });
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const { runs, steps } = await runsOfSlowJob();
    const interrupted = runs.find((r) => r.status === 'interrupted');
    expect(interrupted, JSON.stringify(runs)).toBeDefined();
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    // Every step the run counted was committed whole; nothing beyond it.
    expect(steps.get(interrupted!.id)).toBe(interrupted!.counts.steps);
    expect(interrupted!.counts.steps).toBeLessThan(10);
    expect(interrupted!.error).toBe('Interrupted by shutdown; the job stopped at a safe point and will be retried.');

    const restarted = spawnChild(
      SERVE_WITH_TEST_JOBS,
      [],
      childEnv(db, { PORT: '0', SWITCHYARD_API_TOKEN: TEST_API_TOKEN }),
    );
    const url = await listeningUrl(restarted);
    const retried = await waitFor(
      'the queue to retry the interrupted job',
      async () => {
        const { body } = await getJson(`${url}/api/v1/jobs/test.slow/runs?limit=10`);
        return body.runs.find(
          (r: { id: number; status: string; trigger: string }) => r.id > interrupted!.id && r.status === 'succeeded',
        );
      },
      40_000,
      250,
    );
    expect(retried.trigger).toBe('api');
    restarted.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  });
});

describe(`roles on ${backend}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  if (backend === 'postgres') {
    test('--role api and --role worker run apart: the API queues, a worker runs', async () => {
      const api = spawnChild(
        SERVE_WITH_TEST_JOBS,
        ['api'],
        childEnv(db, { PORT: '0', SWITCHYARD_API_TOKEN: TEST_API_TOKEN }),
      );
      const worker = spawnChild(
        SERVE_WITH_TEST_JOBS,
        ['worker'],
        childEnv(db, { PORT: '0', SWITCHYARD_API_TOKEN: TEST_API_TOKEN }),
      );
      const url = await listeningUrl(api);
      await worker.waitForLine(/database ready/);
      expect((await getJson(`${url}/health`)).body.role).toBe('api');
      await fetch(`${url}/api/v1/jobs/test.slow/run`, { method: 'POST', headers: TEST_AUTH });
      const run = await waitFor('the worker to run the job', async () => {
        const { body } = await getJson(`${url}/api/v1/jobs/test.slow/runs?limit=1`);
        return body.runs[0]?.status === 'succeeded' && body.runs[0];
      });
      expect(run.workerId).toContain(`:${worker.process.pid}:`);
      api.kill('SIGTERM');
      worker.kill('SIGTERM');
      expect(await api.exited).toBe(0);
      expect(await worker.exited).toBe(0);
    });
  } else {
    test('--role api on the embedded database is refused: it serves one process', async () => {
      const child = spawnChild(
        CLI,
        ['serve', '--role', 'api'],
        childEnv(db, { PORT: '0', SWITCHYARD_API_TOKEN: TEST_API_TOKEN }),
      );
      expect(await child.exited).toBe(1);
      expect(child.output()).toContain('switchyard: --role api needs PostgreSQL (set DATABASE_URL)');
    });
  }
});

describe('CLI', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  test('migrate, jobs list/run/schedule, routing replay, and --help on each command', async () => {
    let draftId = 0;
    const env = childEnv(db, { LOG_LEVEL: 'warn' });
    const migrate = spawnChild(CLI, ['migrate'], env);
    expect(await migrate.exited).toBe(0);
    expect(migrate.output()).toMatch(
      new RegExp(`migrations applied: (\\d+) of \\1; version 0014_shopify_credentials \\(${backend}\\)`),
    );

    const run = spawnChild(CLI, ['jobs', 'run', 'housekeeping.prune-history'], env);
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(
      /^run #\d+ housekeeping.prune-history: succeeded in \d+ ms \(jobRunsDeleted=0 outboxDeleted=0\)/,
    );

    const schedule = spawnChild(CLI, ['jobs', 'schedule', 'housekeeping.prune-history', 'every 2h'], env);
    expect(await schedule.exited).toBe(0);
    expect(schedule.output()).toMatch(/^housekeeping.prune-history: every 2h, next /);

    const badSchedule = spawnChild(CLI, ['jobs', 'schedule', 'housekeeping.prune-history', 'now and then'], env);
    expect(await badSchedule.exited).toBe(1);
    expect(badSchedule.output()).toContain('is neither "every N(s|m|h|d)" nor a cron expression');

    const unknown = spawnChild(CLI, ['jobs', 'run', 'nope'], env);
    expect(await unknown.exited).toBe(1);
    expect(unknown.output()).toContain('switchyard: There is no job named "nope".');

    const list = spawnChild(CLI, ['jobs', 'list'], env);
    expect(await list.exited).toBe(0);
    expect(list.output()).toContain('schedule: every 2h');
    expect(list.output()).toMatch(/last: run #\d+ housekeeping.prune-history: succeeded/);

    // What-if replay from the command line: the default rules against a draft that parks everything.
    const database = await openDatabase({ url: db.url, dataDir: db.url ? undefined : db.dataDir });
    try {
      const { createDraft, defaultRuleDocument } = await import('../src/domains/routing/index.js');
      const { recordEntries } = await import('../src/domains/inventory/index.js');
      const { facilities } = await import('../src/domains/facilities/facilities.schema.js');
      const { applyProductSnapshot } = await import('../src/domains/catalog/index.js');
      const now = new Date();
      const [wh] = await database.db
        .insert(facilities)
        .values({ code: 'WH', name: 'Warehouse', kind: 'WAREHOUSE', canShip: true, latitude: 40.7, longitude: -74 })
        .returning();
      await applyProductSnapshot(
        database.db,
        {
          shopifyProductId: 'gid://shopify/Product/1',
          handle: 'p',
          title: 'P',
          status: 'ACTIVE',
          vendor: null,
          productType: null,
          tags: [],
          imageUrl: null,
          updatedAt: now,
          variants: [
            {
              shopifyVariantId: 'gid://shopify/ProductVariant/1',
              shopifyInventoryItemId: 'gid://shopify/InventoryItem/1',
              sku: 'S1',
              barcode: null,
              title: 'S1',
              price: '12.00',
              weightGrams: null,
              inventoryPolicy: 'DENY',
              updatedAt: now,
            },
          ],
        },
        now,
      );
      const { queryRows } = await import('../src/platform/db/rows.js');
      const [variant] = await queryRows<{ id: number }>(database.db, sql`select id from variants where sku = 'S1'`);
      await database.db.transaction((tx) =>
        recordEntries(
          tx,
          [
            {
              variantId: Number(variant!.id),
              facilityId: wh!.id,
              delta: 1000,
              kind: 'receipt',
              occurredAt: now,
              source: 'test',
              idempotencyKey: 'cli-replay',
            },
          ],
          now,
        ),
      );
      const parkAll = defaultRuleDocument();
      parkAll.runs[0]!.routings[0]!.rules = [
        {
          name: 'nowhere',
          filters: { radiusKm: 0.001 },
          sorts: [],
          useScores: true,
          assignment: { mode: 'single' },
          onUnfilled: { action: 'queue', queue: 'unfillable' },
        },
      ];
      draftId = (await createDraft(database.db, { name: 'park all', document: parkAll, by: 'test' }, now)).id;
    } finally {
      await database.close();
    }
    const replay = spawnChild(
      CLI,
      ['routing', 'replay', '--draft', String(draftId), '--generate', '50', '--seed', '2'],
      env,
    );
    expect(await replay.exited).toBe(0);
    expect(replay.output()).toContain('50 generated orders');
    expect(replay.output()).toMatch(/fill rate\s+0\s+1\s+0×/);
    const unknownDraft = spawnChild(CLI, ['routing', 'replay', '--draft', '9999', '--generate', '5'], env);
    expect(await unknownDraft.exited).toBe(1);
    expect(unknownDraft.output()).toContain('No rule version 9999.');

    const helps = [
      ['--help'],
      ['serve', '--help'],
      ['migrate', '--help'],
      ['jobs', 'run', '--help'],
      ['sim', '--help'],
      ['routing', 'replay', '--help'],
    ].map((args) => spawnChild(CLI, args, env));
    for (const help of helps) {
      expect(await help.exited).toBe(0);
      expect(help.output()).toContain('Usage: switchyard');
    }
  }, 180_000);
});
