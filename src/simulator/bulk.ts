// Bulk operations as Shopify runs them: asynchronous, one JSONL file of results at an expiring URL.
// Queries: every node of every connection, nested connection nodes on their own lines with
// `__parentId`; at most 5 connections, nested at most 2 deep. Lines are ungrouped (a child anywhere,
// even before its parent) unless the query asks `groupObjects: true` (the default is false since
// 2026-01). Mutations: one line of variables per line of a staged upload, one result line each with
// `__lineNumber`.
import { randomUUID } from 'node:crypto';
import {
  execute,
  executeSync,
  getNamedType,
  getOperationAST,
  isInterfaceType,
  isObjectType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLCompositeType,
  type GraphQLFieldResolver,
  type GraphQLObjectType,
  type GraphQLSchema,
  type GraphQLTypeResolver,
  type SelectionSetNode,
} from 'graphql';
import { makeRandom } from '../platform/random.js';
import { withUnboundedPages } from './connection.js';
import { isConnectionType } from './cost.js';
import { gid, type SimShop } from './state.js';
import { makeMutationRoot, makeQueryRoot, type RequestContext } from './views.js';

export const MAX_BULK_CONNECTIONS = 5;
export const MAX_BULK_NESTING = 2;
export const RESULT_TTL_MS = 7 * 86_400_000;

export type BulkStatus = 'CREATED' | 'RUNNING' | 'COMPLETED' | 'CANCELING' | 'CANCELED' | 'FAILED' | 'EXPIRED';

export interface SimBulkOperation {
  id: number;
  type: 'QUERY' | 'MUTATION';
  status: BulkStatus;
  query: string;
  appToken: string;
  createdAt: Date;
  completedAt: Date | null;
  errorCode: string | null;
  objectCount: number;
  rootObjectCount: number;
  fileSize: number;
  /** Key of the result file in the file store. */
  resultKey: string | null;
}

export interface BulkFiles {
  /** Result files by key, with the time they stop being served. */
  results: Map<string, { content: string; expiresAt: number }>;
  /** Staged uploads by their `key` parameter. */
  staged: Map<string, Buffer>;
}

export interface BulkOptions {
  schema: GraphQLSchema;
  files: BulkFiles;
  baseUrl: () => string;
  /** Concurrent bulk operations per type per shop (Shopify: 5 from 2026-01, 1 before). */
  concurrency: () => number;
  /** How long a bulk operation takes to start and to run (lets tests see RUNNING and cancel). */
  stepMs: () => number;
  fieldResolver: GraphQLFieldResolver<unknown, RequestContext>;
  typeResolver: GraphQLTypeResolver<unknown, RequestContext>;
}

type UserError = { code: string; field: string[] | null; message: string };

/** Checks a bulk query's shape; returns the first problem in words, or null. */
export function checkBulkQuery(schema: GraphQLSchema, document: DocumentNode): string | null {
  const operation = getOperationAST(document);
  if (!operation || operation.operation !== 'query') return 'Bulk queries must be a single query operation.';
  let connections = 0;
  let problem: string | null = null;
  const fragments = new Map(
    document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const walk = (
    selectionSet: SelectionSetNode | undefined,
    type: GraphQLCompositeType,
    depth: number,
    parentSelectsId: boolean,
  ) => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind !== Kind.FIELD) {
        const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
        const on = fragment?.typeCondition
          ? (schema.getType(fragment.typeCondition.name.value) as GraphQLCompositeType)
          : type;
        if (fragment) walk(fragment.selectionSet, on, depth, parentSelectsId);
        continue;
      }
      if (!(isObjectType(type) || isInterfaceType(type))) continue;
      const field = type.getFields()[selection.name.value];
      if (!field) continue;
      const named = getNamedType(field.type);
      if (isConnectionType(named)) {
        connections += 1;
        if (depth + 1 > MAX_BULK_NESTING)
          problem ??= `Bulk queries cannot contain connections with a nesting depth greater than ${MAX_BULK_NESTING}.`;
        if (depth >= 1 && !parentSelectsId)
          problem ??= `The parent 'node' field for a nested connection must select the 'id' field. Connection field: '${selection.name.value}'.`;
        const nodeSelection = nodeSelectionOf(selection);
        const nodeType = getNamedType((named as GraphQLObjectType).getFields()['nodes']!.type) as GraphQLCompositeType;
        walk(nodeSelection, nodeType, depth + 1, selectsId(nodeSelection));
      } else if (isObjectType(named) || isInterfaceType(named)) {
        walk(selection.selectionSet, named, depth, parentSelectsId);
      }
    }
  };
  walk(operation.selectionSet, schema.getQueryType()!, 0, false);
  if (connections === 0) return 'Bulk queries must contain at least one connection.';
  if (connections > MAX_BULK_CONNECTIONS)
    return `Bulk queries cannot contain more than ${MAX_BULK_CONNECTIONS} connections.`;
  return problem;
}

