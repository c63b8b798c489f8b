import type { CodexTool } from '@runtools/spec';
import { type ToolSet, tool, zodSchema } from 'ai';
import { z } from 'zod';
import { DomainError } from '../errors.js';
import { applyHunks, PatchError, type PatchOperation, parsePatch } from './apply-patch.js';
import {
  fileFailure,
  readText,
  resolvePath,
  shellQuote,
  type ToolEnvironment,
  ToolFailure,
  truncate,
  writeText,
} from './builtin-tools.js';

/** How long exec_command and write_stdin wait for output before answering (Codex's defaults), and at most. */
const defaultExecYieldMs = 10_000;
const defaultStdinYieldMs = 250;
const maxYieldMs = 30_000;
const defaultOutputTokens = 10_000;
/** A token is about four bytes of output. */
const bytesPerToken = 4;
const maxImageBytes = 10 * 1024 * 1024;

const descriptions: Record<CodexTool, string> = {
  exec_command:
    'Run a command in the sandbox on a terminal. Answers the output so far and, when the command is still ' +
    'running after yield_time_ms, a session_id to write to (write_stdin) or poll; when it ended, its exit_code.',
  write_stdin:
    'Write characters to the terminal of a running exec_command session and answer its new output; an empty ' +
    'write only polls. Send "\\u0003" for Ctrl-C.',
  apply_patch:
    'Apply a patch: "*** Begin Patch", then "*** Add File: path" (lines starting "+"), "*** Delete File: path" ' +
    'or "*** Update File: path" (optionally "*** Move to: path") with "@@" hunks of " " context, "-" removed ' +
    'and "+" added lines, then "*** End Patch". All of it applies, or nothing changes.',
  view_image: 'Look at an image file in the sandbox (PNG, JPEG, GIF or WebP).',
};

const outputLimit = z
  .number()
  .int()
  .min(100)
  .max(100_000)
  .optional()
  .describe(`at most this many tokens of output (default ${defaultOutputTokens}); the middle is cut`);
const inputs = {
  exec_command: zodSchema(
    z.object({
      cmd: z.string().min(1).describe('the shell command'),
      workdir: z.string().optional().describe('its working directory (default: the agent’s)'),
      yield_time_ms: z.number().int().min(0).max(maxYieldMs).optional(),
      max_output_tokens: outputLimit,
    }),
  ),
  write_stdin: zodSchema(
    z.object({
      session_id: z.number().int().min(1),
      chars: z.string().default(''),
      yield_time_ms: z.number().int().min(0).max(maxYieldMs).optional(),
      max_output_tokens: outputLimit,
    }),
  ),
  apply_patch: zodSchema(z.object({ input: z.string().min(1).describe('the whole patch') })),
  view_image: zodSchema(z.object({ path: z.string().min(1) })),
};

/** The image formats models take, by their first bytes. */
function imageType(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 6).toString('latin1') === 'GIF87a' || bytes.subarray(0, 6).toString('latin1') === 'GIF89a')
    return 'image/gif';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'image/webp';
  return undefined;
}

interface Session {
  pid: number;
  /** The byte offset of the output read so far. */
  offset: number;
}

/**
 * The Codex-style tools (exec_command, write_stdin, apply_patch, view_image), bound to the agent's sandbox
 * and its caller. Sessions belong to the run: a session id names a process this run started.
 */
