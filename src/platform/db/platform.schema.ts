// Tables the platform owns: merchant settings, job schedules and run history, and the outbox.
import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Merchant-editable settings, one JSON value per dotted key (e.g. `orders.initial_load_months`). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
});

/**
 * One row per registered job: its schedule is a setting the merchant changes without a deploy.
 * `lastSlotAt` is the last schedule slot that a scheduler claimed; claiming is a conditional UPDATE,
 * so two schedulers never enqueue the same slot.
 */
export const jobSchedules = pgTable('job_schedules', {
  jobName: text('job_name').primaryKey(),
  schedule: text('schedule').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  lastSlotAt: ts('last_slot_at'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
});

export const JOB_RUN_STATUSES = ['running', 'succeeded', 'failed', 'interrupted', 'skipped'] as const;
export type JobRunStatus = (typeof JOB_RUN_STATUSES)[number];

/** History: one row per attempt to run a job. At most one `running` row per job (partial unique index). */
export const jobRuns = pgTable(
  'job_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    jobName: text('job_name').notNull(),
    status: text('status').$type<JobRunStatus>().notNull(),
    trigger: text('trigger').notNull(),
    queueJobId: text('queue_job_id'),
    workerId: text('worker_id').notNull(),
    startedAt: ts('started_at').notNull(),
    heartbeatAt: ts('heartbeat_at').notNull(),
    finishedAt: ts('finished_at'),
    counts: jsonb('counts').$type<Record<string, number>>().notNull().default({}),
    progress: jsonb('progress').$type<{ percent?: number; message?: string }>(),
    error: text('error'),
  },
  (t) => [
    uniqueIndex('job_runs_one_running')
      .on(t.jobName)
      .where(sql`status = 'running'`),
    index('job_runs_by_job').on(t.jobName, t.startedAt),
  ],
);

export const OUTBOX_STATUSES = ['pending', 'sent', 'dead'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * Side effects decided inside a transaction (events, Shopify pushes) are written here in that same
 * transaction and delivered after commit by a worker; `idempotencyKey` makes re-writing harmless.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    topic: text('topic').notNull(),
    aggregateType: text('aggregate_type').notNull(),
    aggregateId: text('aggregate_id').notNull(),
    payload: jsonb('payload').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    status: text('status').$type<OutboxStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    availableAt: ts('available_at').notNull().defaultNow(),
    createdAt: ts('created_at').notNull().defaultNow(),
    sentAt: ts('sent_at'),
    lastError: text('last_error'),
  },
  (t) => [
    uniqueIndex('outbox_idempotency').on(t.idempotencyKey),
    index('outbox_pending')
      .on(t.availableAt)
      .where(sql`status = 'pending'`),
  ],
);
