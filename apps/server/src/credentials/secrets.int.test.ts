import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testDatabaseKind } from '../../../../test/support/database.js';
import { serverTest, startTestServer, type TestServer } from '../../../../test/support/server.js';
import { signWebhook } from '../workflows/webhook-signature.js';
import { RootKeyError } from './root-key.js';
import { rotateRootKey } from './rotate-root.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
async function freshServer(env: Record<string, string> = {}) {
  const server = await startTestServer(env);
  servers.push(server);
  return server;
}

async function setSecret(server: TestServer, name: string, value: string, category = 'custom') {
  const response = await server.request('POST', '/v1/secrets', { body: { name, value, category } });
  expect(response.status).toBe(201);
}
async function readSecret(server: TestServer, name: string) {
  const response = await server.request('GET', `/v1/secrets/${name}`);
  return { status: response.status, body: (await response.json()) as { value?: string; error?: { code: string } } };
}

/** Everything the database holds on disk (SQLite) or in the secrets table (PostgreSQL), as one string. */
async function storedBytes(server: TestServer): Promise<string> {
  if (testDatabaseKind() === 'sqlite') {
    return readdirSync(server.dataDir)
      .filter((file) => file.startsWith('runtools.db'))
      .map((file) => readFileSync(join(server.dataDir, file)).toString('latin1'))
      .join('\n');
  }
  const rows = await server.running.db.kysely.selectFrom('secrets').selectAll().execute();
  return JSON.stringify(rows);
}

