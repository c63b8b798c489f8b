import type {
  ApiKey,
  ApiKeyCreated,
  ApiKeyCreateRequest,
  DashboardSessionInfo,
  Deleted,
  OAuthApp,
  OAuthConnection,
  OAuthConnectionStarted,
  OAuthProvider,
  OAuthProviderId,
  SignInLink,
  WhoAmI,
} from '@runtools/spec';
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

/**
 * Connected accounts (the OAuth broker): a member connects an account once, and the tools of that provider
 * use it; tokens stay on the server.
 */
export class Connections {
  constructor(private readonly http: HttpClient) {}

  /**
   * Starts connecting an account: open `authorizationUrl` in a browser, then `wait` for the connection.
   * @example const { connection, authorizationUrl } = await rt.auth.connections.create('github', { scopes: ['repo'] })
   */
  create(
    provider: OAuthProviderId,
    options: { scopes?: string[]; default?: boolean } = {},
  ): Promise<OAuthConnectionStarted> {
    return this.http.call('oauthConnectionsCreate', { body: { provider, ...options } });
  }

  /** @example for (const connection of await rt.auth.connections.list()) console.log(connection.provider, connection.status) */
  list(filter: { provider?: OAuthProviderId; status?: OAuthConnection['status'] } = {}): PagedList<OAuthConnection> {
    return new PagedList((page) => this.http.call('oauthConnectionsList', { query: { ...filter, ...page } }));
  }

  get(id: string): Promise<OAuthConnection> {
    return this.http.call('oauthConnectionsGet', { params: { connectionId: id } });
  }

  /**
   * Waits while the connection is pending (the consent is given in a browser), and answers it once it is
   * not: `active`, or `failed` with its `error`.
   */
  async wait(id: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<OAuthConnection> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const connection = await this.get(id);
      if (connection.status !== 'pending') return connection;
      if (Date.now() >= deadline) return connection;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
    }
  }

  /** Revokes it at the provider (where the provider can) and deletes its tokens. */
  revoke(id: string): Promise<Deleted & { revokedAtProvider: boolean }> {
    return this.http.call('oauthConnectionsDelete', { params: { connectionId: id } });
  }

  /** Makes it (or stops it being) the org's default for its provider; admins. */
  setDefault(id: string, on = true): Promise<OAuthConnection> {
    return on
      ? this.http.call('oauthConnectionsSetDefault', { params: { connectionId: id } })
      : this.http.call('oauthConnectionsUnsetDefault', { params: { connectionId: id } });
  }
}

/** The org's OAuth apps, one per provider (client id and secret; the secret is never returned). */
export class OAuthApps {
  constructor(private readonly http: HttpClient) {}

  /** @example const { callbackUrl } = await rt.auth.apps.set('github', { clientId, clientSecret }) */
  set(provider: OAuthProviderId, app: { clientId: string; clientSecret: string }): Promise<OAuthApp> {
    return this.http.call('oauthAppSet', { params: { provider }, body: app });
  }

  list(): PagedList<OAuthApp> {
    return new PagedList((page) => this.http.call('oauthAppsList', { query: page }));
  }

  delete(provider: OAuthProviderId): Promise<Deleted> {
    return this.http.call('oauthAppDelete', { params: { provider } });
  }
}

export class Auth {
  readonly keys: ApiKeys;
  readonly connections: Connections;
  readonly apps: OAuthApps;
  constructor(private readonly http: HttpClient) {
    this.keys = new ApiKeys(http);
    this.connections = new Connections(http);
    this.apps = new OAuthApps(http);
  }

  /** The OAuth providers: endpoints, default scopes, their tools, whether the org registered an app. */
  providers(): PagedList<OAuthProvider> {
    return new PagedList((page) => this.http.call('oauthProviders', { query: page }));
  }

  /**
   * The org, project, member and effective scopes of the key in use.
   * @example const me = await rt.auth.whoami()
   */
  whoami(): Promise<WhoAmI> {
    return this.http.call('whoAmI');
  }

  /**
   * A one-time dashboard sign-in link for the key's member: open it within two minutes; it works once, and the
   * session it makes can do what this key can.
   * @example const { url } = await rt.auth.signInLink()
   */
  signInLink(options: { baseUrl?: string } = {}): Promise<SignInLink> {
    return this.http.call('signInLinksCreate', { body: options });
  }

  /**
   * The key's member's dashboard sessions (browsers signed in), and ending one.
   * @example for (const session of await rt.auth.sessions.list()) await rt.auth.sessions.end(session.id)
   */
  readonly sessions = {
    list: (): PagedList<DashboardSessionInfo> =>
      new PagedList((page) => this.http.call('dashboardSessionsList', { query: page })),
    end: (id: string): Promise<{ id: string; ended: true }> =>
      this.http.call('dashboardSessionsRevoke', { params: { sessionId: id } }),
  };
}
