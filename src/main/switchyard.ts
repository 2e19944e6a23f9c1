// Composition root: the only place that wires rooms together. The CLI and the tests start Switchyard
// through startSwitchyard().
import { join } from 'node:path';
import type { Config } from './config.js';
import { apiAccessOf, describeConfig } from './config.js';
import { openDatabase, type Database } from '../platform/db/client.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { makeLogger, type Logger } from '../platform/logger.js';
import { makeMetrics, type Metrics } from '../platform/metrics.js';
import { makeJobRuntime, type JobRuntime } from '../platform/jobs/job-runtime.js';
import type { JobDefinition } from '../platform/jobs/job.types.js';
import { AppError } from '../platform/errors.js';
import { isConnectionFailure } from '../platform/db/unavailable.js';
import { housekeepingJobs, INVENTORY_JOB_NAMES, makeJobRegistry } from '../jobs/registry.js';
import { buildApp, type App } from '../http/app.js';
import { VERSION, type Role } from './version.js';
import { makeShopifyClient } from '../shopify/client.js';
import { accessTokensFor, tokenEndpointAndBox } from '../shopify/access-tokens.js';
import { makeInstallFlow } from '../shopify/install.js';
import { scopesNeeded } from '../shopify/scopes.js';
import { ensureShop, INITIAL_LOAD_JOB, makeIngest, resumeAfterCredentials } from '../ingest/index.js';
import type { SyncSettings } from '../ingest/ingest.jobs.js';
import { unitsShippedBeyondOwed } from '../domains/fulfillment/index.js';
import { Gauge } from 'prom-client';

export { ROLES, VERSION, type Role } from './version.js';

export interface StartOptions {
  role?: Role;
  /** Jobs added to the registry (tests, simulations). */
  extraJobs?: JobDefinition[];
  clock?: Clock;
  logger?: Logger;
  schedulerTickMs?: number;
  heartbeatMs?: number;
  staleRunAfterMs?: number;
  /** Poll overlap and delay (tests shorten them). */
  syncSettings?: SyncSettings;
  /** Start the initial load on first start with a shop configured (default true). */
  autoConnect?: boolean;
}

export interface Switchyard {
  config: Config;
  role: Role;
  database: Database;
  jobs: JobRuntime;
  metrics: Metrics;
  logger: Logger;
  /** The HTTP app (roles `all` and `api`). */
  app: App | undefined;
  /** Where the HTTP server listens, once started. */
  url: string | undefined;
  stop(): Promise<void>;
}

