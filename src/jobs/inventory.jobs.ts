// Inventory's jobs: deliver outbox events to their consumers, publish changed ATP to Shopify
// (debounced: a change asks for a run at once; the schedule is the safety net), republish everything
// hourly, and pick ERP count files up from a folder.
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { dispatchOutbox } from '../platform/outbox.js';
import { importCountFile, markAllVariantsChanged } from '../domains/inventory/index.js';
import { makeOrderInventoryHandlers } from '../flows/order-inventory.js';
import type { ShopifyClient } from '../shopify/client.js';
import { claimChangedVariants, DEFAULT_PUBLISH_SETTINGS, freeLeasesOfGoneProcesses, publishVariants, PublishIncomplete, releaseClaims, type PublishSettings } from './inventory-publisher.js';

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
  publishSettings?: PublishSettings;
  /** Asks the runtime to run a job soon (debounced by the caller). */
  requestRun?: (name: string) => void;
  /** Called when order events were delivered (routing takes the new orders). */
  afterOrderEvents?: () => void;
}

export function makeInventoryJobs(deps: InventoryJobDeps): JobDefinition[] {
  const dispatch: JobDefinition = {
    name: INVENTORY_JOB_NAMES.dispatch,
    description: 'Delivers outbox events (order changes) to the rooms that react to them: reservations, POS sales, publishing marks.',
    defaultSchedule: 'every 10s',
    timeoutSeconds: 300,
    async run(ctx) {
      const handlers = makeOrderInventoryHandlers(() => ctx.clock.now());
      let delivered = 0;
      while (!ctx.signal.aborted) {
        const batch = await dispatchOutbox({ db: ctx.db, now: () => ctx.clock.now(), handlers, onError: (m, e) => ctx.log.warn({ err: e, event: m.topic, id: m.id }, 'outbox event failed; will retry') });
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
    description: 'Publishes changed available-to-promise to Shopify: compare-and-set in batches of 250, holding back units of orders not yet downloaded.',
    defaultSchedule: 'every 10s',
    defaultEnabled: shopify !== undefined,
    timeoutSeconds: 1800,
    async run(ctx) {
      if (!shopify) return;
      ctx.count('leases_freed', await freeLeasesOfGoneProcesses(ctx.db, ctx.clock.now()));
      while (!ctx.signal.aborted) {
        const claims = await claimChangedVariants(ctx.db, ctx.clock.now(), 10_000);
        if (claims.length === 0) break;
        try {
          // Read Shopify where it may have moved: every location of a variant, or the one a level webhook named.
          const readVariants = new Set(claims.filter((c) => c.needsRead && c.readLocations === null).map((c) => c.variantId));
          const readPairs = new Set(claims.flatMap((c) => (c.needsRead && c.readLocations ? c.readLocations.map((l) => `${c.variantId}|${l}`) : [])));
          const outcome = await publishVariants(
            { db: ctx.db, shopify, logger: ctx.log, now: () => ctx.clock.now(), settings: deps.publishSettings ?? DEFAULT_PUBLISH_SETTINGS },
            claims.map((c) => c.variantId),
            readVariants,
            readPairs,
          );
          for (const [k, v] of Object.entries(outcome)) ctx.count(k, v);
          await releaseClaims(ctx.db, claims, true);
        } catch (error) {
          if (error instanceof PublishIncomplete) {
            const left = new Set(error.variantIds);
            for (const [k, v] of Object.entries(error.outcome)) ctx.count(k, v);
            await releaseClaims(ctx.db, claims.filter((c) => !left.has(c.variantId)), true);
            await releaseClaims(ctx.db, claims.filter((c) => left.has(c.variantId)), false, new Date(ctx.clock.now().getTime() + 5000));
            ctx.log.warn({ variants: error.variantIds.length }, error.message);
            continue;
          }
          // Shopify unavailable or a bug: the marks stay and come back after a pause.
          await releaseClaims(ctx.db, claims, false, new Date(ctx.clock.now().getTime() + 30_000));
          throw error;
        }
      }
    },
  };
  const publishAll: JobDefinition = {
    name: INVENTORY_JOB_NAMES.publishAll,
    description: 'Marks every variant for publishing: a full reconcile of what Shopify shows against Switchyard\'s targets.',
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
      const processing = path.join(importDir, 'processing');
      await Promise.all(['processing', 'done', 'failed'].map((d) => mkdir(path.join(importDir, d), { recursive: true })));
      // A file left in processing/ by a crashed run is taken again (imports are idempotent).
      const stuck = (await readdir(processing)).filter((f) => /\.(csv|jsonl|ndjson)$/i.test(f));
      const stuckOld = [];
      for (const f of stuck) if (ctx.clock.now().getTime() - (await stat(path.join(processing, f))).mtimeMs > 30 * 60_000) stuckOld.push(f);
      const fresh = (await readdir(importDir)).filter((f) => /\.(csv|jsonl|ndjson)$/i.test(f)).sort();
      for (const name of [...stuckOld, ...fresh]) {
        if (ctx.signal.aborted) break;
        const claimed = path.join(processing, name);
        if (fresh.includes(name)) {
          try {
            // Rename is atomic: of two workers, one wins the file.
            await rename(path.join(importDir, name), claimed);
          } catch {
            continue;
          }
        }
        const report = await importCountFile(ctx.db, { path: claimed, fileName: name, source: 'folder', now: () => ctx.clock.now() });
        const to = path.join(importDir, report.status === 'applied' ? 'done' : 'failed');
        await writeFile(path.join(to, `${name}.report.json`), JSON.stringify(report, null, 2));
        await rename(claimed, path.join(to, name));
        ctx.count(report.status, 1);
        ctx.count('rows', report.rowsTotal);
      }
      deps.requestRun?.(INVENTORY_JOB_NAMES.publish);
    },
  };
  return [dispatch, publish, publishAll, importFolder];
}
