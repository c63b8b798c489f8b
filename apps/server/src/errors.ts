import type { ErrorCode } from '@runtools/spec';

/**
 * What a domain module (sandboxes, workspaces, agents, orgs, …) throws when a request cannot be done: a code
 * from the spec's one error table, a message for people and details for programs. It knows nothing of HTTP:
 * the API answers it as `{ error: { code, message, details } }` with the status the table gives its code
 * (`http/errors.ts`), the WebSocket and dev-URL paths the same way, and other callers (a workflow step, a CLI
 * in-process) may report it as they see fit.
 */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

/** A body field that passed its schema but fails a check only the domain can make; shaped like zod's errors. */
export function invalidBodyField(path: string, message: string): DomainError {
  return new DomainError('validation_failed', `invalid body.${path}: ${message}`, {
    location: 'body',
    issues: [{ path, code: 'custom', message }],
  });
}

/** A query parameter that passed its schema but fails a check only the domain can make (a cursor). */
export function invalidQueryField(name: string, message: string): DomainError {
  return new DomainError('validation_failed', `invalid query.${name}: ${message}`, {
    location: 'query',
    issues: [{ path: name, code: 'custom', message }],
  });
}
