// The merchant's fulfilment settings: one JSON value in `settings` under `fulfillment`.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { invalid } from '../../platform/errors.js';
import { writeSetting } from '../../platform/settings.js';

export interface FulfillmentSettings {
  /** Shopify emails the customer when a parcel ships (a shipment may say otherwise). */
  notifyCustomer: boolean;
  /** Where Shopify's fulfilment orders live: `keep` (where Shopify put them) or `move` (to the facility Switchyard routed to). */
  fulfillmentOrderLocation: 'keep' | 'move';
  /** Days a prepared pickup waits for its customer. */
  pickupExpiryDays: number;
  /**
   * What happens to a pickup nobody collected: `cancel_restock` cancels the units in Shopify with
   * restock (Shopify puts them back in its available); `cancel_return_to_stock` cancels them in
   * Shopify without restock and Switchyard, which counted them on its shelf all along, publishes
   * them again. Either way the units go back on the shelf.
   */
  pickupExpiryAction: 'cancel_restock' | 'cancel_return_to_stock';
}

export const DEFAULT_FULFILLMENT_SETTINGS: FulfillmentSettings = {
  notifyCustomer: true,
  fulfillmentOrderLocation: 'keep',
  pickupExpiryDays: 7,
  pickupExpiryAction: 'cancel_restock',
};

const KEY = 'fulfillment';

export async function fulfillmentSettings(db: Db): Promise<FulfillmentSettings> {
  const [row] = await queryRows<{ value: Partial<FulfillmentSettings> }>(
    db,
    sql`select value from settings where key = ${KEY}`,
  );
  return { ...DEFAULT_FULFILLMENT_SETTINGS, ...(row?.value ?? {}) };
}

/** Changes some settings; every problem is reported at once and nothing is saved if there is one. */
export async function updateFulfillmentSettings(
  db: Db,
  change: Record<string, unknown>,
  by: string,
  now: Date,
): Promise<FulfillmentSettings> {
  const problems: Array<{ path: string; message: string }> = [];
  const known = Object.keys(DEFAULT_FULFILLMENT_SETTINGS);
  for (const key of Object.keys(change))
    if (!known.includes(key)) problems.push({ path: key, message: `unknown setting; known: ${known.join(', ')}` });
  if ('notifyCustomer' in change && typeof change['notifyCustomer'] !== 'boolean')
    problems.push({ path: 'notifyCustomer', message: 'must be true or false' });
  if (
    'fulfillmentOrderLocation' in change &&
    !['keep', 'move'].includes(change['fulfillmentOrderLocation'] as string)
  ) {
    problems.push({ path: 'fulfillmentOrderLocation', message: 'must be "keep" or "move"' });
  }
  if ('pickupExpiryDays' in change) {
    const days = change['pickupExpiryDays'];
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 90)
      problems.push({ path: 'pickupExpiryDays', message: 'must be a whole number of days from 1 to 90' });
  }
  if (
    'pickupExpiryAction' in change &&
    !['cancel_restock', 'cancel_return_to_stock'].includes(change['pickupExpiryAction'] as string)
  ) {
    problems.push({ path: 'pickupExpiryAction', message: 'must be "cancel_restock" or "cancel_return_to_stock"' });
  }
  if (problems.length > 0) {
    throw invalid('fulfillment.invalid_settings', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems,
    });
  }
  const next = { ...(await fulfillmentSettings(db)), ...change } as FulfillmentSettings;
  await writeSetting(db, KEY, next, by, now);
  return next;
}
