// Access scopes as Shopify enforces them: a field or mutation the app lacks the scope for answers
// ACCESS_DENIED. What each needs is read at load time from the Admin schema's own words where it has
// any, and taken from Shopify's reference pages where it is silent (the tables below, each sourced).
//
// What the pinned 2026-07 schema states: 207 of its 218 webhook topics say which scopes they need
// ("Requires the `read_orders` scope.", "Requires at least one of the following scopes: ...").
// Its query and mutation fields say nothing of scopes. So:
// - subscribing to a topic needs the scopes its description states;
// - reading an object needs the scopes its resource's topics state (an Order: what the orders/*
//   topics state, together), and so does every field that returns such objects (`orders`,
//   `LineItem.variant`, `FulfillmentOrder.assignedLocation.location`...);
// - a mutation needs what Shopify's reference page for it says (MUTATION_SCOPES).
import {
  GraphQLError,
  getNamedType,
  isAbstractType,
  isObjectType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { isConnectionType } from './cost.js';

/** Any one of these scopes grants access. */
export type ScopeRequirement = readonly string[];

/**
 * The webhook topic resource a type's objects belong to, where it is not the type's name in
 * snake_case plural (`Order` → `orders`).
 */
const TYPE_RESOURCE: Record<string, string> = {
  ProductVariant: 'variants', // topics variants/in_stock, variants/out_of_stock
};

/**
 * Types whose topics' words are ambiguous about reading the object; the scopes here are those of
 * the type's reference page (shopify.dev/docs/api/admin-graphql/2026-07/objects/<Type>).
 */
const TYPE_SCOPES: Record<string, ScopeRequirement> = {
  // Together the fulfillment_orders/* topics also name read_buyer_membership_orders; the object
  // page names these four.
  FulfillmentOrder: [
    'read_assigned_fulfillment_orders',
    'read_merchant_managed_fulfillment_orders',
    'read_third_party_fulfillment_orders',
    'read_marketplace_fulfillment_orders',
  ],
  // The fulfillments/* topics name read_fulfillments, the scope of fulfillment services; a
  // fulfilment is read as part of its order.
  Fulfillment: ['read_orders', 'read_marketplace_orders', 'read_buyer_membership_orders'],
  // customers/merge names read_customer_merge, which does not let an app read customers.
  Customer: ['read_customers'],
};

/**
 * Mutations the simulator implements: the schema's descriptions of them state no scope. These are
 * the reference pages' (shopify.dev/docs/api/admin-graphql/2026-07/mutations/<name>); the three
 * marked unconfirmed are the project's reading, not seen on the page. Mutations that act on whatever
 * they are given (tagsAdd, tagsRemove, metafieldsSet) need write access to that object, checked
 * where it is known; webhookSubscriptionCreate needs its topic's scopes.
 */
const MUTATION_SCOPES: Record<string, ScopeRequirement> = {
  inventorySetQuantities: ['write_inventory'],
  inventoryAdjustQuantities: ['write_inventory'],
  fulfillmentCreate: [
    'write_assigned_fulfillment_orders',
    'write_merchant_managed_fulfillment_orders',
    'write_third_party_fulfillment_orders',
  ],
  fulfillmentOrderMove: ['write_merchant_managed_fulfillment_orders', 'write_third_party_fulfillment_orders'],
  fulfillmentOrderLineItemsPreparedForPickup: ['write_merchant_managed_fulfillment_orders'], // unconfirmed
  orderCancel: ['write_orders', 'write_marketplace_orders'], // unconfirmed
  refundCreate: ['write_orders', 'write_marketplace_orders'], // unconfirmed
  productVariantsBulkUpdate: ['write_products'],
};

export interface ScopeRules {
  /** What resolving this field needs, if anything. */
  field(parent: GraphQLObjectType, fieldName: string): ScopeRequirement | undefined;
  /** Fields returning an interface or union (`node`, `nodes`): each object's own type decides. */
  checksEachObject(parent: GraphQLObjectType, fieldName: string): boolean;
  /** What reading an object of this type needs, if anything. */
  type(typeName: string): ScopeRequirement | undefined;
  /** What subscribing to a webhook topic (its enum value, `ORDERS_CREATE`) needs, if anything. */
  topic(topic: string): ScopeRequirement | undefined;
}

/** The scopes a sentence of a description requires ("Requires the `x` scope.", "Requires at least one of ... a, b."), or null. */
export function scopesStatedIn(description: string | null | undefined): string[] | null {
  const sentence = /Requires\b[^.]*scopes?\b[^.]*\./.exec((description ?? '').replace(/\s+/g, ' '))?.[0];
  if (!sentence) return null;
  const scopes = sentence.match(/\b(?:read|write)_[a-z_]+\b/g);
  return scopes ? [...new Set(scopes)] : null;
}

const snakePlural = (typeName: string) => `${typeName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()}s`;

const built = new WeakMap<GraphQLSchema, ScopeRules>();

/** The rules of a schema, read once per process (about 0.1 s). */
export function scopeRulesOf(schema: GraphQLSchema): ScopeRules {
  let rules = built.get(schema);
  if (!rules) {
    rules = buildScopeRules(schema);
    built.set(schema, rules);
  }
  return rules;
}

function buildScopeRules(schema: GraphQLSchema): ScopeRules {
  // Topics, and the resources they belong to (`orders/create` → orders).
  const topics = new Map<string, ScopeRequirement>();
  const resources = new Map<string, Set<string>>();
  const topicEnum = schema.getType('WebhookSubscriptionTopic');
  if (topicEnum && 'getValues' in topicEnum) {
    for (const value of topicEnum.getValues()) {
      const scopes = scopesStatedIn(value.description);
      if (!scopes) continue;
      topics.set(value.name, scopes);
      const resource = /`([a-z_]+)\/[a-z_]+`/.exec(value.description ?? '')?.[1];
      if (resource) resources.set(resource, new Set([...(resources.get(resource) ?? []), ...scopes]));
    }
  }

  const typeRequirements = new Map<string, ScopeRequirement>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const fromTopics = resources.get(TYPE_RESOURCE[type.name] ?? snakePlural(type.name));
    const scopes = TYPE_SCOPES[type.name] ?? (fromTopics ? [...fromTopics] : undefined);
    if (scopes) typeRequirements.set(type.name, scopes);
  }

  /** The object type a field hands out: its own, or a connection's nodes'. */
  const objectTypeOf = (fieldType: GraphQLType) => {
    const named = getNamedType(fieldType);
    if (!isObjectType(named) || !isConnectionType(named)) return named;
    const fields = named.getFields();
    return getNamedType(
      fields['nodes']?.type ?? (getNamedType(fields['edges']!.type) as GraphQLObjectType).getFields()['node']!.type,
    );
  };

  const fields = new Map<GraphQLObjectType, Map<string, ScopeRequirement>>();
  const eachObject = new Map<GraphQLObjectType, Set<string>>();
  const mutationType = schema.getMutationType();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const own = new Map<string, ScopeRequirement>();
    const abstract = new Set<string>();
    for (const field of Object.values(type.getFields())) {
      const returned = objectTypeOf(field.type);
      const required = type === mutationType ? MUTATION_SCOPES[field.name] : typeRequirements.get(returned.name);
      if (required) own.set(field.name, required);
      if (isAbstractType(returned) && schema.getPossibleTypes(returned).some((t) => typeRequirements.has(t.name)))
        abstract.add(field.name);
    }
    if (own.size > 0) fields.set(type, own);
    if (abstract.size > 0) eachObject.set(type, abstract);
  }

  return {
    field: (parent, fieldName) => fields.get(parent)?.get(fieldName),
    checksEachObject: (parent, fieldName) => eachObject.get(parent)?.has(fieldName) ?? false,
    type: (typeName) => typeRequirements.get(typeName),
    topic: (topic) => topics.get(topic),
  };
}

