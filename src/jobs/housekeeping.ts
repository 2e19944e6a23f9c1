// Housekeeping: keeps history tables from growing without bound and tables fit for the planner.
import { sql } from 'drizzle-orm';
import { canRunTransactionsSideBySide, type Db } from '../platform/db/client.js';
import { queryRows } from '../platform/db/rows.js';
import { deleteSentBefore } from '../platform/outbox.js';
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { deleteRunsBefore } from '../platform/jobs/runs.repo.js';

const DAY_MS = 86_400_000;

export function makePruneHistoryJob(options: {
  jobRunRetentionDays: number;
  outboxRetentionDays: number;
}): JobDefinition {
  return {
    name: 'housekeeping.prune-history',
    description: `Deletes job runs older than ${options.jobRunRetentionDays} days and delivered outbox entries older than ${options.outboxRetentionDays} days.`,
    defaultSchedule: '30 3 * * *',
    timeoutSeconds: 600,
    async run(ctx) {
      const now = ctx.clock.now().getTime();
      ctx.count('jobRunsDeleted', await deleteRunsBefore(ctx.db, new Date(now - options.jobRunRetentionDays * DAY_MS)));
      ctx.count('outboxDeleted', await deleteSentBefore(ctx.db, new Date(now - options.outboxRetentionDays * DAY_MS)));
    },
  };
}

// Table upkeep: PostgreSQL's autovacuum removes dead row versions and refreshes the planner's
// statistics. A server can run with it switched off (it was, on a machine the day simulation ran on:
// after 30 minutes 900,000 dead rows in the inventory snapshot, stale plans, store work slowing down),
// and PGlite never runs it. When no autovacuum launcher is running, this job does the same work for
// Switchyard's own tables with autovacuum's default thresholds. See docs/decisions/0010.
const UPKEEP_SCHEMAS = ['public', 'pgboss'];
// autovacuum's defaults: vacuum past 50 + 20 % dead rows (or 1,000 + 20 % rows inserted since the
// last vacuum, which keeps index-only scans cheap), analyze past 50 + 10 % rows changed.
const VACUUM_THRESHOLD = 50;
const VACUUM_SCALE = 0.2;
const INSERT_VACUUM_THRESHOLD = 1000;
const ANALYZE_THRESHOLD = 50;
const ANALYZE_SCALE = 0.1;

export interface UpkeepOutcome {
  /** False when the server's own autovacuum is running: nothing was done. */
  needed: boolean;
  vacuumed: string[];
  analyzed: string[];
}

interface TableStats extends Record<string, unknown> {
  schema: string;
  name: string;
  live: number;
  dead: number;
  modified: number;
  inserted: number;
}

export async function autovacuumRunning(db: Db): Promise<boolean> {
  const [row] = await queryRows<{ running: boolean }>(
    db,
    sql`select current_setting('autovacuum') = 'on'
               and exists (select 1 from pg_stat_activity where backend_type = 'autovacuum launcher') as running`,
  );
  return row?.running === true;
}

/** Vacuums and analyzes the tables that need it, one statement per table (VACUUM runs outside a transaction). */
export async function upkeepTables(
  db: Db,
  options: { signal?: AbortSignal; evenWithAutovacuum?: boolean } = {},
): Promise<UpkeepOutcome> {
  if (!options.evenWithAutovacuum && (await autovacuumRunning(db)))
    return { needed: false, vacuumed: [], analyzed: [] };
  const tables = await queryRows<TableStats>(
    db,
    sql`select schemaname as schema, relname as name, n_live_tup::int8 as live, n_dead_tup::int8 as dead,
               n_mod_since_analyze::int8 as modified, n_ins_since_vacuum::int8 as inserted
          from pg_stat_user_tables
         where schemaname in (${sql.join(
           UPKEEP_SCHEMAS.map((s) => sql`${s}`),
           sql`, `,
         )})
         order by schemaname, relname`,
  );
  const outcome: UpkeepOutcome = { needed: true, vacuumed: [], analyzed: [] };
  for (const table of tables) {
    if (options.signal?.aborted) break;
    const vacuum =
      table.dead > VACUUM_THRESHOLD + VACUUM_SCALE * table.live ||
      table.inserted > INSERT_VACUUM_THRESHOLD + VACUUM_SCALE * table.live;
    const analyze = table.modified > ANALYZE_THRESHOLD + ANALYZE_SCALE * table.live;
    if (!vacuum && !analyze) continue;
    const target = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
    await db.execute(sql.raw(vacuum ? `vacuum (analyze) ${target}` : `analyze ${target}`));
    if (vacuum) outcome.vacuumed.push(`${table.schema}.${table.name}`);
    outcome.analyzed.push(`${table.schema}.${table.name}`);
  }
  return outcome;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

export function makeTableUpkeepJob(): JobDefinition {
  let warned = false;
  return {
    name: 'housekeeping.table-upkeep',
    description:
      'Vacuums and analyzes Switchyard tables with many changed rows when the database runs no autovacuum (always on the embedded database).',
    defaultSchedule: 'every 5m',
    timeoutSeconds: 1800,
    async run(ctx) {
      const outcome = await upkeepTables(ctx.db, { signal: ctx.signal });
      if (outcome.needed && !warned && canRunTransactionsSideBySide(ctx.db)) {
        warned = true;
        ctx.log.warn(
          'PostgreSQL runs no autovacuum: Switchyard vacuums and analyzes its own tables every 5 minutes; switch autovacuum on for the server',
        );
      }
      ctx.count('vacuumed', outcome.vacuumed.length);
      ctx.count('analyzed', outcome.analyzed.length);
    },
  };
}
