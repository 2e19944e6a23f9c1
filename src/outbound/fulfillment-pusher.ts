// Tells Shopify about shipments and pickups, exactly once, and imports fulfilments made in Shopify.
//
// One worker handles an order at a time (a lease on its fulfillment_sync row). For each order it reads
// Shopify's fulfilments and fulfilment orders once, then:
//   1. settles pushes left `sending` (a crash or a lost answer): a fulfilment Shopify shows that did
//      not exist before the call and has exactly the shipment's lines is ours → confirmed; none → the
//      call did not apply → sent again. fulfillmentCreate has no idempotency key, so this check is
//      what keeps a retry from making a second fulfilment;
//   2. sends pending pushes in order (a pickup's "prepared" before its fulfilment), recording the
//      intent (`sending`, with the fulfilments that existed) before each call;
//   3. when asked (`check`), imports Shopify's fulfilments Switchyard does not account for.
import type { Db } from '../platform/db/client.js';
import { isGoneLocalProcess, THIS_PROCESS } from '../platform/processes.js';
import type { Logger } from '../platform/logger.js';
import type { JobContext } from '../platform/jobs/job.types.js';
import {
  claimSyncOrders,
  confirmPush,
  failPush,
  markPending,
  recordBeyondOwed,
  fulfillmentSettings,
  importShopifyFulfillment,
  recordFulfillmentOrderMove,
  logPush,
  markSending,
  noteError,
  orderSyncState,
  releaseLeasesOf,
  releaseSync,
  renewSyncLease,
  syncLeaseHolders,
  type PushWork,
  type SyncClaim,
} from '../domains/fulfillment/index.js';
import type { ShopifyClient } from '../shopify/client.js';
import {
  FulfillmentCreate,
  FulfillmentOrderMove,
  OrderFulfillmentState,
  PreparedForPickup,
  type FulfillmentNode,
  type FulfillmentOrderNode,
} from '../shopify/operations.js';
import { isAppError } from '../platform/errors.js';
import { explainOnHandDrop } from './shadow.js';

export interface FulfillmentPusherDeps {
  db: Db;
  shopify: ShopifyClient;
  log: Logger;
  now: () => Date;
}

type OrderState = { fulfillments: FulfillmentNode[]; fulfillmentOrders: { nodes: FulfillmentOrderNode[] } };

const linesOf = (f: FulfillmentNode) => new Map(f.fulfillmentLineItems.nodes.map((n) => [n.lineItem.id, n.quantity]));

function sameLines(f: FulfillmentNode, push: PushWork): boolean {
  const theirs = linesOf(f);
  const ours = new Map<string, number>();
  for (const l of push.lines) ours.set(l.shopifyLineItemId, (ours.get(l.shopifyLineItemId) ?? 0) + l.quantity);
  if (theirs.size !== ours.size) return false;
  for (const [id, q] of ours) if (theirs.get(id) !== q) return false;
  return true;
}

/**
 * The fulfilment orders' line items that cover a shipment, grouped by fulfilment order; all at one
 * location (Shopify's rule for one fulfilment). Null, with the reason, when Shopify has too few
 * units left to fulfil.
 */
function planFulfillment(
  fos: FulfillmentOrderNode[],
  push: PushWork,
):
  | {
      plan: Array<{ fulfillmentOrderId: string; fulfillmentOrderLineItems: Array<{ id: string; quantity: number }> }>;
      locationId: string | null;
    }
  | { error: string } {
  const open = fos.filter((fo) => fo.status === 'OPEN' || fo.status === 'IN_PROGRESS');
  const locations = [...new Set(open.map((fo) => fo.assignedLocation.location?.id ?? null))];
  // Prefer the shipment's own location when a fulfilment order sits there, else the others in turn.
  locations.sort((a, b) => Number(b === push.facilityLocationId) - Number(a === push.facilityLocationId));
  let lastError = 'Shopify has no open fulfilment order for this order.';
  for (const location of locations) {
    const remaining = new Map<string, number>();
    const byFo = new Map<string, Array<{ id: string; quantity: number }>>();
    let short: string | null = null;
    for (const l of push.lines) {
      let need = l.quantity;
      for (const fo of open.filter((f) => (f.assignedLocation.location?.id ?? null) === location)) {
        for (const item of fo.lineItems.nodes.filter((n) => n.lineItem.id === l.shopifyLineItemId)) {
          const left = remaining.get(item.id) ?? item.remainingQuantity;
          const take = Math.min(left, need);
          if (take <= 0) continue;
          remaining.set(item.id, left - take);
          need -= take;
          byFo.set(fo.id, [...(byFo.get(fo.id) ?? []), { id: item.id, quantity: take }]);
        }
      }
      if (need > 0)
        short = `Shopify has ${l.quantity - need} of ${l.quantity} unit(s) of line ${l.shopifyLineItemId} left to fulfil at ${location ?? 'its location'}.`;
    }
    if (!short)
      return {
        plan: [...byFo].map(([fulfillmentOrderId, fulfillmentOrderLineItems]) => ({
          fulfillmentOrderId,
          fulfillmentOrderLineItems,
        })),
        locationId: location,
      };
    lastError = short;
  }
  return { error: lastError };
}

