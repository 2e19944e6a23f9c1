import type { Db } from '../db/client.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

export type JobTrigger = 'schedule' | 'api' | 'cli' | 'system';

export interface JobContext {
  db: Db;
  clock: Clock;
  log: Logger;
  runId: number;
  trigger: JobTrigger;
  /** Aborted when the process shuts down (after the grace period) or the job times out. Long jobs
   * check it between batches and stop at a safe point; each batch commits on its own. */
  signal: AbortSignal;
  /** Adds to a named counter recorded on the run (e.g. `orders`, `errors`). */
  count(name: string, by?: number): void;
  /** Reports progress shown on the run while it is going. */
  progress(percent: number, message?: string): void;
}

export interface JobDefinition {
  /** Stable id, persisted in schedules and history: `<room>.<what>`. */
  name: string;
  description: string;
  /** Default schedule text (see schedule.ts); the merchant's setting overrides it. */
  defaultSchedule: string;
  /** False for jobs that only run when asked (their schedule starts switched off). */
  defaultEnabled?: boolean;
  /** A run longer than this is aborted and recorded as failed. */
  timeoutSeconds: number;
  run(ctx: JobContext): Promise<void>;
}
