import { createAnthropic } from '@ai-sdk/anthropic';
import { createDeepSeek } from '@ai-sdk/deepseek';
import { createGoogle } from '@ai-sdk/google';
import { createGroq } from '@ai-sdk/groq';
import { createMistral } from '@ai-sdk/mistral';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createXai } from '@ai-sdk/xai';
import type { ProviderType } from '@runtools/spec';
import type { JSONValue, LanguageModel } from 'ai';
import type { Kysely } from 'kysely';
import type { SecretStore } from '../credentials/secret-store.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';

/** What the AI SDK's provider factories take: the org's key, and a base URL when the server overrides it. */
interface ProviderSettings {
  apiKey: string;
  baseURL?: string;
}

/** Options passed with every call to a provider's models, by the provider's options key. */
export type ProviderCallOptions = Record<string, Record<string, JSONValue>>;

/**
 * The providers every org has; each reads its key from the org secret named here. OpenAI's models go over the
 * Responses API, asked for reasoning summaries (a reasoning model's `thinking` events) and not to store anything
 * at OpenAI: the platform keeps the history, so its reasoning items go back whole (encrypted) instead of as
 * references to responses OpenAI drops after 30 days.
 */
export const builtinProviders: Readonly<
  Record<
    'anthropic' | 'openai' | 'google' | 'xai' | 'mistral' | 'deepseek' | 'groq',
    {
      secret: string;
      create(settings: ProviderSettings): (modelId: string) => LanguageModel;
      options?: ProviderCallOptions;
    }
  >
> = {
  anthropic: { secret: 'ANTHROPIC_API_KEY', create: createAnthropic },
  openai: {
    secret: 'OPENAI_API_KEY',
    create: createOpenAI,
    options: { openai: { reasoningSummary: 'auto', store: false } },
  },
  google: { secret: 'GOOGLE_GENERATIVE_AI_API_KEY', create: createGoogle },
  xai: { secret: 'XAI_API_KEY', create: createXai },
  mistral: { secret: 'MISTRAL_API_KEY', create: createMistral },
  deepseek: { secret: 'DEEPSEEK_API_KEY', create: createDeepSeek },
  groq: { secret: 'GROQ_API_KEY', create: createGroq },
};
export type BuiltinProvider = keyof typeof builtinProviders;

const isBuiltin = (name: string): name is BuiltinProvider => Object.hasOwn(builtinProviders, name);

/**
 * The model table: the short names agents use, and the provider model each stands for. Anything else is
 * addressed as `provider/model-id` (a built-in provider or one the org registered).
 */
export const modelAliases: Readonly<Record<string, { provider: BuiltinProvider; modelId: string }>> = {
  'claude-opus-4': { provider: 'anthropic', modelId: 'claude-opus-4-1' },
  'claude-opus-4.5': { provider: 'anthropic', modelId: 'claude-opus-4-5' },
  'claude-sonnet-4': { provider: 'anthropic', modelId: 'claude-sonnet-4-0' },
  'claude-sonnet-4.5': { provider: 'anthropic', modelId: 'claude-sonnet-4-5' },
  'claude-haiku-4.5': { provider: 'anthropic', modelId: 'claude-haiku-4-5' },
  'gpt-5': { provider: 'openai', modelId: 'gpt-5' },
  'gpt-5-mini': { provider: 'openai', modelId: 'gpt-5-mini' },
  'gpt-5-nano': { provider: 'openai', modelId: 'gpt-5-nano' },
  'gpt-4.1': { provider: 'openai', modelId: 'gpt-4.1' },
  'gpt-4o': { provider: 'openai', modelId: 'gpt-4o' },
  o3: { provider: 'openai', modelId: 'o3' },
  'o4-mini': { provider: 'openai', modelId: 'o4-mini' },
  'gemini-3-pro': { provider: 'google', modelId: 'gemini-3-pro-preview' },
  'gemini-2.5-pro': { provider: 'google', modelId: 'gemini-2.5-pro' },
  'gemini-2.5-flash': { provider: 'google', modelId: 'gemini-2.5-flash' },
  'grok-4': { provider: 'xai', modelId: 'grok-4' },
  'grok-3': { provider: 'xai', modelId: 'grok-3' },
  'mistral-large': { provider: 'mistral', modelId: 'mistral-large-latest' },
  codestral: { provider: 'mistral', modelId: 'codestral-latest' },
  'deepseek-chat': { provider: 'deepseek', modelId: 'deepseek-chat' },
  'deepseek-reasoner': { provider: 'deepseek', modelId: 'deepseek-reasoner' },
  'llama-3.3-70b': { provider: 'groq', modelId: 'llama-3.3-70b-versatile' },
  'kimi-k2': { provider: 'groq', modelId: 'moonshotai/kimi-k2-instruct' },
};

/** US dollars per million tokens: what the model reads (input) and what it writes (output). */
export interface ModelPrice {
  input: number;
  output: number;
}

/**
 * List prices of built-in providers' models, in US dollars per million tokens, as the providers publish them
 * (standard tier; a long-context tier's higher price, cached-input discounts and batch prices are not modelled, so
 * a run's cost is an estimate). `RUNTOOLS_MODEL_PRICES` replaces or adds entries, registered providers' models too.
 */
