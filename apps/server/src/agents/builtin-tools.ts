import { posix } from 'node:path';
import { type BuiltinTool, builtinTools } from '@runtools/spec';
import { type ToolSet, tool, zodSchema } from 'ai';
import { z } from 'zod';
import type { Actor } from '../auth/actor.js';
import type { SecretStore } from '../credentials/secret-store.js';
import { DomainError } from '../errors.js';
import type { DevUrls } from '../sandboxes/dev-urls.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';

/** A tool result larger than this reaches the model cut in the middle, with a marker saying how much went. */
export const maxToolOutputBytes = 32 * 1024;
/** A command's default and longest time. */
const bashTimeoutMs = 120_000;
const maxBashTimeoutMs = 600_000;
/** Lines `read_file` gives without a range. */
const defaultReadLines = 2000;
const maxSearchResults = 200;

/** Keeps the head and the tail of a long text: errors usually sit at the end, context at the start. */
export function truncate(text: string, limit = maxToolOutputBytes): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= limit) return text;
  const half = Math.floor(limit / 2);
  const buffer = Buffer.from(text);
  const head = buffer
    .subarray(0, half)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  const tail = buffer
    .subarray(bytes - half)
    .toString('utf8')
    .replace(/^\uFFFD/, '');
  return `${head}\n[... ${bytes - 2 * half} bytes truncated ...]\n${tail}`;
}

/** A word for /bin/sh, quoted so that nothing in it is interpreted. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Where the built-in tools act: a sandbox of the platform's, or a RunMesh device (`mesh/device-tool-host.ts`). */
export interface ToolHost {
  exec(options: {
    command: string;
    cwd?: string;
    timeoutMs: number;
  }): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut?: boolean }>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, content: Buffer): Promise<void>;
  makeDirectory(path: string): Promise<void>;
  listFiles(path: string): Promise<{ name: string; type: string; size: number }[]>;
}

/** The tools' host in a sandbox, acting as the run's caller. */
export function sandboxToolHost(auth: Actor, sandboxes: SandboxService, sandboxId: string): ToolHost {
  return {
    exec: (options) => sandboxes.exec(auth, sandboxId, options),
    readFile: async (path) => Buffer.from((await sandboxes.readFile(auth, sandboxId, path)).content, 'base64'),
    writeFile: async (path, content) => {
      await sandboxes.writeFile(auth, sandboxId, path, content);
    },
    makeDirectory: async (path) => {
      await sandboxes.makeDirectory(auth, sandboxId, path);
    },
    listFiles: (path) => sandboxes.listFiles(auth, sandboxId, path),
  };
}

export interface ToolEnvironment {
  auth: Actor;
  /** Where the built-in tools exec and touch files. */
  host: ToolHost;
  /** The sandbox, when the host is one (dev URLs, Codex's process tools); null on a device. */
  sandboxId: string | null;
  sandboxes: SandboxService;
  devUrls: DevUrls;
  secrets: SecretStore;
  /** Exa's API (`https://api.exa.ai`), or a local server speaking it in tests. */
  exaUrl: string;
  /** Relative paths are taken from here. */
  workdir: string;
}

/** What a tool fails with: the message goes back to the model as the tool's result. */
export class ToolFailure extends Error {}

export function resolvePath(environment: ToolEnvironment, path: string): string {
  return posix.resolve(environment.workdir, path);
}

async function run(environment: ToolEnvironment, command: string, timeoutMs = bashTimeoutMs) {
  return environment.host.exec({ command, timeoutMs });
}

/** A file as text; refuses what is not text rather than feeding the model binary noise. */
export async function readText(environment: ToolEnvironment, path: string): Promise<string> {
  try {
    const buffer = await environment.host.readFile(path);
    if (buffer.subarray(0, 8000).includes(0)) throw new ToolFailure(`${path} is a binary file`);
    return buffer.toString('utf8');
  } catch (error) {
    throw fileFailure(error, path);
  }
}

/** A file call's refusal the model can act on (missing, a directory, …) as a tool failure; others as they are. */
export function fileFailure(error: unknown, path: string): unknown {
  if (error instanceof DomainError && error.code === 'file_not_found') return new ToolFailure(`${path} does not exist`);
  if (error instanceof DomainError && error.code === 'validation_failed') return new ToolFailure(error.message);
  return error;
}

