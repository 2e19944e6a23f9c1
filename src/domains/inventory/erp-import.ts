// ERP morning counts: "facility F held N units of SKU S at time T". The file is streamed (never held
// in memory, nor any line longer than the limit), every row checked, good rows staged in the
// database; only a file without errors is applied, unless the caller asked for per-row mode. Each
// count is applied as of its time: the entry is N − (on hand as of T), so changes after T survive and
// changes before T are not counted twice. Values echoed in errors are cut short (platform/text.ts).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { invalid } from '../../platform/errors.js';
import { echoed, hasUnsafeCharacters, quoted, storable } from '../../platform/text.js';
import { lockLevels, recordEntries, type LedgerEntryInput } from './ledger.service.js';
import { readLines } from './line-reader.js';

export type ImportFormat = 'csv' | 'jsonl';

export interface ImportReport {
  importId: number;
  status: 'rejected' | 'applied';
  fileName: string;
  fileSha256: string;
  rowsTotal: number;
  rowsValid: number;
  rowsApplied: number;
  /** Counts older than one already applied for the same SKU and facility: left out. */
  rowsSuperseded: number;
  entriesWritten: number;
  errorCount: number;
  errors: Array<{ line: number; reason: string }>;
}

/** Errors kept in the report and the database; `errorCount` counts them all. */
export const MAX_STORED_ERRORS = 1000;
const STAGE_BATCH = 5000;
const APPLY_CHUNK = 5000;
/** A count from the future is a clock or file error, not a count. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** Counts from before this are a typo or a zero date (and PostgreSQL has no year 0). */
export const EARLIEST_COUNT = new Date('2000-01-01T00:00:00Z');
const MAX_QUANTITY = 2_000_000_000;
/** File names are stored and shown: longer ones are cut. */
const MAX_FILE_NAME = 255;

/** Bounds on what an import reads; settings (SWITCHYARD_IMPORT_MAX_LINE_BYTES, SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES). */
export interface ImportLimits {
  /** A longer line is reported as too long and skipped without being held. */
  maxLineBytes: number;
  /** A larger upload is refused (HTTP 413) before anything is imported. */
  maxUploadBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxLineBytes: 64 * 1024, maxUploadBytes: 1024 ** 3 };

interface RawRow {
  facility: string;
  sku: string;
  barcode: string;
  quantity: string;
  countedAt: string;
}

export function formatOf(fileName: string, declared?: string): ImportFormat {
  const format =
    declared ?? (/\.(jsonl|ndjson)$/i.test(fileName) ? 'jsonl' : /\.csv$/i.test(fileName) ? 'csv' : undefined);
  if (format !== 'csv' && format !== 'jsonl') {
    throw invalid(
      'inventory.import_format',
      `Cannot tell the format of ${quoted(fileName)}: name it .csv or .jsonl, or say the format (csv or jsonl).`,
    );
  }
  return format;
}

/**
 * A file name given by a client (`?fileName=`) is a label, never a path: no folders, no control
 * characters (PostgreSQL refuses NUL), at most 255 characters.
 */
export function checkFileName(fileName: string): void {
  const why =
    fileName.length > MAX_FILE_NAME
      ? `is ${fileName.length.toLocaleString('en-US')} characters long (at most ${MAX_FILE_NAME})`
      : /[/\\]/.test(fileName) || fileName === '.' || fileName === '..'
        ? 'names a folder or a path'
        : hasUnsafeCharacters(fileName)
          ? 'holds control characters'
          : undefined;
  if (why) {
    throw invalid(
      'inventory.import_file_name',
      `fileName ${quoted(fileName)} ${why}: give a plain file name like counts-2026-11-28.csv.`,
      { field: 'fileName' },
    );
  }
}

