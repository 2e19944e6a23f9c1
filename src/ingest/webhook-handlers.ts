// What each webhook topic does. Order bodies are applied as they are (no API cost) unless they lack
// something only the API has (a pickup order's store); order edits and refunds carry no full order,
// so the order is read from the API.
import { eq } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import type { Clock } from '../platform/clock.js';
import { applyOrderSnapshot } from '../domains/orders/index.js';
import { applyProductSnapshot, markProductDeleted, variantIdsOfInventoryItem } from '../domains/catalog/index.js';
import { markChanged } from '../domains/inventory/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import { orderFromPayload, productFromPayload } from '../shopify/mappers.js';
import { readOrder } from '../shopify/readers.js';
import { ShopInfo } from '../shopify/operations.js';
import { isAppError } from '../platform/errors.js';
import type { BulkFinishSignals } from '../shopify/bulk-runner.js';
import { shops } from './shop.schema.js';
import { shadowOf } from '../outbound/index.js';
import type { DeliveryHandler } from './inbox-processor.js';

/** How far Shopify's clock and Switchyard's may disagree, for comparing a level webhook's time with a confirmation. */
const LEVEL_CLOCK_MARGIN_MS = 1_000;

const orderGid = (id: unknown) =>
  typeof id === 'string' && id.startsWith('gid://') ? id : `gid://shopify/Order/${String(id)}`;

export function makeWebhookHandler(deps: {
  db: Db;
  clock: Clock;
  shopify: ShopifyClient;
  shop: string;
  bulkSignals?: BulkFinishSignals;
  onLevelChanged?: () => void;
}): DeliveryHandler {
  const { db, clock, shopify } = deps;

  async function refetchAndApply(id: string, source: string): Promise<string> {
    const snapshot = await readOrder(shopify, id);
    // An order deleted in Shopify since: nothing to apply.
    if (!snapshot) return 'order_not_found';
    return applyOrderSnapshot(db, snapshot, source, clock.now());
  }

  /** A level changed in Shopify: marked for the publisher to read, unless it is the echo of its own push or already confirmed. */
  async function levelChanged(payload: Record<string, unknown>): Promise<string> {
    // Shopify builds this body from the level's state when it sends it, so it is a "look again"
    // signal, not an event to apply: the publisher reads the level and reconciles it.
    const item = payload['inventory_item_id'];
    if (item === undefined || item === null) throw new Error('inventory_levels/update body has no inventory_item_id');
    const itemId = String(item).startsWith('gid://') ? String(item) : `gid://shopify/InventoryItem/${String(item)}`;
    const variantIds = await variantIdsOfInventoryItem(db, itemId);
    if (variantIds.length === 0) return 'unknown_inventory_item';
    // The echo of Switchyard's own push (Shopify shows what the shadow holds or what was just sent):
    // nothing to look at.
    const location = payload['location_id'];
    const locationId = String(location).startsWith('gid://')
      ? String(location)
      : `gid://shopify/Location/${String(location)}`;
    const shadow = await shadowOf(db, itemId, locationId);
    if (
      shadow &&
      typeof payload['available'] === 'number' &&
      (payload['available'] === shadow.available || payload['available'] === shadow.sent)
    )
      return 'level_as_published';
    // A change older than Shopify's last confirmation of this level (a read, or a compare-and-set
    // it accepted) is already in the shadow; a margin covers the two clocks.
    const changedAt = typeof payload['updated_at'] === 'string' ? Date.parse(payload['updated_at']) : Number.NaN;
    if (shadow && Number.isFinite(changedAt) && changedAt <= shadow.confirmedAt.getTime() - LEVEL_CLOCK_MARGIN_MS)
      return 'level_already_confirmed';
    await markChanged(db, variantIds, clock.now(), { needsRead: true, readAt: locationId });
    deps.onLevelChanged?.();
    return 'level_marked';
  }

  return async ({ topic, payload }) => {
    const source = `webhook:${topic}`;
    switch (topic) {
      case 'orders/create':
      case 'orders/updated':
      case 'orders/cancelled':
      case 'orders/fulfilled': {
        const { snapshot, needsLookup } = orderFromPayload(payload);
        if (needsLookup) return refetchAndApply(snapshot.shopifyOrderId, source);
        return applyOrderSnapshot(db, snapshot, source, clock.now());
      }
      case 'orders/edited': {
        const edit = payload['order_edit'] as { order_id?: unknown } | undefined;
        if (!edit?.order_id) throw new Error('orders/edited body has no order_edit.order_id');
        return refetchAndApply(orderGid(edit.order_id), source);
      }
      case 'refunds/create': {
        if (!payload['order_id']) throw new Error('refunds/create body has no order_id');
        return refetchAndApply(orderGid(payload['order_id']), source);
      }
      case 'products/create':
      case 'products/update':
        return applyProductSnapshot(db, productFromPayload(payload), clock.now());
      case 'products/delete': {
        const id = payload['admin_graphql_api_id'] ?? `gid://shopify/Product/${String(payload['id'])}`;
        return (await markProductDeleted(db, String(id), clock.now())) ? 'deleted' : 'unknown_product';
      }
      case 'inventory_levels/update':
        return levelChanged(payload);
      case 'bulk_operations/finish':
        // Wakes a bulk runner of this process that waits for it (others poll).
        deps.bulkSignals?.notify(String(payload['admin_graphql_api_id']));
        return 'bulk_finished';
      case 'app/uninstalled': {
        // Destructive, and its signature covers only the body, which any old shop body of this app
        // also has: believe it only when Shopify itself refuses the app's token.
        try {
          await shopify.request(ShopInfo, {});
        } catch (error) {
          // Refused outright, or refused a new token (`invalid_grant`: the app is not installed). A
          // token endpoint that is down, or a wrong secret, proves nothing: tried again later.
          const refused =
            isAppError(error) &&
            (error.code === 'shopify.unauthorized' ||
              (error.code === 'shopify.credentials_unavailable' && error.details['reason'] === 'invalid_grant'));
          if (!refused) throw error;
          await db
            .update(shops)
            .set({ status: 'uninstalled', updatedAt: clock.now() })
            .where(eq(shops.domain, deps.shop));
          return 'uninstalled';
        }
        return 'uninstall_not_confirmed';
      }
      default:
        throw new Error(`No handler for topic ${topic}`);
    }
  };
}
