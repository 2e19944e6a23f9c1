import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';
import { listProducts } from '../domains/catalog/index.js';
import { After } from './schemas.js';

export function registerCatalogRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/products',
    {
      schema: {
        summary: 'Products and variants as downloaded from Shopify',
        tags: ['catalog'],
        querystring: Type.Object(
          {
            q: Type.Optional(
              Type.String({ minLength: 1, maxLength: 200, description: 'matches title, SKU or barcode' }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: 250, default: 50 }),
            after: Type.Optional(After({ description: 'id of the last product of the previous page' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const items = await listProducts(deps.database.db, {
        limit: request.query.limit,
        afterId: request.query.after,
        query: request.query.q,
      });
      return {
        products: items.map((p) => ({ ...p, updatedAt: p.updatedAt.toISOString() })),
        next: items.length === request.query.limit ? items.at(-1)!.id : null,
      };
    },
  );
}
