export * from './catalog.schema.js';
export type { ProductSnapshot, VariantSnapshot, UpsertOutcome } from './catalog.types.js';
export { applyProductSnapshot, ensureVariant, markProductDeleted, listProducts, type ProductListItem } from './catalog.service.js';
