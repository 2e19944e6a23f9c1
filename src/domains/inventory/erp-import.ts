// ERP morning counts: "facility F held N units of SKU S at time T". The file is streamed (never held
// in memory), every row checked, good rows staged in the database; only a file without errors is
// applied, unless the caller asked for per-row mode. Each count is applied as of its time: the entry
// is N − (on hand as of T), so changes after T survive and changes before T are not counted twice.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { invalid } from '../../platform/errors.js';
import { lockLevels, recordEntries, type LedgerEntryInput } from './ledger.service.js';

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

const MAX_STORED_ERRORS = 1000;
const STAGE_BATCH = 5000;
const APPLY_CHUNK = 5000;
/** A count from the future is a clock or file error, not a count. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

interface RawRow {
  facility: string;
  sku: string;
  barcode: string;
  quantity: string;
  countedAt: string;
}

export function formatOf(fileName: string, declared?: string): ImportFormat {
  const format = declared ?? (/\.(jsonl|ndjson)$/i.test(fileName) ? 'jsonl' : /\.csv$/i.test(fileName) ? 'csv' : undefined);
  if (format !== 'csv' && format !== 'jsonl') {
    throw invalid('inventory.import_format', `Cannot tell the format of ${fileName}: name it .csv or .jsonl, or say the format (csv or jsonl).`);
  }
  return format;
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
async function* readRows(path: string, format: ImportFormat): AsyncGenerator<[number, RawRow | string]> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  let columns: Array<keyof RawRow | null> | null = null;
  for await (const text of lines) {
    lineNo++;
    if (text.trim() === '') continue;
    if (format === 'csv') {
      if (!columns) {
        columns = splitCsv(text.replace(/^\uFEFF/, '')).map((h) => HEADER_NAMES[h.toLowerCase()] ?? null);
        const missing = ['facility', 'quantity', 'countedAt'].filter((c) => !columns!.includes(c as keyof RawRow));
        if (!columns.includes('sku') && !columns.includes('barcode')) missing.push('sku or barcode');
        if (missing.length > 0) {
          yield [lineNo, `header must name the columns facility, sku (or barcode), quantity, counted_at; missing: ${missing.join(', ').replace('countedAt', 'counted_at')}`];
          return;
        }
        continue;
      }
      const fields = splitCsv(text);
      if (fields.length !== columns.length) {
        yield [lineNo, `expected ${columns.length} fields, found ${fields.length}`];
        continue;
      }
      const row: RawRow = { facility: '', sku: '', barcode: '', quantity: '', countedAt: '' };
      columns.forEach((c, i) => {
        if (c) row[c] = fields[i]!;
      });
      yield [lineNo, row];
    } else {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        yield [lineNo, 'not valid JSON'];
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield [lineNo, 'each line must be a JSON object'];
        continue;
      }
      const o = value as Record<string, unknown>;
      const str = (v: unknown) => (v === undefined || v === null ? '' : String(v).trim());
      yield [lineNo, { facility: str(o['facility'] ?? o['facility_code']), sku: str(o['sku']), barcode: str(o['barcode'] ?? o['upc']), quantity: str(o['quantity']), countedAt: str(o['counted_at']) }];
    }
  }
  if (format === 'csv' && !columns) yield [Math.max(1, lineNo), 'the file is empty: it needs a header line'];
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
}

export async function importCountFile(db: Db, options: ImportOptions): Promise<ImportReport> {
  const fileName = options.fileName ?? options.path.split('/').pop()!;
  const format = options.format ?? formatOf(fileName);
  const sha = await sha256Of(options.path);
  const [created] = await queryRows<{ id: number }>(
    db,
    sql`insert into inventory_imports (file_name, file_sha256, format, source, per_row, status, started_at)
        values (${fileName}, ${sha}, ${format}, ${options.source}, ${options.perRow ? 1 : 0}, 'validating', ${options.now()}) returning id`,
  );
  const importId = created!.id;
  const errors: Array<{ line: number; reason: string }> = [];
  let errorCount = 0;
  const fail = (line: number, reason: string) => {
    errorCount++;
    if (errors.length < MAX_STORED_ERRORS) errors.push({ line, reason });
  };

  const facilities = new Map(
    (await queryRows<{ id: number; code: string }>(db, sql`select id, code from facilities where kind <> 'VIRTUAL'`)).map((f) => [f.code, f.id]),
  );
  const bySku = new Map<string, number>();
  const byBarcode = new Map<string, number>();
  for (const v of await queryRows<{ id: number; sku: string | null; barcode: string | null }>(db, sql`select id, sku, barcode from variants`)) {
    if (v.sku) bySku.set(v.sku, v.id);
    if (v.barcode) byBarcode.set(v.barcode, v.id);
  }

  let rowsTotal = 0;
  let staged: Array<{ line: number; facilityId: number; variantId: number; quantity: number; countedAt: Date }> = [];
  const flush = async () => {
    if (staged.length === 0) return;
    const json = JSON.stringify(staged.map((r) => ({ l: r.line, f: r.facilityId, v: r.variantId, q: r.quantity, c: r.countedAt.toISOString() })));
    await db.execute(
      sql`insert into inventory_import_rows (import_id, line, facility_id, variant_id, quantity, counted_at)
          select ${importId}::bigint, x.l, x.f, x.v, x.q, x.c from jsonb_to_recordset(${json}::jsonb) as x(l int, f bigint, v bigint, q int, c timestamptz)`,
    );
    staged = [];
  };
  const latest = options.now().getTime() + FUTURE_TOLERANCE_MS;
  for await (const [line, row] of readRows(options.path, format)) {
    if (typeof row === 'string') {
      fail(line, row);
      continue;
    }
    rowsTotal++;
    const facilityId = facilities.get(row.facility);
    if (!row.facility) {
      fail(line, 'facility is empty');
      continue;
    }
    if (facilityId === undefined) {
      fail(line, `unknown facility "${row.facility}"`);
      continue;
    }
    const variantId = row.sku ? bySku.get(row.sku) : byBarcode.get(row.barcode);
    if (!row.sku && !row.barcode) {
      fail(line, 'sku and barcode are both empty');
      continue;
    }
    if (variantId === undefined) {
      fail(line, row.sku ? `unknown SKU "${row.sku}"` : `unknown barcode "${row.barcode}"`);
      continue;
    }
    if (!/^-?\d+$/.test(row.quantity)) {
      fail(line, `quantity "${row.quantity}" is not a whole number`);
      continue;
    }
    const quantity = Number(row.quantity);
    if (quantity < 0) {
      fail(line, `quantity ${quantity} is negative`);
      continue;
    }
    if (quantity > 2_000_000_000) {
      fail(line, `quantity ${quantity} is too large`);
      continue;
    }
    const countedAt = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(row.countedAt) ? new Date(row.countedAt) : null;
    if (!countedAt || Number.isNaN(countedAt.getTime())) {
      fail(line, `counted_at "${row.countedAt}" is not a time with a zone (e.g. 2026-11-28T06:00:00Z)`);
      continue;
    }
    if (countedAt.getTime() > latest) {
      fail(line, `counted_at ${row.countedAt} is in the future`);
      continue;
    }
    staged.push({ line, facilityId, variantId, quantity, countedAt });
    if (staged.length >= STAGE_BATCH) await flush();
  }
  await flush();

  // The same SKU twice for one facility: which line is right is for the sender to say.
  const duplicates = await queryRows<{ lines: number[] }>(
    db,
    sql`select array_agg(line order by line) as lines from inventory_import_rows where import_id = ${importId}
        group by facility_id, variant_id having count(*) > 1 order by min(line)`,
  );
  for (const d of duplicates) {
    for (const line of d.lines.slice(1)) fail(line, `the same SKU and facility as line ${d.lines[0]}`);
  }
  if (duplicates.length > 0) {
    await db.execute(sql`delete from inventory_import_rows r using (
      select import_id, line, row_number() over (partition by facility_id, variant_id order by line) as n
      from inventory_import_rows where import_id = ${importId}) d
      where r.import_id = d.import_id and r.line = d.line and d.n > 1`);
  }
  errors.sort((a, b) => a.line - b.line);
  const [{ n: rowsValid } = { n: 0 }] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from inventory_import_rows where import_id = ${importId}`);

  const base = { importId, fileName, fileSha256: sha, rowsTotal, rowsValid, errorCount, errors };
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
  const applied = await applyStagedCounts(db, importId, sha, options.now);
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
async function applyStagedCounts(db: Db, importId: number, sha: string, now: () => Date): Promise<{ rowsApplied: number; rowsSuperseded: number; entriesWritten: number }> {
  let rowsApplied = 0;
  let rowsSuperseded = 0;
  let entriesWritten = 0;
  let after = 0;
  for (;;) {
    const rows = await queryRows<{ line: number; facility_id: number; variant_id: number; quantity: number; counted_at: Date }>(
      db,
      sql`select line, facility_id, variant_id, quantity, counted_at from inventory_import_rows
          where import_id = ${importId} and line > ${after} order by line limit ${APPLY_CHUNK}`,
    );
    if (rows.length === 0) break;
    const before = after;
    after = rows[rows.length - 1]!.line;
    await db.transaction(async (tx) => {
      await lockLevels(tx, rows.map((r) => ({ variantId: r.variant_id, facilityId: r.facility_id })));
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
