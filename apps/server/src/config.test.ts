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
});
