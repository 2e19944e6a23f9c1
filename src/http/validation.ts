// Request validation. Path parameters and query strings arrive as text, so they are coerced to the
// types their schemas say ("5" → 5). Bodies are JSON and keep their types: a quantity sent as "3",
// true or [2] is refused, not taken as 3, 1 or 2.
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

const COMMON: Options = { removeAdditional: false, useDefaults: true, allErrors: true, strict: false };

function makeAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...COMMON, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

export function makeValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const forText = makeAjv('array');
  const forBodies = makeAjv(false);
  return ({ schema, httpPart }) => (httpPart === 'body' ? forBodies : forText).compile(schema as object);
}

/** Where in a parsed request a NUL character hides, if anywhere (PostgreSQL stores none). */
export function findNul(value: unknown, where: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? where : undefined;
  if (depth > 32 || !isPlainData(value)) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\u0000')) return `${where} (a key)`;
    const found = findNul(inner, `${where}/${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Parsed JSON or a parsed query string; not a raw body (a Buffer or a stream, checked by its reader). */
function isPlainData(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  return !Buffer.isBuffer(value) && typeof (value as { pipe?: unknown }).pipe !== 'function';
}
