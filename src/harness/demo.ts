// Demo mode: with no Shopify shop configured, `switchyard serve` brings its own. A simulated Shopify
// store runs in this process (generated catalog, warehouses and stores in real cities); Switchyard
// connects to it exactly as to a real shop (webhooks, bulk loads, jobs); customers place orders, buy
// at the counter, change their minds; a bot plays the store associates through Switchyard's own API;
// and an ERP count file lands in the import folder every simulated morning.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { apiAccessOf, ConfigError, type Config } from '../main/config.js';
import { acquireDataDirLock } from '../platform/db/data-dir-lock.js';
import type { Switchyard } from '../main/switchyard.js';
import type { Simulator } from '../simulator/server.js';
import { makeTrafficGenerator } from '../simulator/traffic.js';
import { queryRows } from '../platform/db/rows.js';
import { makeStoreBot } from './store-bot.js';
import { connected, setUpFacilities, startWithSimulatedShop } from './simulated-shop.js';

export interface DemoOptions {
  /** Customer events per minute (0: a quiet shop). */
  ordersPerMinute: number;
  seed: number;
  /** Seconds an associate takes between two steps of the same parcel (a random share of it is added). */
  associateDelaySeconds: number;
  /** Real minutes per simulated day: an ERP count file lands at the start of each. */
  minutesPerDay: number;
}

export interface Demo {
  switchyard: Switchyard;
  simulator: Simulator;
  shop: string;
  stop(): Promise<void>;
}

export async function startDemo(config: Config, options: DemoOptions): Promise<Demo> {
  const access = apiAccessOf({ ...config, shopify: undefined });
  if (access.mode === 'closed')
    throw new ConfigError(
      'HOST',
      `must be this machine (127.0.0.1) for the demo unless SWITCHYARD_API_TOKEN is set: ${access.reason}`,
      config.host,
    );
  // The data dir is ours before anything in it is touched: a second demo in the same folder stops
  // here, naming this one, instead of wiping its database.
  const lock = acquireDataDirLock(config.dataDir);
  // The simulated shop lives in memory: its Switchyard data starts fresh with it.
  const dataDir = join(config.dataDir, 'demo');
  let started: Awaited<ReturnType<typeof startWithSimulatedShop>>;
  try {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(join(dataDir, 'erp-drop'), { recursive: true });
    started = await startWithSimulatedShop(config, {
      shop: {
        seed: options.seed,
        products: 60,
        stores: 6,
        warehouses: 2,
        plan: 'plus',
        domain: 'switchyard-demo.myshopify.com',
      },
      webhookTimeScale: 0.01,
      bulkStepMs: 200,
      config: { dataDir, databaseUrl: undefined, inventoryImportDir: join(dataDir, 'erp-drop') },
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  const { simulator, creds, shop, switchyard, api } = started;
  const importDir = join(dataDir, 'erp-drop');
  const log = switchyard.logger.child({ demo: true });

  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const every = (ms: number, what: string, run: () => Promise<void> | void) => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || stopped) return;
      busy = true;
      Promise.resolve()
        .then(run)
        .catch((error: unknown) => log.warn({ err: error }, `demo ${what} failed; trying again`))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    timers.push(timer);
  };

  // Once connected: the merchant's set-up, then the shop opens.
  let setupDone = false;
  every(1000, 'setup', async () => {
    if (setupDone || !(await connected(api))) return;
    const facilities = await setUpFacilities(api, shop);
    setupDone = true;
    log.info({ facilities }, 'demo: connected to the simulated shop; traffic starts');
    // The first morning's count comes soon after opening.
    setTimeout(
      () => void morningCount().catch((error: unknown) => log.warn({ err: error }, 'demo ERP count failed')),
      15_000,
    ).unref();
  });

  // Customers.
  const traffic = makeTrafficGenerator(shop, options.seed);
  if (options.ordersPerMinute > 0) {
    every(Math.max(50, Math.round(60_000 / options.ordersPerMinute)), 'traffic', () => {
      if (setupDone) traffic.step();
    });
  }

  // Store associates.
  const bot = makeStoreBot(api, {
    seed: options.seed,
    associateDelaySeconds: options.associateDelaySeconds,
    rejectShare: 0.04,
    label: 'demo',
  });
  every(2000, 'store associates', async () => {
    if (setupDone) await bot.round();
  });

  // The ERP's morning count: what each store and warehouse holds, with the odd unit found or missing.
  let roll = options.seed;
  const chance = () => (roll = (roll * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let day = 0;
  const morningCount = async () => {
    if (!setupDone || stopped) return;
    day += 1;
    const rows = await queryRows<{ code: string; sku: string; on_hand: number }>(
      switchyard.database.db,
      sql`select f.code, v.sku, l.on_hand from inventory_levels l join facilities f on f.id = l.facility_id join variants v on v.id = l.variant_id
          where f.kind <> 'VIRTUAL' and v.sku is not null order by f.code, v.sku`,
    );
    const countedAt = new Date().toISOString();
    const lines = rows.map(
      (r) =>
        `${r.code},${r.sku},${Math.max(0, r.on_hand + (chance() < 0.02 ? (chance() < 0.5 ? -1 : 1) : 0))},${countedAt}`,
    );
    writeFileSync(join(importDir, `counts-day-${day}.csv`), `facility,sku,quantity,counted_at\n${lines.join('\n')}\n`);
    await switchyard.jobs.requestRun('inventory.import-folder', 'system');
    log.info({ day, rows: lines.length }, 'demo: the ERP dropped its morning count file');
  };
  every(Math.max(10_000, options.minutesPerDay * 60_000), 'ERP count', morningCount);

  return {
    switchyard,
    simulator,
    shop: creds.shop,
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await switchyard.stop();
      await simulator.close();
      lock.release();
    },
  };
}