/** Splits one CSV line (RFC 4180 quoting within a line). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

const HEADER_NAMES: Record<string, keyof RawRow> = {
  facility: 'facility',
  facility_code: 'facility',
  sku: 'sku',
  barcode: 'barcode',
  upc: 'barcode',
  quantity: 'quantity',
  qty: 'quantity',
  counted_at: 'countedAt',
};

/** Yields [line number, row or error] for every data line of the file. */
async function* readRows(
  path: string,
  format: ImportFormat,
  maxLineBytes: number,
): AsyncGenerator<[number, RawRow | string]> {
  let lastLine = 0;
  let columns: Array<keyof RawRow | null> | null = null;
  for await (const read of readLines(createReadStream(path, { highWaterMark: 64 * 1024 }), maxLineBytes)) {
    lastLine = read.line;
    if ('problem' in read) {
      // Without its header a CSV file cannot be read at all.
      if (read.fatal || (format === 'csv' && !columns)) {
        yield [read.line, format === 'csv' && !columns && !read.fatal ? `header: ${read.problem}` : read.problem];
        return;
      }
      yield [read.line, read.problem];
      continue;
    }
    const text = read.text;
    if (text.trim() === '') continue;
    if (format === 'csv') {
      if (!columns) {
        columns = splitCsv(text.replace(/^\uFEFF/, '')).map((h) => HEADER_NAMES[h.toLowerCase()] ?? null);
        const missing = ['facility', 'quantity', 'countedAt'].filter((c) => !columns!.includes(c as keyof RawRow));
        if (!columns.includes('sku') && !columns.includes('barcode')) missing.push('sku or barcode');
        if (missing.length > 0) {
          yield [
            read.line,
            `header must name the columns facility, sku (or barcode), quantity, counted_at; missing: ${missing.join(', ').replace('countedAt', 'counted_at')}; found ${quoted(text)}`,
          ];
          return;
        }
        continue;
      }
      const fields = splitCsv(text);
      if (fields.length !== columns.length) {
        yield [read.line, `expected ${columns.length} fields, found ${fields.length}`];
        continue;
      }
      const row: RawRow = { facility: '', sku: '', barcode: '', quantity: '', countedAt: '' };
      columns.forEach((c, i) => {
        if (c) row[c] = fields[i]!;
      });
      yield [read.line, row];
    } else {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        yield [read.line, 'not valid JSON'];
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield [read.line, 'each line must be a JSON object'];
        continue;
      }
      const o = value as Record<string, unknown>;
      const str = (v: unknown) =>
        v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v).trim();
      yield [
        read.line,
        {
          facility: str(o['facility'] ?? o['facility_code']),
          sku: str(o['sku']),
          barcode: str(o['barcode'] ?? o['upc']),
          quantity: str(o['quantity']),
          countedAt: str(o['counted_at']),
        },
      ];
    }
  }
  if (format === 'csv' && !columns) yield [Math.max(1, lastLine), 'the file is empty: it needs a header line'];
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ImportOptions {
  path: string;
  fileName?: string;
  format?: ImportFormat;
  perRow?: boolean;
  source: string;
  now: () => Date;
  /** Longer lines are reported and skipped (default 64 KiB). */
  maxLineBytes?: number;
  /** Stops the import at a safe point (between batches); the import is then recorded as failed. */
  signal?: AbortSignal;
}

type ImportError = { line: number; reason: string };

export async function importCountFile(db: Db, options: ImportOptions): Promise<ImportReport> {
  const givenName = options.fileName ?? options.path.split('/').pop()!;
  const format = options.format ?? formatOf(givenName);
  const fileName = storable(givenName, MAX_FILE_NAME);
  const sha = await sha256Of(options.path);
  const [created] = await queryRows<{ id: number }>(
    db,
    sql`insert into inventory_imports (file_name, file_sha256, format, source, per_row, status, started_at)
        values (${fileName}, ${sha}, ${format}, ${options.source}, ${options.perRow ? 1 : 0}, 'validating', ${options.now()}) returning id`,
  );
  const importId = created!.id;
  try {
    return await checkAndApply(db, options, { importId, fileName, sha, format });
  } catch (error) {
    // Whatever stopped it (a stop signal, the database, the file going away), the import says so and
    // keeps no staged rows. Best effort: the database may be what failed.
    const reason = `the import stopped: ${storable(error instanceof Error ? error.message : String(error), 200)}`;
    await db
      .execute(
        sql`update inventory_imports set status = 'failed', errors = ${JSON.stringify([{ line: 0, reason }])}::jsonb, finished_at = ${options.now()}
            where id = ${importId} and status <> 'applied'`,
      )
      .then(() => db.execute(sql`delete from inventory_import_rows where import_id = ${importId}`))
      .catch(() => {});
    throw error;
  }
}

