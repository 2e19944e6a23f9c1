// The room's tables are its own: other rooms read them through its functions (docs/TABLES.md).
export {
  RULE_VERSION_STATUSES,
  STOCK_EFFECTS,
  REPLAY_STATUSES,
  type RuleVersionStatus,
  type StockEffect,
  type ReplayStatus,
} from './routing.schema.js';
export {
  defaultRuleDocument,
  validateRuleDocument,
  CONTINUOUS,
  type RuleDocument,
  type RuleProblem,
  type BrokeringRun,
  type Routing,
  type InventoryRule,
} from './rules.js';
export {
  decide,
  distanceKm,
  type OrderDecision,
  type RoutableOrder,
  type RoutingFacility,
  type StockMap,
} from './engine.js';
export { runBrokering, orderRoutingHistory, type BrokeringOptions, type BrokeringCounts } from './routing.service.js';
export {
  activeRules,
  checkRuleDocument,
  listRuleVersions,
  getRuleVersion,
  createDraft,
  updateDraft,
  deleteDraft,
  activateVersion,
  rollbackRules,
  type RuleVersionRow,
} from './versions.service.js';
export {
  rejectLine,
  listRejectionReasons,
  putRejectionReason,
  type RejectInput,
  type RejectResult,
  type RejectionReasonRow,
} from './rejections.service.js';
export {
  queueSummary,
  queueLines,
  setLineHold,
  linesDueForAutoCancel,
  markAutoCancelled,
  requeueGrownLine,
  orderLineLocations,
  type DueLine,
} from './queues.service.js';
export {
  replayRules,
  simulate,
  measure,
  MAX_REPLAY_ORDERS,
  type ReplayInput,
  type ReplayMetrics,
  type ReplayResult,
} from './replay.js';
export { requestReplay, getReplay, runQueuedReplays, type ReplayRequest } from './replays.service.js';
