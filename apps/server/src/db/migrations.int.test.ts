import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../../../../test/support/database.js';
import { openDatabase } from './database.js';

/** A database's address (a fresh PostgreSQL database or a SQLite file) and how to remove it. */
async function freshTarget(): Promise<{ target: string; remove(): Promise<void> }> {
  if (testDatabaseKind() === 'postgres') {
    const database = await createPostgresDatabase();
    return { target: database.url, remove: () => database.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'runtools-migrations-'));
  return { target: join(dir, 'runtools.db'), remove: async () => rmSync(dir, { recursive: true, force: true }) };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('migrations', () => {
  it('0014 names the recorded actors: key ids become (key, id), records no key made become (system, runtools)', async () => {
    const { target, remove } = await freshTarget();
    cleanups.push(remove);
    const before = await openDatabase(target, { migrateUpTo: '0012_invitations' });
    try {
      await sql`insert into audit_log (org_id, event, actor_key_id, target_id, details, created_at)
        values ('org_a', 'secret.set', 'key_1', 'sec_1', '{}', '2026-01-01T00:00:00.000Z'),
               ('org_a', 'org.created', null, 'org_a', '{}', '2026-01-01T00:00:01.000Z')`.execute(before.kysely);
    } finally {
      await before.close();
    }
    const after = await openDatabase(target);
    cleanups.push(() => after.close());
    const rows = await after.kysely
      .selectFrom('audit_log')
      .select(['event', 'actor_kind', 'actor_id', 'target_id'])
      .orderBy('seq')
      .execute();
    expect(rows).toEqual([
      { event: 'secret.set', actor_kind: 'key', actor_id: 'key_1', target_id: 'sec_1' },
      { event: 'org.created', actor_kind: 'system', actor_id: 'runtools', target_id: 'org_a' },
    ]);
    const columns = await after.kysely.introspection.getTables();
    const audit = columns.find((table) => table.name === 'audit_log');
    expect(audit?.columns.map((column) => column.name)).not.toContain('actor_key_id');
  });

  it('0019 keeps agent runs made before it (no actor, lease or steps) and holds workflow rows to the keys the engine counts on', async () => {
    const { target, remove } = await freshTarget();
    cleanups.push(remove);
    const at = '2026-01-01T00:00:00.000Z';
    const before = await openDatabase(target, { migrateUpTo: '0018_oauth' });
    try {
      await sql`insert into orgs (id, name, slug, created_at) values ('org_a', 'A', 'a', ${at})`.execute(before.kysely);
      await sql`insert into agent_runs (id, org_id, agent_id, agent_slug, agent_version, status, prompt, input_tokens,
        output_tokens, steps, created_at) values ('run_1', 'org_a', 'agt_1', 'helper', 1, 'running', 'hi', 3, 4, 1, ${at})`.execute(
        before.kysely,
      );
    } finally {
      await before.close();
    }
    const after = await openDatabase(target);
    cleanups.push(() => after.close());
    const db = after.kysely;
    expect(
      await db
        .selectFrom('agent_runs')
        .select(['id', 'status', 'steps', 'actor', 'owner', 'lease_expires_at', 'cancel_requested_at'])
        .execute(),
    ).toEqual([
      {
        id: 'run_1',
        status: 'running',
        steps: 1,
        actor: null,
        owner: null,
        lease_expires_at: null,
        cancel_requested_at: null,
      },
    ]);
    expect(await db.selectFrom('agent_run_steps').selectAll().execute()).toEqual([]);

    await db
      .insertInto('projects')
      .values({ id: 'prj_a', org_id: 'org_a', name: 'A', slug: 'a', is_default: 1, created_at: at })
      .execute();
    const workflow = {
      org_id: 'org_a',
      project_id: 'prj_a',
      name: 'W',
      description: null,
      graph: '{}',
      input_schema: null,
      draft_revision: 1,
    };
    const stamps = { created_at: at, updated_at: at };
    await db
      .insertInto('workflows')
      .values({ id: 'wfl_1', slug: 'w', ...workflow, latest_version: 1, visibility: 'org', owner_id: null, ...stamps })
      .execute();
    // One slug per org.
    await expect(
      db
        .insertInto('workflows')
        .values({
          id: 'wfl_2',
          slug: 'w',
          ...workflow,
          latest_version: null,
          visibility: null,
          owner_id: null,
          ...stamps,
        })
        .execute(),
    ).rejects.toThrow();
    const version = { workflow_id: 'wfl_1', org_id: 'org_a', graph: '{}', input_schema: null, visibility: 'org' };
    const versionRow = { ...version, note: null, published_by: null, created_at: at };
    await db
      .insertInto('workflow_versions')
      .values({ ...versionRow, version: 1 })
      .execute();
    // A version is published once: two publishers racing for the next number cannot both have it.
    await expect(
      db
        .insertInto('workflow_versions')
        .values({ ...versionRow, version: 1 })
        .execute(),
    ).rejects.toThrow();

    // A run's idempotency key is its workflow's once; runs without one are many.
    const run = (id: string, key: string | null) => ({
      id,
      org_id: 'org_a',
      workflow_id: 'wfl_1',
      workflow_slug: 'w',
      version: 1,
      graph: '{}',
      status: 'queued',
      input: '{}',
      output: null,
      error: null,
      trigger_kind: 'manual',
      trigger_id: null,
      trigger_data: null,
      actor: '{}',
      started_by: null,
      idempotency_key: key,
      revision: 0,
      event_seq: 1,
      completion_seq: 0,
      timeout_at: null,
      created_at: at,
      started_at: null,
      updated_at: at,
      finished_at: null,
    });
    await db
      .insertInto('workflow_runs')
      .values([run('wfr_1', 'k'), run('wfr_2', null), run('wfr_3', null)])
      .execute();
    await expect(db.insertInto('workflow_runs').values(run('wfr_4', 'k')).execute()).rejects.toThrow();

    // A webhook delivery key is accepted once per trigger (replay protection stands on this index); refused
    // deliveries, logged without a key, are many.
    const delivery = (id: string, triggerId: string, key: string | null) => ({
      id,
      trigger_id: triggerId,
      org_id: 'org_a',
      delivery_key: key,
      status: key ? 'accepted' : 'refused',
      reason: key ? null : 'mismatch',
      run_id: null,
      remote: null,
      received_at: at,
    });
    await db
      .insertInto('workflow_deliveries')
      .values([
        delivery('dlv_1', 'trg_1', 'id:d-1'),
        delivery('dlv_2', 'trg_2', 'id:d-1'),
        delivery('dlv_3', 'trg_1', null),
        delivery('dlv_4', 'trg_1', null),
      ])
      .execute();
    await expect(
      db
        .insertInto('workflow_deliveries')
        .values(delivery('dlv_5', 'trg_1', 'id:d-1'))
        .execute(),
    ).rejects.toThrow();

    // Deleting a workflow takes its versions and triggers with it.
    await db
      .insertInto('workflow_triggers')
      .values({
        id: 'trg_1',
        org_id: 'org_a',
        workflow_id: 'wfl_1',
        kind: 'cron',
        schedule: '0 0 1 1 *',
        timezone: 'UTC',
        missed_fires: 'skip',
        version: 'latest',
        input: '{}',
        token_hash: null,
        secret: null,
        root_key_id: null,
        next_fire_at: at,
        last_fired_at: null,
        enabled: 1,
        actor: '{}',
        created_by: null,
        created_at: at,
      })
      .execute();
    await db.deleteFrom('workflows').where('id', '=', 'wfl_1').execute();
    expect(await db.selectFrom('workflow_versions').select('version').execute()).toEqual([]);
    expect(await db.selectFrom('workflow_triggers').select('id').execute()).toEqual([]);
  });

  it('0021 adds the mesh beside orgs made before it: codes, tokens and addresses are unique where the server counts on it, and an org takes its mesh rows when it goes', async () => {
    const { target, remove } = await freshTarget();
    cleanups.push(remove);
    const at = '2026-01-01T00:00:00.000Z';
    const before = await openDatabase(target, { migrateUpTo: '0020_workflow_publishers' });
    try {
      for (const org of ['a', 'b']) {
        await sql`insert into orgs (id, name, slug, created_at) values (${`org_${org}`}, ${org}, ${org}, ${at})`.execute(
          before.kysely,
        );
        await sql`insert into users (id, email, name, created_at) values (${`usr_${org}`}, ${`${org}@example.com`}, null, ${at})`.execute(
          before.kysely,
        );
        await sql`insert into members (id, org_id, user_id, role, created_at)
          values (${`mem_${org}`}, ${`org_${org}`}, ${`usr_${org}`}, 'owner', ${at})`.execute(before.kysely);
      }
    } finally {
      await before.close();
    }
    const after = await openDatabase(target);
    cleanups.push(() => after.close());
    const db = after.kysely;
    const link = (id: string, code: string, orgId: string | null) => ({
      id,
      code,
      poll_token_hash: `poll-${id}`,
      name: 'laptop',
      platform: 'linux-x64',
      version: null,
      public_key: 'pk',
      identity_key: 'ik',
      requested_from: null,
      status: orgId ? 'approved' : 'pending',
      org_id: orgId,
      node_id: null,
      decided_by: null,
      decided_at: null,
      claimed_at: null,
      created_at: at,
      expires_at: at,
    });
    await db
      .insertInto('mesh_links')
      .values([link('mln_1', 'AAAA-AAAA', 'org_a'), link('mln_2', 'BBBB-BBBB', null)])
      .execute();
    // A code names one link: the server draws again when it collides.
    await expect(
      db
        .insertInto('mesh_links')
        .values(link('mln_3', 'AAAA-AAAA', null))
        .execute(),
    ).rejects.toThrow();
    const node = (id: string, orgId: string, address: string, tokenHash: string | null) => ({
      id,
      org_id: orgId,
      name: id,
      address,
      public_key: 'pk',
      identity_key: 'ik',
      platform: 'linux-x64',
      version: null,
      owner_member_id: orgId === 'org_a' ? 'mem_a' : 'mem_b',
      token_hash: tokenHash,
      root: null,
      confined: 0,
      listen_port: null,
      endpoint: null,
      connected_at: null,
      disconnected_at: null,
      last_seen_at: null,
      created_at: at,
      revoked_at: null,
      revoked_by: null,
    });
    // Nodes not yet claimed have no token; an address is an org's once; another org has the same one.
    await db
      .insertInto('mesh_nodes')
      .values([
        node('mnd_1', 'org_a', '100.64.0.1', 'hash-1'),
        node('mnd_2', 'org_a', '100.64.0.2', null),
        node('mnd_3', 'org_a', '100.64.0.3', null),
        node('mnd_4', 'org_b', '100.64.0.1', 'hash-4'),
      ])
      .execute();
    await expect(
      db
        .insertInto('mesh_nodes')
        .values(node('mnd_5', 'org_a', '100.64.0.1', null))
        .execute(),
    ).rejects.toThrow();
    // A token authenticates one node.
    await expect(
      db
        .insertInto('mesh_nodes')
        .values(node('mnd_6', 'org_b', '100.64.0.6', 'hash-1'))
        .execute(),
    ).rejects.toThrow();
    const grant = { node_id: 'mnd_1', member_id: 'mem_a', granted_by: 'key_1', created_at: at };
    await db.insertInto('mesh_node_grants').values(grant).execute();
    await expect(db.insertInto('mesh_node_grants').values(grant).execute()).rejects.toThrow();
    await db.insertInto('mesh_orgs').values({ org_id: 'org_a', next_address: 4, revision: 3 }).execute();
    const entry = (id: string, orgId: string | null) => ({
      id,
      org_id: orgId,
      at,
      action: 'link.created',
      actor_kind: 'system',
      actor_id: 'runtools',
      node_id: null,
      link_id: null,
      from_address: null,
      details: '{}',
    });
    await db
      .insertInto('mesh_audit')
      .values([entry('mau_1', 'org_a'), entry('mau_2', null), entry('mau_3', 'org_b')])
      .execute();

    await db.deleteFrom('orgs').where('id', '=', 'org_a').execute();
    expect(await db.selectFrom('mesh_nodes').select('id').execute()).toEqual([{ id: 'mnd_4' }]);
    expect(await db.selectFrom('mesh_node_grants').select('node_id').execute()).toEqual([]);
    expect(await db.selectFrom('mesh_orgs').select('org_id').execute()).toEqual([]);
    expect(await db.selectFrom('mesh_links').select('id').execute()).toEqual([{ id: 'mln_2' }]);
    expect(await db.selectFrom('mesh_audit').select('id').orderBy('id').execute()).toEqual([
      { id: 'mau_2' },
      { id: 'mau_3' },
    ]);
  });

  it('0023 puts every sandbox, workspace, agent and workflow made before it in its own org’s default project, which they then hold', async () => {
    const { target, remove } = await freshTarget();
    cleanups.push(remove);
    const at = '2026-01-01T00:00:00.000Z';
    const before = await openDatabase(target, { migrateUpTo: '0022_dashboard_sessions' });
    try {
      const db = before.kysely as unknown as Kysely<Record<string, Record<string, unknown>>>;
      for (const org of ['a', 'b']) {
        await db
          .insertInto('orgs')
          .values({ id: `org_${org}`, name: org, slug: org, created_at: at })
          .execute();
        // The default project, and another one that must not receive anything.
        for (const [id, isDefault] of [
          [`prj_${org}_other`, 0],
          [`prj_${org}`, 1],
        ] as const)
          await db
            .insertInto('projects')
            .values({
              id,
              org_id: `org_${org}`,
              name: id,
              slug: id.replaceAll('_', '-'),
              is_default: isDefault,
              created_at: at,
            })
            .execute();
        await db
          .insertInto('sandboxes')
          .values({
            id: `sbx_${org}`,
            org_id: `org_${org}`,
            name: null,
            template: 'base',
            runtime: 'container',
            host_id: 'h',
            status: 'running',
            status_reason: null,
            metadata: '{}',
            vcpus: 1,
            memory_bytes: 1024,
            idle_timeout: 0,
            internet: 0,
            disk_bytes: null,
            mounts: '[]',
            paused_to: null,
            auto_resume: 0,
            created_at: at,
            updated_at: at,
          })
          .execute();
        await db
          .insertInto('workspaces')
          .values({
            id: `wsp_${org}`,
            org_id: `org_${org}`,
            name: 'W',
            slug: 'w',
            kind: 'org',
            owner_member_id: null,
            created_at: at,
          })
          .execute();
        await db
          .insertInto('agents')
          .values({
            id: `agt_${org}`,
            org_id: `org_${org}`,
            slug: 'a',
            version: 1,
            definition: '{}',
            created_at: at,
            updated_at: at,
          })
          .execute();
        await db
          .insertInto('workflows')
          .values({
            id: `wfl_${org}`,
            org_id: `org_${org}`,
            slug: 'w',
            name: 'W',
            description: null,
            graph: '{}',
            input_schema: null,
            draft_revision: 1,
            latest_version: null,
            visibility: null,
            owner_id: null,
            created_at: at,
            updated_at: at,
          })
          .execute();
      }
    } finally {
      await before.close();
    }
    const after = await openDatabase(target);
    cleanups.push(() => after.close());
    for (const table of ['sandboxes', 'workspaces', 'agents', 'workflows'] as const) {
      const rows = await after.kysely.selectFrom(table).select(['org_id', 'project_id']).orderBy('org_id').execute();
      expect(rows, table).toEqual([
        { org_id: 'org_a', project_id: 'prj_a' },
        { org_id: 'org_b', project_id: 'prj_b' },
      ]);
    }
    // The rows hold their project: it cannot go while they refer to it, nor can a row name one that is not there.
    await expect(after.kysely.deleteFrom('projects').where('id', '=', 'prj_a').execute()).rejects.toThrow();
    await expect(
      after.kysely.updateTable('agents').set({ project_id: 'prj_gone' }).where('id', '=', 'agt_a').execute(),
    ).rejects.toThrow();
    await after.kysely.deleteFrom('projects').where('id', '=', 'prj_a_other').execute();
  });
});
