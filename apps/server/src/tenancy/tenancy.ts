import type { ApiKeyCreated, Member, Org, Project, Role } from '@runtools/spec';
import type { Kysely, Transaction } from 'kysely';
import { audit } from '../audit.js';
import type { Principal } from '../auth/actor.js';
import { mintApiKey } from '../auth/api-key-token.js';
import { isUniqueViolation } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso, randomBase32 } from '../ids.js';

type Executor = Kysely<Database> | Transaction<Database>;

export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return slug || 'org';
}

export function projectFromRow(row: Database['projects']): Project {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    slug: row.slug,
    isDefault: row.is_default === 1,
    createdAt: row.created_at,
  };
}

/** Creates a user by email, or returns the existing one. */
export async function ensureUser(db: Executor, email: string, name: string | null): Promise<string> {
  const normalized = email.trim().toLowerCase();
  const existing = await db.selectFrom('users').select('id').where('email', '=', normalized).executeTakeFirst();
  if (existing) return existing.id;
  const id = newId('user');
  await db.insertInto('users').values({ id, email: normalized, name, created_at: nowIso() }).execute();
  return id;
}

/** Issues a key for a member. Only its hash is kept; the key itself is returned this once. */
export async function issueApiKey(
  db: Executor,
  input: {
    orgId: string;
    memberId: string;
    name: string;
    scopes: readonly string[];
    expiresAt: string | null;
    preset?: { key: string; prefix: string; hash: string };
  },
): Promise<ApiKeyCreated> {
  const minted = input.preset ?? mintApiKey();
  const id = newId('apiKey');
  const createdAt = nowIso();
  await db
    .insertInto('api_keys')
    .values({
      id,
      org_id: input.orgId,
      member_id: input.memberId,
      name: input.name,
      prefix: minted.prefix,
      key_hash: minted.hash,
      scopes: JSON.stringify(input.scopes),
      created_at: createdAt,
      expires_at: input.expiresAt,
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return {
    id,
    key: minted.key,
    prefix: minted.prefix,
    name: input.name,
    scopes: [...input.scopes],
    expiresAt: input.expiresAt,
    createdAt,
  };
}

export interface CreatedOrg {
  org: Org;
  project: Project;
  memberId: string;
}

/** Creates an org with its default project and the given user as its owner, in the caller's transaction. */
export async function createOrg(
  db: Transaction<Database>,
  input: { name: string; slug?: string; ownerUserId: string; actor: Principal },
): Promise<CreatedOrg> {
  const createdAt = nowIso();
  const orgId = newId('org');
  let slug = input.slug ?? slugify(input.name);
  if (!input.slug) {
    const taken = await db.selectFrom('orgs').select('id').where('slug', '=', slug).executeTakeFirst();
    if (taken) slug = `${slug}-${randomBase32(6)}`;
  }
  try {
    await db.insertInto('orgs').values({ id: orgId, name: input.name, slug, created_at: createdAt }).execute();
  } catch (error) {
    if (isUniqueViolation(error))
      throw new DomainError('org_exists', `an org with slug "${slug}" already exists`, { slug });
    throw error;
  }
  const project: Database['projects'] = {
    id: newId('project'),
    org_id: orgId,
    name: 'Default',
    slug: 'default',
    is_default: 1,
    created_at: createdAt,
  };
  await db.insertInto('projects').values(project).execute();
  const memberId = newId('member');
  await db
    .insertInto('members')
    .values({ id: memberId, org_id: orgId, user_id: input.ownerUserId, role: 'owner', created_at: createdAt })
    .execute();
  await audit(db, { orgId, event: 'org.created', actor: input.actor, targetId: orgId, details: { slug } });
  return {
    org: { id: orgId, name: input.name, slug, role: 'owner', createdAt },
    project: projectFromRow(project),
    memberId,
  };
}

/** Members of an org with their user's email and name, in the API's shape. */
export function selectMembers(db: Executor, orgId: string) {
  return db
    .selectFrom('members')
    .innerJoin('users', 'users.id', 'members.user_id')
    .select([
      'members.id as id',
      'members.org_id as orgId',
      'members.user_id as userId',
      'users.email as email',
      'users.name as name',
      'members.role as role',
      'members.created_at as createdAt',
    ])
    .where('members.org_id', '=', orgId);
}

export async function getMember(db: Executor, orgId: string, memberId: string): Promise<Member> {
  const row = await selectMembers(db, orgId).where('members.id', '=', memberId).executeTakeFirst();
  if (!row) throw new DomainError('member_not_found', `no member ${memberId} in this org`);
  return { ...row, role: row.role as Role };
}

export async function countOwners(db: Executor, orgId: string): Promise<number> {
  const row = await db
    .selectFrom('members')
    .select((eb) => eb.fn.countAll<string | number>().as('count'))
    .where('org_id', '=', orgId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
