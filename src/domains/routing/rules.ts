// The merchant's routing rules as a JSON document: brokering runs → ordered routings (which orders,
// in what order) → ordered inventory rules (which facilities, in what order, single or split, and what
// happens to what is left). Plus the scoring weights. `validateRuleDocument` says exactly what is wrong
// and where; nothing is saved unless the whole document is right.
import { isAppError } from '../../platform/errors.js';
import { parseSchedule } from '../../platform/jobs/schedule.js';
import { QUEUE_KINDS, type QueueKind } from '../facilities/index.js';

/** A run with this schedule routes whenever orders arrive or are rejected, and on every sweep. */
export const CONTINUOUS = 'continuous';

export const ORDER_SORT_FIELDS = ['order_date', 'ship_by', 'priority'] as const;
export const FACILITY_SORT_FIELDS = ['distance', 'stock', 'priority', 'capacity_left'] as const;
export const CAPABILITIES = ['ship', 'pickup', 'express'] as const;
export const SHIPPING_FILTER = ['standard', 'express', 'pickup'] as const;
/** Queues an order can be routed from. */
export const SOURCE_QUEUES = ['brokering', 'rejected', 'unfillable', 'backorder', 'pickup_rejected'] as const;
/** Queues what could not be placed can be parked in. */
export const PARKING_QUEUES = ['unfillable', 'unfillable_hold', 'backorder', 'pickup_rejected', 'rejected'] as const;

export type OrderSortField = (typeof ORDER_SORT_FIELDS)[number];
export type FacilitySortField = (typeof FACILITY_SORT_FIELDS)[number];
export type Capability = (typeof CAPABILITIES)[number];
export type SourceQueue = (typeof SOURCE_QUEUES)[number];
export type ParkingQueue = (typeof PARKING_QUEUES)[number];

export interface Sort<F extends string> {
  field: F;
  direction: 'asc' | 'desc';
}

export interface OrderFilters {
  /** Queues the orders' waiting lines sit in (default: the brokering queue). */
  queues?: SourceQueue[];
  shippingMethods?: Array<(typeof SHIPPING_FILTER)[number]>;
  /** Order priority at least / at most. */
  minPriority?: number;
  maxPriority?: number;
  /** Shopify source names (`web`, `shopify_draft_order`, ...). */
  salesChannels?: string[];
  /** Every one of these tags must be on the order. */
  tagsAll?: string[];
  /** None of these tags may be on the order. */
  tagsNone?: string[];
  /** Only orders promised within this many hours from now (orders without a promise date do not match). */
  promisedWithinHours?: number;
}

export interface FacilityFilters {
  groupsInclude?: string[];
  groupsExclude?: string[];
  /** Kilometres from the shipping address (facilities or orders without coordinates fail the filter). */
  radiusKm?: number;
  /** Units a facility must keep after the assignment (per line). */
  minStockToKeep?: number;
  /** Orders the facility must still be able to take today (default 1 when the facility has a capacity). */
  minCapacityLeft?: number;
  capabilities?: Capability[];
}

export type UnfilledAction =
  { action: 'next_rule' } | { action: 'queue'; queue: ParkingQueue; autoCancelAfterDays?: number };

export interface InventoryRule {
  name: string;
  filters: FacilityFilters;
  /** Tie-breakers after the score (or the whole order when `useScores` is false: first fit). */
  sorts: Array<Sort<FacilitySortField>>;
  useScores: boolean;
  assignment: { mode: 'single' } | { mode: 'split'; minPartValue?: number };
  onUnfilled: UnfilledAction;
}

export interface Routing {
  name: string;
  enabled: boolean;
  orderFilters: OrderFilters;
  orderSorts: Array<Sort<OrderSortField>>;
  rules: InventoryRule[];
}

export interface BrokeringRun {
  code: string;
  name: string;
  /** `continuous` (as orders arrive), or a schedule as for jobs (`every 30m`, cron) for routing in waves. */
  schedule: string;
  routings: Routing[];
}

