import type { SecretCategory, SecretMetadata, SecretWithValue } from '@runtools/spec';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import type { Page, PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import type { SecretStore } from './secret-store.js';

/**
 * Secrets as the API serves them: the store's reads and writes, each set, read of a value and delete audited
 * with who did it. Server-side resolution (a provider's key, a tool's credential) reads the store directly.
 */
export class SecretService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly store: SecretStore,
  ) {}

  async set(auth: Actor, body: { name: string; value: string; category: SecretCategory }): Promise<SecretMetadata> {
    const result = await this.store.set(auth.orgId, body);
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'secret.set',
      actor: auth.principal,
      targetId: result.id,
      details: { name: body.name },
    });
    return result;
  }

  /** By name. */
  list(auth: Actor, page: PageRequest): Promise<Page<SecretMetadata>> {
    return this.store.list(auth.orgId, page);
  }

  async get(auth: Actor, name: string): Promise<SecretWithValue> {
    const secret = await this.store.get(auth.orgId, name);
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'secret.read',
      actor: auth.principal,
      targetId: secret.id,
      details: { name: secret.name },
    });
    return secret;
  }

  async delete(auth: Actor, name: string): Promise<{ id: string; deleted: true }> {
    const { id } = await this.store.delete(auth.orgId, name);
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'secret.deleted',
      actor: auth.principal,
      targetId: id,
      details: { name },
    });
    return { id, deleted: true };
  }
}
