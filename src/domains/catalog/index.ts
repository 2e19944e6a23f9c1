export * from './catalog.schema.js';
export type { ProductSnapshot, VariantSnapshot, UpsertOutcome } from './catalog.types.js';
export { applyProductSnapshot, ensureVariant, countPlaceholders } from './catalog.service.js';
