import { createHash, generateKeyPairSync, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OAuth 2.0 / OpenID Connect authorization server on loopback, for testing an OAuth client (the
 * platform's broker) end to end through a real browser:
 *
 * - GET /authorize validates the client and its redirect URI (an unknown one gets an HTML error page, never a
 *   redirect), requires PKCE S256 (unless started with `requirePkce: false`), and shows a consent page whose
 *   Allow/Deny buttons post a one-time request id to /authorize/decision, which redirects back with a code or
 *   `error=access_denied`.
 * - POST /token (client_secret_basic, client_secret_post, or none for a client registered without a secret):
 *   `authorization_code` (single use, 60 s, bound to client, redirect URI and PKCE verifier; a replayed code
 *   also revokes what it issued) and `refresh_token` (rotating: the old refresh token dies). An `openid` scope
 *   adds an RS256 id_token, verifiable with the keys at /jwks.
 * - POST /revoke (RFC 7009), GitHub's DELETE /applications/{client_id}/grant and .../token, and Slack's
 *   /api/auth.revoke.
 * - GET /userinfo and GET /user (GitHub-style identity), and the identity documents of the other providers
 *   the broker knows (Graph's /me, X's /2/users/me, Slack's /api/auth.test); GET /.well-known/openid-configuration.
 *
 * Tests steer it (`rejectRefresh`, `setRefreshDelay`, `setAccessTokenTtl`) and read what it saw
 * (`authorizations`, `tokenRequests`, `refreshCount`, `revoked`).
 */
export interface OAuthServer {
  /** Base URL (`http://127.0.0.1:<port>`), also the issuer. */
  url: string;
  issuer: string;
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl: string;
  userinfoUrl: string;
  jwksUrl: string;
  /** The one account that signs in and consents. */
  account: OAuthAccount;
  addClient(client: OAuthClient): void;
  /** Every GET /authorize as it arrived, with the decision once the consent page was answered. */
  authorizations: AuthorizationRecord[];
  /** Every POST /token: its form fields (client_secret left out) and how the client authenticated. */
  tokenRequests: TokenRequestRecord[];
  /** How many refresh_token grants were asked for by an authenticated client (refused ones included). */
  readonly refreshCount: number;
  /** Every authenticated revocation request, through /revoke or GitHub's /applications endpoints. */
  revoked: RevocationRecord[];
  /** Whether the token is an access token this server issued that has neither expired nor been revoked. */
  isValidAccessToken(token: string): boolean;
  /** The access tokens currently valid. */
  accessTokens(): string[];
  /** Calls `listener` with every access token issued from now on (so another fake API can accept it). */
  onAccessToken(listener: (token: string) => void): void;
  /** The `expires_in` of access tokens issued from now on; 0 issues tokens that are already expired. */
  setAccessTokenTtl(seconds: number): void;
  /** Holds every refresh_token grant this long before answering, so concurrent callers overlap one refresh. */
  setRefreshDelay(milliseconds: number): void;
  /** While on, every refresh_token grant fails with invalid_grant (the user revoked the app, say). */
  rejectRefresh(reject: boolean): void;
  close(): Promise<void>;
}

export interface OAuthAccount {
  sub: string;
  login: string;
  email: string;
  name: string;
}

export interface OAuthClient {
  clientId: string;
  /** Omitted for a public client, which authenticates with its client_id alone (method `none`). */
  clientSecret?: string;
  /** Compared exactly: no prefix, port or trailing-slash leniency. */
  redirectUris: string[];
  /** Shown on the consent page. */
  name: string;
}

export interface OAuthServerOptions {
  account?: OAuthAccount;
  /** Whether /authorize demands a code_challenge (default true). */
  requirePkce?: boolean;
  /** `expires_in` of access tokens (default 3600). */
  accessTokenTtlSeconds?: number;
  /** Lifetime of authorization codes (default 60). */
  codeTtlSeconds?: number;
}

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface AuthorizationRecord {
  /** Every query parameter, extra ones included. */
  params: Record<string, string>;
  /** What the consent page got, or null while unanswered (or when the request never reached it). */
  decision: 'allow' | 'deny' | null;
}

export interface TokenRequestRecord {
  /** How the client presented its credentials (`none`: a client_id in the form and no secret). */
  authMethod: ClientAuthMethod;
  /** The client it claimed to be, from the Basic header or the form. */
  clientId: string | undefined;
  grant_type?: string;
  /** The other form fields as sent (code, code_verifier, refresh_token, redirect_uri, scope, …). */
  [field: string]: string | undefined;
}

export interface RevocationRecord {
  token: string;
  tokenTypeHint: string | undefined;
  /** What the token was, or null when this server did not know it (RFC 7009 still answers 200). */
  kind: 'access_token' | 'refresh_token' | null;
  clientId: string;
  endpoint: 'revoke' | 'github-grant' | 'github-token' | 'slack';
}

interface PendingAuthorization {
  client: OAuthClient;
  redirectUri: string;
  /** Whether redirect_uri was in the request (then the token request must repeat it). */
  redirectUriGiven: boolean;
  state: string | undefined;
  scopes: string[];
  codeChallenge: string | undefined;
  nonce: string | undefined;
  record: AuthorizationRecord;
  expiresAt: number;
}

interface AuthorizationCode {
  clientId: string;
  redirectUri: string;
  redirectUriGiven: boolean;
  codeChallenge: string | undefined;
  scopes: string[];
  nonce: string | undefined;
  expiresAt: number;
  used: boolean;
  /** The grant its exchange created, revoked if the code is replayed. */
  grant: Grant | undefined;
}

/** One consent's worth of tokens: revoking a refresh token (or a replayed code) revokes all of them. */
interface Grant {
  clientId: string;
  scopes: string[];
  revoked: boolean;
}

interface AccessToken {
  grant: Grant;
  scopes: string[];
  expiresAt: number;
  revoked: boolean;
}

interface RefreshToken {
  grant: Grant;
  active: boolean;
}

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
  }
}

/** Shown as an HTML error page (400): for requests that must not be redirected anywhere. */
class ErrorPage extends Error {
  constructor(
    readonly title: string,
    readonly description: string,
  ) {
    super(`${title}: ${description}`);
  }
}

/** Sent back to the client's (validated) redirect URI as `error`, `error_description` and `state`. */
class ErrorRedirect extends Error {
  constructor(
    readonly redirectUri: string,
    readonly params: Record<string, string | undefined>,
  ) {
    super(`${params.error}: ${params.error_description}`);
  }
}

/** GitHub's error body: `{ message, documentation_url }`. */
class GithubError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const defaultAccount: OAuthAccount = {
  sub: 'u-1',
  login: 'octocat',
  email: 'octocat@example.test',
  name: 'The Octocat',
};
const pendingTtlMs = 10 * 60_000;
const maxBodyBytes = 1 << 20;
/** RFC 7636: a verifier is 43 to 128 unreserved characters; an S256 challenge is 43 base64url ones. */
const verifierPattern = /^[A-Za-z0-9\-._~]{43,128}$/;
const challengePattern = /^[A-Za-z0-9_-]{43}$/;

const newToken = (prefix: string) => `${prefix}_${randomBytes(32).toString('base64url')}`;
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');
/** Compares secrets in constant time (over their hashes, so lengths may differ). */
const sameSecret = (given: string, expected: string) =>
  timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());

