// One Admin GraphQL request, as Shopify handles it: parse and validate against the real schema,
// refuse oversized input, compute the requested cost, take it from the app's bucket (or answer
// THROTTLED), execute, then refund the difference to the actual cost.
import {
  execute,
  getOperationAST,
  GraphQLError,
  parse,
  validate,
  visit,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  type GraphQLTypeResolver,
} from 'graphql';
import { actualCost, requestedCost } from './cost.js';
import type { CostBucket, ThrottleStatus } from './bucket.js';
import type { SimShop } from './state.js';
import { accessDenied, grants, type ScopeRules } from './scopes.js';
import { makeMutationRoot, makeQueryRoot, type RequestContext, type SimApp } from './views.js';

export const MAX_QUERY_COST = 1000;
export const MAX_INPUT_ARRAY = 250;

export interface GraphQLBody {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
}

export interface GraphQLResponse {
  status: number;
  body: {
    data?: unknown;
    errors?: unknown;
    extensions?: {
      cost: { requestedQueryCost: number; actualQueryCost: number | null; throttleStatus: ThrottleStatus };
    };
  };
  /** Points charged after refund (for statistics). */
  charged: number;
  throttled: boolean;
}

/** Field resolver that answers only what a view defines, and names anything else. */
export const strictFieldResolver: GraphQLFieldResolver<unknown, RequestContext> = (source, args, context, info) => {
  if (
    source !== null &&
    typeof source === 'object' &&
    info.fieldName in source &&
    !Object.hasOwn(Object.prototype, info.fieldName)
  ) {
    const value = (source as Record<string, unknown>)[info.fieldName];
    return typeof value === 'function'
      ? (value as (...a: unknown[]) => unknown).call(source, args, context, info)
      : value;
  }
  throw new GraphQLError(
    `Field '${info.parentType.name}.${info.fieldName}' is not implemented by the Switchyard Shopify simulator.`,
    {
      extensions: { code: 'NOT_IMPLEMENTED', typeName: info.parentType.name, fieldName: info.fieldName },
    },
  );
};

/**
 * The field resolver with Shopify's access scopes in front: a field the app lacks the scope for
 * answers ACCESS_DENIED before anything runs (a mutation changes nothing); a field handing out any
 * kind of object (`node`, `nodes`) refuses each object the app may not read.
 */
export function scopedFieldResolver(rules: ScopeRules): GraphQLFieldResolver<unknown, RequestContext> {
  return (source, args, context, info) => {
    const required = rules.field(info.parentType, info.fieldName);
    if (required && !grants(context.app.scopes, required)) throw accessDenied(info.fieldName, required);
    const value = strictFieldResolver(source, args, context, info);
    if (!rules.checksEachObject(info.parentType, info.fieldName)) return value;
    const refuse = (object: unknown) => {
      const type = object && typeof object === 'object' && '__typename' in object ? String(object.__typename) : null;
      const needed = type ? rules.type(type) : undefined;
      return needed && !grants(context.app.scopes, needed) ? accessDenied(info.fieldName, needed) : object;
    };
    // graphql-js reports an Error in a list as that item's error (null there), the others stay.
    return Array.isArray(value) ? value.map(refuse) : throwIfError(refuse(value));
  };
}

const throwIfError = (value: unknown) => {
  if (value instanceof Error) throw value;
  return value;
};

export const typeResolver: GraphQLTypeResolver<unknown, RequestContext> = (value) =>
  value && typeof value === 'object' && '__typename' in value
    ? String((value as { __typename: string }).__typename)
    : undefined;

function largestArray(value: unknown): number {
  if (Array.isArray(value)) return Math.max(value.length, ...value.map(largestArray));
  if (value && typeof value === 'object') return Math.max(0, ...Object.values(value).map(largestArray));
  return 0;
}

function largestLiteralList(document: DocumentNode): number {
  let largest = 0;
  visit(document, {
    ListValue(node) {
      largest = Math.max(largest, node.values.length);
    },
  });
  return largest;
}

const documentCache = new Map<string, DocumentNode | readonly GraphQLError[]>();

