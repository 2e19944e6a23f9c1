import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';
import {
  getOrder,
  getOrderHistory,
  listOrders,
  ORDER_STATUSES,
  type OrderLineRow,
  type OrderRow,
} from '../domains/orders/index.js';
import { notFound } from '../platform/errors.js';
import { After, DateTime, Id, OrderRef } from './schemas.js';

function present(order: OrderRow & { lines: OrderLineRow[] }) {
  return {
    id: order.id,
    shopifyOrderId: order.shopifyOrderId,
    name: order.name,
    status: order.status,
    sourceName: order.sourceName,
    financialStatus: order.financialStatus,
    fulfillmentStatus: order.fulfillmentStatus,
    cancelledAt: order.cancelledAt?.toISOString() ?? null,
    cancelReason: order.cancelReason,
    shippingMethod: order.shippingMethod,
    shippingLineTitle: order.shippingLineTitle,
    pickupFacilityId: order.pickupFacilityId,
    customer: order.customer,
    shippingAddress: order.shippingAddress,
    latitude: order.latitude,
    longitude: order.longitude,
    tags: order.tags,
    totalPrice: order.totalPrice,
    currencyCode: order.currencyCode,
    createdAt: order.shopifyCreatedAt.toISOString(),
    updatedAt: order.shopifyUpdatedAt.toISOString(),
    lines: order.lines.map((l) => ({
      id: l.id,
      shopifyLineItemId: l.shopifyLineItemId,
      variantId: l.variantId,
      sku: l.sku,
      title: l.title,
      quantity: l.quantity,
      currentQuantity: l.currentQuantity,
      status: l.status,
      facilityId: l.facilityId,
      transferToFacilityId: l.transferToFacilityId,
      held: l.held,
      autoCancelAt: l.autoCancelAt?.toISOString() ?? null,
    })),
  };
}

const OrderParams = Type.Object({ id: OrderRef({ description: 'Switchyard id, or the Shopify GID (URL-encoded)' }) });

export async function findOrder(deps: AppDeps, id: string) {
  // Beyond 15 digits a number is no id Switchyard gave (and would not fit one exactly).
  const order = /^\d{16,}$/.test(id) ? undefined : await getOrder(deps.database.db, /^\d+$/.test(id) ? Number(id) : id);
  if (!order) throw notFound('orders.unknown_order', `There is no order ${id}.`, { id });
  return order;
}

export function registerOrderRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/orders',
    {
      schema: {
        summary: 'Orders, filtered by status, creation date and facility',
        tags: ['orders'],
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)))),
            from: Type.Optional(DateTime()),
            to: Type.Optional(DateTime()),
            facility: Type.Optional(Id()),
            limit: Type.Integer({ minimum: 1, maximum: 250, default: 50 }),
            after: Type.Optional(After()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await listOrders(deps.database.db, {
        status: q.status,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        facilityId: q.facility,
        limit: q.limit,
        afterId: q.after,
      });
      return { orders: rows.map(present), next: rows.length === q.limit ? rows.at(-1)!.id : null };
    },
  );

  app.get(
    '/api/v1/orders/:id',
    { schema: { summary: 'One order with its lines', tags: ['orders'], params: OrderParams } },
    async (request) => present(await findOrder(deps, request.params.id)),
  );

  app.get(
    '/api/v1/orders/:id/history',
    {
      schema: {
        summary: "The order's history: every change, from Shopify or inside Switchyard",
        tags: ['orders'],
        params: OrderParams,
      },
    },
    async (request) => {
      const order = await findOrder(deps, request.params.id);
      const history = await getOrderHistory(deps.database.db, order.id);
      return {
        order: { id: order.id, name: order.name },
        history: history.map((h) => ({ at: h.at.toISOString(), kind: h.kind, source: h.source, details: h.details })),
      };
    },
  );
}
