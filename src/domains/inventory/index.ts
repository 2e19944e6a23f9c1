// The room's tables are its own: other rooms read them through its functions (docs/TABLES.md).
export {
  LEDGER_KINDS,
  RESERVATION_STATUSES,
  IMPORT_STATUSES,
  type LedgerKind,
  type ReservationStatus,
  type ImportStatus,
} from './inventory.schema.js';
export { facilityAtp, onlineAtp, mirrorQuantity, countsOnline, type FacilityTerms } from './atp.js';
export { computeAtp, knownCommitments, onlineChannel, type VariantAtp, type KnownCommitments } from './atp.repo.js';
export {
  recordEntries,
  lockLevels,
  lockExistingLevels,
  markChanged,
  markAllVariantsChanged,
  compareCountersWithLedger,
  rebuildCountersFromLedger,
  type LedgerEntryInput,
  type RecordOutcome,
  type CounterDrift,
} from './ledger.service.js';
export {
  reserveStock,
  releaseReservation,
  consumeReservation,
  reserveForRouting,
  reserveLevelsGuarded,
  safetyStockSql,
  type ReserveInput,
} from './reservations.service.js';
export {
  recordVariance,
  recordPosSale,
  reversePosSale,
  recordRefundRestocks,
  markOrderVariantsChanged,
  releaseOrderReservations,
  trimLineReservation,
  explainSkuAtp,
  recordOpeningBalances,
  setProductSafetyStock,
  listSafetyStockRules,
  putSafetyStockRule,
  deleteSafetyStockRule,
  setOnlineChannel,
  type SafetyStockRule,
  VARIANCE_KINDS,
  MAX_VARIANCE_UNITS,
  VARIANCE_TEXT_LIMITS,
  type VarianceInput,
  type VarianceKind,
  type SkuExplanation,
} from './inventory.service.js';
export {
  importCountFile,
  formatOf,
  checkFileName,
  DEFAULT_IMPORT_LIMITS,
  MAX_STORED_ERRORS,
  type ImportFormat,
  type ImportReport,
  type ImportOptions,
  type ImportLimits,
} from './erp-import.js';
export { claimChangedVariants, freeLeasesOfGoneProcesses, releaseClaims } from './publish-queue.js';
export {
  publishedPairs,
  publishTargets,
  desiredAvailable,
  shopifySideOf,
  type PublishPair,
  type PublishTarget,
} from './publish-targets.js';