/** Parses and validates once per distinct query text (clients send the same documents again and again). */
function parsedDocument(schema: GraphQLSchema, query: string): DocumentNode | readonly GraphQLError[] {
  const cached = documentCache.get(query);
  if (cached) return cached;
  let result: DocumentNode | readonly GraphQLError[];
  try {
    const document = parse(query);
    const errors = validate(schema, document);
    result = errors.length > 0 ? errors : document;
  } catch (error) {
    result = [error as GraphQLError];
  }
  if (documentCache.size > 5_000) documentCache.clear();
  documentCache.set(query, result);
  return result;
}

export async function executeAdminRequest(options: {
  schema: GraphQLSchema;
  shop: SimShop;
  app: SimApp;
  bucket: CostBucket;
  body: GraphQLBody;
  nowMs: number;
  services: RequestContext['services'];
  /** `scopedFieldResolver` of the schema's rules. */
  fieldResolver: GraphQLFieldResolver<unknown, RequestContext>;
}): Promise<GraphQLResponse> {
  const { schema, shop, app, bucket, body, nowMs, services } = options;
  const noCost = (status: number, errors: unknown): GraphQLResponse => ({
    status,
    body: { errors },
    charged: 0,
    throttled: false,
  });

  if (typeof body.query !== 'string' || body.query.trim() === '') {
    return noCost(400, { query: 'Required parameter missing or invalid' });
  }
  const variables = (body.variables && typeof body.variables === 'object' ? body.variables : {}) as Record<
    string,
    unknown
  >;
  const parsed = parsedDocument(schema, body.query);
  if (!('kind' in parsed)) {
    return noCost(
      200,
      parsed.map((e) => ({
        message: e.message,
        locations: e.locations,
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      })),
    );
  }
  const document = parsed;
  const operation = getOperationAST(document, typeof body.operationName === 'string' ? body.operationName : undefined);
  if (!operation) return noCost(200, [{ message: 'Could not determine which operation to run: give operationName.' }]);
  if (operation.operation === 'subscription')
    return noCost(200, [{ message: 'Subscriptions are not supported by the Admin API.' }]);

  const largest = Math.max(largestArray(variables), largestLiteralList(document));
  if (largest > MAX_INPUT_ARRAY) {
    return noCost(200, [
      {
        message: `The input array size of ${largest} is greater than the maximum allowed of ${MAX_INPUT_ARRAY}.`,
        extensions: { code: 'MAX_INPUT_SIZE_EXCEEDED' },
      },
    ]);
  }

  const requested = requestedCost(schema, document, operation, variables);
  const costExtension = (actual: number | null) => ({
    cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: bucket.status(nowMs) },
  });
  if (requested > MAX_QUERY_COST) {
    return {
      status: 200,
      body: {
        errors: [
          {
            message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.`,
            extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST },
          },
        ],
        extensions: costExtension(null),
      },
      charged: 0,
      throttled: false,
    };
  }
  if (!bucket.tryTake(requested, nowMs)) {
    return {
      status: 200,
      body: {
        errors: [
          {
            message: 'Throttled',
            extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' },
          },
        ],
        extensions: costExtension(null),
      },
      charged: 0,
      throttled: true,
    };
  }

  const context: RequestContext = { shop, app, variables, services };
  const rootValue = operation.operation === 'mutation' ? makeMutationRoot(shop, context) : makeQueryRoot(shop, context);
  const result = await execute({
    schema,
    document,
    rootValue,
    contextValue: context,
    variableValues: variables,
    operationName: operation.name?.value,
    fieldResolver: options.fieldResolver,
    typeResolver,
  });
  const actual =
    operation.operation === 'mutation'
      ? requested
      : actualCost(schema, document, operation, variables, result.data as Record<string, unknown> | null);
  const charged = Math.min(requested, actual);
  bucket.refund(requested - charged, nowMs);
  const errors = result.errors?.map((e) => ({
    message: e.message,
    locations: e.locations,
    path: e.path,
    extensions: e.extensions,
  }));
  return {
    status: 200,
    body: { ...(errors ? { errors } : {}), data: result.data ?? null, extensions: costExtension(charged) },
    charged,
    throttled: false,
  };
}
