// `switchyard serve` plus the test jobs, as a real process (for shutdown and crash tests).
import { loadConfig } from '../../src/main/config.js';
import { startSwitchyard } from '../../src/main/switchyard.js';
import { stopOnSignals } from '../../src/main/signals.js';
import { makeStepJob } from './jobs.js';

const role = (process.argv[2] ?? 'all') as 'all' | 'api' | 'worker';
const switchyard = await startSwitchyard(loadConfig(), {
  role,
  extraJobs: [makeStepJob('test.slow', { steps: 10, stepMs: 300 })],
  heartbeatMs: 500,
});
stopOnSignals(switchyard);
