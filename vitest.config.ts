import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The files that take longest (each over half a minute on either backend), longest first. On a
// fresh clone vitest knows no durations and starts the largest files first, so one of these could
// start last and stretch the run by minutes: start them first, in this order.
const LONGEST_FIRST = [
  'test/fulfillment-e2e.test.ts',
  'test/simulate-day.test.ts',
  'test/api-fuzz.test.ts',
  'test/shopify-connect.test.ts',
  'test/sync.test.ts',
  'test/process.test.ts',
  'test/pos-orders.test.ts',
  'test/inventory-publish.test.ts',
  'test/demo.test.ts',
  'test/inventory-property.test.ts',
  'test/fulfillment-crash.test.ts',
  'test/stop-stress.test.ts',
  'test/publish-crash.test.ts',
  'test/fulfillment-beyond-owed.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const at = LONGEST_FIRST.indexOf(relative(f.project.config.root, f.moduleId));
      return at === -1 ? LONGEST_FIRST.length : at;
    };
    // A stable sort: the other files keep vitest's order.
    return ordered.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'eslint-rules/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only fight over them (PGlite and child processes are CPU-bound).
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
  },
});
