// Mutations beyond inventory: fulfilment, order cancellation, tags, metafields, variants, webhooks.
import { GraphQLError } from 'graphql';
import {
  cancelOrder,
  createFulfillment,
  moveFulfillmentOrder,
  prepareForPickup,
  refund,
  type RestockType,
} from './orders.js';
import { gid, parseGid, enumToTopic, type SimShop, type UserError } from './state.js';
import { FulfillmentOrderView, FulfillmentView, OrderView, RefundView } from './views-orders.js';
import { ProductView, VariantView, type RequestContext } from './views.js';
import { accessDenied, grants, writeScopesFor } from './scopes.js';
import { paginate } from './connection.js';
import type { SimBulkOperation } from './bulk.js';

type Args = Record<string, unknown>;
const iso = (d: Date) => d.toISOString();

const userError = (field: string[], message: string, code?: string): UserError => ({
  field,
  message,
  code: code ?? 'INVALID',
});

export const SUPPORTED_WEBHOOK_TOPICS = new Set([
  'orders/create',
  'orders/updated',
  'orders/edited',
  'orders/cancelled',
  'orders/fulfilled',
  'orders/delete',
  'refunds/create',
  'fulfillments/create',
  'fulfillment_orders/moved',
  'fulfillment_orders/line_items_prepared_for_pickup',
  'inventory_levels/update',
  'products/create',
  'products/update',
  'products/delete',
  'bulk_operations/finish',
  'app/uninstalled',
]);

export function webhookSubscriptionView(shop: SimShop, id: number) {
  const sub = shop.webhookSubscriptions.get(id)!;
  return {
    id: gid('WebhookSubscription', sub.id),
    legacyResourceId: String(sub.id),
    topic: sub.topic,
    uri: sub.uri,
    callbackUrl: sub.uri,
    endpoint: { __typename: 'WebhookHttpEndpoint', callbackUrl: sub.uri },
    format: 'JSON',
    apiVersion: { handle: '2026-07', displayName: '2026-07', supported: true },
    includeFields: [],
    createdAt: iso(sub.createdAt),
    updatedAt: iso(sub.updatedAt),
  };
}

/** Refuses (ACCESS_DENIED) a change to an object of `typeName` the app may not write. */
function requireWriteAccess(ctx: RequestContext, fieldName: string, typeName: string): void {
  const read = ctx.services.scopes.type(typeName);
  if (!read) return;
  const required = writeScopesFor(read);
  if (!grants(ctx.app.scopes, required)) throw accessDenied(fieldName, required);
}

