// The simulated shop's data and Shopify's own rules for changing it. Plain in-memory state: the
// simulator is a stand-in for Shopify, not a database.
import { createHash } from 'node:crypto';
import type { SimFulfillment, SimFulfillmentOrder, SimOrder } from './orders.js';
import type { SimBulkOperation } from './bulk.js';

export const QUANTITY_NAMES = [
  'available',
  'on_hand',
  'committed',
  'reserved',
  'incoming',
  'damaged',
  'safety_stock',
  'quality_control',
] as const;
export type QuantityName = (typeof QUANTITY_NAMES)[number];
/** Stored quantity states; `on_hand` is derived from them. */
type StoredQuantities = Record<Exclude<QuantityName, 'on_hand'>, number>;

/** Reasons Shopify accepts on inventory mutations (list from Shopify's docs; unknown → INVALID_REASON). */
export const INVENTORY_REASONS = new Set([
  'correction',
  'cycle_count_available',
  'damaged',
  'movement_created',
  'movement_updated',
  'movement_received',
  'movement_canceled',
  'other',
  'promotion',
  'quality_control',
  'received',
  'reservation_created',
  'reservation_deleted',
  'reservation_updated',
  'restock',
  'safety_stock',
  'shrinkage',
]);

export const QUANTITY_LIMIT = 1_000_000_000;

export interface SimAddress {
  address1: string;
  address2: string | null;
  city: string;
  province: string;
  provinceCode: string;
  zip: string;
  country: string;
  countryCode: string;
  phone: string | null;
  latitude: number;
  longitude: number;
}

