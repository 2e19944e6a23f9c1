// Gentle shop traffic for the demo: what customers do in a Shopify store, one event at a time.
// Online orders (standard, express, pickup at a store), POS sales at a counter (now and then with
// items shipped to the customer from elsewhere), returns brought to a store, and now and then a
// customer cancels an order, edits it (one more item, one unit fewer) or a line is refunded.
// Deterministic for a seed.
import { cancelOrder, editOrder, placeOrder, posSale, refund, unfulfilledQuantity, type SimOrder } from './orders.js';
import type { SimShop, SimVariant } from './state.js';

export interface TrafficEvent {
  /** `pos_ship`: a POS sale with items shipped to the customer; `return`: fulfilled units brought back to a store. */
  kind: 'online' | 'express' | 'pickup' | 'pos' | 'pos_ship' | 'cancel' | 'edit' | 'refund' | 'return';
  ok: boolean;
  orderId?: number;
  detail?: string;
}

export interface TrafficGenerator {
  /** One customer event. */
  step(): TrafficEvent;
  readonly counts: Record<TrafficEvent['kind'], number>;
}

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32: small and good enough for picking customers.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
}

// eslint-disable-next-line max-lines-per-function -- a factory: one closure per kind of customer event, over the same seeded random and counts
export function makeTrafficGenerator(shop: SimShop, seed: number): TrafficGenerator {
  const next = random(seed);
  const pick = <T>(list: T[]): T | undefined => list[Math.floor(next() * list.length)];
  const counts: TrafficGenerator['counts'] = {
    online: 0,
    express: 0,
    pickup: 0,
    pos: 0,
    pos_ship: 0,
    cancel: 0,
    edit: 0,
    refund: 0,
    return: 0,
  };
  const recent: SimOrder[] = [];
  /** Orders whose units may come back: recent online orders and counter sales. */
  const sold: SimOrder[] = [];
  const remember = (list: SimOrder[], order: SimOrder) => {
    list.push(order);
    if (list.length > 50) list.shift();
  };
  const activeStores = () => [...shop.locations.values()].filter((l) => l.kind === 'store' && l.isActive);

  const allVariants = [...shop.variants.values()];
  const hasStock = (v: SimVariant, locationId: number, atLeast: number) =>
    (shop.level(v.inventoryItemId, locationId)?.quantities.available ?? 0) >= atLeast;
  // A customer looks at a few products, not the whole catalogue: random tries first, a full scan
  // only when they find nothing (large catalogues stay cheap).
  const pickInStock = (locationId: number, atLeast: number): SimVariant | undefined => {
    for (let i = 0; i < 40; i++) {
      const v = pick(allVariants);
      if (v && hasStock(v, locationId, atLeast)) return v;
    }
    return pick(allVariants.filter((v) => hasStock(v, locationId, atLeast)));
  };

  function order(kind: 'online' | 'express' | 'pickup'): TrafficEvent {
    const stores = [...shop.locations.values()].filter((l) => l.kind === 'store' && l.isActive);
    const pickupStore = kind === 'pickup' ? pick(stores.filter((s) => s.pickupEnabled)) : undefined;
    const where = pickupStore?.id ?? [...shop.locations.values()].find((l) => l.fulfillsOnlineOrders && l.isActive)?.id;
    if (where === undefined) return { kind, ok: false, detail: 'no location takes these orders' };
    const first = pickInStock(where, 3);
    if (!first) return { kind, ok: false, detail: 'nothing in stock' };
    const lines = [{ variantId: first.id, quantity: 1 + Math.floor(next() * 2) }];
    const second = pickInStock(where, 3);
    if (second && second.id !== first.id && next() < 0.4) lines.push({ variantId: second.id, quantity: 1 });
    // A customer somewhere near one of the stores (routing prefers what is close).
    const near = pick(stores);
    const result = placeOrder(shop, {
      lines,
      shipping: kind === 'online' ? 'standard' : kind,
      ...(pickupStore ? { locationId: pickupStore.id } : {}),
      ...(near && kind !== 'pickup'
        ? { address: { ...near.address, firstName: 'Demo', lastName: `Customer ${shop.orders.size + 1}` } }
        : {}),
    });
    if (!result.ok) return { kind, ok: false, detail: result.userErrors[0]?.message ?? 'refused' };
    remember(recent, result.value);
    remember(sold, result.value);
    return { kind, ok: true, orderId: result.value.id };
  }

  function pos(): TrafficEvent {
    const store = pick([...shop.locations.values()].filter((l) => l.kind === 'store' && l.isActive));
    if (!store) return { kind: 'pos', ok: false, detail: 'no store' };
    const variant = pickInStock(store.id, 2);
    if (!variant) return { kind: 'pos', ok: false, detail: 'nothing on the shelf' };
    const result = posSale(shop, { locationId: store.id, lines: [{ variantId: variant.id, quantity: 1 }] });
    if (!result.ok) return { kind: 'pos', ok: false, detail: result.userErrors[0]?.message ?? 'refused' };
    remember(sold, result.value);
    return { kind: 'pos', ok: true, orderId: result.value.id };
  }

  /** At a store's counter, an item the store does not hold is shipped to the customer; sometimes they also take one home. */
  function posShip(): TrafficEvent {
    const stores = activeStores();
    const store = pick(stores);
    const from = [...shop.locations.values()].find((l) => l.fulfillsOnlineOrders && l.isActive);
    if (!store || !from) return { kind: 'pos_ship', ok: false, detail: 'no store or no location to ship from' };
    const shipped = pickInStock(from.id, 3);
    if (!shipped) return { kind: 'pos_ship', ok: false, detail: 'nothing to ship' };
    const taken = next() < 0.5 ? pickInStock(store.id, 2) : undefined;
    const near = pick(stores) ?? store;
    const result = posSale(shop, {
      locationId: store.id,
      lines: [
        ...(taken ? [{ variantId: taken.id, quantity: 1 }] : []),
        { variantId: shipped.id, quantity: 1, ship: true },
      ],
      shipTo: { ...near.address, firstName: 'Demo', lastName: `Customer ${shop.orders.size + 1}` },
    });
    if (!result.ok) return { kind: 'pos_ship', ok: false, detail: result.userErrors[0]?.message ?? 'refused' };
    remember(recent, result.value);
    return { kind: 'pos_ship', ok: true, orderId: result.value.id };
  }

  /** A customer brings a unit back to a store: mostly back on its shelf, sometimes refunded without restock (damaged). */
  function storeReturn(): TrafficEvent {
    const returnable = (o: SimOrder) =>
      o.lineItems.filter((l) => l.currentQuantity - unfulfilledQuantity(shop, o, l.id) > 0);
    const target = pick(sold.filter((o) => returnable(o).length > 0));
    const store = pick(activeStores());
    if (!target || !store) return { kind: 'return', ok: false, detail: 'nothing to return' };
    const line = pick(returnable(target))!;
    // A counter sale mostly comes back to the store that sold it.
    const to = target.retailLocationId !== null && next() < 0.7 ? target.retailLocationId : store.id;
    const restocked = next() < 0.85;
    const result = refund(shop, target.id, {
      lines: [
        restocked
          ? { lineItemId: line.id, quantity: 1, restockType: 'RETURN', locationId: to }
          : { lineItemId: line.id, quantity: 1, restockType: 'NO_RESTOCK' },
      ],
      note: restocked ? 'returned at a store' : 'returned damaged',
    });
    return result.ok
      ? { kind: 'return', ok: true, orderId: target.id }
      : { kind: 'return', ok: false, detail: result.userErrors[0]?.message ?? 'refused' };
  }

  function changeOfMind(kind: 'cancel' | 'edit' | 'refund'): TrafficEvent {
    const open = recent.filter(
      (o) => o.cancelledAt === null && o.lineItems.some((l) => unfulfilledQuantity(shop, o, l.id) > 0),
    );
    const target = pick(open);
    if (!target) return { kind, ok: false, detail: 'no open order' };
    if (kind === 'cancel') {
      const result = cancelOrder(shop, target.id, { reason: 'CUSTOMER', restock: true });
      return { kind, ok: result.ok, orderId: target.id };
    }
    const line = target.lineItems.find((l) => unfulfilledQuantity(shop, target, l.id) > 0)!;
    if (kind === 'edit') {
      // Through customer service: one more of something the order's location has, one unit fewer of a line with two.
      const where = [...shop.locations.values()].find((l) => l.fulfillsOnlineOrders && l.isActive)?.id;
      const extra = where === undefined || target.shippingLine?.code === 'pickup' ? undefined : pickInStock(where, 3);
      const fewer = target.lineItems.find((l) => unfulfilledQuantity(shop, target, l.id) >= 2);
      if (!extra && !fewer) return { kind, ok: false, detail: 'nothing to edit' };
      const result = editOrder(shop, target.id, {
        ...(extra ? { add: [{ variantId: extra.id, quantity: 1 }] } : {}),
        ...(fewer ? { remove: [{ lineItemId: fewer.id, quantity: 1 }] } : {}),
      });
      return { kind, ok: result.ok, orderId: target.id };
    }
    const result = refund(shop, target.id, {
      lines: [{ lineItemId: line.id, quantity: 1, restockType: 'CANCEL' }],
      note: 'customer changed their mind',
    });
    return { kind, ok: result.ok, orderId: target.id };
  }

  return {
    counts,
    step() {
      const roll = next();
      const event =
        roll < 0.48
          ? order('online')
          : roll < 0.58
            ? order('express')
            : roll < 0.72
              ? order('pickup')
              : roll < 0.86
                ? pos()
                : roll < 0.89
                  ? posShip()
                  : roll < 0.93
                    ? storeReturn()
                    : roll < 0.96
                      ? changeOfMind('cancel')
                      : roll < 0.98
                        ? changeOfMind('edit')
                        : changeOfMind('refund');
      if (event.ok) counts[event.kind] += 1;
      return event;
    },
  };
}
