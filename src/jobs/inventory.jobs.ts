// Inventory's jobs: deliver outbox events to their consumers, publish changed ATP to Shopify
// (debounced: a change asks for a run at once; the schedule is the safety net), republish everything
// hourly, and pick ERP count files up from a folder.
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobContext, JobDefinition } from '../platform/jobs/job.types.js';
import { dispatchOutbox } from '../platform/outbox.js';
import { storable } from '../platform/text.js';
import { importCountFile, markAllVariantsChanged, type ImportReport } from '../domains/inventory/index.js';
import { makeOrderInventoryHandlers } from '../flows/order-inventory.js';
import type { ShopifyClient } from '../shopify/client.js';
import { DEFAULT_PUBLISH_SETTINGS, publishChangedVariants, type PublishSettings } from '../outbound/index.js';

export const INVENTORY_JOB_NAMES = {
  dispatch: 'outbox.dispatch',
  publish: 'inventory.publish',
  publishAll: 'inventory.publish-all',
  importFolder: 'inventory.import-folder',
} as const;

export interface InventoryJobDeps {
  shopify?: ShopifyClient | undefined;
  /** Folder watched for ERP count files (an SFTP drop); unset = the job has nothing to do. */
  importDir?: string | undefined;
  /** Longer lines of a count file are reported and skipped (SWITCHYARD_IMPORT_MAX_LINE_BYTES). */
  maxLineBytes?: number;
  publishSettings?: PublishSettings;
  /** Asks the runtime to run a job soon (debounced by the caller). */
  requestRun?: (name: string) => void;
  /** Called when order events were delivered (routing takes the new orders). */
  afterOrderEvents?: () => void;
}

export function makeInventoryJobs(deps: InventoryJobDeps): JobDefinition[] {
  const dispatch: JobDefinition = {
    name: INVENTORY_JOB_NAMES.dispatch,
    description:
      'Delivers outbox events (order changes) to the rooms that react to them: reservations, POS sales, publishing marks.',
    defaultSchedule: 'every 10s',
    timeoutSeconds: 300,
    async run(ctx) {
      const handlers = makeOrderInventoryHandlers(() => ctx.clock.now());
      let delivered = 0;
      while (!ctx.signal.aborted) {
        const batch = await dispatchOutbox({
          db: ctx.db,
          now: () => ctx.clock.now(),
          handlers,
          onError: (m, e) => ctx.log.warn({ err: e, event: m.topic, id: m.id }, 'outbox event failed; will retry'),
        });
        ctx.count('delivered', batch.delivered);
        ctx.count('failed', batch.failed);
        delivered += batch.delivered;
        if (batch.delivered + batch.failed === 0) break;
      }
      if (delivered > 0) {
        deps.requestRun?.(INVENTORY_JOB_NAMES.publish);
        deps.afterOrderEvents?.();
      }
    },
  };
  const shopify = deps.shopify;
  const publish: JobDefinition = {
    name: INVENTORY_JOB_NAMES.publish,
    description:
      'Publishes changed available-to-promise to Shopify: compare-and-set in batches of 250, holding back units of orders not yet downloaded.',
    defaultSchedule: 'every 10s',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 1800,
    async run(ctx) {
      if (!shopify) return;
      await publishChangedVariants(ctx, shopify, deps.publishSettings ?? DEFAULT_PUBLISH_SETTINGS);
    },
  };
  const publishAll: JobDefinition = {
    name: INVENTORY_JOB_NAMES.publishAll,
    description:
      "Marks every variant for publishing: a full reconcile of what Shopify shows against Switchyard's targets.",
    defaultSchedule: 'every 1h',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 600,
    async run(ctx) {
      ctx.count('variants', await markAllVariantsChanged(ctx.db, ctx.clock.now()));
      deps.requestRun?.(INVENTORY_JOB_NAMES.publish);
    },
  };
  const importDir = deps.importDir;
  const importFolder: JobDefinition = {
    name: INVENTORY_JOB_NAMES.importFolder,
    description: `Imports ERP count files (.csv, .jsonl) dropped in ${importDir ?? '(no folder configured: set INVENTORY_IMPORT_DIR)'}; moves each to done/ or failed/ with a report.`,
    defaultSchedule: 'every 5m',
    defaultEnabled: importDir !== undefined,
    timeoutSeconds: 3 * 3600,
    async run(ctx) {
      if (!importDir) return;
      await importDroppedFiles(ctx, importDir, deps.maxLineBytes);
      deps.requestRun?.(INVENTORY_JOB_NAMES.publish);
    },
  };
  return [dispatch, publish, publishAll, importFolder];
}

/** A file whose import was cut short this many times (the process stopped or died during it) is set aside. */
export const MAX_IMPORT_ATTEMPTS = 3;
/** A file in processing/ taken longer ago than this was left there by a run that did not finish. */
const LEFT_AFTER_MS = 30 * 60_000;
const COUNT_FILE = /\.(csv|jsonl|ndjson)$/i;

/** What failed/NAME.report.json says when a file could not be imported at all (no import report). */
export interface FolderFailure {
  status: 'failed';
  fileName: string;
  reason: string;
  attempts: number;
  at: string;
}

/**
 * The drop folder: each file is taken by an atomic rename into processing/ (of two workers, one wins
 * it), imported, and moved with its report to done/ or failed/, which are never read again. Whatever
 * goes wrong with one file (bad rows, a line too long, an unreadable file, an exception) sends it to
 * failed/ and the run goes on with the next. Each take is counted in processing/NAME.attempt.json
 * before the import starts, so a file that kills the process is set aside after MAX_IMPORT_ATTEMPTS.
 */