/** Fulfilment orders whose units Shopify still owes the customer (open, in progress, held or scheduled). */
const OWING_STATUSES = new Set(['OPEN', 'IN_PROGRESS', 'ON_HOLD', 'SCHEDULED']);

/**
 * Units of the push Shopify no longer owes: per line, those beyond the remaining quantity of the
 * order's fulfilment orders that still owe anything (the order was edited or refunded after the
 * units were picked, and the change reached Switchyard too late).
 */
export function unitsBeyondOwed(
  fos: FulfillmentOrderNode[],
  push: PushWork,
): Array<{ orderLineId: number; quantity: number }> {
  const owed = new Map<string, number>();
  for (const fo of fos.filter((f) => OWING_STATUSES.has(f.status))) {
    for (const item of fo.lineItems.nodes)
      owed.set(item.lineItem.id, (owed.get(item.lineItem.id) ?? 0) + item.remainingQuantity);
  }
  const beyond: Array<{ orderLineId: number; quantity: number }> = [];
  for (const l of push.lines) {
    const left = owed.get(l.shopifyLineItemId) ?? 0;
    const take = Math.min(left, l.quantity);
    owed.set(l.shopifyLineItemId, left - take);
    if (l.quantity > take) beyond.push({ orderLineId: l.orderLineId, quantity: l.quantity - take });
  }
  return beyond;
}

/**
 * The moves that bring a shipment's units to its facility's location: for each line, the units not
 * yet in an open fulfilment order there, taken from open fulfilment orders elsewhere. Computed from
 * Shopify's present state each time, so a move that applied without an answer is not repeated.
 */
function plannedMoves(
  fos: FulfillmentOrderNode[],
  push: PushWork,
): Map<string, Array<{ id: string; quantity: number }>> {
  const target = push.facilityLocationId;
  const moves = new Map<string, Array<{ id: string; quantity: number }>>();
  const open = fos.filter((fo) => fo.status === 'OPEN' || fo.status === 'IN_PROGRESS');
  for (const l of push.lines) {
    const there = open
      .filter((fo) => fo.assignedLocation.location?.id === target)
      .flatMap((fo) => fo.lineItems.nodes.filter((n) => n.lineItem.id === l.shopifyLineItemId))
      .reduce((sum, n) => sum + n.remainingQuantity, 0);
    let need = l.quantity - there;
    // Only an OPEN fulfilment order can move (one in progress stays where it is).
    for (const fo of open.filter((f) => f.status === 'OPEN' && f.assignedLocation.location?.id !== target)) {
      for (const item of fo.lineItems.nodes.filter(
        (n) => n.lineItem.id === l.shopifyLineItemId && n.remainingQuantity > 0,
      )) {
        if (need <= 0) break;
        const take = Math.min(need, item.remainingQuantity);
        moves.set(fo.id, [...(moves.get(fo.id) ?? []), { id: item.id, quantity: take }]);
        need -= take;
      }
    }
  }
  return moves;
}

/** The order's claim ran out (this worker stalled): another worker owns it now; touch nothing. */
class ClaimLost extends Error {}

async function keepClaim(db: Db, claim: SyncClaim, now: Date): Promise<void> {
  if (!(await renewSyncLease(db, claim, now))) throw new ClaimLost(`the claim on order ${claim.orderId} ran out`);
}