/**
 * Starts the authorization server on 127.0.0.1 with a free port.
 *
 * @example
 * const oauth = await startOAuthServer();
 * oauth.addClient({ clientId: 'app', clientSecret: 's3cret', redirectUris: [callback], name: 'My app' });
 * // open `${oauth.authorizeUrl}?response_type=code&client_id=app&…` in a browser, click Allow
 * await oauth.close();
 */
export async function startOAuthServer(options: OAuthServerOptions = {}): Promise<OAuthServer> {
  const account = options.account ?? defaultAccount;
  const requirePkce = options.requirePkce ?? true;
  const codeTtlMs = (options.codeTtlSeconds ?? 60) * 1000;
  let accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 3600;
  let refreshDelayMs = 0;
  let refuseRefresh = false;
  let refreshCount = 0;

  const clients = new Map<string, OAuthClient>();
  const pending = new Map<string, PendingAuthorization>();
  const codes = new Map<string, AuthorizationCode>();
  const accessTokens = new Map<string, AccessToken>();
  const refreshTokens = new Map<string, RefreshToken>();
  const listeners: ((token: string) => void)[] = [];
  const authorizations: AuthorizationRecord[] = [];
  const tokenRequests: TokenRequestRecord[] = [];
  const revoked: RevocationRecord[] = [];

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyId = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url')
    .slice(0, 16);

  let url = '';
  const endpoint = (path: string) => `${url}${path}`;

  const isValid = (token: AccessToken | undefined): token is AccessToken =>
    token !== undefined && !token.revoked && !token.grant.revoked && Date.now() < token.expiresAt;

  /** Issues an access token and a fresh refresh token for the grant (and an id_token when asked for). */
  function issueTokens(client: OAuthClient, grant: Grant, scopes: string[], nonce: string | undefined) {
    const accessToken = newToken('at');
    const refreshToken = newToken('rt');
    accessTokens.set(accessToken, {
      grant,
      scopes,
      expiresAt: Date.now() + accessTokenTtlSeconds * 1000,
      revoked: false,
    });
    refreshTokens.set(refreshToken, { grant, active: true });
    for (const listener of listeners) listener(accessToken);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: accessTokenTtlSeconds,
      refresh_token: refreshToken,
      scope: scopes.join(' '),
      ...(scopes.includes('openid') ? { id_token: idToken(client, nonce) } : {}),
    };
  }

  /** An OpenID Connect ID token for the account, signed RS256 with the key published at /jwks. */
  function idToken(client: OAuthClient, nonce: string | undefined): string {
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const signingInput = `${encode({ alg: 'RS256', typ: 'JWT', kid: keyId })}.${encode({
      iss: url,
      sub: account.sub,
      aud: client.clientId,
      iat: now,
      exp: now + accessTokenTtlSeconds,
      auth_time: now,
      ...(nonce === undefined ? {} : { nonce }),
      preferred_username: account.login,
      email: account.email,
      name: account.name,
    })}`;
    return `${signingInput}.${sign('sha256', Buffer.from(signingInput), privateKey).toString('base64url')}`;
  }

  /** Checks the client's credentials: a Basic header, or client_id (+ client_secret) in the form. */
  function authenticateClient(request: IncomingMessage, form: URLSearchParams): OAuthClient {
    const basic = parseBasic(request.headers.authorization);
    if (basic === 'malformed') {
      throw new OAuthError(401, 'invalid_client', 'malformed Basic credentials', basicChallenge);
    }
    if (basic) {
      if (form.has('client_secret')) {
        throw new OAuthError(400, 'invalid_request', 'client credentials sent both in a header and in the form');
      }
      const formClientId = form.get('client_id');
      const client = clients.get(basic.clientId);
      if (
        !client?.clientSecret ||
        !sameSecret(basic.clientSecret, client.clientSecret) ||
        (formClientId !== null && formClientId !== basic.clientId)
      ) {
        throw new OAuthError(401, 'invalid_client', 'client authentication failed', basicChallenge);
      }
      return client;
    }
    const clientId = form.get('client_id');
    const secret = form.get('client_secret');
    const client = clientId === null ? undefined : clients.get(clientId);
    if (!client) throw new OAuthError(401, 'invalid_client', 'unknown client');
    const authenticated =
      client.clientSecret === undefined ? secret === null : secret !== null && sameSecret(secret, client.clientSecret);
    if (!authenticated) throw new OAuthError(401, 'invalid_client', 'client authentication failed');
    return client;
  }

  function recordTokenRequest(request: IncomingMessage, form: URLSearchParams): void {
    const basic = parseBasic(request.headers.authorization);
    const record: TokenRequestRecord = {
      authMethod: basic ? 'client_secret_basic' : form.has('client_secret') ? 'client_secret_post' : 'none',
      clientId: basic && basic !== 'malformed' ? basic.clientId : (form.get('client_id') ?? undefined),
    };
    for (const [field, value] of form) if (field !== 'client_secret') record[field] = value;
    tokenRequests.push(record);
  }

  function exchangeCode(client: OAuthClient, form: URLSearchParams) {
    const value = form.get('code');
    if (!value) throw new OAuthError(400, 'invalid_request', 'code is required');
    const code = codes.get(value);
    if (!code || code.clientId !== client.clientId) {
      throw new OAuthError(400, 'invalid_grant', 'unknown authorization code');
    }
    if (code.used) {
      // RFC 6749 §4.1.2: a replayed code is a sign of theft; what it issued is revoked.
      if (code.grant) code.grant.revoked = true;
      throw new OAuthError(400, 'invalid_grant', 'authorization code already used');
    }
    // Any presentation by its client spends it, so a wrong verifier cannot be retried.
    code.used = true;
    if (Date.now() >= code.expiresAt) throw new OAuthError(400, 'invalid_grant', 'authorization code expired');
    const redirectUri = form.get('redirect_uri');
    if ((code.redirectUriGiven || redirectUri !== null) && redirectUri !== code.redirectUri) {
      throw new OAuthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    }
    const verifier = form.get('code_verifier');
    if (code.codeChallenge === undefined) {
      if (verifier !== null) throw new OAuthError(400, 'invalid_grant', 'code_verifier sent for a code without PKCE');
    } else if (verifier === null) {
      throw new OAuthError(400, 'invalid_grant', 'code_verifier is required');
    } else if (!verifierPattern.test(verifier) || s256(verifier) !== code.codeChallenge) {
      throw new OAuthError(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
    }
    const grant: Grant = { clientId: client.clientId, scopes: code.scopes, revoked: false };
    code.grant = grant;
    return issueTokens(client, grant, code.scopes, code.nonce);
  }

  async function refresh(client: OAuthClient, form: URLSearchParams) {
    refreshCount += 1;
    if (refreshDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, refreshDelayMs));
    if (refuseRefresh) throw new OAuthError(400, 'invalid_grant', 'the refresh token was refused');
    const value = form.get('refresh_token');
    if (!value) throw new OAuthError(400, 'invalid_request', 'refresh_token is required');
    const token = refreshTokens.get(value);
    if (!token?.active || token.grant.revoked || token.grant.clientId !== client.clientId) {
      throw new OAuthError(400, 'invalid_grant', 'the refresh token is invalid, revoked or already used');
    }
    const asked = form.get('scope');
    const scopes = asked === null ? token.grant.scopes : splitScopes(asked);
    const beyond = scopes.filter((scope) => !token.grant.scopes.includes(scope));
    if (beyond.length > 0) {
      throw new OAuthError(400, 'invalid_scope', `not granted: ${beyond.join(' ')}`);
    }
    token.active = false;
    return issueTokens(client, token.grant, scopes, undefined);
  }

  async function handleToken(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await readForm(request);
    recordTokenRequest(request, form);
    const client = authenticateClient(request, form);
    const grantType = form.get('grant_type');
    const tokens =
      grantType === 'authorization_code'
        ? exchangeCode(client, form)
        : grantType === 'refresh_token'
          ? await refresh(client, form)
          : undefined;
    if (!tokens) {
      throw new OAuthError(
        400,
        grantType ? 'unsupported_grant_type' : 'invalid_request',
        `grant_type ${grantType ?? 'is required'}`,
      );
    }
    sendJson(response, 200, tokens);
  }

  /** Revokes a token: an access token alone, a refresh token with its whole grant. */
  function revoke(client: OAuthClient, token: string): RevocationRecord['kind'] {
    const access = accessTokens.get(token);
    const refreshToken = refreshTokens.get(token);
    const grant = access?.grant ?? refreshToken?.grant;
    if (grant && grant.clientId !== client.clientId) {
      throw new OAuthError(400, 'unauthorized_client', 'the token was issued to another client');
    }
    if (access) {
      access.revoked = true;
      return 'access_token';
    }
    if (refreshToken) {
      refreshToken.grant.revoked = true;
      return 'refresh_token';
    }
    return null;
  }

  async function handleRevoke(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await readForm(request);
    const client = authenticateClient(request, form);
    const token = form.get('token');
    if (!token) throw new OAuthError(400, 'invalid_request', 'token is required');
    const tokenTypeHint = form.get('token_type_hint') ?? undefined;
    const kind = revoke(client, token);
    revoked.push({ token, tokenTypeHint, kind, clientId: client.clientId, endpoint: 'revoke' });
    response.writeHead(200, { 'cache-control': 'no-store' }).end();
  }

  /**
   * GitHub's revocation: DELETE /applications/{client_id}/grant (the whole authorization) or .../token (one
   * token), Basic client credentials, a JSON body `{ access_token }`, 204 when done, GitHub's error bodies.
   */
  async function handleGithubRevoke(
    request: IncomingMessage,
    response: ServerResponse,
    clientId: string,
    what: 'grant' | 'token',
  ): Promise<void> {
    const body = await readBody(request);
    const basic = parseBasic(request.headers.authorization);
    const client = clients.get(clientId);
    if (
      !basic ||
      basic === 'malformed' ||
      basic.clientId !== clientId ||
      !client?.clientSecret ||
      !sameSecret(basic.clientSecret, client.clientSecret)
    ) {
      throw new GithubError(401, 'Requires authentication');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body || 'null');
    } catch {
      throw new GithubError(400, 'Problems parsing JSON');
    }
    const token = (parsed as { access_token?: unknown } | null)?.access_token;
    if (typeof token !== 'string' || token === '') throw new GithubError(422, 'Validation Failed');
    const access = accessTokens.get(token);
    if (!access || access.grant.clientId !== clientId) throw new GithubError(404, 'Not Found');
    if (what === 'grant') access.grant.revoked = true;
    else access.revoked = true;
    revoked.push({
      token,
      tokenTypeHint: 'access_token',
      kind: 'access_token',
      clientId,
      endpoint: what === 'grant' ? 'github-grant' : 'github-token',
    });
    response.writeHead(204).end();
  }

  /**
   * The account, as the identity endpoint of each provider the broker knows shapes it: OpenID Connect's
   * userinfo (Google, LinkedIn) and GitHub's /user share one document; Microsoft Graph's /me, X's /2/users/me
   * and Slack's auth.test (which answers HTTP 200 with `ok: false` for a bad token) have their own.
   */
  function handleUserinfo(
    request: IncomingMessage,
    response: ServerResponse,
    shape: 'oidc' | 'graph' | 'x' | 'slack',
  ): void {
    // `token` is GitHub's own scheme, accepted at /user as GitHub accepts it.
    const match = /^(?:Bearer|token) +(\S+)$/i.exec(request.headers.authorization ?? '');
    const valid = match?.[1] !== undefined && isValid(accessTokens.get(match[1]));
    if (shape === 'slack') {
      sendJson(
        response,
        200,
        valid
          ? {
              ok: true,
              url: 'https://test.slack.com/',
              team: 'Test Team',
              user: account.login,
              team_id: 'T0TEST',
              user_id: account.sub,
            }
          : { ok: false, error: match ? 'invalid_auth' : 'not_authed' },
      );
      return;
    }
    if (!match?.[1]) {
      response.writeHead(401, { 'www-authenticate': 'Bearer' });
      response.end();
      return;
    }
    if (!valid) {
      sendJson(
        response,
        401,
        { error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' },
        { 'www-authenticate': 'Bearer error="invalid_token"' },
      );
      return;
    }
    if (shape === 'graph') {
      sendJson(response, 200, {
        id: account.sub,
        displayName: account.name,
        userPrincipalName: account.email,
        mail: account.email,
      });
    } else if (shape === 'x') {
      sendJson(response, 200, { data: { id: account.sub, name: account.name, username: account.login } });
    } else {
      sendJson(response, 200, {
        sub: account.sub,
        login: account.login,
        preferred_username: account.login,
        email: account.email,
        name: account.name,
      });
    }
  }

  /** Slack's auth.revoke: the Bearer token itself is revoked; `{ ok: true, revoked: true }`. */
  function handleSlackRevoke(request: IncomingMessage, response: ServerResponse): void {
    const token = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const issued = token ? accessTokens.get(token) : undefined;
    if (!token || !isValid(issued)) {
      sendJson(response, 200, { ok: false, error: token ? 'invalid_auth' : 'not_authed' });
      return;
    }
    const clientId = issued?.grant.clientId ?? '';
    const client = clients.get(clientId);
    const kind = client ? revoke(client, token) : null;
    revoked.push({ token, tokenTypeHint: undefined, kind, clientId, endpoint: 'slack' });
    sendJson(response, 200, { ok: true, revoked: true });
  }

  function handleAuthorize(response: ServerResponse, query: URLSearchParams): void {
    const record: AuthorizationRecord = { params: Object.fromEntries(query), decision: null };
    authorizations.push(record);
    // Until the client and its redirect URI are known good, errors are shown here, never redirected.
    const clientId = query.getAll('client_id');
    const client = clientId.length === 1 && clientId[0] ? clients.get(clientId[0]) : undefined;
    if (!client) throw new ErrorPage('Unknown client', 'The application asking for access is not registered.');
    const redirectUris = query.getAll('redirect_uri');
    const redirectUri =
      redirectUris.length === 0 && client.redirectUris.length === 1 ? client.redirectUris[0] : redirectUris[0];
    if (redirectUris.length > 1 || redirectUri === undefined || !client.redirectUris.includes(redirectUri)) {
      throw new ErrorPage(
        'Invalid redirect URI',
        `The redirect URI ${redirectUris[0] ?? '(none)'} is not registered for ${client.name}.`,
      );
    }
    const state = query.get('state') ?? undefined;
    const fail = (error: string, description: string) =>
      new ErrorRedirect(redirectUri, { error, error_description: description, state });
    const repeated = [...new Set(query.keys())].filter((key) => query.getAll(key).length > 1);
    if (repeated.length > 0) throw fail('invalid_request', `repeated parameters: ${repeated.join(', ')}`);
    const responseType = query.get('response_type');
    if (responseType !== 'code') {
      throw responseType
        ? fail('unsupported_response_type', 'only response_type=code is supported')
        : fail('invalid_request', 'response_type is required');
    }
    const codeChallenge = query.get('code_challenge') ?? undefined;
    if (codeChallenge === undefined) {
      if (requirePkce) throw fail('invalid_request', 'code_challenge is required (PKCE with S256)');
      if (query.has('code_challenge_method')) {
        throw fail('invalid_request', 'code_challenge_method without a code_challenge');
      }
    } else {
      if (query.get('code_challenge_method') !== 'S256') {
        throw fail('invalid_request', 'code_challenge_method must be S256');
      }
      if (!challengePattern.test(codeChallenge)) {
        throw fail('invalid_request', 'code_challenge must be 43 base64url characters');
      }
    }
    const scopes = splitScopes(query.get('scope') ?? '');
    const requestId = newToken('req');
    pending.set(requestId, {
      client,
      redirectUri,
      redirectUriGiven: redirectUris.length === 1,
      state,
      scopes,
      codeChallenge,
      nonce: query.get('nonce') ?? undefined,
      record,
      expiresAt: Date.now() + pendingTtlMs,
    });
    sendHtml(
      response,
      200,
      `Authorize ${client.name}`,
      `<h1 id="title">Authorize ${escapeHtml(client.name)}</h1>
<p id="message">${escapeHtml(client.name)} wants to access your account ${escapeHtml(account.login)}</p>
${
  scopes.length > 0
    ? `<p>It asks for:</p>\n<ul id="scopes">${scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('')}</ul>`
    : '<p id="scopes">It asks for no scopes.</p>'
}
<form method="post" action="/authorize/decision">
<input type="hidden" name="request_id" value="${escapeHtml(requestId)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
    );
  }

  async function handleDecision(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await readForm(request);
    const requestId = form.get('request_id') ?? '';
    const authorization = pending.get(requestId);
    // One-time: a second post (a back button, a replay) finds nothing.
    pending.delete(requestId);
    if (!authorization || Date.now() >= authorization.expiresAt) {
      throw new ErrorPage('Request expired', 'This authorization request is unknown, used or expired.');
    }
    const decision = form.get('decision');
    if (decision !== 'allow' && decision !== 'deny') {
      throw new ErrorPage('Invalid decision', 'Choose Allow or Deny.');
    }
    authorization.record.decision = decision;
    const { state } = authorization;
    if (decision === 'deny') {
      throw new ErrorRedirect(authorization.redirectUri, {
        error: 'access_denied',
        error_description: 'The user denied the request',
        state,
      });
    }
    const code = newToken('code');
    codes.set(code, {
      clientId: authorization.client.clientId,
      redirectUri: authorization.redirectUri,
      redirectUriGiven: authorization.redirectUriGiven,
      codeChallenge: authorization.codeChallenge,
      scopes: authorization.scopes,
      nonce: authorization.nonce,
      expiresAt: Date.now() + codeTtlMs,
      used: false,
      grant: undefined,
    });
    redirect(response, authorization.redirectUri, { code, state });
  }

  const discovery = () => ({
    issuer: url,
    authorization_endpoint: endpoint('/authorize'),
    token_endpoint: endpoint('/token'),
    revocation_endpoint: endpoint('/revoke'),
    userinfo_endpoint: endpoint('/userinfo'),
    jwks_uri: endpoint('/jwks'),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'profile', 'email'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'preferred_username', 'email', 'name'],
  });

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname, searchParams } = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const allow = (...methods: string[]) => {
      if (methods.includes(method)) return true;
      response.writeHead(405, { allow: methods.join(', ') }).end();
      return false;
    };
    const github = /^\/applications\/([^/]+)\/(grant|token)$/.exec(pathname);
    if (github?.[1] && (github[2] === 'grant' || github[2] === 'token')) {
      if (allow('DELETE')) await handleGithubRevoke(request, response, decodeURIComponent(github[1]), github[2]);
      return;
    }
    switch (pathname) {
      case '/authorize':
        if (allow('GET')) handleAuthorize(response, searchParams);
        return;
      case '/authorize/decision':
        if (allow('POST')) await handleDecision(request, response);
        return;
      case '/token':
        if (allow('POST')) await handleToken(request, response);
        return;
      case '/revoke':
        if (allow('POST')) await handleRevoke(request, response);
        return;
      case '/userinfo':
      case '/user':
        if (allow('GET', 'POST')) handleUserinfo(request, response, 'oidc');
        return;
      case '/me':
        if (allow('GET')) handleUserinfo(request, response, 'graph');
        return;
      case '/2/users/me':
        if (allow('GET')) handleUserinfo(request, response, 'x');
        return;
      case '/api/auth.test':
        if (allow('GET', 'POST')) handleUserinfo(request, response, 'slack');
        return;
      case '/api/auth.revoke':
        if (allow('GET', 'POST')) handleSlackRevoke(request, response);
        return;
      case '/.well-known/openid-configuration':
      case '/.well-known/oauth-authorization-server':
        if (allow('GET')) sendJson(response, 200, discovery());
        return;
      case '/jwks':
        if (allow('GET')) {
          sendJson(response, 200, {
            keys: [{ ...publicKey.export({ format: 'jwk' }), kid: keyId, alg: 'RS256', use: 'sig' }],
          });
        }
        return;
      default:
        sendJson(response, 404, { error: 'not_found' });
    }
  }

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
      } else if (error instanceof OAuthError) {
        sendJson(response, error.status, { error: error.error, error_description: error.description }, error.headers);
      } else if (error instanceof ErrorPage) {
        sendErrorPage(response, error.title, error.description);
      } else if (error instanceof ErrorRedirect) {
        redirect(response, error.redirectUri, error.params);
      } else if (error instanceof GithubError) {
        sendJson(response, error.status, {
          message: error.message,
          documentation_url: 'https://docs.github.com/rest/apps/oauth-applications',
        });
      } else {
        sendJson(response, 500, { error: 'server_error', error_description: String(error) });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    issuer: url,
    authorizeUrl: endpoint('/authorize'),
    tokenUrl: endpoint('/token'),
    revokeUrl: endpoint('/revoke'),
    userinfoUrl: endpoint('/userinfo'),
    jwksUrl: endpoint('/jwks'),
    account,
    addClient(client) {
      clients.set(client.clientId, { ...client, redirectUris: [...client.redirectUris] });
    },
    authorizations,
    tokenRequests,
    get refreshCount() {
      return refreshCount;
    },
    revoked,
    isValidAccessToken: (token) => isValid(accessTokens.get(token)),
    accessTokens: () => [...accessTokens].filter(([, token]) => isValid(token)).map(([value]) => value),
    onAccessToken(listener) {
      listeners.push(listener);
    },
    setAccessTokenTtl(seconds) {
      accessTokenTtlSeconds = seconds;
    },
    setRefreshDelay(milliseconds) {
      refreshDelayMs = milliseconds;
    },
    rejectRefresh(reject) {
      refuseRefresh = reject;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // A browser keeps its connections open; they would hold close() until they time out.
        server.closeAllConnections();
      }),
  };
}

const basicChallenge = { 'www-authenticate': 'Basic realm="oauth-server"' };

/**
 * Client credentials from a Basic header: undefined without one, 'malformed' when it cannot be read. Each
 * part is form-urlencoded before base64 (RFC 6749 §2.3.1), so it is decoded after.
 */
function parseBasic(header: string | undefined): { clientId: string; clientSecret: string } | 'malformed' | undefined {
  const match = /^Basic +(\S+)$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const formDecode = (part: string) => decodeURIComponent(part.replaceAll('+', ' '));
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

const splitScopes = (scope: string) => [...new Set(scope.split(' ').filter((part) => part !== ''))];

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new OAuthError(413, 'invalid_request', 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An application/x-www-form-urlencoded body, each parameter at most once (RFC 6749 §3.2). */
async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(request);
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/x-www-form-urlencoded') {
    throw new OAuthError(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(body);
  const repeated = [...new Set(form.keys())].filter((key) => form.getAll(key).length > 1);
  if (repeated.length > 0) throw new OAuthError(400, 'invalid_request', `repeated parameters: ${repeated.join(', ')}`);
  return form;
}

function redirect(response: ServerResponse, redirectUri: string, params: Record<string, string | undefined>): void {
  const target = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(name, value);
  response.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' }).end();
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      ...headers,
    })
    .end(JSON.stringify(body));
}

function sendHtml(response: ServerResponse, status: number, title: string, body: string): void {
  response
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
    })
    .end(
      `<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n<main>\n${body}\n</main>\n</body>\n</html>\n`,
    );
}

function sendErrorPage(response: ServerResponse, title: string, message: string): void {
  sendHtml(
    response,
    400,
    title,
    `<h1 id="title">${escapeHtml(title)}</h1>\n<p id="message">${escapeHtml(message)}</p>`,
  );
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character] ?? character,
  );
