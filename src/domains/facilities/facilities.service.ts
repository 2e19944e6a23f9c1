// Facility settings a merchant changes: publishing mode, brokering, online ATP exclusion, safety
// stock default, capacity and priority. Checked as a whole before anything is saved.
import { asc, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { facilities, PUBLISH_MODES, QUEUE_KINDS, type PublishMode, type QueueKind } from './facilities.schema.js';

export type FacilityRow = typeof facilities.$inferSelect;

export interface FacilitySettings {
  publishMode?: PublishMode;
  brokeringEnabled?: boolean;
  excludedFromOnlineAtp?: boolean;
  defaultSafetyStock?: number;
  dailyOrderCapacity?: number | null;
  brokeringPriority?: number;
  canShip?: boolean;
  canPickup?: boolean;
  canExpress?: boolean;
}

export async function listFacilities(db: Db): Promise<FacilityRow[]> {
  return db.select().from(facilities).orderBy(asc(facilities.id));
}

export async function updateFacilitySettings(
  db: Db,
  code: string,
  settings: FacilitySettings,
  now: Date,
): Promise<FacilityRow> {
  return db.transaction(async (tx) => {
    const [facility] = await tx.select().from(facilities).where(eq(facilities.code, code)).for('update');
    if (!facility) throw notFound('facilities.unknown_facility', `No facility has code "${code}".`, { facility: code });
    if (settings.publishMode !== undefined) {
      if (!PUBLISH_MODES.includes(settings.publishMode))
        throw invalid('facilities.publish_mode', `publishMode must be one of ${PUBLISH_MODES.join(', ')}.`, {
          field: 'publishMode',
        });
      if (settings.publishMode !== 'none' && !facility.shopifyLocationId) {
        throw invalid('facilities.no_shopify_location', `${code} has no Shopify location to publish to.`, {
          field: 'publishMode',
        });
      }
      if (settings.publishMode !== 'none' && facility.kind === 'VIRTUAL')
        throw invalid('facilities.virtual', `${code} is a queue: it holds no stock to publish.`, {
          field: 'publishMode',
        });
      if (settings.publishMode === 'aggregate') {
        // One location carries the online channel's ATP: two would offer the same units twice.
        const other = (await tx.select().from(facilities).where(eq(facilities.publishMode, 'aggregate'))).find(
          (f) => f.id !== facility.id,
        );
        if (other)
          throw invalid(
            'facilities.second_aggregate',
            `${other.code} already publishes the online ATP (aggregate); set it to mirror or none first.`,
            { field: 'publishMode', current: other.code },
          );
      }
    }
    for (const field of ['defaultSafetyStock', 'brokeringPriority'] as const) {
      const value = settings[field];
      if (value !== undefined && (!Number.isInteger(value) || (field === 'defaultSafetyStock' && value < 0))) {
        throw invalid(
          'facilities.invalid_setting',
          `${field} must be a whole number${field === 'defaultSafetyStock' ? ' ≥ 0' : ''}.`,
          { field },
        );
      }
    }
    if (
      settings.dailyOrderCapacity !== undefined &&
      settings.dailyOrderCapacity !== null &&
      (!Number.isInteger(settings.dailyOrderCapacity) || settings.dailyOrderCapacity < 0)
    ) {
      throw invalid(
        'facilities.invalid_setting',
        'dailyOrderCapacity must be null (unlimited) or a whole number ≥ 0.',
        { field: 'dailyOrderCapacity' },
      );
    }
    const [updated] = await tx
      .update(facilities)
      .set({ ...settings, updatedAt: now })
      .where(eq(facilities.id, facility.id))
      .returning();
    return updated!;
  });
}

/** Codes of the queue facilities Switchyard creates: `QUEUE-BROKERING`, `QUEUE-UNFILLABLE`, ... */
export const queueCode = (kind: QueueKind) => `QUEUE-${kind.toUpperCase().replace(/_/g, '-')}`;

/**
 * The queues (VIRTUAL facilities) routing parks lines in, created on first use; returns kind → id.
 * A queue the merchant already has (any code) is kept.
 */
export async function ensureQueueFacilities(db: Db): Promise<Map<QueueKind, number>> {
  const read = async () =>
    new Map(
      (
        await db
          .select({ id: facilities.id, queueKind: facilities.queueKind })
          .from(facilities)
          .where(eq(facilities.kind, 'VIRTUAL'))
      )
        .filter((f) => f.queueKind)
        .map((f) => [f.queueKind!, f.id]),
    );
  const byKind = await read();
  const missing = QUEUE_KINDS.filter((k) => !byKind.has(k));
  if (missing.length === 0) return byKind;
  // Another worker may create them at the same time: insert what is missing, then read again.
  await db
    .insert(facilities)
    .values(
      missing.map((kind) => ({
        code: queueCode(kind),
        name: `${kind.replace(/_/g, ' ')} queue`,
        kind: 'VIRTUAL' as const,
        queueKind: kind,
        brokeringEnabled: false,
      })),
    )
    .onConflictDoNothing();
  const after = await read();
  const still = QUEUE_KINDS.filter((k) => !after.has(k));
  if (still.length > 0) {
    throw conflict(
      'facilities.queue_code_taken',
      `Cannot create the ${still.join(', ')} queue(s): another facility already has the code ${still.map(queueCode).join(', ')}.`,
      { queues: still },
    );
  }
  return after;
}

/** Adds a facility unless one with its code or Shopify location exists; true when added. */
export async function addFacilityIfNew(db: Db, values: typeof facilities.$inferInsert): Promise<boolean> {
  const rows = await db.insert(facilities).values(values).onConflictDoNothing().returning({ id: facilities.id });
  return rows.length > 0;
}

/**
 * Facility ids by Shopify location id: of these locations (those with no facility are left out), or
 * of every facility with a location when none are named.
 */
export async function facilityIdsByLocation(db: Db, locationIds?: string[]): Promise<Map<string, number>> {
  if (locationIds?.length === 0) return new Map();
  const rows = await db
    .select({ id: facilities.id, location: facilities.shopifyLocationId })
    .from(facilities)
    .where(locationIds ? inArray(facilities.shopifyLocationId, locationIds) : isNotNull(facilities.shopifyLocationId));
  return new Map(rows.map((f) => [f.location!, f.id]));
}
