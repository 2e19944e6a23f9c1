// The `switchyard` command: serve | migrate | jobs ...
import { stat } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadAppConfigSettings, loadConfig, type Config } from './config.js';
import { ROLES, VERSION, type Role } from './version.js';
import { isAppError } from '../platform/errors.js';
import { quoted } from '../platform/text.js';
import type { JobRunRow } from '../platform/jobs/runs.repo.js';
import type { JobRuntime } from '../platform/jobs/job-runtime.js';
import type { Db } from '../platform/db/client.js';

// Commands load what they need when they run, so `--help` and light commands start fast.
const composition = () => import('./switchyard.js');
const logging = () => import('../platform/logger.js');
import type { PlanName } from '../simulator/bucket.js';

function configFrom(options: { config?: string; port?: number }): Config {
  const config = loadConfig(undefined, options.config);
  return options.port === undefined ? config : { ...config, port: options.port };
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('must be a whole number from 0 to 65535');
  return Number(value);
}

/** Exits with a single clear line for expected errors; a stack only for bugs. */
function fail(error: unknown): never {
  if (error instanceof ConfigError || isAppError(error)) {
    process.stderr.write(`switchyard: ${error.message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
  process.stderr.write(
    `switchyard: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}

function formatRun(run: JobRunRow): string {
  const ms = run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null;
  const counts = Object.entries(run.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `run #${run.id} ${run.jobName}: ${run.status}${ms === null ? '' : ` in ${ms} ms`}${counts ? ` (${counts})` : ''}${run.error ? ` — ${run.error}` : ''}`;
}

const program = new Command('switchyard')
  .description('Switchyard: open-source order management for Shopify merchants')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('serve')
  .description('Start Switchyard: HTTP API and job workers (roles split them apart on PostgreSQL)')
  .addOption(new Option('--role <role>', 'what this process runs').choices(ROLES).default('all'))
  .option('--port <port>', 'HTTP port (overrides PORT)', port)
  .option('--config <file>', 'JSON config file (keys are the environment variable names)')
  .action(async (options: { role: Role; port?: number; config?: string }) => {
    let config: Config;
    try {
      config = configFrom(options);
    } catch (error) {
      fail(error);
    }
    // No shop and no database server: a demo with its own simulated shop (SWITCHYARD_DEMO=off to skip).
    if (!config.shopify && !config.databaseUrl && config.demo.mode === 'auto' && options.role === 'all') {
      let demo;
      try {
        demo = await (await import('../harness/demo.js')).startDemo(config, config.demo);
      } catch (error) {
        fail(error);
      }
      const url = demo.switchyard.url!;
      const traffic =
        config.demo.ordersPerMinute > 0
          ? `${config.demo.ordersPerMinute} customer events a minute (SWITCHYARD_DEMO_ORDERS_PER_MINUTE; 0 for none)`
          : 'off';
      process.stdout.write(
        [
          '',
          `Switchyard demo: no Shopify shop is configured, so it runs with a simulated one (${demo.shop}) at ${demo.simulator.url}.`,
          `  API docs        ${url}/docs`,
          `  health          ${url}/health`,
          `  Shopify sync    ${url}/api/v1/sync/health`,
          `  orders          ${url}/api/v1/orders`,
          `  store work      ${url}/api/v1/facilities  →  /api/v1/facilities/{code}/work`,
          `  traffic         ${traffic}; a bot works the stores every few seconds`,
          '  Demo data starts fresh at each start. Set SHOPIFY_SHOP, SHOPIFY_CLIENT_ID and SHOPIFY_API_SECRET for a real shop (see the README, "Connecting a Shopify shop"), or SWITCHYARD_DEMO=off.',
          '',
        ].join('\n') + '\n',
      );
      (await import('./signals.js')).stopOnSignals({ ...demo.switchyard, stop: () => demo.stop() });
      return;
    }
    let switchyard;
    try {
      switchyard = await (await composition()).startSwitchyard(config, { role: options.role });
    } catch (error) {
      fail(error);
    }
    (await import('./signals.js')).stopOnSignals(switchyard);
  });

program
  .command('migrate')
  .description('Apply database migrations and exit (they also apply at start-up)')
  .option('--config <file>', 'JSON config file')
  .action(async (options: { config?: string }) => {
    try {
      const config = configFrom(options);
      const logger = (await logging()).makeLogger({ level: 'warn' });
      const database = await (await composition()).openConfiguredDatabase(config, logger);
      const status = await database.migrationStatus();
      await database.close();
      process.stdout.write(
        `migrations applied: ${status.applied} of ${status.available}; version ${status.version ?? '(none)'} (${database.kind})\n`,
      );
    } catch (error) {
      fail(error);
    }
  });

const jobsCommand = program.command('jobs').description('List, run and schedule jobs');

async function withJobs<T>(options: { config?: string }, use: (jobs: JobRuntime) => Promise<T>): Promise<T> {
  const config = configFrom(options);
  const { makeJobs, openConfiguredDatabase } = await composition();
  const logger = (await logging()).makeLogger({ level: 'warn' });
  const database = await openConfiguredDatabase(config, logger);
  const jobs = makeJobs(
    database,
    {},
    logger,
    (await import('../platform/metrics.js')).makeMetrics(),
    (await import('../platform/clock.js')).systemClock,
  );
  try {
    return await use(jobs);
  } finally {
    await database.close();
  }
}

jobsCommand
  .command('list')
  .description('Jobs with their schedule, next run and last run')
  .option('--json', 'print JSON')
  .option('--config <file>', 'JSON config file')
  .action(async (options: { json?: boolean; config?: string }) => {
    try {
      const list = await withJobs(options, (jobs) => jobs.list());
      if (options.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      for (const job of list) {
        process.stdout.write(
          `${job.name}\n  ${job.description}\n  schedule: ${job.enabled ? job.schedule : `${job.schedule} (off)`}` +
            `${job.nextRunAt ? `, next ${job.nextRunAt}` : ''}\n  last: ${job.lastRun ? formatRun(job.lastRun) : 'never run'}\n`,
        );
      }
    } catch (error) {
      fail(error);
    }
  });

jobsCommand
  .command('run')
  .description('Run a job now, in this process, and print its result')
  .argument('<name>', 'job name (see jobs list)')
  .option('--config <file>', 'JSON config file')
  .action(async (name: string, options: { config?: string }) => {
    try {
      const run = await withJobs(options, (jobs) => jobs.runHere(name, 'cli'));
      process.stdout.write(`${formatRun(run)}\n`);
      if (run.status !== 'succeeded') process.exit(1);
    } catch (error) {
      fail(error);
    }
  });

jobsCommand
  .command('schedule')
  .description(
    'Change when a job runs: "every 15m", "every 1s", a cron expression ("0 6 * * * tz=Europe/Paris"), --on or --off',
  )
  .argument('<name>', 'job name')
  .argument('[schedule]', 'new schedule')
  .option('--on', 'switch the schedule on')
  .option('--off', 'switch the schedule off')
  .option('--config <file>', 'JSON config file')
  .action(
    async (name: string, schedule: string | undefined, options: { on?: boolean; off?: boolean; config?: string }) => {
      try {
        const enabled = options.on ? true : options.off ? false : undefined;
        const job = await withJobs(options, (jobs) =>
          jobs.setSchedule(
            name,
            { ...(schedule === undefined ? {} : { schedule }), ...(enabled === undefined ? {} : { enabled }) },
            'cli',
          ),
        );
        process.stdout.write(
          `${job.name}: ${job.schedule}${job.enabled ? '' : ' (off)'}${job.nextRunAt ? `, next ${job.nextRunAt}` : ''}\n`,
        );
      } catch (error) {
        fail(error);
      }
    },
  );

const inventoryCommand = program.command('inventory').description('Import ERP counts and check the ledger');

async function withDatabase<T>(options: { config?: string }, use: (db: Db, config: Config) => Promise<T>): Promise<T> {
  const config = configFrom(options);
  const logger = (await logging()).makeLogger({ level: 'warn' });
  const database = await (await composition()).openConfiguredDatabase(config, logger);
  try {
    return await use(database.db, config);
  } finally {
    await database.close();
  }
}

inventoryCommand
  .command('import')
  .description(
    'Import an ERP count file (CSV or JSON Lines: facility, sku or barcode, quantity, counted_at), applied as of its count times',
  )
  .argument('<file>', 'the count file (.csv or .jsonl)')
  .option('--per-row', 'apply the good rows even when some rows are bad')
  .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices(['csv', 'jsonl']))
  .option('--json', 'print the whole report as JSON')
  .option('--config <file>', 'JSON config file')
  .action(
    async (file: string, options: { perRow?: boolean; format?: 'csv' | 'jsonl'; json?: boolean; config?: string }) => {
      try {
        const { importCountFile, formatOf } = await import('../domains/inventory/index.js');
        const format = formatOf(file, options.format);
        const found = await stat(file).catch(() => null);
        if (!found?.isFile()) {
          process.stderr.write(
            `switchyard: cannot read ${quoted(file, 500)}: ${found ? 'not a file' : 'no such file'}\n`,
          );
          process.exit(1);
        }
        const report = await withDatabase(options, (db, config) =>
          importCountFile(db, {
            path: file,
            format,
            perRow: options.perRow ?? false,
            source: 'cli',
            now: () => new Date(),
            maxLineBytes: config.imports.maxLineBytes,
          }),
        );
        if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          for (const e of report.errors) process.stdout.write(`line ${e.line}: ${e.reason}\n`);
          if (report.errorCount > report.errors.length)
            process.stdout.write(`... and ${report.errorCount - report.errors.length} more errors\n`);
          process.stdout.write(
            `import #${report.importId} ${report.status}: ${report.rowsTotal} rows, ${report.errorCount} bad, ${report.rowsApplied} applied, ` +
              `${report.rowsSuperseded} superseded by newer counts, ${report.entriesWritten} ledger entries\n`,
          );
          if (report.status === 'rejected')
            process.stdout.write('nothing was applied: fix the rows above, or use --per-row to apply the good rows\n');
        }
        // Not process.exit(): through a pipe, stdout is written asynchronously and the end of the report would be lost.
        if (report.status === 'rejected') process.exitCode = 1;
      } catch (error) {
        fail(error);
      }
    },
  );

inventoryCommand
  .command('check')
  .description('Recompute on hand from the ledger and compare it with the counters (--fix rebuilds differing counters)')
  .option('--fix', 'set differing counters to the ledger figure')
  .option('--config <file>', 'JSON config file')
  .action(async (options: { fix?: boolean; config?: string }) => {
    try {
      const { compareCountersWithLedger, rebuildCountersFromLedger } = await import('../domains/inventory/index.js');
      const result = await withDatabase(options, async (db) => {
        const found = await compareCountersWithLedger(db);
        const fixed = options.fix && found.drift.length > 0 ? await rebuildCountersFromLedger(db, new Date()) : 0;
        return { ...found, fixed };
      });
      for (const d of result.drift.slice(0, 100))
        process.stdout.write(
          `variant ${d.variantId} facility ${d.facilityId}: counter ${d.counter}, ledger ${d.ledger}\n`,
        );
      process.stdout.write(
        `${result.pairs} counters checked, ${result.drift.length} differ from the ledger${options.fix ? `, ${result.fixed} rebuilt` : ''}\n`,
      );
      if (result.drift.length > 0 && !options.fix) process.exit(1);
    } catch (error) {
      fail(error);
    }
  });

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return Number(value);
  };
}

