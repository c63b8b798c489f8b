import type { ApiKey, ApiKeyCreated, ApiKeyCreateRequest, WhoAmI } from '@runtools/spec';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/** API keys: shown once at creation, stored hashed, listed by prefix, revocable. */
export class ApiKeys {
  constructor(private readonly http: HttpClient) {}

  /**
   * Creates a key; the returned `key` is the only time it is ever shown.
   * @example const { key } = await rt.auth.keys.create({ name: 'ci', scopes: ['secrets:read'], expiresAt: '2027-01-01T00:00:00Z' })
   */
  create(input: { name: string; scopes: string[]; expiresAt?: string | Date }): Promise<ApiKeyCreated> {
    const body: ApiKeyCreateRequest = {
      name: input.name,
      scopes: input.scopes,
      ...(input.expiresAt
        ? { expiresAt: input.expiresAt instanceof Date ? input.expiresAt.toISOString() : input.expiresAt }
        : {}),
    };
    return this.http.call('keysCreate', { body });
  }

  /**
   * Keys by prefix: your own, or all of the org's for admins and owners.
   * @example for (const key of await rt.auth.keys.list()) console.log(key.prefix, key.scopes)
   */
  list(): PagedList<ApiKey> {
    return new PagedList((page) => this.http.call('keysList', { query: page }));
  }

  /** @example const key = await rt.auth.keys.get('key_…') */
  get(id: string): Promise<ApiKey> {
    return this.http.call('keysGet', { params: { keyId: id } });
  }

  /**
   * Revokes a key; it stops working at once.
   * @example await rt.auth.keys.revoke('key_…')
   */
  revoke(id: string): Promise<ApiKey> {
    return this.http.call('keysRevoke', { params: { keyId: id } });
  }
}

export class Auth {
  readonly keys: ApiKeys;
  constructor(private readonly http: HttpClient) {
    this.keys = new ApiKeys(http);
  }

  /**
   * The org, project, member and effective scopes of the key in use.
   * @example const me = await rt.auth.whoami()
   */
  whoami(): Promise<WhoAmI> {
    return this.http.call('whoAmI');
  }
}