/** One row checked against the facilities and the catalog: what is wrong with it, or the count to stage. */
function checkRow(
  row: RawRow,
  lookups: { facilities: Map<string, number>; bySku: Map<string, number>; byBarcode: Map<string, number> },
  latest: number,
): string | { facilityId: number; variantId: number; quantity: number; countedAt: Date } {
  const facilityId = lookups.facilities.get(row.facility);
  if (!row.facility) return 'facility is empty';
  if (facilityId === undefined) return `unknown facility ${quoted(row.facility)}`;
  const variantId = row.sku ? lookups.bySku.get(row.sku) : lookups.byBarcode.get(row.barcode);
  if (!row.sku && !row.barcode) return 'sku and barcode are both empty';
  if (variantId === undefined)
    return row.sku ? `unknown SKU ${quoted(row.sku)}` : `unknown barcode ${quoted(row.barcode)}`;
  if (!/^-?\d+$/.test(row.quantity)) return `quantity ${quoted(row.quantity)} is not a whole number`;
  if (row.quantity.startsWith('-') && /[1-9]/.test(row.quantity)) return `quantity ${echoed(row.quantity)} is negative`;
  const quantity = Number(row.quantity);
  if (quantity > MAX_QUANTITY)
    return `quantity ${echoed(row.quantity)} is too large (at most ${MAX_QUANTITY.toLocaleString('en-US')})`;
  const countedAt = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(row.countedAt)
    ? new Date(row.countedAt)
    : null;
  if (!countedAt || Number.isNaN(countedAt.getTime()))
    return `counted_at ${quoted(row.countedAt)} is not a time with a zone (e.g. 2026-11-28T06:00:00Z)`;
  if (countedAt.getTime() > latest) return `counted_at ${echoed(row.countedAt)} is in the future`;
  if (countedAt.getTime() < EARLIEST_COUNT.getTime()) return `counted_at ${echoed(row.countedAt)} is before 2000-01-01`;
  return { facilityId, variantId, quantity: quantity === 0 ? 0 : quantity, countedAt };
}

