// The job runtime: pg-boss carries the queue (one delivery per queued job, retries, expiry when a
// worker dies); this file adds what pg-boss leaves to us: schedules that merchants edit at run time,
// a run-history row per attempt, no two runs of one job at once, and a graceful stop.
import { isGoneLocalProcess, THIS_PROCESS } from '../processes.js';
import { randomUUID } from 'node:crypto';
import { PgBoss, fromPglite, type Job } from 'pg-boss';
import type { Database } from '../db/client.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { invalid, isAppError, notFound, unavailable } from '../errors.js';
import type { JobContext, JobDefinition, JobTrigger } from './job.types.js';
import { latestSlot, nextSlot, parseSchedule, type Schedule } from './schedule.js';
import * as runsRepo from './runs.repo.js';
import type { JobRunRow, JobScheduleRow } from './runs.repo.js';

export interface JobSummary {
  name: string;
  description: string;
  schedule: string;
  defaultSchedule: string;
  enabled: boolean;
  nextRunAt: string | null;
  timeoutSeconds: number;
  lastRun: JobRunRow | null;
}

export interface JobRuntimeOptions {
  database: Database;
  jobs: JobDefinition[];
  clock: Clock;
  logger: Logger;
  /** How often the scheduler looks for due slots. */
  schedulerTickMs?: number;
  /** A running run with no heartbeat for this long belongs to a dead worker. */
  staleRunAfterMs?: number;
  heartbeatMs?: number;
  /** Called after each finished run (metrics). */
  onRunFinished?: (run: { jobName: string; status: string; durationMs: number }) => void;
}

interface ActiveRun {
  jobName: string;
  controller: AbortController;
  done: Promise<unknown>;
}

interface QueuePayload {
  trigger: JobTrigger;
  slot?: string;
}

export interface JobRuntime {
  readonly workerId: string;
  /** Starts pg-boss; `work` takes jobs from the queue, `schedule` enqueues due slots. */
  start(options: { work: boolean; schedule: boolean }): Promise<void>;
  list(): Promise<JobSummary[]>;
  /** Queues a run for any worker to take; returns the queue job id. */
  requestRun(name: string, trigger: JobTrigger): Promise<{ queueJobId: string }>;
  /** Runs a job here and now (CLI), recording history like any other run. */
  runHere(name: string, trigger: JobTrigger): Promise<JobRunRow>;
  setSchedule(name: string, change: { schedule?: string; enabled?: boolean }, updatedBy: string): Promise<JobSummary>;
  runs(name: string | undefined, limit: number): Promise<JobRunRow[]>;
  run(id: number): Promise<JobRunRow>;
  /** Stops scheduling and taking work; gives running jobs `graceMs` to finish, then interrupts them. */
  stop(graceMs: number): Promise<void>;
}

