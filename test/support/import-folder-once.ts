// One run of the drop folder job as its own process, so a test can kill it mid-import.
// argv: <import dir> <clock offset ms> <database url | data dir>
import { openDatabase } from '../../src/platform/db/client.js';
import { makeLogger } from '../../src/platform/logger.js';
import { INVENTORY_JOB_NAMES, makeInventoryJobs } from '../../src/jobs/inventory.jobs.js';

const [importDir, offset, where] = process.argv.slice(2) as [string, string, string];
const database = await openDatabase(where.startsWith('postgres') ? { url: where } : { dataDir: where });
await database.migrate();
const job = makeInventoryJobs({ importDir }).find((j) => j.name === INVENTORY_JOB_NAMES.importFolder)!;
const counts: Record<string, number> = {};
try {
  await job.run({
    db: database.db,
    clock: { now: () => new Date(Date.now() + Number(offset)) },
    log: makeLogger({ level: 'silent' }),
    runId: 1,
    trigger: 'cli',
    signal: new AbortController().signal,
    count: (name, by = 1) => void (counts[name] = (counts[name] ?? 0) + by),
    progress: () => {},
  });
  process.stdout.write(`${JSON.stringify(counts)}\n`);
} finally {
  await database.close();
}