describe('secrets', () => {
  serverTest('keeps values encrypted at rest and returns them only from get', async ({ server }) => {
    const value = `sk-live-${randomBytes(16).toString('hex')}`;
    await setSecret(server, 'OPENAI_API_KEY', value, 'provider');
    expect(await storedBytes(server)).not.toContain(value);
    expect(await storedBytes(server)).not.toContain(Buffer.from(value).toString('base64'));

    const list = await (await server.request('GET', '/v1/secrets')).text();
    expect(list).toContain('OPENAI_API_KEY');
    expect(list).toContain('provider');
    expect(list).not.toContain(value);
    expect((await readSecret(server, 'OPENAI_API_KEY')).body.value).toBe(value);
  });

  serverTest('replaces a value on set, keeps the id, and deletes', async ({ server }) => {
    await setSecret(server, 'TOKEN', 'one');
    const first = (await readSecret(server, 'TOKEN')).body as { id?: string };
    await setSecret(server, 'TOKEN', 'two', 'tool');
    const second = (await readSecret(server, 'TOKEN')).body as { id?: string; value?: string; category?: string };
    expect([second.id, second.value, second.category]).toEqual([first.id, 'two', 'tool']);
    expect((await server.request('DELETE', '/v1/secrets/TOKEN')).status).toBe(200);
    expect((await readSecret(server, 'TOKEN')).status).toBe(404);
    expect((await server.request('DELETE', '/v1/secrets/TOKEN')).status).toBe(404);
  });

  serverTest('round-trips unicode and a 64 KiB value exactly', async ({ server }) => {
    const unicode = 'pässwörd 🔑 \u0000 null byte';
    await setSecret(server, 'UNICODE', unicode);
    expect((await readSecret(server, 'UNICODE')).body.value).toBe(unicode);
    const big = 'z'.repeat(65536);
    await setSecret(server, 'BIG', big);
    expect((await readSecret(server, 'BIG')).body.value).toBe(big);
  });

  serverTest('fails closed on a tampered ciphertext and on one moved to another secret', async ({ server }) => {
    await setSecret(server, 'FIRST', 'first-value');
    await setSecret(server, 'SECOND', 'second-value');
    const db = server.running.db.kysely;
    const rows = await db.selectFrom('secrets').select(['name', 'ciphertext']).orderBy('name').execute();
    const [first, second] = rows;
    if (!first || !second) throw new Error('expected two secrets');

    const parts = first.ciphertext.split('.');
    const last = parts[5] ?? '';
    parts[5] = `${last[0] === 'A' ? 'B' : 'A'}${last.slice(1)}`;
    await db
      .updateTable('secrets')
      .set({ ciphertext: parts.join('.') })
      .where('name', '=', 'FIRST')
      .execute();
    const tampered = await readSecret(server, 'FIRST');
    expect([tampered.status, tampered.body.error?.code]).toEqual([500, 'internal_error']);
    expect(JSON.stringify(tampered.body)).not.toContain('first-value');

    // A valid ciphertext copied onto another row fails too: the secret id is bound in as associated data.
    await db.updateTable('secrets').set({ ciphertext: second.ciphertext }).where('name', '=', 'FIRST').execute();
    expect((await readSecret(server, 'FIRST')).status).toBe(500);
    expect((await readSecret(server, 'SECOND')).body.value).toBe('second-value');
  });

  serverTest(
    'writes the generated root key to a 0600 file and the key id into every ciphertext',
    async ({ server }) => {
      await setSecret(server, 'A', 'b');
      const keyFile = join(server.dataDir, 'root-key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const row = await server.running.db.kysely.selectFrom('secrets').selectAll().executeTakeFirstOrThrow();
      expect(row.ciphertext.split('.')[1]).toBe(server.running.rootKeyId);
      expect(row.root_key_id).toBe(server.running.rootKeyId);
    },
  );
});

describe('root key', () => {
  it('refuses to start with a wrong RUNTOOLS_MASTER_KEY', async () => {
    const good = randomBytes(32).toString('base64');
    const server = await freshServer({ RUNTOOLS_MASTER_KEY: good });
    await setSecret(server, 'KEEP', 'kept');
    await expect(server.restart({ RUNTOOLS_MASTER_KEY: randomBytes(32).toString('base64') })).rejects.toThrow(
      /is not the root key this database was sealed with/,
    );
    await expect(server.restart({ RUNTOOLS_MASTER_KEY: 'too-short' })).rejects.toBeInstanceOf(RootKeyError);
    await server.restart({ RUNTOOLS_MASTER_KEY: good });
    expect((await readSecret(server, 'KEEP')).body.value).toBe('kept');
  });

  serverTest('refuses to start with a replaced or missing key file', async ({ server }) => {
    await setSecret(server, 'KEEP', 'kept');
    await server.running.close();
    const keyFile = join(server.dataDir, 'root-key');
    const original = readFileSync(keyFile, 'utf8');
    writeFileSync(keyFile, randomBytes(32).toString('base64'));
    await expect(server.restart()).rejects.toThrow(/is not the one this database was sealed with/);
    // Missing: it refuses rather than making a new key the data was never sealed with.
    rmSync(keyFile);
    await expect(server.restart()).rejects.toThrow(/root key file .* is missing, but this database holds data sealed/);
    expect(existsSync(keyFile)).toBe(false);
    writeFileSync(keyFile, original);
    await server.restart();
    expect((await readSecret(server, 'KEEP')).body.value).toBe('kept');
  });

  serverTest(
    'rotates a key file: re-wraps every secret, old key no longer opens them, values unchanged',
    async ({ server }) => {
      await setSecret(server, 'ONE', 'value-one');
      await setSecret(server, 'TWO', 'value-two');
      const oldKey = readFileSync(join(server.dataDir, 'root-key'), 'utf8').trim();
      const before = await server.running.db.kysely
        .selectFrom('secrets')
        .select(['name', 'ciphertext'])
        .orderBy('name')
        .execute();
      await server.running.close();

      const result = await rotateRootKey({
        dataDir: server.dataDir,
        databaseUrl: server.databaseUrl,
        masterKey: undefined,
        newKey: undefined,
      });
      expect(result.secrets).toBe(2);
      expect(result.newKeyId).not.toBe(result.oldKeyId);
      expect(result.newKeyText).toBeUndefined();
      expect(existsSync(join(server.dataDir, 'root-key.next'))).toBe(false);
      expect(statSync(join(server.dataDir, 'root-key')).mode & 0o777).toBe(0o600);

      await server.restart();
      expect(server.running.rootKeyId).toBe(result.newKeyId);
      expect((await readSecret(server, 'ONE')).body.value).toBe('value-one');
      expect((await readSecret(server, 'TWO')).body.value).toBe('value-two');
      const after = await server.running.db.kysely
        .selectFrom('secrets')
        .select(['name', 'ciphertext'])
        .orderBy('name')
        .execute();
      for (const [index, row] of after.entries()) {
        const old = before[index]?.ciphertext.split('.') ?? [];
        const now = row.ciphertext.split('.');
        expect(now[1]).toBe(result.newKeyId);
        // Only the wrapped data key changed; the value's own ciphertext is the same bytes.
        expect(now.slice(4)).toEqual(old.slice(4));
        expect(now[3]).not.toBe(old[3]);
      }
      await expect(server.restart({ RUNTOOLS_MASTER_KEY: oldKey })).rejects.toBeInstanceOf(RootKeyError);
    },
  );

  it('rotates an environment key and returns the new key to set', async () => {
    const current = randomBytes(32).toString('hex');
    const server = await freshServer({ RUNTOOLS_MASTER_KEY: current });
    await setSecret(server, 'ENVKEY', 'secret-from-env');
    // A webhook trigger's signing secret is sealed with the root key too.
    await server.request('POST', '/v1/workflows', {
      body: { name: 'rotated', graph: { nodes: [{ id: 'out', type: 'output', config: { expression: '1' } }] } },
    });
    await server.request('POST', '/v1/workflows/rotated/publish', { body: { visibility: 'org' } });
    const trigger = (await (
      await server.request('POST', '/v1/workflows/rotated/triggers', { body: { kind: 'webhook' } })
    ).json()) as { url: string; secret: string };
    await server.running.close();
    const next = randomBytes(32).toString('base64');
    const result = await rotateRootKey({
      dataDir: server.dataDir,
      databaseUrl: server.databaseUrl,
      masterKey: current,
      newKey: next,
    });
    expect(result.newKeyText).toBe(next);
    await expect(server.restart({ RUNTOOLS_MASTER_KEY: current })).rejects.toBeInstanceOf(RootKeyError);
    await server.restart({ RUNTOOLS_MASTER_KEY: next });
    expect((await readSecret(server, 'ENVKEY')).body.value).toBe('secret-from-env');
    const body = '{"after":"rotation"}';
    const delivery = await fetch(trigger.url.replace(/^http:\/\/[^/]+/, server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-runtools-signature': signWebhook(trigger.secret, body, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    expect(delivery.status).toBe(200);
  });

  serverTest('completes a rotation that crashed after its database commit', async ({ server }) => {
    await setSecret(server, 'SURVIVES', 'yes');
    await server.running.close();
    const keyFile = join(server.dataDir, 'root-key');
    const oldKey = readFileSync(keyFile, 'utf8');
    await rotateRootKey({
      dataDir: server.dataDir,
      databaseUrl: server.databaseUrl,
      masterKey: undefined,
      newKey: undefined,
    });
    // Recreate the state a crash between commit and rename leaves: new key only in root-key.next.
    const newKey = readFileSync(keyFile, 'utf8');
    writeFileSync(join(server.dataDir, 'root-key.next'), newKey, { mode: 0o600 });
    writeFileSync(keyFile, oldKey, { mode: 0o600 });
    await server.restart();
    expect(readFileSync(keyFile, 'utf8')).toBe(newKey);
    expect(existsSync(join(server.dataDir, 'root-key.next'))).toBe(false);
    expect((await readSecret(server, 'SURVIVES')).body.value).toBe('yes');
  });

  serverTest('refuses to rotate while a server is using the data dir', async ({ server }) => {
    // On PostgreSQL too: the key file it would rewrite is in the data dir the server holds.
    await setSecret(server, 'KEPT', 'kept');
    const key = readFileSync(join(server.dataDir, 'root-key'), 'utf8');
    await expect(
      rotateRootKey({
        dataDir: server.dataDir,
        databaseUrl: server.databaseUrl,
        masterKey: undefined,
        newKey: undefined,
      }),
    ).rejects.toThrow(/stop it before rotating/);
    expect(readFileSync(join(server.dataDir, 'root-key'), 'utf8')).toBe(key);
    expect((await readSecret(server, 'KEPT')).body.value).toBe('kept');
  });
});
