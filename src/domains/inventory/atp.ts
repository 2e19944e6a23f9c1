// Available to promise, as the domain guide defines it. The per-facility terms come from SQL
// (atp.repo.ts); the sums live here so one function decides every figure Switchyard publishes.

export interface FacilityTerms {
  facilityId: number;
  facilityCode: string;
  kind: string;
  onHand: number;
  reserved: number;
  safetyStock: number;
  /** Where the safety stock figure came from: `product`, `tag:<tag>`, `facility_default`. */
  safetySource: string;
  brokeringEnabled: boolean;
  excludedFromOnlineAtp: boolean;
  inChannel: boolean;
  /** Unrouted pickup lines waiting for this store (Shopify already counts them as committed there). */
  pickupDemand: number;
}

/** facility ATP = max(0, on hand − reserved − safety stock); 0 when the facility may not broker. */
export function facilityAtp(
  t: Pick<FacilityTerms, 'onHand' | 'reserved' | 'safetyStock' | 'brokeringEnabled'>,
): number {
  if (!t.brokeringEnabled) return 0;
  return Math.max(0, t.onHand - t.reserved - t.safetyStock);
}

/** Counts toward the online channel: a channel member that is not excluded. */
export const countsOnline = (t: Pick<FacilityTerms, 'inChannel' | 'excludedFromOnlineAtp'>) =>
  t.inChannel && !t.excludedFromOnlineAtp;

/** online ATP = max(0, Σ facility ATP of the channel's facilities − channel threshold − units in queues). */
export function onlineAtp(facilityAtpSum: number, channelThreshold: number, queueDemand: number): number {
  return Math.max(0, facilityAtpSum - channelThreshold - queueDemand);
}

/**
 * What a store's own Shopify location may sell (mirror mode): its stock less what is promised to
 * routed lines and to pickups waiting there. Safety stock is left in: it protects against selling the
 * last units online, not at the counter.
 */
export function mirrorQuantity(t: Pick<FacilityTerms, 'onHand' | 'reserved' | 'pickupDemand'>): number {
  return Math.max(0, t.onHand - t.reserved - t.pickupDemand);
}
