// Store associates, played by a bot through Switchyard's own store work API (as the store app
// would): each parcel moves one step after a human pause; pickups are prepared, then collected; now
// and then a line turns out damaged and is rejected. Used by the demo and the day simulation.
import type { ApiCall } from './local-api.js';

/** Facilities worked at the same time in a round. */
const FACILITIES_AT_ONCE = 16;

export interface StoreBot {
  /** One round over every facility's work. Returns the steps taken. */
  round(): Promise<number>;
  /** Calls that got no answer (the connection dropped): the associate tries again in a later round. */
  readonly connectionsLost: number;
  /** Parcels and pickups refused at the last step because Shopify no longer owed every unit. */
  readonly handOffsRefusedNoLongerOwed: number;
}

/** fetch found no answer at all (connection refused or dropped), as opposed to an HTTP error. */
const noAnswer = (error: unknown) => error instanceof TypeError && /fetch failed/.test(error.message);

interface Work {
  open: Array<{ orderId: number; lines: Array<{ lineId: number; transferTo: string | null }> }>;
  shipments: Array<{ id: number; kind: string; status: string; putBack: Record<string, number> }>;
}

export function makeStoreBot(
  api: ApiCall,
  options: { seed: number; associateDelaySeconds: number; rejectShare: number; label: string },
): StoreBot {
  const seenAt = new Map<string, number>();
  let connectionsLost = 0;
  let noLongerOwed = 0;
  let roll = options.seed;
  const chance = () => (roll = (roll * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  // A step is due a human pause after the bot first saw its work.
  const due = (key: string) => {
    const now = Date.now();
    let at = seenAt.get(key);
    if (at === undefined) {
      at = now + options.associateDelaySeconds * 1000 * (1 + chance());
      seenAt.set(key, at);
    }
    return now >= at;
  };
  // The work changed under the associate (an order cancelled meanwhile): not an error, the next round sees it.
  const step = async (method: string, path: string, body?: unknown): Promise<number> => {
    try {
      await api(method, path, body);
      return 1;
    } catch (error) {
      // Shopify no longer owes every unit (an order change the bot had not seen): the next round finds the parcel shrunk.
      if (String(error).includes('fulfillment.no_longer_owed')) noLongerOwed++;
      if (/: (404|409) /.test(String(error))) return 0;
      // A dropped connection: whether the step happened or not, the next round reads the work again.
      if (noAnswer(error)) {
        connectionsLost++;
        return 0;
      }
      throw error;
    }
  };

  return {
    get connectionsLost() {
      return connectionsLost;
    },
    get handOffsRefusedNoLongerOwed() {
      return noLongerOwed;
    },
    async round() {
      let steps = 0;
      // Adds after the answer: `steps += await …` reads `steps` before awaiting, and facilities worked
      // side by side would lose each other's steps.
      const act = async (method: string, path: string, body?: unknown) => {
        const n = await step(method, path, body);
        steps += n;
      };
      let facilities: Array<{ code: string; kind: string }>;
      try {
        ({ facilities } = await api<{ facilities: Array<{ code: string; kind: string }> }>(
          'GET',
          '/api/v1/facilities',
        ));
      } catch (error) {
        if (!noAnswer(error)) throw error;
        connectionsLost++;
        return 0;
      }
      // Each store and warehouse has its own people: facilities are worked side by side.
      const queue = facilities.filter((x) => x.kind !== 'VIRTUAL');
      const workFacility = async (f: { code: string }) => {
        let work: Work;
        try {
          work = await api<Work>('GET', `/api/v1/facilities/${f.code}/work`);
        } catch (error) {
          if (!noAnswer(error)) throw error;
          connectionsLost++;
          return;
        }
        for (const o of work.open) {
          if (o.lines.some((l) => l.transferTo) || !due(`open:${f.code}:${o.orderId}`)) continue;
          if (chance() < options.rejectShare) {
            await act('POST', `/api/v1/orders/${o.orderId}/lines/${o.lines[0]!.lineId}/reject`, {
              facility: f.code,
              reason: 'damaged',
              note: `${options.label}: box crushed`,
            });
          } else {
            await act('POST', `/api/v1/facilities/${f.code}/shipments`, { order: String(o.orderId) });
          }
        }
        for (const s of work.shipments) {
          const at = `/api/v1/facilities/${f.code}/shipments/${s.id}`;
          if (Object.keys(s.putBack).length > 0) await act('POST', `${at}/put-back-done`);
          if (!due(`${s.id}:${s.status}`)) continue;
          const tracking = `1Z${String(s.id).padStart(10, '0')}`;
          if (s.kind === 'ship' && s.status === 'picking')
            await act('POST', `${at}/pack`, { packages: [{ weightGrams: 400 + Math.round(chance() * 2000) }] });
          else if (s.kind === 'ship' && s.status === 'packed')
            await act('POST', `${at}/ship`, {
              carrier: 'UPS',
              trackingNumber: tracking,
              trackingUrl: `https://www.ups.com/track?tracknum=${tracking}`,
            });
          else if (s.kind === 'pickup' && s.status === 'picking') await act('POST', `${at}/ready`);
          else if (s.kind === 'pickup' && s.status === 'ready')
            await act('POST', `${at}/hand-over`, { to: 'the customer' });
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(FACILITIES_AT_ONCE, queue.length) }, async () => {
          for (let f = queue.shift(); f; f = queue.shift()) await workFacility(f);
        }),
      );
      return steps;
    },
  };
}
