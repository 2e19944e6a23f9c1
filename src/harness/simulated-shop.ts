// Switchyard connected to a simulated Shopify store running in this process (the demo and the day
// simulation): the shop, Switchyard pointed at it exactly as at a real one, and the facility set-up
// a merchant would make.
import type { Config } from '../main/config.js';
import { startSwitchyard, type StartOptions, type Switchyard } from '../main/switchyard.js';
import { apiClient, freePort, type ApiCall } from './local-api.js';
import { startSimulator, type CreateShopOptions, type ShopCredentials, type Simulator } from '../simulator/server.js';
import type { SimShop } from '../simulator/state.js';
import type { TokenLifetimes } from '../simulator/oauth.js';

export interface SimulatedShop {
  simulator: Simulator;
  creds: ShopCredentials;
  shop: SimShop;
  switchyard: Switchyard;
  api: ApiCall;
}

export async function startWithSimulatedShop(
  config: Config,
  options: {
    shop: CreateShopOptions;
    webhookTimeScale: number;
    bulkStepMs: number;
    config: Partial<Config>;
    start?: StartOptions;
    tokenLifetimes?: Partial<TokenLifetimes>;
  },
): Promise<SimulatedShop> {
  const port = config.port === 0 ? await freePort() : config.port;
  const simulator = await startSimulator({
    host: '127.0.0.1',
    webhookTimeScale: options.webhookTimeScale,
    bulkStepMs: options.bulkStepMs,
    ...(options.tokenLifetimes ? { tokenLifetimes: options.tokenLifetimes } : {}),
  });
  const creds = simulator.createShop(options.shop);
  try {
    const switchyard = await startSwitchyard(
      {
        ...config,
        ...options.config,
        port,
        publicUrl: `http://127.0.0.1:${port}`,
        shopify: {
          shop: creds.shop,
          auth: { grant: 'client_credentials', clientId: creds.clientId },
          apiSecret: creds.clientSecret,
          encryptionKey: undefined,
          apiVersion: creds.apiVersion,
          apiUrl: simulator.url,
          initialLoadMonths: 1,
          webhookMaxAgeSeconds: 86_400,
        },
      },
      options.start,
    );
    return {
      simulator,
      creds,
      shop: simulator.shop(creds.shop),
      switchyard,
      api: apiClient(switchyard.url!, config.apiToken),
    };
  } catch (error) {
    await simulator.close();
    throw error;
  }
}

/** Whether the initial load is done. */
export async function connected(api: ApiCall): Promise<boolean> {
  return (await api<{ shop?: { status: string } }>('GET', '/api/v1/sync/health')).shop?.status === 'connected';
}

/**
 * The merchant's set-up: the location Shopify sends online orders to carries online ATP, stores
 * mirror their shelves, warehouses hand parcels to the express carrier. Returns the facilities.
 */
export async function setUpFacilities(api: ApiCall, shop: SimShop): Promise<number> {
  const { facilities } = await api<{
    facilities: Array<{ code: string; kind: string; shopifyLocationId: string | null }>;
  }>('GET', '/api/v1/facilities');
  const online = [...shop.locations.values()].find((l) => l.fulfillsOnlineOrders && l.isActive);
  for (const f of facilities.filter((x) => x.shopifyLocationId)) {
    const mode =
      online && f.shopifyLocationId === `gid://shopify/Location/${online.id}`
        ? 'aggregate'
        : f.kind === 'STORE'
          ? 'mirror'
          : 'none';
    await api('PATCH', `/api/v1/facilities/${f.code}`, {
      publishMode: mode,
      ...(f.kind === 'WAREHOUSE' ? { canExpress: true } : {}),
    });
  }
  return facilities.length;
}
