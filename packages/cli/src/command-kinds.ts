import type { RunTools } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from './context.js';
import { type Cell, output, printTable } from './output.js';

/**
 * `<noun> list` (or another name): fetch a list through the SDK, print it as a table, or as JSON with --json.
 * `options` adds the command's own filters; `fetch` gets their parsed values.
 */
export function registerList<Row, Flags extends object = Record<string, never>>(
  parent: Command,
  spec: {
    name?: string;
    description: string;
    options?: (command: Command) => Command;
    fetch: (rt: RunTools, flags: Flags) => Promise<Row[]>;
    columns: [header: string, cell: (row: Row) => Cell][];
    empty: string;
  },
): void {
  const command = parent.command(spec.name ?? 'list').description(spec.description);
  (spec.options?.(command) ?? command).action(async (flags: Flags, self: Command) => {
    const list = await spec.fetch(client(self), flags);
    output(globalOptions(self).json, list, () => printTable(list, spec.columns, spec.empty));
  });
}

/** `<noun> <verb> <id>` for deletions: call the SDK, confirm in one line, or print its result with --json. */
export function registerRemoval(
  parent: Command,
  spec: { usage: string; description: string; remove: (rt: RunTools, id: string) => Promise<unknown>; done: string },
): void {
  parent
    .command(spec.usage)
    .description(spec.description)
    .action(async (id: string, _flags, command: Command) => {
      const result = await spec.remove(client(command), id);
      output(globalOptions(command).json, result, () => process.stdout.write(`${spec.done} ${id}\n`));
    });
}
