export * from './catalog.schema.js';
export type { ProductSnapshot, VariantSnapshot, UpsertOutcome } from './catalog.types.js';
export { applyProductSnapshot, ensureVariant, countPlaceholders, markProductDeleted } from './catalog.service.js';