export interface ScoringWeights {
  distance: number;
  packages: number;
  capacityHeadroom: number;
  facilityPriority: number;
}

export interface RuleDocument {
  runs: BrokeringRun[];
  scoring: ScoringWeights;
  /** Serve orders with fewer possible facilities first within a routing (ties keep the order sorts). */
  scarceFirst: boolean;
  /** A pickup order the chosen store cannot fill: park it (`queue`) or source it from elsewhere (`transfer`). */
  pickupFallback: 'queue' | 'transfer';
  /** Distance scale for the score: a facility this far away scores 0 on distance. */
  distanceScaleKm: number;
}

export const DEFAULT_WEIGHTS: ScoringWeights = {
  distance: 1,
  packages: 2,
  capacityHeadroom: 0.5,
  facilityPriority: 0.25,
};

/** What a new shop routes with on day one: nearest facility that holds the whole order, else split, else park. */
export function defaultRuleDocument(): RuleDocument {
  return {
    scoring: { ...DEFAULT_WEIGHTS },
    scarceFirst: true,
    pickupFallback: 'queue',
    distanceScaleKm: 2000,
    runs: [
      {
        code: 'default',
        name: 'Every order as it arrives',
        schedule: CONTINUOUS,
        routings: [
          {
            name: 'All waiting orders',
            enabled: true,
            orderFilters: { queues: ['brokering', 'rejected', 'unfillable'] },
            orderSorts: [
              { field: 'priority', direction: 'desc' },
              { field: 'order_date', direction: 'asc' },
            ],
            rules: [
              {
                name: 'One facility for the whole order',
                filters: { capabilities: ['ship'] },
                sorts: [{ field: 'distance', direction: 'asc' }],
                useScores: true,
                assignment: { mode: 'single' },
                onUnfilled: { action: 'next_rule' },
              },
              {
                name: 'Split across facilities',
                filters: { capabilities: ['ship'] },
                sorts: [{ field: 'distance', direction: 'asc' }],
                useScores: true,
                assignment: { mode: 'split' },
                onUnfilled: { action: 'queue', queue: 'unfillable', autoCancelAfterDays: 14 },
              },
            ],
          },
        ],
      },
    ],
  };
}

export interface RuleProblem {
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The checks every section validator shares; each records its problems in the one list. */
interface Checker {
  fail(path: string, message: string): void;
  allowed(path: string, value: Obj, keys: string[]): void;
  num(path: string, value: unknown, opts?: { min?: number; integer?: boolean; optional?: boolean }): number | undefined;
  strings(path: string, value: unknown, allowedValues?: readonly string[]): string[] | undefined;
  sorts<F extends string>(path: string, value: unknown, fields: readonly F[]): Array<Sort<F>>;
  known: { groups: Set<string> };
}

function makeChecker(problems: RuleProblem[], known: { groups: Set<string> }): Checker {
  const fail = (path: string, message: string) => void problems.push({ path, message });
  const allowed = (path: string, value: Obj, keys: string[]) => {
    for (const key of Object.keys(value))
      if (!keys.includes(key)) fail(`${path}.${key}`, `unknown field; allowed: ${keys.join(', ')}`);
  };
  const num = (
    path: string,
    value: unknown,
    opts: { min?: number; integer?: boolean; optional?: boolean } = {},
  ): number | undefined => {
    if (value === undefined && opts.optional) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) return void fail(path, 'must be a number');
    if (opts.integer && !Number.isInteger(value)) return void fail(path, 'must be a whole number');
    if (opts.min !== undefined && value < opts.min) return void fail(path, `must be ≥ ${opts.min}`);
    return value;
  };
  const strings = (path: string, value: unknown, allowedValues?: readonly string[]): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0))
      return void fail(path, 'must be a list of non-empty strings');
    if (allowedValues)
      for (const [i, v] of value.entries())
        if (!allowedValues.includes(v)) fail(`${path}[${i}]`, `"${v}" is not one of ${allowedValues.join(', ')}`);
    return value as string[];
  };
  const sorts = <F extends string>(path: string, value: unknown, fields: readonly F[]): Array<Sort<F>> => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) return (fail(path, 'must be a list of { field, direction }'), []);
    return value.flatMap((s, i) => {
      if (!isObj(s)) return (fail(`${path}[${i}]`, 'must be { field, direction }'), []);
      allowed(`${path}[${i}]`, s, ['field', 'direction']);
      if (!fields.includes(s['field'] as F))
        fail(`${path}[${i}].field`, `"${String(s['field'])}" is not one of ${fields.join(', ')}`);
      const direction = s['direction'] ?? 'asc';
      if (direction !== 'asc' && direction !== 'desc') fail(`${path}[${i}].direction`, 'must be asc or desc');
      return [{ field: s['field'] as F, direction: direction as 'asc' | 'desc' }];
    });
  };
  return { fail, allowed, num, strings, sorts, known };
}

