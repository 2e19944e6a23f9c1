// Jobs used only by tests. Each step is its own transaction writing a `settings` row, so a test can
// see exactly how far a run got and that no step was half-applied.
import { like } from 'drizzle-orm';
import { settings } from '../../src/platform/db/platform.schema.js';
import type { Db } from '../../src/platform/db/client.js';
import type { JobDefinition } from '../../src/platform/jobs/job.types.js';

export function makeStepJob(
  name: string,
  options: { steps: number; stepMs: number; schedule?: string; timeoutSeconds?: number },
): JobDefinition {
  return {
    name,
    description: `test job: ${options.steps} steps of ${options.stepMs} ms`,
    defaultSchedule: options.schedule ?? '0 0 1 1 *',
    timeoutSeconds: options.timeoutSeconds ?? 120,
    async run(ctx) {
      for (let step = 1; step <= options.steps; step++) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await new Promise((r) => setTimeout(r, options.stepMs));
        await ctx.db.transaction(async (tx) => {
          await tx.insert(settings).values({ key: `${name}.run${ctx.runId}.step${step}`, value: { step } });
        });
        ctx.count('steps');
        ctx.progress((step / options.steps) * 100, `step ${step} of ${options.steps}`);
      }
    },
  };
}

export function makeFailingJob(name: string): JobDefinition {
  return {
    name,
    description: 'test job that always fails',
    defaultSchedule: '0 0 1 1 *',
    timeoutSeconds: 30,
    async run() {
      throw new Error('the ERP file server refused the connection');
    },
  };
}

/** Steps recorded by makeStepJob runs, by run id. */
export async function stepsByRun(db: Db, name: string): Promise<Map<number, number>> {
  const rows = await db
    .select({ key: settings.key })
    .from(settings)
    .where(like(settings.key, `${name}.run%`));
  const result = new Map<number, number>();
  for (const { key } of rows) {
    const runId = Number(/\.run(\d+)\./.exec(key)![1]);
    result.set(runId, (result.get(runId) ?? 0) + 1);
  }
  return result;
}
