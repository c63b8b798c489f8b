import { readFileSync } from 'node:fs';
import type { AgentUpdateRequest } from '@runtools/sdk';
import type { Command } from 'commander';
import { UserError } from '../../errors.js';

/** The definition flags `agent create` and `agent update` share. */
export interface DefinitionFlags {
  model?: string;
  name?: string;
  description?: string;
  systemPrompt?: string;
  systemPromptFile?: string;
  tools?: string;
  sandbox?: string;
  mode?: string;
  device?: string;
  template?: string;
  maxIterations?: string;
}

const modes = ['in_sandbox', 'managed', 'local', 'local-mac'];

export function definitionOptions(command: Command, modelFlag: 'required' | 'optional'): Command {
  const model = '--model <model>';
  const modelHelp = 'a model alias (claude-sonnet-4), or provider/model-id (anthropic/claude-opus-4-1, local/qwen3)';
  return (modelFlag === 'required' ? command.requiredOption(model, modelHelp) : command.option(model, modelHelp))
    .option('--name <name>', 'display name (default: the slug)')
    .option('--description <text>', 'what it is for')
    .option('--system-prompt <text>', 'its system prompt')
    .option('--system-prompt-file <path>', 'read the system prompt from a file')
    .option('--tools <a,b,c>', 'the tools it may call, comma-separated (default: every built-in tool; "" for none)')
    .option('--sandbox <sandboxId>', 'the sandbox it works in (mode in_sandbox)')
    .option(
      '--mode <mode>',
      'in_sandbox (a --sandbox of yours), managed (a sandbox of its own per run) or local (a RunMesh --device)',
    )
    .option('--device <node>', 'mode local: the RunMesh node (name or id) whose device runs its tools')
    .option('--template <template>', 'managed mode: the template its sandboxes start from')
    .option('--max-iterations <n>', 'the most model steps a run may take (1-100, default 25)');
}

/** The request fields the flags give; only those given. */
export function definitionFromFlags(flags: DefinitionFlags): AgentUpdateRequest {
  if (flags.mode !== undefined && !modes.includes(flags.mode))
    throw new UserError(`--mode must be one of ${modes.join(', ')}`);
  if (flags.sandbox && flags.template)
    throw new UserError('give --sandbox (in_sandbox) or --template (managed), not both');
  if (flags.sandbox && flags.mode === 'managed')
    throw new UserError('mode managed makes its own sandboxes: use --template instead of --sandbox');
  if (flags.template && flags.mode === 'in_sandbox')
    throw new UserError('mode in_sandbox works in an existing sandbox: use --sandbox instead of --template');
  if (flags.device && (flags.sandbox || flags.template))
    throw new UserError('a local agent works on its --device: leave out --sandbox and --template');
  if (flags.systemPrompt !== undefined && flags.systemPromptFile)
    throw new UserError('give --system-prompt or --system-prompt-file, not both');
  let systemPrompt = flags.systemPrompt;
  if (flags.systemPromptFile) {
    try {
      systemPrompt = readFileSync(flags.systemPromptFile, 'utf8');
    } catch (error) {
      throw new UserError(`cannot read ${flags.systemPromptFile}: ${(error as Error).message}`);
    }
  }
  let maxIterations: number | undefined;
  if (flags.maxIterations !== undefined) {
    maxIterations = Number(flags.maxIterations);
    // The range is the server's to check (and to explain).
    if (!Number.isInteger(maxIterations)) throw new UserError('--max-iterations must be a whole number');
  }
  const tools =
    flags.tools === undefined
      ? undefined
      : flags.tools
          .split(',')
          .map((tool) => tool.trim())
          .filter(Boolean);
  const mode = (flags.mode ??
    (flags.template ? 'managed' : flags.device ? 'local' : undefined)) as AgentUpdateRequest['mode'];
  return {
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(systemPrompt !== undefined ? { systemPrompt } : {}),
    ...(tools ? { tools } : {}),
    ...(mode ? { mode } : {}),
    ...(flags.sandbox ? { sandbox: flags.sandbox } : {}),
    ...(flags.device ? { device: flags.device } : {}),
    ...(flags.template ? { sandbox: { template: flags.template } } : {}),
    ...(maxIterations !== undefined ? { maxIterations } : {}),
  };
}