async function checkAndApply(
  db: Db,
  options: ImportOptions,
  file: { importId: number; fileName: string; sha: string; format: ImportFormat },
): Promise<ImportReport> {
  const { importId, sha } = file;
  let errors: ImportError[] = [];
  let errorCount = 0;
  const fail = (line: number, reason: string) => {
    errorCount++;
    if (errors.length < MAX_STORED_ERRORS) errors.push({ line, reason });
  };

  const facilities = new Map(
    (
      await queryRows<{ id: number; code: string }>(db, sql`select id, code from facilities where kind <> 'VIRTUAL'`)
    ).map((f) => [f.code, f.id]),
  );
  const bySku = new Map<string, number>();
  const byBarcode = new Map<string, number>();
  for (const v of await queryRows<{ id: number; sku: string | null; barcode: string | null }>(
    db,
    sql`select id, sku, barcode from variants`,
  )) {
    if (v.sku) bySku.set(v.sku, v.id);
    if (v.barcode) byBarcode.set(v.barcode, v.id);
  }

  let rowsTotal = 0;
  let staged: Array<{ line: number; facilityId: number; variantId: number; quantity: number; countedAt: Date }> = [];
  const flush = async () => {
    if (staged.length === 0) return;
    const json = JSON.stringify(
      staged.map((r) => ({ l: r.line, f: r.facilityId, v: r.variantId, q: r.quantity, c: r.countedAt.toISOString() })),
    );
    await db.execute(
      sql`insert into inventory_import_rows (import_id, line, facility_id, variant_id, quantity, counted_at)
          select ${importId}::bigint, x.l, x.f, x.v, x.q, x.c from jsonb_to_recordset(${json}::jsonb) as x(l int, f bigint, v bigint, q int, c timestamptz)`,
    );
    staged = [];
  };
  const latest = options.now().getTime() + FUTURE_TOLERANCE_MS;
  let read = 0;
  for await (const [line, row] of readRows(
    options.path,
    file.format,
    options.maxLineBytes ?? DEFAULT_IMPORT_LIMITS.maxLineBytes,
  )) {
    if (++read % 1000 === 0) options.signal?.throwIfAborted();
    if (typeof row === 'string') {
      fail(line, row);
      continue;
    }
    rowsTotal++;
    const checked = checkRow(row, { facilities, bySku, byBarcode }, latest);
    if (typeof checked === 'string') {
      fail(line, checked);
      continue;
    }
    staged.push({ line, ...checked });
    if (staged.length >= STAGE_BATCH) await flush();
  }
  await flush();
  options.signal?.throwIfAborted();

  // The same SKU twice for one facility: which line is right is for the sender to say. Only the first
  // errors are fetched: a file of a million repeats must not come back into memory.
  const [repeats] = await queryRows<{ n: number }>(
    db,
    sql`select (count(*) - count(distinct (facility_id, variant_id)))::int as n from inventory_import_rows where import_id = ${importId}`,
  );
  if (repeats!.n > 0) {
    const firstRepeats = await queryRows<{ line: number; first_line: number }>(
      db,
      sql`select line, first_line from (
            select line, first_value(line) over w as first_line, row_number() over w as n
            from inventory_import_rows where import_id = ${importId}
            window w as (partition by facility_id, variant_id order by line)) d
          where n > 1 order by line limit ${MAX_STORED_ERRORS}`,
    );
    errorCount += repeats!.n;
    errors = [
      ...errors,
      ...firstRepeats.map((d) => ({ line: d.line, reason: `the same SKU and facility as line ${d.first_line}` })),
    ];
    await db.execute(sql`delete from inventory_import_rows r using (
      select import_id, line, row_number() over (partition by facility_id, variant_id order by line) as n
      from inventory_import_rows where import_id = ${importId}) d
      where r.import_id = d.import_id and r.line = d.line and d.n > 1`);
  }
  errors = errors.sort((a, b) => a.line - b.line).slice(0, MAX_STORED_ERRORS);
  const [{ n: rowsValid } = { n: 0 }] = await queryRows<{ n: number }>(
    db,
    sql`select count(*)::int as n from inventory_import_rows where import_id = ${importId}`,
  );

  const base = { importId, fileName: file.fileName, fileSha256: sha, rowsTotal, rowsValid, errorCount, errors };
  if (errorCount > 0 && !options.perRow) {
    await db.execute(sql`delete from inventory_import_rows where import_id = ${importId}`);
    await db.execute(
      sql`update inventory_imports set status = 'rejected', rows_total = ${rowsTotal}, rows_valid = ${rowsValid}, error_count = ${errorCount},
          errors = ${JSON.stringify(errors)}::jsonb, finished_at = ${options.now()} where id = ${importId}`,
    );
    return { ...base, status: 'rejected', rowsApplied: 0, rowsSuperseded: 0, entriesWritten: 0 };
  }
  await db.execute(
    sql`update inventory_imports set status = 'applying', rows_total = ${rowsTotal}, rows_valid = ${rowsValid}, error_count = ${errorCount},
        errors = ${JSON.stringify(errors)}::jsonb where id = ${importId}`,
  );
  const applied = await applyStagedCounts(db, importId, sha, options.now, options.signal);
  await db.execute(
    sql`update inventory_imports set status = 'applied', rows_applied = ${applied.rowsApplied}, entries_written = ${applied.entriesWritten},
        finished_at = ${options.now()} where id = ${importId}`,
  );
  return { ...base, status: 'applied', ...applied };
}