type SyncOutcome = { done: true } | { done: false; retryAt: Date };

/** One order's sync under way: Shopify's state of the order as last read, and the pushes settled so far. */
interface OrderSync {
  deps: FulfillmentPusherDeps;
  claim: SyncClaim;
  order: OrderState;
  known: Set<string>;
  settings: Awaited<ReturnType<typeof fulfillmentSettings>>;
  pushes: PushWork[];
  settled: Set<number>;
  read: () => Promise<OrderState | null>;
  retryLater: (ms: number) => SyncOutcome;
}

/** Syncs one order; returns when to come back if something is left. */
export async function syncOrder(
  deps: FulfillmentPusherDeps,
  claim: SyncClaim,
): Promise<{ done: true } | { done: false; retryAt: Date }> {
  const { db, shopify, now } = deps;
  const state = await orderSyncState(db, claim.orderId);
  if (!state || (state.pushes.length === 0 && !claim.check)) return { done: true };
  const retryLater = (ms: number) => ({ done: false as const, retryAt: new Date(now().getTime() + ms) });

  const read = async () => {
    const data = await shopify.request(OrderFulfillmentState, { id: state.shopifyOrderId });
    return data.order satisfies OrderState | null;
  };
  const order = await read();
  if (!order) {
    for (const p of state.pushes) await failPush(db, p.id, `Shopify has no order ${state.shopifyOrderId}.`);
    return { done: true };
  }
  const known = state.knownFulfillmentIds;
  const settings = await fulfillmentSettings(db);
  const sync: OrderSync = {
    deps,
    claim,
    order,
    known,
    settings,
    pushes: [...state.pushes],
    settled: new Set<number>(),
    read,
    retryLater,
  };

  // 1. Calls whose outcome is unknown: did Shopify apply them?
  await settleUnknownPushes(sync);
  // 2. Send what is pending, in order.
  const retry = await sendPendingPushes(sync);
  if (retry) return retry;
  // 3. Fulfilments made in Shopify itself.
  if (claim.check) return importShopifyFulfilments(sync);
  return { done: true };
}

// One transaction: a worker killed between the confirmation and the base move would leave the
// fulfilment's drop of Shopify's on hand looking like a sale still on its way (units held back).
async function confirm(
  sync: OrderSync,
  push: PushWork,
  fulfillment: FulfillmentNode | { id: string; createdAt: string; location: { id: string } | null } | null,
  outcome: string,
  request: Record<string, unknown>,
  response: Record<string, unknown>,
  ms: number,
): Promise<void> {
  const { db, now } = sync.deps;
  await db.transaction(async (tx) => {
    const confirmed = await confirmPush(tx, push, fulfillment?.id ?? null, now());
    await logPush(tx, push.id, outcome, request, response, ms, now());
    if (confirmed && fulfillment)
      await explainOnHandDrop(tx, fulfillment.location?.id ?? null, new Date(fulfillment.createdAt), push.lines);
  });
  if (fulfillment) sync.known.add(fulfillment.id);
  sync.settled.add(push.id);
}

/** Pushes left `sending`: confirmed when Shopify shows their effect, else pending again. */
async function settleUnknownPushes(sync: OrderSync): Promise<void> {
  const { db, now } = sync.deps;
  const { order, known } = sync;
  const successful = () => order.fulfillments.filter((f) => f.status === 'SUCCESS');
  for (const push of sync.pushes.filter((p) => p.status === 'sending')) {
    if (push.action === 'fulfil') {
      const mine = successful().find(
        (f) => !known.has(f.id) && !push.fulfillmentsBefore.includes(f.id) && sameLines(f, push),
      );
      if (mine) {
        await confirm(sync, push, mine, 'found_existing', {}, { fulfillmentId: mine.id }, 0);
        continue;
      }
    } else {
      const pickupFos = order.fulfillmentOrders.nodes.filter((fo) => fo.deliveryMethod?.methodType === 'PICK_UP');
      if (pickupFos.length > 0 && pickupFos.every((fo) => fo.status === 'IN_PROGRESS' || fo.status === 'CLOSED')) {
        await confirm(
          sync,
          push,
          null,
          'found_existing',
          {},
          { fulfillmentOrders: pickupFos.map((fo) => ({ id: fo.id, status: fo.status })) },
          0,
        );
        continue;
      }
    }
    await logPush(db, push.id, 'not_applied', {}, { fulfillments: order.fulfillments.map((f) => f.id) }, 0, now());
    // Pending again in the database too: what is decided about it next (units beyond owed) is recorded.
    await markPending(db, push.id);
    push.status = 'pending';
  }
}

