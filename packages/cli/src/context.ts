import { defaultBaseUrl, RunTools } from '@runtools/sdk';
import type { Command } from 'commander';
import { readConfig } from './config.js';
import { UserError } from './errors.js';

export interface GlobalOptions {
  json?: boolean;
  url?: string;
  apiKey?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Where and as whom to call: flags, then RUNTOOLS_API_URL/RUNTOOLS_API_KEY, then the stored login. */
export function resolveConnection(options: GlobalOptions): { url: string; apiKey: string } {
  const stored = options.apiKey && options.url ? undefined : readConfig();
  const apiKey = options.apiKey ?? process.env.RUNTOOLS_API_KEY ?? stored?.apiKey;
  const url = options.url ?? process.env.RUNTOOLS_API_URL ?? stored?.url ?? defaultBaseUrl;
  if (!apiKey) {
    throw new UserError('no API key: not logged in and RUNTOOLS_API_KEY is not set', 'run: runtools login');
  }
  return { url, apiKey };
}

/** The SDK client for this invocation; the CLI is a client of the same API as everyone else. */
export function client(command: Command): RunTools {
  const connection = resolveConnection(globalOptions(command));
  return new RunTools({ apiKey: connection.apiKey, baseUrl: connection.url, maxRetries: 1, timeoutMs: 30_000 });
}

/** Reads all of stdin (for values and keys piped in). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
