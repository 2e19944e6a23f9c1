import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobRuns, jobSchedules, type JobRunStatus } from '../db/platform.schema.js';

export type JobRunRow = typeof jobRuns.$inferSelect;
export type JobScheduleRow = typeof jobSchedules.$inferSelect;

/** Creates schedule rows for jobs that have none; existing rows (the merchant's settings) stay. */
export async function ensureSchedules(
  db: Db,
  defaults: Array<{ jobName: string; schedule: string; enabled?: boolean }>,
): Promise<void> {
  if (defaults.length === 0) return;
  await db
    .insert(jobSchedules)
    .values(
      defaults.map((d) => ({
        jobName: d.jobName,
        schedule: d.schedule,
        enabled: d.enabled ?? true,
        updatedBy: 'default',
      })),
    )
    .onConflictDoNothing();
}

export async function listSchedules(db: Db): Promise<JobScheduleRow[]> {
  return db.select().from(jobSchedules);
}

export async function updateSchedule(
  db: Db,
  jobName: string,
  change: { schedule?: string; enabled?: boolean },
  updatedBy: string,
): Promise<JobScheduleRow | undefined> {
  const [row] = await db
    .update(jobSchedules)
    .set({ ...change, updatedBy, updatedAt: new Date() })
    .where(eq(jobSchedules.jobName, jobName))
    .returning();
  return row;
}

/**
 * Claims a schedule slot. Exactly one caller wins a given slot, however many schedulers run: the
 * UPDATE's condition is re-checked under the row lock. A first sighting only records the slot, so a
 * new or re-enabled daily job does not fire at start-up.
 */
export async function claimSlot(db: Db, jobName: string, scheduleText: string, slot: Date): Promise<boolean> {
  const initialised = await db
    .update(jobSchedules)
    .set({ lastSlotAt: slot })
    .where(and(eq(jobSchedules.jobName, jobName), sql`${jobSchedules.lastSlotAt} IS NULL`))
    .returning({ jobName: jobSchedules.jobName });
  if (initialised.length > 0) return false;
  const claimed = await db
    .update(jobSchedules)
    .set({ lastSlotAt: slot })
    .where(
      and(
        eq(jobSchedules.jobName, jobName),
        eq(jobSchedules.enabled, true),
        eq(jobSchedules.schedule, scheduleText),
        lt(jobSchedules.lastSlotAt, slot),
      ),
    )
    .returning({ jobName: jobSchedules.jobName });
  return claimed.length > 0;
}

/** Starts a run, or returns null when another run of the same job is already going. */
export async function insertRunningRun(
  db: Db,
  values: { jobName: string; trigger: string; queueJobId: string | null; workerId: string; now: Date },
): Promise<JobRunRow | null> {
  const rows = await db
    .insert(jobRuns)
    .values({
      jobName: values.jobName,
      status: 'running',
      trigger: values.trigger,
      queueJobId: values.queueJobId,
      workerId: values.workerId,
      startedAt: values.now,
      heartbeatAt: values.now,
    })
    .onConflictDoNothing({ target: jobRuns.jobName, where: sql`status = 'running'` })
    .returning();
  return rows[0] ?? null;
}

export async function findRunningRun(db: Db, jobName: string): Promise<JobRunRow | undefined> {
  const [row] = await db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.jobName, jobName), eq(jobRuns.status, 'running')));
  return row;
}

export async function insertFinishedRun(
  db: Db,
  values: {
    jobName: string;
    trigger: string;
    queueJobId: string | null;
    workerId: string;
    now: Date;
    status: JobRunStatus;
    error: string;
  },
): Promise<JobRunRow> {
  const [row] = await db
    .insert(jobRuns)
    .values({
      jobName: values.jobName,
      status: values.status,
      trigger: values.trigger,
      queueJobId: values.queueJobId,
      workerId: values.workerId,
      startedAt: values.now,
      heartbeatAt: values.now,
      finishedAt: values.now,
      error: values.error,
    })
    .returning();
  return row!;
}