/** Sends the pending pushes in order; returns when to come back if one must wait or got no answer. */
async function sendPendingPushes(sync: OrderSync): Promise<SyncOutcome | undefined> {
  const { db, now } = sync.deps;
  const { pushes, settled } = sync;
  for (const push of pushes) {
    if (settled.has(push.id) || push.status !== 'pending') continue;
    // A pickup's fulfilment waits until Shopify knows it was prepared (the customer's notice first).
    if (
      push.action === 'fulfil' &&
      push.kind === 'pickup' &&
      pushes.some((p) => p.shipmentId === push.shipmentId && p.action === 'prepare_pickup' && !settled.has(p.id))
    ) {
      await logPush(db, push.id, 'waiting', {}, { for: 'prepared for pickup' }, 0, now());
      return sync.retryLater(5_000);
    }
    const retry =
      push.action === 'prepare_pickup' ? await sendPreparedForPickup(sync, push) : await sendFulfilment(sync, push);
    if (retry) return retry;
  }
  return undefined;
}

/** Tells Shopify a pickup is ready; returns when to come back if the call got no answer. */
async function sendPreparedForPickup(sync: OrderSync, push: PushWork): Promise<SyncOutcome | undefined> {
  const { db, shopify, now } = sync.deps;
  const { order, claim } = sync;
  const fos = order.fulfillmentOrders.nodes.filter(
    (fo) => fo.deliveryMethod?.methodType === 'PICK_UP' && (fo.status === 'OPEN' || fo.status === 'IN_PROGRESS'),
  );
  if (fos.length === 0) {
    await failPush(db, push.id, 'Shopify has no open pickup fulfilment order for this order.');
    await logPush(
      db,
      push.id,
      'refused',
      {},
      {
        fulfillmentOrders: order.fulfillmentOrders.nodes.map((fo) => ({
          id: fo.id,
          status: fo.status,
          method: fo.deliveryMethod?.methodType,
        })),
      },
      0,
      now(),
    );
    sync.settled.add(push.id);
    return undefined;
  }
  const input = { lineItemsByFulfillmentOrder: fos.map((fo) => ({ fulfillmentOrderId: fo.id })) };
  await keepClaim(db, claim, now());
  await markSending(db, push.id, [], now());
  const started = performance.now();
  try {
    const result = await shopify.request(PreparedForPickup, { input });
    const errors = result.fulfillmentOrderLineItemsPreparedForPickup.userErrors;
    if (errors.length > 0) {
      await failPush(db, push.id, errors.map((e) => e.message).join('; '));
      await logPush(db, push.id, 'refused', input, { userErrors: errors }, performance.now() - started, now());
      sync.settled.add(push.id);
      return undefined;
    }
    await confirm(sync, push, null, 'created', input, {}, performance.now() - started);
  } catch (error) {
    // Marking ready twice is harmless to the order, but the next run checks first anyway.
    await noteError(db, push.id, error instanceof Error ? error.message : String(error));
    await logPush(
      db,
      push.id,
      'unknown',
      input,
      { error: error instanceof Error ? error.message : String(error) },
      performance.now() - started,
      now(),
    );
    return sync.retryLater(5_000);
  }
  return undefined;
}

