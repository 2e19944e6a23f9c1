// The catalog most inventory tests start from: one product, a variant per SKU.
import { applyProductSnapshot } from '../../src/domains/catalog/index.js';
import type { Db } from '../../src/platform/db/client.js';

/**
 * Product 1 ("Tee") with a variant per SKU, in order: variant and inventory item ids 1, 2, …,
 * price 10.00, 100 g; `barcodeOf(i)` gives the i-th variant's barcode (none by default).
 */
export async function seedTee(
  db: Db,
  skus: string[],
  now: Date,
  barcodeOf: (index: number) => string | null = () => null,
): Promise<void> {
  await applyProductSnapshot(
    db,
    {
      shopifyProductId: 'gid://shopify/Product/1',
      handle: 'tee',
      title: 'Tee',
      status: 'ACTIVE',
      vendor: null,
      productType: null,
      tags: [],
      imageUrl: null,
      updatedAt: now,
      variants: skus.map((sku, i) => ({
        shopifyVariantId: `gid://shopify/ProductVariant/${i + 1}`,
        shopifyInventoryItemId: `gid://shopify/InventoryItem/${i + 1}`,
        sku,
        barcode: barcodeOf(i),
        title: sku,
        price: '10.00',
        weightGrams: 100,
        inventoryPolicy: 'DENY' as const,
        updatedAt: now,
      })),
    },
    now,
  );
}
