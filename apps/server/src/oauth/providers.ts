import type { OAuthProviderId } from '@runtools/spec';

/** Who the provider says the connected account is. */
export interface AccountIdentity {
  id: string | null;
  login: string | null;
  email: string | null;
}

/** A token endpoint's answer, as the broker keeps it. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string | null;
  expiresInSeconds: number | null;
  scopes: string[] | null;
  /** What the answer itself says of the account (Slack names the user and team), before the identity call. */
  account?: Partial<AccountIdentity>;
}

/**
 * How the broker talks to one provider: the standard authorization-code flow with PKCE, and where each
 * provider departs from RFC 6749 (GitHub's JSON only on request and its grant deletion, Slack's `ok: false`
 * bodies, X's Basic client authentication, GitHub's token deletion).
 */
export interface OAuthProviderConfig {
  id: OAuthProviderId;
  name: string;
  authorizeUrl: string;
  tokenUrl: string;
  /** RFC 7009 revocation (or GitHub's grant deletion); undefined: the provider has none. */
  revokeUrl: string | undefined;
  revokeStyle: 'rfc7009' | 'github' | 'slack';
  /** Where the account's identity is read with the access token. */
  identityUrl: string;
  identity(body: Record<string, unknown>): AccountIdentity;
  /** Scopes every connection asks for besides its tools' (to read the identity, to get a refresh token). */
  baseScopes: string[];
  scopeSeparator: ' ' | ',';
  /** How the client authenticates at the token endpoint. */
  clientAuth: 'post' | 'basic';
  /** Extra authorization parameters (Google's offline access, so that a refresh token comes back). */
  authorizeParams: Record<string, string>;
  /** Reads a token answer (a 200 that is an error, for Slack, throws). */
  tokens(body: Record<string, unknown>): TokenSet;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const idText = (value: unknown): string | null =>
  typeof value === 'number' ? String(value) : typeof value === 'string' && value !== '' ? value : null;

/** An answer of the token endpoint that is an error (`error`, or Slack's `ok: false`). */
export class TokenEndpointError extends Error {
  constructor(
    readonly error: string,
    readonly description: string | null,
    readonly status: number,
  ) {
    super(description ? `${error}: ${description}` : error);
  }
}

function standardTokens(body: Record<string, unknown>): TokenSet {
  const accessToken = text(body.access_token);
  if (!accessToken) throw new TokenEndpointError('invalid_response', 'the answer has no access_token', 200);
  const scope = text(body.scope);
  return {
    accessToken,
    refreshToken: text(body.refresh_token),
    expiresInSeconds: typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in) || null,
    // GitHub separates granted scopes with commas, the others with spaces.
    scopes: scope === null ? null : scope.split(/[\s,]+/).filter(Boolean),
  };
}