export const builtinModelPrices: Readonly<Record<string, ModelPrice>> = {
  'anthropic/claude-opus-4-1': { input: 15, output: 75 },
  'anthropic/claude-opus-4-5': { input: 5, output: 25 },
  'anthropic/claude-sonnet-4-0': { input: 3, output: 15 },
  'anthropic/claude-sonnet-4-5': { input: 3, output: 15 },
  'anthropic/claude-haiku-4-5': { input: 1, output: 5 },
  'openai/gpt-5': { input: 1.25, output: 10 },
  'openai/gpt-5-mini': { input: 0.25, output: 2 },
  'openai/gpt-5-nano': { input: 0.05, output: 0.4 },
  'openai/gpt-4.1': { input: 2, output: 8 },
  'openai/gpt-4o': { input: 2.5, output: 10 },
  'openai/o3': { input: 2, output: 8 },
  'openai/o4-mini': { input: 1.1, output: 4.4 },
  'google/gemini-2.5-pro': { input: 1.25, output: 10 },
  'google/gemini-2.5-flash': { input: 0.3, output: 2.5 },
  'xai/grok-4': { input: 3, output: 15 },
  'xai/grok-3': { input: 3, output: 15 },
};

/** Where a model name leads, before any key is read. */
export type ModelTarget =
  | { kind: 'builtin'; provider: BuiltinProvider; modelId: string; secret: string }
  | {
      kind: 'custom';
      provider: string;
      type: ProviderType;
      baseUrl: string;
      modelId: string;
      secret: string | null;
    };

export function isBuiltinProviderName(name: string): boolean {
  return isBuiltin(name);
}

/** A model ready to call, with the options its provider wants on every call. */
export interface ResolvedModel {
  model: LanguageModel;
  providerOptions?: ProviderCallOptions;
}

/** Resolves model names for an org and builds AI SDK models with the org's keys, server-side only. */
export class ModelResolver {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secrets: SecretStore,
    /** Base URLs that replace built-in providers' own (an LLM gateway, a proxy, a regional endpoint). */
    private readonly baseUrls: Partial<Record<BuiltinProvider, string>> = {},
    /** `provider/model-id` → price, over the built-in list (`RUNTOOLS_MODEL_PRICES`). */
    private readonly prices: Readonly<Record<string, ModelPrice>> = {},
  ) {}

  /**
   * The price of a model name (an alias or `provider/model-id`) where it is known: the operator's, else the
   * built-in list's; null otherwise. No lookup: a name that names nothing simply has no price.
   */
  priceOf(name: string): ModelPrice | null {
    const alias = Object.hasOwn(modelAliases, name) ? modelAliases[name] : undefined;
    const key = alias ? `${alias.provider}/${alias.modelId}` : name;
    // Own entries only: a model named "constructor" has no price.
    if (Object.hasOwn(this.prices, key)) return this.prices[key] ?? null;
    return Object.hasOwn(builtinModelPrices, key) ? (builtinModelPrices[key] ?? null) : null;
  }

  /** What a model name stands for; `model_unknown` when it names nothing this org can use. */
  async target(orgId: string, name: string): Promise<ModelTarget> {
    // Own entries only: a model named "constructor" is not an alias.
    const alias = Object.hasOwn(modelAliases, name) ? modelAliases[name] : undefined;
    if (alias) return { kind: 'builtin', ...alias, secret: builtinProviders[alias.provider].secret };
    const slash = name.indexOf('/');
    if (slash <= 0)
      throw new DomainError(
        'model_unknown',
        `unknown model ${name}: use an alias from GET /v1/models (e.g. claude-sonnet-4, gpt-5) or "provider/model-id"`,
        { model: name },
      );
    const provider = name.slice(0, slash);
    const modelId = name.slice(slash + 1);
    if (isBuiltin(provider)) return { kind: 'builtin', provider, modelId, secret: builtinProviders[provider].secret };
    const row = await this.db
      .selectFrom('model_providers')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('name', '=', provider)
      .executeTakeFirst();
    if (!row)
      throw new DomainError(
        'model_unknown',
        `unknown model ${name}: no provider named ${provider} (built-in: ${Object.keys(builtinProviders).join(', ')}; register others with POST /v1/providers)`,
        { model: name, provider },
      );
    return {
      kind: 'custom',
      provider,
      type: row.type as ProviderType,
      baseUrl: row.base_url,
      modelId,
      secret: row.api_key_secret,
    };
  }

  /** An AI SDK model for the name, with its key read from the org's secrets (never from this process's env). */
  async model(orgId: string, name: string): Promise<ResolvedModel> {
    const target = await this.target(orgId, name);
    const apiKey = target.secret ? await this.key(orgId, target.secret, target.provider) : undefined;
    if (target.kind === 'builtin') {
      const { create, options } = builtinProviders[target.provider];
      const baseURL = this.baseUrls[target.provider];
      const model = create({ apiKey: apiKey as string, ...(baseURL ? { baseURL } : {}) })(target.modelId);
      return options ? { model, providerOptions: options } : { model };
    }
    // A custom endpoint without a key gets a placeholder: the SDKs would otherwise read the server's env.
    const key = apiKey ?? 'none';
    switch (target.type) {
      case 'openai-compatible':
        return {
          model: createOpenAICompatible({
            name: target.provider,
            baseURL: target.baseUrl,
            ...(apiKey ? { apiKey } : {}),
            includeUsage: true,
          })(target.modelId),
        };
      case 'openai':
        return { model: createOpenAI({ baseURL: target.baseUrl, apiKey: key }).chat(target.modelId) };
      case 'anthropic':
        return { model: createAnthropic({ baseURL: target.baseUrl, apiKey: key })(target.modelId) };
    }
  }

  private async key(orgId: string, secret: string, provider: string): Promise<string> {
    try {
      return (await this.secrets.get(orgId, secret)).value;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'secret_not_found')
        throw new DomainError(
          'provider_key_missing',
          `the ${provider} provider needs its API key: set the org secret ${secret} (runtools secret set ${secret} --category provider)`,
          { provider, secret },
        );
      throw error;
    }
  }
}
