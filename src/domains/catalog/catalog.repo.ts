import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { products, variants } from './catalog.schema.js';

export type ProductRow = typeof products.$inferSelect;
export type VariantRow = typeof variants.$inferSelect;

export async function findProductByShopifyId(db: Db, shopifyProductId: string): Promise<ProductRow | undefined> {
  const [row] = await db.select().from(products).where(eq(products.shopifyProductId, shopifyProductId)).for('update');
  return row;
}

export async function findVariantsByShopifyIds(db: Db, ids: string[]): Promise<VariantRow[]> {
  if (ids.length === 0) return [];
  return db.select().from(variants).where(inArray(variants.shopifyVariantId, ids));
}
