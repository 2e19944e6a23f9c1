// The ledger: every stock change is one append-only entry; the counters follow in the same
// transaction. This room takes its own row locks, always in (variant, facility) order, so parallel
// writers never lose an update and never deadlock; a replayed entry (same idempotency key) changes
// nothing.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { intArray, queryRows } from '../../platform/db/rows.js';
import type { LedgerKind } from './inventory.schema.js';

export interface LedgerEntryInput {
  variantId: number;
  facilityId: number;
  delta: number;
  kind: LedgerKind;
  /** What caused it: `order_line`, `erp_import`, `variance`, ... and its id. */
  referenceType?: string | null;
  referenceId?: string | null;
  occurredAt: Date;
  source: string;
  idempotencyKey: string;
  note?: string | null;
}

export interface RecordOutcome {
  /** Entries written now (replays are left out). */
  written: number;
  /** Entries whose key was already in the ledger. */
  replayed: number;
}

const pairKey = (variantId: number, facilityId: number) => `${variantId}:${facilityId}`;

/** Takes the counter rows of these pairs (creating missing ones) under lock, in key order. */
export async function lockLevels(tx: Db, pairs: Array<{ variantId: number; facilityId: number }>): Promise<void> {
  const unique = [...new Map(pairs.map((p) => [pairKey(p.variantId, p.facilityId), p])).values()].sort(
    (a, b) => a.variantId - b.variantId || a.facilityId - b.facilityId,
  );
  for (let i = 0; i < unique.length; i += 5000) {
    const json = JSON.stringify(unique.slice(i, i + 5000).map((p) => ({ v: p.variantId, f: p.facilityId })));
    await tx.execute(
      sql`insert into inventory_levels (variant_id, facility_id) select x.v, x.f from jsonb_to_recordset(${json}::jsonb) as x(v bigint, f bigint) order by 1, 2 on conflict do nothing`,
    );
    await tx.execute(
      sql`select 1 from inventory_levels l join jsonb_to_recordset(${json}::jsonb) as p(v bigint, f bigint) on l.variant_id = p.v and l.facility_id = p.f
          order by l.variant_id, l.facility_id for update of l`,
    );
  }
}

/**
 * Takes the counter rows of these pairs under lock, in key order, without creating missing ones
 * (for callers that only move stock where a row exists, e.g. routing's reservations).
 */
export async function lockExistingLevels(
  tx: Db,
  pairs: Array<{ variantId: number; facilityId: number }>,
): Promise<void> {
  if (pairs.length === 0) return;
  await tx.execute(
    sql`select 1 from inventory_levels l
        join unnest(${intArray(pairs.map((p) => p.variantId))}::bigint[], ${intArray(pairs.map((p) => p.facilityId))}::bigint[]) as p(v, f) on l.variant_id = p.v and l.facility_id = p.f
        order by l.variant_id, l.facility_id for update of l`,
  );
}

/**
 * Records entries and moves the counters, inside the caller's transaction. An entry that happened
 * before the latest ERP count of its pair was already in that count: it is written together with an
 * equal and opposite `erp_reset` correction, so on hand stays what the count said plus what came after.
 */
export async function recordEntries(
  tx: Db,
  entries: LedgerEntryInput[],
  now: Date,
  options: { levelsLocked?: boolean } = {},
): Promise<RecordOutcome> {
  const real = entries.filter((e) => e.delta !== 0);
  if (real.length === 0) return { written: 0, replayed: 0 };
  // Callers that decided on these figures took the locks already (same transaction).
  if (!options.levelsLocked) await lockLevels(tx, real);
  const inserted = await insertLedger(tx, real, now);
  const marks = await countMarks(tx, inserted);
  const corrections: LedgerEntryInput[] = [];
  for (const entry of inserted) {
    const countedAt = marks.get(pairKey(entry.variantId, entry.facilityId));
    if (
      entry.kind !== 'erp_reset' &&
      countedAt &&
      entry.occurredAt.getTime() < countedAt.getTime() &&
      entry.delta !== 0
    ) {
      corrections.push({
        variantId: entry.variantId,
        facilityId: entry.facilityId,
        delta: -entry.delta,
        kind: 'erp_reset',
        referenceType: 'ledger_entry',
        referenceId: entry.idempotencyKey,
        occurredAt: countedAt,
        source: 'count_correction',
        idempotencyKey: `count-correction:${entry.idempotencyKey}`,
        note: `already in the ERP count of ${countedAt.toISOString()}`,
      });
    }
  }
  const written = [...inserted, ...(corrections.length > 0 ? await insertLedger(tx, corrections, now) : [])];
  await addToCounters(tx, written, now);
  await markChanged(tx, [...new Set(written.map((e) => e.variantId))], now);
  return { written: inserted.length, replayed: real.length - inserted.length };
}