export async function heartbeat(
  db: Db,
  runId: number,
  now: Date,
  counts: Record<string, number>,
  progress: { percent?: number; message?: string } | null,
): Promise<void> {
  await db
    .update(jobRuns)
    .set({ heartbeatAt: now, counts, progress })
    .where(and(eq(jobRuns.id, runId), eq(jobRuns.status, 'running')));
}

/** Ends a run; only a `running` row changes, so a run is finished once. */
export async function finishRun(
  db: Db,
  runId: number,
  values: { status: JobRunStatus; now: Date; counts: Record<string, number>; error: string | null },
): Promise<boolean> {
  const rows = await db
    .update(jobRuns)
    .set({
      status: values.status,
      finishedAt: values.now,
      heartbeatAt: values.now,
      counts: values.counts,
      error: values.error,
    })
    .where(and(eq(jobRuns.id, runId), eq(jobRuns.status, 'running')))
    .returning({ id: jobRuns.id });
  return rows.length > 0;
}

/** Marks runs whose worker stopped sending heartbeats as interrupted (the worker died). */
export async function interruptStaleRuns(db: Db, olderThan: Date, now: Date, jobName?: string): Promise<number> {
  const rows = await db
    .update(jobRuns)
    .set({
      status: 'interrupted',
      finishedAt: now,
      error: 'The worker running this job stopped responding (crash or kill).',
    })
    .where(
      and(
        eq(jobRuns.status, 'running'),
        lt(jobRuns.heartbeatAt, olderThan),
        jobName === undefined ? undefined : eq(jobRuns.jobName, jobName),
      ),
    )
    .returning({ id: jobRuns.id });
  return rows.length;
}

/**
 * Runs left `running` by a worker process on this machine that no longer exists (killed, crashed):
 * interrupted at once instead of after their heartbeat goes stale. A run of another machine, or of a
 * live process, is left to the heartbeat rule.
 */
export async function interruptRunsOfGoneWorkers(
  db: Db,
  isGone: (workerId: string) => boolean,
  now: Date,
  jobName?: string,
): Promise<number> {
  const running = await db
    .select({ id: jobRuns.id, workerId: jobRuns.workerId })
    .from(jobRuns)
    .where(and(eq(jobRuns.status, 'running'), jobName === undefined ? undefined : eq(jobRuns.jobName, jobName)));
  const gone = running.filter((r) => isGone(r.workerId));
  if (gone.length === 0) return 0;
  const rows = await db
    .update(jobRuns)
    .set({
      status: 'interrupted',
      finishedAt: now,
      error: 'The worker running this job stopped responding (crash or kill).',
    })
    .where(
      and(
        eq(jobRuns.status, 'running'),
        inArray(
          jobRuns.id,
          gone.map((d) => d.id),
        ),
      ),
    )
    .returning({ id: jobRuns.id });
  return rows.length;
}

export async function listRuns(db: Db, jobName: string | undefined, limit: number): Promise<JobRunRow[]> {
  return db
    .select()
    .from(jobRuns)
    .where(jobName === undefined ? undefined : eq(jobRuns.jobName, jobName))
    .orderBy(desc(jobRuns.id))
    .limit(limit);
}

export async function getRun(db: Db, runId: number): Promise<JobRunRow | undefined> {
  const [row] = await db.select().from(jobRuns).where(eq(jobRuns.id, runId));
  return row;
}

/** The latest run of each of the given jobs. */
export async function latestRuns(db: Db, jobNames: string[]): Promise<Map<string, JobRunRow>> {
  if (jobNames.length === 0) return new Map();
  const rows = await db
    .selectDistinctOn([jobRuns.jobName])
    .from(jobRuns)
    .where(inArray(jobRuns.jobName, jobNames))
    .orderBy(jobRuns.jobName, desc(jobRuns.id));
  return new Map(rows.map((r) => [r.jobName, r]));
}

export async function deleteRunsBefore(db: Db, before: Date): Promise<number> {
  const rows = await db
    .delete(jobRuns)
    .where(and(lt(jobRuns.startedAt, before), sql`status <> 'running'`))
    .returning({ id: jobRuns.id });
  return rows.length;
}
