// Fulfilments made in Shopify itself (a merchant in Shopify admin): brought into Switchyard once.
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { markChanged, trimLineReservation } from '../inventory/index.js';
import { appendOrderHistory } from '../orders/index.js';
import { completeLines, fitShipmentsToOrder } from './work.service.js';
import type { ShipmentKind } from './fulfillment.schema.js';

/**
 * A fulfilment made in Shopify (not by Switchyard): its units left the shelf of the location it was
 * made at. It becomes a completed shipment there, consuming the reservation of the lines (on hand
 * drops once), closes the matching store work and frees stock held for those units elsewhere.
 * Returns what left, per line, or null when there is nothing to import (done already, a counter sale, or
 * no facility to take it from).
 */
export async function importShopifyFulfillment(
  db: Db,
  input: {
    orderId: number;
    fulfillmentId: string;
    locationId: string | null;
    createdAt: Date;
    tracking: { company: string | null; number: string | null; url: string | null } | null;
    lines: Array<{ shopifyLineItemId: string; quantity: number }>;
  },
  now: Date,
): Promise<Array<{ variantId: number | null; quantity: number }> | null> {
  return db.transaction(async (tx) => {
    const [order] = await queryRows<{ shipping_method: string }>(
      tx,
      sql`select shipping_method from orders where id = ${input.orderId} for update`,
    );
    if (!order) return null;
    const [exists] = await queryRows<{ id: number }>(
      tx,
      sql`select id from shipments where shopify_fulfillment_id = ${input.fulfillmentId}`,
    );
    if (exists) return null;
    // A counter sale's fulfilment is the sale itself, which lowered the store's stock already.
    const lines = await queryRows<{
      id: number;
      shopify_line_item_id: string;
      variant_id: number | null;
      facility_id: number | null;
    }>(
      tx,
      sql`select id, shopify_line_item_id, variant_id, facility_id from order_lines where order_id = ${input.orderId} and not sold_over_counter`,
    );
    const taken = input.lines
      .map((x) => ({ line: lines.find((l) => l.shopify_line_item_id === x.shopifyLineItemId), quantity: x.quantity }))
      .filter((x): x is { line: (typeof lines)[number]; quantity: number } => x.line !== undefined && x.quantity > 0);
    if (taken.length === 0) return null;
    // The units left where Shopify says; without a known location, where Switchyard routed the line.
    const [facility] = await queryRows<{ id: number }>(
      tx,
      sql`select id from facilities where shopify_location_id = ${input.locationId}`,
    );
    const facilityId = facility?.id ?? taken[0]?.line.facility_id ?? null;
    if (facilityId === null) return null;
    const kind: ShipmentKind = order.shipping_method === 'pickup' ? 'pickup' : 'ship';
    const [shipment] = await queryRows<{ id: number }>(
      tx,
      sql`insert into shipments (order_id, facility_id, kind, status, source, carrier, tracking_number, tracking_url, completed_at, shopify_fulfillment_id, created_by, created_at, updated_at)
          values (${input.orderId}, ${facilityId}, ${kind}, ${kind === 'pickup' ? 'handed_over' : 'shipped'}, 'shopify', ${input.tracking?.company ?? null}, ${input.tracking?.number ?? null},
                  ${input.tracking?.url ?? null}, ${input.createdAt}, ${input.fulfillmentId}, 'shopify', ${now}, ${now})
          returning id`,
    );
    for (const x of taken)
      await tx.execute(
        sql`insert into shipment_lines (shipment_id, order_line_id, quantity) values (${shipment!.id}, ${x.line.id}, ${x.quantity})`,
      );
    const left = await completeLines(
      tx,
      { id: shipment!.id, order_id: input.orderId, facility_id: facilityId },
      kind === 'pickup' ? 'picked_up' : 'shipped',
      input.createdAt,
      now,
      'shopify',
    );
    // Store work for these units is no longer needed, nor stock held for them elsewhere.
    await fitShipmentsToOrder(tx, input.orderId, now);
    for (const x of taken) await trimLineReservation(tx, x.line.id, now);
    // Shopify's committed and on hand moved at that location: the publisher reads the levels again.
    await markChanged(tx, [...new Set(lines.map((l) => l.variant_id).filter((v): v is number => v !== null))], now, {
      needsRead: true,
    });
    await appendOrderHistory(tx, {
      orderId: input.orderId,
      at: now,
      kind: 'fulfillment.imported_from_shopify',
      source: 'shopify',
      details: { fulfillmentId: input.fulfillmentId, lines: input.lines },
    });
    return left;
  });
}
