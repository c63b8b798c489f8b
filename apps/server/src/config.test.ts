import { describe, expect, it } from 'vitest';
import { ModelResolver } from './agents/models.js';
import { resolveServerConfig } from './config.js';

describe('server config', () => {
  it('reads base URLs for built-in model providers from RUNTOOLS_<PROVIDER>_BASE_URL', () => {
    const config = resolveServerConfig(
      { dataDir: '/tmp/x' },
      { RUNTOOLS_OPENAI_BASE_URL: 'https://gateway.internal/v1', RUNTOOLS_GROQ_BASE_URL: '' },
    );
    expect(config.providerBaseUrls).toEqual({ openai: 'https://gateway.internal/v1' });
    expect(resolveServerConfig({ dataDir: '/tmp/x' }, {}).providerBaseUrls).toEqual({});
  });

  it('refuses a base URL that is not http(s), naming its variable', () => {
    expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { RUNTOOLS_ANTHROPIC_BASE_URL: 'gateway:80' })).toThrow(
      /providerBaseUrls\.anthropic \(RUNTOOLS_ANTHROPIC_BASE_URL\)/,
    );
    expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { RUNTOOLS_XAI_BASE_URL: 'ftp://x.example' })).toThrow(
      /RUNTOOLS_XAI_BASE_URL/,
    );
  });

  it('reads model prices from RUNTOOLS_MODEL_PRICES, which override the built-in list, and names a bad one', () => {
    const config = resolveServerConfig(
      { dataDir: '/tmp/x' },
      { RUNTOOLS_MODEL_PRICES: '{"openai/gpt-5": [2, 20], "proxy/gpt-4o": [0.5, 1.5]}' },
    );
    expect(config.modelPrices).toEqual({
      'openai/gpt-5': { input: 2, output: 20 },
      'proxy/gpt-4o': { input: 0.5, output: 1.5 },
    });
    const resolver = new ModelResolver({} as never, {} as never, {}, config.modelPrices);
    // By alias or by provider/model-id; the operator's price first, then the built-in list; none for the rest.
    expect(resolver.priceOf('gpt-5')).toEqual({ input: 2, output: 20 });
    expect(resolver.priceOf('proxy/gpt-4o')).toEqual({ input: 0.5, output: 1.5 });
    expect(resolver.priceOf('claude-sonnet-4')).toEqual({ input: 3, output: 15 });
    expect(resolver.priceOf('anthropic/claude-sonnet-4-0')).toEqual({ input: 3, output: 15 });
    for (const unpriced of ['mock/m1', 'constructor', '__proto__', 'openai/toString'])
      expect(resolver.priceOf(unpriced), unpriced).toBeNull();
    for (const bad of ['not json', '{"gpt-5": [1, 2]}', '{"openai/gpt-5": [1]}', '{"openai/gpt-5": [-1, 2]}'])
      expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { RUNTOOLS_MODEL_PRICES: bad }), bad).toThrow(
        /RUNTOOLS_MODEL_PRICES/,
      );
  });

  it('reads the per-sandbox ceilings, defaulting to this host, and names a bad one', () => {
    const host = resolveServerConfig({ dataDir: '/tmp/x' }, {});
    expect(host.maxSandboxVcpus).toBeGreaterThanOrEqual(1);
    expect(host.maxSandboxMemoryBytes).toBeGreaterThan(64 * 1024 ** 2);
    const set = resolveServerConfig(
      { dataDir: '/tmp/x' },
      { RUNTOOLS_MAX_SANDBOX_VCPUS: '2', RUNTOOLS_MAX_SANDBOX_MEMORY: '8GiB' },
    );
    expect([set.maxSandboxVcpus, set.maxSandboxMemoryBytes]).toEqual([2, 8 * 1024 ** 3]);
    expect(resolveServerConfig({ dataDir: '/tmp/x' }, { RUNTOOLS_MAX_SANDBOX_MEMORY: '1073741824' })).toMatchObject({
      maxSandboxMemoryBytes: 1024 ** 3,
    });
    expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { RUNTOOLS_MAX_SANDBOX_MEMORY: 'lots' })).toThrow(
      /RUNTOOLS_MAX_SANDBOX_MEMORY/,
    );
    expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { RUNTOOLS_MAX_SANDBOX_VCPUS: '0' })).toThrow(
      /RUNTOOLS_MAX_SANDBOX_VCPUS/,
    );
  });
});
