// The leaky bucket Shopify meters GraphQL calls with, one per app × shop.

export const PLANS = {
  standard: { restoreRate: 100 },
  advanced: { restoreRate: 200 },
  plus: { restoreRate: 1000 },
  enterprise: { restoreRate: 2000 },
} as const;
export type PlanName = keyof typeof PLANS;

/** Shopify does not publish the bucket size; about 20 × the restore rate is what apps observe. */
export const DEFAULT_BUCKET_FACTOR = 20;

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export class CostBucket {
  private available: number;
  private updatedAt: number;

  constructor(
    readonly maximum: number,
    readonly restoreRate: number,
    now: number,
  ) {
    this.available = maximum;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    if (now > this.updatedAt) {
      this.available = Math.min(this.maximum, this.available + ((now - this.updatedAt) / 1000) * this.restoreRate);
      this.updatedAt = now;
    }
  }

  /** Reserves `cost` points if the bucket holds them. */
  tryTake(cost: number, now: number): boolean {
    this.refill(now);
    if (cost > this.available) return false;
    this.available -= cost;
    return true;
  }

  refund(points: number, now: number): void {
    this.refill(now);
    this.available = Math.min(this.maximum, this.available + points);
  }

  /** Empties the bucket (fault injection: forced THROTTLED). */
  drain(now: number): void {
    this.refill(now);
    this.available = 0;
  }

  status(now: number): ThrottleStatus {
    this.refill(now);
    return {
      maximumAvailable: this.maximum,
      currentlyAvailable: Math.floor(this.available),
      restoreRate: this.restoreRate,
    };
  }
}
