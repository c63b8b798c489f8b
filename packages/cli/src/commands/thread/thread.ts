import type { ThreadMessage } from '@runtools/sdk';
import type { Command } from 'commander';
import { shorten } from '../../agent-events.js';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

type Part = { type?: string; [key: string]: unknown };

/** A model message's content as lines: text as it is, the rest (tool calls, results, files) summarized. */
function contentLines(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [shorten(content)];
  return (content as Part[]).map((part) => {
    switch (part.type) {
      case 'text':
        return String(part.text ?? '');
      case 'reasoning':
        return `(thinking) ${shorten(part.text)}`;
      case 'tool-call':
        return `→ ${String(part.toolName)} ${shorten(part.input ?? part.args)}`;
      case 'tool-result': {
        const result = part.output as { type?: string; value?: unknown } | undefined;
        const error = result?.type?.startsWith('error') ? ' ✗ error' : '';
        return `← ${String(part.toolName)}${error} ${shorten(result?.value ?? result)}`;
      }
      case 'image':
      case 'file':
        return `[${part.type}${part.filename ? ` ${String(part.filename)}` : ''}${part.mediaType ? ` ${String(part.mediaType)}` : ''}]`;
      default:
        return shorten(part);
    }
  });
}

function printMessages(messages: ThreadMessage[]): void {
  if (messages.length === 0) {
    process.stdout.write('No messages.\n');
    return;
  }
  let run: string | undefined;
  for (const message of messages) {
    if (message.runId !== run) {
      run = message.runId;
      process.stdout.write(`── ${run} ──\n`);
    }
    const lines = contentLines(message.content).join('\n').replace(/\n+$/, '');
    process.stdout.write(`${message.role}: ${lines.replaceAll('\n', '\n  ')}\n`);
  }
}

export function register(thread: Command): void {
  registerList(thread, {
    description: 'threads, most recently active first',
    options: (command) => command.option('--agent <slug>', "only this agent's"),
    fetch: (rt, flags: { agent?: string }) => rt.threads.list(flags.agent ? { agent: flags.agent } : {}),
    columns: [
      ['id', (item) => item.id],
      ['agent', (item) => item.agent],
      ['messages', (item) => item.messageCount],
      ['sandbox', (item) => item.sandboxId],
      ['updated', (item) => item.updatedAt],
    ],
    empty: 'No threads.',
  });

  thread
    .command('get <threadId>')
    .description('one thread')
    .action(async (threadId: string, _flags, command: Command) => {
      const found = await client(command).threads.get(threadId);
      output(globalOptions(command).json, found, () =>
        printRecord([
          ['id', found.id],
          ['agent', found.agent],
          ['messages', found.messageCount],
          ['sandbox', found.sandboxId],
          ['created', found.createdAt],
          ['updated', found.updatedAt],
        ]),
      );
    });

  registerList(thread, {
    name: 'messages <threadId>',
    description: "a thread's messages as the model sees them, oldest first",
    fetch: (rt, _flags, [threadId]) => rt.threads.messages(threadId as string),
    print: printMessages,
  });

  thread
    .command('delete <threadId>')
    .description('delete a thread and its messages (and its sandbox, as a managed agent says)')
    .action(async (threadId: string, _flags, command: Command) => {
      const result = await client(command).threads.delete(threadId);
      output(globalOptions(command).json, result, () => process.stdout.write(`Deleted ${threadId}\n`));
    });
}
