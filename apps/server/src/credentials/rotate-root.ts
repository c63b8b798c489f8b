import { existsSync, renameSync } from 'node:fs';
import { ConfigError } from '../config.js';
import { runningServerPid, sqlitePath } from '../data-dir.js';
import { openDatabase } from '../db/database.js';
import { oauthAppAad, oauthTokenAad } from '../oauth/oauth-service.js';
import { toolCredentialAad } from '../tools/tool-service.js';
import { triggerSecretAad } from '../workflows/trigger-service.js';
import { rewrap } from './envelope.js';
import {
  generateRootKeyText,
  loadRootKey,
  parseRootKey,
  rootKeyPaths,
  writeKeyFile,
  writeRootKeyCheck,
} from './root-key.js';
import { secretAad } from './secret-store.js';

export interface RotationResult {
  secrets: number;
  toolCredentials: number;
  oldKeyId: string;
  newKeyId: string;
  source: 'env' | 'file';
  /** With RUNTOOLS_MASTER_KEY the operator must set the new key themselves: it is returned to show them. */
  newKeyText: string | undefined;
}

/**
 * Re-wraps every secret's (and stored tool credential's) data key under a new root key, and the root key check with it, in one transaction.
 * With a key file, the new key is written to `root-key.next` first and renamed over `root-key` after the
 * commit; a crash in between is completed by the next start. Runs with the server stopped.
 */
export async function rotateRootKey(options: {
  dataDir: string;
  databaseUrl: string | undefined;
  masterKey: string | undefined;
  newKey: string | undefined;
}): Promise<RotationResult> {
  const running = runningServerPid(options.dataDir);
  if (running)
    throw new ConfigError(
      `a RunTools server (pid ${running}) is using ${options.dataDir}; stop it before rotating the root key`,
    );
  const db = await openDatabase(options.databaseUrl ?? sqlitePath(options.dataDir));
  try {
    const current = await loadRootKey({ dataDir: options.dataDir, masterKey: options.masterKey, db: db.kysely });
    const newKeyText = options.newKey ?? generateRootKeyText();
    const next = parseRootKey(newKeyText, 'the new root key');
    if (next.id === current.root.id) throw new ConfigError('the new root key is the same as the current one');
    const paths = rootKeyPaths(options.dataDir);
    if (current.source === 'file') writeKeyFile(paths.next, newKeyText);
    const counts = await db.kysely.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('secrets').select(['id', 'org_id', 'ciphertext']).execute();
      for (const row of rows) {
        const ciphertext = rewrap(current.root, next, secretAad(row.org_id, row.id), row.ciphertext);
        await trx.updateTable('secrets').set({ ciphertext, root_key_id: next.id }).where('id', '=', row.id).execute();
      }
      // Tool credentials stored as values are sealed the same way.
      const stored = await trx
        .selectFrom('tool_credentials')
        .select(['org_id', 'tool', 'field', 'ciphertext'])
        .where('kind', '=', 'value')
        .execute();
      for (const row of stored) {
        if (!row.ciphertext) continue;
        const ciphertext = rewrap(
          current.root,
          next,
          toolCredentialAad(row.org_id, row.tool, row.field),
          row.ciphertext,
        );
        await trx
          .updateTable('tool_credentials')
          .set({ ciphertext, root_key_id: next.id })
          .where('org_id', '=', row.org_id)
          .where('tool', '=', row.tool)
          .where('field', '=', row.field)
          .execute();
      }
      // OAuth apps' client secrets, connections' tokens and pending flows' PKCE verifiers.
      const apps = await trx.selectFrom('oauth_apps').select(['org_id', 'provider', 'client_secret']).execute();
      for (const row of apps) {
        await trx
          .updateTable('oauth_apps')
          .set({
            client_secret: rewrap(current.root, next, oauthAppAad(row.org_id, row.provider), row.client_secret),
            root_key_id: next.id,
          })
          .where('org_id', '=', row.org_id)
          .where('provider', '=', row.provider)
          .execute();
      }
      const connections = await trx
        .selectFrom('oauth_connections')
        .select(['id', 'access_token', 'refresh_token'])
        .execute();
      for (const row of connections) {
        const again = (kind: 'access' | 'refresh', sealed: string | null) =>
          sealed ? rewrap(current.root, next, oauthTokenAad(row.id, kind), sealed) : null;
        await trx
          .updateTable('oauth_connections')
          .set({
            access_token: again('access', row.access_token),
            refresh_token: again('refresh', row.refresh_token),
            root_key_id: next.id,
          })
          .where('id', '=', row.id)
          .execute();
      }
      const states = await trx.selectFrom('oauth_states').select(['id', 'connection_id', 'code_verifier']).execute();
      for (const row of states) {
        await trx
          .updateTable('oauth_states')
          .set({
            code_verifier: rewrap(current.root, next, oauthTokenAad(row.connection_id, 'verifier'), row.code_verifier),
          })
          .where('id', '=', row.id)
          .execute();
      }
      // Webhook triggers' signing secrets.
      const triggers = await trx
        .selectFrom('workflow_triggers')
        .select(['id', 'org_id', 'secret'])
        .where('secret', 'is not', null)
        .execute();
      for (const row of triggers) {
        await trx
          .updateTable('workflow_triggers')
          .set({
            secret: rewrap(current.root, next, triggerSecretAad(row.org_id, row.id), row.secret as string),
            root_key_id: next.id,
          })
          .where('id', '=', row.id)
          .execute();
      }
      await writeRootKeyCheck(trx, next);
      return { secrets: rows.length, toolCredentials: stored.length, oauthConnections: connections.length };
    });
    if (current.source === 'file' && existsSync(paths.next)) renameSync(paths.next, paths.current);
    return {
      ...counts,
      oldKeyId: current.root.id,
      newKeyId: next.id,
      source: current.source,
      newKeyText: current.source === 'env' ? newKeyText : undefined,
    };
  } finally {
    await db.close();
  }
}
