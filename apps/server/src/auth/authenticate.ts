import { type ConcreteScope, expandScopes, type Role, roleCeiling } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Db } from '../db/database.js';
import { prepareRead } from '../db/prepared.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { Actor, KeyActor } from './actor.js';
import { hashApiKey, hashesEqual, parseApiKey } from './api-key-token.js';

/** Reads the key from `X-API-Key` or `Authorization: Bearer`. */
export function keyFromHeaders(headers: { get(name: string): string | null | undefined }): string | undefined {
  const direct = headers.get('x-api-key');
  if (direct) return direct.trim();
  const authorization = headers.get('authorization');
  if (!authorization) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  if (!match?.[1]) {
    throw new DomainError('unauthenticated', 'Authorization header must be "Bearer <api key>"');
  }
  return match[1].trim();
}

const lastUsedWriteIntervalMs = 60_000;

export class Authenticator {
  /** When each key's last_used_at was last written, so a busy key costs one write a minute, not one a request. */
  private readonly lastUsedWritten = new Map<string, number>();

  private readonly findKey;

  private readonly findKeyById;

  private readonly db: Kysely<Database>;

  constructor(database: Db) {
    this.db = database.kysely;
    const keyRows = () =>
      database.kysely
        .selectFrom('api_keys')
        .innerJoin('members', 'members.id', 'api_keys.member_id')
        .innerJoin('users', 'users.id', 'members.user_id')
        .innerJoin('orgs', 'orgs.id', 'api_keys.org_id')
        .select([
          'api_keys.id as keyId',
          'api_keys.name as keyName',
          'api_keys.prefix as keyPrefix',
          'api_keys.key_hash as keyHash',
          'api_keys.scopes as scopes',
          'api_keys.expires_at as expiresAt',
          'api_keys.revoked_at as revokedAt',
          'members.id as memberId',
          'members.role as role',
          'users.id as userId',
          'users.email as email',
          'orgs.id as orgId',
          'orgs.name as orgName',
          'orgs.slug as orgSlug',
        ]);
    this.findKey = prepareRead(database, keyRows().where('api_keys.prefix', '=', 'prefix'), ['prefix'] as [
      prefix: string,
    ]);
    this.findKeyById = prepareRead(database, keyRows().where('api_keys.id', '=', 'keyId'), ['keyId'] as [
      keyId: string,
    ]);
  }

  /** The key's actor: who is calling, resolved from their key on every request. */
  async authenticate(key: string | undefined, now = new Date()): Promise<KeyActor> {
    if (!key) {
      throw new DomainError(
        'unauthenticated',
        'an API key is required: send "X-API-Key: <key>" or "Authorization: Bearer <key>"',
      );
    }
    const parsed = parseApiKey(key);
    if (!parsed) throw new DomainError('invalid_api_key', 'the API key is malformed');
    const [row] = await this.findKey(parsed.prefix);
    if (!row || !hashesEqual(row.keyHash, hashApiKey(key))) {
      throw new DomainError('invalid_api_key', 'the API key is not valid');
    }
    return this.actorOf(row, now);
  }

  /**
   * The actor of a key already proven by something else (a dashboard session made from it): the key must still
   * be live, and its scopes are cut to its member's role as it is now.
   */
  async authenticateKeyId(keyId: string, now = new Date()): Promise<KeyActor> {
    const [row] = await this.findKeyById(keyId);
    if (!row) throw new DomainError('api_key_revoked', 'the API key this session was made with is gone');
    return this.actorOf(row, now);
  }

  private actorOf(
    row: {
      keyId: string;
      keyName: string;
      keyPrefix: string;
      scopes: string;
      expiresAt: string | null;
      revokedAt: string | null;
      memberId: string;
      role: string;
      userId: string;
      email: string;
      orgId: string;
      orgName: string;
      orgSlug: string;
    },
    now: Date,
  ): KeyActor {
    if (row.revokedAt) throw new DomainError('api_key_revoked', 'the API key has been revoked');
    if (row.expiresAt && new Date(row.expiresAt) <= now) {
      throw new DomainError('api_key_expired', `the API key expired at ${row.expiresAt}`);
    }
    const role = row.role as Role;
    const keyScopes = JSON.parse(row.scopes) as string[];
    const ceiling = roleCeiling(role);
    const effectiveScopes = new Set([...expandScopes(keyScopes)].filter((scope) => ceiling.has(scope)));
    this.touch(row.keyId, now);
    return {
      orgId: row.orgId,
      principal: { kind: 'key', id: row.keyId },
      scopes: effectiveScopes,
      role,
      member: { id: row.memberId, userId: row.userId, email: row.email },
      granted: keyScopes,
      expiresAt: row.expiresAt ? new Date(row.expiresAt).toISOString() : null,
      org: { name: row.orgName, slug: row.orgSlug },
      key: { name: row.keyName, prefix: row.keyPrefix },
    };
  }

  private touch(keyId: string, now: Date): void {
    const last = this.lastUsedWritten.get(keyId);
    if (last !== undefined && now.getTime() - last < lastUsedWriteIntervalMs) return;
    this.lastUsedWritten.set(keyId, now.getTime());
    // Best effort and off the request path: a failed bookkeeping write must not fail the request.
    this.db
      .updateTable('api_keys')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', keyId)
      .execute()
      .catch(() => this.lastUsedWritten.delete(keyId));
  }
}

export function requireScopes(auth: Actor, anyOf: readonly ConcreteScope[]): void {
  if (anyOf.length === 0 || anyOf.some((scope) => auth.scopes.has(scope))) return;
  throw new DomainError('insufficient_scope', `this call needs the scope ${anyOf.join(' or ')}`, {
    required: [...anyOf],
    granted: auth.granted,
    role: auth.role,
  });
}
