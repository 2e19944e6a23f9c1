// `switchyard simulate-day`: a compressed retail day against the simulator, with the faults of real
// life, then the invariants that prove nothing was lost or done twice, and a JSON report.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { inheritedEnvironment, type Config } from '../main/config.js';
import { makeStoreBot, type StoreBot } from './store-bot.js';
import { workerProcesses, type WorkerProcesses } from './worker-processes.js';
import { connected, setUpFacilities, startWithSimulatedShop, type SimulatedShop } from './simulated-shop.js';
import { makeTrafficGenerator, type TrafficGenerator } from '../simulator/traffic.js';
import { PLANS } from '../simulator/bucket.js';
import { onHand } from '../simulator/state.js';
import { queryRows } from '../platform/db/rows.js';
import { compareCountersWithLedger, publishedPairs, publishTargets } from '../domains/inventory/index.js';

export interface DayOptions {
  orders: number;
  stores: number;
  products: number;
  seed: number;
  dropWebhooks: number;
  duplicateWebhooks: number;
  apiErrors: number;
  /** Worker kills (SIGKILL) spread over the day; the jobs then run in two worker processes (PostgreSQL). */
  killWorker: number;
  /** Simulated seconds per real second; the day's orders arrive over 12 simulated hours. */
  clockSpeed: number;
  /**
   * How long Shopify's tokens last (Switchyard connects with the client ID and secret, as a Dev
   * Dashboard app does); default Shopify's 86,399 s. Short: tokens expire and are renewed all day.
   */
  tokenLifetimeSeconds?: number;
}

export interface Invariant {
  name: string;
  holds: boolean;
  value: number;
  detail: string;
}

export interface DayReport {
  command: string;
  sizes: { orders: number; stores: number; products: number; seed: number };
  faults: { dropWebhooks: number; duplicateWebhooks: number; apiErrors: number; killWorker: number };
  /** The worker processes when the jobs ran outside the API process, and each kill. */
  workers: { processes: number; kills: WorkerKill[] } | null;
  database: 'postgres' | 'pglite';
  durationSeconds: number;
  /** Publishing the merchant's set-up before the day (every variant compared once at each published location). */
  setUpSeconds: number;
  /** Orders with something to deliver (online, and POS sales shipped to the customer); counter sales (POS, taken home). */
  orders: {
    placed: number;
    routed: number;
    shipped: number;
    pickedUp: number;
    cancelled: number;
    parked: number;
    posSales: number;
  };
  /** What the simulated customers did in Shopify (orders by kind, POS sales, cancellations, edits, refunds). */
  customerEvents: Record<string, number>;
  orderToRoutedMs: { p50: number; p95: number; max: number; orders: number };
  linesRoutedPerSecond: number;
  shopifyApi: { calls: number; costPoints: number; budgetShare: number; throttled: number; faultsInjected: number };
  webhooks: { events: number; dropped: number; duplicated: number; ordersFoundByReconciliation: number };
  /** Evening safety-net runs that failed and were run again (as their schedule would), with why. */
  eveningRetries: Array<{ job: string; error: string }>;
  /**
   * Units Shopify no longer owed: parcels and pickups refused at the last step after Switchyard asked
   * Shopify (the order changed unheard), and units that left anyway (Shopify did not answer in time).
   */
  storeWork: { handOffsRefusedNoLongerOwed: number; unitsShippedBeyondOwed: number };
  /** The connection: client credentials; tokens issued by Shopify, and calls Shopify answered 401 for an expired token (each sent again with a new one). */
  credentials: {
    grant: 'client_credentials';
    tokenLifetimeSeconds: number;
    tokensIssued: number;
    expiredTokenAnswers: number;
  };
  invariants: Invariant[];
  ok: boolean;
}

export interface WorkerKill {
  atSecond: number;
  pid: number;
  /** The job runs the killed process was in the middle of. */
  runningJobs: string[];
  restartedPid: number;
}

const WORKER_PROCESSES = 2;

/** Runs of each evening safety net before the day fails (a failed run is run again, as by its schedule). */
const EVENING_RUNS = 3;

/** The day's pace unless chosen: customers' orders at a rate one machine takes in comfortably. */
export const DAY_ORDERS_PER_SECOND = 6;