/**
 * Checks a rule document (shape, values, references to facility groups). Returns every problem with
 * its JSON path, or the normalised document (defaults filled in).
 */
export function validateRuleDocument(
  input: unknown,
  known: { groups: Set<string> },
): { ok: true; document: RuleDocument } | { ok: false; problems: RuleProblem[] } {
  const problems: RuleProblem[] = [];
  const c = makeChecker(problems, known);
  const { fail, allowed, num } = c;

  if (!isObj(input))
    return { ok: false, problems: [{ path: '$', message: 'the rule document must be a JSON object' }] };
  allowed('$', input, ['runs', 'scoring', 'scarceFirst', 'pickupFallback', 'distanceScaleKm']);
  const defaults = defaultRuleDocument();
  const scoring = validateScoring(c, input['scoring'] ?? defaults.scoring);
  const scarceFirst = input['scarceFirst'] ?? true;
  if (typeof scarceFirst !== 'boolean') fail('$.scarceFirst', 'must be true or false');
  const pickupFallback = input['pickupFallback'] ?? 'queue';
  if (pickupFallback !== 'queue' && pickupFallback !== 'transfer')
    fail('$.pickupFallback', 'must be "queue" or "transfer"');
  const distanceScaleKm =
    num('$.distanceScaleKm', input['distanceScaleKm'] ?? defaults.distanceScaleKm, { min: 1 }) ?? 1;

  const runsIn = input['runs'];
  const runs: BrokeringRun[] = [];
  if (!Array.isArray(runsIn) || runsIn.length === 0) fail('$.runs', 'must be a non-empty list of brokering runs');
  const codes = new Set<string>();
  for (const [r, runIn] of (Array.isArray(runsIn) ? runsIn : []).entries()) {
    const run = validateRun(c, `$.runs[${r}]`, runIn, codes);
    if (run) runs.push(run);
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    document: {
      runs,
      scoring,
      scarceFirst: scarceFirst === true,
      pickupFallback: pickupFallback as RuleDocument['pickupFallback'],
      distanceScaleKm,
    },
  };
}

function validateScoring(c: Checker, scoringIn: unknown): ScoringWeights {
  const scoring = { ...DEFAULT_WEIGHTS };
  if (!isObj(scoringIn)) c.fail('$.scoring', 'must be an object of weights');
  else {
    c.allowed('$.scoring', scoringIn, Object.keys(DEFAULT_WEIGHTS));
    for (const key of Object.keys(DEFAULT_WEIGHTS) as Array<keyof ScoringWeights>) {
      if (scoringIn[key] !== undefined) scoring[key] = c.num(`$.scoring.${key}`, scoringIn[key], { min: 0 }) ?? 0;
    }
  }
  return scoring;
}

