import { Type } from 'typebox';

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code, e.g. jobs.unknown_job' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'Error' },
);

export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  503: ErrorSchema,
};

// Bounds every input shares. Ids fit a JavaScript number exactly (and PostgreSQL's bigint); counts
// of units fit the integer columns with room to add; texts are short enough to store and show.
export const MAX_ID = Number.MAX_SAFE_INTEGER;
export const MAX_UNITS = 1_000_000;

/** A row id (path or body). */
export const Id = (options: { description?: string } = {}) => Type.Integer({ minimum: 1, maximum: MAX_ID, ...options });
/** Where a list page starts: the last id of the previous page. */
export const After = (options: { description?: string } = {}) =>
  Type.Integer({ minimum: 0, maximum: MAX_ID, ...options });
/** A merchant's code: a facility, a queue, a reason, a brokering run. */
export const Code = (options: { description?: string } = {}) =>
  Type.String({ minLength: 1, maxLength: 100, ...options });
export const Sku = (options: { description?: string } = {}) =>
  Type.String({ minLength: 1, maxLength: 255, ...options });
/** Free text a person types: a reason, a note, a name. */
export const Text = (maxLength: number, options: { description?: string } = {}) =>
  Type.String({ minLength: 1, maxLength, ...options });
/** A number of units. */
export const Units = (minimum: number, options: { description?: string } = {}) =>
  Type.Integer({ minimum, maximum: MAX_UNITS, ...options });
export const DateTime = (options: { description?: string } = {}) =>
  Type.String({ format: 'date-time', maxLength: 40, ...options });
/** An order named by Switchyard's id or Shopify's GID (URL-encoded in paths). */
export const OrderRef = (options: { description?: string } = {}) =>
  Type.String({ minLength: 1, maxLength: 200, ...options });