/** Creates a shipment's or pickup's fulfilment in Shopify; returns when to come back if a call got no answer. */
async function sendFulfilment(sync: OrderSync, push: PushWork): Promise<SyncOutcome | undefined> {
  const { db, shopify, log, now } = sync.deps;
  const { claim, settings, pushes, settled } = sync;
  // Units Shopify no longer owes left with the parcel: Shopify hears of the rest; these are recorded.
  const beyond = unitsBeyondOwed(sync.order.fulfillmentOrders.nodes, push);
  if (beyond.length > 0) {
    await recordBeyondOwed(db, push, beyond, now());
    await logPush(db, push.id, 'beyond_owed', {}, { units: beyond }, 0, now());
    log.warn(
      { orderId: claim.orderId, shipmentId: push.shipmentId, units: beyond },
      'units shipped beyond what Shopify still owed; recorded on the shipment',
    );
    if (push.lines.length === 0) {
      await confirm(sync, push, null, 'nothing_owed', {}, { beyondOwed: beyond }, 0);
      return undefined;
    }
  }

  const moving = await moveToFacility(sync, push);
  if ('done' in moving) return moving;
  const { moved } = moving;
  const planned = planFulfillment(sync.order.fulfillmentOrders.nodes, push);
  // Where Shopify holds these units decides which location's committed figure they are in: record
  // a move made now, or one an earlier attempt made without hearing the answer.
  const atFacility = moved || (!('error' in planned) && planned.locationId === push.facilityLocationId);
  if (
    settings.fulfillmentOrderLocation === 'move' &&
    atFacility &&
    push.lines.some((l) => l.fulfillmentFacilityId !== push.facilityId)
  ) {
    await recordFulfillmentOrderMove(db, push, now());
  }
  if ('error' in planned) {
    await failPush(db, push.id, planned.error);
    await logPush(db, push.id, 'refused', {}, { error: planned.error }, 0, now());
    settled.add(push.id);
    return undefined;
  }
  const input = {
    lineItemsByFulfillmentOrder: planned.plan,
    notifyCustomer: push.notifyCustomer,
    ...(push.tracking ? { trackingInfo: push.tracking } : {}),
  };
  // The claim must outlast the call: if it was lost, another worker owns the order now.
  await keepClaim(db, claim, now());
  await markSending(
    db,
    push.id,
    sync.order.fulfillments.map((f) => f.id),
    now(),
  );
  const started = performance.now();
  try {
    const result = await shopify.request(FulfillmentCreate, { fulfillment: input, message: null });
    const { fulfillment, userErrors } = result.fulfillmentCreate;
    if (!fulfillment || userErrors.length > 0) {
      const message = userErrors.map((e) => e.message).join('; ') || 'Shopify created no fulfilment.';
      await failPush(db, push.id, message);
      await logPush(db, push.id, 'refused', input, { userErrors }, performance.now() - started, now());
      settled.add(push.id);
      return undefined;
    }
    await confirm(
      sync,
      push,
      fulfillment,
      'created',
      input,
      { fulfillmentId: fulfillment.id },
      performance.now() - started,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await noteError(db, push.id, message);
    await logPush(
      db,
      push.id,
      isAppError(error) && error.code === 'shopify.outcome_unknown' ? 'unknown' : 'error',
      input,
      { error: message },
      performance.now() - started,
      now(),
    );
    log.warn(
      { orderId: claim.orderId, pushId: push.id, err: error },
      'fulfilment push got no answer; Shopify is checked before it is sent again',
    );
    return sync.retryLater(5_000);
  }
  // Shopify's remaining quantities moved: read again before the next push of this order.
  if (pushes.some((p) => !settled.has(p.id) && p.status === 'pending')) sync.order = (await sync.read()) ?? sync.order;
  return undefined;
}

/**
 * Setting `move`: the fulfilment order goes to the routed facility's location first. Says whether a
 * move applied (Shopify's state then read again), or when to come back if a move got no answer.
 */
async function moveToFacility(sync: OrderSync, push: PushWork): Promise<{ moved: boolean } | SyncOutcome> {
  const { db, shopify, now } = sync.deps;
  let moved = false;
  if (sync.settings.fulfillmentOrderLocation === 'move' && push.kind === 'ship' && push.facilityLocationId) {
    const moves = plannedMoves(sync.order.fulfillmentOrders.nodes, push);
    for (const [fulfillmentOrderId, lines] of moves) {
      await keepClaim(db, sync.claim, now());
      const request = {
        id: fulfillmentOrderId,
        newLocationId: push.facilityLocationId,
        fulfillmentOrderLineItems: lines,
      };
      const started = performance.now();
      try {
        const result = await shopify.request(FulfillmentOrderMove, request);
        const errors = result.fulfillmentOrderMove.userErrors;
        await logPush(
          db,
          push.id,
          errors.length > 0 ? 'move_refused' : 'moved',
          request,
          errors.length > 0
            ? { userErrors: errors }
            : { moved: result.fulfillmentOrderMove.movedFulfillmentOrder?.id ?? null },
          performance.now() - started,
          now(),
        );
        // Refused (the location does not stock the item, say): fulfilled where it is.
        if (errors.length === 0) moved = true;
      } catch (error) {
        await logPush(
          db,
          push.id,
          'unknown',
          request,
          { error: error instanceof Error ? error.message : String(error) },
          performance.now() - started,
          now(),
        );
        return sync.retryLater(5_000);
      }
    }
    if (moved) sync.order = (await sync.read()) ?? sync.order;
  }
  return { moved };
}

/** Imports the fulfilments made in Shopify itself, once every push of the order is settled. */
async function importShopifyFulfilments(sync: OrderSync): Promise<SyncOutcome> {
  const { db, log, now } = sync.deps;
  const { claim, known } = sync;
  if (sync.pushes.some((p) => !sync.settled.has(p.id))) return sync.retryLater(5_000);
  const order = (await sync.read()) ?? sync.order;
  sync.order = order;
  for (const f of order.fulfillments.filter((x) => x.status === 'SUCCESS' && !known.has(x.id))) {
    const lines = f.fulfillmentLineItems.nodes.map((n) => ({ shopifyLineItemId: n.lineItem.id, quantity: n.quantity }));
    // The import and the base move together, as in `confirm`.
    const left = await db.transaction(async (tx) => {
      const units = await importShopifyFulfillment(
        tx,
        {
          orderId: claim.orderId,
          fulfillmentId: f.id,
          locationId: f.location?.id ?? null,
          createdAt: new Date(f.createdAt),
          tracking: f.trackingInfo[0] ?? null,
          lines,
        },
        now(),
      );
      if (units) await explainOnHandDrop(tx, f.location?.id ?? null, new Date(f.createdAt), units);
      return units;
    });
    if (left) log.info({ orderId: claim.orderId, fulfillmentId: f.id }, 'imported a fulfilment made in Shopify');
  }
  return { done: true };
}

/** Orders synced with Shopify at the same time by one run (they wait on Shopify, not the CPU). */
const PUSH_LANES = 4;

/** One push run: every order with fulfilment work to tell Shopify, a few side by side. */
export async function pushFulfilments(ctx: JobContext, shopify: ShopifyClient): Promise<void> {
  // Orders a killed process of this machine was syncing are free at once (others wait for the lease).
  for (const holder of await syncLeaseHolders(ctx.db, ctx.clock.now())) {
    if (isGoneLocalProcess(holder)) ctx.count('leases_freed', await releaseLeasesOf(ctx.db, holder));
  }
  // Several orders side by side (each under its own claim, its calls in order); each lane takes
  // one order at a time, so a crash leaves at most one order per lane waiting for its lease.
  const lane = async () => {
    while (!ctx.signal.aborted) {
      const claims = await claimSyncOrders(ctx.db, ctx.clock.now(), 1, THIS_PROCESS);
      if (claims.length === 0) return;
      // One is asked for; any other given back at once rather than left leased and unworked.
      for (const extra of claims.slice(1)) await releaseSync(ctx.db, extra, { done: false, retryAt: ctx.clock.now() });
      const claim = claims[0]!;
      try {
        const outcome = await syncOrder({ db: ctx.db, shopify, log: ctx.log, now: () => ctx.clock.now() }, claim);
        await releaseSync(ctx.db, claim, outcome);
        ctx.count(outcome.done ? 'orders' : 'orders_retry', 1);
      } catch (error) {
        if (error instanceof ClaimLost) {
          ctx.log.warn({ orderId: claim.orderId }, error.message);
          continue;
        }
        await releaseSync(ctx.db, claim, { done: false, retryAt: new Date(ctx.clock.now().getTime() + 30_000) });
        ctx.count('orders_failed', 1);
        ctx.log.warn({ orderId: claim.orderId, err: error }, 'fulfilment sync failed; will retry');
      }
    }
  };
  // Every lane ends before the run does, even when one fails: a lane left running after its run
  // ended would hold its order's claim with no run to show for it.
  const lanes = await Promise.allSettled(Array.from({ length: PUSH_LANES }, lane));
  const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason;
}
