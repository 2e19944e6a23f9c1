// A shop's API budget, as Shopify last reported it (`extensions.cost.throttleStatus`), projected
// forward at the restore rate. One budget per shop per process, shared by every job, so concurrent
// callers wait their turn instead of racing each other into THROTTLED.

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface CostBudget {
  /** Resolves when the bucket should hold `cost` points, and reserves them. */
  reserve(cost: number): Promise<void>;
  /**
   * Ends a reservation. With Shopify's report, the report replaces the estimate, less what calls
   * still in flight have reserved (the report cannot know them yet). Without one (no answer), the
   * reservation is given back.
   */
  settle(cost: number, status: ThrottleStatus | undefined): void;
  snapshot(): { known: boolean; available: number; maximum: number; restoreRate: number; inFlight: number };
}

export function makeCostBudget(now: () => number = () => performance.now()): CostBudget {
  // Until Shopify has answered once, nothing is known: let the first call through and learn.
  let known = false;
  let available = 0;
  let maximum = 0;
  let restoreRate = 0;
  let updatedAt = now();
  let inFlight = 0;
  let queue: Promise<void> = Promise.resolve();
  // Until the first answer, one call at a time probes the bucket; the others wait for what it learns.
  let probe: { done: Promise<void>; finish: () => void } | null = null;
  const endProbe = () => {
    probe?.finish();
    probe = null;
  };

  const refill = () => {
    const at = now();
    if (known) available = Math.min(maximum, available + ((at - updatedAt) / 1000) * restoreRate);
    updatedAt = at;
  };

  return {
    reserve(cost) {
      // Callers are served in order; each waits until its cost fits.
      const turn = queue.then(async () => {
        for (;;) {
          if (!known) {
            if (probe) {
              await probe.done;
              continue;
            }
            let finish = () => {};
            const done = new Promise<void>((resolve) => (finish = resolve));
            probe = { done, finish };
            inFlight += cost;
            return;
          }
          refill();
          if (available >= cost || cost > maximum) {
            available -= cost;
            inFlight += cost;
            return;
          }
          const waitMs = Math.ceil(((cost - available) / restoreRate) * 1000);
          await new Promise((resolve) => setTimeout(resolve, Math.max(5, waitMs)));
        }
      });
      queue = turn.catch(() => {});
      return turn;
    },
    settle(cost, status) {
      inFlight = Math.max(0, inFlight - cost);
      if (status) {
        endProbe();
        known = true;
        maximum = status.maximumAvailable;
        restoreRate = status.restoreRate;
        available = status.currentlyAvailable - inFlight;
        updatedAt = now();
        return;
      }
      if (!known) {
        endProbe();
        return;
      }
      refill();
      available = Math.min(maximum, available + cost);
    },
    snapshot() {
      refill();
      return { known, available: Math.floor(available), maximum, restoreRate, inFlight };
    },
  };
}
