import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequestSeconds: Histogram<'method' | 'route' | 'status'>;
  jobRuns: Counter<'job' | 'status'>;
  jobRunSeconds: Histogram<'job'>;
}

/** One registry per process (not the global one), so tests can build several apps side by side. */
export function makeMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
  return {
    registry,
    httpRequestSeconds: new Histogram({
      name: 'switchyard_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    jobRuns: new Counter({
      name: 'switchyard_job_runs_total',
      help: 'Finished job runs by job and status',
      labelNames: ['job', 'status'],
      registers: [registry],
    }),
    jobRunSeconds: new Histogram({
      name: 'switchyard_job_run_duration_seconds',
      help: 'Job run duration',
      labelNames: ['job'],
      buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers: [registry],
    }),
  };
}
