import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';
import { errorResponses, Id } from './schemas.js';
import type { JobRunRow } from '../platform/jobs/runs.repo.js';

const JobRun = Type.Object({
  id: Type.Integer(),
  jobName: Type.String(),
  status: Type.String({ description: 'running | succeeded | failed | interrupted | skipped' }),
  trigger: Type.String(),
  workerId: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  counts: Type.Record(Type.String(), Type.Number()),
  progress: Type.Union([
    Type.Object({ percent: Type.Optional(Type.Number()), message: Type.Optional(Type.String()) }),
    Type.Null(),
  ]),
  error: Type.Union([Type.String(), Type.Null()]),
});

const Job = Type.Object({
  name: Type.String(),
  description: Type.String(),
  schedule: Type.String(),
  defaultSchedule: Type.String(),
  enabled: Type.Boolean(),
  nextRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  timeoutSeconds: Type.Integer(),
  lastRun: Type.Union([JobRun, Type.Null()]),
});

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });

export function presentRun(run: JobRunRow) {
  return {
    id: run.id,
    jobName: run.jobName,
    status: run.status,
    trigger: run.trigger,
    workerId: run.workerId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationMs: run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
    counts: run.counts,
    progress: run.progress ?? null,
    error: run.error,
  };
}

export function registerJobRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/jobs',
    {
      schema: {
        summary: 'List jobs with their schedules and last run',
        tags: ['jobs'],
        response: { 200: Type.Object({ jobs: Type.Array(Job) }) },
      },
    },
    async () => {
      const jobs = await deps.jobs.list();
      return { jobs: jobs.map((job) => ({ ...job, lastRun: job.lastRun ? presentRun(job.lastRun) : null })) };
    },
  );

  app.post(
    '/api/v1/jobs/:name/run',
    {
      schema: {
        summary: 'Run a job now (queued for the next free worker)',
        tags: ['jobs'],
        params: NameParams,
        response: { 202: Type.Object({ job: Type.String(), queueJobId: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { queueJobId } = await deps.jobs.requestRun(request.params.name, 'api');
      return reply.status(202).send({ job: request.params.name, queueJobId });
    },
  );

  app.put(
    '/api/v1/jobs/:name/schedule',
    {
      schema: {
        summary: 'Change a job schedule or switch it on/off (no deploy needed)',
        description:
          'Schedule: "every 30s", "every 15m", "every 6h", "every 1d", or a cron expression with 5 or 6 fields, optionally followed by " tz=Area/City".',
        tags: ['jobs'],
        params: NameParams,
        body: Type.Object(
          {
            schedule: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Job, ...errorResponses },
      },
    },
    async (request) => {
      const job = await deps.jobs.setSchedule(request.params.name, request.body, 'api');
      return { ...job, lastRun: job.lastRun ? presentRun(job.lastRun) : null };
    },
  );

  app.get(
    '/api/v1/jobs/:name/runs',
    {
      schema: {
        summary: 'Run history of one job, newest first',
        tags: ['jobs'],
        params: NameParams,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ runs: Type.Array(JobRun) }), ...errorResponses },
      },
    },
    async (request) => ({ runs: (await deps.jobs.runs(request.params.name, request.query.limit)).map(presentRun) }),
  );

  app.get(
    '/api/v1/job-runs/:id',
    {
      schema: {
        summary: 'One job run, with progress while it runs',
        tags: ['jobs'],
        params: Type.Object({ id: Id() }),
        response: { 200: JobRun, ...errorResponses },
      },
    },
    async (request) => presentRun(await deps.jobs.run(request.params.id)),
  );
}
