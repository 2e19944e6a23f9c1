// Routing: versioned rule documents, per-order decision traces, facility capacity per local day, and
// the reasons a store may give for rejecting a line.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  date,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { facilities } from '../facilities/facilities.schema.js';
import { orders } from '../orders/orders.schema.js';
import type { RuleDocument } from './rules.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const RULE_VERSION_STATUSES = ['draft', 'active', 'archived'] as const;
export type RuleVersionStatus = (typeof RULE_VERSION_STATUSES)[number];

export const routingRuleVersions = pgTable(
  'routing_rule_versions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull(),
    status: text('status').$type<RuleVersionStatus>().notNull().default('draft'),
    document: jsonb('document').$type<RuleDocument>().notNull(),
    note: text('note'),
    /** The version this one was copied from (drafts made from the active rules). */
    basedOnId: bigint('based_on_id', { mode: 'number' }),
    createdBy: text('created_by').notNull().default('api'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    activatedAt: ts('activated_at'),
    archivedAt: ts('archived_at'),
  },
  // At most one active version: activating is one statement pair in one transaction.
  (t) => [
    uniqueIndex('routing_rule_versions_one_active')
      .on(t.status)
      .where(sql`status = 'active'`),
  ],
);

export const routingDecisions = pgTable(
  'routing_decisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    at: ts('at').notNull(),
    versionId: bigint('version_id', { mode: 'number' }),
    runCode: text('run_code').notNull(),
    routing: text('routing').notNull(),
    /** What started it: `schedule`, `order`, `rejection:<reason>`, ... */
    trigger: text('trigger').notNull(),
    summary: text('summary').notNull(),
    // json, not jsonb: written in bulk by every routing batch and only ever read back whole.
    assignments: json('assignments')
      .$type<Array<{ lineId: number; facility: string; quantity: number; transferTo: string | null }>>()
      .notNull(),
    parked: json('parked')
      .$type<Array<{ lineId: number; queue: string; autoCancelAfterDays: number | null }>>()
      .notNull(),
    trace: json('trace').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('routing_decisions_order').on(t.orderId, t.at)],
);

/** Orders assigned to a facility per local day (its time zone), against its daily capacity. */
export const facilityCapacityUsage = pgTable(
  'facility_capacity_usage',
  {
    facilityId: bigint('facility_id', { mode: 'number' })
      .notNull()
      .references(() => facilities.id, { onDelete: 'cascade' }),
    localDate: date('local_date', { mode: 'string' }).notNull(),
    orders: integer('orders').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.facilityId, t.localDate] })],
);

export const STOCK_EFFECTS = ['none', 'zero', 'lower'] as const;
export type StockEffect = (typeof STOCK_EFFECTS)[number];

export const rejectionReasons = pgTable('rejection_reasons', {
  code: text('code').primaryKey(),
  label: text('label').notNull(),
  /** What the rejection says about the store's stock of the item: nothing, none left, or fewer by the quantity. */
  stockEffect: text('stock_effect').$type<StockEffect>().notNull(),
  /** Also reject the store's other open lines of the same SKU (they cannot be filled either). */
  collateral: boolean('collateral').notNull().default(false),
  active: boolean('active').notNull().default(true),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/** The last schedule slot each brokering run was started for: one worker claims each slot. */
export const routingRunSlots = pgTable('routing_run_slots', {
  runCode: text('run_code').primaryKey(),
  lastSlotAt: ts('last_slot_at').notNull(),
});

export const REPLAY_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type ReplayStatus = (typeof REPLAY_STATUSES)[number];

/**
 * What-if replays asked for through the API: queued, run by the `routing.replay` job (never on the
 * request path), with progress while they run and the comparison when done.
 */
export const routingReplays = pgTable(
  'routing_replays',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    status: text('status').$type<ReplayStatus>().notNull().default('queued'),
    /** The request: candidate and baseline versions, the period or the generated size. */
    input: jsonb('input').$type<Record<string, unknown>>().notNull(),
    /** Orders the replay routes (under each of the two versions). */
    orders: integer('orders').notNull(),
    progress: jsonb('progress').$type<{ percent: number; message: string }>(),
    /** A running replay's claim, renewed at each step: one past it belongs to a run that died. */
    leasedUntil: ts('leased_until'),
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    requestedBy: text('requested_by').notNull().default('api'),
    requestedAt: ts('requested_at').notNull(),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [
    index('routing_replays_waiting')
      .on(t.id)
      .where(sql`status in ('queued', 'running')`),
  ],
);