function share(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

program
  .command('simulate-day')
  .description(
    'Run a compressed retail day against the simulator with faults, check the invariants, print a JSON report (exit 1 if one fails)',
  )
  .option('--orders <n>', 'online orders in the day', wholeNumber(1, 1_000_000), 500)
  .option('--stores <n>', 'stores', wholeNumber(1, 500), 10)
  .option('--products <n>', 'products', wholeNumber(1, 100_000), 200)
  .option('--seed <n>', 'seed for the shop and the traffic', wholeNumber(1, 1_000_000_000), 1)
  .option('--drop-webhooks <share>', 'share of webhook deliveries dropped', share, 0)
  .option('--duplicate-webhooks <share>', 'share of webhook deliveries sent twice', share, 0)
  .option('--api-errors <share>', 'share of Admin API calls answered with HTTP 5xx', share, 0)
  .option(
    '--kill-worker <n>',
    'kill a worker process (SIGKILL) n times during the day and restart it; the jobs then run in 2 worker processes (needs DATABASE_URL)',
    wholeNumber(0, 100),
    0,
  )
  .option(
    '--clock-speed <x>',
    'simulated seconds per real second; the orders arrive over 12 simulated hours (default: 6 orders a second, a day of at least a minute)',
    wholeNumber(1, 10_000_000),
  )
  .option(
    '--token-lifetime <seconds>',
    "how long Shopify's access tokens last (default Shopify's 86399): short, they expire and are renewed all day",
    wholeNumber(5, 86_399),
  )
  .option('--report <file>', 'also write the JSON report to this file')
  .option('--config <file>', 'JSON config file')
  .action(
    async (options: {
      orders: number;
      stores: number;
      products: number;
      seed: number;
      dropWebhooks: number;
      duplicateWebhooks: number;
      apiErrors: number;
      killWorker: number;
      clockSpeed?: number;
      tokenLifetime?: number;
      report?: string;
      config?: string;
    }) => {
      try {
        const config = configFrom(options);
        const { simulateDay, defaultClockSpeed } = await import('../harness/simulate-day.js');
        const report = await simulateDay(
          config,
          {
            ...options,
            clockSpeed: options.clockSpeed ?? defaultClockSpeed(options.orders),
            ...(options.tokenLifetime ? { tokenLifetimeSeconds: options.tokenLifetime } : {}),
          },
          (message) => process.stderr.write(`simulate-day: ${message}\n`),
        );
        report.command = `switchyard simulate-day ${process.argv.slice(3).join(' ')}`.trim();
        const json = JSON.stringify(report, null, 2);
        if (options.report) (await import('node:fs')).writeFileSync(options.report, `${json}\n`);
        process.stdout.write(`${json}\n`);
        for (const i of report.invariants.filter((x) => !x.holds))
          process.stderr.write(`simulate-day: FAILED ${i.name}: ${i.detail}\n`);
        process.exit(report.ok ? 0 : 1);
      } catch (error) {
        fail(error);
      }
    },
  );

const routingCommand = program.command('routing').description('Try rule versions before switching them on');

routingCommand
  .command('replay')
  .description(
    'Route the orders of a past period (or generated ones) under a draft and under the active rules, in memory, and compare',
  )
  .requiredOption('--draft <id>', 'the rule version to try', (v) => Number(v))
  .option('--baseline <id>', 'compare with this version instead of the active one', (v) => Number(v))
  .option('--from <time>', 'start of the period (ISO time or date)')
  .option('--to <time>', 'end of the period (ISO time or date), exclusive')
  .option('--generate <orders>', 'instead of a period: this many generated orders', (v) => Number(v))
  .option('--seed <n>', 'seed for generated orders', (v) => Number(v), 1)
  .option('--json', 'print the whole comparison as JSON')
  .option('--config <file>', 'JSON config file')
  .action(
    async (options: {
      draft: number;
      baseline?: number;
      from?: string;
      to?: string;
      generate?: number;
      seed: number;
      json?: boolean;
      config?: string;
    }) => {
      try {
        const { replayRules } = await import('../domains/routing/index.js');
        const result = await withDatabase(options, (db) =>
          replayRules(db, {
            candidateId: options.draft,
            ...(options.baseline !== undefined ? { baselineId: options.baseline } : {}),
            ...(options.from ? { from: new Date(options.from) } : {}),
            ...(options.to ? { to: new Date(options.to) } : {}),
            ...(options.generate !== undefined ? { generated: { orders: options.generate, seed: options.seed } } : {}),
          }),
        );
        if (options.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        const c = result.candidate.metrics;
        const b = result.baseline.metrics;
        const row = (name: string, x: unknown, y: unknown, r?: number | null) =>
          process.stdout.write(
            `${name.padEnd(20)} ${String(x).padStart(12)} ${String(y).padStart(12)}${r === undefined ? '' : `   ${r === null ? '-' : `${r}×`}`}\n`,
          );
        process.stdout.write(
          `${result.period.generated ? `${result.period.generated.orders} generated orders` : `orders from ${result.period.from} to ${result.period.to}`}: ${c.orders} orders, ${c.lines} lines\n`,
        );
        row('', `#${result.candidate.versionId} draft`, `#${result.baseline.versionId} base`, undefined);
        row('fill rate', c.fillRate, b.fillRate, result.ratios.fillRate);
        row('split rate', c.splitRate, b.splitRate, result.ratios.splitRate);
        row('mean distance km', c.meanDistanceKm, b.meanDistanceKm, result.ratios.meanDistanceKm);
        row('p95 distance km', c.p95DistanceKm, b.p95DistanceKm);
        row('packages per order', c.packagesPerOrder, b.packagesPerOrder, result.ratios.packagesPerOrder);
        row('lines parked', c.linesParked, b.linesParked);
      } catch (error) {
        fail(error);
      }
    },
  );

const shopifyCommand = program.command('shopify').description('Connect to the configured Shopify shop');

shopifyCommand
  .command('connect')
  .description(
    'Initial load: locations as facilities (shown for confirmation first), all products, open orders of a window, webhook subscriptions',
  )
  .addOption(new Option('--months <n>', 'open orders of the last N months').choices(['1', '2', '6']).default('1'))
  .option('--yes', 'confirm the proposed locations → facilities mapping and load')
  .option('--config <file>', 'JSON config file')
  .action(async (options: { months: string; yes?: boolean; config?: string }) => {
    try {
      const config = configFrom(options);
      if (!config.shopify)
        fail(
          new ConfigError(
            'SHOPIFY_SHOP',
            'is required to connect (with SHOPIFY_CLIENT_ID and SHOPIFY_API_SECRET, or SHOPIFY_ADMIN_TOKEN for a legacy custom app)',
            undefined,
          ),
        );
      const shopifyConfig = config.shopify;
      const { openConfiguredDatabase } = await composition();
      const { makeShopifyClient } = await import('../shopify/client.js');
      const { runInitialLoad } = await import('../ingest/index.js');
      const logger = (await logging()).makeLogger({ level: 'warn' });
      const database = await openConfiguredDatabase(config, logger);
      const { accessTokensFor } = await import('../shopify/access-tokens.js');
      const tokens = accessTokensFor(shopifyConfig, {
        db: database.db,
        logger,
        installUrl: `${config.publicUrl}/shopify/install?shop=${shopifyConfig.shop}`,
      });
      const shopify = makeShopifyClient(
        { shop: shopifyConfig.shop, tokens, apiVersion: shopifyConfig.apiVersion, apiUrl: shopifyConfig.apiUrl },
        { logger },
      );
      const bar = (percent: number, label: string) => {
        const width = 30;
        const filled = Math.round((percent / 100) * width);
        process.stdout.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${label.padEnd(60).slice(0, 60)}`,
        );
      };
      try {
        const result = await runInitialLoad({
          db: database.db,
          clock: (await import('../platform/clock.js')).systemClock,
          shopify,
          shop: shopifyConfig.shop,
          apiVersion: shopifyConfig.apiVersion,
          webhookUrl: `${config.publicUrl}/webhooks/shopify`,
          months: Number(options.months),
          confirmLocations: options.yes === true,
          onProgress: (p) =>
            bar(
              p.percent,
              `${p.step} ${Object.entries(p.counts)
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')}`,
            ),
        });
        process.stdout.write('\n');
        const tokens = await shopify.tokens.status();
        process.stdout.write(
          `Connected to ${shopifyConfig.shop} (${tokens.grant === 'static' ? 'legacy custom app token' : `${tokens.grant.replace('_', ' ')} grant, token valid until ${tokens.accessTokenExpiresAt ?? '?'}`}).\n`,
        );
        process.stdout.write(`Access scopes granted: ${result.grantedScopes.join(', ') || '(none)'}\n`);
        if (result.missingScopes.length === 0) process.stdout.write('Access scopes missing: none\n');
        if (result.missingScopes.length > 0) {
          process.stdout.write('The Shopify app lacks access scopes; without them:\n');
          for (const m of result.missingScopes) process.stdout.write(`  ${m.scope.padEnd(44)} ${m.whatStopsWorking}\n`);
        }
        process.stdout.write('Shopify locations → Switchyard facilities:\n');
        for (const p of result.proposals) {
          process.stdout.write(
            `  ${p.name.padEnd(36)} → ${p.code.padEnd(24)} ${p.kind.padEnd(9)} ship=${p.canShip} pickup=${p.canPickup}${p.existingFacilityId ? ` (already facility #${p.existingFacilityId})` : ''}\n`,
          );
        }
        if (!result.completed) {
          process.stdout.write('Nothing loaded yet. Review the mapping above, then run again with --yes.\n');
          return;
        }
        process.stdout.write(
          `Loaded: ${Object.entries(result.counts)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}\n`,
        );
        process.stdout.write(
          `API: ${shopify.stats.calls} calls, ${shopify.stats.costPoints} cost points, ${shopify.stats.throttled} throttled\n`,
        );
      } finally {
        await database.close();
      }
    } catch (error) {
      fail(error);
    }
  });

shopifyCommand
  .command('app-config')
  .description(
    'Write the shopify.app.toml of the Shopify app Switchyard connects through (scopes, install callback, webhook API version)',
  )
  .option('--url <url>', 'the https:// URL Switchyard is reached at (default: SWITCHYARD_PUBLIC_URL)')
  .option(
    '--client-id <id>',
    "the app's client ID from the Dev Dashboard (default: SHOPIFY_CLIENT_ID; else a placeholder)",
  )
  .option('--name <name>', 'the app name shown to the merchant (default: Switchyard)')
  .option('--out <file>', 'where to write it; - prints it', 'shopify.app.toml')
  .option('--force', 'overwrite an existing file')
  .option('--config <file>', 'JSON config file')
  .action(
    async (options: {
      url?: string;
      clientId?: string;
      name?: string;
      out: string;
      force?: boolean;
      config?: string;
    }) => {
      try {
        const {
          appConfigToml,
          checkAppName,
          checkAppUrl,
          checkClientId,
          hasClientIdPlaceholder,
          INSTALL_CALLBACK_PATH,
        } = await import('../shopify/app-config.js');
        const { HANDLED_TOPICS } = await import('../ingest/topics.js');
        const settings = loadAppConfigSettings(undefined, options.config);
        const urlFrom = options.url !== undefined ? '--url' : 'SWITCHYARD_PUBLIC_URL';
        const rawUrl = options.url ?? settings.publicUrl;
        if (rawUrl === undefined)
          fail(
            new ConfigError(
              '--url',
              'is required (or set SWITCHYARD_PUBLIC_URL): the https:// URL Shopify reaches Switchyard at',
              undefined,
            ),
          );
        const url = checkAppUrl(rawUrl);
        if (!url.ok) fail(new ConfigError(urlFrom, url.expected, rawUrl));
        const rawClientId = options.clientId ?? settings.clientId;
        const clientId = rawClientId === undefined ? undefined : checkClientId(rawClientId);
        if (clientId && !clientId.ok)
          fail(
            new ConfigError(
              options.clientId !== undefined ? '--client-id' : 'SHOPIFY_CLIENT_ID',
              clientId.expected,
              rawClientId,
            ),
          );
        const name = options.name === undefined ? undefined : checkAppName(options.name);
        if (name && !name.ok) fail(new ConfigError('--name', name.expected, options.name));

        const toml = appConfigToml({
          url: url.value,
          clientId: clientId?.value,
          name: name?.value,
          apiVersion: settings.apiVersion,
          registeredTopics: HANDLED_TOPICS,
        });
        if (options.out === '-') {
          process.stdout.write(toml);
          return;
        }
        const { writeFile } = await import('node:fs/promises');
        try {
          // 'wx' fails on an existing file: a merchant's edited TOML is never lost by accident.
          await writeFile(options.out, toml, { flag: options.force ? 'w' : 'wx' });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST')
            fail(
              new ConfigError(
                '--out',
                'names a file that exists: pass --force to overwrite it, or choose another --out',
                options.out,
              ),
            );
          fail(new ConfigError('--out', `cannot be written (${(error as Error).message})`, options.out));
        }
        const steps = [
          ...(hasClientIdPlaceholder(toml)
            ? [
                "Put the app's client ID in client_id (the app's Settings page in the Dev Dashboard), or run this again with --client-id.",
              ]
            : []),
          'Deploy it: `shopify app deploy` from this folder, or enter its values in a new version of the app in the Dev Dashboard and release it.',
          `Set SHOPIFY_CLIENT_ID and SHOPIFY_API_SECRET (the app's client ID and secret) and run Switchyard at ${url.value}.`,
          `Install the app on the shop from the Dev Dashboard: Shopify sends you back to ${url.value}${INSTALL_CALLBACK_PATH}.`,
        ];
        process.stdout.write(
          `Wrote ${options.out}. Next:\n${steps.map((step, i) => `  ${i + 1}. ${step}\n`).join('')}`,
        );
      } catch (error) {
        fail(error);
      }
    },
  );

program
  .command('sim')
  .description(
    'Run the local Shopify simulator (Admin GraphQL API 2026-07, webhooks, bulk operations, faults) for tests, demos and go-live rehearsals',
  )
  .option('--port <port>', 'port to listen on', port, 8090)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--seed <n>', 'seed: the same seed gives the same shop', (v) => Number.parseInt(v, 10), 1)
  .option('--products <n>', 'number of products', (v) => Number.parseInt(v, 10), 200)
  .option('--stores <n>', 'number of stores (plus 2 warehouses)', (v) => Number.parseInt(v, 10), 10)
  .addOption(
    new Option('--plan <plan>', 'Shopify plan: sets the API rate limit')
      .choices(['standard', 'advanced', 'plus', 'enterprise'])
      .default('standard'),
  )
  .option('--webhook-time-scale <x>', 'multiply webhook retry delays (1 = real 4 hours)', Number.parseFloat, 1)
  .action(
    async (options: {
      port: number;
      host: string;
      seed: number;
      products: number;
      stores: number;
      plan: PlanName;
      webhookTimeScale: number;
    }) => {
      for (const [name, value] of [
        ['--seed', options.seed],
        ['--products', options.products],
        ['--stores', options.stores],
      ] as const) {
        if (!Number.isInteger(value) || value < 0)
          fail(new ConfigError(name, 'must be a whole number ≥ 0', String(value)));
      }
      // Loaded on demand: the simulator (graphql, the Admin schema) is not needed by other commands.
      const { startSimulator } = await import('../simulator/server.js');
      const simulator = await startSimulator({
        port: options.port,
        host: options.host,
        webhookTimeScale: options.webhookTimeScale,
      });
      const credentials = simulator.createShop({
        seed: options.seed,
        products: options.products,
        stores: options.stores,
        plan: options.plan,
      });
      process.stdout.write(
        [
          `Shopify simulator listening on ${simulator.url}`,
          '  Connect as a Dev Dashboard app (client credentials grant: Switchyard obtains and renews its token):',
          `  SHOPIFY_SHOP=${credentials.shop}`,
          `  SHOPIFY_CLIENT_ID=${credentials.clientId}`,
          `  SHOPIFY_API_SECRET=${credentials.clientSecret}`,
          `  SHOPIFY_API_VERSION=${credentials.apiVersion}`,
          `  SHOPIFY_API_URL=${simulator.url}`,
          `  Or as a legacy custom app: SHOPIFY_ADMIN_TOKEN=${credentials.accessToken} (instead of SHOPIFY_CLIENT_ID)`,
          `  Token endpoint: POST ${simulator.url}/admin/oauth/access_token; install page: GET ${simulator.url}/admin/oauth/authorize`,
          `  Admin API: POST ${simulator.url}/admin/api/${credentials.apiVersion}/graphql.json (header X-Shopify-Access-Token)`,
          `  Control:   ${simulator.url}/_sim/shops/${credentials.shop}/state  (see src/simulator/README.md)`,
          '',
        ].join('\n'),
      );
      const stop = () => void simulator.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
  );

await program.parseAsync(process.argv);