/** 12 simulated hours over orders / DAY_ORDERS_PER_SECOND real seconds, a minute at least. */
export function defaultClockSpeed(orders: number): number {
  return Math.max(1, Math.floor((12 * 3600) / Math.max(60, orders / DAY_ORDERS_PER_SECOND)));
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What every stage of the day works with: the simulated shop, Switchyard, and the worker processes. */
interface Day extends SimulatedShop {
  config: Config;
  options: DayOptions;
  progress: (message: string) => void;
  dataDir: string;
  db: SimulatedShop['switchyard']['database']['db'];
  workers: WorkerProcesses | undefined;
  // A worker that dies without being killed is a failure of the day, not a fault to recover from.
  workerFailure: Error | undefined;
  noWorkerFailure: () => void;
  until: (what: string, probe: () => Promise<boolean>, timeoutMs: number) => Promise<void>;
  runAfterAnyRunning: (job: string) => Promise<Awaited<ReturnType<SimulatedShop['switchyard']['jobs']['runHere']>>>;
  quiet: () => Promise<boolean>;
}

/** What the day leaves for the evening and the report. */
interface Daytime {
  traffic: TrafficGenerator;
  bot: StoreBot;
  kills: WorkerKill[];
  trafficSeconds: number;
  /** Stops the store bot after its round, and throws what a round threw. */
  stopBot: () => Promise<void>;
}

export async function simulateDay(
  config: Config,
  options: DayOptions,
  progress: (message: string) => void = () => {},
): Promise<DayReport> {
  const started = Date.now();
  const day = await startDay(config, options, progress);
  try {
    const setUpSeconds = await connectAndPublishSetUp(day);
    const daytime = await runTheDay(day);
    const { eveningRetries, ordersFoundByReconciliation } = await runTheEvening(day, daytime);
    const { invariants, shipments } = await checkInvariants(day);
    return await dayReport(day, {
      started,
      setUpSeconds,
      daytime,
      eveningRetries,
      ordersFoundByReconciliation,
      invariants,
      shipments,
    });
  } finally {
    await day.workers?.stopAll(10_000);
    await day.switchyard.stop();
    await day.simulator.close();
  }
}

/** Starts the simulated shop and Switchyard against it, and the helpers every stage waits with. */
async function startDay(config: Config, options: DayOptions, progress: (message: string) => void): Promise<Day> {
  // Killing workers needs them in processes of their own, which share only a database server.
  if (options.killWorker > 0 && !config.databaseUrl) {
    throw new Error(
      '--kill-worker needs PostgreSQL (set DATABASE_URL): the embedded database serves a single process, so there is no worker process to kill.',
    );
  }
  const separateWorkers = options.killWorker > 0;
  const dataDir = join(config.dataDir, `simulate-day-${options.seed}`);
  if (!config.databaseUrl) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const simulated = await startWithSimulatedShop(
    { ...config, port: 0 },
    {
      shop: {
        seed: options.seed,
        products: options.products,
        stores: options.stores,
        warehouses: 2,
        plan: 'plus',
        domain: `day-${options.seed}.myshopify.com`,
      },
      webhookTimeScale: 0.002,
      bulkStepMs: 50,
      ...(options.tokenLifetimeSeconds
        ? { tokenLifetimes: { clientCredentialsSeconds: options.tokenLifetimeSeconds } }
        : {}),
      // The store bot stands in for the devices of dozens of stores, all calling from this one address.
      config: {
        host: '127.0.0.1',
        rateLimit: { perMinute: 0, webhooksPerMinute: config.rateLimit.webhooksPerMinute },
        dataDir,
        logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel,
      },
      start: {
        role: separateWorkers ? 'api' : 'all',
        syncSettings: { overlapMs: 10 * 60_000, delayMs: 0, defaultLookbackMs: 86_400_000 },
        schedulerTickMs: 200,
      },
    },
  );
  const sy = simulated.switchyard;
  const db = sy.database.db;
  const day: Day = {
    ...simulated,
    config,
    options,
    progress,
    dataDir,
    db,
    workers: undefined,
    workerFailure: undefined,
    noWorkerFailure: () => {
      if (day.workerFailure) throw day.workerFailure;
    },
    until: async (what, probe, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        day.noWorkerFailure();
        if (await probe()) return;
        await sleep(250);
      }
      throw new Error(`simulate-day: timed out waiting for ${what}`);
    },
    // A run of its own, started now: one a worker has under way began before the evening.
    runAfterAnyRunning: async (job) => {
      for (let attempt = 0; ; attempt++) {
        const run = await sy.jobs.runHere(job, 'cli');
        if (run.status !== 'skipped' || attempt >= 600) return run;
        await sleep(1_000);
      }
    },
    // Nothing left to take in, route, work, push or publish.
    quiet: async () => {
      const [row] = await queryRows<{ n: number }>(
        db,
        sql`select (select count(*)::int from webhook_inbox where status = 'pending') + (select count(*)::int from outbox where status = 'pending')
                 + (select count(*)::int from inventory_publish_queue) + (select count(*)::int from inventory_publish_log where outcome = 'sending')
                 + (select count(*)::int from fulfillment_sync)
                 + (select count(*)::int from fulfillment_pushes where status in ('pending', 'sending'))
                 + (select count(*)::int from order_lines ol join orders o on o.id = ol.order_id
                    where ol.status in ('created', 'approved', 'brokered', 'in_progress') and ol.current_quantity > ol.shipped_quantity
                      and o.cancelled_at is null and not ol.sold_over_counter) as n`,
      );
      return row!.n === 0;
    },
  };
  return day;
}