export function codexToolSet(environment: ToolEnvironment, allowed: readonly string[]): ToolSet {
  const sessions = new Map<number, Session>();
  let nextSession = 1;
  const { sandboxes, auth } = environment;
  // Codex's tools drive processes in a platform sandbox; a local agent (on a device) is refused them at save.
  if (!environment.sandboxId) return {};
  const sandboxId = environment.sandboxId;

  /** Output of a session from its offset, until it exits or `waitMs` passes. */
  async function collect(session: Session, waitMs: number, maxTokens: number | undefined) {
    const started = performance.now();
    const stream = (await sandboxes.followProcess(auth, sandboxId, session.pid, session.offset))[
      Symbol.asyncIterator
    ]();
    const chunks: Buffer[] = [];
    let exitCode: number | undefined;
    const deadline = started + waitMs;
    try {
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        let timer: NodeJS.Timeout | undefined;
        const next = await Promise.race([
          stream.next(),
          new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), left);
          }),
        ]);
        clearTimeout(timer);
        if (next === 'timeout' || next.done) break;
        const event = next.value;
        if (event.type === 'exit') {
          exitCode = event.exitCode;
          break;
        }
        const data = Buffer.from(event.data, 'base64');
        chunks.push(data);
        session.offset = event.offset + data.length;
      }
    } finally {
      await stream.return?.();
    }
    const output = truncate(Buffer.concat(chunks).toString('utf8'), (maxTokens ?? defaultOutputTokens) * bytesPerToken);
    const wallTimeSeconds = Math.round(performance.now() - started) / 1000;
    if (exitCode !== undefined) {
      for (const [id, candidate] of sessions) if (candidate === session) sessions.delete(id);
      return { exit_code: exitCode, output, wall_time_seconds: wallTimeSeconds };
    }
    return {
      session_id: [...sessions].find(([, candidate]) => candidate === session)?.[0],
      output,
      wall_time_seconds: wallTimeSeconds,
    };
  }

  const tools: Record<CodexTool, ToolSet[string]> = {
    exec_command: tool({
      description: descriptions.exec_command,
      inputSchema: inputs.exec_command,
      execute: async ({ cmd, workdir, yield_time_ms, max_output_tokens }) => {
        const started = await sandboxes.startProcess(auth, sandboxId, {
          // bash where the template has it (every built-in one does), sh otherwise.
          command: `if command -v bash >/dev/null 2>&1; then exec bash -c ${shellQuote(cmd)}; else exec sh -c ${shellQuote(cmd)}; fi`,
          cwd: workdir ? resolvePath(environment, workdir) : environment.workdir,
          pty: { cols: 200, rows: 50 },
        });
        const session: Session = { pid: started.pid, offset: 0 };
        sessions.set(nextSession++, session);
        return collect(session, yield_time_ms ?? defaultExecYieldMs, max_output_tokens);
      },
    }),
    write_stdin: tool({
      description: descriptions.write_stdin,
      inputSchema: inputs.write_stdin,
      execute: async ({ session_id, chars, yield_time_ms, max_output_tokens }) => {
        const session = sessions.get(session_id);
        if (!session) {
          throw new ToolFailure(
            `no running session ${session_id}${sessions.size ? `; running: ${[...sessions.keys()].join(', ')}` : ''}`,
          );
        }
        if (chars) {
          await sandboxes
            .processStdin(auth, sandboxId, session.pid, Buffer.from(chars), false)
            .catch((error: unknown) => {
              if (error instanceof DomainError && error.code === 'process_not_found') return;
              throw error;
            });
        }
        return collect(session, yield_time_ms ?? defaultStdinYieldMs, max_output_tokens);
      },
    }),
    apply_patch: tool({
      description: descriptions.apply_patch,
      inputSchema: inputs.apply_patch,
      execute: async ({ input }) => {
        let operations: PatchOperation[];
        try {
          operations = parsePatch(input);
        } catch (error) {
          if (error instanceof PatchError) throw new ToolFailure(`the patch is malformed: ${error.message}`);
          throw error;
        }
        // Every new text is worked out first; only then is anything written, so a hunk that does not apply
        // (or a file to add that exists, or one to change that does not) changes nothing.
        const writes: { path: string; content: string }[] = [];
        const removals: string[] = [];
        for (const operation of operations) {
          const path = resolvePath(environment, operation.path);
          const exists = (await sandboxes.pathExists(auth, sandboxId, path)).exists;
          if (operation.kind === 'add') {
            if (exists) throw new ToolFailure(`${path} exists; update it instead of adding it`);
            writes.push({ path, content: operation.content });
          } else if (operation.kind === 'delete') {
            if (!exists) throw new ToolFailure(`${path} does not exist`);
            removals.push(path);
          } else {
            const text = await readText(environment, path);
            let updated: string;
            try {
              updated = applyHunks(path, text, operation.hunks);
            } catch (error) {
              if (error instanceof PatchError) throw new ToolFailure(error.message);
              throw error;
            }
            if (operation.moveTo !== undefined) {
              writes.push({ path: resolvePath(environment, operation.moveTo), content: updated });
              removals.push(path);
            } else writes.push({ path, content: updated });
          }
        }
        try {
          for (const write of writes) await writeText(environment, write.path, write.content);
          for (const path of removals)
            if (!writes.some((write) => write.path === path)) await sandboxes.removePath(auth, sandboxId, path);
        } catch (error) {
          throw fileFailure(error, 'a file of the patch');
        }
        return {
          applied: operations.map((operation) =>
            operation.kind === 'update' && operation.moveTo
              ? `M ${operation.path} -> ${operation.moveTo}`
              : `${operation.kind === 'add' ? 'A' : operation.kind === 'delete' ? 'D' : 'M'} ${operation.path}`,
          ),
        };
      },
    }),
    view_image: tool({
      description: descriptions.view_image,
      inputSchema: inputs.view_image,
      execute: async ({ path }) => {
        const absolute = resolvePath(environment, path);
        const stat = await sandboxes.statFile(auth, sandboxId, absolute).catch((error: unknown) => {
          throw fileFailure(error, absolute);
        });
        if (stat.size > maxImageBytes)
          throw new ToolFailure(`${absolute} is ${stat.size} bytes; at most ${maxImageBytes}`);
        const file = await sandboxes.readFile(auth, sandboxId, absolute).catch((error: unknown) => {
          throw fileFailure(error, absolute);
        });
        const bytes = Buffer.from(file.content, 'base64');
        const mediaType = imageType(bytes);
        if (!mediaType) throw new ToolFailure(`${absolute} is not a PNG, JPEG, GIF or WebP image`);
        return { path: absolute, mediaType, data: bytes.toString('base64') };
      },
      // The model gets the image itself; the run's events keep only where it came from.
      toModelOutput: ({ output }) => {
        const image = output as { path: string; mediaType: string; data: string };
        return {
          type: 'content',
          value: [
            { type: 'text', text: image.path },
            { type: 'file', mediaType: image.mediaType, data: { type: 'data', data: image.data } },
          ],
        };
      },
    }),
  };
  return Object.fromEntries(
    (Object.keys(tools) as CodexTool[]).filter((name) => allowed.includes(name)).map((name) => [name, tools[name]]),
  );
}
