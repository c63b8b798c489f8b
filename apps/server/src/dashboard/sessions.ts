import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  DashboardSession,
  DashboardSessionCreateRequest,
  DashboardSessionInfo,
  Role,
  SignInLink,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Actor, KeyActor, SessionActor } from '../auth/actor.js';
import { hashToken } from '../auth/api-key-token.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import { inPage, keysetPage, type Page, type PageRequest, type SortKey } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import { addressBucket } from '../mesh/links.js';

/** Session cookies look like `rts_<43 characters>` (256 random bits); only a hash is stored. */
const sessionTokenPattern = /^rts_[A-Za-z0-9_-]{43}$/;
const linkTokenPrefix = 'rtl_';
/** A sign-in link works once, within this many seconds. */
export const signInLinkSeconds = 120;
const lastSeenWriteIntervalMs = 60_000;
/** Live sessions a member may have at once; signing in past it ends their oldest. */
export const maxSessionsPerMember = 50;
/** Newest first; the columns named with their table, as the list joins the keys. */
const sessionOrder: readonly SortKey[] = [
  { column: 'dashboard_sessions.created_at', direction: 'desc' },
  { column: 'dashboard_sessions.id', direction: 'asc' },
];

/**
 * The CSRF token of a session: derived from its cookie, so it needs no storage and names nothing without the
 * cookie; a page of another site can neither read the cookie nor this token.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`csrf:${sessionToken}`, 'utf8').digest('base64url');
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export interface SessionRequest {
  method: string;
  /** The `X-CSRF-Token` header. */
  csrfToken: string | undefined;
  /** The `Origin` header, when the browser sent one. */
  origin: string | undefined;
  /** The origins this server is reached at: the request's own (scheme and Host), and RUNTOOLS_PUBLIC_URL's. */
  ownOrigins: readonly string[];
}

export interface DashboardSessionsOptions {
  /** How long a session lasts from sign-in. */
  sessionSeconds: number;
  /** Sign-in attempts (keys, link tokens) per address. */
  signInRate: RateLimiter;
  clock: { now(): number };
}

type SessionRow = Database['dashboard_sessions'];

/**
 * Dashboard sign-in: sessions made from an API key or a one-time link, looked up by their cookie on every
 * request. A session is its key seen through a browser: it can do what the key can (cut to the member's role
 * today) and no more, and it ends when the key is revoked or expires, when its member signs out or ends it, or
 * after `sessionSeconds`.
 */