export interface SimLocation {
  id: number;
  name: string;
  /** What the simulator generated it as; Shopify itself has no such field. */
  kind: 'warehouse' | 'store';
  address: SimAddress;
  isActive: boolean;
  fulfillsOnlineOrders: boolean;
  shipsInventory: boolean;
  pickupEnabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface SimProduct {
  id: number;
  handle: string;
  title: string;
  status: 'ACTIVE' | 'DRAFT' | 'ARCHIVED';
  vendor: string;
  productType: string;
  tags: string[];
  imageUrls: string[];
  variantIds: number[];
  metafields: Map<string, { namespace: string; key: string; type: string; value: string; updatedAt: Date }>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SimVariant {
  id: number;
  productId: number;
  title: string;
  sku: string;
  barcode: string;
  price: string;
  position: number;
  inventoryPolicy: 'DENY' | 'CONTINUE';
  inventoryItemId: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface SimInventoryItem {
  id: number;
  variantId: number;
  tracked: boolean;
  weightGrams: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface SimInventoryLevel {
  itemId: number;
  locationId: number;
  quantities: StoredQuantities;
  createdAt: Date;
  updatedAt: Date;
}

export interface InventoryChangeRecord {
  name: QuantityName;
  delta: number;
  quantityAfterChange: number;
  itemId: number;
  locationId: number;
  ledgerDocumentUri: string | null;
}

export interface InventoryAdjustmentGroup {
  id: number;
  createdAt: Date;
  reason: string;
  referenceDocumentUri: string | null;
  changes: InventoryChangeRecord[];
  appName: string;
}

export interface UserError {
  code: string;
  field: string[];
  message: string;
}

export type MutationResult<T> = { ok: true; value: T } | { ok: false; userErrors: UserError[] };

export function onHand(q: StoredQuantities): number {
  return q.available + q.committed + q.reserved + q.damaged + q.safety_stock + q.quality_control;
}

export function quantityOf(level: SimInventoryLevel, name: QuantityName): number {
  return name === 'on_hand' ? onHand(level.quantities) : level.quantities[name];
}

export const emptyQuantities = (): StoredQuantities => ({
  available: 0,
  committed: 0,
  reserved: 0,
  incoming: 0,
  damaged: 0,
  safety_stock: 0,
  quality_control: 0,
});

export interface SimWebhookSubscription {
  id: number;
  /** GraphQL enum form, e.g. ORDERS_CREATE. */
  topic: string;
  uri: string;
  /** The app that subscribed: deliveries are signed with its secret. */
  appToken: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Webhook topic names: ORDERS_CREATE ⇄ orders/create. */
export const topicToEnum = (topic: string) => topic.replace('/', '_').toUpperCase();
export const enumToTopic = (value: string) => {
  const known = ['FULFILLMENT_ORDERS', 'INVENTORY_LEVELS', 'BULK_OPERATIONS'];
  const prefix = known.find((k) => value.startsWith(`${k}_`)) ?? value.split('_')[0]!;
  return `${prefix.toLowerCase()}/${value.slice(prefix.length + 1).toLowerCase()}`;
};

/** What changed, for webhooks; payloads are built from the current state when delivered. */
export type ShopEvent =
  | { topic: 'inventory_levels/update'; resource: 'inventory_level'; itemId: number; locationId: number }
  | { topic: string; resource: 'order'; orderId: number; extra?: Record<string, unknown> }
  | { topic: string; resource: 'product'; productId: number }
  | { topic: string; resource: 'fulfillment'; fulfillmentId: number }
  | { topic: string; resource: 'fulfillment_order'; fulfillmentOrderId: number; extra?: Record<string, unknown> }
  | { topic: string; resource: 'refund'; orderId: number; refundId: number }
  | { topic: string; resource: 'bulk_operation'; bulkOperationId: number }
  /** Sent to the one app that was uninstalled, not to every subscriber of the topic. */
  | { topic: 'app/uninstalled'; resource: 'app'; appToken: string };

export interface IdempotencyRecord {
  fingerprint: string;
  state: 'in_flight' | 'succeeded' | 'failed';
  response: unknown;
}

/** What is wrong with an adjustment's ledger document URI for this quantity name, if anything. */
function ledgerDocumentProblem(name: string, uri: string | null): { code: string; message: string } | null {
  if (name === 'available' && uri !== null) {
    return {
      code: 'INVALID_AVAILABLE_DOCUMENT',
      message: 'A ledger document URI is not allowed when adjusting available.',
    };
  }
  if (name !== 'available' && uri === null) {
    return { code: 'INVALID_LEDGER_DOCUMENT', message: 'A ledger document URI is required for this quantity name.' };
  }
  if (uri?.startsWith('gid://shopify/')) {
    return { code: 'INTERNAL_LEDGER_DOCUMENT', message: 'A ledger document URI cannot be a Shopify GID.' };
  }
  return null;
}

export class SimShop {
  readonly locations = new Map<number, SimLocation>();
  readonly products = new Map<number, SimProduct>();
  readonly variants = new Map<number, SimVariant>();
  readonly inventoryItems = new Map<number, SimInventoryItem>();
  /** Key: `${itemId}:${locationId}`. */
  readonly levels = new Map<string, SimInventoryLevel>();
  /** Indexes of `levels` (levels are never removed), so per-item and per-location reads stay cheap. */
  private readonly levelsByItem = new Map<number, SimInventoryLevel[]>();
  private readonly levelsByLocation = new Map<number, SimInventoryLevel[]>();
  readonly adjustmentGroups: InventoryAdjustmentGroup[] = [];
  /** Keyed by the `@idempotent` key of inventory mutations. */
  readonly idempotency = new Map<string, IdempotencyRecord>();
  readonly orders = new Map<number, SimOrder>();
  readonly fulfillmentOrders = new Map<number, SimFulfillmentOrder>();
  readonly fulfillments = new Map<number, SimFulfillment>();
  readonly webhookSubscriptions = new Map<number, SimWebhookSubscription>();
  readonly bulkOperations = new Map<number, SimBulkOperation>();
  /** Asynchronous jobs (orderCancel): done once applied. */
  readonly jobs = new Map<number, { done: boolean }>();
  /** Every change Shopify would announce by webhook, in order; the webhook dispatcher listens. */
  readonly listeners: Array<(event: ShopEvent) => void> = [];
  /** Levels touched by the operation under way in `asOneChange`, announced when it ends. */
  private levelsInOneChange: Set<SimInventoryLevel> | null = null;
  private lastId = 1_000_000;
  private lastOrderNumber = 1000;

  nextOrderNumber(): number {
    this.lastOrderNumber += 1;
    return this.lastOrderNumber;
  }

  emit(event: ShopEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Changes a stored quantity and announces the level change (inventory_levels/update). */
  changeQuantity(level: SimInventoryLevel, name: Exclude<QuantityName, 'on_hand'>, delta: number): void {
    this.changeQuantities(level, { [name]: delta });
  }

  /**
   * Moves several named quantities of one level at once (an order moves units from `available` to
   * `committed`): one level change, so one inventory_levels/update, as Shopify sends.
   */
  changeQuantities(level: SimInventoryLevel, deltas: Partial<Record<Exclude<QuantityName, 'on_hand'>, number>>): void {
    let changed = false;
    for (const [name, delta] of Object.entries(deltas) as Array<[Exclude<QuantityName, 'on_hand'>, number]>) {
      if (delta === 0) continue;
      level.quantities[name] += delta;
      changed = true;
    }
    if (!changed) return;
    level.updatedAt = this.now();
    if (this.levelsInOneChange) this.levelsInOneChange.add(level);
    else
      this.emit({
        topic: 'inventory_levels/update',
        resource: 'inventory_level',
        itemId: level.itemId,
        locationId: level.locationId,
      });
  }

  /**
   * Runs an operation that moves stock in several steps (a POS sale: placed, then fulfilled) as the
   * one change Shopify makes of it: each level it touched is announced once, at the end.
   */
  asOneChange<T>(run: () => T): T {
    if (this.levelsInOneChange) return run();
    const touched = new Set<SimInventoryLevel>();
    this.levelsInOneChange = touched;
    try {
      return run();
    } finally {
      this.levelsInOneChange = null;
      for (const level of touched)
        this.emit({
          topic: 'inventory_levels/update',
          resource: 'inventory_level',
          itemId: level.itemId,
          locationId: level.locationId,
        });
    }
  }

  constructor(
    readonly domain: string,
    readonly name: string,
    readonly currencyCode: string,
    readonly ianaTimezone: string,
    readonly now: () => Date,
  ) {}

  nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  level(itemId: number, locationId: number): SimInventoryLevel | undefined {
    return this.levels.get(`${itemId}:${locationId}`);
  }

  /** Makes an item stocked at a location (Shopify: "activate inventory"). */
  activate(itemId: number, locationId: number, quantities: Partial<StoredQuantities> = {}): SimInventoryLevel {
    const existing = this.level(itemId, locationId);
    if (existing) return existing;
    const at = this.now();
    const level: SimInventoryLevel = {
      itemId,
      locationId,
      quantities: { ...emptyQuantities(), ...quantities },
      createdAt: at,
      updatedAt: at,
    };
    this.levels.set(`${itemId}:${locationId}`, level);
    this.levelsByItem.set(itemId, [...(this.levelsByItem.get(itemId) ?? []), level]);
    const atLocation = this.levelsByLocation.get(locationId);
    if (atLocation) atLocation.push(level);
    else this.levelsByLocation.set(locationId, [level]);
    return level;
  }

  levelsOfItem(itemId: number): SimInventoryLevel[] {
    return this.levelsByItem.get(itemId) ?? [];
  }

  levelsAtLocation(locationId: number): SimInventoryLevel[] {
    return this.levelsByLocation.get(locationId) ?? [];
  }

  /**
   * `inventorySetQuantities`: all-or-nothing. Every quantity must carry `changeFromQuantity` (a number
   * to compare with, or an explicit null to opt out); a mismatch fails the whole call as stale.
   */
  setQuantities(
    input: {
      name: string;
      reason: string;
      referenceDocumentUri?: string | null;
      quantities: Array<Record<string, unknown>>;
    },
    appName: string,
  ): MutationResult<InventoryAdjustmentGroup> {
    const errors: UserError[] = [];
    if (input.name !== 'available' && input.name !== 'on_hand') {
      errors.push({
        code: 'INVALID_NAME',
        field: ['input', 'name'],
        message: "The quantity name must be either 'available' or 'on_hand'.",
      });
    }
    if (!INVENTORY_REASONS.has(input.reason))
      errors.push({ code: 'INVALID_REASON', field: ['input', 'reason'], message: 'The specified reason is invalid.' });
    const seen = new Set<string>();
    const resolved: Array<{ level: SimInventoryLevel; quantity: number }> = [];
    input.quantities.forEach((q, index) => {
      const field = (name: string) => ['input', 'quantities', String(index), name];
      const quantity = q['quantity'] as number;
      const target = this.itemAtLocation(q, field, errors);
      if (!target) return;
      const { itemId, locationId } = target;
      const key = `${itemId}:${locationId}`;
      if (seen.has(key)) {
        errors.push({
          code: 'NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR',
          field: field('inventoryItemId'),
          message: 'The combination of inventoryItemId and locationId must be unique.',
        });
        return;
      }
      seen.add(key);
      if (!('changeFromQuantity' in q)) {
        errors.push({
          code: 'CHANGE_FROM_QUANTITY_STALE',
          field: field('changeFromQuantity'),
          message: 'changeFromQuantity is required: pass the quantity you expect, or null to skip the check.',
        });
        return;
      }
      if (quantity < 0) {
        errors.push({
          code: 'INVALID_QUANTITY_NEGATIVE',
          field: field('quantity'),
          message: "The quantity can't be negative.",
        });
        return;
      }
      if (quantity > QUANTITY_LIMIT) {
        errors.push({
          code: 'INVALID_QUANTITY_TOO_HIGH',
          field: field('quantity'),
          message: "The total quantity can't be higher than 1,000,000,000.",
        });
        return;
      }
      const level = this.level(itemId, locationId);
      if (!level) {
        errors.push({
          code: 'ITEM_NOT_STOCKED_AT_LOCATION',
          field: field('locationId'),
          message: 'The specified inventory item is not stocked at the location.',
        });
        return;
      }
      const expected = q['changeFromQuantity'] as number | null;
      const current = quantityOf(level, input.name as QuantityName);
      if (expected !== null && expected !== current) {
        errors.push({
          code: 'CHANGE_FROM_QUANTITY_STALE',
          field: field('changeFromQuantity'),
          message: 'The changeFromQuantity value does not match persisted value.',
        });
        return;
      }
      resolved.push({ level, quantity });
    });
    if (errors.length > 0) return { ok: false, userErrors: errors };

    const name = input.name as 'available' | 'on_hand';
    const changes: InventoryChangeRecord[] = [];
    const at = this.now();
    for (const { level, quantity } of resolved) {
      const before = quantityOf(level, name);
      const delta = quantity - before;
      // Setting on_hand moves the difference into `available`, as Shopify does.
      this.changeQuantity(level, 'available', delta);
      level.updatedAt = at;
      changes.push({
        name: 'available',
        delta,
        quantityAfterChange: level.quantities.available,
        itemId: level.itemId,
        locationId: level.locationId,
        ledgerDocumentUri: null,
      });
      changes.push({
        name: 'on_hand',
        delta,
        quantityAfterChange: onHand(level.quantities),
        itemId: level.itemId,
        locationId: level.locationId,
        ledgerDocumentUri: null,
      });
    }
    return { ok: true, value: this.recordGroup(input.reason, input.referenceDocumentUri ?? null, changes, appName) };
  }

  /** `inventoryAdjustQuantities`: all-or-nothing deltas, with the same compare-and-set rule. */
  adjustQuantities(
    input: {
      name: string;
      reason: string;
      referenceDocumentUri?: string | null;
      changes: Array<Record<string, unknown>>;
    },
    appName: string,
  ): MutationResult<InventoryAdjustmentGroup> {
    const adjustable = new Set(['available', 'damaged', 'incoming', 'quality_control', 'reserved', 'safety_stock']);
    const errors: UserError[] = [];
    if (!adjustable.has(input.name)) {
      errors.push({
        code: 'INVALID_QUANTITY_NAME',
        field: ['input', 'name'],
        message: `The quantity name ${input.name} can't be adjusted.`,
      });
    }
    if (!INVENTORY_REASONS.has(input.reason))
      errors.push({ code: 'INVALID_REASON', field: ['input', 'reason'], message: 'The specified reason is invalid.' });
    const resolved: Array<{ level: SimInventoryLevel; delta: number; ledgerDocumentUri: string | null }> = [];
    input.changes.forEach((c, index) => {
      const field = (name: string) => ['input', 'changes', String(index), name];
      const delta = c['delta'] as number;
      const ledgerDocumentUri = (c['ledgerDocumentUri'] as string | null | undefined) ?? null;
      const target = this.itemAtLocation(c, field, errors);
      if (!target) return;
      const { itemId, locationId } = target;
      const documentProblem = ledgerDocumentProblem(input.name, ledgerDocumentUri);
      if (documentProblem) {
        errors.push({ ...documentProblem, field: field('ledgerDocumentUri') });
        return;
      }
      if (!('changeFromQuantity' in c)) {
        errors.push({
          code: 'CHANGE_FROM_QUANTITY_STALE',
          field: field('changeFromQuantity'),
          message: 'changeFromQuantity is required: pass the quantity you expect, or null to skip the check.',
        });
        return;
      }
      const level = this.level(itemId, locationId);
      if (!level) {
        errors.push({
          code: 'ITEM_NOT_STOCKED_AT_LOCATION',
          field: field('locationId'),
          message: 'The specified inventory item is not stocked at the location.',
        });
        return;
      }
      const current = quantityOf(level, input.name as QuantityName);
      const expected = c['changeFromQuantity'] as number | null;
      if (expected !== null && expected !== current) {
        errors.push({
          code: 'CHANGE_FROM_QUANTITY_STALE',
          field: field('changeFromQuantity'),
          message: 'The changeFromQuantity value does not match persisted value.',
        });
        return;
      }
      if (current + delta > QUANTITY_LIMIT) {
        errors.push({
          code: 'INVALID_QUANTITY_TOO_HIGH',
          field: field('delta'),
          message: "The total quantity can't be higher than 1,000,000,000.",
        });
        return;
      }
      if (current + delta < -QUANTITY_LIMIT) {
        errors.push({
          code: 'INVALID_QUANTITY_TOO_LOW',
          field: field('delta'),
          message: "The total quantity can't be lower than -1,000,000,000.",
        });
        return;
      }
      resolved.push({ level, delta, ledgerDocumentUri });
    });
    if (errors.length > 0) return { ok: false, userErrors: errors };

    const name = input.name as Exclude<QuantityName, 'on_hand'>;
    const changes: InventoryChangeRecord[] = [];
    const at = this.now();
    for (const { level, delta, ledgerDocumentUri } of resolved) {
      this.changeQuantity(level, name, delta);
      level.updatedAt = at;
      changes.push({
        name,
        delta,
        quantityAfterChange: level.quantities[name],
        itemId: level.itemId,
        locationId: level.locationId,
        ledgerDocumentUri,
      });
      if (name !== 'incoming') {
        changes.push({
          name: 'on_hand',
          delta,
          quantityAfterChange: onHand(level.quantities),
          itemId: level.itemId,
          locationId: level.locationId,
          ledgerDocumentUri,
        });
      }
    }
    return { ok: true, value: this.recordGroup(input.reason, input.referenceDocumentUri ?? null, changes, appName) };
  }

  /** The inventory item and location a mutation line names, or an error for the first unknown one. */
  private itemAtLocation(
    line: Record<string, unknown>,
    field: (name: string) => string[],
    errors: UserError[],
  ): { itemId: number; locationId: number } | null {
    const itemId = parseGid(line['inventoryItemId'] as string, 'InventoryItem');
    const locationId = parseGid(line['locationId'] as string, 'Location');
    if (itemId === null || !this.inventoryItems.has(itemId)) {
      errors.push({
        code: 'INVALID_INVENTORY_ITEM',
        field: field('inventoryItemId'),
        message: 'The specified inventory item could not be found.',
      });
      return null;
    }
    if (locationId === null || !this.locations.has(locationId)) {
      errors.push({
        code: 'INVALID_LOCATION',
        field: field('locationId'),
        message: 'The specified location could not be found.',
      });
      return null;
    }
    return { itemId, locationId };
  }

  private recordGroup(
    reason: string,
    referenceDocumentUri: string | null,
    changes: InventoryChangeRecord[],
    appName: string,
  ): InventoryAdjustmentGroup {
    const group: InventoryAdjustmentGroup = {
      id: this.nextId(),
      createdAt: this.now(),
      reason,
      referenceDocumentUri,
      changes,
      appName,
    };
    this.adjustmentGroups.push(group);
    return group;
  }
}

export function gid(type: string, id: number): string {
  return `gid://shopify/${type}/${id}`;
}

/** The numeric id of a GID of the given type, or null. */
export function parseGid(value: string | null | undefined, type: string): number | null {
  if (typeof value !== 'string') return null;
  const match = new RegExp(`^gid://shopify/${type}/(\\d+)(\\?.*)?$`).exec(value);
  return match ? Number(match[1]) : null;
}

/** A stable fingerprint of a mutation's variables, for idempotency-key checks. */
export function fingerprint(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}
