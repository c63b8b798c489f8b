import type { ModelInfo } from '@runtools/spec';
import { useQuery } from '@tanstack/react-query';
import { call } from '../../api/client';
import { useCan } from '../../api/session';

/** The tools every agent has (the spec's `builtinTools`), copied: the dashboard imports only the spec's types. */
export const builtinToolNames = [
  'bash',
  'read_file',
  'edit_file',
  'write_file',
  'delete_file',
  'list_directory',
  'file_search',
  'grep',
  'web_search',
  'get_dev_url',
] as const;

/** The Codex-style tools (the spec's `codexTools`): a terminal session, patches, images. */
export const codexToolNames = ['exec_command', 'write_stdin', 'apply_patch', 'view_image'] as const;

/** Tools a `local` agent cannot have: they need a platform sandbox (the spec's `sandboxOnlyTools` and Codex tools). */
export const sandboxOnlyToolNames: readonly string[] = ['get_dev_url', ...codexToolNames];

/** A slug from a display name: lowercase words joined by single dashes. */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
}

/** Pretty JSON for tool arguments and results; strings stay as they are. */
export function pretty(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export type KeyStatus = 'key set' | 'no key' | 'no key needed' | 'key unknown';

/**
 * The model table and, when the member may list secret names, whether each provider's key secret exists.
 * (Secret values are never read: only their names.)
 */
export function useModelTable() {
  const canSeeSecrets = useCan('secrets:read', 'secrets:write');
  const models = useQuery({
    queryKey: ['models'],
    queryFn: () => call('modelsList', { query: { limit: 1000 } }),
  });
  const secrets = useQuery({
    queryKey: ['secrets', 'names'],
    queryFn: () => call('secretsList', { query: { limit: 1000 } }),
    enabled: canSeeSecrets,
  });
  const names = new Set(secrets.data?.data.map((secret) => secret.name) ?? []);
  const keyStatus = (model: Pick<ModelInfo, 'secret'> | undefined): KeyStatus => {
    if (!model) return 'key unknown';
    if (model.secret === null) return 'no key needed';
    if (!canSeeSecrets || !secrets.data) return 'key unknown';
    return names.has(model.secret) ? 'key set' : 'no key';
  };
  return { models, keyStatus };
}

/** The row of the model table a model name uses: its alias, or its provider's row (`provider/model-id`). */
export function modelRow(models: ModelInfo[], model: string): ModelInfo | undefined {
  const alias = models.find((row) => row.alias === model);
  if (alias) return alias;
  const slash = model.indexOf('/');
  if (slash < 0) return undefined;
  const provider = model.slice(0, slash);
  return models.find((row) => row.alias === null && row.provider === provider);
}

export function KeyBadge({ status, secret }: { status: KeyStatus; secret?: string | null }) {
  const tone = status === 'key set' || status === 'no key needed' ? 'ok' : status === 'no key' ? 'bad' : 'neutral';
  return (
    <span className={`badge ${tone}`} title={secret ? `secret ${secret}` : undefined}>
      {status}
    </span>
  );
}

export function formatTokens(usage: { inputTokens: number; outputTokens: number; totalTokens: number }): string {
  return `${usage.totalTokens.toLocaleString()} (${usage.inputTokens.toLocaleString()} in, ${usage.outputTokens.toLocaleString()} out)`;
}
