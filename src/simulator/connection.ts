// Relay-style cursor pagination as Shopify serves it: first/after, last/before, reverse, sortKey.
import { GraphQLError } from 'graphql';

export const MAX_PAGE_SIZE = 250;

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  reverse?: boolean | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Array<Edge<T>>;
  nodes: T[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const encodeCursor = (index: number, id: number) => Buffer.from(JSON.stringify({ i: index, id })).toString('base64url');

function decodeCursor(cursor: string): { i: number; id: number } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { i: number; id: number };
    if (typeof parsed.i === 'number' && typeof parsed.id === 'number') return parsed;
  } catch {
    // fall through
  }
  throw new GraphQLError(`Invalid cursor for current pagination sort.`, { extensions: { code: 'BAD_REQUEST' } });
}

/** Bulk queries page through everything: while set, connections without first/last return all items. */
let unbounded = false;

/** Runs `fn` (synchronously) with unbounded connections, as a bulk query does. */
export function withUnboundedPages<T>(fn: () => T): T {
  unbounded = true;
  try {
    return fn();
  } finally {
    unbounded = false;
  }
}

export function checkPageArgs(args: ConnectionArgs): number {
  const { first, last } = args;
  if (unbounded && first == null && last == null) return Number.MAX_SAFE_INTEGER;
  if ((first === undefined || first === null) && (last === undefined || last === null)) {
    throw new GraphQLError('you must provide one of first or last', { extensions: { code: 'BAD_REQUEST' } });
  }
  if (first != null && last != null) {
    throw new GraphQLError('providing both first and last is not supported', { extensions: { code: 'BAD_REQUEST' } });
  }
  const size = (first ?? last)!;
  if (size < 0 || size > MAX_PAGE_SIZE) {
    throw new GraphQLError(
      `The ${first != null ? 'first' : 'last'} argument must be between 0 and ${MAX_PAGE_SIZE}, got ${size}.`,
      {
        extensions: { code: 'BAD_REQUEST' },
      },
    );
  }
  return size;
}

/**
 * Pages over `sorted` (already filtered and in sort-key order). A cursor holds the position and id
 * of its item, so paging stays stable while items are added at the end.
 */
export function paginate<T, V>(
  sorted: T[],
  args: ConnectionArgs,
  idOf: (item: T) => number,
  view: (item: T) => V,
): Connection<V> {
  const size = checkPageArgs(args);
  const list = args.reverse ? [...sorted].reverse() : sorted;
  const indexOfCursor = (cursor: string) => {
    const { i, id } = decodeCursor(cursor);
    // Prefer the id (stable under inserts); fall back to the recorded position.
    const found = list.findIndex((item) => idOf(item) === id);
    return found >= 0 ? found : i;
  };
  let start = 0;
  let end = list.length;
  if (args.after) start = indexOfCursor(args.after) + 1;
  if (args.before) end = indexOfCursor(args.before);
  let slice: Array<{ item: T; index: number }>;
  if (args.first != null)
    slice = list.slice(start, Math.min(end, start + size)).map((item, k) => ({ item, index: start + k }));
  else
    slice = list
      .slice(Math.max(start, end - size), end)
      .map((item, k) => ({ item, index: Math.max(start, end - size) + k }));
  const edges = slice.map(({ item, index }) => ({ cursor: encodeCursor(index, idOf(item)), node: view(item) }));
  const firstIndex = slice[0]?.index ?? start;
  const lastIndex = slice.at(-1)?.index ?? start - 1;
  return {
    edges,
    nodes: edges.map((e) => e.node),
    pageInfo: {
      hasNextPage: lastIndex + 1 < end,
      hasPreviousPage: firstIndex > start || (args.after != null && start > 0),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
