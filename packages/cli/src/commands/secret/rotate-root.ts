import type { Command } from 'commander';
import { globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(secret: Command): void {
  secret
    .command('rotate-root')
    .description('re-wrap every secret under a new root key (stop the server first)')
    .option('--data-dir <dir>', 'the server data dir (default ~/.runtools)')
    .option('--database-url <url>', 'the server database, when it is PostgreSQL')
    .option('--new-key <key>', 'the new root key (32 bytes, base64 or hex); generated when omitted')
    .action(async (flags: { dataDir?: string; databaseUrl?: string; newKey?: string }, command: Command) => {
      const { resolveServerConfig, rotateRootKey } = await import('@runtools/server');
      const config = resolveServerConfig({
        ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
        ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}),
      });
      const result = await rotateRootKey({
        dataDir: config.dataDir,
        databaseUrl: config.databaseUrl,
        masterKey: config.masterKey,
        newKey: flags.newKey,
      });
      output(globalOptions(command).json, result, () => {
        printRecord([
          ['re-wrapped secrets', result.secrets],
          ['re-wrapped tool credentials', result.toolCredentials],
          ['old root key id', result.oldKeyId],
          ['new root key id', result.newKeyId],
        ]);
        if (result.newKeyText) {
          process.stdout.write(
            `\nThe root key came from RUNTOOLS_MASTER_KEY. Set it to the new key before starting the server:\n\n  RUNTOOLS_MASTER_KEY=${result.newKeyText}\n`,
          );
        } else {
          process.stdout.write(`\nThe new root key is in ${config.dataDir}/root-key.\n`);
        }
      });
    });
}