async function importDroppedFiles(ctx: JobContext, importDir: string, maxLineBytes: number | undefined): Promise<void> {
  const processing = path.join(importDir, 'processing');
  await Promise.all(['processing', 'done', 'failed'].map((d) => mkdir(path.join(importDir, d), { recursive: true })));
  const now = () => ctx.clock.now();
  const inProcessing = (await readdir(processing)).filter((f) => COUNT_FILE.test(f));
  const left: Array<{ name: string; attempts: number }> = [];
  for (const name of inProcessing) {
    const taken = await readAttempt(processing, name);
    if (taken && now().getTime() - taken.at.getTime() > LEFT_AFTER_MS) left.push({ name, attempts: taken.attempts });
  }
  // A new file under the name of one still in processing/ waits for that one to be settled.
  const fresh = (await readdir(importDir)).filter((f) => COUNT_FILE.test(f) && !inProcessing.includes(f)).sort();
  const work = [
    ...left.map((l) => ({ ...l, fresh: false })),
    ...fresh.map((name) => ({ name, attempts: 0, fresh: true })),
  ];

  for (const { name, attempts, fresh: isFresh } of work) {
    if (ctx.signal.aborted) break;
    const claimed = path.join(processing, name);
    if (isFresh) {
      try {
        await rename(path.join(importDir, name), claimed);
      } catch {
        continue; // another worker took it, or it went away
      }
    }
    const shown = storable(name, 255);
    try {
      if (attempts >= MAX_IMPORT_ATTEMPTS) {
        const reason = `its import was cut short ${attempts} times (the process stopped or died while importing it): set aside so that it cannot stop the process again; move it back to the folder to try again`;
        await settle(importDir, name, 'failed', {
          status: 'failed',
          fileName: shown,
          reason,
          attempts,
          at: now().toISOString(),
        });
        ctx.count('failed');
        ctx.log.warn({ file: shown, attempts }, 'count file set aside in failed/: its import was cut short too often');
        continue;
      }
      await recordAttempt(processing, name, attempts + 1, now());
      let report: ImportReport;
      try {
        report = await importCountFile(ctx.db, {
          path: claimed,
          fileName: name,
          source: 'folder',
          now,
          signal: ctx.signal,
          ...(maxLineBytes ? { maxLineBytes } : {}),
        });
      } catch (error) {
        // Stopped (shutdown, timeout): the file stays in processing/ and is taken again later.
        if (ctx.signal.aborted) break;
        const reason = `could not be imported: ${storable(error instanceof Error ? error.message : String(error), 300)}`;
        await settle(importDir, name, 'failed', {
          status: 'failed',
          fileName: shown,
          reason,
          attempts: attempts + 1,
          at: now().toISOString(),
        });
        ctx.count('failed');
        ctx.log.warn({ file: shown, reason }, 'count file set aside in failed/');
        continue;
      }
      await settle(importDir, name, report.status === 'applied' ? 'done' : 'failed', report);
      ctx.count(report.status);
      ctx.count('rows', report.rowsTotal);
      if (report.status !== 'applied')
        ctx.log.warn(
          { file: shown, errors: report.errorCount, importId: report.importId },
          'count file rejected: moved to failed/ with its report',
        );
    } catch (error) {
      // Settling failed (a full disk, permissions): the file stays in processing/, its takes counted.
      ctx.count('errors');
      ctx.log.error({ err: error, file: shown }, 'count file could not be moved out of processing/');
    }
  }
}

const attemptFile = (processing: string, name: string) => path.join(processing, `${name}.attempt.json`);

/** Written whole or not at all (a temporary file renamed), so a crash cannot leave half a record. */
async function recordAttempt(processing: string, name: string, attempts: number, at: Date): Promise<void> {
  const record = attemptFile(processing, name);
  await writeFile(`${record}.tmp`, JSON.stringify({ attempts, at: at.toISOString() }));
  await rename(`${record}.tmp`, record);
}

/** How often and when the file was taken; a file without a record (taken just before a crash) counts once, from its own time. */
async function readAttempt(processing: string, name: string): Promise<{ attempts: number; at: Date } | null> {
  try {
    const record = JSON.parse(await readFile(attemptFile(processing, name), 'utf8')) as {
      attempts?: unknown;
      at?: unknown;
    };
    const at = new Date(String(record.at));
    if (Number.isInteger(record.attempts) && !Number.isNaN(at.getTime()))
      return { attempts: record.attempts as number, at };
  } catch {
    // no record, or not one this job wrote
  }
  try {
    return { attempts: 1, at: (await lstat(path.join(processing, name))).mtime };
  } catch {
    return null;
  }
}

/** Writes the report, then moves the file beside it (under a new name if one of that name is there). */
async function settle(
  importDir: string,
  name: string,
  to: 'done' | 'failed',
  report: ImportReport | FolderFailure,
): Promise<void> {
  const folder = path.join(importDir, to);
  const target = await freeName(folder, name);
  await writeFile(path.join(folder, `${target}.report.json`), `${JSON.stringify(report, null, 2)}\n`);
  try {
    await rename(path.join(importDir, 'processing', name), path.join(folder, target));
  } catch (error) {
    // The file went away while it was imported: its report says what happened.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await rm(attemptFile(path.join(importDir, 'processing'), name), { force: true });
}

/** `name`, or `stem.2.ext`, `stem.3.ext`… when done/ or failed/ already holds a file of that name. */
async function freeName(folder: string, name: string): Promise<string> {
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${stem}.${n}${ext}`;
    if (!(await exists(path.join(folder, candidate))) && !(await exists(path.join(folder, `${candidate}.report.json`))))
      return candidate;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}
