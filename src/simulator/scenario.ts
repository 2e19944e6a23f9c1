// What people do in Shopify that the OMS must notice: merchants create and edit products and edit
// stock by hand in Shopify admin. (Orders, POS sales, edits and cancellations are in orders.ts.)
import { upcA } from './seed.js';
import type { MutationResult, SimProduct, SimShop } from './state.js';

export function createProduct(
  shop: SimShop,
  input: {
    title: string;
    tags?: string[];
    vendor?: string;
    productType?: string;
    variants: Array<{
      sku: string;
      title?: string;
      price?: string;
      barcode?: string;
      inventoryPolicy?: 'DENY' | 'CONTINUE';
    }>;
    stock?: number;
  },
): MutationResult<SimProduct> {
  if (!input.title.trim())
    return { ok: false, userErrors: [{ code: 'BLANK', field: ['title'], message: "Title can't be blank" }] };
  if (input.variants.length === 0)
    return {
      ok: false,
      userErrors: [{ code: 'BLANK', field: ['variants'], message: 'A product needs at least one variant.' }],
    };
  const at = shop.now();
  const id = shop.nextId();
  const handle = `${input.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${id}`;
  const product: SimProduct = {
    id,
    handle,
    title: input.title,
    status: 'ACTIVE',
    vendor: input.vendor ?? 'Northwind',
    productType: input.productType ?? 'General',
    tags: [...(input.tags ?? [])].sort(),
    imageUrls: [`https://cdn.shopify.com/s/files/1/0000/0001/products/${handle}.jpg`],
    variantIds: [],
    metafields: new Map(),
    createdAt: at,
    updatedAt: at,
  };
  shop.products.set(id, product);
  input.variants.forEach((v, index) => {
    const variantId = shop.nextId();
    const itemId = shop.nextId();
    shop.variants.set(variantId, {
      id: variantId,
      productId: id,
      title: v.title ?? 'Default Title',
      sku: v.sku,
      barcode: v.barcode ?? upcA(String(variantId).padStart(11, '0').slice(-11)),
      price: v.price ?? '25.00',
      position: index + 1,
      inventoryPolicy: v.inventoryPolicy ?? 'DENY',
      inventoryItemId: itemId,
      createdAt: at,
      updatedAt: at,
    });
    shop.inventoryItems.set(itemId, {
      id: itemId,
      variantId,
      tracked: true,
      weightGrams: 500,
      createdAt: at,
      updatedAt: at,
    });
    product.variantIds.push(variantId);
    for (const location of shop.locations.values()) shop.activate(itemId, location.id, { available: input.stock ?? 0 });
  });
  shop.emit({ topic: 'products/create', resource: 'product', productId: id });
  return { ok: true, value: product };
}

export function editProduct(
  shop: SimShop,
  productId: number,
  change: { title?: string; tags?: string[]; status?: SimProduct['status'] },
): MutationResult<SimProduct> {
  const product = shop.products.get(productId);
  if (!product)
    return { ok: false, userErrors: [{ code: 'NOT_FOUND', field: ['id'], message: 'Product does not exist.' }] };
  if (change.title !== undefined) product.title = change.title;
  if (change.tags !== undefined) product.tags = [...change.tags].sort();
  if (change.status !== undefined) product.status = change.status;
  product.updatedAt = shop.now();
  shop.emit({ topic: 'products/update', resource: 'product', productId });
  return { ok: true, value: product };
}

/** A person changes `available` in Shopify admin (a correction, a recount): no app is involved. */
export function adminInventoryEdit(
  shop: SimShop,
  input: { itemId: number; locationId: number; delta: number },
): MutationResult<number> {
  const level = shop.level(input.itemId, input.locationId);
  if (!level)
    return {
      ok: false,
      userErrors: [
        { code: 'ITEM_NOT_STOCKED_AT_LOCATION', field: ['locationId'], message: 'Item not stocked at location.' },
      ],
    };
  shop.changeQuantity(level, 'available', input.delta);
  return { ok: true, value: level.quantities.available };
}
