// Products and variants as downloaded from Shopify (Shopify is their master).
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  numeric,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const products = pgTable(
  'products',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    shopifyProductId: text('shopify_product_id').notNull(),
    handle: text('handle'),
    title: text('title').notNull(),
    status: text('status').notNull().default('ACTIVE'),
    vendor: text('vendor'),
    productType: text('product_type'),
    tags: text('tags').array().notNull().default([]),
    imageUrl: text('image_url'),
    /** Created for an order that referenced a product not downloaded yet; replaced when it arrives. */
    isPlaceholder: boolean('is_placeholder').notNull().default(false),
    shopifyUpdatedAt: ts('shopify_updated_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('products_shopify_id').on(t.shopifyProductId)],
);

export const variants = pgTable(
  'variants',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    productId: bigint('product_id', { mode: 'number' })
      .notNull()
      .references(() => products.id),
    shopifyVariantId: text('shopify_variant_id').notNull(),
    shopifyInventoryItemId: text('shopify_inventory_item_id'),
    sku: text('sku'),
    barcode: text('barcode'),
    title: text('title').notNull(),
    price: numeric('price', { precision: 14, scale: 2 }),
    weightGrams: integer('weight_grams'),
    /** DENY | CONTINUE (Shopify's inventoryPolicy). */
    inventoryPolicy: text('inventory_policy').notNull().default('DENY'),
    imageUrl: text('image_url'),
    isPlaceholder: boolean('is_placeholder').notNull().default(false),
    shopifyUpdatedAt: ts('shopify_updated_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('variants_shopify_id').on(t.shopifyVariantId),
    index('variants_sku').on(t.sku),
    index('variants_barcode').on(t.barcode),
    index('variants_inventory_item').on(t.shopifyInventoryItemId),
  ],
);