const providers: Record<OAuthProviderId, Omit<OAuthProviderConfig, 'id'>> = {
  github: {
    name: 'GitHub',
    authorizeUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    revokeUrl: 'https://api.github.com/applications/{client_id}/token',
    revokeStyle: 'github',
    identityUrl: 'https://api.github.com/user',
    identity: (body) => ({ id: idText(body.id), login: text(body.login), email: text(body.email) }),
    baseScopes: ['read:user'],
    scopeSeparator: ' ',
    clientAuth: 'post',
    authorizeParams: {},
    tokens: standardTokens,
  },
  google: {
    name: 'Google',
    authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenUrl: 'https://oauth2.googleapis.com/token',
    revokeUrl: 'https://oauth2.googleapis.com/revoke',
    revokeStyle: 'rfc7009',
    identityUrl: 'https://openidconnect.googleapis.com/v1/userinfo',
    identity: (body) => ({ id: text(body.sub), login: text(body.email), email: text(body.email) }),
    baseScopes: ['openid', 'email'],
    scopeSeparator: ' ',
    clientAuth: 'post',
    // A refresh token only comes with offline access, and again only when consent is asked again.
    authorizeParams: { access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' },
    tokens: standardTokens,
  },
  slack: {
    name: 'Slack',
    authorizeUrl: 'https://slack.com/oauth/v2/authorize',
    tokenUrl: 'https://slack.com/api/oauth.v2.access',
    revokeUrl: 'https://slack.com/api/auth.revoke',
    revokeStyle: 'slack',
    identityUrl: 'https://slack.com/api/auth.test',
    identity: (body) => ({ id: text(body.user_id), login: text(body.user), email: null }),
    baseScopes: [],
    scopeSeparator: ',',
    clientAuth: 'post',
    authorizeParams: {},
    tokens: (body) => {
      if (body.ok === false) throw new TokenEndpointError(text(body.error) ?? 'error', null, 200);
      const team = (body.team ?? {}) as Record<string, unknown>;
      const user = (body.authed_user ?? {}) as Record<string, unknown>;
      return { ...standardTokens(body), account: { id: text(user.id), login: text(team.name) } };
    },
  },
  microsoft: {
    name: 'Microsoft',
    authorizeUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
    tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    // Microsoft's identity platform has no revocation endpoint for a single token.
    revokeUrl: undefined,
    revokeStyle: 'rfc7009',
    identityUrl: 'https://graph.microsoft.com/v1.0/me',
    identity: (body) => ({
      id: text(body.id),
      login: text(body.userPrincipalName),
      email: text(body.mail) ?? text(body.userPrincipalName),
    }),
    baseScopes: ['offline_access', 'User.Read'],
    scopeSeparator: ' ',
    clientAuth: 'post',
    authorizeParams: {},
    tokens: standardTokens,
  },
  x: {
    name: 'X',
    authorizeUrl: 'https://x.com/i/oauth2/authorize',
    tokenUrl: 'https://api.x.com/2/oauth2/token',
    revokeUrl: 'https://api.x.com/2/oauth2/revoke',
    revokeStyle: 'rfc7009',
    identityUrl: 'https://api.x.com/2/users/me',
    identity: (body) => {
      const data = (body.data ?? {}) as Record<string, unknown>;
      return { id: text(data.id), login: text(data.username), email: null };
    },
    baseScopes: ['users.read', 'offline.access'],
    scopeSeparator: ' ',
    // X wants a confidential client's credentials in a Basic header.
    clientAuth: 'basic',
    authorizeParams: {},
    tokens: standardTokens,
  },
  linkedin: {
    name: 'LinkedIn',
    authorizeUrl: 'https://www.linkedin.com/oauth/v2/authorization',
    tokenUrl: 'https://www.linkedin.com/oauth/v2/accessToken',
    revokeUrl: 'https://www.linkedin.com/oauth/v2/revoke',
    revokeStyle: 'rfc7009',
    identityUrl: 'https://api.linkedin.com/v2/userinfo',
    identity: (body) => ({ id: text(body.sub), login: text(body.name), email: text(body.email) }),
    baseScopes: ['openid', 'profile', 'email'],
    scopeSeparator: ' ',
    clientAuth: 'post',
    authorizeParams: {},
    tokens: standardTokens,
  },
};

export const oauthProviderIds = Object.keys(providers) as OAuthProviderId[];

/** The variable an operator sets to move one of a provider's endpoints (GitHub Enterprise, a proxy, a test). */
export function oauthEndpointVariable(
  provider: OAuthProviderId,
  endpoint: 'authorize' | 'token' | 'revoke' | 'userinfo',
) {
  return `RUNTOOLS_OAUTH_${provider.toUpperCase()}_${endpoint.toUpperCase()}_URL`;
}

/**
 * Every provider with the operator's endpoint overrides applied (`RUNTOOLS_OAUTH_<PROVIDER>_AUTHORIZE_URL`,
 * `_TOKEN_URL`, `_REVOKE_URL`, `_USERINFO_URL`). The identity URL otherwise follows the provider's tool base
 * URL where one tool names the provider's API (GitHub Enterprise: `RUNTOOLS_TOOL_GITHUB_BASE_URL` + `/user`).
 */
export function oauthProviders(
  env: Readonly<Record<string, string | undefined>>,
  toolBaseUrls: Readonly<Record<string, string>>,
): ReadonlyMap<OAuthProviderId, OAuthProviderConfig> {
  const result = new Map<OAuthProviderId, OAuthProviderConfig>();
  for (const id of oauthProviderIds) {
    const base = providers[id];
    const override = (endpoint: 'authorize' | 'token' | 'revoke' | 'userinfo') =>
      env[oauthEndpointVariable(id, endpoint)] || undefined;
    const githubApi = id === 'github' ? toolBaseUrls.github : undefined;
    result.set(id, {
      ...base,
      id,
      authorizeUrl: override('authorize') ?? base.authorizeUrl,
      tokenUrl: override('token') ?? base.tokenUrl,
      revokeUrl:
        override('revoke') ??
        (githubApi ? `${githubApi.replace(/\/+$/, '')}/applications/{client_id}/token` : base.revokeUrl),
      identityUrl: override('userinfo') ?? (githubApi ? `${githubApi.replace(/\/+$/, '')}/user` : base.identityUrl),
    });
  }
  return result;
}
