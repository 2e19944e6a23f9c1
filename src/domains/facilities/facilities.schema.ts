// Facilities: warehouses, stores and virtual queues ("parkings"), and named groups of them.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const FACILITY_KINDS = ['WAREHOUSE', 'STORE', 'VIRTUAL'] as const;
export type FacilityKind = (typeof FACILITY_KINDS)[number];

export const QUEUE_KINDS = [
  'brokering',
  'rejected',
  'unfillable',
  'unfillable_hold',
  'preorder',
  'backorder',
  'pickup_rejected',
] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

/** How a facility's stock reaches its Shopify location. */
export const PUBLISH_MODES = ['none', 'aggregate', 'mirror'] as const;
export type PublishMode = (typeof PUBLISH_MODES)[number];

export const facilities = pgTable(
  'facilities',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** Merchant's code, used in ERP files and URLs. */
    code: text('code').notNull(),
    name: text('name').notNull(),
    kind: text('kind').$type<FacilityKind>().notNull(),
    /** Set for VIRTUAL facilities only. */
    queueKind: text('queue_kind').$type<QueueKind>(),
    address: jsonb('address').$type<{
      address1?: string;
      city?: string;
      province?: string;
      postalCode?: string;
      countryCode?: string;
    }>(),
    latitude: doublePrecision('latitude'),
    longitude: doublePrecision('longitude'),
    timeZone: text('time_zone').notNull().default('UTC'),
    openingHours: jsonb('opening_hours').$type<Record<string, Array<[string, string]>>>(),
    canShip: boolean('can_ship').notNull().default(false),
    canPickup: boolean('can_pickup').notNull().default(false),
    canExpress: boolean('can_express').notNull().default(false),
    /** null = unlimited, 0 = switched off, N = orders per local day. */
    dailyOrderCapacity: integer('daily_order_capacity'),
    brokeringPriority: integer('brokering_priority').notNull().default(0),
    /** When false the facility's stock is not offered to routing (facility ATP = 0). */
    brokeringEnabled: boolean('brokering_enabled').notNull().default(true),
    excludedFromOnlineAtp: boolean('excluded_from_online_atp').notNull().default(false),
    defaultSafetyStock: integer('default_safety_stock').notNull().default(0),
    shopifyLocationId: text('shopify_location_id'),
    publishMode: text('publish_mode').$type<PublishMode>().notNull().default('none'),
    active: boolean('active').notNull().default(true),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('facilities_code').on(t.code),
    uniqueIndex('facilities_shopify_location')
      .on(t.shopifyLocationId)
      .where(sql`shopify_location_id IS NOT NULL`),
    uniqueIndex('facilities_one_per_queue_kind')
      .on(t.queueKind)
      .where(sql`queue_kind IS NOT NULL`),
  ],
);

export const facilityGroups = pgTable('facility_groups', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  /** What the group is for: `online_channel`, `routing`, `pickup`... free text, for operators. */
  purpose: text('purpose'),
  /** For channel groups: units held back from the channel's online ATP. */
  channelThreshold: integer('channel_threshold').notNull().default(0),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const facilityGroupMembers = pgTable(
  'facility_group_members',
  {
    groupId: bigint('group_id', { mode: 'number' })
      .notNull()
      .references(() => facilityGroups.id, { onDelete: 'cascade' }),
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id, { onDelete: 'cascade' }),
    sequence: integer('sequence').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.facilityId] })],
);