/** One brokering run; `codes` holds the codes of the runs before it (codes must be unique). */
function validateRun(c: Checker, rp: string, runIn: unknown, codes: Set<string>): BrokeringRun | undefined {
  const { fail, allowed } = c;
  if (!isObj(runIn)) {
    fail(rp, 'must be an object');
    return undefined;
  }
  allowed(rp, runIn, ['code', 'name', 'schedule', 'routings']);
  const code = runIn['code'];
  if (typeof code !== 'string' || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(code))
    fail(`${rp}.code`, 'must be 1–40 lowercase letters, digits or dashes');
  else if (codes.has(code)) fail(`${rp}.code`, `"${code}" is used by another run`);
  else codes.add(code);
  const schedule = runIn['schedule'] ?? CONTINUOUS;
  if (typeof schedule !== 'string' || schedule.trim() === '')
    fail(`${rp}.schedule`, 'must be "continuous", "every N(s|m|h|d)" or a cron expression');
  else if (schedule !== CONTINUOUS) {
    try {
      parseSchedule(schedule);
    } catch (error) {
      fail(`${rp}.schedule`, isAppError(error) ? error.message : String(error));
    }
  }
  const routingsIn = runIn['routings'];
  if (!Array.isArray(routingsIn) || routingsIn.length === 0)
    fail(`${rp}.routings`, 'must be a non-empty list of routings');
  const routings: Routing[] = [];
  for (const [g, routingIn] of (Array.isArray(routingsIn) ? routingsIn : []).entries()) {
    const routing = validateRouting(c, `${rp}.routings[${g}]`, routingIn);
    if (routing) routings.push(routing);
  }
  return {
    code: String(code),
    name: typeof runIn['name'] === 'string' ? runIn['name'] : String(code),
    schedule: String(schedule),
    routings,
  };
}

function validateRouting(c: Checker, gp: string, routingIn: unknown): Routing | undefined {
  const { fail, allowed } = c;
  if (!isObj(routingIn)) {
    fail(gp, 'must be an object');
    return undefined;
  }
  allowed(gp, routingIn, ['name', 'enabled', 'orderFilters', 'orderSorts', 'rules']);
  if (typeof routingIn['name'] !== 'string' || routingIn['name'] === '')
    fail(`${gp}.name`, 'must be a non-empty string');
  const enabled = routingIn['enabled'] ?? true;
  if (typeof enabled !== 'boolean') fail(`${gp}.enabled`, 'must be true or false');
  const orderFilters = validateOrderFilters(c, `${gp}.orderFilters`, routingIn['orderFilters'] ?? {});
  const orderSorts = c.sorts(`${gp}.orderSorts`, routingIn['orderSorts'], ORDER_SORT_FIELDS);
  const rulesIn = routingIn['rules'];
  if (!Array.isArray(rulesIn) || rulesIn.length === 0)
    fail(`${gp}.rules`, 'must be a non-empty list of inventory rules');
  const rules: InventoryRule[] = [];
  const ruleList = Array.isArray(rulesIn) ? rulesIn : [];
  for (const [i, ruleIn] of ruleList.entries()) {
    const rule = validateInventoryRule(c, `${gp}.rules[${i}]`, ruleIn, i === ruleList.length - 1);
    if (rule) rules.push(rule);
  }
  return { name: String(routingIn['name']), enabled: enabled === true, orderFilters, orderSorts, rules };
}