/** Host, port and database of a PostgreSQL URL: where, without who or the password. */
function describeDatabase(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

/** Waits for `work`, at most `ms`; past that, logs what did not finish and moves on. */
async function bounded(work: Promise<unknown> | undefined, ms: number, what: string, logger: Logger): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  const outcome = await Promise.race([work.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') logger.error({ step: what, ms }, 'shutdown step did not finish in time; going on');
}

/**
 * Opens the database named by the config and applies migrations. A PostgreSQL server that cannot be
 * reached yet (it starts after us, a network blip) is waited for, up to SWITCHYARD_DATABASE_WAIT_SECONDS,
 * saying so every few seconds.
 */
export async function openConfiguredDatabase(config: Config, logger: Logger): Promise<Database> {
  const deadline = Date.now() + config.databaseWaitSeconds * 1000;
  let database: Database | undefined;
  for (let attempt = 1; !database; attempt++) {
    try {
      database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
    } catch (error) {
      if (!config.databaseUrl || !isConnectionFailure(error)) throw error;
      const where = describeDatabase(config.databaseUrl);
      const reason = (error as { code?: string }).code ?? (error as Error).message;
      if (Date.now() >= deadline) {
        throw new AppError(
          'platform.database_unreachable',
          'unavailable',
          `The database at ${where} cannot be reached (${reason}); gave up after ${config.databaseWaitSeconds} s (SWITCHYARD_DATABASE_WAIT_SECONDS).`,
        );
      }
      const waitMs = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5), Math.max(0, deadline - Date.now()));
      logger.warn(
        { database: where, reason, attempt },
        `waiting for the database at ${where} (${reason}); trying again in ${Math.round(waitMs / 100) / 10} s`,
      );
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
  try {
    const status = await database.migrate();
    logger.info({ database: database.kind, migrations: status }, 'database ready');
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** The job runtime over `jobs` (default: the housekeeping jobs alone, for the CLI) and the options' extra jobs. */
export function makeJobs(
  database: Database,
  options: StartOptions,
  logger: Logger,
  metrics: Metrics,
  clock: Clock,
  jobs: JobDefinition[] = housekeepingJobs(),
): JobRuntime {
  return makeJobRuntime({
    database,
    jobs: [...jobs, ...(options.extraJobs ?? [])],
    clock,
    logger,
    ...(options.schedulerTickMs === undefined ? {} : { schedulerTickMs: options.schedulerTickMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.staleRunAfterMs === undefined ? {} : { staleRunAfterMs: options.staleRunAfterMs }),
    onRunFinished: ({ jobName, status, durationMs }) => {
      metrics.jobRuns.inc({ job: jobName, status });
      metrics.jobRunSeconds.observe({ job: jobName }, durationMs / 1000);
    },
  });
}

// eslint-disable-next-line max-lines-per-function -- start-up and its stop in one place: each service is started after what it needs and stopped in the reverse order, which only reads right whole
export async function startSwitchyard(config: Config, options: StartOptions = {}): Promise<Switchyard> {
  const role = options.role ?? 'all';
  const logger = options.logger ?? makeLogger({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  if (role !== 'all' && !config.databaseUrl) {
    throw new AppError(
      'platform.role_needs_postgres',
      'invalid',
      `--role ${role} needs PostgreSQL (set DATABASE_URL): the embedded database serves one process, which runs the API and the workers together.`,
    );
  }
  logger.info({ config: describeConfig(config), role, version: VERSION }, 'starting Switchyard');
  const apiAccess = apiAccessOf(config);
  if (role !== 'worker' && apiAccess.mode === 'closed')
    logger.error(`The API refuses every request until a credential is configured: ${apiAccess.reason}`);
  if (role !== 'worker' && apiAccess.mode === 'open')
    logger.warn(
      `SWITCHYARD_API_TOKEN is not set: the API is open to anyone on this machine (it listens on ${config.host} only).`,
    );

  const startedAt = clock.now();
  const metrics = makeMetrics();
  const database = await openConfiguredDatabase(config, logger);
  new Gauge({
    name: 'switchyard_units_shipped_beyond_owed',
    help: 'Units that left a store beyond what Shopify still owed the customer (the order changed in Shopify first), all time',
    registers: [metrics.registry],
    async collect() {
      this.set(await unitsShippedBeyondOwed(database.db));
    },
  });
  const shopifyConfig = config.shopify;
  let requestProcessing = () => {};
  let requestJob: (name: string) => void = () => {};
  // Once Shopify gives a token again (or for the first time, after an install), a shop that was
  // never loaded is loaded: nothing waits for a restart.
  let loadIfNeverLoaded = () => {};
  const tokens = shopifyConfig
    ? accessTokensFor(shopifyConfig, {
        db: database.db,
        logger,
        installUrl: `${config.publicUrl}/shopify/install?shop=${shopifyConfig.shop}`,
        onRecovered: () => loadIfNeverLoaded(),
      })
    : undefined;
  const shopify =
    shopifyConfig && tokens
      ? makeShopifyClient(
          {
            shop: shopifyConfig.shop,
            tokens,
            apiVersion: shopifyConfig.apiVersion,
            apiUrl: shopifyConfig.apiUrl,
          },
          { logger },
        )
      : undefined;
  const installFlow =
    shopifyConfig && shopifyConfig.auth.grant === 'authorization_code'
      ? makeInstallFlow({
          db: database.db,
          shop: shopifyConfig.shop,
          clientId: shopifyConfig.auth.clientId,
          clientSecret: shopifyConfig.apiSecret,
          apiUrl: shopifyConfig.apiUrl,
          redirectUrl: `${config.publicUrl}/shopify/callback`,
          scopes: scopesNeeded(shopifyConfig.initialLoadMonths).map((need) => need.scope),
          ...tokenEndpointAndBox(shopifyConfig, shopifyConfig.auth.clientId),
        })
      : undefined;
  const ingest =
    shopifyConfig && shopify
      ? makeIngest({
          db: database.db,
          clock,
          logger,
          shopify,
          shop: shopifyConfig.shop,
          apiSecret: shopifyConfig.apiSecret,
          apiVersion: shopifyConfig.apiVersion,
          webhookMaxAgeSeconds: shopifyConfig.webhookMaxAgeSeconds,
          webhookUrl: `${config.publicUrl}/webhooks/shopify`,
          initialLoadMonths: shopifyConfig.initialLoadMonths,
          ...(options.syncSettings ? { settings: options.syncSettings } : {}),
          onWebhookStored: () => requestProcessing(),
          onProcessed: () => requestJob(INVENTORY_JOB_NAMES.dispatch),
          onLevelChanged: () => requestJob(INVENTORY_JOB_NAMES.publish),
        })
      : undefined;
  const registry = makeJobRegistry({
    shopify,
    importDir: config.inventoryImportDir,
    maxLineBytes: config.imports.maxLineBytes,
    requestRun: (name) => requestJob(name),
    ...(ingest ? { ingestJobs: ingest.jobs } : {}),
  });
  const jobs = makeJobs(database, options, logger, metrics, clock, registry);
  // A change asks for the job that carries it on (at most one request in flight per job).
  const requested = new Set<string>();
  let stopRequested = false;
  requestJob = (name) => {
    if (stopRequested || requested.has(name)) return;
    requested.add(name);
    setTimeout(() => {
      requested.delete(name);
      jobs
        .requestRun(name, 'system')
        .catch((error: unknown) => logger.warn({ err: error, job: name }, 'could not request a job run'));
    }, 20).unref();
  };
  if (ingest) {
    // A stored webhook starts the inbox processor at once (at most one request in flight).
    let requested = false;
    requestProcessing = () => {
      if (requested) return;
      requested = true;
      setTimeout(() => {
        requested = false;
        jobs
          .requestRun(ingest.processJobName, 'system')
          .catch((error: unknown) => logger.warn({ err: error }, 'could not start webhook processing'));
      }, 20).unref();
    };
  }
  let app: App | undefined;
  let url: string | undefined;
  try {
    await jobs.start({ work: role !== 'api', schedule: role !== 'api' });
    if (role !== 'worker') {
      app = await buildApp({
        database,
        jobs,
        logger,
        metrics,
        clock,
        startedAt,
        role,
        version: VERSION,
        apiAccess,
        rateLimit: config.rateLimit,
        trustProxy: config.trustProxy,
        publicUrl: config.publicUrl,
        shopify: ingest
          ? {
              sync: ingest.sync,
              receiveWebhook: ingest.receiveWebhook,
              owedBeforeHandOff: ingest.owedBeforeHandOff,
              install: installFlow,
              onInstalled: () => loadIfNeverLoaded(),
            }
          : undefined,
        requestJob: (name: string) => requestJob(name),
        imports: { ...config.imports, uploadDir: join(config.dataDir, 'uploads') },
      });
      url = await app.listen({ port: config.port, host: config.host });
      logger.info(
        { url, docs: `${config.publicUrl}/docs`, health: `${config.publicUrl}/health` },
        'Switchyard is listening',
      );
    }
    if (shopifyConfig && options.autoConnect !== false) {
      const shopConfig = shopifyConfig;
      loadIfNeverLoaded = () => {
        void (async () => {
          if (stopRequested) return;
          const next = await resumeAfterCredentials(database.db, shopConfig.shop, shopConfig.apiVersion);
          logger.info(
            { shop: shopConfig.shop, next },
            next === 'load'
              ? 'Shopify credentials work: running the initial load'
              : 'Shopify credentials work again: reconciling what was missed',
          );
          await jobs.requestRun(next === 'load' ? INITIAL_LOAD_JOB : 'sync.reconcile', 'system');
        })().catch((error: unknown) =>
          logger.warn({ err: error }, 'could not request the sync after credentials came back'),
        );
      };
      if (role !== 'api') {
        const shop = await ensureShop(database.db, shopifyConfig.shop, shopifyConfig.apiVersion);
        if (shop.status !== 'connected') {
          logger.info({ shop: shopifyConfig.shop }, 'first start with this shop: running the initial load');
          await jobs.requestRun(INITIAL_LOAD_JOB, 'system');
        }
      }
    }
  } catch (error) {
    await app?.close().catch(() => {});
    await jobs.stop(0).catch(() => {});
    await database.close();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    config,
    role,
    database,
    jobs,
    metrics,
    logger,
    app,
    url,
    stop() {
      stopping ??= (async () => {
        stopRequested = true;
        logger.info('stopping: no new requests or jobs');
        // Each step is bounded: a stuck connection must not keep the process from stopping.
        await bounded(app?.close(), 10_000, 'closing the HTTP server', logger);
        await bounded(
          jobs.stop(config.shutdownGraceSeconds * 1000),
          config.shutdownGraceSeconds * 1000 + 15_000,
          'stopping the jobs',
          logger,
        );
        await bounded(database.close(), 10_000, 'closing the database', logger);
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
