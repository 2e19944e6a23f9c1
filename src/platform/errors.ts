// One error model for the whole service. Expected failures are AppErrors with a stable code; the HTTP
// edge maps `kind` to a status in one place. Anything else is a bug: logged, answered as 500.

export type ErrorKind = 'not_found' | 'invalid' | 'conflict' | 'forbidden' | 'unauthorized' | 'unavailable';

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    /** Stable, dotted, persisted in logs and clients: `jobs.unknown_job`. */
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

export const notFound = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, 'not_found', message, details);
export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, 'invalid', message, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, 'conflict', message, details);
export const unavailable = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, 'unavailable', message, details);