/** Whether granted scopes meet a requirement; `write_x` includes `read_x`, as in Shopify. */
export function grants(granted: ReadonlySet<string>, required: ScopeRequirement): boolean {
  return required.some(
    (scope) => granted.has(scope) || (scope.startsWith('read_') && granted.has(`write_${scope.slice('read_'.length)}`)),
  );
}

/** `read_x` → `write_x`: what changing an object needs, from what reading it needs. */
export const writeScopesFor = (read: ScopeRequirement): ScopeRequirement =>
  read.map((scope) => scope.replace(/^read_/, 'write_'));

/** Shopify's words for a requirement: "`a` access scope, `b` access scope or `c` access scope." */
export function requiredAccessText(required: ScopeRequirement): string {
  const parts = required.map((scope) => `\`${scope}\` access scope`);
  return `${parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} or ${parts.at(-1)}`}.`;
}

/** The error Shopify answers for a field the app lacks the scope for. */
export function accessDenied(fieldName: string, required: ScopeRequirement): GraphQLError {
  const requiredAccess = requiredAccessText(required);
  return new GraphQLError(`Access denied for ${fieldName} field. Required access: ${requiredAccess}`, {
    extensions: { code: 'ACCESS_DENIED', documentation: 'https://shopify.dev/api/usage/access-scopes', requiredAccess },
  });
}

/** A well-formed scope handle (`read_orders`, `write_merchant_managed_fulfillment_orders`). */
export const isScopeHandle = (value: unknown): value is string =>
  typeof value === 'string' && /^[a-z]+(_[a-z]+)+$/.test(value);

/** An AccessScope as `currentAppInstallation { accessScopes }` lists it. */
export function accessScopeView(handle: string) {
  const [action, ...resource] = handle.split('_');
  const verb =
    action === 'write' ? 'Modify' : action === 'read' ? 'Read' : action!.charAt(0).toUpperCase() + action!.slice(1);
  return { handle, description: `${verb} ${resource.join(' ')}` };
}