function nodeSelectionOf(connectionField: FieldNode): SelectionSetNode | undefined {
  for (const s of connectionField.selectionSet?.selections ?? []) {
    if (s.kind !== Kind.FIELD) continue;
    if (s.name.value === 'nodes') return s.selectionSet;
    if (s.name.value === 'edges') {
      const node = s.selectionSet?.selections.find(
        (n): n is FieldNode => n.kind === Kind.FIELD && n.name.value === 'node',
      );
      return node?.selectionSet;
    }
  }
  return undefined;
}

const selectsId = (selectionSet: SelectionSetNode | undefined) =>
  selectionSet?.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'id' && !s.alias) ?? false;

/** Flattens a bulk query result into JSONL lines: nodes of nested connections become their own lines. */
export function toJsonLines(
  schema: GraphQLSchema,
  document: DocumentNode,
  data: Record<string, unknown>,
): { lines: string[]; roots: number } {
  const lines: string[] = [];
  let roots = 0;
  const operation = getOperationAST(document)!;

  // Returns a copy of `value` without its connections, emitting their nodes (after the parent line).
  const strip = (
    value: Record<string, unknown>,
    selectionSet: SelectionSetNode | undefined,
    type: GraphQLCompositeType,
    pendingChildren: Array<() => void>,
    parentId: string | null,
  ) => {
    const copy: Record<string, unknown> = {};
    for (const [key, fieldValue] of Object.entries(value)) {
      const selection = findField(selectionSet, key);
      const field =
        selection && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[selection.name.value] : undefined;
      const named = field ? getNamedType(field.type) : undefined;
      if (named && isConnectionType(named) && fieldValue && typeof fieldValue === 'object') {
        const nodeType = getNamedType((named as GraphQLObjectType).getFields()['nodes']!.type) as GraphQLCompositeType;
        pendingChildren.push(() =>
          emitConnection(fieldValue as Record<string, unknown>, nodeSelectionOf(selection!), nodeType, parentId),
        );
      } else if (
        named &&
        (isObjectType(named) || isInterfaceType(named)) &&
        fieldValue &&
        typeof fieldValue === 'object' &&
        !Array.isArray(fieldValue)
      ) {
        copy[key] = strip(
          fieldValue as Record<string, unknown>,
          selection?.selectionSet,
          named,
          pendingChildren,
          parentId,
        );
      } else {
        copy[key] = fieldValue;
      }
    }
    return copy;
  };

  const emitConnection = (
    connection: Record<string, unknown>,
    nodeSelection: SelectionSetNode | undefined,
    nodeType: GraphQLCompositeType,
    parentId: string | null,
  ) => {
    const nodes = Array.isArray(connection['nodes'])
      ? (connection['nodes'] as Array<Record<string, unknown>>)
      : ((connection['edges'] as Array<{ node: Record<string, unknown> }> | undefined) ?? []).map((e) => e.node);
    for (const node of nodes) {
      const children: Array<() => void> = [];
      const line = strip(
        node,
        nodeSelection,
        nodeType,
        children,
        typeof node['id'] === 'string' ? (node['id'] as string) : parentId,
      );
      if (parentId !== null) line['__parentId'] = parentId;
      else roots += 1;
      lines.push(JSON.stringify(line));
      for (const child of children) child();
    }
  };

  const rootChildren: Array<() => void> = [];
  const top = strip(data, operation.selectionSet, schema.getQueryType()!, rootChildren, null);
  for (const child of rootChildren) child();
  // A top-level single object (e.g. `product(id:)`) with nested connections is a line of its own.
  if (Object.keys(top).length > 0 && lines.length === 0) lines.push(JSON.stringify(top));
  return { lines, roots };
}

/**
 * The lines as an ungrouped file has them: Shopify writes them as they come, so a child may come
 * before its parent or far from it, and siblings in any order. A shuffle seeded by the operation
 * stands for that (the same operation gives the same file).
 */
export function ungroupedLines(lines: string[], seed: number): string[] {
  const random = makeRandom(seed);
  const shuffled = [...lines];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return shuffled;
}

function findField(selectionSet: SelectionSetNode | undefined, responseKey: string): FieldNode | undefined {
  for (const s of selectionSet?.selections ?? []) {
    if (s.kind === Kind.FIELD && (s.alias?.value ?? s.name.value) === responseKey) return s;
    if (s.kind === Kind.INLINE_FRAGMENT) {
      const found = findField(s.selectionSet, responseKey);
      if (found) return found;
    }
  }
  return undefined;
}

