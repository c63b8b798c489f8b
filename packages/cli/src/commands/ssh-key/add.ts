import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';

export function register(sshKey: Command): void {
  sshKey
    .command('add')
    .description("register an SSH public key for the org's sandboxes")
    .requiredOption('--name <name>', 'a name for the key, e.g. laptop')
    .option('--key <line>', 'the public key line, e.g. "ssh-ed25519 AAAA… me@host"')
    .option('--file <path>', 'a public key file, e.g. ~/.ssh/id_ed25519.pub')
    .action(async (flags: { name: string; key?: string; file?: string }, command: Command) => {
      if (Boolean(flags.key) === Boolean(flags.file)) throw new UserError('give exactly one of --key or --file');
      let publicKey = flags.key ?? '';
      if (flags.file) {
        try {
          publicKey = readFileSync(flags.file, 'utf8');
        } catch (error) {
          throw new UserError(`cannot read ${flags.file}: ${(error as Error).message}`);
        }
      }
      const added = await client(command).sshKeys.add({ name: flags.name, publicKey });
      output(globalOptions(command).json, added, () =>
        printRecord([
          ['id', added.id],
          ['name', added.name],
          ['type', `${added.algorithm}${added.bits ? ` (${added.bits} bits)` : ''}`],
          ['fingerprint', added.fingerprint],
        ]),
      );
    });
}
