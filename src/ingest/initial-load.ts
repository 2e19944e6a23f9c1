// Connecting a shop: locations proposed as facilities (the merchant confirms), every product and
// variant, Shopify's inventory snapshot, and the open orders of a chosen window (1, 2 or 6 months)
// through bulk operations, the webhook subscriptions, and the watermarks the pollers continue from.
import { eq } from 'drizzle-orm';
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db/client.js';
import { invalid } from '../platform/errors.js';
import { recordOpeningBalances } from '../domains/inventory/index.js';
import { applyOrderSnapshot } from '../domains/orders/index.js';
import { applyProductSnapshot } from '../domains/catalog/index.js';
import { addFacilityIfNew, facilityIdsByLocation, type FacilityKind } from '../domains/facilities/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { readBulkObjects, runBulkQuery, type BulkFinishSignals, type BulkRecord } from '../shopify/bulk-runner.js';
import { productFromNode } from '../shopify/mappers.js';
import { orderSnapshotOf } from '../shopify/readers.js';
import {
  LocationsPage,
  ShopInfo,
  WebhookSubscriptionCreate,
  WebhookSubscriptions,
  type LocationNode,
  type OrderNode,
  type ProductNode,
} from '../shopify/operations.js';
import { shops } from './shop.schema.js';
import { saveShopifyLevels, shopifyLevels } from '../outbound/index.js';
import { INVENTORY_BULK, inventoryLevelsOf } from '../shopify/inventory-levels.js';
import type { Logger } from '../platform/logger.js';
import type { ScopeNeed } from '../shopify/scopes.js';
import { checkAccessScopes } from './access-scopes.js';
import { HANDLED_TOPICS, subscriptionTopic } from './topics.js';
import { ensureShop, mergeSyncState, writeWatermark } from './sync-state.js';

export const ORDER_WINDOW_MONTHS = [1, 2, 6] as const;

export interface LocationProposal {
  shopifyLocationId: string;
  name: string;
  code: string;
  kind: FacilityKind;
  canShip: boolean;
  canPickup: boolean;
  existingFacilityId: number | null;
}

export interface LoadProgress {
  step: 'shop' | 'locations' | 'products' | 'inventory' | 'orders' | 'webhooks' | 'done';
  percent: number;
  counts: Record<string, number>;
}

export interface InitialLoadOptions {
  db: Db;
  clock: Clock;
  shopify: ShopifyClient;
  shop: string;
  apiVersion: string;
  /** Where Shopify should send webhooks (`{publicUrl}/webhooks/shopify`). */
  webhookUrl: string;
  months: number;
  /** Without confirmation the load stops after proposing the locations → facilities mapping. */
  confirmLocations: boolean;
  signals?: BulkFinishSignals;
  pollMs?: number;
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /** Where missing access scopes are reported (they are also recorded for sync health). */
  log?: Logger;
}

const slug = (text: string) =>
  text
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);

/** Warehouses ship and hold no counter; stores are everything else. The merchant can change both. */
function proposeKind(location: LocationNode): FacilityKind {
  return /warehouse|distribution|fulfil+ment center|\bdc\b/i.test(location.name) ||
    (location.shipsInventory && !/store|shop|boutique/i.test(location.name))
    ? 'WAREHOUSE'
    : 'STORE';
}