async function insertLedger(tx: Db, entries: LedgerEntryInput[], now: Date): Promise<LedgerEntryInput[]> {
  const written: LedgerEntryInput[] = [];
  for (let i = 0; i < entries.length; i += 5000) {
    const chunk = entries.slice(i, i + 5000);
    // One JSON parameter per chunk: far cheaper to send and bind than eleven parameters a row.
    const rows = chunk.map((e) => ({
      v: e.variantId,
      f: e.facilityId,
      d: e.delta,
      k: e.kind,
      rt: e.referenceType ?? null,
      ri: e.referenceId ?? null,
      o: e.occurredAt.toISOString(),
      s: e.source,
      key: e.idempotencyKey,
      n: e.note ?? null,
    }));
    const inserted = await queryRows<{ idempotency_key: string }>(
      tx,
      sql`insert into inventory_ledger (variant_id, facility_id, delta, kind, reference_type, reference_id, occurred_at, recorded_at, source, idempotency_key, note)
          select x.v, x.f, x.d, x.k, x.rt, x.ri, x.o, ${now}::timestamptz, x.s, x.key, x.n
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(v bigint, f bigint, d int, k text, rt text, ri text, o timestamptz, s text, key text, n text)
          on conflict (idempotency_key) do nothing returning idempotency_key`,
    );
    const keys = new Set(inserted.map((r) => r.idempotency_key));
    written.push(...chunk.filter((e) => keys.has(e.idempotencyKey)));
  }
  return written;
}

async function countMarks(tx: Db, entries: LedgerEntryInput[]): Promise<Map<string, Date>> {
  const marks = new Map<string, Date>();
  if (entries.length === 0) return marks;
  const json = JSON.stringify(entries.map((e) => ({ v: e.variantId, f: e.facilityId })));
  const rows = await queryRows<{ variant_id: number; facility_id: number; counted_at: Date }>(
    tx,
    sql`select distinct m.variant_id, m.facility_id, m.counted_at from inventory_count_marks m
        join jsonb_to_recordset(${json}::jsonb) as p(v bigint, f bigint) on m.variant_id = p.v and m.facility_id = p.f`,
  );
  for (const r of rows) marks.set(pairKey(r.variant_id, r.facility_id), r.counted_at);
  return marks;
}

async function addToCounters(tx: Db, entries: LedgerEntryInput[], now: Date): Promise<void> {
  const sums = new Map<string, { v: number; f: number; d: number }>();
  for (const e of entries) {
    const key = pairKey(e.variantId, e.facilityId);
    const sum = sums.get(key) ?? { v: e.variantId, f: e.facilityId, d: 0 };
    sum.d += e.delta;
    sums.set(key, sum);
  }
  const changed = [...sums.values()].filter((s) => s.d !== 0);
  for (let i = 0; i < changed.length; i += 5000) {
    await tx.execute(
      sql`update inventory_levels l set on_hand = l.on_hand + d.d, updated_at = ${now}
          from jsonb_to_recordset(${JSON.stringify(changed.slice(i, i + 5000))}::jsonb) as d(v bigint, f bigint, d int) where l.variant_id = d.v and l.facility_id = d.f`,
    );
  }
}

