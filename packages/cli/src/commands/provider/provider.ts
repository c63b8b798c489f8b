import type { ProviderCreateRequest } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

const types = ['openai-compatible', 'openai', 'anthropic'];

export function register(provider: Command): void {
  provider
    .command('add <name>')
    .description('register a model endpoint (Ollama, vLLM, llama.cpp, a proxy); agents name its models NAME/MODEL')
    .requiredOption('--type <type>', `the protocol it speaks: ${types.join(', ')}`)
    .requiredOption('--base-url <url>', 'its base URL, e.g. http://127.0.0.1:11434/v1')
    .option('--api-key-secret <secret>', 'the org secret that holds its API key, if it needs one')
    .action(async (name: string, flags: { type: string; baseUrl: string; apiKeySecret?: string }, command: Command) => {
      if (!types.includes(flags.type)) throw new UserError(`--type must be one of ${types.join(', ')}`);
      const created = await client(command).providers.create({
        name,
        type: flags.type as ProviderCreateRequest['type'],
        baseUrl: flags.baseUrl,
        ...(flags.apiKeySecret ? { apiKeySecret: flags.apiKeySecret } : {}),
      });
      output(globalOptions(command).json, created, () =>
        process.stdout.write(
          `added ${created.name} (${created.type}, ${created.baseUrl}): models ${created.name}/MODEL\n`,
        ),
      );
    });

  registerList(provider, {
    description: 'registered model endpoints',
    fetch: (rt) => rt.providers.list(),
    columns: [
      ['name', (item) => item.name],
      ['type', (item) => item.type],
      ['base url', (item) => item.baseUrl],
      ['secret', (item) => item.apiKeySecret],
    ],
    empty: 'No providers.',
  });

  provider
    .command('remove <name>')
    .description('remove a registered model endpoint')
    .action(async (name: string, _flags, command: Command) => {
      const result = await client(command).providers.delete(name);
      output(globalOptions(command).json, result, () => process.stdout.write(`Removed ${name}\n`));
    });
}
