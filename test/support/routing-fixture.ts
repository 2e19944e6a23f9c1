// Test fixture for routing scenarios: five facilities at real places, six items, orders written as
// Shopify would deliver them (new lines, paid), and stock through the ledger. `reset` empties the
// order and stock tables so each scenario starts from the figures it states.
import { sql } from 'drizzle-orm';
import type { Db } from '../../src/platform/db/client.js';
import { queryRows } from '../../src/platform/db/rows.js';
import { applyProductSnapshot } from '../../src/domains/catalog/index.js';
import { facilities, facilityGroupMembers, facilityGroups } from '../../src/domains/facilities/facilities.schema.js';
import { recordEntries } from '../../src/domains/inventory/index.js';
import { orderLines, orders } from '../../src/domains/orders/orders.schema.js';
import { activateVersion, createDraft } from '../../src/domains/routing/index.js';
import { defaultRuleDocument, type RuleDocument } from '../../src/domains/routing/index.js';

export const PLACES = {
  NYC: { latitude: 40.7128, longitude: -74.006 },
  BOS: { latitude: 42.3601, longitude: -71.0589 },
  PHL: { latitude: 39.9526, longitude: -75.1652 },
  LA: { latitude: 34.0522, longitude: -118.2437 },
  CHI: { latitude: 41.8781, longitude: -87.6298 },
};

export const SKUS = ['A', 'B', 'C', 'D', 'E', 'F'] as const;

export interface Fixture {
  ids: Record<string, number>;
  /** Puts `units` on hand at a facility (an opening balance through the ledger). */
  stock(sku: string, facility: string, units: number): Promise<void>;
  order(input: OrderInput): Promise<{ id: number; lines: number[] }>;
  rules(document: RuleDocument): Promise<number>;
  reset(): Promise<void>;
  line(lineId: number): Promise<{
    status: string;
    facility: string | null;
    transferTo: string | null;
    autoCancelAt: Date | null;
    excluded: number[];
  }>;
  level(sku: string, facility: string): Promise<{ onHand: number; reserved: number }>;
}

export interface OrderInput {
  name: string;
  at: keyof typeof PLACES | { latitude: number; longitude: number } | null;
  /** `overCounter`: a POS line the customer took home (never routed). */
  lines: Array<{ sku: string; quantity: number; price?: number; group?: string; overCounter?: boolean }>;
  method?: 'standard' | 'express' | 'pickup';
  pickupAt?: string;
  createdAt?: Date;
  priority?: number;
  tags?: string[];
  financialStatus?: string;
  sourceName?: string;
}

let orderSeq = 1;

