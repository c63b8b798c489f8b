import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultBaseUrl, RunTools } from '@runtools/sdk';
import type { Command } from 'commander';
import { writeConfig } from '../../config.js';
import { globalOptions, readStdin } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

export function register(program: Command): void {
  program
    .command('login')
    .description('check an API key against a server and store both in ~/.runtools/config.json (0600)')
    .option('--data-dir <dir>', "read the key a local server's first start saved to <dir>/admin-key")
    .addHelpText('after', '\nWithout --api-key or --data-dir, the key is read from stdin.')
    .action(async (options: { dataDir?: string }, command: Command) => {
      const global = globalOptions(command);
      let apiKey = global.apiKey;
      if (!apiKey && options.dataDir) {
        try {
          apiKey = readFileSync(join(options.dataDir, 'admin-key'), 'utf8').trim();
        } catch {
          throw new UserError(`no admin key at ${join(options.dataDir, 'admin-key')}`, 'pass --api-key instead');
        }
      }
      if (!apiKey) {
        if (process.stdin.isTTY) process.stderr.write('API key: ');
        apiKey = (await readStdin()).trim().split('\n')[0]?.trim();
      }
      if (!apiKey)
        throw new UserError('no API key given', 'pass --api-key KEY, --data-dir DIR, or pipe the key on stdin');
      const url = global.url ?? process.env.RUNTOOLS_API_URL ?? defaultBaseUrl;
      const me = await new RunTools({ apiKey, baseUrl: url, maxRetries: 0 }).auth.whoami();
      const path = writeConfig({ url, apiKey });
      output(global.json, me, () => {
        process.stdout.write(
          `Logged in to ${url} as ${me.member.email} (${me.member.role}) in org ${me.org.slug}, key ${me.key.prefix}\n`,
        );
        process.stdout.write(`Saved to ${path}\n`);
      });
    });
}
