import type { SshKey } from '@runtools/spec';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { isUniqueViolation } from '../db/database.js';
import { inPage, keysetPage, mapPage, oldestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError, invalidBodyField } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { parseSshPublicKey, SshKeyFormatError } from './ssh-public-key.js';

function sshKeyFromRow(row: Database['ssh_keys']): SshKey {
  return {
    id: row.id,
    name: row.name,
    algorithm: row.algorithm,
    bits: row.bits,
    fingerprint: row.fingerprint,
    publicKey: row.public_key,
    comment: row.comment,
    createdAt: row.created_at,
  };
}

/** The org's SSH public keys, which the SSH gateway accepts for every sandbox of the org. */
export class SshKeyService {
  constructor(private readonly db: Kysely<Database>) {}

  async add(auth: Actor, body: { name: string; publicKey: string }): Promise<SshKey> {
    // An org's SSH keys open a shell in every one of its sandboxes (the gateway): registering one is exec.
    requireScopes(auth, ['sandboxes:write']);
    let parsed: ReturnType<typeof parseSshPublicKey>;
    try {
      parsed = parseSshPublicKey(body.publicKey);
    } catch (error) {
      if (error instanceof SshKeyFormatError) throw invalidBodyField('publicKey', error.message);
      throw error;
    }
    const row: Database['ssh_keys'] = {
      id: newId('sshKey'),
      org_id: auth.orgId,
      name: body.name,
      algorithm: parsed.algorithm,
      bits: parsed.bits,
      fingerprint: parsed.fingerprint,
      public_key: parsed.publicKey,
      comment: parsed.comment,
      created_at: nowIso(),
    };
    try {
      await this.db.insertInto('ssh_keys').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new DomainError('ssh_key_exists', `this key (${parsed.fingerprint}) is already registered`, {
          fingerprint: parsed.fingerprint,
        });
      }
      throw error;
    }
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'ssh_key.added',
      actor: auth.principal,
      targetId: row.id,
      details: { fingerprint: row.fingerprint },
    });
    return sshKeyFromRow(row);
  }

  /** Oldest first: by creation time, then id. */
  async list(auth: Actor, page: PageRequest): Promise<Page<SshKey>> {
    const rows = await keysetPage(
      page,
      oldestFirst,
      (row: Database['ssh_keys']) => [row.created_at, row.id],
      (keyset) => inPage(this.db.selectFrom('ssh_keys').selectAll().where('org_id', '=', auth.orgId), keyset).execute(),
    );
    return mapPage(rows, sshKeyFromRow);
  }

  async remove(auth: Actor, sshKeyId: string): Promise<{ id: string; deleted: true }> {
    const row = await this.db
      .deleteFrom('ssh_keys')
      .where('org_id', '=', auth.orgId)
      .where('id', '=', sshKeyId)
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new DomainError('ssh_key_not_found', `no SSH key ${sshKeyId}`);
    await audit(this.db, { orgId: auth.orgId, event: 'ssh_key.removed', actor: auth.principal, targetId: row.id });
    return { id: row.id, deleted: true };
  }
}
