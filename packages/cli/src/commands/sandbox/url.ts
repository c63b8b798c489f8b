import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

/** `sandbox url ID PORT [--public] [--revoke]`: the dev URL of a port inside a sandbox. */
export function register(sandbox: Command): void {
  sandbox
    .command('url <id> <port>')
    .description('the dev URL of a port inside a sandbox (private, with a signed link, unless --public)')
    .option('--public', 'reachable by anyone with the URL')
    .option('--subdomain <label>', 'a custom host label, unique across the platform until the sandbox goes')
    .option('--revoke', 'make it private again and void every signed link')
    .action(
      async (
        id: string,
        portText: string,
        flags: { public?: boolean; revoke?: boolean; subdomain?: string },
        command: Command,
      ) => {
        const port = Number(portText);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError('PORT must be 1-65535');
        const found = await client(command).sandboxes.get(id);
        if (flags.revoke) {
          await found.revokeUrl(port);
          output(globalOptions(command).json, { port, revoked: true }, () =>
            process.stdout.write(`port ${port} is private; earlier links no longer work\n`),
          );
          return;
        }
        const url = await found.getUrl({
          port,
          ...(flags.public ? { public: true } : {}),
          ...(flags.subdomain ? { subdomain: flags.subdomain } : {}),
        });
        output(globalOptions(command).json, url, () =>
          process.stdout.write(
            url.public ? `${url.url}\n` : `${url.signedUrl}\n(private: expires ${url.signedUrlExpiresAt})\n`,
          ),
        );
      },
    );
}