/**
 * Applies staged counts in chunks, each in its own transaction. Entry keys name the file and the
 * pair, so a chunk applied twice (a crash, the same file again) writes nothing the second time.
 */
async function applyStagedCounts(
  db: Db,
  importId: number,
  sha: string,
  now: () => Date,
  signal: AbortSignal | undefined,
): Promise<{ rowsApplied: number; rowsSuperseded: number; entriesWritten: number }> {
  let rowsApplied = 0;
  let rowsSuperseded = 0;
  let entriesWritten = 0;
  let after = 0;
  for (;;) {
    signal?.throwIfAborted();
    const rows = await queryRows<{
      line: number;
      facility_id: number;
      variant_id: number;
      quantity: number;
      counted_at: Date;
    }>(
      db,
      sql`select line, facility_id, variant_id, quantity, counted_at from inventory_import_rows
          where import_id = ${importId} and line > ${after} order by line limit ${APPLY_CHUNK}`,
    );
    if (rows.length === 0) break;
    const before = after;
    after = rows[rows.length - 1]!.line;
    await db.transaction(async (tx) => {
      await lockLevels(
        tx,
        rows.map((r) => ({ variantId: r.variant_id, facilityId: r.facility_id })),
      );
      const asOf = await queryRows<{ line: number; on_hand_as_of: number; mark: Date | null }>(
        tx,
        sql`select r.line,
              coalesce(l.on_hand, 0) - coalesce((select sum(g.delta) from inventory_ledger g
                where g.variant_id = r.variant_id and g.facility_id = r.facility_id and g.occurred_at > r.counted_at), 0)::int as on_hand_as_of,
              m.counted_at as mark
            from inventory_import_rows r
            left join inventory_levels l on l.variant_id = r.variant_id and l.facility_id = r.facility_id
            left join inventory_count_marks m on m.variant_id = r.variant_id and m.facility_id = r.facility_id
            where r.import_id = ${importId} and r.line > ${before} and r.line <= ${after}`,
      );
      const byLine = new Map(asOf.map((a) => [a.line, a]));
      const entries: LedgerEntryInput[] = [];
      const marks: typeof rows = [];
      for (const r of rows) {
        const a = byLine.get(r.line)!;
        // A newer count already stands for this pair: this older one says nothing new.
        if (a.mark && a.mark.getTime() > r.counted_at.getTime()) {
          rowsSuperseded++;
          continue;
        }
        rowsApplied++;
        marks.push(r);
        const delta = r.quantity - Number(a.on_hand_as_of);
        if (delta === 0) continue;
        entries.push({
          variantId: r.variant_id,
          facilityId: r.facility_id,
          delta,
          kind: 'erp_reset',
          referenceType: 'inventory_import',
          referenceId: String(importId),
          occurredAt: r.counted_at,
          source: 'erp',
          idempotencyKey: `erp:${sha}:${r.facility_id}:${r.variant_id}`,
          note: `counted ${r.quantity} (line ${r.line})`,
        });
      }
      const outcome = await recordEntries(tx, entries, now(), { levelsLocked: true });
      entriesWritten += outcome.written;
      if (marks.length > 0) {
        const values = sql.join(
          marks.map((r) => sql`(${r.variant_id}::bigint, ${r.facility_id}::bigint, ${r.counted_at}::timestamptz)`),
          sql`, `,
        );
        await tx.execute(
          sql`insert into inventory_count_marks (variant_id, facility_id, counted_at) values ${values}
              on conflict (variant_id, facility_id) do update set counted_at = greatest(inventory_count_marks.counted_at, excluded.counted_at)`,
        );
      }
      await tx.execute(sql`delete from inventory_import_rows where import_id = ${importId} and line <= ${after}`);
    });
  }
  return { rowsApplied, rowsSuperseded, entriesWritten };
}
