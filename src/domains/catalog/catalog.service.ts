// Products and variants follow Shopify. Applying a snapshot is idempotent and order-independent: an
// older snapshot than the one stored changes nothing. An order may name a variant before the product
// has been downloaded: a placeholder stands in and is filled when the product arrives.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/client.js';
import { products, variants } from './catalog.schema.js';
import * as repo from './catalog.repo.js';
import type { ProductSnapshot, UpsertOutcome, VariantSnapshot } from './catalog.types.js';

function variantValues(productId: number, v: VariantSnapshot, now: Date) {
  return {
    productId,
    shopifyVariantId: v.shopifyVariantId,
    shopifyInventoryItemId: v.shopifyInventoryItemId,
    sku: v.sku,
    barcode: v.barcode,
    title: v.title,
    price: v.price,
    weightGrams: v.weightGrams,
    inventoryPolicy: v.inventoryPolicy,
    isPlaceholder: false,
    shopifyUpdatedAt: v.updatedAt,
    updatedAt: now,
  };
}

/** Applies a product snapshot in its own transaction; returns what happened. */
export async function applyProductSnapshot(db: Db, snapshot: ProductSnapshot, now: Date): Promise<UpsertOutcome> {
  return db.transaction(async (tx) => {
    const existing = await repo.findProductByShopifyId(tx, snapshot.shopifyProductId);
    if (
      existing &&
      !existing.isPlaceholder &&
      existing.shopifyUpdatedAt &&
      existing.shopifyUpdatedAt.getTime() > snapshot.updatedAt.getTime()
    ) {
      return 'stale';
    }
    const values = {
      shopifyProductId: snapshot.shopifyProductId,
      handle: snapshot.handle,
      title: snapshot.title,
      status: snapshot.status,
      vendor: snapshot.vendor,
      productType: snapshot.productType,
      tags: [...snapshot.tags].sort(),
      imageUrl: snapshot.imageUrl,
      isPlaceholder: false,
      shopifyUpdatedAt: snapshot.updatedAt,
      updatedAt: now,
    };
    let productId: number;
    let outcome: UpsertOutcome;
    if (!existing) {
      const [row] = await tx.insert(products).values(values).returning({ id: products.id });
      productId = row!.id;
      outcome = 'created';
    } else {
      productId = existing.id;
      const same =
        !existing.isPlaceholder &&
        existing.title === values.title &&
        existing.status === values.status &&
        existing.shopifyUpdatedAt?.getTime() === snapshot.updatedAt.getTime() &&
        JSON.stringify(existing.tags) === JSON.stringify(values.tags);
      outcome = same ? 'unchanged' : 'updated';
      if (!same) await tx.update(products).set(values).where(eq(products.id, productId));
    }
    const known = new Map(
      (
        await repo.findVariantsByShopifyIds(
          tx,
          snapshot.variants.map((v) => v.shopifyVariantId),
        )
      ).map((v) => [v.shopifyVariantId, v]),
    );
    const placeholderProducts = new Set(
      [...known.values()].filter((v) => v.isPlaceholder && v.productId !== productId).map((v) => v.productId),
    );
    for (const variant of snapshot.variants) {
      const row = known.get(variant.shopifyVariantId);
      if (!row) {
        await tx.insert(variants).values(variantValues(productId, variant, now));
        if (outcome === 'unchanged') outcome = 'updated';
      } else if (
        row.isPlaceholder ||
        row.productId !== productId ||
        !row.shopifyUpdatedAt ||
        row.shopifyUpdatedAt.getTime() <= variant.updatedAt.getTime()
      ) {
        const changed =
          row.isPlaceholder ||
          row.productId !== productId ||
          row.sku !== variant.sku ||
          row.barcode !== variant.barcode ||
          row.title !== variant.title ||
          row.inventoryPolicy !== variant.inventoryPolicy ||
          row.shopifyInventoryItemId !== variant.shopifyInventoryItemId ||
          row.price !== variant.price;
        if (changed) {
          await tx
            .update(variants)
            .set(variantValues(productId, variant, now))
            .where(eq(variants.id, row.id));
          if (outcome === 'unchanged') outcome = 'updated';
        }
      }
    }
    // A placeholder product whose variants all moved to their real product is no longer needed.
    for (const placeholderId of placeholderProducts) {
      await tx.execute(
        sql`delete from products p where p.id = ${placeholderId} and p.is_placeholder and not exists (select 1 from variants v where v.product_id = p.id)`,
      );
    }
    return outcome;
  });
}

