// The room's tables are its own: other rooms read them through its functions (docs/TABLES.md).
export type { ProductSnapshot, VariantSnapshot, UpsertOutcome } from './catalog.types.js';
export {
  applyProductSnapshot,
  ensureVariant,
  variantIdsOfInventoryItem,
  markProductDeleted,
  listProducts,
  type ProductListItem,
} from './catalog.service.js';