/** Waits for the initial load (in worker processes when workers are to be killed), then publishes the merchant's set-up. */
async function connectAndPublishSetUp(day: Day): Promise<number> {
  const { config, dataDir, creds, simulator, switchyard: sy, api, shop, until, quiet, progress } = day;
  if (day.options.killWorker > 0) {
    // This process serves the API and takes webhooks; the jobs run in worker processes, configured
    // as a merchant would run them. The first one runs the initial load before the second starts.
    day.workers = workerProcesses(
      {
        ...inheritedEnvironment(),
        DATABASE_URL: config.databaseUrl,
        SWITCHYARD_DATA_DIR: dataDir,
        SHOPIFY_SHOP: creds.shop,
        SHOPIFY_CLIENT_ID: creds.clientId,
        SHOPIFY_API_SECRET: creds.clientSecret,
        SHOPIFY_API_VERSION: creds.apiVersion,
        SHOPIFY_API_URL: simulator.url,
        SHOPIFY_INITIAL_LOAD_MONTHS: '1',
        SWITCHYARD_PUBLIC_URL: sy.url,
        LOG_LEVEL: 'warn',
        SWITCHYARD_DEMO: 'off',
        SWITCHYARD_SHUTDOWN_GRACE_SECONDS: '2',
      },
      (index) => join(dataDir, `worker-${index}.log`),
      (worker, how) => {
        day.workerFailure ??= new Error(
          `simulate-day: worker ${worker.index} (pid ${worker.pid}) ended on its own (${how}); see ${join(dataDir, `worker-${worker.index}.log`)}`,
        );
      },
    );
    day.workers.start(0);
  }
  await until('the initial load', () => connected(api), 600_000);
  const workers = day.workers;
  if (workers) {
    for (let i = 1; i < WORKER_PROCESSES; i++) workers.start(i);
    progress(`${WORKER_PROCESSES} worker processes (logs in ${dataDir})`);
  }
  const facilities = await setUpFacilities(api, shop);
  // The merchant's set-up is published before the day begins (at every store that mirrors its
  // shelf, every variant is compared with Shopify once), so the day measures the day.
  const setUpStarted = Date.now();
  await until('the set-up to be published', quiet, 3_600_000);
  const setUpSeconds = Math.round((Date.now() - setUpStarted) / 100) / 10;
  progress(
    `connected: ${shop.variants.size} variants, ${facilities} facilities; set-up published in ${setUpSeconds} s`,
  );
  return setUpSeconds;
}

