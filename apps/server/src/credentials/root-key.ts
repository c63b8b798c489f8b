import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { DecryptionError, open, type RootKey, rootKeyFromBytes, seal } from './envelope.js';

/** Thrown when the configured root key is not the one the data was sealed with: the server must not start. */
export class RootKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootKeyError';
  }
}

const checkKey = 'root_key_check';
const canary = 'runtools root key check';
const canaryAad = 'meta:root_key_check';

export function rootKeyPaths(dataDir: string) {
  return { current: join(dataDir, 'root-key'), next: join(dataDir, 'root-key.next') };
}

/** Parses a root key given as base64 (44 chars) or hex (64 chars) of 32 bytes. */
export function parseRootKey(text: string, source: string): RootKey {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
  if (bytes?.length !== 32) {
    throw new RootKeyError(`${source} must be 32 random bytes as base64 (44 chars) or hex (64 chars)`);
  }
  return rootKeyFromBytes(bytes);
}

export function generateRootKeyText(): string {
  return randomBytes(32).toString('base64');
}

export function writeKeyFile(path: string, text: string): void {
  writeFileSync(path, `${text}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

async function storedCheck(db: Kysely<Database>): Promise<{ keyId: string; sealed: string } | undefined> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', checkKey).executeTakeFirst();
  return row ? (JSON.parse(row.value) as { keyId: string; sealed: string }) : undefined;
}

function matches(root: RootKey, check: { keyId: string; sealed: string }): boolean {
  if (check.keyId !== root.id) return false;
  try {
    return open(root, canaryAad, check.sealed) === canary;
  } catch (error) {
    if (error instanceof DecryptionError) return false;
    throw error;
  }
}

export async function writeRootKeyCheck(db: Kysely<Database>, root: RootKey): Promise<void> {
  const value = JSON.stringify({ keyId: root.id, sealed: seal(root, canaryAad, canary) });
  await db
    .insertInto('meta')
    .values({ key: checkKey, value })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value }))
    .execute();
}

export interface LoadedRootKey {
  root: RootKey;
  source: 'env' | 'file';
  /** Set when this start created the key file. */
  created: boolean;
}

/**
 * Loads the root key from `RUNTOOLS_MASTER_KEY` or the data dir's 0600 key file, creating the file on a
 * first start, and checks it against the database. A key that does not match the data refuses to start.
 * A rotation interrupted after its database commit left the new key in `root-key.next`: it is completed here.
 */
export async function loadRootKey(options: {
  dataDir: string;
  masterKey: string | undefined;
  db: Kysely<Database>;
}): Promise<LoadedRootKey> {
  const check = await storedCheck(options.db);
  if (options.masterKey !== undefined) {
    const root = parseRootKey(options.masterKey, 'RUNTOOLS_MASTER_KEY');
    if (!check) await writeRootKeyCheck(options.db, root);
    else if (!matches(root, check)) {
      throw new RootKeyError(
        `RUNTOOLS_MASTER_KEY (key id ${root.id}) is not the root key this database was sealed with (key id ${check.keyId}). ` +
          'Start with the original key, or restore it; secrets cannot be read without it.',
      );
    }
    return { root, source: 'env', created: false };
  }

  const paths = rootKeyPaths(options.dataDir);
  if (!existsSync(paths.current)) {
    if (check) {
      throw new RootKeyError(
        `the root key file ${paths.current} is missing, but this database holds data sealed with root key ${check.keyId}. ` +
          'Restore the file or set RUNTOOLS_MASTER_KEY.',
      );
    }
    writeKeyFile(paths.current, generateRootKeyText());
    const root = parseRootKey(readFileSync(paths.current, 'utf8'), paths.current);
    await writeRootKeyCheck(options.db, root);
    return { root, source: 'file', created: true };
  }
  if ((statSync(paths.current).mode & 0o077) !== 0) chmodSync(paths.current, 0o600);
  const root = parseRootKey(readFileSync(paths.current, 'utf8'), paths.current);
  if (!check) {
    await writeRootKeyCheck(options.db, root);
    return { root, source: 'file', created: false };
  }
  if (matches(root, check)) return { root, source: 'file', created: false };
  if (existsSync(paths.next)) {
    const next = parseRootKey(readFileSync(paths.next, 'utf8'), paths.next);
    if (matches(next, check)) {
      renameSync(paths.next, paths.current);
      return { root: next, source: 'file', created: false };
    }
  }
  throw new RootKeyError(
    `the root key in ${paths.current} (key id ${root.id}) is not the one this database was sealed with (key id ${check.keyId}). ` +
      'Restore the original key file; secrets cannot be read without it.',
  );
}
