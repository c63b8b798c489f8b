import { type ErrorCode, errorStatus as statusOf } from '@runtools/spec';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Each error code's HTTP status, from the spec's one error table. */
export const errorStatus: { readonly [code in ErrorCode]: ContentfulStatusCode } = statusOf;

/** An error the API reports to its caller as `{ error: { code, message, details } }`. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

/** A body field that passed its schema but fails a check only the handler can make; shaped like zod's errors. */
export function invalidBodyField(path: string, message: string): ApiError {
  return new ApiError('validation_failed', `invalid body.${path}: ${message}`, {
    location: 'body',
    issues: [{ path, code: 'custom', message }],
  });
}

/** A query parameter that passed its schema but fails a check only the handler can make (a cursor). */
export function invalidQueryField(name: string, message: string): ApiError {
  return new ApiError('validation_failed', `invalid query.${name}: ${message}`, {
    location: 'query',
    issues: [{ path: name, code: 'custom', message }],
  });
}
