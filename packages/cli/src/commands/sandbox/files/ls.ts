import type { Command } from 'commander';
import { listFrom, registerList } from '../../../command-kinds.js';

export function register(files: Command): void {
  registerList(files, {
    name: 'ls <id> [path]',
    description: 'list a directory inside a sandbox (default /), by name',
    fetch: (rt, _flags, [id, path]) =>
      listFrom(
        () => rt.sandboxes.get(id as string),
        (found) => found.files.list(path ?? '/'),
      ),
    columns: [
      ['name', (entry) => (entry.type === 'dir' ? `${entry.name}/` : entry.name)],
      ['type', (entry) => entry.type],
      ['size', (entry) => entry.size],
    ],
    empty: 'Empty directory.',
  });
}
