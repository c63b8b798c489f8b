import { describe, expect, it } from 'vitest';
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