// eslint-disable-next-line max-lines-per-function -- a factory: the runtime's methods are closures over the same definitions, timers and running set
export function makeJobRuntime(options: JobRuntimeOptions): JobRuntime {
  const { database, clock, logger } = options;
  const db = database.db;
  const definitions = new Map(options.jobs.map((job) => [job.name, job]));
  if (definitions.size !== options.jobs.length) throw new Error('Two jobs share a name');
  const workerId = `${THIS_PROCESS}:${randomUUID().slice(0, 8)}`;
  const tickMs = options.schedulerTickMs ?? 500;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const staleRunAfterMs = options.staleRunAfterMs ?? Math.max(30_000, heartbeatMs * 4);
  const active = new Set<ActiveRun>();
  let boss: PgBoss | undefined;
  let schedulerTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  function definitionOf(name: string): JobDefinition {
    const definition = definitions.get(name);
    if (!definition) {
      throw notFound(
        'jobs.unknown_job',
        `There is no job named "${name}". Known jobs: ${[...definitions.keys()].join(', ') || '(none)'}.`,
        {
          name,
        },
      );
    }
    return definition;
  }

  async function executeRun(
    definition: JobDefinition,
    trigger: JobTrigger,
    queueJobId: string | null,
  ): Promise<JobRunRow> {
    const startedAt = clock.now();
    let run = await runsRepo.insertRunningRun(db, {
      jobName: definition.name,
      trigger,
      queueJobId,
      workerId,
      now: startedAt,
    });
    if (!run) {
      // Another run holds the slot. If its worker died, free the slot and try once more: a process of
      // this machine that is gone at once, any other once its heartbeat is stale.
      const freed =
        (await runsRepo.interruptRunsOfGoneWorkers(db, isGoneLocalProcess, startedAt, definition.name)) +
        (await runsRepo.interruptStaleRuns(
          db,
          new Date(startedAt.getTime() - staleRunAfterMs),
          startedAt,
          definition.name,
        ));
      if (freed > 0)
        run = await runsRepo.insertRunningRun(db, {
          jobName: definition.name,
          trigger,
          queueJobId,
          workerId,
          now: startedAt,
        });
    }
    if (!run) {
      const holder = await runsRepo.findRunningRun(db, definition.name);
      return runsRepo.insertFinishedRun(db, {
        jobName: definition.name,
        trigger,
        queueJobId,
        workerId,
        now: startedAt,
        status: 'skipped',
        error: `Not started: run #${holder?.id ?? '?'} of this job is still running.`,
      });
    }

    const runId = run.id;
    const controller = new AbortController();
    const timeout = AbortSignal.timeout(definition.timeoutSeconds * 1000);
    const signal = AbortSignal.any([controller.signal, timeout]);
    const counts: Record<string, number> = {};
    let progress: { percent?: number; message?: string } | null = null;
    const log = logger.child({ job: definition.name, runId });
    const ctx: JobContext = {
      db,
      clock,
      log,
      runId,
      trigger,
      signal,
      count(name, by = 1) {
        counts[name] = (counts[name] ?? 0) + by;
      },
      progress(percent, message) {
        progress = { percent: Math.max(0, Math.min(100, Math.round(percent))), ...(message ? { message } : {}) };
      },
    };
    const beat = setInterval(() => {
      runsRepo
        .heartbeat(db, runId, clock.now(), counts, progress)
        .catch((error: unknown) => log.warn({ err: error }, 'heartbeat failed'));
    }, heartbeatMs);
    beat.unref();

    const work = (async () => {
      let status: 'succeeded' | 'failed' | 'interrupted' = 'succeeded';
      let errorText: string | null = null;
      try {
        // A job that ignores its signal is still bounded: the timeout settles the run.
        const timedOut = new Promise((_, reject) =>
          timeout.addEventListener('abort', () => reject(timeout.reason), { once: true }),
        );
        timedOut.catch(() => {});
        if (signal.aborted) throw signal.reason;
        await Promise.race([definition.run(ctx), timedOut]);
      } catch (error) {
        if (controller.signal.aborted) {
          status = 'interrupted';
          errorText = 'Interrupted by shutdown; the job stopped at a safe point and will be retried.';
        } else if (timeout.aborted) {
          status = 'failed';
          errorText = `Timed out after ${definition.timeoutSeconds} s.`;
        } else {
          status = 'failed';
          // Shown in the job's history through the API: never the values of a failed query.
          errorText = withoutQueryValues(error instanceof Error ? error.message : String(error));
          // Waiting for Shopify's credentials is said once by the connector, not as every job's error.
          if (isAppError(error) && error.code === 'shopify.credentials_unavailable')
            log.info({ reason: error.details['reason'] }, 'job waits for Shopify credentials');
          else log.error({ err: error }, 'job failed');
        }
      } finally {
        clearInterval(beat);
      }
      const finishedAt = clock.now();
      await runsRepo.finishRun(db, runId, { status, now: finishedAt, counts, error: errorText });
      options.onRunFinished?.({
        jobName: definition.name,
        status,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
      });
      log.info({ status, counts, ms: finishedAt.getTime() - startedAt.getTime() }, 'job run finished');
      return status;
    })();
    const entry: ActiveRun = { jobName: definition.name, controller, done: work };
    active.add(entry);
    try {
      const status = await work;
      const finished = (await runsRepo.getRun(db, runId))!;
      // Let the queue retry a failed or interrupted run; every job is safe to re-run.
      if (status !== 'succeeded' && queueJobId !== null) {
        throw new Error(`run #${runId} ${status}: ${finished.error ?? ''}`);
      }
      return finished;
    } finally {
      active.delete(entry);
    }
  }

  async function schedulerTick(): Promise<void> {
    const now = clock.now();
    const rows = await runsRepo.listSchedules(db);
    for (const row of rows) {
      if (stopping) return;
      if (!row.enabled || !definitions.has(row.jobName)) continue;
      let schedule: Schedule;
      try {
        schedule = parseSchedule(row.schedule);
      } catch {
        continue; // validated on write; a hand-edited bad row is skipped, not fatal
      }
      const slot = latestSlot(schedule, now);
      if (row.lastSlotAt && row.lastSlotAt.getTime() >= slot.getTime()) continue;
      if (await runsRepo.claimSlot(db, row.jobName, row.schedule, slot)) {
        await boss!.send(row.jobName, { trigger: 'schedule', slot: slot.toISOString() } satisfies QueuePayload, {
          singletonKey: `${row.jobName}@${slot.toISOString()}`,
        });
      }
    }
  }

  function loopScheduler(): void {
    schedulerTimer = setTimeout(() => {
      schedulerTick()
        .catch((error: unknown) => logger.warn({ err: error }, 'scheduler tick failed'))
        .finally(() => {
          if (!stopping) loopScheduler();
        });
    }, tickMs);
  }

  function summarise(
    definition: JobDefinition,
    row: JobScheduleRow | undefined,
    lastRun: JobRunRow | undefined,
  ): JobSummary {
    const scheduleText = row?.schedule ?? definition.defaultSchedule;
    const enabled = row?.enabled ?? definition.defaultEnabled ?? true;
    let nextRunAt: string | null = null;
    if (enabled) {
      try {
        nextRunAt = nextSlot(parseSchedule(scheduleText), clock.now()).toISOString();
      } catch {
        nextRunAt = null;
      }
    }
    return {
      name: definition.name,
      description: definition.description,
      schedule: scheduleText,
      defaultSchedule: definition.defaultSchedule,
      enabled,
      nextRunAt,
      timeoutSeconds: definition.timeoutSeconds,
      lastRun: lastRun ?? null,
    };
  }

  return {
    workerId,

    async start({ work, schedule }) {
      for (const definition of definitions.values()) parseSchedule(definition.defaultSchedule);
      await runsRepo.ensureSchedules(
        db,
        [...definitions.values()].map((d) => ({
          jobName: d.name,
          schedule: d.defaultSchedule,
          enabled: d.defaultEnabled ?? true,
        })),
      );
      const common = { schedule: false, supervise: work, migrate: true, persistWarnings: false } as const;
      boss =
        database.kind === 'pglite'
          ? new PgBoss({ ...common, db: fromPglite(database.pglite!), backend: 'pglite' })
          : new PgBoss({ ...common, connectionString: database.url!, max: 4, application_name: 'switchyard-jobs' });
      boss.on('error', (error: unknown) => logger.error({ err: error }, 'job queue error'));
      await boss.start();
      for (const definition of definitions.values()) {
        await boss.createQueue(definition.name, {
          expireInSeconds: definition.timeoutSeconds + 60,
          retryLimit: 3,
          retryDelay: 5,
          retryBackoff: true,
          deleteAfterSeconds: 86_400,
        });
      }
      if (work) {
        for (const definition of definitions.values()) {
          await boss.work<QueuePayload>(
            definition.name,
            { pollingIntervalSeconds: 0.5, batchSize: 1 },
            async (jobs: Job<QueuePayload>[]) => {
              for (const job of jobs) await executeRun(definition, job.data?.trigger ?? 'system', job.id);
            },
          );
        }
      }
      if (schedule) loopScheduler();
    },

    async list() {
      const [rows, last] = await Promise.all([
        runsRepo.listSchedules(db),
        runsRepo.latestRuns(db, [...definitions.keys()]),
      ]);
      const byName = new Map(rows.map((r) => [r.jobName, r]));
      return [...definitions.values()].map((d) => summarise(d, byName.get(d.name), last.get(d.name)));
    },

    async requestRun(name, trigger) {
      definitionOf(name);
      if (!boss || stopping) throw unavailable('jobs.not_running', 'The job queue is not running in this process.');
      const queueJobId = await boss.send(name, { trigger } satisfies QueuePayload);
      if (!queueJobId) throw unavailable('jobs.not_queued', `The job queue did not accept a run of "${name}".`);
      return { queueJobId };
    },

    async runHere(name, trigger) {
      return executeRun(definitionOf(name), trigger, null);
    },

    async setSchedule(name, change, updatedBy) {
      const definition = definitionOf(name);
      if (change.schedule === undefined && change.enabled === undefined) {
        throw invalid('jobs.empty_change', 'Give a new "schedule", "enabled", or both.');
      }
      const normalised = change.schedule === undefined ? undefined : parseSchedule(change.schedule).text;
      await runsRepo.ensureSchedules(db, [
        { jobName: name, schedule: definition.defaultSchedule, enabled: definition.defaultEnabled ?? true },
      ]);
      const row = await runsRepo.updateSchedule(
        db,
        name,
        {
          ...(normalised === undefined ? {} : { schedule: normalised }),
          ...(change.enabled === undefined ? {} : { enabled: change.enabled }),
        },
        updatedBy,
      );
      const last = await runsRepo.latestRuns(db, [name]);
      return summarise(definition, row, last.get(name));
    },

    runs(name, limit) {
      if (name !== undefined) definitionOf(name);
      return runsRepo.listRuns(db, name, limit);
    },

    async run(id) {
      const row = await runsRepo.getRun(db, id);
      if (!row) throw notFound('jobs.unknown_run', `There is no job run #${id}.`, { id });
      return row;
    },

    async stop(graceMs) {
      stopping = true;
      if (schedulerTimer) clearTimeout(schedulerTimer);
      // Stop taking new work, then let what is running finish within the grace period.
      if (boss) for (const name of definitions.keys()) await boss.offWork(name, { wait: false }).catch(() => {});
      const running = [...active];
      if (running.length > 0) {
        logger.info({ jobs: running.map((r) => r.jobName), graceMs }, 'waiting for running jobs to finish');
        const settled = Promise.allSettled(running.map((r) => r.done));
        const graceOver = await Promise.race([settled.then(() => false), delay(graceMs).then(() => true)]);
        if (graceOver) {
          for (const run of active) run.controller.abort(new Error('shutdown'));
          await Promise.race([Promise.allSettled([...active].map((r) => r.done)), delay(5_000)]);
        }
      }
      if (boss) await boss.stop({ graceful: true, timeout: 1_000, close: database.kind === 'postgres' });
      boss = undefined;
    },
  };
}

/** A failed query's message without its values (drizzle appends them as `params: …`). */
function withoutQueryValues(message: string): string {
  return message.replace(/\nparams: [\s\S]*$/, '\nparams: [redacted]');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
