// What-if replays as work to be done: the API queues a request (checked at once, so a bad one is
// refused before anything is queued), the `routing.replay` job runs queued replays one at a time in
// steps that leave the process free for other work, and the caller polls for progress and the result.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { notFound } from '../../platform/errors.js';
import { checkReplayInput, replayRules, type ReplayInput } from './replay.js';
import type { ReplayStatus } from './routing.schema.js';

export interface ReplayRequest {
  id: number;
  status: ReplayStatus;
  orders: number;
  input: {
    candidateId: number;
    baselineId: number | null;
    from: string | null;
    to: string | null;
    generated: { orders: number; seed: number } | null;
  };
  progress: { percent: number; message: string } | null;
  result: Record<string, unknown> | null;
  error: string | null;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

type ReplayRow = {
  id: number;
  status: ReplayStatus;
  orders: number;
  input: ReplayRequest['input'];
  progress: ReplayRequest['progress'];
  result: Record<string, unknown> | null;
  error: string | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
};

const present = (r: ReplayRow): ReplayRequest => ({
  id: r.id,
  status: r.status,
  orders: r.orders,
  input: r.input,
  progress: r.progress,
  result: r.result,
  error: r.error,
  requestedAt: r.requested_at.toISOString(),
  startedAt: r.started_at?.toISOString() ?? null,
  finishedAt: r.finished_at?.toISOString() ?? null,
});

const toInput = (stored: ReplayRequest['input']): ReplayInput => ({
  candidateId: stored.candidateId,
  ...(stored.baselineId !== null ? { baselineId: stored.baselineId } : {}),
  ...(stored.from ? { from: new Date(stored.from) } : {}),
  ...(stored.to ? { to: new Date(stored.to) } : {}),
  ...(stored.generated ? { generated: stored.generated } : {}),
});

/** Checks and queues a replay; throws `invalid`/`not_found` (nothing queued) when it cannot run. */
export async function requestReplay(
  db: Db,
  input: ReplayInput,
  by: string,
  now: Date,
  maxOrders?: number,
): Promise<ReplayRequest> {
  const { orders } = await checkReplayInput(db, input, maxOrders);
  const stored: ReplayRequest['input'] = {
    candidateId: input.candidateId,
    baselineId: input.baselineId ?? null,
    from: input.from?.toISOString() ?? null,
    to: input.to?.toISOString() ?? null,
    generated: input.generated ?? null,
  };
  const [row] = await queryRows<ReplayRow>(
    db,
    sql`insert into routing_replays (status, input, orders, requested_by, requested_at) values ('queued', ${JSON.stringify(stored)}::jsonb, ${orders}, ${by}, ${now})
        returning id, status, orders, input, progress, result, error, requested_at, started_at, finished_at`,
  );
  return present(row!);
}

export async function getReplay(db: Db, id: number): Promise<ReplayRequest> {
  const [row] = await queryRows<ReplayRow>(
    db,
    sql`select id, status, orders, input, progress, result, error, requested_at, started_at, finished_at from routing_replays where id = ${id}`,
  );
  if (!row) throw notFound('routing.unknown_replay', `There is no replay ${id}.`, { id });
  return present(row);
}

/** How long a running replay's claim holds without a step; each step renews it. */
const REPLAY_LEASE_MS = 2 * 60_000;

/**
 * Runs queued replays, oldest first, until none is left or `signal` says stop. A replay `running`
 * past its claim belongs to a run that died: it starts again. One whose claim is alive is another
 * run's (a worker taken for dead while the database was away, say) and is left to it.
 */
export async function runQueuedReplays(
  db: Db,
  options: { now: () => Date; signal: AbortSignal; onProgress?: (message: string) => void },
): Promise<{ succeeded: number; failed: number }> {
  const counts = { succeeded: 0, failed: 0 };
  while (!options.signal.aborted) {
    const now = options.now();
    const [claimed] = await queryRows<ReplayRow>(
      db,
      sql`update routing_replays set status = 'running', started_at = ${now}, leased_until = ${new Date(now.getTime() + REPLAY_LEASE_MS)},
            progress = ${JSON.stringify({ percent: 0, message: 'starting' })}::jsonb
          where id = (select id from routing_replays
                      where status = 'queued' or (status = 'running' and (leased_until is null or leased_until < ${now}))
                      order by id limit 1 for update skip locked)
          returning id, status, orders, input, progress, result, error, requested_at, started_at, finished_at`,
    );
    if (!claimed) break;
    try {
      const result = await replayRules(db, toInput(claimed.input), async (percent, message) => {
        if (options.signal.aborted) throw new ReplayStopped();
        await db.execute(
          sql`update routing_replays set progress = ${JSON.stringify({ percent, message })}::jsonb, leased_until = ${new Date(options.now().getTime() + REPLAY_LEASE_MS)} where id = ${claimed.id}`,
        );
        options.onProgress?.(`replay ${claimed.id}: ${message}`);
      });
      await db.execute(
        sql`update routing_replays set status = 'succeeded', result = ${JSON.stringify(result)}::jsonb, progress = ${JSON.stringify({ percent: 100, message: 'done' })}::jsonb,
              finished_at = ${options.now()}, leased_until = null where id = ${claimed.id}`,
      );
      counts.succeeded++;
    } catch (error) {
      // Stopped at a safe point (shutdown): the replay waits for the next run, from the start.
      if (error instanceof ReplayStopped) {
        await db.execute(
          sql`update routing_replays set status = 'queued', progress = null, started_at = null, leased_until = null where id = ${claimed.id}`,
        );
        break;
      }
      const message = error instanceof Error ? error.message.slice(0, 1000) : String(error).slice(0, 1000);
      await db.execute(
        sql`update routing_replays set status = 'failed', error = ${message}, finished_at = ${options.now()}, leased_until = null where id = ${claimed.id}`,
      );
      counts.failed++;
    }
  }
  return counts;
}

class ReplayStopped extends Error {}
