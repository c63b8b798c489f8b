import type { Logger } from 'pino';

let installed = false;

/**
 * The server process's last resort: an exception or rejection nothing handled is logged and the process
 * keeps serving. Every socket, stream and body has its own error path; this only stops one that was missed
 * from ending every tenant's service (a process that dies on input is a denial of service for all).
 * For the process that runs the server (the CLI's `server` command), not for a program that embeds it.
 */
export function keepServingOnUncaughtErrors(logger: Logger): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (error, origin) => {
    logger.error({ err: error, origin }, 'uncaught exception (the server keeps serving)');
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection (the server keeps serving)');
  });
}
