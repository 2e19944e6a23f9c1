/** A product as Shopify has it, in Switchyard's terms (ids are Shopify GIDs). */
export interface ProductSnapshot {
  shopifyProductId: string;
  handle: string | null;
  title: string;
  status: string;
  vendor: string | null;
  productType: string | null;
  tags: string[];
  imageUrl: string | null;
  updatedAt: Date;
  variants: VariantSnapshot[];
}

export interface VariantSnapshot {
  shopifyVariantId: string;
  shopifyInventoryItemId: string | null;
  sku: string | null;
  barcode: string | null;
  title: string;
  price: string | null;
  weightGrams: number | null;
  inventoryPolicy: 'DENY' | 'CONTINUE';
  updatedAt: Date;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged' | 'stale';