/** The day: customers over 12 simulated hours, the faults on, associates working as orders come, workers killed. */
async function runTheDay(day: Day): Promise<Daytime> {
  const { options, simulator, creds, shop, api, db, workers, noWorkerFailure, progress } = day;
  simulator.setWebhookFaults(creds.shop, {
    dropRate: options.dropWebhooks,
    duplicateRate: options.duplicateWebhooks,
    maxDelayMs: 200,
  });
  simulator.setFaults(creds.shop, { errorRate: options.apiErrors });
  const traffic = makeTrafficGenerator(shop, options.seed);
  const bot = makeStoreBot(api, {
    seed: options.seed,
    associateDelaySeconds: 0.5,
    rejectShare: 0.02,
    label: 'simulate-day',
  });
  const placed = () => traffic.counts.online + traffic.counts.express + traffic.counts.pickup;
  const dayMs = (12 * 3600 * 1000) / options.clockSpeed;
  const everyMs = dayMs / (options.orders / 0.75);
  const trafficStarted = Date.now();
  let botError: unknown;
  let botRunning = true;
  const botLoop = (async () => {
    while (botRunning) {
      await bot.round().catch((error: unknown) => (botError = error));
      await sleep(2_000);
    }
  })();
  // Worker kills, spread evenly over the day.
  const kills: WorkerKill[] = [];
  let killing: Promise<void> = Promise.resolve();
  const killOne = async () => {
    // The busiest worker: the one in the middle of the most job runs.
    const candidates = await Promise.all(
      workers!.running().map(async (w) => ({
        w,
        jobs: (
          await queryRows<{ job_name: string }>(
            db,
            sql`select job_name from job_runs where status = 'running' and worker_id like ${`%:${w.pid}:%`}`,
          )
        ).map((r) => r.job_name),
      })),
    );
    const victim = candidates.sort((a, b) => b.jobs.length - a.jobs.length)[0];
    if (!victim) return;
    await workers!.kill(victim.w.index);
    const atSecond = Math.round((Date.now() - trafficStarted) / 100) / 10;
    progress(
      `killed worker ${victim.w.index} (pid ${victim.w.pid}) at ${atSecond} s, in the middle of: ${victim.jobs.join(', ') || 'no job run'}`,
    );
    await sleep(1_000);
    const restarted = workers!.start(victim.w.index);
    kills.push({ atSecond, pid: victim.w.pid, runningJobs: victim.jobs, restartedPid: restarted.pid });
  };
  const killDue = (i: number) => trafficStarted + ((i + 1) / (options.killWorker + 1)) * dayMs;
  let killsStarted = 0;
  let attempts = 0;
  while (placed() < options.orders && attempts < options.orders * 20) {
    noWorkerFailure();
    traffic.step();
    attempts++;
    if (killsStarted < options.killWorker && Date.now() >= killDue(killsStarted)) {
      killsStarted++;
      killing = killing.then(killOne);
    }
    const due = trafficStarted + attempts * everyMs;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  while (killsStarted < options.killWorker) {
    killsStarted++;
    killing = killing.then(killOne);
  }
  await killing;
  const trafficSeconds = (Date.now() - trafficStarted) / 1000;
  progress(`day over: ${placed()} orders placed in ${trafficSeconds.toFixed(1)} s; reconciling`);
  const stopBot = async () => {
    botRunning = false;
    await botLoop;
    if (botError) throw botError;
  };
  return { traffic, bot, kills, trafficSeconds, stopBot };
}

/** The evening: the faults stop, the safety nets run, the stores finish their work, everything is published. */
async function runTheEvening(
  day: Day,
  daytime: Daytime,
): Promise<{ eveningRetries: DayReport['eveningRetries']; ordersFoundByReconciliation: number }> {
  const { options, simulator, creds, db, until, quiet, runAfterAnyRunning, noWorkerFailure, progress } = day;
  const { bot } = daytime;
  simulator.setWebhookFaults(creds.shop, { dropRate: 0, duplicateRate: 0, maxDelayMs: 0 });
  simulator.setFaults(creds.shop, { errorRate: 0 });
  await simulator.webhooks(creds.shop).idle();
  // A failed run is run again, up to three runs in all, as its schedule would; each failure is reported.
  const eveningRetries: DayReport['eveningRetries'] = [];
  for (const job of ['sync.orders-new', 'sync.orders-updated', 'sync.reconcile', 'sync.inventory-snapshot']) {
    for (let runs = 1; ; runs++) {
      const run = await runAfterAnyRunning(job);
      if (run.status === 'succeeded') break;
      if (runs >= EVENING_RUNS) throw new Error(`simulate-day: ${job} ${run.status} ${runs} times; last: ${run.error}`);
      eveningRetries.push({ job, error: String(run.error) });
      progress(`${job} ${run.status} (${run.error}); running it again, as its schedule would`);
    }
  }
  // Orders whose first news came from a poller or the reconciliation, not from a webhook.
  const ordersFoundByReconciliation = (
    await queryRows<{ n: number }>(
      db,
      sql`select count(*)::int as n from order_history where kind = 'order.created' and source not like 'webhook:%' and source <> 'initial-load'`,
    )
  )[0]!.n;
  // The evening: the stores finish the day's parcels; a busy day leaves more.
  await until('the stores to finish and every queue to empty', quiet, 600_000 + options.orders * 100);
  await daytime.stopBot();
  if (bot.connectionsLost > 0)
    progress(
      `store bot: ${bot.connectionsLost} call(s) got no answer (connection dropped) and were tried again in a later round`,
    );
  const publishAll = await runAfterAnyRunning('inventory.publish-all');
  if (publishAll.status !== 'succeeded') throw new Error(`simulate-day: inventory.publish-all ${publishAll.status}`);
  await until('the last publish', quiet, 120_000);
  noWorkerFailure();
  progress('checking the invariants');
  return { eveningRetries, ordersFoundByReconciliation };
}

type Check = (name: string, value: number, detail: string) => void;
type ShipmentRow = { id: number; fulfillment: string | null; units: number; beyond: number; push: string | null };

/** The invariants that prove nothing was lost or done twice. */
async function checkInvariants(day: Day): Promise<{ invariants: Invariant[]; shipments: ShipmentRow[] }> {
  const invariants: Invariant[] = [];
  const check: Check = (name, value, detail) => void invariants.push({ name, holds: value === 0, value, detail });
  const shipments = await checkOrdersAndFulfilments(day, check);
  await checkInventory(day, check);
  await checkParkedLinesAndTokens(day, check);
  return { invariants, shipments };
}

/** Every Shopify order in Switchyard once and alike, and every shipped unit with exactly one Shopify fulfilment. */
async function checkOrdersAndFulfilments(day: Day, check: Check): Promise<ShipmentRow[]> {
  const { db, shop } = day;
  const mine = new Map(
    (
      await queryRows<{ shopify_order_id: string; cancelled: boolean; lines: Record<string, number> }>(
        db,
        sql`select o.shopify_order_id, o.cancelled_at is not null as cancelled, coalesce(jsonb_object_agg(ol.shopify_line_item_id, ol.current_quantity) filter (where ol.id is not null), '{}'::jsonb) as lines
          from orders o left join order_lines ol on ol.order_id = o.id group by o.id`,
      )
    ).map((r) => [r.shopify_order_id, r]),
  );
  let orderMismatches = 0;
  for (const o of shop.orders.values()) {
    const m = mine.get(`gid://shopify/Order/${o.id}`);
    const same =
      m &&
      m.cancelled === (o.cancelledAt !== null) &&
      o.lineItems.every((l) => m.lines[`gid://shopify/LineItem/${l.id}`] === l.currentQuantity);
    if (!same) orderMismatches++;
  }
  check(
    'every Shopify order is in Switchyard with equal lines and state',
    orderMismatches,
    `${orderMismatches} of ${shop.orders.size} orders differ or are missing`,
  );
  const [dupes] = await queryRows<{ orders: number; fulfilments: number }>(
    db,
    sql`select (select count(*)::int from (select shopify_order_id from orders group by 1 having count(*) > 1) x) as orders,
               (select count(*)::int from (select shopify_fulfillment_id from shipments where shopify_fulfillment_id is not null group by 1 having count(*) > 1) y) as fulfilments`,
  );
  check(
    'no order and no fulfilment exists twice',
    dupes!.orders + dupes!.fulfilments,
    `${dupes!.orders} orders, ${dupes!.fulfilments} fulfilments twice`,
  );
  // Units that left beyond what Shopify still owed (the order changed in Shopify and Switchyard
  // could not know before they went) are recorded on the push and have no fulfilment: counted apart.
  const shipments = await queryRows<ShipmentRow>(
    db,
    sql`select s.id, s.shopify_fulfillment_id as fulfillment, (select sum(quantity)::int from shipment_lines where shipment_id = s.id) as units,
               coalesce((select sum((b->>'quantity')::int) from fulfillment_pushes p cross join jsonb_array_elements(p.beyond_owed) b where p.shipment_id = s.id), 0)::int as beyond,
               (select p.status || coalesce(': ' || p.last_error, '') from fulfillment_pushes p where p.shipment_id = s.id and p.action = 'fulfil') as push
        from shipments s join orders o on o.id = s.order_id where s.status in ('shipped', 'handed_over')`,
  );
  // A counter sale's fulfilment (its in-store fulfillment order) is the sale itself, not a shipment.
  const simFulfillments = [...shop.fulfillments.values()].filter(
    (f) =>
      f.status === 'SUCCESS' &&
      f.lines.some((l) => shop.fulfillmentOrders.get(l.fulfillmentOrderId)?.deliveryMethod !== 'RETAIL'),
  );
  const withFulfilment = shipments.filter((s) => s.beyond < s.units);
  let unmatched = Math.abs(simFulfillments.length - withFulfilment.length);
  const unmatchedExamples: string[] = [];
  for (const s of shipments) {
    const f = s.fulfillment ? shop.fulfillments.get(Number(s.fulfillment.split('/').pop())) : undefined;
    const fulfilled = f ? f.lines.reduce((a, l) => a + l.quantity, 0) : 0;
    if (fulfilled + s.beyond !== s.units || (s.beyond < s.units && !f)) {
      unmatched++;
      if (unmatchedExamples.length < 5)
        unmatchedExamples.push(
          `shipment ${s.id} (${s.units} units, ${fulfilled} in its fulfilment, ${s.beyond} recorded beyond owed, push ${s.push ?? 'none'})`,
        );
    }
  }
  const beyondShipments = shipments.filter((s) => s.beyond > 0);
  check(
    'every shipped unit has exactly one Shopify fulfilment',
    unmatched,
    `${shipments.length} shipments, ${simFulfillments.length} Shopify fulfilments, ${unmatched} not matching one to one${unmatchedExamples.length > 0 ? ` (${unmatchedExamples.join('; ')})` : ''}; counted apart: ${beyondShipments.reduce((n, s) => n + s.beyond, 0)} units in ${beyondShipments.length} shipments that left beyond what Shopify still owed (the order changed in Shopify before Switchyard could know), recorded on the shipment`,
  );
  return shipments;
}

/** The ledger, the units returns put back on shelves, and what Shopify shows at every published location. */
async function checkInventory(day: Day, check: Check): Promise<void> {
  const { db, shop } = day;
  const ledger = (await compareCountersWithLedger(db)).drift.length;
  check('the ledger recomputes to the counters', ledger, `${ledger} counters differ from the ledger`);
  // Every unit Shopify put back on a shelf by a return is on hand there in Switchyard, once.
  const restocks = [...shop.orders.values()].flatMap((o) =>
    o.refunds.flatMap((r) =>
      r.lines
        .filter((l) => l.restockType === 'RETURN')
        .map((l) => ({
          key: `return_restock:gid://shopify/RefundLineItem/${l.id}`,
          quantity: l.quantity,
          location: l.locationId,
        })),
    ),
  );
  const entries = new Map(
    (
      await queryRows<{ key: string; delta: number; location: string | null }>(
        db,
        sql`select g.idempotency_key as key, g.delta, f.shopify_location_id as location from inventory_ledger g join facilities f on f.id = g.facility_id where g.kind = 'return_restock'`,
      )
    ).map((r) => [r.key, r]),
  );
  const unrecorded = restocks.filter(
    (r) =>
      entries.get(r.key)?.delta !== r.quantity ||
      entries.get(r.key)?.location !== `gid://shopify/Location/${r.location}`,
  );
  check(
    'every unit a return put back on a shelf is on hand there once',
    unrecorded.length + Math.max(0, entries.size - restocks.length),
    `${restocks.length} units returned and restocked in Shopify, ${entries.size} return entries in the ledger, ${unrecorded.length} missing or different${
      unrecorded.length > 0
        ? ` (${unrecorded
            .slice(0, 5)
            .map((r) => r.key)
            .join(', ')})`
        : ''
    }`,
  );
  const targets = await publishTargets(db, await publishedPairs(db, 'all'));
  const differing = targets
    .map((t) => ({
      t,
      level: shop.level(Number(t.itemId.split('/').pop()), Number(t.locationId.split('/').pop()))?.quantities,
    }))
    .filter(({ t, level }) => level?.available !== t.target);
  const drift = differing.length;
  // What the publisher's shadow says of each example: a base above Shopify's on hand is a drop taken
  // for a sale still on its way (held back); calls still `sending` lost their answer.
  const shadows = new Map(
    (
      await queryRows<{
        item: string;
        location: string;
        on_hand: number;
        base_on_hand: number | null;
        base_moves: number;
        unexplained_since: Date | null;
        learned: string | null;
      }>(
        db,
        // With the moves of Shopify's on hand Switchyard learned of since the base (POS sales, returns).
        sql`select s.shopify_inventory_item_id as item, s.shopify_location_id as location, s.on_hand, s.base_on_hand, s.base_moves, s.unexplained_since,
              (select string_agg(g.kind || ' ' || g.delta || ' (happened ' || to_char(g.occurred_at, 'HH24:MI:SS.MS') || ', recorded ' || to_char(g.recorded_at, 'HH24:MI:SS.MS') || ')', ', ' order by g.id)
               from inventory_ledger g join variants v on v.id = g.variant_id join facilities f on f.id = g.facility_id
               where v.shopify_inventory_item_id = s.shopify_inventory_item_id and f.shopify_location_id = s.shopify_location_id
                 and g.kind in ('pos_sale', 'return_restock') and (g.recorded_at > s.base_at or g.occurred_at > s.base_at)) || ' since the base of ' || to_char(s.base_at, 'HH24:MI:SS.MS') as learned
            from shopify_inventory_snapshot s
            where (s.shopify_inventory_item_id, s.shopify_location_id) in (select x->>0, x->>1 from jsonb_array_elements(${JSON.stringify(differing.slice(0, 5).map(({ t }) => [t.itemId, t.locationId]))}::jsonb) as x)`,
      )
    ).map((r) => [`${r.item}|${r.location}`, r]),
  );
  const examples = differing.slice(0, 5).map(({ t, level }) => {
    const shadow = shadows.get(`${t.itemId}|${t.locationId}`);
    const seen = shadow
      ? `; shadow on hand ${shadow.on_hand}, base ${shadow.base_on_hand} (${shadow.base_moves} moves)${shadow.unexplained_since ? `, a drop unexplained since ${shadow.unexplained_since.toISOString()}` : ''}${shadow.learned ? `; ${shadow.learned}` : ''}`
      : '';
    return `${t.itemId.split('/').pop()}@${t.locationId.split('/').pop()} (${t.mode}): target ${t.target}, Shopify ${level?.available} (committed ${level?.committed}, on hand ${level ? onHand(level) : undefined}, known ${t.knownCommitted}${seen})`;
  });
  check(
    "Shopify's available equals Switchyard's target at every published location",
    drift,
    `${drift} of ${targets.length} published quantities differ${examples.length > 0 ? `: ${examples.join('; ')}` : ''}`,
  );
}

/** No line parked for stock Switchyard did not have, and no call lost to an expired token. */
async function checkParkedLinesAndTokens(day: Day, check: Check): Promise<void> {
  const { db } = day;
  // Lines parked unfillable: oversold, unless the store bot's rejections (damaged stock, a shock
  // the day injects on purpose) took the stock away: those are counted apart.
  // An oversell: a line Shopify took that is parked while Switchyard has not the units anywhere.
  // Lines parked after the store bot's rejections (damaged stock: a shock the day injects on
  // purpose) are counted apart, and so are lines parked by a rule while the stock is there.
  const [parkedLines] = await queryRows<{ oversold: number; shocked: number; by_rule: number }>(
    db,
    sql`with parked as (
          select ol.id, ol.variant_id, ol.current_quantity,
                 cardinality(ol.excluded_facility_ids) > 0 or exists (select 1 from order_lines x where x.variant_id = ol.variant_id and cardinality(x.excluded_facility_ids) > 0) as shocked,
                 (select coalesce(sum(l.on_hand - l.reserved), 0) from inventory_levels l join facilities f on f.id = l.facility_id
                   where l.variant_id = ol.variant_id and f.kind <> 'VIRTUAL' and f.active and f.brokering_enabled) as free
          from order_lines ol join orders o on o.id = ol.order_id where ol.status = 'unfillable' and o.cancelled_at is null and ol.current_quantity > 0)
        select count(*) filter (where not shocked and free < current_quantity)::int as oversold,
               count(*) filter (where shocked)::int as shocked,
               count(*) filter (where not shocked and free >= current_quantity)::int as by_rule
        from parked`,
  );
  check(
    'no order accepted by Shopify for stock Switchyard did not have',
    parkedLines!.oversold,
    `${parkedLines!.oversold} order lines Shopify took that no facility had the units for; counted apart: ${parkedLines!.shocked} parked after injected stock shocks (damaged stock rejected by stores), ${parkedLines!.by_rule} parked by a routing rule while the stock is there`,
  );

  // Tokens expire all day long: a call Shopify refused for one is sent again with a new token, never lost.
  const [lostToTokens] = await queryRows<{ n: number; jobs: string | null }>(
    db,
    sql`select count(*)::int as n, string_agg(distinct job_name, ', ') as jobs from job_runs
        where status = 'failed' and (error like '%HTTP 401%' or error ilike '%access token%' or error ilike '%Shopify credentials%')`,
  );
  check(
    'no call lost to an expired or renewed token',
    lostToTokens!.n,
    `${lostToTokens!.n} job runs failed for a token${lostToTokens!.jobs ? ` (${lostToTokens!.jobs})` : ''}`,
  );
}

/** The figures of the day, with the invariants. */
async function dayReport(
  day: Day,
  the: {
    started: number;
    setUpSeconds: number;
    daytime: Daytime;
    eveningRetries: DayReport['eveningRetries'];
    ordersFoundByReconciliation: number;
    invariants: Invariant[];
    shipments: ShipmentRow[];
  },
): Promise<DayReport> {
  const { db, options, simulator, creds, workers, switchyard: sy } = day;
  const { started, setUpSeconds, eveningRetries, ordersFoundByReconciliation, invariants, shipments } = the;
  const { traffic, bot, kills, trafficSeconds } = the.daytime;
  const [counts] = await queryRows<{
    placed: number;
    routed: number;
    shipped: number;
    picked_up: number;
    cancelled: number;
    parked: number;
    pos: number;
    lines_routed: number;
  }>(
    db,
    sql`select count(*) filter (where exists (select 1 from order_lines l where l.order_id = o.id and not l.sold_over_counter))::int as placed,
               count(*) filter (where exists (select 1 from order_lines l where l.order_id = o.id and l.brokered_at is not null))::int as routed,
               count(*) filter (where exists (select 1 from shipments s where s.order_id = o.id and s.kind = 'ship' and s.status = 'shipped'))::int as shipped,
               count(*) filter (where exists (select 1 from shipments s where s.order_id = o.id and s.status = 'handed_over'))::int as picked_up,
               count(*) filter (where o.cancelled_at is not null)::int as cancelled,
               count(*) filter (where exists (select 1 from order_lines l where l.order_id = o.id and l.status = 'unfillable'))::int as parked,
               count(*) filter (where exists (select 1 from order_lines l where l.order_id = o.id and l.sold_over_counter))::int as pos,
               (select count(*)::int from order_lines where brokered_at is not null) as lines_routed
        from orders o`,
  );
  const latencies = (
    await queryRows<{ ms: number }>(
      db,
      sql`select extract(epoch from (min(ol.brokered_at) - o.shopify_created_at)) * 1000 as ms from orders o join order_lines ol on ol.order_id = o.id
          where ol.brokered_at is not null group by o.id`,
    )
  )
    .map((r) => Number(r.ms))
    .sort((a, b) => a - b);
  const stats = simulator.stats(creds.shop);
  const webhookStats = simulator.webhooks(creds.shop).stats;
  const durationSeconds = (Date.now() - started) / 1000;
  const report: DayReport = {
    command: '',
    sizes: { orders: options.orders, stores: options.stores, products: options.products, seed: options.seed },
    faults: {
      dropWebhooks: options.dropWebhooks,
      duplicateWebhooks: options.duplicateWebhooks,
      apiErrors: options.apiErrors,
      killWorker: options.killWorker,
    },
    workers: workers ? { processes: WORKER_PROCESSES, kills } : null,
    database: sy.database.kind === 'pglite' ? 'pglite' : 'postgres',
    durationSeconds: Math.round(durationSeconds * 10) / 10,
    setUpSeconds,
    orders: {
      placed: counts!.placed,
      routed: counts!.routed,
      shipped: counts!.shipped,
      pickedUp: counts!.picked_up,
      cancelled: counts!.cancelled,
      parked: counts!.parked,
      posSales: counts!.pos,
    },
    customerEvents: { ...traffic.counts },
    orderToRoutedMs: {
      p50: Math.round(percentile(latencies, 50)),
      p95: Math.round(percentile(latencies, 95)),
      max: Math.round(latencies.at(-1) ?? 0),
      orders: latencies.length,
    },
    linesRoutedPerSecond: Math.round((counts!.lines_routed / Math.max(1, trafficSeconds)) * 10) / 10,
    shopifyApi: {
      calls: stats.calls,
      costPoints: stats.pointsCharged,
      budgetShare: Math.round((stats.pointsCharged / (PLANS.plus.restoreRate * durationSeconds)) * 1000) / 1000,
      throttled: stats.throttled,
      faultsInjected: stats.faultsInjected,
    },
    webhooks: {
      events: webhookStats.events,
      dropped: webhookStats.dropped,
      duplicated: webhookStats.duplicated,
      ordersFoundByReconciliation,
    },
    eveningRetries,
    storeWork: {
      handOffsRefusedNoLongerOwed: bot.handOffsRefusedNoLongerOwed,
      unitsShippedBeyondOwed: shipments.reduce((n, s) => n + s.beyond, 0),
    },
    credentials: {
      grant: 'client_credentials',
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 86_399,
      tokensIssued: stats.tokenRequests.client_credentials.issued,
      expiredTokenAnswers: stats.expiredTokenCalls,
    },
    invariants,
    ok: invariants.every((i) => i.holds),
  };
  return report;
}
