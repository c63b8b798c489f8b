import { type ErrorCode, errorFamily } from '@runtools/spec';

/** Codes the SDK itself raises when there is no server answer to map. */
export type ClientErrorCode =
  | 'connection_failed'
  | 'timeout'
  | 'invalid_response'
  | 'missing_api_key'
  | 'invalid_definition';

/**
 * Base class of every error the SDK throws. `code` is the server's machine-readable code (see
 * `@runtools/spec`'s `ErrorCode`) or one of the SDK's own client codes.
 *
 * @example
 * try { await rt.secrets.get('MISSING') } catch (error) {
 *   if (error instanceof NotFoundError) console.log(error.code) // 'secret_not_found'
 * }
 */
export class RunToolsError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly requestId: string | undefined;

  constructor(
    message: string,
    options: {
      code: ErrorCode | ClientErrorCode;
      status?: number;
      details?: Record<string, unknown>;
      requestId?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status;
    this.details = options.details;
    this.requestId = options.requestId;
  }
}

/** The key is missing, malformed, revoked or expired (401). */
export class AuthenticationError extends RunToolsError {}
/** The key is valid but may not do this: a missing scope or role (403). */
export class PermissionError extends RunToolsError {}
/** The thing does not exist, or belongs to another org (404). */
export class NotFoundError extends RunToolsError {}
/** The request was malformed: bad JSON, wrong types, too large (400, 405, 413, 415). */
export class ValidationError extends RunToolsError {}
/** The request conflicts with current state, e.g. a duplicate (409). */
export class ConflictError extends RunToolsError {}
/** Too many requests; retried automatically for idempotent calls (429). */
export class RateLimitError extends RunToolsError {}
/** The server failed (5xx); retried automatically for idempotent calls. */
export class InternalServerError extends RunToolsError {}
/**
 * A tool ran and failed: it threw, timed out, answered with something that is not JSON, or the service it
 * calls refused it (502, 504). Not retried: a tool call may have had effects.
 */
export class ToolError extends RunToolsError {}
/** The server could not be reached. */
export class ConnectionError extends RunToolsError {}
/** The call took longer than its timeout. */
export class TimeoutError extends RunToolsError {}

/** The one place an error response becomes an error class. */
export function errorFromResponse(status: number, body: unknown, requestId: string | undefined): RunToolsError {
  const error = (
    body as { error?: { code?: unknown; message?: unknown; details?: unknown; requestId?: unknown } } | null
  )?.error;
  if (!error || typeof error.code !== 'string') {
    return new InternalServerError(`unexpected HTTP ${status} response without an error body`, {
      code: status >= 500 ? 'internal_error' : 'invalid_response',
      status,
      ...(requestId ? { requestId } : {}),
    });
  }
  const options = {
    code: error.code as ErrorCode,
    status,
    ...(typeof error.details === 'object' && error.details
      ? { details: error.details as Record<string, unknown> }
      : {}),
    ...(typeof error.requestId === 'string' ? { requestId: error.requestId } : requestId ? { requestId } : {}),
  };
  const message = typeof error.message === 'string' ? error.message : error.code;
  const family = errorFamily(error.code);
  switch (family) {
    case 'authentication':
      return new AuthenticationError(message, options);
    case 'permission':
      return new PermissionError(message, options);
    case 'not_found':
      return new NotFoundError(message, options);
    case 'validation':
      return new ValidationError(message, options);
    case 'conflict':
      return new ConflictError(message, options);
    case 'rate_limit':
      return new RateLimitError(message, options);
    case 'tool':
      return new ToolError(message, options);
    case 'internal':
      return new InternalServerError(message, options);
  }
}
