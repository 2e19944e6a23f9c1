// A GraphQL operation the connector sends: a name, its document, and its result and variable types.
// Every operation lives in operations.ts, and a test validates each document against the real schema.

export interface Operation<TData, TVariables extends Record<string, unknown> = Record<string, never>> {
  name: string;
  document: string;
  /** Points to reserve before the call when no earlier call of this operation has told us its cost. */
  estimatedCost: number;
  /**
   * A mutation Shopify may have applied when no answer came back (timeout, network error, 5xx) and
   * that it cannot deduplicate: never re-sent blindly; the caller checks Shopify's state instead.
   */
  outcomeUnknownOnFailure?: boolean;
  /** Type carriers only (never read at run time). */
  readonly __data?: TData;
  readonly __variables?: TVariables;
}

export function operation<TData, TVariables extends Record<string, unknown> = Record<string, never>>(
  name: string,
  estimatedCost: number,
  document: string,
  options: { outcomeUnknownOnFailure?: boolean } = {},
): Operation<TData, TVariables> {
  const declared = /^\s*(query|mutation)\s+(\w+)/.exec(document)?.[2];
  if (declared !== name)
    throw new Error(`Operation ${name}: its document must be named ${name} (found ${declared ?? 'none'})`);
  return {
    name,
    document,
    estimatedCost,
    ...(options.outcomeUnknownOnFailure ? { outcomeUnknownOnFailure: true } : {}),
  };
}
