// Webhook delivery as Shopify does it: a POST per subscription with the X-Shopify-* headers and a
// base64 HMAC-SHA256 of the raw body; non-2xx, errors and timeouts are retried (8 tries over about
// 4 hours; the time scale is configurable so a test lives through those hours in seconds). Fault
// injection per shop: dropped, duplicated, delayed (and so reordered) deliveries.
import { createHmac, randomUUID } from 'node:crypto';
import { buildPayload } from './payloads.js';
import { enumToTopic, topicToEnum, type ShopEvent, type SimShop } from './state.js';
import type { Random } from './seed.js';

/** Delay before each retry, in real-world seconds (Shopify: 8 tries within 4 hours). */
export const RETRY_DELAYS_SECONDS = [10, 30, 60, 300, 900, 1800, 3600, 7200];
export const DELIVERY_TIMEOUT_MS = 5_000;
/**
 * Deliveries in flight at once per shop. Shopify does not publish its figure; an unbounded number
 * is also wrong for the process hosting the simulator: a burst of thousands of requests makes
 * Node's fetch pool scan every open connection on each request (quadratic CPU), which starved the
 * receiving service in the same process for minutes, and the requests then timed out and retried.
 */
export const MAX_DELIVERIES_IN_FLIGHT = 16;

export interface WebhookFaults {
  /** Share of deliveries never sent (lost). */
  dropRate: number;
  /** Share of deliveries sent twice with the same webhook id. */
  duplicateRate: number;
  /** Each delivery waits a random 0..maxDelayMs first, which also reorders them. */
  maxDelayMs: number;
}

export const NO_WEBHOOK_FAULTS: WebhookFaults = { dropRate: 0, duplicateRate: 0, maxDelayMs: 0 };

export interface WebhookStats {
  events: number;
  deliveries: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  failedAttempts: number;
  abandoned: number;
}

export interface DeliveryRecord {
  webhookId: string;
  topic: string;
  uri: string;
  status: 'pending' | 'delivered' | 'dropped' | 'abandoned';
  attempts: number;
  payload: Record<string, unknown>;
}

export interface WebhookDispatcher {
  faults: WebhookFaults;
  stats: WebhookStats;
  log: DeliveryRecord[];
  /** Resolves when no delivery is pending or waiting for a retry. */
  idle(): Promise<void>;
  stop(): void;
}

// eslint-disable-next-line max-lines-per-function -- a factory: the dispatcher's queue, delivery and retry are closures over the same queue and timers
export function startWebhookDispatcher(options: {
  shop: SimShop;
  apiVersion: string;
  secretOf: (appToken: string) => string | undefined;
  random: Random;
  /** Multiplies retry delays: 1 = real time, 0.001 = 4 hours in about 14 s. */
  timeScale: number;
}): WebhookDispatcher {
  const { shop } = options;
  const stats: WebhookStats = {
    events: 0,
    deliveries: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    failedAttempts: 0,
    abandoned: 0,
  };
  const log: DeliveryRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let pending = 0;
  let waiters: Array<() => void> = [];
  let stopped = false;
  let inFlight = 0;
  const waitingToSend: Array<() => void> = [];
  const dispatcher: WebhookDispatcher = {
    faults: { ...NO_WEBHOOK_FAULTS },
    stats,
    log,
    idle: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      pending = 0;
      for (const wake of waitingToSend.splice(0)) wake();
      settle();
    },
  };

  function settle() {
    if (pending === 0) {
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    }
  }

  function later(ms: number, run: () => void) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  }

  async function attempt(record: DeliveryRecord, body: string, headers: Record<string, string>): Promise<void> {
    if (stopped) return;
    if (inFlight >= MAX_DELIVERIES_IN_FLIGHT) await new Promise<void>((resolve) => waitingToSend.push(resolve));
    if (stopped) return;
    inFlight += 1;
    record.attempts += 1;
    let ok = false;
    try {
      const response = await fetch(record.uri, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      ok = response.status >= 200 && response.status < 300;
    } catch {
      ok = false;
    } finally {
      inFlight -= 1;
      waitingToSend.shift()?.();
    }
    if (ok) {
      record.status = 'delivered';
      stats.delivered += 1;
      pending -= 1;
      settle();
      return;
    }
    stats.failedAttempts += 1;
    const delay = RETRY_DELAYS_SECONDS[record.attempts - 1];
    if (delay === undefined || stopped) {
      record.status = 'abandoned';
      stats.abandoned += 1;
      pending -= 1;
      settle();
      return;
    }
    later(delay * 1000 * options.timeScale, () => void attempt(record, body, headers));
  }

  function deliver(event: ShopEvent, subscription: { topic: string; uri: string; appToken: string }) {
    const secret = options.secretOf(subscription.appToken);
    if (!secret) return;
    const topic = enumToTopic(subscription.topic);
    const payload = buildPayload(shop, event);
    const body = JSON.stringify(payload);
    const webhookId = randomUUID();
    const triggeredAt = shop.now().toISOString();
    const headers = {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body, 'utf8').digest('base64'),
      'x-shopify-shop-domain': shop.domain,
      'x-shopify-api-version': options.apiVersion,
      'x-shopify-webhook-id': webhookId,
      'x-shopify-event-id': randomUUID(),
      'x-shopify-triggered-at': triggeredAt,
    };
    const faults = dispatcher.faults;
    const record: DeliveryRecord = { webhookId, topic, uri: subscription.uri, status: 'pending', attempts: 0, payload };
    log.push(record);
    stats.deliveries += 1;
    if (faults.dropRate > 0 && options.random.chance(faults.dropRate)) {
      record.status = 'dropped';
      stats.dropped += 1;
      return;
    }
    const copies = faults.duplicateRate > 0 && options.random.chance(faults.duplicateRate) ? 2 : 1;
    if (copies === 2) stats.duplicated += 1;
    for (let copy = 0; copy < copies; copy++) {
      const target = copy === 0 ? record : { ...record, attempts: 0 };
      if (copy > 0) log.push(target);
      pending += 1;
      const wait = faults.maxDelayMs > 0 ? Math.floor(options.random.next() * faults.maxDelayMs) : 0;
      later(wait, () => void attempt(target, body, headers));
    }
  }

  shop.listeners.push((event) => {
    if (stopped) return;
    stats.events += 1;
    const enumTopic = topicToEnum(event.topic);
    for (const subscription of shop.webhookSubscriptions.values()) {
      if (subscription.topic !== enumTopic) continue;
      if (event.resource === 'app' && subscription.appToken !== event.appToken) continue;
      deliver(event, subscription);
    }
  });
  return dispatcher;
}
