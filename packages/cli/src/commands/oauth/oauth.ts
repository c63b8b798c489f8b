import { spawn } from 'node:child_process';
import type { OAuthConnection, OAuthProviderId } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { exitCodes, UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';

const providerIds = ['github', 'google', 'slack', 'microsoft', 'x', 'linkedin'];

function providerId(value: string): OAuthProviderId {
  if (!providerIds.includes(value)) {
    throw new UserError(`unknown OAuth provider "${value}"`, `one of: ${providerIds.join(', ')}`);
  }
  return value as OAuthProviderId;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/**
 * Opens a URL in the desktop's browser, where there is a desktop (a display on Linux, macOS, Windows); on a
 * server or over SSH it does nothing, and the printed URL is what the user opens.
 */
function openInBrowser(url: string): void {
  // Only a web page: the URL comes from the server, and an opener starts whatever a scheme names.
  if (!/^https?:\/\//i.test(url)) return;
  const opener =
    process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? // Not `cmd /c start`: cmd would split the URL at its first `&`.
          ['rundll32', 'url.dll,FileProtocolHandler', url]
        : process.env.DISPLAY || process.env.WAYLAND_DISPLAY
          ? ['xdg-open', url]
          : undefined;
  if (!opener) return;
  const child = spawn(opener[0] as string, opener.slice(1), { stdio: 'ignore', detached: true });
  child.on('error', () => {});
  child.unref();
}

const account = (connection: OAuthConnection) =>
  connection.account ? (connection.account.login ?? connection.account.email ?? connection.account.id ?? '') : '';

function printConnection(connection: OAuthConnection): void {
  printRecord([
    ['id', connection.id],
    ['provider', connection.provider],
    ['status', connection.status],
    ['account', account(connection) || null],
    ['scopes', connection.scopes.join(' ')],
    ['expires', connection.expiresAt],
    ['default', connection.isDefault ? 'yes' : 'no'],
    ['error', connection.error ? `${connection.error.code}: ${connection.error.message}` : null],
  ]);
}

export function register(oauth: Command): void {
  const app = oauth.command('app').description("the org's OAuth app at each provider (admins)");
  app
    .command('set <provider>')
    .description('register the OAuth app you made at the provider; prints the callback URL to give it')
    .requiredOption('--client-id <id>', "the app's client id")
    .requiredOption('--client-secret <secret>', "the app's client secret (- reads it from standard input)")
    .action(async (provider: string, flags: { clientId: string; clientSecret: string }, command: Command) => {
      const clientSecret = flags.clientSecret === '-' ? await readStdin() : flags.clientSecret;
      if (!clientSecret) throw new UserError('the client secret is empty');
      const saved = await client(command).auth.apps.set(providerId(provider), {
        clientId: flags.clientId,
        clientSecret,
      });
      output(globalOptions(command).json, saved, () =>
        process.stdout.write(
          `registered the ${saved.provider} app ${saved.clientId}\ncallback URL (register it with the provider): ${saved.callbackUrl}\n`,
        ),
      );
    });
  registerList(app, {
    description: "the org's OAuth apps (client ids; never secrets)",
    fetch: (rt) => rt.auth.apps.list(),
    columns: [
      ['provider', (entry) => entry.provider],
      ['client id', (entry) => entry.clientId],
      ['callback URL', (entry) => entry.callbackUrl],
      ['updated', (entry) => entry.updatedAt],
    ],
    empty: 'No OAuth apps: runtools oauth app set PROVIDER --client-id … --client-secret …',
  });
  app
    .command('delete <provider>')
    .description("remove the org's app at a provider (connections stay until revoked)")
    .action(async (provider: string, _flags, command: Command) => {
      const result = await client(command).auth.apps.delete(providerId(provider));
      output(globalOptions(command).json, result, () => process.stdout.write(`deleted the ${provider} app\n`));
    });

  registerList(oauth, {
    name: 'providers',
    description: 'the providers: their tools, default scopes, whether the org has an app, the callback URL',
    fetch: (rt) => rt.auth.providers(),
    columns: [
      ['provider', (entry) => entry.id],
      ['app', (entry) => (entry.configured ? 'registered' : 'none')],
      ['tools', (entry) => entry.tools.join(', ')],
      ['scopes', (entry) => entry.scopes.join(' ')],
    ],
    empty: 'No providers.',
  });

  oauth
    .command('connect <provider>')
    .description('connect your account: prints (and on a desktop opens) the consent URL, waits until it completes')
    .option('--scopes <scopes>', "scopes to ask for, comma- or space-separated (default: the provider's tools')")
    .option('--default', "make it the org's default connection for the provider (admins)")
    .option('--no-open', 'only print the URL')
    .option('--timeout <seconds>', 'how long to wait for the consent', '600')
    .action(
      async (
        provider: string,
        flags: { scopes?: string; default?: boolean; open: boolean; timeout: string },
        command: Command,
      ) => {
        const rt = client(command);
        const timeoutSeconds = Number(flags.timeout);
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
          throw new UserError('--timeout takes a number of seconds');
        }
        const scopes = flags.scopes?.split(/[\s,]+/).filter(Boolean);
        const started = await rt.auth.connections.create(providerId(provider), {
          ...(scopes ? { scopes } : {}),
          ...(flags.default ? { default: true } : {}),
        });
        process.stderr.write(`Open this URL to connect ${provider} (it expires at ${started.expiresAt}):\n`);
        // With --json, standard output holds only the connection's JSON.
        (globalOptions(command).json ? process.stderr : process.stdout).write(`${started.authorizationUrl}\n`);
        if (flags.open) openInBrowser(started.authorizationUrl);
        process.stderr.write('Waiting for the consent…\n');
        const connection = await rt.auth.connections.wait(started.connection.id, {
          timeoutMs: timeoutSeconds * 1000,
        });
        if (connection.status === 'pending') {
          throw new UserError(
            `no consent within ${timeoutSeconds} s; the connection ${connection.id} is still pending`,
            'run runtools oauth connect again',
            exitCodes.internal,
          );
        }
        if (connection.status !== 'active') {
          throw new UserError(
            `${provider} was not connected: ${connection.error?.code ?? connection.status}: ${connection.error?.message ?? ''}`,
            undefined,
            exitCodes.permission,
          );
        }
        output(globalOptions(command).json, connection, () =>
          process.stdout.write(
            `connected ${provider}${account(connection) ? ` as ${account(connection)}` : ''} (${connection.id}; scopes: ${connection.scopes.join(' ')})\n`,
          ),
        );
      },
    );

  registerList(oauth, {
    description: 'connections: yours and the org defaults (admins: all); never tokens',
    options: (command) =>
      command.option('--provider <provider>', 'only this provider').option('--status <status>', 'only this status'),
    fetch: (rt, flags: { provider?: string; status?: OAuthConnection['status'] }) =>
      rt.auth.connections.list({
        ...(flags.provider ? { provider: providerId(flags.provider) } : {}),
        ...(flags.status ? { status: flags.status } : {}),
      }),
    columns: [
      ['id', (connection) => connection.id],
      ['provider', (connection) => connection.provider],
      ['status', (connection) => connection.status],
      ['account', (connection) => account(connection)],
      ['default', (connection) => (connection.isDefault ? 'yes' : '')],
      ['expires', (connection) => connection.expiresAt],
    ],
    empty: 'No connections: runtools oauth connect PROVIDER',
  });

  oauth
    .command('get <id>')
    .description('one connection and its status')
    .action(async (id: string, _flags, command: Command) => {
      const connection = await client(command).auth.connections.get(id);
      output(globalOptions(command).json, connection, () => printConnection(connection));
    });

  oauth
    .command('revoke <id>')
    .description('revoke a connection at the provider (where it can) and delete its tokens')
    .action(async (id: string, _flags, command: Command) => {
      const result = await client(command).auth.connections.revoke(id);
      output(globalOptions(command).json, result, () =>
        process.stdout.write(
          `revoked ${id}${result.revokedAtProvider ? '' : ' (deleted here; the provider did not confirm a revocation)'}\n`,
        ),
      );
    });

  oauth
    .command('default <id>')
    .description("make a connection the org's default for its provider (admins)")
    .option('--unset', 'stop it being the default')
    .action(async (id: string, flags: { unset?: boolean }, command: Command) => {
      const connection = await client(command).auth.connections.setDefault(id, !flags.unset);
      output(globalOptions(command).json, connection, () => printConnection(connection));
    });
}