/**
 * The variant an order line names, creating a placeholder (product + variant) when the catalog has
 * not downloaded it yet. Returns the variant id, or null when the line has no variant (custom item).
 */
export async function ensureVariant(
  db: Db,
  input: { shopifyVariantId: string | null; sku: string | null; title: string },
  now: Date,
): Promise<number | null> {
  if (!input.shopifyVariantId) return null;
  const [found] = await db
    .select({ id: variants.id })
    .from(variants)
    .where(eq(variants.shopifyVariantId, input.shopifyVariantId));
  if (found) return found.id;
  const [product] = await db
    .insert(products)
    .values({
      shopifyProductId: `placeholder:${input.shopifyVariantId}`,
      title: input.title,
      status: 'UNKNOWN',
      isPlaceholder: true,
      updatedAt: now,
    })
    .onConflictDoUpdate({ target: products.shopifyProductId, set: { updatedAt: now } })
    .returning({ id: products.id });
  await db
    .insert(variants)
    .values({
      productId: product!.id,
      shopifyVariantId: input.shopifyVariantId,
      sku: input.sku,
      title: input.title,
      isPlaceholder: true,
      updatedAt: now,
    })
    .onConflictDoNothing();
  const [created] = await db
    .select({ id: variants.id })
    .from(variants)
    .where(eq(variants.shopifyVariantId, input.shopifyVariantId));
  return created!.id;
}

/** products/delete: the product stays for the orders that reference it, marked as deleted in Shopify. */
export async function markProductDeleted(db: Db, shopifyProductId: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(products)
    .set({ status: 'DELETED', updatedAt: now })
    .where(eq(products.shopifyProductId, shopifyProductId))
    .returning({ id: products.id });
  return rows.length > 0;
}

export interface ProductListItem {
  id: number;
  shopifyProductId: string;
  title: string;
  status: string;
  tags: string[];
  isPlaceholder: boolean;
  updatedAt: Date;
  variants: Array<{
    id: number;
    shopifyVariantId: string;
    sku: string | null;
    barcode: string | null;
    title: string;
    inventoryPolicy: string;
    isPlaceholder: boolean;
  }>;
}

/** Products by id, with their variants; `query` matches title, SKU or barcode. */
export async function listProducts(
  db: Db,
  options: { limit: number; afterId?: number | undefined; query?: string | undefined },
): Promise<ProductListItem[]> {
  const pattern = options.query ? `%${options.query.toLowerCase()}%` : null;
  const rows = await db
    .select()
    .from(products)
    .where(
      and(
        options.afterId ? sql`${products.id} > ${options.afterId}` : undefined,
        pattern
          ? sql`(lower(${products.title}) like ${pattern} or exists (select 1 from variants v where v.product_id = ${products.id} and (lower(v.sku) like ${pattern} or v.barcode like ${pattern})))`
          : undefined,
      ),
    )
    .orderBy(products.id)
    .limit(options.limit);
  if (rows.length === 0) return [];
  const variantRows = await db
    .select()
    .from(variants)
    .where(sql`${variants.productId} in ${rows.map((r) => r.id)}`)
    .orderBy(variants.id);
  return rows.map((p) => ({
    id: p.id,
    shopifyProductId: p.shopifyProductId,
    title: p.title,
    status: p.status,
    tags: p.tags,
    isPlaceholder: p.isPlaceholder,
    updatedAt: p.updatedAt,
    variants: variantRows
      .filter((v) => v.productId === p.id)
      .map((v) => ({
        id: v.id,
        shopifyVariantId: v.shopifyVariantId,
        sku: v.sku,
        barcode: v.barcode,
        title: v.title,
        inventoryPolicy: v.inventoryPolicy,
        isPlaceholder: v.isPlaceholder,
      })),
  }));
}

/** The variants of a Shopify inventory item (usually one). */
export async function variantIdsOfInventoryItem(db: Db, inventoryItemId: string): Promise<number[]> {
  const rows = await db
    .select({ id: variants.id })
    .from(variants)
    .where(eq(variants.shopifyInventoryItemId, inventoryItemId));
  return rows.map((r) => r.id);
}
