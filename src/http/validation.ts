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

/** Half of a UTF-16 surrogate pair without its other half: not Unicode text (PostgreSQL refuses it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a text cannot be stored, if it cannot: PostgreSQL stores no NUL and no lone surrogate. */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'holds a NUL character, which no value may hold';
  if (LONE_SURROGATE.test(text)) return 'holds half of a UTF-16 surrogate pair: it is not Unicode text';
  return undefined;
}

/** Where in a parsed request a text that cannot be stored hides, and why; undefined when none does. */
export function findUnstorableText(
  value: unknown,
  where: string,
  depth = 0,
): { where: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = unstorable(value);
    return problem ? { where, problem } : undefined;
  }
  // Deeper than any body Switchyard takes; the schemas refuse such bodies anyway.
  if (depth > 64 || !isPlainData(value)) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const keyProblem = unstorable(key);
    if (keyProblem) return { where: `${where} (a key)`, problem: keyProblem };
    const found = findUnstorableText(inner, `${where}/${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Parsed JSON or a parsed query string; not a raw body (a Buffer or a stream, checked by its reader). */
function isPlainData(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  return !Buffer.isBuffer(value) && typeof (value as { pipe?: unknown }).pipe !== 'function';
}
