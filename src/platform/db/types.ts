// Both backends must hand back the same JS types for the same query. node-postgres returns int8 as a
// string and `date` as a local-midnight Date; PGlite returns numbers. We settle on: int8 → number
// (refusing values past 2^53 rather than silently rounding), numeric → string (exact money),
// date → 'YYYY-MM-DD' string, timestamptz → Date, json/jsonb → parsed.

export const OID = { INT8: 20, INT8_ARRAY: 1016, DATE: 1082, DATE_ARRAY: 1182 } as const;

export function parseInt8(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) {
    throw new RangeError(`int8 value ${value} is beyond JavaScript's safe integer range`);
  }
  return parsed;
}

export const parseDate = (value: string): string => value;

/** Parses a Postgres array literal of plain scalars (`{1,2,NULL}`), as used for int8[] and date[]. */
export function parseScalarArray<T>(literal: string, parseItem: (item: string) => T): Array<T | null> {
  const inner = literal.slice(1, -1);
  if (inner === '') return [];
  return inner.split(',').map((item) => (item === 'NULL' ? null : parseItem(item.replace(/^"|"$/g, ''))));
}
