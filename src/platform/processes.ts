// Processes of this machine: whether one still exists (a killed worker leaves runs and leases behind).
import { hostname } from 'node:os';

/** This process, as `host:pid`: how job runs and leases name their holder. */
export const THIS_PROCESS = `${hostname()}:${process.pid}`;

/** Whether a process of this machine still exists (signal 0 checks without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a holder named `host:pid[:…]` is a process of this machine that no longer exists. A holder
 * on another machine, or one still alive, is not known to be gone.
 */
export function isGoneLocalProcess(holder: string): boolean {
  const [host, pid] = holder.split(':');
  const n = Number(pid);
  return host === hostname() && Number.isInteger(n) && n > 0 && n !== process.pid && !isProcessAlive(n);
}