// eslint-disable-next-line max-lines-per-function -- a factory: the simulated bulk operations' steps are closures over the shop's one list of operations
export function makeBulkRunner(shop: SimShop, options: BulkOptions) {
  const operations = shop.bulkOperations;

  const active = (type: SimBulkOperation['type']) =>
    [...operations.values()].filter(
      (op) => op.type === type && (op.status === 'CREATED' || op.status === 'RUNNING' || op.status === 'CANCELING'),
    ).length;

  function limitError(type: SimBulkOperation['type']): UserError | null {
    const limit = options.concurrency();
    if (active(type) < limit) return null;
    return limit === 1
      ? {
          code: 'OPERATION_IN_PROGRESS',
          field: null,
          message: `A bulk ${type.toLowerCase()} operation for this app and shop is already in progress.`,
        }
      : {
          code: 'LIMIT_REACHED',
          field: null,
          message: `Limit of ${limit} concurrent bulk ${type.toLowerCase()} operations reached for this shop.`,
        };
  }

  function finish(op: SimBulkOperation, lines: string[], roots: number) {
    if (op.status === 'CANCELING') {
      op.status = 'CANCELED';
    } else {
      const content = lines.length > 0 ? `${lines.join('\n')}\n` : '';
      const key = `${shop.domain}/${op.id}/${randomUUID()}.jsonl`;
      options.files.results.set(key, { content, expiresAt: shop.now().getTime() + RESULT_TTL_MS });
      op.status = 'COMPLETED';
      op.resultKey = lines.length > 0 ? key : null;
      op.objectCount = lines.length;
      op.rootObjectCount = roots;
      op.fileSize = Buffer.byteLength(content);
    }
    op.completedAt = shop.now();
    shop.emit({ topic: 'bulk_operations/finish', resource: 'bulk_operation', bulkOperationId: op.id });
  }

  function later(run: () => void | Promise<void>) {
    setTimeout(() => void run(), options.stepMs()).unref();
  }

  function create(type: SimBulkOperation['type'], query: string, ctx: RequestContext): SimBulkOperation {
    const op: SimBulkOperation = {
      id: shop.nextId(),
      type,
      status: 'CREATED',
      query,
      appToken: ctx.app.accessToken,
      createdAt: shop.now(),
      completedAt: null,
      errorCode: null,
      objectCount: 0,
      rootObjectCount: 0,
      fileSize: 0,
      resultKey: null,
    };
    operations.set(op.id, op);
    return op;
  }

  return {
    operations,
    view(op: SimBulkOperation) {
      const expired =
        op.status === 'COMPLETED' && op.completedAt && shop.now().getTime() > op.completedAt.getTime() + RESULT_TTL_MS;
      return {
        id: gid('BulkOperation', op.id),
        type: op.type,
        status: expired ? 'EXPIRED' : op.status,
        query: op.query,
        createdAt: op.createdAt.toISOString(),
        completedAt: op.completedAt?.toISOString() ?? null,
        errorCode: op.errorCode,
        objectCount: String(op.objectCount),
        rootObjectCount: String(op.rootObjectCount),
        fileSize: op.status === 'COMPLETED' ? String(op.fileSize) : null,
        url: op.resultKey && !expired ? `${options.baseUrl()}/_sim/bulk/${op.resultKey}` : null,
        partialDataUrl: null,
      };
    },

    runQuery(
      query: string,
      groupObjects: boolean,
      ctx: RequestContext,
    ): { op: SimBulkOperation | null; userErrors: UserError[] } {
      let document: DocumentNode;
      try {
        document = parse(query);
      } catch (error) {
        return {
          op: null,
          userErrors: [
            { code: 'INVALID', field: ['query'], message: `Invalid bulk query: ${(error as Error).message}` },
          ],
        };
      }
      const invalid = validate(options.schema, document);
      if (invalid.length > 0)
        return {
          op: null,
          userErrors: [{ code: 'INVALID', field: ['query'], message: `Invalid bulk query: ${invalid[0]!.message}` }],
        };
      const shape = checkBulkQuery(options.schema, document);
      if (shape) return { op: null, userErrors: [{ code: 'INVALID', field: ['query'], message: shape }] };
      const limited = limitError('QUERY');
      if (limited) return { op: null, userErrors: [limited] };
      const op = create('QUERY', query, ctx);
      later(() => {
        if (op.status !== 'CREATED') return;
        op.status = 'RUNNING';
        later(() => {
          if (op.status === 'CANCELING') return finish(op, [], 0);
          const result = withUnboundedPages(() =>
            executeSync({
              schema: options.schema,
              document,
              rootValue: makeQueryRoot(shop, ctx),
              contextValue: ctx,
              fieldResolver: options.fieldResolver,
              typeResolver: options.typeResolver,
            }),
          );
          if (result.errors?.length || !result.data) {
            op.status = 'FAILED';
            // A field the app lacks the scope for fails the whole operation (BulkOperationErrorCode).
            op.errorCode = result.errors?.some((e) => e.extensions['code'] === 'ACCESS_DENIED')
              ? 'ACCESS_DENIED'
              : 'INTERNAL_SERVER_ERROR';
            op.completedAt = shop.now();
            shop.emit({ topic: 'bulk_operations/finish', resource: 'bulk_operation', bulkOperationId: op.id });
            return;
          }
          const { lines, roots } = toJsonLines(options.schema, document, result.data as Record<string, unknown>);
          finish(op, groupObjects ? lines : ungroupedLines(lines, op.id), roots);
        });
      });
      return { op, userErrors: [] };
    },

    runMutation(
      mutation: string,
      stagedUploadPath: string,
      ctx: RequestContext,
    ): { op: SimBulkOperation | null; userErrors: UserError[] } {
      let document: DocumentNode;
      try {
        document = parse(mutation);
      } catch (error) {
        return {
          op: null,
          userErrors: [
            { code: 'INVALID_MUTATION', field: ['mutation'], message: `Invalid mutation: ${(error as Error).message}` },
          ],
        };
      }
      const operation = getOperationAST(document);
      const invalid = validate(options.schema, document);
      if (invalid.length > 0 || operation?.operation !== 'mutation' || operation.selectionSet.selections.length !== 1) {
        return {
          op: null,
          userErrors: [
            {
              code: 'INVALID_MUTATION',
              field: ['mutation'],
              message: invalid[0]?.message ?? 'A bulk mutation must be one mutation operation with one mutation field.',
            },
          ],
        };
      }
      const file = options.files.staged.get(stagedUploadPath);
      if (!file)
        return {
          op: null,
          userErrors: [
            { code: 'NO_SUCH_FILE', field: ['stagedUploadPath'], message: `No staged upload at ${stagedUploadPath}.` },
          ],
        };
      const variablesPerLine: Array<Record<string, unknown>> = [];
      for (const [index, raw] of file.toString('utf8').split('\n').entries()) {
        if (raw.trim() === '') continue;
        try {
          variablesPerLine.push(JSON.parse(raw) as Record<string, unknown>);
        } catch {
          return {
            op: null,
            userErrors: [
              {
                code: 'INVALID_STAGED_UPLOAD_FILE',
                field: ['stagedUploadPath'],
                message: `Line ${index + 1} of the staged file is not JSON.`,
              },
            ],
          };
        }
      }
      const limited = limitError('MUTATION');
      if (limited) return { op: null, userErrors: [{ ...limited, field: null }] };
      const op = create('MUTATION', mutation, ctx);
      later(() => {
        if (op.status !== 'CREATED') return;
        op.status = 'RUNNING';
        later(async () => {
          const lines: string[] = [];
          for (const [lineNumber, variables] of variablesPerLine.entries()) {
            if (op.status === 'CANCELING') break;
            const lineContext: RequestContext = { ...ctx, variables };
            const result = await execute({
              schema: options.schema,
              document,
              rootValue: makeMutationRoot(shop, lineContext),
              contextValue: lineContext,
              variableValues: variables,
              fieldResolver: options.fieldResolver,
              typeResolver: options.typeResolver,
            });
            lines.push(
              JSON.stringify({
                data: result.data ?? null,
                ...(result.errors ? { errors: result.errors.map((e) => ({ message: e.message })) } : {}),
                __lineNumber: lineNumber,
              }),
            );
          }
          finish(op, lines, lines.length);
        });
      });
      return { op, userErrors: [] };
    },

    cancel(id: number): { op: SimBulkOperation | null; userErrors: UserError[] } {
      const op = operations.get(id);
      if (!op)
        return {
          op: null,
          userErrors: [{ code: 'INVALID', field: ['id'], message: 'Bulk operation does not exist.' }],
        };
      if (op.status !== 'CREATED' && op.status !== 'RUNNING') {
        return {
          op,
          userErrors: [
            {
              code: 'INVALID',
              field: ['id'],
              message: `A bulk operation cannot be canceled when it is ${op.status.toLowerCase()}.`,
            },
          ],
        };
      }
      op.status = op.status === 'CREATED' ? 'CANCELED' : 'CANCELING';
      if (op.status === 'CANCELED') {
        op.completedAt = shop.now();
        shop.emit({ topic: 'bulk_operations/finish', resource: 'bulk_operation', bulkOperationId: op.id });
      }
      return { op, userErrors: [] };
    },
  };
}

export type BulkRunner = ReturnType<typeof makeBulkRunner>;