function validateOrderFilters(c: Checker, fp: string, ofIn: unknown): OrderFilters {
  const { fail, num, strings } = c;
  const orderFilters: OrderFilters = {};
  if (!isObj(ofIn)) {
    fail(fp, 'must be an object');
    return orderFilters;
  }
  c.allowed(fp, ofIn, [
    'queues',
    'shippingMethods',
    'minPriority',
    'maxPriority',
    'salesChannels',
    'tagsAll',
    'tagsNone',
    'promisedWithinHours',
  ]);
  const queues = strings(`${fp}.queues`, ofIn['queues'], SOURCE_QUEUES);
  if (queues) orderFilters.queues = queues as SourceQueue[];
  const methods = strings(`${fp}.shippingMethods`, ofIn['shippingMethods'], SHIPPING_FILTER);
  if (methods) orderFilters.shippingMethods = methods as OrderFilters['shippingMethods'];
  const minP = num(`${fp}.minPriority`, ofIn['minPriority'], { integer: true, optional: true });
  const maxP = num(`${fp}.maxPriority`, ofIn['maxPriority'], { integer: true, optional: true });
  if (minP !== undefined) orderFilters.minPriority = minP;
  if (maxP !== undefined) orderFilters.maxPriority = maxP;
  if (minP !== undefined && maxP !== undefined && minP > maxP)
    fail(`${fp}.minPriority`, `is above maxPriority (${maxP}): no order can match`);
  for (const key of ['salesChannels', 'tagsAll', 'tagsNone'] as const) {
    const list = strings(`${fp}.${key}`, ofIn[key]);
    if (list) orderFilters[key] = list;
  }
  if (orderFilters.tagsAll && orderFilters.tagsNone) {
    for (const tag of orderFilters.tagsAll)
      if (orderFilters.tagsNone.includes(tag))
        fail(`${fp}.tagsNone`, `"${tag}" is also required by tagsAll: no order can match`);
  }
  const within = num(`${fp}.promisedWithinHours`, ofIn['promisedWithinHours'], { min: 0, optional: true });
  if (within !== undefined) orderFilters.promisedWithinHours = within;
  return orderFilters;
}

/** One inventory rule; the last rule of a routing has no next rule to fall through to. */
function validateInventoryRule(c: Checker, ip: string, ruleIn: unknown, isLast: boolean): InventoryRule | undefined {
  const { fail, allowed } = c;
  if (!isObj(ruleIn)) {
    fail(ip, 'must be an object');
    return undefined;
  }
  allowed(ip, ruleIn, ['name', 'filters', 'sorts', 'useScores', 'assignment', 'onUnfilled']);
  if (typeof ruleIn['name'] !== 'string' || ruleIn['name'] === '') fail(`${ip}.name`, 'must be a non-empty string');
  const filters = validateFacilityFilters(c, `${ip}.filters`, ruleIn['filters'] ?? {});
  const ruleSorts = c.sorts(`${ip}.sorts`, ruleIn['sorts'], FACILITY_SORT_FIELDS);
  const useScores = ruleIn['useScores'] ?? true;
  if (typeof useScores !== 'boolean') fail(`${ip}.useScores`, 'must be true or false');
  const assignment = validateAssignment(c, ip, ruleIn['assignment'] ?? { mode: 'single' });
  const onUnfilled = validateOnUnfilled(c, ip, ruleIn['onUnfilled'] ?? { action: 'next_rule' }, isLast);
  return {
    name: String(ruleIn['name']),
    filters,
    sorts: ruleSorts,
    useScores: useScores === true,
    assignment,
    onUnfilled,
  };
}

