/** Webhook topics Switchyard subscribes to and processes (persisted in the inbox: stable names). */
export const ORDER_TOPICS = [
  'orders/create',
  'orders/updated',
  'orders/cancelled',
  'orders/fulfilled',
  'orders/edited',
  'refunds/create',
] as const;
export const PRODUCT_TOPICS = ['products/create', 'products/update', 'products/delete'] as const;
export const INVENTORY_TOPICS = ['inventory_levels/update'] as const;
export const OTHER_TOPICS = ['app/uninstalled', 'bulk_operations/finish'] as const;

export const HANDLED_TOPICS = new Set<string>([
  ...ORDER_TOPICS,
  ...PRODUCT_TOPICS,
  ...INVENTORY_TOPICS,
  ...OTHER_TOPICS,
]);

/** `orders/create` → `ORDERS_CREATE` (the GraphQL enum used to subscribe). */
export const subscriptionTopic = (topic: string) => topic.replace('/', '_').toUpperCase();
