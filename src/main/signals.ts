import type { Switchyard } from './switchyard.js';

/** SIGTERM/SIGINT: stop taking work, let running jobs finish (grace period), close, exit 0.
 * A second signal exits at once. */
export function stopOnSignals(switchyard: Switchyard): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      switchyard.logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(130);
    }
    switchyard.logger.info({ signal }, 'shutting down');
    switchyard.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        switchyard.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
