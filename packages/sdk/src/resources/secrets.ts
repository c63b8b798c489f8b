import type { Deleted, SecretCategory, SecretMetadata, SecretWithValue } from '@runtools/spec';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/** Org secrets, encrypted at rest; values come back only from `get`. */
export class Secrets {
  constructor(private readonly http: HttpClient) {}

  /**
   * Creates or replaces a secret.
   * @example await rt.secrets.set('OPENAI_API_KEY', 'sk-…', { category: 'provider' })
   */
  set(name: string, value: string, options: { category?: SecretCategory } = {}): Promise<SecretMetadata> {
    return this.http.call('secretsSet', {
      body: { name, value, ...(options.category ? { category: options.category } : {}) },
    });
  }

  /**
   * Names, categories and dates of every secret; never values.
   * @example const names = (await rt.secrets.list()).map((secret) => secret.name)
   */
  list(): PagedList<SecretMetadata> {
    return new PagedList((page) => this.http.call('secretsList', { query: page }));
  }

  /**
   * Reads a secret with its value (needs `secrets:read`).
   * @example const { value } = await rt.secrets.get('OPENAI_API_KEY')
   */
  get(name: string): Promise<SecretWithValue> {
    return this.http.call('secretsGet', { params: { name } });
  }

  /**
   * Deletes a secret.
   * @example await rt.secrets.delete('OPENAI_API_KEY')
   */
  delete(name: string): Promise<Deleted> {
    return this.http.call('secretsDelete', { params: { name } });
  }
}
