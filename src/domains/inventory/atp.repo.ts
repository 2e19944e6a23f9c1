// The SQL behind ATP: per-facility terms for some variants (or all), queue demand, and the channel.
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { queryRows } from '../../platform/db/rows.js';
import { countsOnline, facilityAtp, onlineAtp, type FacilityTerms } from './atp.js';

/**
 * Order lines still waiting to be routed (less units already fulfilled in Shopify): created, approved,
 * rejected or parked as unfillable; not lines sold over a store's counter (they left with the customer).
 */
const WAITING = sql`ol.status in ('created', 'approved', 'rejected', 'unfillable') and ol.current_quantity > ol.shipped_quantity and not ol.sold_over_counter
  and o.cancelled_at is null and coalesce(o.fulfillment_status, '') <> 'FULFILLED'`;

function variantFilter(column: SQL, variantIds: number[] | 'all'): SQL {
  if (variantIds === 'all') return sql`true`;
  if (variantIds.length === 0) return sql`false`;
  // One JSON parameter, however many variants (a full publish asks for thousands).
  return sql`${column} in (select (jsonb_array_elements_text(${JSON.stringify(variantIds)}::jsonb))::bigint)`;
}

/** The online channel: the first facility group whose purpose is `online_channel`, else every physical facility. */
export async function onlineChannel(db: Db): Promise<{ groupId: number | null; code: string; threshold: number }> {
  const [group] = await queryRows<{ id: number; code: string; channel_threshold: number }>(
    db,
    sql`select id, code, channel_threshold from facility_groups where purpose = 'online_channel' order by id limit 1`,
  );
  return group
    ? { groupId: group.id, code: group.code, threshold: group.channel_threshold }
    : { groupId: null, code: 'all-facilities', threshold: 0 };
}

export async function facilityTerms(
  db: Db,
  variantIds: number[] | 'all',
  channelGroupId: number | null,
): Promise<Map<number, FacilityTerms[]>> {
  const inChannel =
    channelGroupId === null
      ? sql`true`
      : sql`exists (select 1 from facility_group_members m where m.group_id = ${channelGroupId} and m.facility_id = f.id)`;
  const rows = await queryRows<{
    variant_id: number;
    facility_id: number;
    code: string;
    kind: string;
    on_hand: number;
    reserved: number;
    product_safety: number | null;
    facility_rule: { tag: string; quantity: number } | null;
    global_rule: { tag: string; quantity: number } | null;
    default_safety_stock: number;
    brokering: boolean;
    excluded: boolean;
    in_channel: boolean;
    pickup_demand: number;
  }>(
    db,
    sql`select l.variant_id, f.id as facility_id, f.code, f.kind, l.on_hand, l.reserved, l.safety_stock as product_safety,
          (select json_build_object('tag', r.tag, 'quantity', r.quantity) from safety_stock_rules r
             where r.facility_id = f.id and r.tag = any(p.tags) order by r.quantity desc, r.tag limit 1) as facility_rule,
          (select json_build_object('tag', r.tag, 'quantity', r.quantity) from safety_stock_rules r
             where r.facility_id is null and r.tag = any(p.tags) order by r.quantity desc, r.tag limit 1) as global_rule,
          f.default_safety_stock, (f.brokering_enabled and f.active) as brokering, f.excluded_from_online_atp as excluded,
          ${inChannel} as in_channel,
          coalesce(pd.units, 0)::int as pickup_demand
        from inventory_levels l
        join facilities f on f.id = l.facility_id and f.kind <> 'VIRTUAL'
        join variants v on v.id = l.variant_id
        join products p on p.id = v.product_id
        left join (select ol.variant_id, o.pickup_facility_id, sum(ol.current_quantity - ol.shipped_quantity) as units
                   from order_lines ol join orders o on o.id = ol.order_id
                   where o.shipping_method = 'pickup' and ${WAITING} and ${variantFilter(sql`ol.variant_id`, variantIds)}
                   group by ol.variant_id, o.pickup_facility_id) pd on pd.variant_id = l.variant_id and pd.pickup_facility_id = f.id
        where ${variantFilter(sql`l.variant_id`, variantIds)}
        order by l.variant_id, f.id`,
  );
  const byVariant = new Map<number, FacilityTerms[]>();
  for (const r of rows) {
    const [safetyStock, safetySource] =
      r.product_safety !== null
        ? [r.product_safety, 'product']
        : r.facility_rule
          ? [r.facility_rule.quantity, `tag:${r.facility_rule.tag}`]
          : r.global_rule
            ? [r.global_rule.quantity, `tag:${r.global_rule.tag}`]
            : [r.default_safety_stock, 'facility_default'];
    const list = byVariant.get(r.variant_id) ?? [];
    list.push({
      facilityId: r.facility_id,
      facilityCode: r.code,
      kind: r.kind,
      onHand: r.on_hand,
      reserved: r.reserved,
      safetyStock,
      safetySource,
      brokeringEnabled: r.brokering,
      excludedFromOnlineAtp: r.excluded,
      inChannel: r.in_channel,
      pickupDemand: r.pickup_demand,
    });
    byVariant.set(r.variant_id, list);
  }
  return byVariant;
}

