import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { systemPrincipal } from './audit.js';
import { hashApiKey, parseApiKey } from './auth/api-key-token.js';
import { ConfigError } from './config.js';
import { isUniqueViolation } from './db/database.js';
import type { Database } from './db/schema.js';
import { createOrg, ensureUser, issueApiKey } from './tenancy/tenancy.js';

export interface BootstrapResult {
  /** Set only on the first start: the owner key, to print once. */
  adminKey?: string;
  adminKeyPath?: string;
}

/**
 * On an empty database: the default org and project, an owner, and an owner key with scope `*`
 * (`RUNTOOLS_ADMIN_KEY` when set), written to `<data-dir>/admin-key` with mode 0600.
 */
export async function bootstrap(
  db: Kysely<Database>,
  dataDir: string,
  presetKey: string | undefined,
): Promise<BootstrapResult> {
  const anyOrg = await db.selectFrom('orgs').select('id').limit(1).executeTakeFirst();
  if (anyOrg) return {};
  let preset: { key: string; prefix: string; hash: string } | undefined;
  if (presetKey !== undefined) {
    const parsed = parseApiKey(presetKey);
    if (!parsed) {
      throw new ConfigError('RUNTOOLS_ADMIN_KEY must look like rt_<8 lowercase base32 chars>_<43 base64url chars>');
    }
    preset = { key: presetKey, prefix: parsed.prefix, hash: hashApiKey(presetKey) };
  }
  let adminKey: string;
  try {
    adminKey = await db.transaction().execute(async (trx) => {
      const userId = await ensureUser(trx, 'admin@localhost', 'Admin');
      const created = await createOrg(trx, {
        name: 'Default',
        slug: 'default',
        ownerUserId: userId,
        actor: systemPrincipal,
      });
      const key = await issueApiKey(trx, {
        orgId: created.org.id,
        memberId: created.memberId,
        name: 'admin',
        scopes: ['*'],
        expiresAt: null,
        ...(preset ? { preset } : {}),
      });
      return key.key;
    });
  } catch (error) {
    // Another server sharing this PostgreSQL database bootstrapped first.
    if (isUniqueViolation(error)) return {};
    throw error;
  }
  const adminKeyPath = join(dataDir, 'admin-key');
  writeFileSync(adminKeyPath, `${adminKey}\n`, { mode: 0o600 });
  chmodSync(adminKeyPath, 0o600);
  return { adminKey, adminKeyPath };
}
