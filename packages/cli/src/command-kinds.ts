import { PagedList, type RunTools } from '@runtools/sdk';
import { PageQuery } from '@runtools/spec';
import type { Command } from 'commander';
import { z } from 'zod';
import { inProject, projectFlag } from './commands/project/resolve.js';
import { client, globalOptions } from './context.js';
import { UserError } from './errors.js';
import { type Cell, output, printTable } from './output.js';

/** How a list is shown: a table of `columns` (`empty` when there are no rows), or `print` of its own. */
type Printing<Row> =
  | { columns: [header: string, cell: (row: Row) => Cell][]; empty: string; print?: never }
  | { print: (rows: Row[], args: (string | undefined)[]) => void; columns?: never; empty?: never };

interface PageFlags {
  limit?: string;
  cursor?: string;
  all?: boolean;
}

const PageFlags = z.object(PageQuery);

/** A word as a POSIX shell reads it back. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** This very command line with `--cursor` set to `cursor` (any cursor it had left out). */
function nextPageCommand(cursor: string): string {
  const words: string[] = [];
  const given = process.argv.slice(2);
  for (let index = 0; index < given.length; index++) {
    const word = given[index] as string;
    if (word === '--cursor') index++;
    else if (!word.startsWith('--cursor=')) words.push(word);
  }
  return ['runtools', ...words, '--cursor', cursor].map(shellWord).join(' ');
}

/**
 * The list of something read first (a sandbox by its id), read when its first page is. Not an async function
 * answering the list: awaiting a list reads all of it, and so does an async function's answer.
 */
export function listFrom<Parent, Row>(load: () => Promise<Parent>, list: (parent: Parent) => PagedList<Row>) {
  let loaded: Promise<Parent> | undefined;
  return new PagedList(async (page) => {
    loaded ??= load();
    return list(await loaded).page(page);
  });
}

/**
 * `<noun> list` (or another name, with arguments: `versions <slug>`): a list read through the SDK and printed
 * as a table, or as JSON with --json. It prints the first page (the server's default size, 100) and says on
 * stderr how to get the next when more follow; --limit N prints a page of N, --cursor C the page after the one
 * that gave C, --all every page. `options` adds the command's own filters; `fetch` gets their parsed values
 * and the command's arguments.
 */
export function registerList<Row, Flags extends object = Record<string, never>>(
  parent: Command,
  spec: {
    name?: string;
    description: string;
    options?: (command: Command) => Command;
    /** Adds `--project`: its slug, name or id reaches `fetch` as `projectId`. */
    byProject?: boolean;
    fetch: (rt: RunTools, flags: Flags & { projectId?: string }, args: (string | undefined)[]) => PagedList<Row>;
  } & Printing<Row>,
): void {
  const command = parent.command(spec.name ?? 'list').description(spec.description);
  if (spec.byProject) command.option(...projectFlag);
  (spec.options?.(command) ?? command)
    .option('--limit <n>', 'print one page of at most n items (1 to 1000; default 100)')
    .option('--cursor <cursor>', 'print the page after the one that gave this cursor')
    .option('--all', 'print every page')
    .action(async (...args: unknown[]) => {
      const self = args.at(-1) as Command;
      const flags = args.at(-2) as Flags & PageFlags;
      const parsed = PageFlags.safeParse({ limit: flags.limit, cursor: flags.cursor });
      if (!parsed.success) throw new UserError(`--limit must be a whole number from 1 to 1000, not "${flags.limit}"`);
      const page = { limit: parsed.data.limit, cursor: parsed.data.cursor };
      const positional = args.slice(0, -2) as (string | undefined)[];
      const rt = client(self);
      const project = spec.byProject ? await inProject(rt, (flags as { project?: string }).project) : {};
      const list = spec.fetch(rt, { ...flags, ...project }, positional);
      let rows: Row[] = [];
      let nextCursor: string | null = null;
      if (flags.all) {
        for await (const each of list.pages(page)) rows.push(...each.data);
      } else {
        ({ data: rows, nextCursor } = await list.page(page));
      }
      output(globalOptions(self).json, rows, () =>
        spec.print ? spec.print(rows, positional) : printTable(rows, spec.columns, spec.empty),
      );
      if (nextCursor !== null)
        process.stderr.write(`More follow. The next page: ${nextPageCommand(nextCursor)}\n(or --all for every page)\n`);
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
