// Housekeeping: keeps history tables from growing without bound.
import { and, lt, eq } from 'drizzle-orm';
import { outbox } from '../platform/db/platform.schema.js';
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { deleteRunsBefore } from '../platform/jobs/runs.repo.js';

const DAY_MS = 86_400_000;

export function makePruneHistoryJob(options: { jobRunRetentionDays: number; outboxRetentionDays: number }): JobDefinition {
  return {
    name: 'housekeeping.prune-history',
    description: `Deletes job runs older than ${options.jobRunRetentionDays} days and delivered outbox entries older than ${options.outboxRetentionDays} days.`,
    defaultSchedule: '30 3 * * *',
    timeoutSeconds: 600,
    async run(ctx) {
      const now = ctx.clock.now().getTime();
      ctx.count('jobRunsDeleted', await deleteRunsBefore(ctx.db, new Date(now - options.jobRunRetentionDays * DAY_MS)));
      const deleted = await ctx.db
        .delete(outbox)
        .where(and(eq(outbox.status, 'sent'), lt(outbox.sentAt, new Date(now - options.outboxRetentionDays * DAY_MS))))
        .returning({ id: outbox.id });
      ctx.count('outboxDeleted', deleted.length);
    },
  };
}
