import type { Trigger, TriggerCreateRequest } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions, readStdin } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';
import { inputFromFlags, versionFlag } from '../../workflow-files.js';

interface CreateFlags {
  cron?: string;
  webhook?: boolean;
  timezone?: string;
  missedFires?: string;
  input?: string;
  inputFile?: string;
  version?: string;
}

function printCreated(trigger: Trigger): void {
  if (trigger.kind === 'cron') {
    process.stdout.write(
      `created cron trigger ${trigger.id} for ${trigger.workflow}: "${trigger.schedule}" (${trigger.timezone}), next at ${trigger.nextFireAt ?? '-'}\n`,
    );
    return;
  }
  process.stdout.write(`created webhook trigger ${trigger.id} for ${trigger.workflow}\n`);
  printRecord([
    ['url', trigger.url],
    ['secret', trigger.secret],
  ]);
  process.stderr.write(
    'The URL and secret are shown only this once: store them now.\n' +
      'Sign each delivery: X-RunTools-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with the secret, ' +
      'and a unique X-RunTools-Delivery id.\n',
  );
}

export function register(trigger: Command): void {
  trigger
    .command('create <slug>')
    .summary('create a cron (--cron EXPR) or webhook (--webhook) trigger')
    .description(
      'create a trigger whose runs act with your rights: --cron EXPR runs the workflow on a schedule (in --timezone, UTC by default); --webhook makes a URL that starts a run for each signed POST (its URL and secret are printed once)',
    )
    .option('--cron <expression>', "a cron expression, e.g. '0 9 * * 1-5'")
    .option('--webhook', 'a signed webhook URL')
    .option('--timezone <tz>', 'the time zone of a cron schedule, e.g. Europe/Paris (default UTC)')
    .option('--missed-fires <policy>', 'fires missed while no server ran: skip (default) or run_once')
    .option('--input <json>', "the runs' input document, a JSON object")
    .option('--input-file <file>', 'read the input document from a JSON file')
    .option('--version <version>', 'a published version number, or latest (the default)')
    .action(async (slug: string, flags: CreateFlags, command: Command) => {
      if (Boolean(flags.cron) === Boolean(flags.webhook)) throw new UserError('give --cron EXPR or --webhook');
      if (flags.webhook && (flags.timezone || flags.missedFires))
        throw new UserError('--timezone and --missed-fires are for --cron');
      if (flags.missedFires !== undefined && flags.missedFires !== 'skip' && flags.missedFires !== 'run_once')
        throw new UserError('--missed-fires must be skip or run_once');
      const input = await inputFromFlags(flags, readStdin);
      const version = versionFlag(flags.version, false);
      const common = { ...(input ? { input } : {}), ...(version !== undefined ? { version } : {}) };
      const request: TriggerCreateRequest = flags.cron
        ? {
            kind: 'cron',
            schedule: flags.cron,
            ...(flags.timezone ? { timezone: flags.timezone } : {}),
            ...(flags.missedFires ? { missedFires: flags.missedFires as 'skip' | 'run_once' } : {}),
            ...common,
          }
        : { kind: 'webhook', ...common };
      const created = await client(command).workflows.triggers.create(slug, request);
      output(globalOptions(command).json, created, () => printCreated(created));
    });

  registerList(trigger, {
    name: 'list <slug>',
    description: "a workflow's triggers with their next fire times",
    fetch: (rt, _flags, [slug]) => rt.workflows.triggers.list(slug as string),
    columns: [
      ['id', (item) => item.id],
      ['kind', (item) => item.kind],
      ['schedule', (item) => (item.schedule ? `${item.schedule} (${item.timezone ?? 'UTC'})` : null)],
      ['version', (item) => (item.version === 'latest' ? 'latest' : `v${item.version}`)],
      ['next', (item) => item.nextFireAt],
      ['last fired', (item) => item.lastFiredAt],
      ['enabled', (item) => (item.enabled ? 'yes' : 'no')],
    ],
    empty: 'No triggers.',
  });

  trigger
    .command('delete <slug> <triggerId>')
    .description('delete a trigger (a webhook URL stops answering)')
    .action(async (slug: string, triggerId: string, _flags, command: Command) => {
      const result = await client(command).workflows.triggers.delete(slug, triggerId);
      output(globalOptions(command).json, result, () => process.stdout.write(`deleted ${triggerId}\n`));
    });
}
