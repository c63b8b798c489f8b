import { createHash, createPublicKey, type JsonWebKey, randomBytes, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './browser.js';
import { type OAuthServer, startOAuthServer } from './oauth-server.js';

/**
 * The authorization server is a fixture other tests trust to behave like a real provider, so it is driven
 * here as they drive it: a real headless Chromium reads its consent page and clicks, a loopback client
 * receives the redirect, and the code goes through the token endpoint with its PKCE verifier.
 */

const clientId = 'test-app';
const clientSecret = 'test-secret-0123456789';
const otherClientId = 'other-app';
const otherSecret = 'other-secret-0123456789';

let oauth: OAuthServer;
let browser: Browser;
let client: Server;
let callbackUrl = '';
/** The query of every request the client's redirect URI received, in order. */
const callbacks: Record<string, string>[] = [];

beforeAll(async () => {
  oauth = await startOAuthServer();
  client = createServer((request, response) => {
    const { pathname, searchParams } = new URL(request.url ?? '/', 'http://localhost');
    // Chromium also asks for /favicon.ico.
    if (pathname.startsWith('/callback')) callbacks.push(Object.fromEntries(searchParams));
    response.writeHead(200, { 'content-type': 'text/html' }).end('<h1 id="title">Back at the client</h1>');
  });
  await new Promise<void>((resolve) => client.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(client.address() as AddressInfo).port}/callback`;
  oauth.addClient({ clientId, clientSecret, redirectUris: [callbackUrl], name: 'Test App' });
  oauth.addClient({
    clientId: otherClientId,
    clientSecret: otherSecret,
    redirectUris: [`${callbackUrl}/other`],
    name: 'Other App',
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await oauth?.close();
  client?.closeAllConnections();
  await new Promise((resolve) => client?.close(resolve));
});

const newVerifier = () => randomBytes(32).toString('base64url');
const challengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** An authorization URL for the test client; `params` adds or (as undefined) removes parameters. */
function authorizationUrl(
  params: Record<string, string | undefined> & { verifier?: string },
  server: OAuthServer = oauth,
): string {
  const { verifier = newVerifier(), ...rest } = params;
  const url = new URL(server.authorizeUrl);
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: callbackUrl,
    scope: 'openid read:user repo',
    state: randomBytes(8).toString('hex'),
    code_challenge: challengeOf(verifier),
    code_challenge_method: 'S256',
    ...rest,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

/** Opens the URL in Chromium, answers the consent page, and returns what the client's redirect URI received. */
async function consent(url: string, answer: 'Allow' | 'Deny'): Promise<Record<string, string>> {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    const before = callbacks.length;
    await Promise.all([
      page.waitForURL((target) => target.href.startsWith(callbackUrl)),
      page.getByRole('button', { name: answer }).click(),
    ]);
    expect(callbacks.length).toBe(before + 1);
    return callbacks.at(-1) ?? {};
  } finally {
    await page.close();
  }
}

/** POSTs a form to an endpoint, with the test client's secret in a Basic header unless `auth` says otherwise. */
async function post(
  url: string,
  form: Record<string, string>,
  auth: 'basic' | 'none' | { basic: [string, string] } = 'basic',
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const credentials = auth === 'basic' ? [clientId, clientSecret] : auth === 'none' ? undefined : auth.basic;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(credentials ? { authorization: `Basic ${Buffer.from(credentials.join(':')).toString('base64')}` } : {}),
    },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, headers: response.headers };
}

interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope: string;
  id_token?: string;
}

/** Runs the whole flow in the browser and exchanges the code: tokens for the test client. */
async function authorize(scope = 'read:user repo'): Promise<Tokens> {
  const verifier = newVerifier();
  const { code = '' } = await consent(authorizationUrl({ verifier, scope }), 'Allow');
  const exchange = await post(oauth.tokenUrl, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: callbackUrl,
    code_verifier: verifier,
  });
  expect(exchange.status).toBe(200);
  return exchange.body as unknown as Tokens;
}

const userinfo = (token: string, path = '/userinfo') =>
  fetch(`${oauth.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe('OAuth server: consent in a real browser', () => {
  it('shows the consent page and, on Allow, sends code and state to the redirect URI; the code buys tokens', async () => {
    const issued: string[] = [];
    oauth.onAccessToken((token) => issued.push(token));
    const verifier = newVerifier();
    const url = authorizationUrl({ verifier, state: 'state-123', access_type: 'offline', nonce: 'n-1' });
    const page = await browser.newPage();
    await page.goto(url);
    expect(await page.locator('#message').textContent()).toBe('Test App wants to access your account octocat');
    expect(await page.locator('#scopes li').allTextContents()).toEqual(['openid', 'read:user', 'repo']);
    expect(await page.getByRole('button').allTextContents()).toEqual(['Allow', 'Deny']);
    await Promise.all([
      page.waitForURL((target) => target.href.startsWith(callbackUrl)),
      page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    expect(await page.locator('#title').textContent()).toBe('Back at the client');
    await page.close();
    const { code = '', state } = callbacks.at(-1) ?? {};
    expect(state).toBe('state-123');
    expect(oauth.authorizations.at(-1)).toMatchObject({
      params: { access_type: 'offline', nonce: 'n-1', client_id: clientId },
      decision: 'allow',
    });

    const exchange = await post(oauth.tokenUrl, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: callbackUrl,
      code_verifier: verifier,
    });
    expect(exchange.status).toBe(200);
    expect(exchange.headers.get('cache-control')).toBe('no-store');
    const tokens = exchange.body as unknown as Tokens;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'openid read:user repo' });
    expect(tokens.access_token).not.toBe(tokens.refresh_token);
    expect(oauth.isValidAccessToken(tokens.access_token)).toBe(true);
    expect(oauth.accessTokens()).toContain(tokens.access_token);
    expect(issued).toEqual([tokens.access_token]);
    expect(oauth.tokenRequests.at(-1)).toEqual({
      authMethod: 'client_secret_basic',
      clientId,
      grant_type: 'authorization_code',
      code,
      redirect_uri: callbackUrl,
      code_verifier: verifier,
    });

    // The id_token is signed with the key the server publishes, for this client and nonce.
    const [header = '', payload = '', signature = ''] = (tokens.id_token ?? '').split('.');
    const { keys } = (await (await fetch(`${oauth.url}/jwks`)).json()) as { keys: (JsonWebKey & { kid: string })[] };
    const key = createPublicKey({ key: keys[0] as JsonWebKey, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))).toBe(true);
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({
      iss: oauth.url,
      aud: clientId,
      sub: 'u-1',
      nonce: 'n-1',
    });

    const account = { sub: 'u-1', login: 'octocat', preferred_username: 'octocat', email: 'octocat@example.test' };
    for (const path of ['/userinfo', '/user']) {
      const response = await userinfo(tokens.access_token, path);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ...account, name: 'The Octocat' });
    }
  });

  it('refuses a second use of a code with invalid_grant, and revokes the tokens the first use bought', async () => {
    const verifier = newVerifier();
    const { code = '' } = await consent(authorizationUrl({ verifier }), 'Allow');
    const form = { grant_type: 'authorization_code', code, redirect_uri: callbackUrl, code_verifier: verifier };
    const first = await post(oauth.tokenUrl, form);
    expect(first.status).toBe(200);
    const second = await post(oauth.tokenUrl, form);
    expect(second).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(oauth.isValidAccessToken(String(first.body.access_token))).toBe(false);
  });

  it('refuses a code with a wrong PKCE verifier, another redirect_uri or another client', async () => {
    const verifier = newVerifier();
    const wrongVerifier = await consent(authorizationUrl({ verifier }), 'Allow');
    expect(
      await post(oauth.tokenUrl, {
        grant_type: 'authorization_code',
        code: wrongVerifier.code ?? '',
        redirect_uri: callbackUrl,
        code_verifier: newVerifier(),
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.any(String) } });

    const noVerifier = await consent(authorizationUrl({ verifier }), 'Allow');
    expect(
      await post(oauth.tokenUrl, {
        grant_type: 'authorization_code',
        code: noVerifier.code ?? '',
        redirect_uri: callbackUrl,
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const otherRedirect = await consent(authorizationUrl({ verifier }), 'Allow');
    expect(
      await post(oauth.tokenUrl, {
        grant_type: 'authorization_code',
        code: otherRedirect.code ?? '',
        redirect_uri: `${callbackUrl}/elsewhere`,
        code_verifier: verifier,
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const otherClient = await consent(authorizationUrl({ verifier }), 'Allow');
    expect(
      await post(
        oauth.tokenUrl,
        {
          grant_type: 'authorization_code',
          code: otherClient.code ?? '',
          redirect_uri: callbackUrl,
          code_verifier: verifier,
        },
        { basic: [otherClientId, otherSecret] },
      ),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('sends error=access_denied with the state to the redirect URI when the user denies', async () => {
    const answer = await consent(authorizationUrl({ state: 'deny-state' }), 'Deny');
    expect(answer).toEqual({
      error: 'access_denied',
      error_description: expect.any(String),
      state: 'deny-state',
    });
    expect(oauth.authorizations.at(-1)?.decision).toBe('deny');
  });

  it('shows an error page, never a redirect, for an unregistered redirect_uri or an unknown client', async () => {
    const before = callbacks.length;
    const page = await browser.newPage();
    for (const url of [
      authorizationUrl({ redirect_uri: `${callbackUrl}/evil` }),
      authorizationUrl({ redirect_uri: `${callbackUrl}/` }),
      authorizationUrl({ client_id: 'nobody' }),
    ]) {
      const response = await page.goto(url);
      expect(response?.status()).toBe(400);
      expect(page.url()).toBe(url);
      expect(await page.locator('#title').textContent()).toMatch(/Invalid redirect URI|Unknown client/);
      expect(await page.getByRole('button').count()).toBe(0);
    }
    await page.close();
    const direct = await fetch(authorizationUrl({ redirect_uri: 'https://attacker.example/cb' }), {
      redirect: 'manual',
    });
    expect(direct.status).toBe(400);
    expect(direct.headers.get('location')).toBeNull();
    expect(callbacks.length).toBe(before);
  });

  it('redirects invalid_request without a code_challenge, unless started with requirePkce: false', async () => {
    const missing = await fetch(
      authorizationUrl({ code_challenge: undefined, code_challenge_method: undefined, state: 's' }),
      {
        redirect: 'manual',
      },
    );
    expect(missing.status).toBe(302);
    const location = new URL(missing.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(callbackUrl);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_request', state: 's' });
    const plain = await fetch(authorizationUrl({ code_challenge_method: 'plain' }), { redirect: 'manual' });
    expect(new URL(plain.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');

    const lenient = await startOAuthServer({ requirePkce: false });
    try {
      lenient.addClient({ clientId, clientSecret, redirectUris: [callbackUrl], name: 'Test App' });
      const url = authorizationUrl({ code_challenge: undefined, code_challenge_method: undefined }, lenient);
      const { code = '' } = await consent(url, 'Allow');
      const exchange = await post(
        lenient.tokenUrl,
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: callbackUrl,
          client_id: clientId,
          client_secret: clientSecret,
        },
        'none',
      );
      expect(exchange.status).toBe(200);
      expect(lenient.tokenRequests.at(-1)).toMatchObject({ authMethod: 'client_secret_post', clientId });
      expect(lenient.tokenRequests.at(-1)).not.toHaveProperty('client_secret');
    } finally {
      await lenient.close();
    }
  });

  it('takes each consent request id once', async () => {
    const page = await (await fetch(authorizationUrl({}))).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const decide = () =>
      fetch(`${oauth.url}/authorize/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request_id: requestId, decision: 'allow' }),
        redirect: 'manual',
      });
    expect((await decide()).status).toBe(302);
    const again = await decide();
    expect(again.status).toBe(400);
    expect(again.headers.get('location')).toBeNull();
  });
});

describe('OAuth server: tokens', () => {
  it('answers bad client credentials with 401 invalid_client', async () => {
    const wrongSecret = await post(
      oauth.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { basic: [clientId, 'wrong'] },
    );
    expect(wrongSecret).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(wrongSecret.headers.get('www-authenticate')).toMatch(/^Basic/);
    const unknown = await post(
      oauth.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'nobody', client_secret: 'x' },
      'none',
    );
    expect(unknown).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(oauth.tokenRequests.at(-1)).toMatchObject({ authMethod: 'client_secret_post', clientId: 'nobody' });
    expect(oauth.tokenRequests.at(-1)).not.toHaveProperty('client_secret');
  });

  it('rotates the refresh token on refresh; the old one is then refused', async () => {
    const tokens = await authorize();
    const before = oauth.refreshCount;
    const refreshed = await post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read:user repo' });
    expect(refreshed.body.access_token).not.toBe(tokens.access_token);
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
    expect(oauth.refreshCount).toBe(before + 1);
    expect((await userinfo(String(refreshed.body.access_token))).status).toBe(200);
    const old = await post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(old).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const again = await post(oauth.tokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.body.refresh_token),
    });
    expect(again.status).toBe(200);
  });

  it('refuses every refresh with invalid_grant while rejectRefresh is on', async () => {
    const tokens = await authorize();
    oauth.rejectRefresh(true);
    try {
      const refused = await post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    } finally {
      oauth.rejectRefresh(false);
    }
  });

  it('holds refreshes for setRefreshDelay, and of concurrent ones with one token only the first wins', async () => {
    const tokens = await authorize();
    const before = oauth.refreshCount;
    oauth.setRefreshDelay(200);
    const started = Date.now();
    try {
      const answers = await Promise.all(
        Array.from({ length: 3 }, () =>
          post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400, 400]);
    } finally {
      oauth.setRefreshDelay(0);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(oauth.refreshCount).toBe(before + 3);
  });

  it('issues tokens with the TTL set; an expired access token gets 401 invalid_token', async () => {
    const tokens = await authorize();
    oauth.setAccessTokenTtl(0);
    try {
      const refreshed = await post(oauth.tokenUrl, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      });
      expect(refreshed.body.expires_in).toBe(0);
      const expired = String(refreshed.body.access_token);
      expect(oauth.isValidAccessToken(expired)).toBe(false);
      const response = await userinfo(expired);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    } finally {
      oauth.setAccessTokenTtl(3600);
    }
  });

  it('revokes an access token (RFC 7009), after which userinfo answers 401; a refresh token takes its grant', async () => {
    const tokens = await authorize();
    const revoke = await post(oauth.revokeUrl, { token: tokens.access_token, token_type_hint: 'access_token' });
    expect(revoke.status).toBe(200);
    expect(oauth.revoked.at(-1)).toEqual({
      token: tokens.access_token,
      tokenTypeHint: 'access_token',
      kind: 'access_token',
      clientId,
      endpoint: 'revoke',
    });
    const response = await userinfo(tokens.access_token);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(oauth.accessTokens()).not.toContain(tokens.access_token);

    // The refresh token survived the access token; revoking it ends the grant.
    const refreshed = await post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await post(oauth.revokeUrl, { token: String(refreshed.body.refresh_token) })).status).toBe(200);
    expect(oauth.revoked.at(-1)?.kind).toBe('refresh_token');
    expect(oauth.isValidAccessToken(String(refreshed.body.access_token))).toBe(false);
    const after = await post(oauth.tokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.body.refresh_token),
    });
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    // Unknown tokens are answered 200 (RFC 7009); another client's token is not this client's to revoke.
    expect((await post(oauth.revokeUrl, { token: 'never-issued' })).status).toBe(200);
    const mine = await authorize();
    const foreign = await post(oauth.revokeUrl, { token: mine.access_token }, { basic: [otherClientId, otherSecret] });
    expect(foreign.status).toBe(400);
    expect(oauth.isValidAccessToken(mine.access_token)).toBe(true);
  });

  it("revokes a grant through GitHub's DELETE /applications/{client_id}/grant", async () => {
    const tokens = await authorize();
    const revokeGrant = (secret: string) =>
      fetch(`${oauth.url}/applications/${clientId}/grant`, {
        method: 'DELETE',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ access_token: tokens.access_token }),
      });
    expect((await revokeGrant('wrong')).status).toBe(401);
    expect((await revokeGrant(clientSecret)).status).toBe(204);
    expect(oauth.revoked.at(-1)).toMatchObject({ kind: 'access_token', endpoint: 'github-grant', clientId });
    expect((await userinfo(tokens.access_token, '/user')).status).toBe(401);
    const refresh = await post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('expires codes after their lifetime', async () => {
    const shortLived = await startOAuthServer({ codeTtlSeconds: 0 });
    try {
      shortLived.addClient({ clientId, clientSecret, redirectUris: [callbackUrl], name: 'Test App' });
      const verifier = newVerifier();
      const { code = '' } = await consent(authorizationUrl({ verifier }, shortLived), 'Allow');
      const exchange = await post(shortLived.tokenUrl, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: callbackUrl,
        code_verifier: verifier,
      });
      expect(exchange).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(exchange.body.error_description).toContain('expired');
    } finally {
      await shortLived.close();
    }
  });

  it('describes its endpoints at /.well-known/openid-configuration', async () => {
    const discovery = await (await fetch(`${oauth.url}/.well-known/openid-configuration`)).json();
    expect(discovery).toMatchObject({
      issuer: oauth.url,
      authorization_endpoint: oauth.authorizeUrl,
      token_endpoint: oauth.tokenUrl,
      revocation_endpoint: oauth.revokeUrl,
      userinfo_endpoint: oauth.userinfoUrl,
      jwks_uri: `${oauth.url}/jwks`,
      code_challenge_methods_supported: ['S256'],
    });
  });
});
