import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  NotFoundError,
  PermissionError,
  RunToolsError,
  TimeoutError,
  ValidationError,
} from '@runtools/sdk';
import { CommanderError } from 'commander';

/** Exit codes scripts can rely on; one table, used by the one top-level handler. */
export const exitCodes = {
  ok: 0,
  internal: 1,
  usage: 2,
  authentication: 3,
  permission: 4,
  notFound: 5,
  conflict: 6,
  connection: 7,
} as const;

/** A mistake the user can fix: printed as the message and a hint, never with a stack. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: number = exitCodes.usage,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

interface Classified {
  exitCode: number;
  user: boolean;
  hint?: string;
}

function classify(error: unknown): Classified {
  if (error instanceof UserError)
    return { exitCode: error.exitCode, user: true, ...(error.hint ? { hint: error.hint } : {}) };
  if (error instanceof CommanderError) return { exitCode: error.exitCode === 0 ? 0 : exitCodes.usage, user: true };
  // The server's own configuration errors; matched by name so that commands which do not start a server
  // never load it.
  if (error instanceof Error && (error.name === 'ConfigError' || error.name === 'RootKeyError')) {
    return { exitCode: exitCodes.usage, user: true };
  }
  if (error instanceof AuthenticationError) {
    return { exitCode: exitCodes.authentication, user: true, hint: 'check the API key, or run: runtools login' };
  }
  if (error instanceof PermissionError) {
    return { exitCode: exitCodes.permission, user: true, hint: 'use a key with the scope the message names' };
  }
  if (error instanceof NotFoundError) return { exitCode: exitCodes.notFound, user: true };
  if (error instanceof ConflictError) return { exitCode: exitCodes.conflict, user: true };
  if (error instanceof ValidationError) return { exitCode: exitCodes.usage, user: true };
  if (error instanceof ConnectionError || error instanceof TimeoutError) {
    return {
      exitCode: exitCodes.connection,
      user: true,
      hint: 'is the server running? start it with: runtools server',
    };
  }
  return { exitCode: exitCodes.internal, user: false };
}

/** The one top-level error handler: prints what the user needs and returns the exit code. */
export function reportError(error: unknown, write: (text: string) => void): number {
  const { exitCode, user, hint } = classify(error);
  if (exitCode === 0) return 0;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof CommanderError) return exitCode; // commander has already printed its message
  if (user) {
    write(`error: ${message}\n`);
    if (hint) write(`hint: ${hint}\n`);
    return exitCode;
  }
  const requestId = error instanceof RunToolsError ? error.requestId : undefined;
  write(`internal error: ${message}\n`);
  if (requestId) write(`request id: ${requestId}\n`);
  if (!(error instanceof RunToolsError) && error instanceof Error && error.stack) write(`${error.stack}\n`);
  write('this is a bug or a server failure; please report it with the lines above\n');
  return exitCode;
}