export async function writeText(environment: ToolEnvironment, path: string, content: string): Promise<void> {
  await environment.host.makeDirectory(posix.dirname(path));
  await environment.host.writeFile(path, Buffer.from(content));
}

function count(haystack: string, needle: string): number {
  let found = 0;
  for (let index = haystack.indexOf(needle); index !== -1; index = haystack.indexOf(needle, index + needle.length))
    found++;
  return found;
}

const descriptions: Record<BuiltinTool, string> = {
  bash: 'Run a shell command (bash) in the sandbox and get its exit code, stdout and stderr. The working directory persists only within one command.',
  read_file: 'Read a text file, optionally a range of lines (1-based, inclusive). Lines come numbered.',
  edit_file:
    'Replace an exact piece of text in a file. oldText must appear exactly once unless replaceAll is true; include enough surrounding lines to make it unique.',
  write_file: 'Create or overwrite a file with the given content; parent directories are created.',
  delete_file: 'Delete a file, or a directory with recursive: true.',
  list_directory: 'List a directory: names, types and sizes.',
  file_search: 'Find files whose name matches a glob pattern (e.g. "*.ts"), under a directory.',
  grep: 'Search file contents for a regular expression (ripgrep syntax), under a directory; answers path:line:text.',
  web_search: 'Search the web (Exa) and get titles, URLs and text excerpts.',
  get_dev_url: 'Get the URL at which a port of the sandbox (a web server started there) can be opened in a browser.',
};

/**
 * The tools' input schemas, each converted to JSON Schema once per process (the AI SDK would convert a bare zod
 * schema again on every model call).
 */
const inputs = {
  bash: zodSchema(
    z.object({
      command: z.string().min(1),
      timeoutMs: z.number().int().min(1).max(maxBashTimeoutMs).optional(),
    }),
  ),
  read_file: zodSchema(
    z.object({
      path: z.string().min(1),
      startLine: z.number().int().min(1).optional(),
      endLine: z.number().int().min(1).optional(),
    }),
  ),
  edit_file: zodSchema(
    z.object({
      path: z.string().min(1),
      oldText: z.string().min(1),
      newText: z.string(),
      replaceAll: z.boolean().optional(),
    }),
  ),
  write_file: zodSchema(z.object({ path: z.string().min(1), content: z.string() })),
  delete_file: zodSchema(z.object({ path: z.string().min(1), recursive: z.boolean().optional() })),
  list_directory: zodSchema(z.object({ path: z.string().min(1).default('.') })),
  file_search: zodSchema(z.object({ pattern: z.string().min(1), path: z.string().min(1).default('.') })),
  grep: zodSchema(
    z.object({
      pattern: z.string().min(1),
      path: z.string().min(1).default('.'),
      glob: z.string().optional().describe('only files whose name matches, e.g. "*.py"'),
      ignoreCase: z.boolean().optional(),
    }),
  ),
  web_search: zodSchema(z.object({ query: z.string().min(1), numResults: z.number().int().min(1).max(20).optional() })),
  get_dev_url: zodSchema(
    z.object({
      port: z.number().int().min(1).max(65535),
      public: z.boolean().optional().describe('anyone with the URL may open it (default: a signed private link)'),
    }),
  ),
};