// eslint-disable-next-line max-lines-per-function -- a table of simulated mutations, one short entry per Shopify mutation, over the same shop and request
export function makeOtherMutations(shop: SimShop, ctx: RequestContext) {
  return {
    fulfillmentCreate: (args: Args) => {
      const input = args['fulfillment'] as {
        lineItemsByFulfillmentOrder: Array<{
          fulfillmentOrderId: string;
          fulfillmentOrderLineItems?: Array<{ id: string; quantity: number }> | null;
        }>;
        notifyCustomer?: boolean | null;
        trackingInfo?: { company?: string | null; number?: string | null; url?: string | null } | null;
      };
      const entries = input.lineItemsByFulfillmentOrder.map((entry) => ({
        fulfillmentOrderId: parseGid(entry.fulfillmentOrderId, 'FulfillmentOrder') ?? -1,
        lines: entry.fulfillmentOrderLineItems
          ? entry.fulfillmentOrderLineItems.map((l) => ({
              id: parseGid(l.id, 'FulfillmentOrderLineItem') ?? -1,
              quantity: l.quantity,
            }))
          : null,
      }));
      const result = createFulfillment(shop, {
        fulfillmentOrders: entries,
        trackingInfo: input.trackingInfo ?? null,
        notifyCustomer: input.notifyCustomer ?? false,
      });
      return result.ok
        ? { fulfillment: new FulfillmentView(shop, result.value), userErrors: [] }
        : { fulfillment: null, userErrors: result.userErrors.map(({ field, message }) => ({ field, message })) };
    },
    fulfillmentOrderMove: (args: Args) => {
      const id = parseGid(args['id'] as string, 'FulfillmentOrder') ?? -1;
      const locationId = parseGid(args['newLocationId'] as string, 'Location') ?? -1;
      const lines =
        (args['fulfillmentOrderLineItems'] as Array<{ id: string; quantity: number }> | null | undefined) ?? null;
      const result = moveFulfillmentOrder(
        shop,
        id,
        locationId,
        lines
          ? lines.map((l) => ({ id: parseGid(l.id, 'FulfillmentOrderLineItem') ?? -1, quantity: l.quantity }))
          : null,
      );
      if (!result.ok)
        return {
          movedFulfillmentOrder: null,
          originalFulfillmentOrder: null,
          remainingFulfillmentOrder: null,
          userErrors: result.userErrors.map(({ field, message }) => ({ field, message })),
        };
      const { original, moved } = result.value;
      return {
        movedFulfillmentOrder: new FulfillmentOrderView(shop, moved),
        originalFulfillmentOrder: new FulfillmentOrderView(shop, original),
        remainingFulfillmentOrder: original === moved ? null : new FulfillmentOrderView(shop, original),
        userErrors: [],
      };
    },
    fulfillmentOrderLineItemsPreparedForPickup: (args: Args) => {
      const input = args['input'] as { lineItemsByFulfillmentOrder: Array<{ fulfillmentOrderId: string }> };
      const result = prepareForPickup(
        shop,
        input.lineItemsByFulfillmentOrder.map((e) => parseGid(e.fulfillmentOrderId, 'FulfillmentOrder') ?? -1),
      );
      return { userErrors: result.ok ? [] : result.userErrors };
    },
    orderCancel: (args: Args) => {
      const orderId = parseGid(args['orderId'] as string, 'Order');
      const order = orderId === null ? undefined : shop.orders.get(orderId);
      if (!order)
        return {
          job: null,
          orderCancelUserErrors: [userError(['orderId'], 'Order does not exist.', 'NOT_FOUND')],
          userErrors: [],
        };
      if (order.cancelledAt)
        return {
          job: null,
          orderCancelUserErrors: [userError(['orderId'], 'Order is already cancelled.', 'INVALID')],
          userErrors: [],
        };
      // Shopify cancels asynchronously: the job is done once the cancellation has been applied.
      const jobId = shop.nextId();
      shop.jobs.set(jobId, { done: false });
      setImmediate(() => {
        cancelOrder(shop, order.id, { reason: args['reason'] as string, restock: args['restock'] as boolean });
        shop.jobs.set(jobId, { done: true });
      });
      return { job: { id: gid('Job', jobId), done: false }, orderCancelUserErrors: [], userErrors: [] };
    },
    refundCreate: (args: Args) => {
      const input = args['input'] as {
        orderId: string;
        note?: string | null;
        refundLineItems?: Array<{
          lineItemId: string;
          quantity: number;
          restockType?: string | null;
          locationId?: string | null;
        }> | null;
      };
      const orderId = parseGid(input.orderId, 'Order');
      const order = orderId === null ? undefined : shop.orders.get(orderId);
      if (!order)
        return { order: null, refund: null, userErrors: [{ field: ['orderId'], message: 'Order does not exist.' }] };
      const restockTypes: Record<string, RestockType> = {
        CANCEL: 'CANCEL',
        RETURN: 'RETURN',
        NO_RESTOCK: 'NO_RESTOCK',
        LEGACY_RESTOCK: 'CANCEL',
      };
      const lines = (input.refundLineItems ?? []).map((l) => {
        const locationId = l.locationId ? parseGid(l.locationId, 'Location') : null;
        return {
          lineItemId: parseGid(l.lineItemId, 'LineItem') ?? -1,
          quantity: l.quantity,
          restockType: restockTypes[l.restockType ?? 'NO_RESTOCK'] ?? 'NO_RESTOCK',
          ...(locationId !== null ? { locationId } : {}),
        };
      });
      const result = refund(shop, order.id, { lines, ...(input.note ? { note: input.note } : {}) });
      if (!result.ok)
        return {
          order: null,
          refund: null,
          userErrors: result.userErrors.map(({ field, message }) => ({ field, message })),
        };
      return { order: new OrderView(shop, order), refund: new RefundView(shop, order, result.value), userErrors: [] };
    },
    tagsAdd: (args: Args) => changeTags(shop, ctx, args, 'add'),
    tagsRemove: (args: Args) => changeTags(shop, ctx, args, 'remove'),
    metafieldsSet: (args: Args) => {
      const inputs = args['metafields'] as Array<{
        ownerId: string;
        namespace?: string | null;
        key: string;
        type?: string | null;
        value: string;
      }>;
      if (inputs.some((m) => parseGid(m.ownerId, 'Product') !== null))
        requireWriteAccess(ctx, 'metafieldsSet', 'Product');
      if (inputs.length > 25)
        throw new GraphQLError('metafieldsSet accepts at most 25 metafields per call.', {
          extensions: { code: 'BAD_REQUEST' },
        });
      const errors: UserError[] = [];
      inputs.forEach((m, index) => {
        const productId = parseGid(m.ownerId, 'Product');
        if (productId === null || !shop.products.has(productId))
          errors.push(
            userError(
              ['metafields', String(index), 'ownerId'],
              'Owner does not exist (the simulator supports product metafields).',
              'INVALID_VALUE',
            ),
          );
        if (!m.type)
          errors.push(
            userError(['metafields', String(index), 'type'], 'Type is required for a new metafield.', 'BLANK'),
          );
      });
      if (errors.length > 0) return { metafields: null, userErrors: errors };
      const at = shop.now();
      const result = inputs.map((m) => {
        const product = shop.products.get(parseGid(m.ownerId, 'Product')!)!;
        const namespace = m.namespace ?? '$app';
        const entry = { namespace, key: m.key, type: m.type!, value: m.value, updatedAt: at };
        product.metafields.set(`${namespace}.${m.key}`, entry);
        product.updatedAt = at;
        shop.emit({ topic: 'products/update', resource: 'product', productId: product.id });
        return {
          id: gid('Metafield', product.id * 1000 + m.key.length),
          namespace,
          key: m.key,
          type: entry.type,
          value: m.value,
          updatedAt: iso(at),
        };
      });
      return { metafields: result, userErrors: [] };
    },
    productVariantsBulkUpdate: (args: Args) => {
      const productId = parseGid(args['productId'] as string, 'Product');
      const product = productId === null ? undefined : shop.products.get(productId);
      if (!product)
        return {
          product: null,
          productVariants: null,
          userErrors: [userError(['productId'], 'Product does not exist', 'PRODUCT_DOES_NOT_EXIST')],
        };
      const inputs = args['variants'] as Array<{
        id?: string | null;
        inventoryPolicy?: 'DENY' | 'CONTINUE' | null;
        price?: string | null;
        barcode?: string | null;
      }>;
      const errors: UserError[] = [];
      inputs.forEach((input, index) => {
        const id = parseGid(input.id ?? null, 'ProductVariant');
        if (id === null || shop.variants.get(id)?.productId !== product.id)
          errors.push(
            userError(
              ['variants', String(index), 'id'],
              'Product variant does not exist on this product',
              'PRODUCT_VARIANT_DOES_NOT_EXIST',
            ),
          );
      });
      if (errors.length > 0) return { product: null, productVariants: null, userErrors: errors };
      const at = shop.now();
      const updated = inputs.map((input) => {
        const variant = shop.variants.get(parseGid(input.id!, 'ProductVariant')!)!;
        if (input.inventoryPolicy) variant.inventoryPolicy = input.inventoryPolicy;
        if (input.price) variant.price = input.price;
        if (input.barcode !== undefined && input.barcode !== null) variant.barcode = input.barcode;
        variant.updatedAt = at;
        return new VariantView(shop, variant);
      });
      product.updatedAt = at;
      shop.emit({ topic: 'products/update', resource: 'product', productId: product.id });
      return { product: new ProductView(shop, product), productVariants: updated, userErrors: [] };
    },
    webhookSubscriptionCreate: (args: Args) => {
      const topic = args['topic'] as string;
      const required = ctx.services.scopes.topic(topic);
      if (required && !grants(ctx.app.scopes, required)) throw accessDenied('webhookSubscriptionCreate', required);
      const input = args['webhookSubscription'] as { uri?: string | null; callbackUrl?: string | null };
      const uri = input.uri ?? input.callbackUrl ?? null;
      if (!SUPPORTED_WEBHOOK_TOPICS.has(enumToTopic(topic))) {
        return {
          webhookSubscription: null,
          userErrors: [{ field: ['topic'], message: `The simulator does not deliver ${topic}.` }],
        };
      }
      if (!uri || !/^https?:\/\//.test(uri))
        return {
          webhookSubscription: null,
          userErrors: [{ field: ['webhookSubscription', 'uri'], message: 'Address is invalid' }],
        };
      const duplicate = [...shop.webhookSubscriptions.values()].find(
        (s) => s.topic === topic && s.uri === uri && s.appToken === ctx.app.accessToken,
      );
      if (duplicate)
        return {
          webhookSubscription: null,
          userErrors: [
            { field: ['webhookSubscription', 'uri'], message: 'Address for this topic has already been taken' },
          ],
        };
      const at = shop.now();
      const id = shop.nextId();
      shop.webhookSubscriptions.set(id, {
        id,
        topic,
        uri,
        appToken: ctx.app.accessToken,
        createdAt: at,
        updatedAt: at,
      });
      return { webhookSubscription: webhookSubscriptionView(shop, id), userErrors: [] };
    },
    stagedUploadsCreate: (args: Args) => {
      const inputs = args['input'] as Array<{
        resource: string;
        filename: string;
        mimeType: string;
        httpMethod?: string | null;
      }>;
      const unsupported = inputs.findIndex((i) => i.resource !== 'BULK_MUTATION_VARIABLES');
      if (unsupported >= 0)
        return {
          stagedTargets: null,
          userErrors: [
            {
              field: ['input', String(unsupported), 'resource'],
              message: 'The simulator stages BULK_MUTATION_VARIABLES files only.',
            },
          ],
        };
      return { stagedTargets: inputs.map((input) => ctx.services.stage(input)), userErrors: [] };
    },
    bulkOperationRunQuery: (args: Args) => {
      const { op, userErrors } = ctx.services.bulk.runQuery(
        args['query'] as string,
        args['groupObjects'] === true,
        ctx,
      );
      return { bulkOperation: op ? ctx.services.bulk.view(op) : null, userErrors };
    },
    bulkOperationRunMutation: (args: Args) => {
      const { op, userErrors } = ctx.services.bulk.runMutation(
        args['mutation'] as string,
        args['stagedUploadPath'] as string,
        ctx,
      );
      return { bulkOperation: op ? ctx.services.bulk.view(op) : null, userErrors };
    },
    bulkOperationCancel: (args: Args) => {
      const { op, userErrors } = ctx.services.bulk.cancel(parseGid(args['id'] as string, 'BulkOperation') ?? -1);
      return { bulkOperation: op ? ctx.services.bulk.view(op) : null, userErrors };
    },
    webhookSubscriptionDelete: (args: Args) => {
      const id = parseGid(args['id'] as string, 'WebhookSubscription');
      const sub = id === null ? undefined : shop.webhookSubscriptions.get(id);
      if (!sub || sub.appToken !== ctx.app.accessToken)
        return {
          deletedWebhookSubscriptionId: null,
          userErrors: [{ field: ['id'], message: 'Webhook subscription does not exist' }],
        };
      shop.webhookSubscriptions.delete(sub.id);
      return { deletedWebhookSubscriptionId: gid('WebhookSubscription', sub.id), userErrors: [] };
    },
  };
}

function changeTags(shop: SimShop, ctx: RequestContext, args: Args, how: 'add' | 'remove') {
  const id = args['id'] as string;
  const fieldName = how === 'add' ? 'tagsAdd' : 'tagsRemove';
  const tags = (args['tags'] as string[])
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  const apply = (current: string[]) =>
    (how === 'add' ? [...new Set([...current, ...tags])] : current.filter((t) => !tags.includes(t))).sort();
  const productId = parseGid(id, 'Product');
  const orderId = parseGid(id, 'Order');
  if (productId !== null && shop.products.has(productId)) {
    requireWriteAccess(ctx, fieldName, 'Product');
    const product = shop.products.get(productId)!;
    product.tags = apply(product.tags);
    product.updatedAt = shop.now();
    shop.emit({ topic: 'products/update', resource: 'product', productId });
    return { node: new ProductView(shop, product), userErrors: [] };
  }
  if (orderId !== null && shop.orders.has(orderId)) {
    requireWriteAccess(ctx, fieldName, 'Order');
    const order = shop.orders.get(orderId)!;
    order.tags = apply(order.tags);
    order.updatedAt = shop.now();
    shop.emit({ topic: 'orders/updated', resource: 'order', orderId });
    return { node: new OrderView(shop, order), userErrors: [] };
  }
  return {
    node: null,
    userErrors: [{ field: ['id'], message: 'Resource does not exist (the simulator tags products and orders).' }],
  };
}

export function makeOtherQueries(shop: SimShop, ctx: RequestContext) {
  return {
    job: (args: Args) => {
      const id = parseGid(args['id'] as string, 'Job');
      const job = id === null ? undefined : shop.jobs.get(id);
      return job ? { id: gid('Job', id!), done: job.done } : null;
    },
    bulkOperation: (args: Args) => {
      const op = shop.bulkOperations.get(parseGid(args['id'] as string, 'BulkOperation') ?? -1);
      return op && op.appToken === ctx.app.accessToken ? ctx.services.bulk.view(op) : null;
    },
    // Deprecated since 2026-01 (use bulkOperations with a status filter), still in the schema.
    currentBulkOperation: (args: { type?: string | null }) => {
      const type = args.type ?? 'QUERY';
      let latest: SimBulkOperation | undefined;
      for (const op of shop.bulkOperations.values()) {
        if (op.appToken === ctx.app.accessToken && op.type === type && (!latest || op.id > latest.id)) latest = op;
      }
      return latest ? ctx.services.bulk.view(latest) : null;
    },
    bulkOperations: (args: {
      first?: number | null;
      last?: number | null;
      after?: string | null;
      before?: string | null;
      reverse?: boolean | null;
      query?: string | null;
      sortKey?: string | null;
    }) => {
      const statusFilter = /status:(\w+)/i.exec(args.query ?? '')?.[1]?.toUpperCase();
      const typeFilter = /operation_type:(\w+)/i.exec(args.query ?? '')?.[1]?.toUpperCase();
      const ops = [...shop.bulkOperations.values()]
        .filter((op) => op.appToken === ctx.app.accessToken)
        .map((op) => ({ op, view: ctx.services.bulk.view(op) }))
        .filter(
          ({ view }) => (!statusFilter || view.status === statusFilter) && (!typeFilter || view.type === typeFilter),
        )
        .sort((a, b) =>
          args.sortKey === 'COMPLETED_AT'
            ? (a.op.completedAt?.getTime() ?? 0) - (b.op.completedAt?.getTime() ?? 0)
            : a.op.id - b.op.id,
        );
      return paginate(
        ops,
        args,
        ({ op }) => op.id,
        ({ view }) => view,
      );
    },
    webhookSubscriptions: (args: { first?: number | null; topics?: string[] | null }) => {
      const subs = [...shop.webhookSubscriptions.values()].filter(
        (s) => s.appToken === ctx.app.accessToken && (!args.topics || args.topics.includes(s.topic)),
      );
      const nodes = subs.slice(0, args.first ?? 250).map((s) => webhookSubscriptionView(shop, s.id));
      return {
        nodes,
        edges: nodes.map((node) => ({ cursor: node.id, node })),
        pageInfo: {
          hasNextPage: subs.length > nodes.length,
          hasPreviousPage: false,
          startCursor: nodes[0]?.id ?? null,
          endCursor: nodes.at(-1)?.id ?? null,
        },
      };
    },
  };
}