export async function makeFixture(db: Db, now: Date): Promise<Fixture> {
  const ids: Record<string, number> = {};
  const made = await db
    .insert(facilities)
    .values([
      {
        code: 'WH-EAST',
        name: 'East warehouse',
        kind: 'WAREHOUSE',
        ...PLACES.NYC,
        canShip: true,
        timeZone: 'America/New_York',
      },
      {
        code: 'WH-WEST',
        name: 'West warehouse',
        kind: 'WAREHOUSE',
        ...PLACES.LA,
        canShip: true,
        timeZone: 'America/Los_Angeles',
      },
      {
        code: 'ST-BOS',
        name: 'Boston store',
        kind: 'STORE',
        ...PLACES.BOS,
        canShip: true,
        canPickup: true,
        canExpress: true,
        timeZone: 'America/New_York',
      },
      {
        code: 'ST-PHL',
        name: 'Philadelphia store',
        kind: 'STORE',
        ...PLACES.PHL,
        canShip: true,
        canPickup: true,
        timeZone: 'America/New_York',
      },
      {
        code: 'ST-CHI',
        name: 'Chicago store',
        kind: 'STORE',
        ...PLACES.CHI,
        canPickup: true,
        timeZone: 'America/Chicago',
      },
    ])
    .returning({ id: facilities.id, code: facilities.code });
  for (const f of made) ids[f.code] = f.id;
  const [pilot] = await db
    .insert(facilityGroups)
    .values({ code: 'pilot', name: 'Ship-from-store pilot', purpose: 'routing' })
    .returning({ id: facilityGroups.id });
  await db.insert(facilityGroupMembers).values([
    { groupId: pilot!.id, facilityId: ids['ST-BOS']! },
    { groupId: pilot!.id, facilityId: ids['ST-PHL']! },
  ]);
  await applyProductSnapshot(
    db,
    {
      shopifyProductId: 'gid://shopify/Product/900',
      handle: 'routing-kit',
      title: 'Routing kit',
      status: 'ACTIVE',
      vendor: null,
      productType: null,
      tags: [],
      imageUrl: null,
      updatedAt: now,
      variants: SKUS.map((v, i) => ({
        shopifyVariantId: `gid://shopify/ProductVariant/90${i}`,
        shopifyInventoryItemId: `gid://shopify/InventoryItem/90${i}`,
        sku: v,
        barcode: null,
        title: v,
        price: '10.00',
        weightGrams: 100,
        inventoryPolicy: 'DENY' as const,
        updatedAt: now,
      })),
    },
    now,
  );
  for (const v of await queryRows<{ id: number; sku: string }>(
    db,
    sql`select id, sku from variants where sku is not null`,
  ))
    ids[v.sku] = v.id;

  let stockSeq = 0;
  return {
    ids,
    async stock(sku, facility, units) {
      await db.transaction((tx) =>
        recordEntries(
          tx,
          [
            {
              variantId: ids[sku]!,
              facilityId: ids[facility]!,
              delta: units,
              kind: 'receipt',
              occurredAt: now,
              source: 'test',
              idempotencyKey: `fixture-${++stockSeq}-${Date.now()}`,
            },
          ],
          now,
        ),
      );
    },
    async order(input) {
      const n = orderSeq++;
      const place =
        input.at === null
          ? { latitude: null, longitude: null }
          : typeof input.at === 'string'
            ? PLACES[input.at]
            : input.at;
      const [row] = await db
        .insert(orders)
        .values({
          shopifyOrderId: `gid://shopify/Order/${700000 + n}`,
          name: input.name,
          sourceName: input.sourceName ?? 'web',
          financialStatus: input.financialStatus ?? 'PAID',
          latitude: place.latitude,
          longitude: place.longitude,
          shippingMethod: input.method ?? 'standard',
          pickupFacilityId: input.pickupAt ? ids[input.pickupAt]! : null,
          tags: input.tags ?? [],
          priority: input.priority ?? 0,
          shopifyCreatedAt: input.createdAt ?? new Date(now.getTime() - 60_000 + n),
          shopifyUpdatedAt: now,
        })
        .returning({ id: orders.id });
      const lines = await db
        .insert(orderLines)
        .values(
          input.lines.map((l, i) => ({
            orderId: row!.id,
            shopifyLineItemId: `gid://shopify/LineItem/${700000 + n}${i}`,
            variantId: ids[l.sku]!,
            sku: l.sku,
            title: l.sku,
            quantity: l.quantity,
            currentQuantity: l.quantity,
            unitPrice: String(l.price ?? 10),
            groupKey: l.group ?? null,
            soldOverCounter: l.overCounter ?? false,
          })),
        )
        .returning({ id: orderLines.id });
      return { id: row!.id, lines: lines.map((l) => l.id) };
    },
    async rules(document) {
      const draft = await createDraft(db, { name: 'scenario', document, by: 'test' }, now);
      await activateVersion(db, draft.id, now);
      return draft.id;
    },
    async reset() {
      await db.execute(
        sql`truncate reservations, routing_decisions, facility_capacity_usage, order_history, order_lines, orders, inventory_ledger, inventory_levels, inventory_count_marks, inventory_publish_queue, routing_run_slots, safety_stock_rules cascade`,
      );
      await db.execute(sql`update products set tags = '{}'`);
      await db.execute(
        sql`update facilities set daily_order_capacity = null, brokering_priority = 0, default_safety_stock = 0, brokering_enabled = true`,
      );
      await db.execute(sql`delete from routing_rule_versions`);
      await activateVersion(
        db,
        (await createDraft(db, { name: 'default', document: defaultRuleDocument(), by: 'test' }, now)).id,
        now,
      );
    },
    async line(lineId) {
      const [row] = await queryRows<{
        status: string;
        code: string | null;
        transfer: string | null;
        auto_cancel_at: Date | null;
        excluded: number[];
      }>(
        db,
        sql`select ol.status, f.code, t.code as transfer, ol.auto_cancel_at, ol.excluded_facility_ids as excluded
            from order_lines ol left join facilities f on f.id = ol.facility_id left join facilities t on t.id = ol.transfer_to_facility_id where ol.id = ${lineId}`,
      );
      return {
        status: row!.status,
        facility: row!.code,
        transferTo: row!.transfer,
        autoCancelAt: row!.auto_cancel_at,
        excluded: row!.excluded.map(Number),
      };
    },
    async level(sku, facility) {
      const [row] = await queryRows<{ on_hand: number; reserved: number }>(
        db,
        sql`select on_hand, reserved from inventory_levels where variant_id = ${ids[sku]!} and facility_id = ${ids[facility]!}`,
      );
      return { onHand: row?.on_hand ?? 0, reserved: row?.reserved ?? 0 };
    },
  };
}
