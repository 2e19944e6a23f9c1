// Every scheduled job Switchyard runs. Later rooms add theirs here (sync, publishing, routing...).
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { makePruneHistoryJob, makeTableUpkeepJob } from './housekeeping.js';

export function makeJobRegistry(): JobDefinition[] {
  return [makePruneHistoryJob({ jobRunRetentionDays: 30, outboxRetentionDays: 14 }), makeTableUpkeepJob()];
}