function validateFacilityFilters(c: Checker, fp: string, ffIn: unknown): FacilityFilters {
  const { fail, num, strings, known } = c;
  const filters: FacilityFilters = {};
  if (!isObj(ffIn)) {
    fail(fp, 'must be an object');
    return filters;
  }
  c.allowed(fp, ffIn, [
    'groupsInclude',
    'groupsExclude',
    'radiusKm',
    'minStockToKeep',
    'minCapacityLeft',
    'capabilities',
  ]);
  for (const key of ['groupsInclude', 'groupsExclude'] as const) {
    const list = strings(`${fp}.${key}`, ffIn[key]);
    if (!list) continue;
    for (const [k, group] of list.entries())
      if (!known.groups.has(group)) fail(`${fp}.${key}[${k}]`, `no facility group has code "${group}"`);
    filters[key] = list;
  }
  if (filters.groupsInclude && filters.groupsExclude) {
    for (const group of filters.groupsInclude)
      if (filters.groupsExclude.includes(group))
        fail(`${fp}.groupsExclude`, `"${group}" is also included: no facility can match`);
  }
  const radius = num(`${fp}.radiusKm`, ffIn['radiusKm'], { optional: true });
  if (radius !== undefined && radius <= 0) fail(`${fp}.radiusKm`, 'must be above 0');
  else if (radius !== undefined) filters.radiusKm = radius;
  const keep = num(`${fp}.minStockToKeep`, ffIn['minStockToKeep'], { min: 0, integer: true, optional: true });
  if (keep !== undefined) filters.minStockToKeep = keep;
  const cap = num(`${fp}.minCapacityLeft`, ffIn['minCapacityLeft'], { min: 1, integer: true, optional: true });
  if (cap !== undefined) filters.minCapacityLeft = cap;
  const caps = strings(`${fp}.capabilities`, ffIn['capabilities'], CAPABILITIES);
  if (caps) filters.capabilities = caps as Capability[];
  return filters;
}

function validateAssignment(c: Checker, ip: string, asIn: unknown): InventoryRule['assignment'] {
  const { fail } = c;
  let assignment: InventoryRule['assignment'] = { mode: 'single' };
  if (!isObj(asIn)) fail(`${ip}.assignment`, 'must be { mode: "single" } or { mode: "split", minPartValue? }');
  else {
    c.allowed(`${ip}.assignment`, asIn, ['mode', 'minPartValue']);
    if (asIn['mode'] === 'split') {
      const min = c.num(`${ip}.assignment.minPartValue`, asIn['minPartValue'], { min: 0, optional: true });
      assignment = min === undefined ? { mode: 'split' } : { mode: 'split', minPartValue: min };
    } else if (asIn['mode'] !== 'single') fail(`${ip}.assignment.mode`, 'must be "single" or "split"');
    else if (asIn['minPartValue'] !== undefined) fail(`${ip}.assignment.minPartValue`, 'only applies to mode "split"');
  }
  return assignment;
}

function validateOnUnfilled(c: Checker, ip: string, ouIn: unknown, isLast: boolean): UnfilledAction {
  const { fail } = c;
  let onUnfilled: UnfilledAction = { action: 'next_rule' };
  if (!isObj(ouIn))
    fail(`${ip}.onUnfilled`, 'must be { action: "next_rule" } or { action: "queue", queue, autoCancelAfterDays? }');
  else {
    c.allowed(`${ip}.onUnfilled`, ouIn, ['action', 'queue', 'autoCancelAfterDays']);
    if (ouIn['action'] === 'queue') {
      const queue = ouIn['queue'];
      if (!PARKING_QUEUES.includes(queue as ParkingQueue))
        fail(`${ip}.onUnfilled.queue`, `"${String(queue)}" is not one of ${PARKING_QUEUES.join(', ')}`);
      const days = c.num(`${ip}.onUnfilled.autoCancelAfterDays`, ouIn['autoCancelAfterDays'], {
        min: 1,
        integer: true,
        optional: true,
      });
      if (days !== undefined && queue === 'unfillable_hold')
        fail(`${ip}.onUnfilled.autoCancelAfterDays`, 'the unfillable_hold queue is never auto-cancelled');
      onUnfilled =
        days === undefined
          ? { action: 'queue', queue: queue as ParkingQueue }
          : { action: 'queue', queue: queue as ParkingQueue, autoCancelAfterDays: days };
    } else if (ouIn['action'] !== 'next_rule') fail(`${ip}.onUnfilled.action`, 'must be "next_rule" or "queue"');
    else if (isLast) fail(`${ip}.onUnfilled`, 'the last rule has no next rule: say which queue gets what is left');
  }
  return onUnfilled;
}

export function isQueueKind(value: string): value is QueueKind {
  return (QUEUE_KINDS as readonly string[]).includes(value);
}
