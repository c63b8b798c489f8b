import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OAuthApp, OAuthConnection, OAuthConnectionStarted, OAuthProvider, OAuthProviderId } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { audit, systemPrincipal } from '../audit.js';
import { type Actor, actingMember } from '../auth/actor.js';
import { open, type RootKey, seal } from '../credentials/envelope.js';
import { keysetPage, memoryPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { type OAuthProviderConfig, TokenEndpointError, type TokenSet } from './providers.js';

/** How long an authorization URL stays good: time to sign in and consent, not to leave it lying around. */
const flowTtlMs = 10 * 60_000;
/** An access token this close to its expiry is refreshed before it is used. */
const refreshMarginMs = 60_000;
const providerTimeoutMs = 20_000;
/** Flows one member may have waiting for consent at once. */
const maxPendingFlows = 5;
/** Failed connections are kept this long (to say why), then removed. */
const failedKeptMs = 24 * 3600_000;
/** The longest token lifetime believed (a provider's answer is not trusted to make a date out of range). */
const maxExpiresInSeconds = 10 * 365 * 86_400;

/**
 * The answers to a refresh that mean the grant is gone (revoked, expired, rotated away): the member must
 * connect again. Anything else (a rate limit, a 5xx, the app's own credentials refused) changes nothing.
 */
const refusedGrants = new Set(['invalid_grant', 'invalid_refresh_token', 'token_revoked', 'token_expired']);

export const oauthAppAad = (orgId: string, provider: string) => `oauth-app\0${orgId}\0${provider}`;
export const oauthTokenAad = (connectionId: string, kind: 'access' | 'refresh' | 'verifier') =>
  `oauth-token\0${connectionId}\0${kind}`;

type ConnectionRow = Database['oauth_connections'];

/** What the callback page says: a browser shows it, and the flow's end is also on the connection. */
export interface CallbackPage {
  status: 200 | 400 | 502;
  title: string;
  message: string;
  code: string | null;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/**
 * The OAuth broker (Connected Apps). An org registers its own OAuth app per provider; a member connects an
 * account with the authorization-code flow and PKCE, through a state that is signed, single-use, expiring and
 * bound to the member and the connection; the tokens are sealed like secrets and never leave the server. A
 * tool call asks for an access token (`accessToken`): the caller's connection, else the org's default,
 * refreshed before expiry once for all concurrent callers; a refresh the provider refuses marks the connection
 * `needs_reauth`.
 */
export class OAuthService {
  /** One refresh per connection at a time in this process: concurrent callers wait for it (see `refresh`). */
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly stateKey: Buffer;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly root: RootKey,
    private readonly options: {
      providers: ReadonlyMap<OAuthProviderId, OAuthProviderConfig>;
      /** The scopes each provider's marketplace tools need, and those tools' names. */
      toolScopes: ReadonlyMap<OAuthProviderId, { scopes: string[]; tools: string[] }>;
      /** The server's public base URL (the callback is `<it>/v1/oauth/callback`). */
      publicUrl: () => string;
      logger: Logger;
    },
  ) {
    this.stateKey = createHmac('sha256', root.key).update('runtools-oauth-state').digest();
  }

  callbackUrl(): string {
    return `${this.options.publicUrl().replace(/\/+$/, '')}/v1/oauth/callback`;
  }

  async providers(actor: Actor, page: PageRequest): Promise<Page<OAuthProvider>> {
    const apps = new Set(
      (await this.db.selectFrom('oauth_apps').select('provider').where('org_id', '=', actor.orgId).execute()).map(
        (row) => row.provider,
      ),
    );
    const entries = [...this.options.providers.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((provider) => ({
        id: provider.id,
        name: provider.name,
        authorizeUrl: provider.authorizeUrl,
        tokenUrl: provider.tokenUrl,
        revokeUrl: provider.revokeUrl ?? null,
        scopes: this.defaultScopes(provider),
        tools: this.options.toolScopes.get(provider.id)?.tools ?? [],
        configured: apps.has(provider.id),
        callbackUrl: this.callbackUrl(),
      }));
    return memoryPage(entries, page, { arity: 1, keyOf: (entry) => [entry.id] });
  }

  async apps(actor: Actor, page: PageRequest): Promise<Page<OAuthApp>> {
    const rows = await this.db.selectFrom('oauth_apps').selectAll().where('org_id', '=', actor.orgId).execute();
    return memoryPage(
      rows.map((row) => this.appOf(row)),
      page,
      { arity: 1, keyOf: (app) => [app.provider] },
    );
  }

  /** Registers (or replaces) the org's app at a provider; its secret is sealed. Admins only. */
  async setApp(
    actor: Actor,
    providerId: OAuthProviderId,
    body: { clientId: string; clientSecret: string },
  ): Promise<OAuthApp> {
    requireAdmin(actor, 'register an OAuth app');
    this.provider(providerId);
    const now = nowIso();
    const values = {
      client_id: body.clientId,
      client_secret: seal(this.root, oauthAppAad(actor.orgId, providerId), body.clientSecret),
      root_key_id: this.root.id,
      updated_at: now,
    };
    await this.db
      .insertInto('oauth_apps')
      .values({ org_id: actor.orgId, provider: providerId, created_at: now, ...values })
      .onConflict((conflict) => conflict.columns(['org_id', 'provider']).doUpdateSet(values))
      .execute();
    await audit(this.db, {
      orgId: actor.orgId,
      event: 'oauth.app_set',
      actor: actor.principal,
      targetId: providerId,
      details: { clientId: body.clientId },
    });
    const row = await this.db
      .selectFrom('oauth_apps')
      .selectAll()
      .where('org_id', '=', actor.orgId)
      .where('provider', '=', providerId)
      .executeTakeFirstOrThrow();
    return this.appOf(row);
  }

  async deleteApp(actor: Actor, providerId: OAuthProviderId): Promise<{ id: string; deleted: true }> {
    requireAdmin(actor, 'remove an OAuth app');
    const result = await this.db
      .deleteFrom('oauth_apps')
      .where('org_id', '=', actor.orgId)
      .where('provider', '=', providerId)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) {
      throw new DomainError('oauth_app_not_configured', `the org has no OAuth app for ${providerId}`, {
        provider: providerId,
      });
    }
    await audit(this.db, {
      orgId: actor.orgId,
      event: 'oauth.app_deleted',
      actor: actor.principal,
      targetId: providerId,
    });
    return { id: providerId, deleted: true };
  }

  /**
   * Starts connecting the caller's account: a pending connection and the provider's authorization URL, with
   * a PKCE challenge and a state naming (and signing) a single-use flow record bound to the caller's member.
   */
  async start(
    actor: Actor,
    body: { provider: OAuthProviderId; scopes?: string[] | undefined; default?: boolean | undefined },
  ): Promise<OAuthConnectionStarted> {
    const member = actingMember(actor);
    if (body.default) requireAdmin(actor, "make a connection the org's default");
    await this.sweep(actor.orgId);
    const provider = this.provider(body.provider);
    const app = await this.app(actor.orgId, provider.id);
    const pending = await this.db
      .selectFrom('oauth_connections')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('org_id', '=', actor.orgId)
      .where('member_id', '=', member.id)
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    if (Number(pending.count) >= maxPendingFlows) {
      throw new DomainError(
        'resource_limit_exceeded',
        `you have ${maxPendingFlows} connections waiting for consent; finish or revoke one (runtools oauth list --status pending)`,
        { limit: maxPendingFlows },
      );
    }
    const scopes = body.scopes ? [...new Set(body.scopes)] : this.defaultScopes(provider);
    const now = new Date();
    const connectionId = newId('oauthConnection');
    const stateId = newId('oauthState');
    const verifier = base64url(randomBytes(32));
    const expiresAt = new Date(now.getTime() + flowTtlMs).toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('oauth_connections')
        .values({
          id: connectionId,
          org_id: actor.orgId,
          member_id: member.id,
          provider: provider.id,
          status: 'pending',
          scopes: JSON.stringify(scopes),
          account_id: null,
          account_login: null,
          account_email: null,
          access_token: null,
          refresh_token: null,
          root_key_id: null,
          expires_at: null,
          error_code: null,
          error_message: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
      await trx
        .insertInto('oauth_states')
        .values({
          id: stateId,
          org_id: actor.orgId,
          connection_id: connectionId,
          member_id: member.id,
          code_verifier: seal(this.root, oauthTokenAad(connectionId, 'verifier'), verifier),
          make_default: body.default ? 1 : 0,
          expires_at: expiresAt,
          used_at: null,
          created_at: now.toISOString(),
        })
        .execute();
      await audit(trx, {
        orgId: actor.orgId,
        event: 'oauth.connect_started',
        actor: actor.principal,
        targetId: connectionId,
        details: { provider: provider.id, scopes },
      });
    });
    const url = new URL(provider.authorizeUrl);
    const query: Record<string, string> = {
      response_type: 'code',
      client_id: app.clientId,
      redirect_uri: this.callbackUrl(),
      scope: scopes.join(provider.scopeSeparator),
      state: this.signState(stateId, member.id, connectionId),
      code_challenge: base64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      ...provider.authorizeParams,
    };
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return { connection: await this.get(actor, connectionId), authorizationUrl: url.toString(), expiresAt };
  }

  /**
   * The provider's redirect: checks the state (signature, single use, expiry), then exchanges the code with
   * the flow's PKCE verifier, reads the account's identity and stores the sealed tokens. A flow that ends
   * otherwise (the user declined, the exchange failed) marks its connection failed and stores no token; a
   * state that is forged, replayed or expired changes nothing.
   */
  async callback(query: Record<string, string | undefined>): Promise<CallbackPage> {
    const refused = (message: string): CallbackPage => ({
      status: 400,
      title: 'This sign-in link cannot be used',
      message,
      code: 'oauth_state_invalid',
    });
    const parsed = /^(oas_[a-z2-7]{20})\.([A-Za-z0-9_-]{43})$/.exec(query.state ?? '');
    const stateId = parsed?.[1] ?? '';
    const state = parsed
      ? await this.db.selectFrom('oauth_states').selectAll().where('id', '=', stateId).executeTakeFirst()
      : undefined;
    const expected = state ? Buffer.from(this.stateMac(state.id, state.member_id, state.connection_id)) : undefined;
    const given = Buffer.from(parsed?.[2] ?? '');
    if (!state || !expected || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return refused('The state of this request is missing, damaged or was not issued by this server.');
    }
    const claimed = await this.db
      .updateTable('oauth_states')
      .set({ used_at: nowIso() })
      .where('id', '=', stateId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) {
      return refused('This sign-in request was already used: start again with runtools oauth connect.');
    }
    const connection = await this.db
      .selectFrom('oauth_connections')
      .selectAll()
      .where('id', '=', state.connection_id)
      .executeTakeFirst();
    if (connection?.status !== 'pending') return refused('This connection is no longer waiting.');
    const provider = this.provider(connection.provider as OAuthProviderId);
    const fail = async (code: string, message: string, status: 400 | 502 = 400): Promise<CallbackPage> => {
      await this.db
        .updateTable('oauth_connections')
        .set({ status: 'failed', error_code: code, error_message: message, updated_at: nowIso() })
        .where('id', '=', connection.id)
        .execute();
      await audit(this.db, {
        orgId: connection.org_id,
        event: 'oauth.connect_failed',
        actor: { kind: 'member', id: connection.member_id },
        targetId: connection.id,
        details: { provider: provider.id, error: code },
      });
      return { status, title: `${provider.name} was not connected`, message, code };
    };
    if (Date.parse(state.expires_at) < Date.now()) {
      return fail('oauth_state_expired', 'The sign-in took too long; start again with runtools oauth connect.');
    }
    if (query.error) {
      const description = query.error_description ? `: ${query.error_description}` : '';
      return fail(
        query.error.slice(0, 100),
        query.error === 'access_denied'
          ? `${provider.name} access was declined${description}. Nothing was stored.`
          : `${provider.name} answered ${query.error.slice(0, 100)}${description.slice(0, 500)}. Nothing was stored.`,
      );
    }
    if (!query.code) return fail('invalid_request', `${provider.name} sent no authorization code.`);
    let tokens: TokenSet;
    let app: { clientId: string; clientSecret: string };
    try {
      app = await this.app(connection.org_id, provider.id);
      tokens = await this.tokenRequest(provider, app, {
        grant_type: 'authorization_code',
        code: query.code,
        redirect_uri: this.callbackUrl(),
        code_verifier: open(this.root, oauthTokenAad(connection.id, 'verifier'), state.code_verifier),
      });
    } catch (error) {
      if (error instanceof TokenEndpointError) {
        return fail(
          error.error,
          `${provider.name} refused the authorization code (${error.message}). Nothing was stored.`,
        );
      }
      if (error instanceof DomainError) return fail(error.code, error.message);
      return fail('oauth_exchange_failed', `${provider.name} could not be reached: ${(error as Error).message}`, 502);
    }
    const account = { id: null, login: null, email: null, ...tokens.account };
    try {
      Object.assign(account, await this.identity(provider, tokens.accessToken));
    } catch (error) {
      // The connection works without a name; the token may lack the scope to read one.
      this.options.logger.warn(
        { provider: provider.id, connectionId: connection.id, error: (error as Error).message },
        'could not read the connected account',
      );
    }
    const granted = tokens.scopes ?? (JSON.parse(connection.scopes) as string[]);
    // The default was asked for by an admin; it is set only if they still are one.
    const role = state.make_default
      ? (await this.db.selectFrom('members').select('role').where('id', '=', connection.member_id).executeTakeFirst())
          ?.role
      : undefined;
    const stored = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('oauth_connections')
        .set({
          status: 'active',
          scopes: JSON.stringify(granted),
          account_id: account.id,
          account_login: account.login,
          account_email: account.email,
          ...this.sealTokens(connection.id, tokens, null),
          error_code: null,
          error_message: null,
          updated_at: nowIso(),
        })
        .where('id', '=', connection.id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      // Revoked while the code was exchanged: nothing is stored.
      if (Number(updated.numUpdatedRows) !== 1) return false;
      if (state.make_default && (role === 'owner' || role === 'admin')) {
        await trx
          .insertInto('oauth_defaults')
          .values({ org_id: connection.org_id, provider: provider.id, connection_id: connection.id })
          .onConflict((conflict) =>
            conflict.columns(['org_id', 'provider']).doUpdateSet({ connection_id: connection.id }),
          )
          .execute();
      }
      await audit(trx, {
        orgId: connection.org_id,
        event: 'oauth.connected',
        actor: { kind: 'member', id: connection.member_id },
        targetId: connection.id,
        details: { provider: provider.id, account: account.login, scopes: granted },
      });
      return true;
    });
    if (!stored) return refused('This connection was removed while it was being completed.');
    const who = account.login ?? account.email;
    // Says whose connection it now is: consent given on a link someone else sent is seen for what it is.
    const owner = await this.db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .innerJoin('orgs', 'orgs.id', 'members.org_id')
      .select(['users.email', 'orgs.name'])
      .where('members.id', '=', connection.member_id)
      .executeTakeFirst();
    return {
      status: 200,
      title: `${provider.name} connected`,
      message: `${provider.name}${who ? ` (${who})` : ''} is connected for ${owner?.email ?? 'a member'} in the RunTools org ${owner?.name ?? ''}. You can close this window.`,
      code: null,
    };
  }

  async list(
    actor: Actor,
    query: { provider?: OAuthProviderId | undefined; status?: ConnectionRow['status'] | undefined },
    page: PageRequest,
  ): Promise<Page<OAuthConnection>> {
    await this.sweep(actor.orgId);
    const defaults = await this.defaults(actor.orgId);
    const seeAll = isAdmin(actor);
    const result = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'asc' },
      ],
      (row: ConnectionRow) => [row.created_at, row.id],
      ({ after, fetch }) => {
        let select = this.db.selectFrom('oauth_connections').selectAll().where('org_id', '=', actor.orgId);
        if (!seeAll) {
          const memberId = actor.member?.id ?? '';
          const defaultIds = [...defaults.values()];
          select = select.where((eb) =>
            defaultIds.length > 0
              ? eb.or([eb('member_id', '=', memberId), eb('id', 'in', defaultIds)])
              : eb('member_id', '=', memberId),
          );
        }
        if (query.provider) select = select.where('provider', '=', query.provider);
        if (query.status) select = select.where('status', '=', query.status);
        if (after) select = select.where(after);
        return select.orderBy('created_at', 'desc').orderBy('id', 'asc').limit(fetch).execute();
      },
    );
    return { data: result.data.map((row) => this.connectionOf(row, defaults)), nextCursor: result.nextCursor };
  }

  async get(actor: Actor, id: string): Promise<OAuthConnection> {
    await this.sweep(actor.orgId);
    const row = await this.visible(actor, id);
    return this.connectionOf(row, await this.defaults(actor.orgId));
  }

  /** Revokes the connection at the provider where it can be, and deletes it with its tokens either way. */
  async revoke(actor: Actor, id: string): Promise<{ id: string; deleted: true; revokedAtProvider: boolean }> {
    const row = await this.visible(actor, id);
    if (row.member_id !== actor.member?.id) requireAdmin(actor, "revoke another member's connection");
    const provider = this.provider(row.provider as OAuthProviderId);
    let revokedAtProvider = false;
    if (provider.revokeUrl && (row.access_token || row.refresh_token)) {
      try {
        const app = await this.app(row.org_id, provider.id);
        await this.revokeAtProvider(provider, app, row);
        revokedAtProvider = true;
      } catch (error) {
        this.options.logger.warn(
          { provider: provider.id, connectionId: row.id, error: (error as Error).message },
          'the provider did not revoke the connection; deleting its tokens anyway',
        );
      }
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('oauth_defaults').where('connection_id', '=', row.id).execute();
      await trx.deleteFrom('oauth_states').where('connection_id', '=', row.id).execute();
      await trx.deleteFrom('oauth_connections').where('id', '=', row.id).execute();
      await audit(trx, {
        orgId: row.org_id,
        event: 'oauth.revoked',
        actor: actor.principal,
        targetId: row.id,
        details: { provider: provider.id, revokedAtProvider },
      });
    });
    return { id: row.id, deleted: true, revokedAtProvider };
  }

  /** Makes an active connection the org's default for its provider, or stops it being that. Admins only. */
  async setDefault(actor: Actor, id: string, on: boolean): Promise<OAuthConnection> {
    requireAdmin(actor, "change the org's default connection");
    const row = await this.visible(actor, id);
    // Another member's account is theirs to lend: an admin makes only their own connection the default.
    if (on && row.member_id !== actor.member?.id) {
      throw new DomainError(
        'role_forbidden',
        "only the member who connected an account can make it the org's default",
        { connectionId: id },
      );
    }
    if (on) {
      if (row.status !== 'active') {
        throw new DomainError(
          'validation_failed',
          `connection ${id} is ${row.status}; only an active one can be the default`,
          {
            status: row.status,
          },
        );
      }
      await this.db
        .insertInto('oauth_defaults')
        .values({ org_id: row.org_id, provider: row.provider, connection_id: row.id })
        .onConflict((conflict) => conflict.columns(['org_id', 'provider']).doUpdateSet({ connection_id: row.id }))
        .execute();
    } else {
      await this.db.deleteFrom('oauth_defaults').where('connection_id', '=', row.id).execute();
    }
    await audit(this.db, {
      orgId: row.org_id,
      event: on ? 'oauth.default_set' : 'oauth.default_unset',
      actor: actor.principal,
      targetId: row.id,
      details: { provider: row.provider },
    });
    return this.get(actor, id);
  }

  /**
   * The access token a call by `actor` uses for `provider`: the actor's member's newest connection, else the
   * org's default; refreshed first when it is about to expire.
   */
  async accessToken(actor: Actor, providerId: OAuthProviderId, tool: string): Promise<string> {
    const provider = this.provider(providerId);
    const fix = `runtools oauth connect ${provider.id}`;
    let row = actor.member
      ? await this.db
          .selectFrom('oauth_connections')
          .selectAll()
          .where('org_id', '=', actor.orgId)
          .where('member_id', '=', actor.member.id)
          .where('provider', '=', provider.id)
          .where('status', 'in', ['active', 'needs_reauth'])
          // A working connection before one that needs reauthorizing, then the newest.
          .orderBy((eb) => eb.case().when('status', '=', 'active').then(0).else(1).end())
          .orderBy('created_at', 'desc')
          .orderBy('id', 'asc')
          .executeTakeFirst()
      : undefined;
    if (!row) {
      const fallback = (await this.defaults(actor.orgId)).get(provider.id);
      row = fallback
        ? await this.db.selectFrom('oauth_connections').selectAll().where('id', '=', fallback).executeTakeFirst()
        : undefined;
    }
    if (!row) {
      throw new DomainError(
        'tool_credentials_missing',
        `${tool} needs a ${provider.name} account: connect one with \`${fix}\``,
        { missing: ['token'], tool, provider: provider.id, command: fix },
      );
    }
    if (row.status !== 'active') throw reauthRequired(provider, row.id, fix);
    if (row.expires_at && Date.parse(row.expires_at) - Date.now() < refreshMarginMs) {
      await this.refresh(row.id);
      row = await this.db.selectFrom('oauth_connections').selectAll().where('id', '=', row.id).executeTakeFirst();
      if (row?.status !== 'active') throw reauthRequired(provider, row?.id ?? '', fix);
    }
    if (!row.access_token) throw reauthRequired(provider, row.id, fix);
    return open(this.root, oauthTokenAad(row.id, 'access'), row.access_token);
  }

  /**
   * Refreshes a connection's tokens, once for every concurrent caller in this process. Another server may
   * refresh the same connection at the same moment; a provider that rotates refresh tokens then refuses the
   * second, so a refused refresh first looks whether the stored token changed meanwhile before it marks the
   * connection `needs_reauth`.
   */
  private refresh(connectionId: string): Promise<void> {
    const running = this.refreshing.get(connectionId);
    if (running) return running;
    const refresh = this.doRefresh(connectionId).finally(() => this.refreshing.delete(connectionId));
    this.refreshing.set(connectionId, refresh);
    return refresh;
  }

  private async doRefresh(connectionId: string): Promise<void> {
    const row = await this.db
      .selectFrom('oauth_connections')
      .selectAll()
      .where('id', '=', connectionId)
      .executeTakeFirst();
    if (row?.status !== 'active') return;
    // Refreshed by someone else since the caller looked.
    if (row.expires_at && Date.parse(row.expires_at) - Date.now() >= refreshMarginMs) return;
    const provider = this.provider(row.provider as OAuthProviderId);
    const markReauth = async (reason: string) => {
      await this.db
        .updateTable('oauth_connections')
        .set({ status: 'needs_reauth', error_code: 'refresh_refused', error_message: reason, updated_at: nowIso() })
        .where('id', '=', row.id)
        // Unless another server has refreshed it meanwhile (with the refresh token this one was refused).
        .where((eb) =>
          row.refresh_token === null ? eb('refresh_token', 'is', null) : eb('refresh_token', '=', row.refresh_token),
        )
        .execute();
      await audit(this.db, {
        orgId: row.org_id,
        event: 'oauth.refresh_failed',
        actor: systemPrincipal,
        targetId: row.id,
        details: { provider: provider.id, reason },
      });
    };
    if (!row.refresh_token) {
      await markReauth(`the access token expired and ${provider.name} gave no refresh token`);
      return;
    }
    const refreshToken = open(this.root, oauthTokenAad(row.id, 'refresh'), row.refresh_token);
    let tokens: TokenSet;
    try {
      const app = await this.app(row.org_id, provider.id);
      tokens = await this.tokenRequest(provider, app, { grant_type: 'refresh_token', refresh_token: refreshToken });
    } catch (error) {
      if (error instanceof TokenEndpointError && refusedGrants.has(error.error)) {
        const now = await this.db
          .selectFrom('oauth_connections')
          .select(['refresh_token', 'expires_at'])
          .where('id', '=', row.id)
          .executeTakeFirst();
        if (now && now.refresh_token !== row.refresh_token) return;
        await markReauth(`${provider.name} refused the refresh: ${error.message}`);
        return;
      }
      if (error instanceof TokenEndpointError && error.error === 'invalid_client') {
        throw new DomainError(
          'oauth_exchange_failed',
          `${provider.name} refused the org's OAuth app (invalid_client): an admin fixes it with \`runtools oauth app set ${provider.id}\``,
          { provider: provider.id },
        );
      }
      if (error instanceof TokenEndpointError) {
        throw new DomainError(
          'oauth_exchange_failed',
          `${provider.name} could not refresh the connection's token now (${error.message}); try again`,
          { provider: provider.id },
        );
      }
      if (error instanceof DomainError) throw error;
      throw new DomainError(
        'oauth_exchange_failed',
        `${provider.name} could not refresh the connection's token: ${(error as Error).message}`,
        { provider: provider.id },
      );
    }
    await this.db
      .updateTable('oauth_connections')
      .set({
        ...this.sealTokens(row.id, tokens, row.refresh_token),
        ...(tokens.scopes ? { scopes: JSON.stringify(tokens.scopes) } : {}),
        status: 'active',
        error_code: null,
        error_message: null,
        updated_at: nowIso(),
      })
      .where('id', '=', row.id)
      .execute();
  }

  /** One request to the provider's token endpoint, with the app's credentials as the provider wants them. */
  private async tokenRequest(
    provider: OAuthProviderConfig,
    app: { clientId: string; clientSecret: string },
    form: Record<string, string>,
  ): Promise<TokenSet> {
    const body = new URLSearchParams(form);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      // GitHub answers form-encoded unless asked for JSON.
      accept: 'application/json',
    };
    if (provider.clientAuth === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret)}`).toString('base64')}`;
    } else {
      body.set('client_id', app.clientId);
      body.set('client_secret', app.clientSecret);
    }
    const response = await fetch(provider.tokenUrl, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(providerTimeoutMs),
      // Never resent elsewhere: a POST here carries the client secret and the code.
      redirect: 'error',
    });
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = Object.fromEntries(new URLSearchParams(text));
    }
    if (typeof parsed.error === 'string') {
      throw new TokenEndpointError(
        parsed.error.slice(0, 100),
        typeof parsed.error_description === 'string' ? parsed.error_description.slice(0, 300) : null,
        response.status,
      );
    }
    if (!response.ok) {
      // Not the body: a proxy's error page may echo the request, secret and all.
      throw new TokenEndpointError(`http_${response.status}`, null, response.status);
    }
    return provider.tokens(parsed);
  }

  private async identity(provider: OAuthProviderConfig, accessToken: string) {
    const response = await fetch(provider.identityUrl, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/json',
        'user-agent': 'runtools-oauth-broker',
      },
      signal: AbortSignal.timeout(providerTimeoutMs),
      redirect: 'error',
    });
    if (!response.ok) throw new Error(`${provider.identityUrl} answered HTTP ${response.status}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (body.ok === false) throw new Error(`${provider.identityUrl} answered ${String(body.error)}`);
    const found = provider.identity(body);
    return Object.fromEntries(Object.entries(found).filter(([, value]) => value !== null));
  }

  private async revokeAtProvider(
    provider: OAuthProviderConfig,
    app: { clientId: string; clientSecret: string },
    row: ConnectionRow,
  ): Promise<void> {
    const token = (kind: 'access' | 'refresh') => {
      const sealed = kind === 'access' ? row.access_token : row.refresh_token;
      return sealed ? open(this.root, oauthTokenAad(row.id, kind), sealed) : undefined;
    };
    const url = (provider.revokeUrl ?? '').replace('{client_id}', encodeURIComponent(app.clientId));
    const basic = `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`;
    let response: Response;
    if (provider.revokeStyle === 'github') {
      // GitHub's "delete an app token": this token only (deleting the grant would end the member's other
      // connections with the same account too).
      response = await fetch(url, {
        method: 'DELETE',
        headers: {
          authorization: basic,
          accept: 'application/vnd.github+json',
          'content-type': 'application/json',
          'user-agent': 'runtools-oauth-broker',
        },
        body: JSON.stringify({ access_token: token('access') }),
        signal: AbortSignal.timeout(providerTimeoutMs),
        redirect: 'error',
      });
    } else if (provider.revokeStyle === 'slack') {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token('access')}` },
        signal: AbortSignal.timeout(providerTimeoutMs),
        redirect: 'error',
      });
      const body = (await response.clone().json()) as { ok?: boolean; error?: string };
      if (body.ok === false) throw new Error(`Slack answered ${body.error}`);
    } else {
      // RFC 7009: revoking the refresh token ends the grant's access tokens too.
      const refresh = token('refresh');
      const form = new URLSearchParams({
        token: refresh ?? token('access') ?? '',
        token_type_hint: refresh ? 'refresh_token' : 'access_token',
      });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (provider.clientAuth === 'basic') headers.authorization = basic;
      else {
        form.set('client_id', app.clientId);
        form.set('client_secret', app.clientSecret);
      }
      response = await fetch(url, {
        method: 'POST',
        headers,
        body: form,
        signal: AbortSignal.timeout(providerTimeoutMs),
        redirect: 'error',
      });
    }
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  }

  private sealTokens(connectionId: string, tokens: TokenSet, previousRefresh: string | null) {
    return {
      access_token: seal(this.root, oauthTokenAad(connectionId, 'access'), tokens.accessToken),
      // A provider that does not rotate refresh tokens sends none with a refresh: the old one stays good.
      refresh_token: tokens.refreshToken
        ? seal(this.root, oauthTokenAad(connectionId, 'refresh'), tokens.refreshToken)
        : previousRefresh,
      root_key_id: this.root.id,
      expires_at:
        tokens.expiresInSeconds && Number.isFinite(tokens.expiresInSeconds) && tokens.expiresInSeconds > 0
          ? new Date(Date.now() + Math.min(tokens.expiresInSeconds, maxExpiresInSeconds) * 1000).toISOString()
          : null,
    };
  }

  private signState(stateId: string, memberId: string, connectionId: string): string {
    return `${stateId}.${this.stateMac(stateId, memberId, connectionId)}`;
  }

  private stateMac(stateId: string, memberId: string, connectionId: string): string {
    return createHmac('sha256', this.stateKey).update(`${stateId}\0${memberId}\0${connectionId}`).digest('base64url');
  }

  /**
   * Ends the org's flows nobody completed in time: their connections become failed (`oauth_state_expired`) and
   * their states go, as do used states (kept only to refuse a replay while the flow could still be live).
   */
  private async sweep(orgId: string): Promise<void> {
    const now = nowIso();
    await this.db
      .deleteFrom('oauth_connections')
      .where('org_id', '=', orgId)
      .where('status', '=', 'failed')
      .where('updated_at', '<', new Date(Date.now() - failedKeptMs).toISOString())
      .execute();
    const expired = await this.db
      .selectFrom('oauth_states')
      .select(['id', 'connection_id'])
      .where('org_id', '=', orgId)
      .where('expires_at', '<', now)
      .execute();
    if (expired.length === 0) return;
    await this.db
      .updateTable('oauth_connections')
      .set({
        status: 'failed',
        error_code: 'oauth_state_expired',
        error_message: 'the consent was not given within ten minutes',
        updated_at: now,
      })
      .where(
        'id',
        'in',
        expired.map((row) => row.connection_id),
      )
      .where('status', '=', 'pending')
      .execute();
    await this.db
      .deleteFrom('oauth_states')
      .where(
        'id',
        'in',
        expired.map((row) => row.id),
      )
      .execute();
  }

  private provider(id: OAuthProviderId): OAuthProviderConfig {
    const provider = this.options.providers.get(id);
    if (!provider) throw new DomainError('oauth_provider_unknown', `no OAuth provider ${id}`, { provider: id });
    return provider;
  }

  private defaultScopes(provider: OAuthProviderConfig): string[] {
    return [...new Set([...provider.baseScopes, ...(this.options.toolScopes.get(provider.id)?.scopes ?? [])])];
  }

  private async app(orgId: string, providerId: OAuthProviderId): Promise<{ clientId: string; clientSecret: string }> {
    const row = await this.db
      .selectFrom('oauth_apps')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('provider', '=', providerId)
      .executeTakeFirst();
    if (!row) {
      throw new DomainError(
        'oauth_app_not_configured',
        `the org has no OAuth app for ${providerId}: an admin registers one with \`runtools oauth app set ${providerId} --client-id … --client-secret …\` (callback URL ${this.callbackUrl()})`,
        { provider: providerId, callbackUrl: this.callbackUrl() },
      );
    }
    return {
      clientId: row.client_id,
      clientSecret: open(this.root, oauthAppAad(orgId, providerId), row.client_secret),
    };
  }

  private appOf(row: Database['oauth_apps']): OAuthApp {
    return {
      provider: row.provider as OAuthProviderId,
      clientId: row.client_id,
      callbackUrl: this.callbackUrl(),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  private async defaults(orgId: string): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('oauth_defaults').selectAll().where('org_id', '=', orgId).execute();
    return new Map(rows.map((row) => [row.provider, row.connection_id]));
  }

  /** A connection the actor may see: its own, the org's defaults, or any for an admin; else 404. */
  private async visible(actor: Actor, id: string): Promise<ConnectionRow> {
    const row = await this.db
      .selectFrom('oauth_connections')
      .selectAll()
      .where('id', '=', id)
      .where('org_id', '=', actor.orgId)
      .executeTakeFirst();
    const defaults = row ? await this.defaults(actor.orgId) : new Map<string, string>();
    if (!row || !(isAdmin(actor) || row.member_id === actor.member?.id || defaults.get(row.provider) === row.id)) {
      throw new DomainError('oauth_connection_not_found', `no connection ${id}`, { id });
    }
    return row;
  }

  private connectionOf(row: ConnectionRow, defaults: Map<string, string>): OAuthConnection {
    const hasAccount = row.account_id !== null || row.account_login !== null || row.account_email !== null;
    return {
      id: row.id,
      provider: row.provider as OAuthProviderId,
      status: row.status,
      memberId: row.member_id,
      scopes: JSON.parse(row.scopes) as string[],
      account: hasAccount ? { id: row.account_id, login: row.account_login, email: row.account_email } : null,
      expiresAt: row.expires_at,
      isDefault: defaults.get(row.provider) === row.id,
      error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}

function isAdmin(actor: Actor): boolean {
  return actor.role === 'owner' || actor.role === 'admin';
}

function requireAdmin(actor: Actor, what: string): void {
  if (!isAdmin(actor)) {
    throw new DomainError('role_forbidden', `only an owner or admin can ${what}`, { role: actor.role });
  }
}

function reauthRequired(provider: OAuthProviderConfig, connectionId: string, fix: string): DomainError {
  return new DomainError(
    'oauth_reauth_required',
    `the ${provider.name} connection needs to be authorized again (${provider.name} refused to refresh it): run \`${fix}\``,
    { provider: provider.id, connectionId, command: fix },
  );
}
