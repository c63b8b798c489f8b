import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { SecretStore } from '../credentials/secret-store.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { builtinProviders, ModelResolver, modelAliases, type ResolvedModel } from './models.js';

/** Org secrets as the resolver reads them: a name to a value, or secret_not_found. */
function secrets(values: Record<string, string>): SecretStore {
  return {
    async get(_orgId: string, name: string) {
      const value = values[name];
      if (value === undefined) throw new DomainError('secret_not_found', `no secret named ${name}`);
      return { value };
    },
  } as unknown as SecretStore;
}

// Built-in models never touch the database: only registered providers are looked up there.
const noDatabase = {} as Kysely<Database>;
const allKeys = Object.fromEntries(Object.values(builtinProviders).map(({ secret }) => [secret, `key-${secret}`]));

function describeModel({ model }: ResolvedModel): { provider: string; modelId: string } {
  const { provider, modelId } = model as { provider: string; modelId: string };
  return { provider, modelId };
}

describe('the model table', () => {
  it('builds every alias with its provider, from the key in its org secret', async () => {
    const resolver = new ModelResolver(noDatabase, secrets(allKeys));
    for (const [alias, target] of Object.entries(modelAliases)) {
      const model = describeModel(await resolver.model('org_x', alias));
      expect(model.modelId, alias).toBe(target.modelId);
      expect(model.provider.split('.')[0], alias).toBe(target.provider);
    }
  });

  it('takes any model of a built-in provider as provider/model-id, including ids with slashes', async () => {
    const resolver = new ModelResolver(noDatabase, secrets(allKeys));
    expect(describeModel(await resolver.model('org_x', 'anthropic/claude-opus-4-1'))).toMatchObject({
      modelId: 'claude-opus-4-1',
    });
    expect(describeModel(await resolver.model('org_x', 'groq/moonshotai/kimi-k2-instruct'))).toMatchObject({
      modelId: 'moonshotai/kimi-k2-instruct',
    });
  });

  it('names the secret to set when a key is missing, and refuses names that lead nowhere', async () => {
    const resolver = new ModelResolver(noDatabase, secrets({}));
    for (const [provider, { secret }] of Object.entries(builtinProviders)) {
      await expect(resolver.model('org_x', `${provider}/some-model`)).rejects.toMatchObject({
        code: 'provider_key_missing',
        details: { provider, secret },
      });
    }
    await expect(resolver.target('org_x', 'gpt-99')).rejects.toMatchObject({ code: 'model_unknown' });
  });
});