export async function proposeLocations(db: Db, shopify: ShopifyClient): Promise<LocationProposal[]> {
  const locations: LocationNode[] = [];
  let after: string | null = null;
  for (;;) {
    const data: { locations: { nodes: LocationNode[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
      await shopify.request(LocationsPage, { after });
    locations.push(...data.locations.nodes.filter((l) => l.isActive));
    if (!data.locations.pageInfo.hasNextPage) break;
    after = data.locations.pageInfo.endCursor;
  }
  const mapped = await facilityIdsByLocation(db);
  return locations.map((l) => {
    const kind = proposeKind(l);
    return {
      shopifyLocationId: l.id,
      name: l.name,
      code: slug(l.name),
      kind,
      canShip: l.fulfillsOnlineOrders,
      canPickup: kind === 'STORE',
      existingFacilityId: mapped.get(l.id) ?? null,
      address: l.address,
    };
  });
}

async function applyLocations(db: Db, shopify: ShopifyClient, now: Date): Promise<number> {
  const data = await shopify.request(LocationsPage, { after: null });
  const byId = new Map(data.locations.nodes.map((l) => [l.id, l]));
  let created = 0;
  for (const proposal of await proposeLocations(db, shopify)) {
    if (proposal.existingFacilityId !== null) continue;
    const location = byId.get(proposal.shopifyLocationId);
    const added = await addFacilityIfNew(db, {
      code: proposal.code,
      name: proposal.name,
      kind: proposal.kind,
      address: location
        ? {
            address1: location.address.address1 ?? undefined,
            city: location.address.city ?? undefined,
            province: location.address.province ?? undefined,
            postalCode: location.address.zip ?? undefined,
            countryCode: location.address.countryCode ?? undefined,
          }
        : null,
      latitude: location?.address.latitude ?? null,
      longitude: location?.address.longitude ?? null,
      canShip: proposal.canShip,
      canPickup: proposal.canPickup,
      shopifyLocationId: proposal.shopifyLocationId,
      // Publishing starts when the merchant chooses each location's mode (PATCH /api/v1/facilities):
      // connecting never rewrites Shopify's stock by itself.
      publishMode: 'none',
      updatedAt: now,
    });
    if (added) created += 1;
  }
  return created;
}

const PRODUCTS_BULK = `{ products { edges { node {
  id handle title status vendor productType tags updatedAt
  featuredMedia { ... on MediaImage { image { url } } }
  variants { edges { node { id title sku barcode price inventoryPolicy updatedAt inventoryItem { id measurement { weight { unit value } } } } } }
} } } }`;

const ordersBulk = (
  since: Date,
) => `{ orders(query: "created_at:>='${since.toISOString()}' AND status:open", sortKey: CREATED_AT) { edges { node {
  id name email createdAt updatedAt cancelledAt cancelReason sourceName tags displayFinancialStatus displayFulfillmentStatus
  customer { firstName lastName email }
  shippingAddress { firstName lastName address1 address2 city province provinceCode zip countryCodeV2 phone latitude longitude }
  currentTotalPriceSet { shopMoney { amount currencyCode } }
  shippingLines { edges { node { id title code source } } }
  lineItems { edges { node { id sku title variantTitle quantity currentQuantity unfulfilledQuantity variant { id } originalUnitPriceSet { shopMoney { amount } } } } }
  fulfillmentOrders { edges { node { id status deliveryMethod { methodType } assignedLocation { location { id } } } } }
  retailLocation { id }
} } } }`;

/** The bulk queries of the initial load (validated against the schema by a test). */
export const BULK_QUERIES = {
  products: PRODUCTS_BULK,
  inventory: INVENTORY_BULK,
  orders: ordersBulk(new Date('2026-01-01T00:00:00Z')),
};

const done = { hasNextPage: false, endCursor: null };

function productNodeOf(root: BulkRecord, children: Map<string, BulkRecord[]>): ProductNode {
  return {
    ...(root as unknown as ProductNode),
    variants: {
      nodes: (children.get('ProductVariant') ?? []) as unknown as ProductNode['variants']['nodes'],
      pageInfo: done,
    },
  };
}

function orderNodeOf(root: BulkRecord, children: Map<string, BulkRecord[]>): OrderNode {
  return {
    ...(root as unknown as OrderNode),
    shippingLines: { nodes: (children.get('ShippingLine') ?? []) as unknown as OrderNode['shippingLines']['nodes'] },
    lineItems: {
      nodes: (children.get('LineItem') ?? []) as unknown as OrderNode['lineItems']['nodes'],
      pageInfo: done,
    },
    fulfillmentOrders: {
      nodes: (children.get('FulfillmentOrder') ?? []) as unknown as OrderNode['fulfillmentOrders']['nodes'],
    },
  };
}

/** Creates the missing webhook subscriptions for every topic Switchyard handles (idempotent). */
export async function ensureWebhookSubscriptions(
  shopify: ShopifyClient,
  webhookUrl: string,
): Promise<{ created: number; present: number }> {
  const existing = await shopify.request(WebhookSubscriptions, {});
  const have = new Set(existing.webhookSubscriptions.nodes.filter((s) => s.uri === webhookUrl).map((s) => s.topic));
  let created = 0;
  for (const topic of HANDLED_TOPICS) {
    const enumTopic = subscriptionTopic(topic);
    if (have.has(enumTopic)) continue;
    const result = await shopify.request(WebhookSubscriptionCreate, { topic: enumTopic, uri: webhookUrl });
    const errors = result.webhookSubscriptionCreate.userErrors;
    if (errors.length > 0 && !errors.some((e) => /already been taken/.test(e.message))) {
      throw new Error(`Subscribing to ${topic} failed: ${errors.map((e) => e.message).join('; ')}`);
    }
    created += 1;
  }
  return { created, present: have.size };
}

export async function runInitialLoad(options: InitialLoadOptions): Promise<{
  proposals: LocationProposal[];
  counts: Record<string, number>;
  completed: boolean;
  missingScopes: ScopeNeed[];
  grantedScopes: string[];
}> {
  if (!(ORDER_WINDOW_MONTHS as readonly number[]).includes(options.months)) {
    throw invalid('sync.bad_window', `The open-order window is 1, 2 or 6 months (got ${options.months}).`);
  }
  const { db, clock, shopify } = options;
  const counts: Record<string, number> = {};
  const count = (name: string, by = 1) => (counts[name] = (counts[name] ?? 0) + by);
  const progress = (step: LoadProgress['step'], percent: number) =>
    options.onProgress?.({ step, percent, counts: { ...counts } });
  const startedAt = clock.now();

  progress('shop', 0);
  await ensureShop(db, options.shop, options.apiVersion);
  // Before anything changes: stops here when an essential scope is missing.
  const { missing, granted } = await checkAccessScopes({
    db,
    shopify,
    shop: options.shop,
    orderWindowMonths: options.months,
    at: clock.now(),
    ...(options.log ? { log: options.log } : {}),
  });
  const info = await shopify.request(ShopInfo, {});
  await db
    .update(shops)
    .set({
      name: info.shop.name,
      currencyCode: info.shop.currencyCode,
      ianaTimezone: info.shop.ianaTimezone,
      status: 'connecting',
      updatedAt: clock.now(),
    })
    .where(eq(shops.domain, options.shop));

  progress('locations', 5);
  const proposals = await proposeLocations(db, shopify);
  if (!options.confirmLocations)
    return { proposals, counts, completed: false, missingScopes: missing, grantedScopes: granted };
  count('facilities_created', await applyLocations(db, shopify, clock.now()));

  progress('products', 10);
  const productsOp = await runBulkQuery(shopify, PRODUCTS_BULK, {
    ...(options.signals ? { signals: options.signals } : {}),
    pollMs: options.pollMs ?? 2000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const totalProducts = Number(productsOp.rootObjectCount) || 1;
  for await (const { root, children } of readBulkObjects(productsOp.url)) {
    count(`products_${await applyProductSnapshot(db, productFromNode(productNodeOf(root, children)), clock.now())}`);
    count('variants', children.get('ProductVariant')?.length ?? 0);
    const seen =
      (counts['products_created'] ?? 0) +
      (counts['products_updated'] ?? 0) +
      (counts['products_unchanged'] ?? 0) +
      (counts['products_stale'] ?? 0);
    if (seen % 100 === 0) progress('products', 10 + Math.round((seen / totalProducts) * 35));
  }

  progress('inventory', 45);
  const inventoryOp = await runBulkQuery(shopify, INVENTORY_BULK, {
    ...(options.signals ? { signals: options.signals } : {}),
    pollMs: options.pollMs ?? 2000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const snapshotAt = clock.now();
  count('inventory_levels', await saveShopifyLevels(db, inventoryLevelsOf(inventoryOp.url), snapshotAt));
  // Switchyard's opening stock: Shopify's on hand, for every pair that has no history yet.
  const levels = await shopifyLevels(db);
  count('opening_balances', await recordOpeningBalances(db, levels, snapshotAt, clock.now()));

  progress('orders', 50);
  const since = new Date(startedAt.getTime());
  since.setUTCMonth(since.getUTCMonth() - options.months);
  const ordersOp = await runBulkQuery(shopify, ordersBulk(since), {
    ...(options.signals ? { signals: options.signals } : {}),
    pollMs: options.pollMs ?? 2000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const totalOrders = Number(ordersOp.rootObjectCount) || 1;
  let orderCount = 0;
  for await (const { root, children } of readBulkObjects(ordersOp.url)) {
    count(
      `orders_${await applyOrderSnapshot(db, await orderSnapshotOf(shopify, orderNodeOf(root, children)), 'initial-load', clock.now())}`,
    );
    orderCount += 1;
    if (orderCount % 100 === 0) progress('orders', 50 + Math.round((orderCount / totalOrders) * 40));
  }

  progress('webhooks', 90);
  const subscriptions = await ensureWebhookSubscriptions(shopify, options.webhookUrl);
  count('webhook_subscriptions_created', subscriptions.created);

  // Incremental polls continue from the moment the load started (their overlap re-reads the edge).
  for (const key of ['orders.created_at', 'orders.updated_at', 'products.created_at', 'products.updated_at'])
    await writeWatermark(db, options.shop, key, startedAt);
  await db
    .update(shops)
    .set({ status: 'connected', connectedAt: clock.now(), updatedAt: clock.now() })
    .where(eq(shops.domain, options.shop));
  await mergeSyncState(db, options.shop, {
    initialLoad: { at: clock.now().toISOString(), months: options.months, counts },
  });
  progress('done', 100);
  return { proposals, counts, completed: true, missingScopes: missing, grantedScopes: granted };
}
