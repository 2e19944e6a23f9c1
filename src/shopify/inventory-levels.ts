// Shopify's inventory levels read in bulk: the query and a streaming reader of its result.
import { readBulkResult } from './bulk-runner.js';

export const INVENTORY_BULK = `{ inventoryItems { edges { node {
  id
  inventoryLevels { edges { node { id location { id } quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } }
} } } }`;

/** One inventory level as Shopify holds it. */
export interface ShopifyLevel {
  item: string;
  location: string;
  available: number;
  onHand: number;
  committed: number;
}

/**
 * The levels of an INVENTORY_BULK result, whatever the line order: a level line names its inventory
 * item as its parent, which is all it needs from it, so the lines are read one at a time and nothing
 * is grouped or held (the file may hold hundreds of thousands of levels).
 */
export async function* inventoryLevelsOf(url: string | null): AsyncGenerator<ShopifyLevel> {
  for await (const record of readBulkResult(url)) {
    if (record.__parentId === undefined) continue; // an inventory item line: its id is all it holds
    const quantities = new Map(
      ((record['quantities'] as Array<{ name: string; quantity: number }>) ?? []).map((q) => [q.name, q.quantity]),
    );
    yield {
      item: record.__parentId,
      location: String((record['location'] as { id: string }).id),
      available: quantities.get('available') ?? 0,
      onHand: quantities.get('on_hand') ?? 0,
      committed: quantities.get('committed') ?? 0,
    };
  }
}
