// GraphQL views of the simulated shop. A view defines exactly the fields the simulator implements
// (getters, or methods taking the field's arguments); the executor's field resolver refuses any other
// field by name, so a client never receives a silent null for something Shopify would have answered.
import { GraphQLError, valueFromASTUntyped, type GraphQLResolveInfo } from 'graphql';
import { paginate, type ConnectionArgs } from './connection.js';
import { makeOtherMutations, makeOtherQueries } from './mutations.js';
import { makeOrderQueries, orderNodeView } from './views-orders.js';
import type { BulkRunner } from './bulk.js';
import { accessScopeView, type ScopeRules } from './scopes.js';
import { matches, parseSearch, SearchSyntaxError, type SearchFields } from './search.js';
import {
  fingerprint,
  gid,
  parseGid,
  QUANTITY_NAMES,
  quantityOf,
  type InventoryAdjustmentGroup,
  type MutationResult,
  type SimInventoryItem,
  type SimInventoryLevel,
  type SimLocation,
  type SimProduct,
  type SimShop,
  type SimVariant,
} from './state.js';

export interface SimApp {
  name: string;
  /** The legacy custom app's static token; also the app's identity (subscriptions, bulk operations). */
  accessToken: string;
  /** The app's client ID and secret (the Dev Dashboard's), for the token endpoint and webhook signatures. */
  clientId: string;
  clientSecret: string;
  /** Redirect URLs an install may name (empty: any). */
  redirectUrls: string[];
  installed: boolean;
  /** Moves when the secret is rotated or the app uninstalled: tokens issued before stop working. */
  epoch: number;
  /** The access scopes granted (`write_x` includes `read_x`; see scopes.ts). */
  scopes: Set<string>;
}

export interface StagedTarget {
  url: string;
  resourceUrl: string | null;
  parameters: Array<{ name: string; value: string }>;
}

export interface RequestContext {
  shop: SimShop;
  app: SimApp;
  variables: Record<string, unknown>;
  services: {
    bulk: BulkRunner;
    /** What each field, type and webhook topic needs (scopes.ts). */
    scopes: ScopeRules;
    /** A staged-upload target for one file (multipart POST, parameters first, file last). */
    stage(input: { filename: string; mimeType: string; resource: string; httpMethod?: string | null }): StagedTarget;
  };
}

type Args = Record<string, unknown>;
type SearchArgs = ConnectionArgs & { query?: string | null; sortKey?: string | null };

function search<T>(items: Iterable<T>, query: string | null | undefined, spec: SearchFields<T>): T[] {
  let tree;
  try {
    tree = query ? parseSearch(query) : null;
  } catch (error) {
    if (error instanceof SearchSyntaxError)
      throw new GraphQLError(error.message, { extensions: { code: 'BAD_REQUEST' } });
    throw error;
  }
  const result: T[] = [];
  for (const item of items) if (matches(tree, item, spec)) result.push(item);
  return result;
}

