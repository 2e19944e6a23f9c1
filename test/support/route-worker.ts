// A routing worker as its own process, for the two-worker test: routes the waiting orders of the
// database at argv[2] in small batches until none is left, then prints its counts as JSON.
import { openDatabase } from '../../src/platform/db/client.js';
import { runBrokering } from '../../src/domains/routing/index.js';

const url = process.argv[2]!;
const database = await openDatabase({ url, poolSize: 2 });
try {
  const counts = await runBrokering(database.db, {
    runs: 'all',
    trigger: `worker-${process.pid}`,
    now: () => new Date(),
    batchSize: Number(process.argv[3] ?? 20),
  });
  process.stdout.write(`${JSON.stringify(counts)}\n`);
} finally {
  await database.close();
}