export async function queueDemand(db: Db, variantIds: number[] | 'all'): Promise<Map<number, number>> {
  const rows = await queryRows<{ variant_id: number; units: number }>(
    db,
    sql`select ol.variant_id, sum(ol.current_quantity - ol.shipped_quantity)::int as units from order_lines ol join orders o on o.id = ol.order_id
        where ${WAITING} and ${variantFilter(sql`ol.variant_id`, variantIds)} group by ol.variant_id`,
  );
  return new Map(rows.map((r) => [r.variant_id, r.units]));
}

export interface VariantAtp {
  variantId: number;
  facilities: Array<FacilityTerms & { atp: number; countsOnline: boolean }>;
  facilityAtpSum: number;
  channelThreshold: number;
  queueDemand: number;
  onlineAtp: number;
}

/** ATP for these variants (or all): every facility's terms and the online channel's figure. */
export async function computeAtp(db: Db, variantIds: number[] | 'all'): Promise<Map<number, VariantAtp>> {
  const channel = await onlineChannel(db);
  const [terms, demand] = await Promise.all([
    facilityTerms(db, variantIds, channel.groupId),
    queueDemand(db, variantIds),
  ]);
  const ids = variantIds === 'all' ? [...new Set([...terms.keys(), ...demand.keys()])] : variantIds;
  const result = new Map<number, VariantAtp>();
  for (const variantId of ids) {
    const facilities = (terms.get(variantId) ?? []).map((t) => ({
      ...t,
      atp: facilityAtp(t),
      countsOnline: countsOnline(t),
    }));
    const sum = facilities.filter((f) => f.countsOnline).reduce((s, f) => s + f.atp, 0);
    const queued = demand.get(variantId) ?? 0;
    result.set(variantId, {
      variantId,
      facilities,
      facilityAtpSum: sum,
      channelThreshold: channel.threshold,
      queueDemand: queued,
      onlineAtp: onlineAtp(sum, channel.threshold, queued),
    });
  }
  return result;
}

export interface KnownCommitments {
  /** Open units Shopify commits at its online location: shipped orders whose fulfilment order stayed there. */
  online: number;
  /** Open units Shopify commits at a facility's own location: pickups at their store, and fulfilment orders Switchyard moved there. */
  atFacility: Map<number, number>;
}

/**
 * Units of orders Switchyard knows and Shopify still holds as `committed`, by where Shopify holds
 * them: every open line not yet fulfilled in Shopify or cancelled. The publisher compares them with
 * Shopify's own committed figure to see how many units orders not yet downloaded have taken.
 */
export async function knownCommitments(db: Db, variantIds: number[]): Promise<Map<number, KnownCommitments>> {
  const rows = await queryRows<{ variant_id: number; facility_id: number | null; units: number }>(
    db,
    // Shopify holds a line's units as committed until its fulfilment exists there: a line Switchyard
    // shipped whose fulfilment is not confirmed yet still counts.
    sql`select ol.variant_id, coalesce(ol.shopify_fulfillment_facility_id, case when o.shipping_method = 'pickup' then o.pickup_facility_id end) as facility_id,
               sum(ol.current_quantity - ol.shopify_fulfilled_quantity)::int as units
        from order_lines ol join orders o on o.id = ol.order_id
        where ol.status <> 'cancelled' and ol.current_quantity > ol.shopify_fulfilled_quantity and o.cancelled_at is null
          and not ol.sold_over_counter and coalesce(o.fulfillment_status, '') <> 'FULFILLED'
          and ${variantFilter(sql`ol.variant_id`, variantIds)}
        group by 1, 2`,
  );
  const result = new Map<number, KnownCommitments>();
  for (const r of rows) {
    const entry = result.get(r.variant_id) ?? { online: 0, atFacility: new Map<number, number>() };
    if (r.facility_id === null) entry.online += r.units;
    else entry.atFacility.set(r.facility_id, (entry.atFacility.get(r.facility_id) ?? 0) + r.units);
    result.set(r.variant_id, entry);
  }
  return result;
}