export class DashboardSessions {
  private readonly lastSeenWritten = new Map<string, number>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly authenticator: Authenticator,
    private readonly options: DashboardSessionsOptions,
  ) {}

  private now(): Date {
    return new Date(this.options.clock.now());
  }

  /** Signs in: answers the session and the cookie's token (which only the Set-Cookie header carries). */
  async create(
    request: DashboardSessionCreateRequest,
    from: { address: string | undefined; userAgent: string | undefined },
  ): Promise<{ session: DashboardSession; token: string }> {
    const budget = this.options.signInRate.take(addressBucket(from.address));
    if (!budget.ok)
      throw new DomainError('rate_limited', `too many sign-in attempts; retry in ${budget.retryAfterSeconds} s`, {
        retryAfterSeconds: budget.retryAfterSeconds,
      });
    const now = this.now();
    let key: KeyActor;
    let via: 'api_key' | 'link';
    if ('apiKey' in request) {
      key = await this.authenticator.authenticate(request.apiKey, now);
      via = 'api_key';
    } else {
      key = await this.takeLink(request.linkToken, now);
      via = 'link';
    }
    const token = `rts_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now.getTime() + this.options.sessionSeconds * 1000);
    // A session never outlives the key it was made from.
    const keyEnds = key.expiresAt ? new Date(key.expiresAt) : undefined;
    const ends = keyEnds && keyEnds < expiresAt ? keyEnds : expiresAt;
    const row: SessionRow = {
      id: newId('dashboardSession'),
      org_id: key.orgId,
      member_id: key.member.id,
      key_id: key.principal.id,
      token_hash: hashToken(token),
      via,
      user_agent: from.userAgent?.slice(0, 300) ?? null,
      address: from.address ?? null,
      created_at: now.toISOString(),
      last_seen_at: now.toISOString(),
      expires_at: ends.toISOString(),
      ended_at: null,
    };
    await this.db.insertInto('dashboard_sessions').values(row).execute();
    await this.sweep(now);
    await this.capSessions(key.member.id, now);
    return { session: this.describe(this.sessionActor(row, key), token), token };
  }

  private async takeLink(linkToken: string, now: Date): Promise<KeyActor> {
    const invalid = () =>
      new DomainError(
        'sign_in_link_invalid',
        'this sign-in link is not valid: it was used, it expired or it never existed',
      );
    // Single use: the update that marks it used is the check, so two browsers racing get one session.
    const link = await this.db
      .updateTable('sign_in_links')
      .set({ used_at: now.toISOString() })
      .where('token_hash', '=', hashToken(linkToken))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now.toISOString())
      .returning(['id', 'key_id', 'member_id'])
      .executeTakeFirst();
    if (!link) throw invalid();
    const key = await this.authenticator.authenticateKeyId(link.key_id, now);
    if (key.member.id !== link.member_id) throw invalid();
    return key;
  }

  /**
   * The actor of a session cookie. A request that is not a GET or HEAD must carry the session's CSRF token,
   * and when the browser names its origin, come from this server's own.
   */
  async authenticate(token: string, request: SessionRequest): Promise<SessionActor> {
    if (!sessionTokenPattern.test(token))
      throw new DomainError('session_invalid', 'the session cookie is malformed; sign in again');
    const now = this.now();
    const row = await this.db
      .selectFrom('dashboard_sessions')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row || row.ended_at) throw new DomainError('session_invalid', 'the session has ended; sign in again');
    if (new Date(row.expires_at) <= now) throw new DomainError('session_invalid', 'the session expired; sign in again');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      if (request.origin !== undefined && !request.ownOrigins.includes(request.origin))
        throw new DomainError('csrf_failed', `a request from ${request.origin} cannot use this session`);
      if (!request.csrfToken || !sameToken(request.csrfToken, csrfTokenFor(token)))
        throw new DomainError('csrf_failed', 'send the session’s CSRF token in the X-CSRF-Token header');
    }
    const key = await this.authenticator.authenticateKeyId(row.key_id, now);
    if (key.member.id !== row.member_id)
      throw new DomainError('session_invalid', 'the session has ended; sign in again');
    this.touch(row.id, now);
    return this.sessionActor(row, key);
  }

  private sessionActor(row: SessionRow, key: KeyActor): SessionActor {
    return {
      ...key,
      principal: { kind: 'session', id: row.id },
      key: { id: key.principal.id, name: key.key.name, prefix: key.key.prefix },
      session: { via: row.via as 'api_key' | 'link', createdAt: row.created_at, expiresAt: row.expires_at },
    };
  }

  /** What the dashboard reads on load; the CSRF token comes from the cookie's token. */
  describe(actor: SessionActor, token: string): DashboardSession {
    return {
      id: actor.principal.id,
      csrfToken: csrfTokenFor(token),
      via: actor.session.via,
      createdAt: actor.session.createdAt,
      expiresAt: actor.session.expiresAt,
      org: { id: actor.orgId, name: actor.org.name, slug: actor.org.slug },
      member: { id: actor.member.id, email: actor.member.email },
      role: actor.role as Role,
      scopes: [...actor.scopes].sort(),
      key: actor.key,
    };
  }

  /**
   * Old links and sessions are dropped as new ones are made, and a member keeps at most `maxSessionsPerMember`
   * live sessions (the oldest end first): no table grows without bound, however often someone signs in.
   */
  private async sweep(now: Date): Promise<void> {
    await this.db.deleteFrom('sign_in_links').where('expires_at', '<', now.toISOString()).execute();
    await this.db
      .deleteFrom('dashboard_sessions')
      .where('expires_at', '<', new Date(now.getTime() - 86_400_000).toISOString())
      .execute();
  }

  /** Ends the member's oldest live sessions past `maxSessionsPerMember`. */
  private async capSessions(memberId: string, now: Date): Promise<void> {
    const live = await this.db
      .selectFrom('dashboard_sessions')
      .select('id')
      .where('member_id', '=', memberId)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now.toISOString())
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(maxSessionsPerMember)
      .limit(10_000)
      .execute();
    if (live.length === 0) return;
    await this.db
      .updateTable('dashboard_sessions')
      .set({ ended_at: now.toISOString() })
      .where(
        'id',
        'in',
        live.map((row) => row.id),
      )
      .execute();
  }

  private touch(sessionId: string, now: Date): void {
    const last = this.lastSeenWritten.get(sessionId);
    if (last !== undefined && now.getTime() - last < lastSeenWriteIntervalMs) return;
    this.lastSeenWritten.set(sessionId, now.getTime());
    if (this.lastSeenWritten.size > 50_000) this.lastSeenWritten.clear();
    this.db
      .updateTable('dashboard_sessions')
      .set({ last_seen_at: now.toISOString() })
      .where('id', '=', sessionId)
      .execute()
      .catch(() => this.lastSeenWritten.delete(sessionId));
  }

  /** Ends one of the acting member's sessions (their own only: another member's is not found). */
  async end(actor: Actor, sessionId: string): Promise<{ id: string; ended: true }> {
    const member = actor.member;
    if (!member) throw new DomainError('member_required', 'only a member has dashboard sessions');
    const ended = await this.db
      .updateTable('dashboard_sessions')
      .set({ ended_at: this.now().toISOString() })
      .where('id', '=', sessionId)
      .where('org_id', '=', actor.orgId)
      .where('member_id', '=', member.id)
      .where('ended_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!ended) throw new DomainError('session_not_found', `no active session ${sessionId} of yours`);
    return { id: sessionId, ended: true };
  }

  /** The acting member's sessions that have not ended or expired, newest first, a page at a time. */
  async list(actor: Actor, page: PageRequest): Promise<Page<DashboardSessionInfo>> {
    const member = actor.member;
    if (!member) throw new DomainError('member_required', 'only a member has dashboard sessions');
    const now = this.now().toISOString();
    const result = await keysetPage(
      page,
      sessionOrder,
      (row: { created_at: string; id: string }) => [row.created_at, row.id],
      (keyset) =>
        inPage(
          this.db
            .selectFrom('dashboard_sessions')
            .innerJoin('api_keys', 'api_keys.id', 'dashboard_sessions.key_id')
            .select([
              'dashboard_sessions.id',
              'dashboard_sessions.via',
              'dashboard_sessions.created_at',
              'dashboard_sessions.last_seen_at',
              'dashboard_sessions.expires_at',
              'dashboard_sessions.user_agent',
              'dashboard_sessions.address',
              'api_keys.id as keyId',
              'api_keys.name as keyName',
              'api_keys.prefix as keyPrefix',
            ])
            .where('dashboard_sessions.org_id', '=', actor.orgId)
            .where('dashboard_sessions.member_id', '=', member.id)
            .where('dashboard_sessions.ended_at', 'is', null)
            .where('dashboard_sessions.expires_at', '>', now)
            .where('api_keys.revoked_at', 'is', null),
          keyset,
        ).execute(),
    );
    return {
      nextCursor: result.nextCursor,
      data: result.data.map((row) => ({
        id: row.id,
        via: row.via as 'api_key' | 'link',
        current: actor.principal.kind === 'session' && actor.principal.id === row.id,
        createdAt: row.created_at,
        lastSeenAt: row.last_seen_at,
        expiresAt: row.expires_at,
        userAgent: row.user_agent,
        address: row.address,
        key: { id: row.keyId, name: row.keyName, prefix: row.keyPrefix },
      })),
    };
  }

  /**
   * A one-time sign-in link for the member of the calling key. Only a key mints one: a session making links
   * would let a stolen cookie outlive its own end.
   */
  async createLink(actor: Actor, baseUrl: string): Promise<SignInLink> {
    if (actor.principal.kind !== 'key' || !actor.member)
      throw new DomainError('key_required', 'only an API key makes sign-in links (run `runtools dashboard`)');
    const now = this.now();
    const token = `${linkTokenPrefix}${randomBytes(32).toString('base64url')}`;
    const id = newId('signInLink');
    const expiresAt = new Date(now.getTime() + signInLinkSeconds * 1000).toISOString();
    await this.db
      .insertInto('sign_in_links')
      .values({
        id,
        org_id: actor.orgId,
        member_id: actor.member.id,
        key_id: actor.principal.id,
        token_hash: hashToken(token),
        created_at: now.toISOString(),
        expires_at: expiresAt,
        used_at: null,
      })
      .execute();
    await this.sweep(now);
    return { id, url: `${baseUrl.replace(/\/+$/, '')}/sign-in#${token}`, expiresAt };
  }
}
