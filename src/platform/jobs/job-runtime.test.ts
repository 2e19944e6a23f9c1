import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { backend, createTestDatabase, waitFor, type TestDatabase } from '../../../test/support/backend.js';
import { makeFailingJob, makeStepJob, stepsByRun } from '../../../test/support/jobs.js';
import { systemClock } from '../clock.js';
import type { Database } from '../db/client.js';
import { jobRuns, jobSchedules } from '../db/platform.schema.js';
import { silentLogger } from '../logger.js';
import { makeJobRuntime, type JobRuntime } from './job-runtime.js';
import type { JobDefinition } from './job.types.js';
import { claimSlot, ensureSchedules, listRuns } from './runs.repo.js';

let testDb: TestDatabase;
let shared: Database;
const started: JobRuntime[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  shared = await testDb.open();
});
afterEach(async () => {
  while (started.length > 0) await started.pop()!.stop(2_000);
});
afterAll(() => testDb.drop());

/** A database handle for a second "worker": its own pool on PostgreSQL; the one instance on PGlite. */
async function workerDatabase(): Promise<Database> {
  return backend === 'postgres' ? testDb.open({ migrate: false }) : shared;
}

async function startRuntime(
  database: Database,
  jobs: JobDefinition[],
  options: { work?: boolean; schedule?: boolean } = {},
) {
  const runtime = makeJobRuntime({
    database,
    jobs,
    clock: systemClock,
    logger: silentLogger,
    schedulerTickMs: 100,
    heartbeatMs: 200,
  });
  await runtime.start({ work: options.work ?? true, schedule: options.schedule ?? true });
  started.push(runtime);
  return runtime;
}

async function runsOf(name: string) {
  return shared.db.select().from(jobRuns).where(eq(jobRuns.jobName, name));
}