function sortBy<T>(items: T[], key: (item: T) => string | number): T[] {
  return items.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

const iso = (date: Date) => date.toISOString();

const pageInfoOnly = <T>(items: T[], args: ConnectionArgs, idOf: (item: T) => number, view: (item: T) => object) =>
  paginate(items, args, idOf, view);

// ---------------------------------------------------------------------------------------------
// Objects

export class ShopView {
  readonly __typename = 'Shop';
  constructor(private readonly shop: SimShop) {}
  get id() {
    return gid('Shop', 1);
  }
  get name() {
    return this.shop.name;
  }
  get myshopifyDomain() {
    return this.shop.domain;
  }
  get currencyCode() {
    return this.shop.currencyCode;
  }
  get ianaTimezone() {
    return this.shop.ianaTimezone;
  }
  get email() {
    return `owner@${this.shop.domain}`;
  }
}

export class LocationView {
  readonly __typename = 'Location';
  constructor(
    private readonly shop: SimShop,
    private readonly location: SimLocation,
  ) {}
  get id() {
    return gid('Location', this.location.id);
  }
  get legacyResourceId() {
    return String(this.location.id);
  }
  get name() {
    return this.location.name;
  }
  get isActive() {
    return this.location.isActive;
  }
  get fulfillsOnlineOrders() {
    return this.location.fulfillsOnlineOrders;
  }
  get shipsInventory() {
    return this.location.shipsInventory;
  }
  get hasActiveInventory() {
    return this.shop.levelsAtLocation(this.location.id).length > 0;
  }
  get createdAt() {
    return iso(this.location.createdAt);
  }
  get updatedAt() {
    return iso(this.location.updatedAt);
  }
  get address() {
    const a = this.location.address;
    return {
      ...a,
      formatted: [a.address1, `${a.city} ${a.provinceCode} ${a.zip}`, a.country],
    };
  }
  get localPickupSettingsV2() {
    return this.location.pickupEnabled ? { pickupTime: 'TWO_HOURS', instructions: 'Ask at the counter.' } : null;
  }
  inventoryLevels(args: SearchArgs) {
    const levels = sortBy([...this.shop.levelsAtLocation(this.location.id)], (l) => l.itemId);
    return paginate(
      levels,
      args,
      (l) => l.itemId,
      (l) => new InventoryLevelView(this.shop, l),
    );
  }
  inventoryLevel(args: Args) {
    const itemId = parseGid(args['inventoryItemId'] as string, 'InventoryItem');
    const level = itemId === null ? undefined : this.shop.level(itemId, this.location.id);
    return level ? new InventoryLevelView(this.shop, level) : null;
  }
}

export class ProductView {
  readonly __typename = 'Product';
  constructor(
    private readonly shop: SimShop,
    private readonly product: SimProduct,
  ) {}
  get id() {
    return gid('Product', this.product.id);
  }
  get legacyResourceId() {
    return String(this.product.id);
  }
  get handle() {
    return this.product.handle;
  }
  get title() {
    return this.product.title;
  }
  get status() {
    return this.product.status;
  }
  get vendor() {
    return this.product.vendor;
  }
  get productType() {
    return this.product.productType;
  }
  get tags() {
    return this.product.tags;
  }
  get createdAt() {
    return iso(this.product.createdAt);
  }
  get updatedAt() {
    return iso(this.product.updatedAt);
  }
  get totalInventory() {
    return this.product.variantIds.reduce(
      (sum, id) => sum + variantInventoryQuantity(this.shop, this.shop.variants.get(id)!),
      0,
    );
  }
  get featuredMedia() {
    const url = this.product.imageUrls[0];
    return url ? mediaImage(this.product.id, 0, url, this.product.title) : null;
  }
  variants(args: ConnectionArgs) {
    const variants = this.product.variantIds.map((id) => this.shop.variants.get(id)!);
    return paginate(
      variants,
      args,
      (v) => v.id,
      (v) => new VariantView(this.shop, v),
    );
  }
  media(args: ConnectionArgs) {
    const media = this.product.imageUrls.map((url, index) => ({ url, index }));
    return paginate(
      media,
      args,
      (m) => m.index,
      (m) => mediaImage(this.product.id, m.index, m.url, this.product.title),
    );
  }
  metafield(args: Args) {
    const entry = this.product.metafields.get(`${String(args['namespace'] ?? '')}.${String(args['key'])}`);
    return entry ? metafieldView(this.product.id, entry) : null;
  }
}

function mediaImage(productId: number, index: number, url: string, alt: string) {
  const image = { id: gid('ImageSource', productId * 100 + index), url, altText: alt, width: 1200, height: 1200 };
  return {
    __typename: 'MediaImage',
    id: gid('MediaImage', productId * 100 + index),
    alt,
    mediaContentType: 'IMAGE',
    status: 'READY',
    image,
    preview: { image, status: 'READY' },
  };
}

function metafieldView(
  ownerId: number,
  entry: { namespace: string; key: string; type: string; value: string; updatedAt: Date },
) {
  return {
    __typename: 'Metafield',
    id: gid('Metafield', ownerId * 1000 + entry.key.length),
    namespace: entry.namespace,
    key: entry.key,
    type: entry.type,
    value: entry.value,
    updatedAt: iso(entry.updatedAt),
  };
}

function variantInventoryQuantity(shop: SimShop, variant: SimVariant): number {
  return shop.levelsOfItem(variant.inventoryItemId).reduce((sum, l) => sum + l.quantities.available, 0);
}

export class VariantView {
  readonly __typename = 'ProductVariant';
  constructor(
    private readonly shop: SimShop,
    private readonly variant: SimVariant,
  ) {}
  get id() {
    return gid('ProductVariant', this.variant.id);
  }
  get legacyResourceId() {
    return String(this.variant.id);
  }
  get title() {
    return this.variant.title;
  }
  get displayName() {
    return `${this.shop.products.get(this.variant.productId)!.title} - ${this.variant.title}`;
  }
  get sku() {
    return this.variant.sku;
  }
  get barcode() {
    return this.variant.barcode;
  }
  get price() {
    return this.variant.price;
  }
  get position() {
    return this.variant.position;
  }
  get inventoryPolicy() {
    return this.variant.inventoryPolicy;
  }
  get inventoryQuantity() {
    return variantInventoryQuantity(this.shop, this.variant);
  }
  get createdAt() {
    return iso(this.variant.createdAt);
  }
  get updatedAt() {
    return iso(this.variant.updatedAt);
  }
  get product() {
    return new ProductView(this.shop, this.shop.products.get(this.variant.productId)!);
  }
  get inventoryItem() {
    return new InventoryItemView(this.shop, this.shop.inventoryItems.get(this.variant.inventoryItemId)!);
  }
  get image() {
    const url = this.shop.products.get(this.variant.productId)!.imageUrls[0];
    return url
      ? { id: gid('ImageSource', this.variant.id), url, altText: this.variant.title, width: 1200, height: 1200 }
      : null;
  }
}

export class InventoryItemView {
  readonly __typename = 'InventoryItem';
  constructor(
    private readonly shop: SimShop,
    private readonly item: SimInventoryItem,
  ) {}
  get id() {
    return gid('InventoryItem', this.item.id);
  }
  get legacyResourceId() {
    return String(this.item.id);
  }
  get sku() {
    return this.shop.variants.get(this.item.variantId)!.sku;
  }
  get tracked() {
    return this.item.tracked;
  }
  get requiresShipping() {
    return true;
  }
  get createdAt() {
    return iso(this.item.createdAt);
  }
  get updatedAt() {
    return iso(this.item.updatedAt);
  }
  get variant() {
    return new VariantView(this.shop, this.shop.variants.get(this.item.variantId)!);
  }
  get measurement() {
    return {
      id: gid('InventoryItemMeasurement', this.item.id),
      weight: { unit: 'GRAMS', value: this.item.weightGrams },
    };
  }
  inventoryLevels(args: ConnectionArgs) {
    const levels = sortBy([...this.shop.levelsOfItem(this.item.id)], (l) => l.locationId);
    return paginate(
      levels,
      args,
      (l) => l.locationId,
      (l) => new InventoryLevelView(this.shop, l),
    );
  }
  inventoryLevel(args: Args) {
    const locationId = parseGid(args['locationId'] as string, 'Location');
    const level = locationId === null ? undefined : this.shop.level(this.item.id, locationId);
    return level ? new InventoryLevelView(this.shop, level) : null;
  }
}

export class InventoryLevelView {
  readonly __typename = 'InventoryLevel';
  constructor(
    private readonly shop: SimShop,
    private readonly level: SimInventoryLevel,
  ) {}
  get id() {
    return `gid://shopify/InventoryLevel/${this.level.locationId}?inventory_item_id=${this.level.itemId}`;
  }
  get isActive() {
    return true;
  }
  get canDeactivate() {
    return true;
  }
  get createdAt() {
    return iso(this.level.createdAt);
  }
  get updatedAt() {
    return iso(this.level.updatedAt);
  }
  get item() {
    return new InventoryItemView(this.shop, this.shop.inventoryItems.get(this.level.itemId)!);
  }
  get location() {
    return new LocationView(this.shop, this.shop.locations.get(this.level.locationId)!);
  }
  quantities(args: Args) {
    const names = args['names'] as string[];
    return names.map((name) => {
      if (!(QUANTITY_NAMES as readonly string[]).includes(name)) {
        throw new GraphQLError(`Invalid quantity name "${name}". Valid names: ${QUANTITY_NAMES.join(', ')}.`, {
          extensions: { code: 'BAD_REQUEST' },
        });
      }
      return {
        id: `gid://shopify/InventoryQuantity/${this.level.locationId}?inventory_item_id=${this.level.itemId}&name=${name}`,
        name,
        quantity: quantityOf(this.level, name as (typeof QUANTITY_NAMES)[number]),
        updatedAt: iso(this.level.updatedAt),
      };
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Search fields per resource (the subset of Shopify's the OMS uses)

const productSearch = (shop: SimShop): SearchFields<SimProduct> => ({
  defaultFields: ['title', 'sku'],
  fields: {
    id: (p) => p.id,
    title: (p) => p.title,
    handle: (p) => p.handle,
    status: (p) => p.status.toLowerCase(),
    vendor: (p) => p.vendor,
    product_type: (p) => p.productType,
    tag: (p) => p.tags,
    sku: (p) => p.variantIds.map((id) => shop.variants.get(id)!.sku),
    barcode: (p) => p.variantIds.map((id) => shop.variants.get(id)!.barcode),
    created_at: (p) => p.createdAt,
    updated_at: (p) => p.updatedAt,
  },
});

const variantSearch = (shop: SimShop): SearchFields<SimVariant> => ({
  defaultFields: ['title', 'sku'],
  fields: {
    id: (v) => v.id,
    title: (v) => v.title,
    sku: (v) => v.sku,
    barcode: (v) => v.barcode,
    product_id: (v) => v.productId,
    tag: (v) => shop.products.get(v.productId)!.tags,
    created_at: (v) => v.createdAt,
    updated_at: (v) => v.updatedAt,
  },
});

const locationSearch: SearchFields<SimLocation> = {
  defaultFields: ['name'],
  fields: {
    id: (l) => l.id,
    name: (l) => l.name,
    active: (l) => String(l.isActive),
    pickup_in_store: (l) => (l.pickupEnabled ? 'enabled' : 'disabled'),
  },
};

const itemSearch = (shop: SimShop): SearchFields<SimInventoryItem> => ({
  defaultFields: ['sku'],
  fields: {
    id: (i) => i.id,
    sku: (i) => shop.variants.get(i.variantId)!.sku,
    created_at: (i) => i.createdAt,
    updated_at: (i) => i.updatedAt,
  },
});

const PRODUCT_SORTS: Record<string, (p: SimProduct) => string | number> = {
  ID: (p) => p.id,
  TITLE: (p) => p.title,
  CREATED_AT: (p) => p.createdAt.getTime(),
  UPDATED_AT: (p) => p.updatedAt.getTime(),
  PRODUCT_TYPE: (p) => p.productType,
  VENDOR: (p) => p.vendor,
};
const VARIANT_SORTS: Record<string, (v: SimVariant) => string | number> = {
  ID: (v) => v.id,
  SKU: (v) => v.sku,
  TITLE: (v) => v.title,
  POSITION: (v) => v.position,
  CREATED_AT: (v) => v.createdAt.getTime(),
  UPDATED_AT: (v) => v.updatedAt.getTime(),
};

function sortKeyOf<T>(
  sorts: Record<string, (item: T) => string | number>,
  key: string | null | undefined,
  fallback: string,
) {
  const chosen = sorts[key ?? fallback];
  if (!chosen)
    throw new GraphQLError(`Sort key ${key} is not supported by the simulator for this connection.`, {
      extensions: { code: 'NOT_IMPLEMENTED' },
    });
  // Ties broken by id, as Shopify does, so pages never overlap.
  return chosen;
}

function sorted<T extends { id: number }>(items: T[], key: (item: T) => string | number): T[] {
  return items.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.id - b.id;
  });
}

// ---------------------------------------------------------------------------------------------
// Root fields

function viewOfNode(shop: SimShop, id: string, readAllOrders: boolean): object | null {
  const match = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d+)/.exec(id);
  if (!match) return null;
  const numeric = Number(match[2]);
  switch (match[1]) {
    case 'Order':
    case 'FulfillmentOrder':
    case 'Fulfillment':
      return orderNodeView(shop, match[1], numeric, readAllOrders);
    case 'Product': {
      const p = shop.products.get(numeric);
      return p ? new ProductView(shop, p) : null;
    }
    case 'ProductVariant': {
      const v = shop.variants.get(numeric);
      return v ? new VariantView(shop, v) : null;
    }
    case 'InventoryItem': {
      const i = shop.inventoryItems.get(numeric);
      return i ? new InventoryItemView(shop, i) : null;
    }
    case 'Location': {
      const l = shop.locations.get(numeric);
      return l ? new LocationView(shop, l) : null;
    }
    case 'InventoryLevel': {
      const itemId = Number(/inventory_item_id=(\d+)/.exec(id)?.[1]);
      const level = shop.level(itemId, numeric);
      return level ? new InventoryLevelView(shop, level) : null;
    }
    default:
      return null;
  }
}

/** A stable number for an app of a shop, from its token. */
const appNumber = (app: SimApp) => Number.parseInt(app.accessToken.replace(/^shpat_/, '').slice(0, 8), 16);

export function makeQueryRoot(shop: SimShop, ctx: RequestContext) {
  const readAllOrders = ctx.app.scopes.has('read_all_orders');
  return {
    ...makeOrderQueries(shop, readAllOrders),
    ...makeOtherQueries(shop, ctx),
    shop: new ShopView(shop),
    locations: (args: SearchArgs & { includeInactive?: boolean | null }) => {
      const all = search(shop.locations.values(), args.query, locationSearch).filter(
        (l) => args.includeInactive || l.isActive,
      );
      return pageInfoOnly(
        sorted(all, (l) => (args.sortKey === 'NAME' ? l.name : l.id)),
        args,
        (l) => l.id,
        (l) => new LocationView(shop, l),
      );
    },
    location: (args: Args) => {
      const id = parseGid(args['id'] as string, 'Location');
      const location = id === null ? undefined : shop.locations.get(id);
      return location ? new LocationView(shop, location) : null;
    },
    products: (args: SearchArgs) => {
      const key = sortKeyOf(PRODUCT_SORTS, args.sortKey, 'ID');
      const items = sorted(search(shop.products.values(), args.query, productSearch(shop)), key);
      return paginate(
        items,
        args,
        (p) => p.id,
        (p) => new ProductView(shop, p),
      );
    },
    product: (args: Args) => {
      const id = parseGid(args['id'] as string, 'Product');
      const product = id === null ? undefined : shop.products.get(id);
      return product ? new ProductView(shop, product) : null;
    },
    productVariants: (args: SearchArgs) => {
      const key = sortKeyOf(VARIANT_SORTS, args.sortKey, 'ID');
      const items = sorted(search(shop.variants.values(), args.query, variantSearch(shop)), key);
      return paginate(
        items,
        args,
        (v) => v.id,
        (v) => new VariantView(shop, v),
      );
    },
    productVariant: (args: Args) => {
      const id = parseGid(args['id'] as string, 'ProductVariant');
      const variant = id === null ? undefined : shop.variants.get(id);
      return variant ? new VariantView(shop, variant) : null;
    },
    inventoryItems: (args: SearchArgs) => {
      const items = sorted(search(shop.inventoryItems.values(), args.query, itemSearch(shop)), (i) => i.id);
      return paginate(
        items,
        args,
        (i) => i.id,
        (i) => new InventoryItemView(shop, i),
      );
    },
    inventoryItem: (args: Args) => {
      const id = parseGid(args['id'] as string, 'InventoryItem');
      const item = id === null ? undefined : shop.inventoryItems.get(id);
      return item ? new InventoryItemView(shop, item) : null;
    },
    currentAppInstallation: {
      __typename: 'AppInstallation',
      id: gid('AppInstallation', appNumber(ctx.app)),
      accessScopes: [...ctx.app.scopes].sort().map(accessScopeView),
      app: { __typename: 'App', id: gid('App', appNumber(ctx.app)), title: ctx.app.name },
    },
    inventoryLevel: (args: Args) => viewOfNode(shop, args['id'] as string, readAllOrders),
    node: (args: Args) => viewOfNode(shop, args['id'] as string, readAllOrders),
    nodes: (args: Args) => (args['ids'] as string[]).map((id) => viewOfNode(shop, id, readAllOrders)),
  };
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** The `@idempotent(key:)` directive on the mutation field, resolved against the variables. */
function idempotencyKey(info: GraphQLResolveInfo, variables: Record<string, unknown>): string | null {
  const directive = info.fieldNodes[0]?.directives?.find((d) => d.name.value === 'idempotent');
  const keyArgument = directive?.arguments?.find((a) => a.name.value === 'key');
  if (!keyArgument) return null;
  const key = valueFromASTUntyped(keyArgument.value, variables);
  return typeof key === 'string' && key.length > 0 ? key : null;
}

function adjustmentGroupView(shop: SimShop, group: InventoryAdjustmentGroup) {
  return {
    id: gid('InventoryAdjustmentGroup', group.id),
    createdAt: iso(group.createdAt),
    reason: group.reason,
    referenceDocumentUri: group.referenceDocumentUri,
    app: { id: gid('App', 1), title: group.appName },
    changes: group.changes.map((c) => ({
      name: c.name,
      delta: c.delta,
      quantityAfterChange: c.quantityAfterChange,
      ledgerDocumentUri: c.ledgerDocumentUri,
      item: new InventoryItemView(shop, shop.inventoryItems.get(c.itemId)!),
      location: new LocationView(shop, shop.locations.get(c.locationId)!),
    })),
  };
}

/**
 * Runs a mutation under its `@idempotent` key (required since 2026-04 for inventory adjustments and
 * refunds): a repeat with the same key and arguments answers the first result and changes nothing;
 * the same key with other arguments is refused; a key whose first attempt failed cannot be reused.
 */
function idempotent<T extends { userErrors: unknown[] }>(
  shop: SimShop,
  info: GraphQLResolveInfo,
  ctx: RequestContext,
  args: Args,
  apply: () => T,
  refused: (userError: { code: string; field: string[]; message: string }) => T,
): T {
  const key = idempotencyKey(info, ctx.variables);
  if (key === null) {
    throw new GraphQLError(
      `${info.fieldName} requires the @idempotent(key: "...") directive from API version 2026-04.`,
      {
        extensions: { code: 'BAD_REQUEST' },
      },
    );
  }
  const print = `${info.fieldName}:${fingerprint(args)}`;
  const previous = shop.idempotency.get(key);
  if (previous) {
    const code =
      previous.fingerprint !== print
        ? 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH'
        : previous.state === 'in_flight'
          ? 'IDEMPOTENCY_CONCURRENT_REQUEST'
          : previous.state === 'failed'
            ? 'IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED'
            : null;
    if (code) {
      const message =
        code === 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH'
          ? 'The same idempotency key cannot be used with different operation parameters.'
          : code === 'IDEMPOTENCY_CONCURRENT_REQUEST'
            ? 'This request is currently in progress, please try again.'
            : 'A previous request with this idempotency key failed. Retry with a new idempotency key.';
      return refused({ code, field: ['idempotent', 'key'], message });
    }
    return previous.response as T;
  }
  shop.idempotency.set(key, { fingerprint: print, state: 'in_flight', response: null });
  const response = apply();
  shop.idempotency.set(key, {
    fingerprint: print,
    state: response.userErrors.length === 0 ? 'succeeded' : 'failed',
    response,
  });
  return response;
}

function inventoryChange(shop: SimShop, result: MutationResult<InventoryAdjustmentGroup>) {
  return result.ok
    ? { inventoryAdjustmentGroup: adjustmentGroupView(shop, result.value), userErrors: [] as unknown[] }
    : { inventoryAdjustmentGroup: null, userErrors: result.userErrors as unknown[] };
}

export function makeMutationRoot(shop: SimShop, ctx: RequestContext) {
  const others = makeOtherMutations(shop, ctx);
  return {
    ...others,
    inventorySetQuantities: (args: Args, _ctx: unknown, info: GraphQLResolveInfo) =>
      idempotent(
        shop,
        info,
        ctx,
        args,
        () =>
          inventoryChange(
            shop,
            shop.setQuantities(args['input'] as Parameters<SimShop['setQuantities']>[0], ctx.app.name),
          ),
        (e) => ({ inventoryAdjustmentGroup: null, userErrors: [e] }),
      ),
    inventoryAdjustQuantities: (args: Args, _ctx: unknown, info: GraphQLResolveInfo) =>
      idempotent(
        shop,
        info,
        ctx,
        args,
        () =>
          inventoryChange(
            shop,
            shop.adjustQuantities(args['input'] as Parameters<SimShop['adjustQuantities']>[0], ctx.app.name),
          ),
        (e) => ({ inventoryAdjustmentGroup: null, userErrors: [e] }),
      ),
    refundCreate: (args: Args, _ctx: unknown, info: GraphQLResolveInfo) =>
      idempotent(
        shop,
        info,
        ctx,
        args,
        () => others.refundCreate(args) as { userErrors: unknown[] },
        (e) => ({ order: null, refund: null, userErrors: [e] }),
      ),
  };
}