/** The built-in tools an agent may use, bound to its sandbox and its caller's permissions. */
export function builtinToolSet(environment: ToolEnvironment, allowed: readonly string[]): ToolSet {
  const tools: Record<BuiltinTool, ToolSet[string]> = {
    bash: tool({
      description: descriptions.bash,
      inputSchema: inputs.bash,
      execute: async ({ command, timeoutMs }) => {
        const result = await environment.host.exec({
          // bash where the template has it (every built-in one does), sh otherwise.
          command: `if command -v bash >/dev/null 2>&1; then exec bash -c ${shellQuote(command)}; else exec sh -c ${shellQuote(command)}; fi`,
          cwd: environment.workdir,
          timeoutMs: timeoutMs ?? bashTimeoutMs,
        });
        return {
          exitCode: result.exitCode,
          ...(result.timedOut ? { timedOut: true } : {}),
          stdout: truncate(result.stdout, maxToolOutputBytes / 2),
          stderr: truncate(result.stderr, maxToolOutputBytes / 2),
        };
      },
    }),
    read_file: tool({
      description: descriptions.read_file,
      inputSchema: inputs.read_file,
      execute: async ({ path, startLine, endLine }) => {
        const absolute = resolvePath(environment, path);
        const lines = (await readText(environment, absolute)).split('\n');
        if (lines.at(-1) === '') lines.pop();
        const first = startLine ?? 1;
        const last = Math.min(endLine ?? first + defaultReadLines - 1, lines.length);
        if (first > Math.max(lines.length, 1))
          throw new ToolFailure(`${absolute} has ${lines.length} lines; startLine ${first} is past the end`);
        if (last < first) throw new ToolFailure(`endLine ${endLine} is before startLine ${first}`);
        const width = String(last).length;
        const body = lines
          .slice(first - 1, last)
          .map((line, index) => `${String(first + index).padStart(width)}\t${line}`)
          .join('\n');
        return { path: absolute, totalLines: lines.length, startLine: first, endLine: last, content: truncate(body) };
      },
    }),
    edit_file: tool({
      description: descriptions.edit_file,
      inputSchema: inputs.edit_file,
      execute: async ({ path, oldText, newText, replaceAll }) => {
        const absolute = resolvePath(environment, path);
        const content = await readText(environment, absolute);
        const found = count(content, oldText);
        if (found === 0)
          throw new ToolFailure(`oldText was not found in ${absolute}; read the file and copy it exactly`);
        if (found > 1 && !replaceAll)
          throw new ToolFailure(
            `oldText appears ${found} times in ${absolute}; add surrounding lines to make it unique, or set replaceAll`,
          );
        await writeText(environment, absolute, content.split(oldText).join(newText));
        return { path: absolute, replacements: found };
      },
    }),
    write_file: tool({
      description: descriptions.write_file,
      inputSchema: inputs.write_file,
      execute: async ({ path, content }) => {
        const absolute = resolvePath(environment, path);
        await writeText(environment, absolute, content);
        return { path: absolute, bytes: Buffer.byteLength(content) };
      },
    }),
    delete_file: tool({
      description: descriptions.delete_file,
      inputSchema: inputs.delete_file,
      execute: async ({ path, recursive }) => {
        const absolute = resolvePath(environment, path);
        if (absolute === '/') throw new ToolFailure('refusing to delete /');
        const result = await run(
          environment,
          `if [ -d ${shellQuote(absolute)} ] && [ ! -L ${shellQuote(absolute)} ]; then ${recursive ? 'rm -rf --' : 'rmdir --'} ${shellQuote(absolute)}; elif [ -e ${shellQuote(absolute)} ] || [ -L ${shellQuote(absolute)} ]; then rm -f -- ${shellQuote(absolute)}; else echo "${absolute} does not exist" >&2; exit 1; fi`,
        );
        if (result.exitCode !== 0)
          throw new ToolFailure(
            result.stderr.includes('Directory not empty')
              ? `${absolute} is a directory that is not empty; set recursive to delete it with everything in it`
              : result.stderr.trim() || `could not delete ${absolute}`,
          );
        return { path: absolute, deleted: true };
      },
    }),
    list_directory: tool({
      description: descriptions.list_directory,
      inputSchema: inputs.list_directory,
      execute: async ({ path }) => {
        const absolute = resolvePath(environment, path);
        try {
          const entries = await environment.host.listFiles(absolute);
          return {
            path: absolute,
            entries: entries.slice(0, 1000).map(({ name, type, size }) => ({ name, type, size })),
            ...(entries.length > 1000 ? { truncated: entries.length - 1000 } : {}),
          };
        } catch (error) {
          throw fileFailure(error, absolute);
        }
      },
    }),
    file_search: tool({
      description: descriptions.file_search,
      inputSchema: inputs.file_search,
      execute: async ({ pattern, path }) => {
        const absolute = resolvePath(environment, path);
        const test = pattern.includes('/') ? '-path' : '-name';
        const target = pattern.includes('/') ? `*${pattern.startsWith('/') ? '' : '/'}${pattern}` : pattern;
        const result = await run(
          environment,
          `find ${shellQuote(absolute)} \\( -name .git -o -name node_modules \\) -prune -o ${test} ${shellQuote(target)} -print 2>/dev/null | head -n ${maxSearchResults + 1}`,
        );
        const paths = result.stdout.split('\n').filter(Boolean);
        return {
          matches: paths.slice(0, maxSearchResults),
          ...(paths.length > maxSearchResults ? { truncated: true } : {}),
        };
      },
    }),
    grep: tool({
      description: descriptions.grep,
      inputSchema: inputs.grep,
      execute: async ({ pattern, path, glob, ignoreCase }) => {
        const absolute = resolvePath(environment, path);
        // ripgrep where the template has it; GNU grep (in every template) otherwise, with the same output.
        const rg = `rg --line-number --no-heading --color never --max-columns 400 ${ignoreCase ? '-i ' : ''}${glob ? `--glob ${shellQuote(glob)} ` : ''}-e ${shellQuote(pattern)} ${shellQuote(absolute)}`;
        const grep = `grep -rnIE --exclude-dir=.git --exclude-dir=node_modules ${ignoreCase ? '-i ' : ''}${glob ? `--include=${shellQuote(glob)} ` : ''}-e ${shellQuote(pattern)} ${shellQuote(absolute)}`;
        // The search's own status goes to stderr: through the pipe to head, sh would only report head's.
        const result = await run(
          environment,
          `{ if command -v rg >/dev/null 2>&1; then ${rg}; else ${grep}; fi; echo "status:$?" >&2; } | head -n ${maxSearchResults + 1}`,
        );
        const status = Number(/status:(\d+)\s*$/.exec(result.stderr)?.[1] ?? 0);
        if (status > 1)
          throw new ToolFailure(result.stderr.replace(/status:\d+\s*$/, '').trim() || `the search failed (${status})`);
        const lines = result.stdout.split('\n').filter(Boolean);
        return {
          matches: truncate(lines.slice(0, maxSearchResults).join('\n')),
          count: Math.min(lines.length, maxSearchResults),
          ...(lines.length > maxSearchResults ? { truncated: true } : {}),
        };
      },
    }),
    web_search: tool({
      description: descriptions.web_search,
      inputSchema: inputs.web_search,
      execute: async ({ query, numResults }, { abortSignal }) => {
        let key: string;
        try {
          key = (await environment.secrets.get(environment.auth.orgId, 'EXA_API_KEY')).value;
        } catch (error) {
          if (error instanceof DomainError && error.code === 'secret_not_found')
            throw new ToolFailure('web search is not set up: the org secret EXA_API_KEY (an Exa API key) is missing');
          throw error;
        }
        const response = await fetch(`${environment.exaUrl.replace(/\/$/, '')}/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({
            query,
            numResults: numResults ?? 5,
            contents: { text: { maxCharacters: 2000 } },
          }),
          ...(abortSignal ? { signal: abortSignal } : {}),
        });
        const text = await response.text();
        if (!response.ok) throw new ToolFailure(`web search failed (${response.status}): ${truncate(text, 1000)}`);
        const body = JSON.parse(text) as { results?: { title?: string; url?: string; text?: string }[] };
        return {
          results: (body.results ?? []).map((result) => ({
            title: result.title ?? null,
            url: result.url ?? null,
            text: truncate(result.text ?? '', 4000),
          })),
        };
      },
    }),
    get_dev_url: tool({
      description: descriptions.get_dev_url,
      inputSchema: inputs.get_dev_url,
      execute: async ({ port, public: isPublic }) => {
        if (!environment.sandboxId) throw new ToolFailure('dev URLs are for sandboxes; this agent works on a device');
        const url = await environment.devUrls.expose(environment.auth, environment.sandboxId, {
          port,
          ...(isPublic === undefined ? {} : { public: isPublic }),
        });
        return { port, url: url.signedUrl ?? url.url, public: url.public, expiresAt: url.signedUrlExpiresAt };
      },
    }),
  };
  return Object.fromEntries(builtinTools.filter((name) => allowed.includes(name)).map((name) => [name, tools[name]]));
}