describe(`jobs on ${backend}`, () => {
  test('a job scheduled every second runs and records its history', async () => {
    const job = makeStepJob('test.every-second', { steps: 1, stepMs: 10 });
    const runtime = await startRuntime(shared, [job]);
    await runtime.setSchedule(job.name, { schedule: 'every 1s' }, 'test');
    const runs = await waitFor('three scheduled runs', async () => {
      const rows = (await runsOf(job.name)).filter((r) => r.status === 'succeeded');
      return rows.length >= 3 && rows;
    });
    for (const run of runs) {
      expect(run.trigger).toBe('schedule');
      expect(run.counts).toEqual({ steps: 1 });
      expect(run.finishedAt!.getTime()).toBeGreaterThanOrEqual(run.startedAt.getTime());
      expect(run.error).toBeNull();
    }
    const starts = runs.map((r) => r.startedAt.getTime()).sort((a, b) => a - b);
    // One run per second slot: never two in the same slot.
    const slots = new Set(starts.map((t) => Math.floor(t / 1000)));
    expect(slots.size).toBe(starts.length);
    const summary = (await runtime.list()).find((j) => j.name === job.name)!;
    expect(summary.schedule).toBe('every 1s');
    expect(summary.lastRun?.status).toMatch(/running|succeeded/);
  });

  test('a run requested while two workers listen runs exactly once', async () => {
    const job = makeStepJob('test.two-workers', { steps: 3, stepMs: 50 });
    const first = await startRuntime(shared, [job], { schedule: false });
    await startRuntime(await workerDatabase(), [job], { schedule: false });
    await first.requestRun(job.name, 'api');
    const [run] = await waitFor('the run to finish', async () => {
      const rows = await runsOf(job.name);
      return rows.length === 1 && rows[0]!.status === 'succeeded' && rows;
    });
    await new Promise((r) => setTimeout(r, 1_500)); // time for a duplicate, if any, to show up
    expect(await runsOf(job.name)).toHaveLength(1);
    expect((await stepsByRun(shared.db, job.name)).get(run!.id)).toBe(3);
  });

  test('two schedulers racing for one slot: exactly one wins', async () => {
    await ensureSchedules(shared.db, [{ jobName: 'test.race', schedule: 'every 1s' }]);
    const slot0 = new Date('2026-11-28T06:00:00Z');
    const databases = [shared, await workerDatabase(), await workerDatabase(), await workerDatabase()];
    // First sighting records the slot without firing.
    expect(await claimSlot(shared.db, 'test.race', 'every 1s', slot0)).toBe(false);
    for (let i = 1; i <= 5; i++) {
      const slot = new Date(slot0.getTime() + i * 1000);
      const results = await Promise.all(databases.map((d) => claimSlot(d.db, 'test.race', 'every 1s', slot)));
      expect(results.filter(Boolean)).toHaveLength(1);
    }
    // A stale slot (older than the last claimed) is never claimed again.
    expect(await claimSlot(shared.db, 'test.race', 'every 1s', new Date(slot0.getTime() + 3000))).toBe(false);
  });

  test('two runs of one job never overlap: the second is recorded as skipped', async () => {
    const job = makeStepJob('test.no-overlap', { steps: 5, stepMs: 100 });
    const runtime = await startRuntime(shared, [job], { work: false, schedule: false });
    const [a, b] = await Promise.all([runtime.runHere(job.name, 'cli'), runtime.runHere(job.name, 'cli')]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual(['skipped', 'succeeded']);
    const skipped = a.status === 'skipped' ? a : b;
    const ran = a.status === 'skipped' ? b : a;
    expect(skipped.error).toBe(`Not started: run #${ran.id} of this job is still running.`);
    expect((await stepsByRun(shared.db, job.name)).get(ran.id)).toBe(5);
  });

  test('a run left "running" by a dead worker is marked interrupted and the job runs again', async () => {
    const job = makeStepJob('test.dead-worker', { steps: 1, stepMs: 10 });
    const longAgo = new Date(Date.now() - 10 * 60_000);
    const [orphan] = await shared.db
      .insert(jobRuns)
      .values({
        jobName: job.name,
        status: 'running',
        trigger: 'schedule',
        workerId: 'gone:1',
        startedAt: longAgo,
        heartbeatAt: longAgo,
      })
      .returning();
    const runtime = makeJobRuntime({
      database: shared,
      jobs: [job],
      clock: systemClock,
      logger: silentLogger,
      staleRunAfterMs: 1_000,
    });
    const run = await runtime.runHere(job.name, 'cli');
    expect(run.status).toBe('succeeded');
    const [after] = await shared.db.select().from(jobRuns).where(eq(jobRuns.id, orphan!.id));
    expect(after!.status).toBe('interrupted');
    expect(after!.error).toBe('The worker running this job stopped responding (crash or kill).');
  });

  test('a run of a killed process of this machine is taken over at once; a live one of another machine is not', async () => {
    const job = makeStepJob('test.killed-worker', { steps: 1, stepMs: 10 });
    const justNow = new Date();
    // A process that existed and is gone: a child that already exited.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const [orphan] = await shared.db
      .insert(jobRuns)
      .values({
        jobName: job.name,
        status: 'running',
        trigger: 'schedule',
        workerId: `${hostname()}:${gone}:dead`,
        startedAt: justNow,
        heartbeatAt: justNow,
      })
      .returning();
    const runtime = makeJobRuntime({ database: shared, jobs: [job], clock: systemClock, logger: silentLogger });
    expect((await runtime.runHere(job.name, 'cli')).status).toBe('succeeded');
    const [after] = await shared.db.select().from(jobRuns).where(eq(jobRuns.id, orphan!.id));
    expect(after!.status).toBe('interrupted');

    const other = makeStepJob('test.remote-worker', { steps: 1, stepMs: 10 });
    await shared.db.insert(jobRuns).values({
      jobName: other.name,
      status: 'running',
      trigger: 'schedule',
      workerId: `elsewhere:${gone}:alive`,
      startedAt: justNow,
      heartbeatAt: justNow,
    });
    const second = makeJobRuntime({ database: shared, jobs: [other], clock: systemClock, logger: silentLogger });
    expect((await second.runHere(other.name, 'cli')).status).toBe('skipped');
  });

  test('a failing job records its error, and the queue retries it', async () => {
    const job = makeFailingJob('test.failing');
    const direct = makeJobRuntime({ database: shared, jobs: [job], clock: systemClock, logger: silentLogger });
    const run = await direct.runHere(job.name, 'cli');
    expect(run.status).toBe('failed');
    expect(run.error).toBe('the ERP file server refused the connection');
    const runtime = await startRuntime(shared, [job], { schedule: false });
    await runtime.requestRun(job.name, 'api');
    // The first queued attempt fails; retries follow with back-off (5 s, then longer).
    await waitFor(
      'a retried attempt',
      async () => (await runsOf(job.name)).filter((r) => r.trigger === 'api').length >= 2,
      30_000,
    );
  });

  test("a job failing on a query records the query's error, not the values it carried", async () => {
    const job: JobDefinition = {
      name: 'test.failing-query',
      description: 'fails on a query holding a customer',
      defaultSchedule: 'every 1d',
      timeoutSeconds: 30,
      async run(ctx) {
        await ctx.db.execute(sql`insert into no_such_table (email) values (${'jane.roe@example.com'})`);
      },
    };
    const run = await makeJobRuntime({
      database: shared,
      jobs: [job],
      clock: systemClock,
      logger: silentLogger,
    }).runHere(job.name, 'cli');
    expect(run.status).toBe('failed');
    expect(run.error).toContain('insert into no_such_table');
    expect(run.error).toContain('params: [redacted]');
    expect(run.error).not.toContain('jane.roe@example.com');
  });

  test('a job past its timeout is stopped and recorded as failed', async () => {
    const job = makeStepJob('test.too-slow', { steps: 50, stepMs: 100, timeoutSeconds: 1 });
    const runtime = makeJobRuntime({ database: shared, jobs: [job], clock: systemClock, logger: silentLogger });
    const run = await runtime.runHere(job.name, 'cli');
    expect(run.status).toBe('failed');
    expect(run.error).toBe('Timed out after 1 s.');
    expect(run.counts.steps).toBeLessThan(50);
  });

  test('schedules: invalid changes are refused and nothing is saved; unknown jobs are named', async () => {
    const job = makeStepJob('test.schedules', { steps: 1, stepMs: 1, schedule: 'every 15m' });
    const runtime = makeJobRuntime({ database: shared, jobs: [job], clock: systemClock, logger: silentLogger });
    await runtime.setSchedule(job.name, { schedule: 'every 5m' }, 'test');
    await expect(runtime.setSchedule(job.name, { schedule: 'every 5 fortnights' }, 'test')).rejects.toMatchObject({
      code: 'jobs.invalid_schedule',
      kind: 'invalid',
    });
    const [row] = await shared.db.select().from(jobSchedules).where(eq(jobSchedules.jobName, job.name));
    expect(row!.schedule).toBe('every 5m');
    expect(row!.updatedBy).toBe('test');
    await expect(runtime.requestRun('no.such.job', 'api')).rejects.toMatchObject({
      code: 'jobs.unknown_job',
      kind: 'not_found',
    });
    await expect(runtime.setSchedule(job.name, {}, 'test')).rejects.toMatchObject({ code: 'jobs.empty_change' });
    const off = await runtime.setSchedule(job.name, { enabled: false }, 'test');
    expect(off).toMatchObject({ enabled: false, schedule: 'every 5m', nextRunAt: null });
    expect(await listRuns(shared.db, job.name, 10)).toEqual([]);
  });
});