/**
 * Marks variants for publishing (same transaction as the change that moved them). `needsRead` says
 * Shopify may have changed as well, so the publisher reads its levels instead of trusting the shadow.
 */
export async function markChanged(
  tx: Db,
  variantIds: number[],
  now: Date,
  options: { needsRead?: boolean; readAt?: string } = {},
): Promise<void> {
  const ids = [...new Set(variantIds)].sort((a, b) => a - b);
  const needsRead = options.needsRead ?? false;
  // Read at one location (a level webhook names it), or at all of them (null).
  const location = needsRead && options.readAt ? options.readAt : null;
  for (let i = 0; i < ids.length; i += 5000) {
    await tx.execute(
      sql`insert into inventory_publish_queue as q (variant_id, changed_at, needs_read, read_locations)
          select t.v, ${now}::timestamptz, ${needsRead}::boolean, case when ${location}::text is null then null else array[${location}::text] end
          from unnest(${intArray(ids.slice(i, i + 5000))}::bigint[]) as t(v)
          on conflict (variant_id) do update set changed_at = excluded.changed_at, leased_until = null,
            needs_read = q.needs_read or excluded.needs_read,
            read_locations = case
              when (excluded.needs_read and excluded.read_locations is null) or (q.needs_read and q.read_locations is null) then null
              when not q.needs_read then excluded.read_locations
              when not excluded.needs_read then q.read_locations
              else q.read_locations || excluded.read_locations end`,
    );
  }
}

export interface CounterDrift {
  variantId: number;
  facilityId: number;
  counter: number;
  ledger: number;
}

/** Recomputes on hand from the ledger and lists every pair whose counter disagrees. */
export async function compareCountersWithLedger(db: Db): Promise<{ pairs: number; drift: CounterDrift[] }> {
  const rows = await queryRows<{ variant_id: number; facility_id: number; counter: number; ledger: number }>(
    db,
    sql`select coalesce(l.variant_id, s.variant_id) as variant_id, coalesce(l.facility_id, s.facility_id) as facility_id,
               coalesce(l.on_hand, 0) as counter, coalesce(s.total, 0)::int as ledger
        from inventory_levels l
        full join (select variant_id, facility_id, sum(delta) as total from inventory_ledger group by variant_id, facility_id) s
          on s.variant_id = l.variant_id and s.facility_id = l.facility_id
        where coalesce(l.on_hand, 0) <> coalesce(s.total, 0)
        order by 1, 2`,
  );
  const [count] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from inventory_levels`);
  return {
    pairs: count?.n ?? 0,
    drift: rows.map((r) => ({
      variantId: r.variant_id,
      facilityId: r.facility_id,
      counter: r.counter,
      ledger: r.ledger,
    })),
  };
}

/** Sets the counters back to what the ledger says (after compareCountersWithLedger found drift). */
export async function rebuildCountersFromLedger(db: Db, now: Date): Promise<number> {
  return db.transaction(async (tx) => {
    const { drift } = await compareCountersWithLedger(tx);
    await lockLevels(tx, drift);
    for (const d of drift) {
      await tx.execute(
        sql`update inventory_levels set on_hand = ${d.ledger}, updated_at = ${now} where variant_id = ${d.variantId} and facility_id = ${d.facilityId}`,
      );
    }
    await markChanged(
      tx,
      drift.map((d) => d.variantId),
      now,
    );
    return drift.length;
  });
}

/** Every variant may have a new ATP (a facility or channel setting changed, the hourly full publish). Returns how many. */
export async function markAllVariantsChanged(db: Db, now: Date): Promise<number> {
  const rows = await queryRows<{ variant_id: number }>(
    db,
    sql`insert into inventory_publish_queue (variant_id, changed_at)
        select id, ${now}::timestamptz from variants where shopify_inventory_item_id is not null and not is_placeholder
        order by id -- rows locked in variant order, as every other writer of the queue does (no deadlock)
        on conflict (variant_id) do update set changed_at = excluded.changed_at, leased_until = null
        returning variant_id`,
  );
  return rows.length;
}
