// Switchyard connected to a simulated Shopify store over real HTTP, on a fresh test database: the
// setup every end-to-end test starts from.
import { freePort } from './net.js';
import { childEnv, createTestDatabase, testConfig, waitFor, type TestDatabase } from './backend.js';
import { CLI, listeningUrl, startChild, type Child } from './child.js';
import { startSwitchyard, type Switchyard } from '../../src/main/switchyard.js';
import { startSimulator, type ShopCredentials, type Simulator } from '../../src/simulator/server.js';
import type { SimShop } from '../../src/simulator/state.js';
import type { Db } from '../../src/platform/db/client.js';

export interface Connected {
  sim: Simulator;
  creds: ShopCredentials;
  shop: SimShop;
  testDb: TestDatabase;
  switchyard: Switchyard;
  db: () => Db;
  /** Calls Switchyard's API; answers status and JSON body. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** The settings that point Switchyard, listening on `port`, at a shop of the simulator. */
export function simulatedShopVariables(
  simulatorUrl: string,
  creds: ShopCredentials,
  port: number,
  options: { legacyToken?: boolean } = {},
): Record<string, string> {
  return {
    PORT: String(port),
    SWITCHYARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    SHOPIFY_SHOP: creds.shop,
    // As a Dev Dashboard app connects today: client ID and secret, the token obtained and renewed.
    ...(options.legacyToken ? { SHOPIFY_ADMIN_TOKEN: creds.accessToken } : { SHOPIFY_CLIENT_ID: creds.clientId }),
    SHOPIFY_API_SECRET: creds.clientSecret,
    SHOPIFY_API_URL: simulatorUrl,
    // Nothing in a test needs the production grace period: stop promptly at the end.
    SWITCHYARD_SHUTDOWN_GRACE_SECONDS: '2',
  };
}

/** `legacyToken`: connect with the app's static token, whose scopes follow the app's at once (a token from the token endpoint keeps those it was issued with). */
export async function connectToSimulatedShop(
  shopOptions: Parameters<Simulator['createShop']>[0],
  options: { legacyToken?: boolean } = {},
): Promise<Connected> {
  const sim = await startSimulator({ webhookTimeScale: 0.0005, bulkStepMs: 20 });
  const creds = sim.createShop(shopOptions);
  const shop = sim.shop(creds.shop);
  const testDb = await createTestDatabase();
  const port = await freePort();
  const switchyard = await startSwitchyard(testConfig(testDb, simulatedShopVariables(sim.url, creds, port, options)), {
    syncSettings: { overlapMs: 120_000, delayMs: 0, defaultLookbackMs: 86_400_000 },
    schedulerTickMs: 200,
  });
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${switchyard.url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, body: response.status === 204 ? null : await response.json() };
  };
  await waitFor(
    'the initial load',
    async () => (await api('GET', '/api/v1/sync/health')).body.shop.status === 'connected',
    90_000,
    250,
  );
  return {
    sim,
    creds,
    shop,
    testDb,
    switchyard,
    db: () => switchyard.database.db,
    api,
    async close() {
      await switchyard.stop();
      await sim.close();
      await testDb.drop();
    },
  };
}

/** Switchyard as its own process (`serve`) against a simulated shop: the setting of the crash tests. */
export interface SwitchyardProcess {
  sim: Simulator;
  creds: ShopCredentials;
  shop: SimShop;
  testDb: TestDatabase;
  /** The running process (replaced by `restart`). */
  child(): Child;
  /** Starts the process again on the same database and port (after a kill). */
  restart(): Promise<void>;
  /** Calls the process's API; answers the JSON body, throws on an error status. */
  api(method: string, path: string, body?: unknown): Promise<any>;
  close(): Promise<void>;
}

export async function startSwitchyardProcess(
  shopOptions: Parameters<Simulator['createShop']>[0],
): Promise<SwitchyardProcess> {
  const sim = await startSimulator({ webhookTimeScale: 0.0005, bulkStepMs: 20 });
  const creds = sim.createShop(shopOptions);
  const testDb = await createTestDatabase();
  const port = await freePort();
  let child: Child | undefined;
  let url = '';
  const start = async () => {
    child = startChild(CLI, ['serve'], childEnv(testDb, simulatedShopVariables(sim.url, creds, port)));
    url = await listeningUrl(child);
  };
  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const response = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  await start();
  await waitFor(
    'the initial load',
    async () => (await api('GET', '/api/v1/sync/health')).shop.status === 'connected',
    90_000,
    250,
  );
  return {
    sim,
    creds,
    shop: sim.shop(creds.shop),
    testDb,
    child: () => child!,
    restart: start,
    api,
    async close() {
      child?.kill('SIGKILL');
      await sim.close();
      await testDb.drop();
    },
  };
}
