// Switchyard's job workers as processes of their own (`switchyard serve --role worker`), started by
// the day simulation so that it can kill one without warning (SIGKILL, as the kernel's OOM killer or
// a lost machine would) and start it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WorkerProcess {
  index: number;
  pid: number;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<void>;
}

export interface WorkerProcesses {
  /** Starts worker `index` (again). Its output is appended to `logFile(index)`. */
  start(index: number): WorkerProcess;
  /** Kills worker `index` with SIGKILL and waits until it is gone. */
  kill(index: number): Promise<WorkerProcess | undefined>;
  running(): WorkerProcess[];
  /** Asks every worker to stop (SIGTERM), then kills what is left after `graceMs`. */
  stopAll(graceMs: number): Promise<void>;
}

// The CLI in main/: compiled JavaScript when built, else the TypeScript source through tsx.
const here = fileURLToPath(import.meta.url);
const compiled = here.endsWith('.js');
const cli = join(dirname(here), '..', 'main', compiled ? 'cli.js' : 'cli.ts');
const root = join(dirname(here), '..', '..');

/**
 * `onExit` hears of a worker that ended without being asked to (a crash at start-up, say), with its
 * exit code or signal.
 */
export function workerProcesses(
  env: NodeJS.ProcessEnv,
  logFile: (index: number) => string,
  onExit: (worker: WorkerProcess, how: string) => void,
): WorkerProcesses {
  const children = new Map<number, { child: ChildProcess; info: WorkerProcess }>();
  const asked = new Set<ChildProcess>();
  // A simulation that ends abruptly must not leave workers behind.
  const killAll = () => {
    for (const { child } of children.values()) child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  return {
    start(index) {
      if (children.has(index)) throw new Error(`worker ${index} is already running`);
      const log = openSync(logFile(index), 'a');
      const child = spawn(
        process.execPath,
        [...(compiled ? [] : ['--import', 'tsx']), cli, 'serve', '--role', 'worker'],
        {
          cwd: root,
          env,
          stdio: ['ignore', log, log],
        },
      );
      closeSync(log);
      const exited = new Promise<void>((resolve) =>
        child.once('exit', (code, signal) => {
          if (!asked.has(child)) onExit(info, signal ?? `exit code ${code}`);
          resolve();
        }),
      );
      const info: WorkerProcess = { index, pid: child.pid!, exited };
      children.set(index, { child, info });
      void exited.then(() => {
        if (children.get(index)?.child === child) children.delete(index);
      });
      return info;
    },
    async kill(index) {
      const entry = children.get(index);
      if (!entry) return undefined;
      asked.add(entry.child);
      entry.child.kill('SIGKILL');
      await entry.info.exited;
      return entry.info;
    },
    running: () => [...children.values()].map((c) => c.info),
    async stopAll(graceMs) {
      const all = [...children.values()];
      for (const { child } of all) {
        asked.add(child);
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => all.forEach(({ child }) => child.kill('SIGKILL')), graceMs);
      await Promise.all(all.map(({ info }) => info.exited));
      clearTimeout(timer);
      process.removeListener('exit', killAll);
    },
  };
}
