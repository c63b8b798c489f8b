import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { DialectName } from './database.js';

/**
 * One set of migrations for SQLite and PostgreSQL, written with Kysely's schema builder so both dialects
 * get the same tables. Append new migrations; never edit a shipped one.
 */
function buildMigrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_foundation': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (column) => column.primaryKey())
          .addColumn('value', 'text', (column) => column.notNull())
          .execute();
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('email', 'text', (column) => column.notNull().unique())
          .addColumn('name', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema
          .createTable('orgs')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('slug', 'text', (column) => column.notNull().unique())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema
          .createTable('projects')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('slug', 'text', (column) => column.notNull())
          .addColumn('is_default', 'integer', (column) => column.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('projects_org_slug', ['org_id', 'slug'])
          .execute();
        await db.schema
          .createTable('members')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
          .addColumn('role', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('members_org_user', ['org_id', 'user_id'])
          .execute();
        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('member_id', 'text', (column) => column.notNull().references('members.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('prefix', 'text', (column) => column.notNull().unique())
          .addColumn('key_hash', 'text', (column) => column.notNull())
          .addColumn('scopes', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('last_used_at', 'text')
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('api_keys_org').on('api_keys').column('org_id').execute();
        await db.schema
          .createTable('secrets')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('category', 'text', (column) => column.notNull())
          .addColumn('ciphertext', 'text', (column) => column.notNull())
          .addColumn('root_key_id', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('secrets_org_name', ['org_id', 'name'])
          .execute();
        await db.schema
          .createTable('ssh_keys')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('algorithm', 'text', (column) => column.notNull())
          .addColumn('bits', 'integer')
          .addColumn('fingerprint', 'text', (column) => column.notNull())
          .addColumn('public_key', 'text', (column) => column.notNull())
          .addColumn('comment', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('ssh_keys_org_fingerprint', ['org_id', 'fingerprint'])
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : sql`integer`, (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull())
          .addColumn('event', 'text', (column) => column.notNull())
          .addColumn('actor_key_id', 'text')
          .addColumn('target_id', 'text')
          .addColumn('details', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('audit_log_org').on('audit_log').columns(['org_id', 'seq']).execute();
      },
    },
    '0002_sandboxes': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('sandboxes')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text')
          .addColumn('template', 'text', (column) => column.notNull())
          .addColumn('runtime', 'text', (column) => column.notNull())
          .addColumn('host_id', 'text', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('status_reason', 'text')
          .addColumn('metadata', 'text', (column) => column.notNull())
          .addColumn('vcpus', 'real', (column) => column.notNull())
          .addColumn('memory_bytes', 'bigint', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('sandboxes_org_status').on('sandboxes').columns(['org_id', 'status']).execute();
      },
    },
    '0003_sandbox_lifecycle': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable('sandboxes')
          .addColumn('idle_timeout', 'integer', (column) => column.notNull().defaultTo(900))
          .execute();
        await db.schema
          .createTable('sandbox_logs')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : sql`integer`, (column) => column.primaryKey())
          .addColumn('sandbox_id', 'text', (column) => column.notNull().references('sandboxes.id').onDelete('cascade'))
          .addColumn('type', 'text', (column) => column.notNull())
          .addColumn('message', 'text', (column) => column.notNull())
          .addColumn('status', 'text')
          .addColumn('data', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('sandbox_logs_sandbox').on('sandbox_logs').columns(['sandbox_id', 'seq']).execute();
      },
    },
    '0004_templates': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('templates')
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('description', 'text', (column) => column.notNull())
          .addColumn('spec', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('templates_pk', ['org_id', 'name'])
          .execute();
      },
    },
    '0005_sandbox_network_and_disk': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable('sandboxes')
          .addColumn('internet', 'integer', (column) => column.notNull().defaultTo(0))
          .execute();
        await db.schema.alterTable('sandboxes').addColumn('disk_bytes', 'bigint').execute();
      },
    },
    '0006_workspaces': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('workspaces')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('slug', 'text', (column) => column.notNull())
          .addColumn('kind', 'text', (column) => column.notNull())
          .addColumn('owner_member_id', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('workspaces_org_slug', ['org_id', 'slug'])
          .execute();
        await db.schema
          .alterTable('sandboxes')
          .addColumn('mounts', 'text', (column) => column.notNull().defaultTo('[]'))
          .execute();
      },
    },
    '0007_pause_to_disk': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('sandboxes').addColumn('paused_to', 'text').execute();
      },
    },
    '0008_snapshots_and_auto_resume': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable('sandboxes')
          .addColumn('auto_resume', 'integer', (column) => column.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createTable('sandbox_snapshots')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('sandbox_id', 'text', (column) => column.notNull())
          .addColumn('name', 'text')
          .addColumn('runtime', 'text', (column) => column.notNull())
          .addColumn('memory', 'integer', (column) => column.notNull())
          .addColumn('size_bytes', 'bigint', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('host_id', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('sandbox_snapshots_name', ['sandbox_id', 'name'])
          .execute();
        await db.schema
          .createIndex('sandbox_snapshots_sandbox')
          .on('sandbox_snapshots')
          .columns(['org_id', 'sandbox_id'])
          .execute();
      },
    },
    '0009_sandbox_urls': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('sandbox_urls')
          .addColumn('sandbox_id', 'text', (column) => column.notNull())
          .addColumn('port', 'integer', (column) => column.notNull())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('public', 'integer', (column) => column.notNull())
          .addColumn('version', 'integer', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('sandbox_urls_pk', ['sandbox_id', 'port'])
          .execute();
      },
    },
    '0010_sandbox_url_subdomains': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('sandbox_urls').addColumn('subdomain', 'text').execute();
        await db.schema.createIndex('sandbox_urls_subdomain').unique().on('sandbox_urls').column('subdomain').execute();
      },
    },
    '0011_agents': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('model_providers')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('type', 'text', (column) => column.notNull())
          .addColumn('base_url', 'text', (column) => column.notNull())
          .addColumn('api_key_secret', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('model_providers_org_name', ['org_id', 'name'])
          .execute();
        await db.schema
          .createTable('agents')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('slug', 'text', (column) => column.notNull())
          .addColumn('version', 'integer', (column) => column.notNull())
          .addColumn('definition', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('agents_org_slug', ['org_id', 'slug'])
          .execute();
        await db.schema
          .createTable('agent_versions')
          .addColumn('agent_id', 'text', (column) => column.notNull().references('agents.id').onDelete('cascade'))
          .addColumn('version', 'integer', (column) => column.notNull())
          .addColumn('definition', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('agent_versions_pk', ['agent_id', 'version'])
          .execute();
        await db.schema
          .createTable('threads')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('agent_id', 'text', (column) => column.notNull())
          .addColumn('agent_slug', 'text', (column) => column.notNull())
          .addColumn('sandbox_id', 'text')
          .addColumn('message_count', 'integer', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('threads_org').on('threads').columns(['org_id', 'updated_at']).execute();
        await db.schema
          .createTable('thread_messages')
          .addColumn('thread_id', 'text', (column) => column.notNull().references('threads.id').onDelete('cascade'))
          .addColumn('seq', 'integer', (column) => column.notNull())
          .addColumn('run_id', 'text', (column) => column.notNull())
          .addColumn('role', 'text', (column) => column.notNull())
          .addColumn('content', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('thread_messages_pk', ['thread_id', 'seq'])
          .execute();
        await db.schema
          .createTable('agent_runs')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('agent_id', 'text', (column) => column.notNull())
          .addColumn('agent_slug', 'text', (column) => column.notNull())
          .addColumn('agent_version', 'integer', (column) => column.notNull())
          .addColumn('thread_id', 'text')
          .addColumn('sandbox_id', 'text')
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('prompt', 'text', (column) => column.notNull())
          .addColumn('text', 'text')
          .addColumn('stop_reason', 'text')
          .addColumn('error', 'text')
          .addColumn('input_tokens', 'integer', (column) => column.notNull())
          .addColumn('output_tokens', 'integer', (column) => column.notNull())
          .addColumn('steps', 'integer', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .execute();
        await db.schema.createIndex('agent_runs_org').on('agent_runs').columns(['org_id', 'created_at']).execute();
        await db.schema.createIndex('agent_runs_status').on('agent_runs').column('status').execute();
        await db.schema
          .createTable('run_events')
          .addColumn('run_id', 'text', (column) => column.notNull().references('agent_runs.id').onDelete('cascade'))
          .addColumn('seq', 'integer', (column) => column.notNull())
          .addColumn('type', 'text', (column) => column.notNull())
          .addColumn('data', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('run_events_pk', ['run_id', 'seq'])
          .execute();
      },
    },
    '0012_invitations': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('invitations')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('email', 'text', (column) => column.notNull())
          .addColumn('role', 'text', (column) => column.notNull())
          .addColumn('token_hash', 'text', (column) => column.unique())
          // Whoever invited, and with which key: an invitation is only as good as what they may still grant.
          .addColumn('invited_by_member_id', 'text', (column) => column.notNull())
          .addColumn('invited_by_key_id', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('expires_at', 'text', (column) => column.notNull())
          .addColumn('accepted_at', 'text')
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('invitations_org').on('invitations').columns(['org_id', 'created_at']).execute();
      },
    },
    '0014_audit_principals': {
      // An audit record names its principal by kind and id (a key, a session, a trigger, a node, the platform),
      // not only a key: the key ids recorded so far become ('key', id), and the records no key made ('system').
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('audit_log').addColumn('actor_kind', 'text').execute();
        await db.schema.alterTable('audit_log').addColumn('actor_id', 'text').execute();
        await sql`update audit_log set actor_kind = 'key', actor_id = actor_key_id where actor_key_id is not null`.execute(
          db,
        );
        await sql`update audit_log set actor_kind = 'system', actor_id = 'runtools' where actor_key_id is null`.execute(
          db,
        );
        await db.schema.alterTable('audit_log').dropColumn('actor_key_id').execute();
      },
    },
    '0016_tools': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tool_installations')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('tool_installations_org_name', ['org_id', 'name'])
          .execute();
        await db.schema
          .createTable('tool_credentials')
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('tool', 'text', (column) => column.notNull())
          .addColumn('field', 'text', (column) => column.notNull())
          .addColumn('kind', 'text', (column) => column.notNull())
          .addColumn('ciphertext', 'text')
          .addColumn('secret_name', 'text')
          .addColumn('root_key_id', 'text')
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('tool_credentials_pk', ['org_id', 'tool', 'field'])
          .execute();
        await db.schema
          .createTable('tool_executions')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('tool', 'text', (column) => column.notNull())
          .addColumn('action', 'text', (column) => column.notNull())
          .addColumn('version', 'integer')
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('error_code', 'text')
          .addColumn('duration_ms', 'double precision', (column) => column.notNull())
          .addColumn('actor_kind', 'text', (column) => column.notNull())
          .addColumn('actor_id', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema
          .createIndex('tool_executions_org')
          .on('tool_executions')
          .columns(['org_id', 'created_at', 'id'])
          .execute();
      },
    },
    '0017_custom_tools': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('custom_tools')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('latest_version', 'integer', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('custom_tools_org_name', ['org_id', 'name'])
          .execute();
        await db.schema
          .createTable('custom_tool_versions')
          .addColumn('tool_id', 'text', (column) => column.notNull().references('custom_tools.id').onDelete('cascade'))
          .addColumn('version', 'integer', (column) => column.notNull())
          // The definition's static part (description, credentials, actions with their schemas), as JSON.
          .addColumn('manifest', 'text', (column) => column.notNull())
          // The bundled ES module, base64: an artifact of the version, kept in the database so every server
          // behind a load balancer has it.
          .addColumn('bundle', 'text', (column) => column.notNull())
          .addColumn('sha256', 'text', (column) => column.notNull())
          .addColumn('size_bytes', 'integer', (column) => column.notNull())
          .addColumn('actor_kind', 'text', (column) => column.notNull())
          .addColumn('actor_id', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('custom_tool_versions_pk', ['tool_id', 'version'])
          .execute();
      },
    },
    '0018_oauth': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('oauth_apps')
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('provider', 'text', (column) => column.notNull())
          .addColumn('client_id', 'text', (column) => column.notNull())
          .addColumn('client_secret', 'text', (column) => column.notNull())
          .addColumn('root_key_id', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('oauth_apps_pk', ['org_id', 'provider'])
          .execute();
        await db.schema
          .createTable('oauth_connections')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('member_id', 'text', (column) => column.notNull().references('members.id').onDelete('cascade'))
          .addColumn('provider', 'text', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          // JSON: granted scopes (asked-for ones while pending).
          .addColumn('scopes', 'text', (column) => column.notNull())
          .addColumn('account_id', 'text')
          .addColumn('account_login', 'text')
          .addColumn('account_email', 'text')
          // Sealed with the root key (the secrets envelope), bound to the connection's id.
          .addColumn('access_token', 'text')
          .addColumn('refresh_token', 'text')
          .addColumn('root_key_id', 'text')
          .addColumn('expires_at', 'text')
          .addColumn('error_code', 'text')
          .addColumn('error_message', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema
          .createIndex('oauth_connections_org')
          .on('oauth_connections')
          .columns(['org_id', 'provider', 'member_id'])
          .execute();
        await db.schema
          .createTable('oauth_defaults')
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('provider', 'text', (column) => column.notNull())
          .addColumn('connection_id', 'text', (column) =>
            column.notNull().references('oauth_connections.id').onDelete('cascade'),
          )
          .addPrimaryKeyConstraint('oauth_defaults_pk', ['org_id', 'provider'])
          .execute();
        // One per authorization URL handed out: single use (used_at), expiring, bound to the member.
        await db.schema
          .createTable('oauth_states')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('connection_id', 'text', (column) =>
            column.notNull().references('oauth_connections.id').onDelete('cascade'),
          )
          .addColumn('member_id', 'text', (column) => column.notNull())
          .addColumn('code_verifier', 'text', (column) => column.notNull())
          .addColumn('make_default', 'integer', (column) => column.notNull())
          .addColumn('expires_at', 'text', (column) => column.notNull())
          .addColumn('used_at', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
      },
    },
    '0019_workflows': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('workflows')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('slug', 'text', (column) => column.notNull())
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('description', 'text')
          // JSON: the draft graph and the input's JSON Schema.
          .addColumn('graph', 'text', (column) => column.notNull())
          .addColumn('input_schema', 'text')
          .addColumn('draft_revision', 'integer', (column) => column.notNull())
          .addColumn('latest_version', 'integer')
          .addColumn('visibility', 'text')
          .addColumn('owner_id', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addUniqueConstraint('workflows_org_slug', ['org_id', 'slug'])
          .execute();
        await db.schema
          .createTable('workflow_versions')
          .addColumn('workflow_id', 'text', (column) => column.notNull().references('workflows.id').onDelete('cascade'))
          .addColumn('version', 'integer', (column) => column.notNull())
          .addColumn('org_id', 'text', (column) => column.notNull())
          .addColumn('graph', 'text', (column) => column.notNull())
          .addColumn('input_schema', 'text')
          .addColumn('visibility', 'text', (column) => column.notNull())
          .addColumn('note', 'text')
          .addColumn('published_by', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('workflow_versions_pk', ['workflow_id', 'version'])
          .execute();
        await db.schema
          .createTable('workflow_runs')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('workflow_id', 'text', (column) => column.notNull())
          .addColumn('workflow_slug', 'text', (column) => column.notNull())
          .addColumn('version', 'integer')
          // JSON: the graph the run is pinned to (a version's, or the draft's when it started).
          .addColumn('graph', 'text', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('input', 'text', (column) => column.notNull())
          .addColumn('output', 'text')
          .addColumn('error', 'text')
          .addColumn('trigger_kind', 'text', (column) => column.notNull())
          .addColumn('trigger_id', 'text')
          // JSON: the trigger's document (a webhook's body and headers, a cron's fire time).
          .addColumn('trigger_data', 'text')
          // JSON: who the run acts as ({ principal, memberId, granted }), re-checked at every node.
          .addColumn('actor', 'text', (column) => column.notNull())
          .addColumn('started_by', 'text')
          .addColumn('idempotency_key', 'text')
          // Bumped by every change of the run's node set: writers of one run take turns on it.
          .addColumn('revision', 'integer', (column) => column.notNull().defaultTo(0))
          .addColumn('event_seq', 'integer', (column) => column.notNull().defaultTo(0))
          .addColumn('completion_seq', 'integer', (column) => column.notNull().defaultTo(0))
          .addColumn('timeout_at', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('started_at', 'text')
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addColumn('finished_at', 'text')
          .execute();
        await db.schema
          .createIndex('workflow_runs_org')
          .on('workflow_runs')
          .columns(['org_id', 'created_at', 'id'])
          .execute();
        await db.schema
          .createIndex('workflow_runs_status')
          .on('workflow_runs')
          .columns(['status', 'updated_at'])
          .execute();
        await db.schema
          .createIndex('workflow_runs_idempotency')
          .on('workflow_runs')
          .columns(['workflow_id', 'idempotency_key'])
          .unique()
          .execute();
        await db.schema
          .createTable('workflow_node_runs')
          .addColumn('run_id', 'text', (column) => column.notNull().references('workflow_runs.id').onDelete('cascade'))
          .addColumn('node_id', 'text', (column) => column.notNull())
          .addColumn('iteration', 'integer', (column) => column.notNull())
          .addColumn('type', 'text', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('attempt', 'integer', (column) => column.notNull())
          .addColumn('output', 'text')
          .addColumn('error', 'text')
          // JSON: the indexes of the edges its completion took.
          .addColumn('taken', 'text')
          // The order completions happened in (the run's completion_seq when it ended).
          .addColumn('completion_seq', 'integer')
          .addColumn('child_run_id', 'text')
          .addColumn('wake_at', 'text')
          .addColumn('owner', 'text')
          .addColumn('lease_expires_at', 'text')
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .addPrimaryKeyConstraint('workflow_node_runs_pk', ['run_id', 'node_id', 'iteration'])
          .execute();
        await db.schema
          .createTable('workflow_events')
          .addColumn('run_id', 'text', (column) => column.notNull().references('workflow_runs.id').onDelete('cascade'))
          .addColumn('seq', 'integer', (column) => column.notNull())
          .addColumn('type', 'text', (column) => column.notNull())
          .addColumn('node_id', 'text')
          .addColumn('iteration', 'integer')
          .addColumn('attempt', 'integer')
          .addColumn('data', 'text')
          .addColumn('child_run_id', 'text')
          .addColumn('at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('workflow_events_pk', ['run_id', 'seq'])
          .execute();
        await db.schema
          .createTable('workflow_approvals')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('run_id', 'text', (column) => column.notNull().references('workflow_runs.id').onDelete('cascade'))
          .addColumn('workflow_slug', 'text', (column) => column.notNull())
          .addColumn('node_id', 'text', (column) => column.notNull())
          .addColumn('iteration', 'integer', (column) => column.notNull())
          .addColumn('message', 'text', (column) => column.notNull())
          .addColumn('approvers', 'text')
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('comment', 'text')
          .addColumn('decided_by', 'text')
          .addColumn('expires_at', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('decided_at', 'text')
          .execute();
        await db.schema
          .createIndex('workflow_approvals_org')
          .on('workflow_approvals')
          .columns(['org_id', 'status', 'created_at'])
          .execute();
        await db.schema
          .createTable('workflow_triggers')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('workflow_id', 'text', (column) => column.notNull().references('workflows.id').onDelete('cascade'))
          .addColumn('kind', 'text', (column) => column.notNull())
          .addColumn('schedule', 'text')
          .addColumn('timezone', 'text')
          .addColumn('missed_fires', 'text')
          // A version number, or 'latest'.
          .addColumn('version', 'text', (column) => column.notNull())
          .addColumn('input', 'text', (column) => column.notNull())
          // A webhook's URL token (its SHA-256) and its signing secret (sealed with the root key).
          .addColumn('token_hash', 'text')
          .addColumn('secret', 'text')
          .addColumn('root_key_id', 'text')
          .addColumn('next_fire_at', 'text')
          .addColumn('last_fired_at', 'text')
          .addColumn('enabled', 'integer', (column) => column.notNull())
          // JSON: who its runs act as (the creator: member and granted scopes).
          .addColumn('actor', 'text', (column) => column.notNull())
          .addColumn('created_by', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('workflow_triggers_token').on('workflow_triggers').column('token_hash').execute();
        await db.schema
          .createIndex('workflow_triggers_due')
          .on('workflow_triggers')
          .columns(['kind', 'next_fire_at'])
          .execute();
        // Webhook deliveries seen (replay protection) and refused ones (the log), kept for a while.
        await db.schema
          .createTable('workflow_deliveries')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('trigger_id', 'text', (column) => column.notNull())
          .addColumn('org_id', 'text', (column) => column.notNull())
          .addColumn('delivery_key', 'text')
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('reason', 'text')
          .addColumn('run_id', 'text')
          .addColumn('remote', 'text')
          .addColumn('received_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema
          .createIndex('workflow_deliveries_key')
          .on('workflow_deliveries')
          .columns(['trigger_id', 'delivery_key'])
          .unique()
          .execute();
        // webhook-wait nodes: the URL token (SHA-256) that resumes one.
        await db.schema
          .createTable('workflow_waits')
          .addColumn('token_hash', 'text', (column) => column.primaryKey())
          .addColumn('run_id', 'text', (column) => column.notNull().references('workflow_runs.id').onDelete('cascade'))
          .addColumn('node_id', 'text', (column) => column.notNull())
          .addColumn('iteration', 'integer', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .execute();
        // The embedded job queue (queue/table-queue.ts; on PostgreSQL too when RUNTOOLS_QUEUE=table): leased,
        // retried, delayed work. A completed job is deleted at once.
        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('queue', 'text', (column) => column.notNull())
          .addColumn('data', 'text', (column) => column.notNull())
          .addColumn('singleton_key', 'text')
          // created (waiting) | active | failed | cancelled
          .addColumn('state', 'text', (column) => column.notNull())
          // Hand-outs so far, and how many of them ended with the handler throwing (what retry_limit bounds).
          .addColumn('attempt', 'integer', (column) => column.notNull())
          .addColumn('failures', 'integer', (column) => column.notNull())
          .addColumn('retry_limit', 'integer', (column) => column.notNull())
          .addColumn('retry_delay_ms', 'integer', (column) => column.notNull())
          .addColumn('retry_backoff', 'integer', (column) => column.notNull())
          .addColumn('start_after', 'text', (column) => column.notNull())
          .addColumn('owner', 'text')
          .addColumn('lease_expires_at', 'text')
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .execute();
        // Claims (created, due, oldest first), expired leases (active) and old ended jobs, per queue.
        await db.schema.createIndex('jobs_due').on('jobs').columns(['queue', 'state', 'start_after']).execute();
        // At most one job per singleton key waiting that was never handed out: `send` inserts with ON CONFLICT
        // DO NOTHING, which is atomic on both databases where a look-then-insert is not on PostgreSQL.
        await db.schema
          .createIndex('jobs_singleton')
          .on('jobs')
          .columns(['queue', 'singleton_key'])
          .unique()
          .where(sql.ref('state'), '=', sql.lit('created'))
          .where(sql.ref('attempt'), '=', sql.lit(0))
          .execute();
        // Agent runs that survive a restart: who a run acts as (its rights read again at every step), the
        // process holding it (a lease renewed while its loop runs; only an expired one is taken over), a
        // cancel asked of whichever process holds it, and each finished step's messages and usage (step 0 is
        // the user's turn), from which another process resumes the loop.
        await db.schema.alterTable('agent_runs').addColumn('actor', 'text').execute();
        // JSON: the names, types and sizes of the prompt's attachments, for the run's start event.
        await db.schema.alterTable('agent_runs').addColumn('attachments', 'text').execute();
        await db.schema.alterTable('agent_runs').addColumn('owner', 'text').execute();
        await db.schema.alterTable('agent_runs').addColumn('lease_expires_at', 'text').execute();
        await db.schema.alterTable('agent_runs').addColumn('cancel_requested_at', 'text').execute();
        await db.schema
          .createTable('agent_run_steps')
          .addColumn('run_id', 'text', (column) => column.notNull().references('agent_runs.id').onDelete('cascade'))
          .addColumn('step', 'integer', (column) => column.notNull())
          // JSON: the model messages of the step (the assistant's, its tool results), or the user's turn.
          .addColumn('messages', 'text', (column) => column.notNull())
          .addColumn('finish_reason', 'text')
          .addColumn('text', 'text')
          .addColumn('input_tokens', 'integer', (column) => column.notNull())
          .addColumn('output_tokens', 'integer', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('agent_run_steps_pk', ['run_id', 'step'])
          .execute();
      },
    },
    '0020_workflow_publishers': {
      async up(db: Kysely<unknown>) {
        // JSON StoredActor: who published the version. A trigger that runs it acts with no more than that.
        await db.schema.alterTable('workflow_versions').addColumn('publisher', 'text').execute();
      },
    },
    '0021_mesh': {
      async up(db: Kysely<unknown>) {
        // A device's request to join: no org until a member approves its code.
        await db.schema
          .createTable('mesh_links')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('code', 'text', (column) => column.notNull().unique())
          .addColumn('poll_token_hash', 'text', (column) => column.notNull())
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('platform', 'text', (column) => column.notNull())
          .addColumn('version', 'text')
          .addColumn('public_key', 'text', (column) => column.notNull())
          .addColumn('identity_key', 'text', (column) => column.notNull())
          .addColumn('requested_from', 'text')
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('org_id', 'text', (column) => column.references('orgs.id').onDelete('cascade'))
          .addColumn('node_id', 'text')
          .addColumn('decided_by', 'text')
          .addColumn('decided_at', 'text')
          // When the device took its node token: minted at its first poll after approval, never again.
          .addColumn('claimed_at', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('expires_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('mesh_links_expires').on('mesh_links').columns(['status', 'expires_at']).execute();
        // One row per org with a mesh: the next address to hand out and the config revision. Approvals and
        // revocations update it first, so they take turns per org.
        await db.schema
          .createTable('mesh_orgs')
          .addColumn('org_id', 'text', (column) => column.primaryKey().references('orgs.id').onDelete('cascade'))
          .addColumn('next_address', 'integer', (column) => column.notNull())
          .addColumn('revision', 'integer', (column) => column.notNull())
          .execute();
        await db.schema
          .createTable('mesh_nodes')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('address', 'text', (column) => column.notNull())
          .addColumn('public_key', 'text', (column) => column.notNull())
          .addColumn('identity_key', 'text', (column) => column.notNull())
          .addColumn('platform', 'text', (column) => column.notNull())
          .addColumn('version', 'text')
          .addColumn('owner_member_id', 'text', (column) => column.notNull())
          .addColumn('token_hash', 'text', (column) => column.unique())
          .addColumn('root', 'text')
          .addColumn('confined', 'integer', (column) => column.notNull().defaultTo(0))
          .addColumn('listen_port', 'integer')
          .addColumn('endpoint', 'text')
          .addColumn('connected_at', 'text')
          .addColumn('disconnected_at', 'text')
          .addColumn('last_seen_at', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('revoked_by', 'text')
          // Addresses are never handed out twice in an org, revoked nodes' included.
          .addUniqueConstraint('mesh_nodes_org_address', ['org_id', 'address'])
          .execute();
        await db.schema.createIndex('mesh_nodes_org').on('mesh_nodes').columns(['org_id', 'created_at']).execute();
        await db.schema
          .createTable('mesh_node_grants')
          .addColumn('node_id', 'text', (column) => column.notNull().references('mesh_nodes.id').onDelete('cascade'))
          .addColumn('member_id', 'text', (column) => column.notNull().references('members.id').onDelete('cascade'))
          .addColumn('granted_by', 'text', (column) => column.notNull())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('mesh_node_grants_pk', ['node_id', 'member_id'])
          .execute();
        // Org-less rows are links no org decided on (created, then expired): the platform's, shown to no org.
        await db.schema
          .createTable('mesh_audit')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.references('orgs.id').onDelete('cascade'))
          .addColumn('at', 'text', (column) => column.notNull())
          .addColumn('action', 'text', (column) => column.notNull())
          .addColumn('actor_kind', 'text', (column) => column.notNull())
          .addColumn('actor_id', 'text', (column) => column.notNull())
          .addColumn('node_id', 'text')
          .addColumn('link_id', 'text')
          .addColumn('from_address', 'text')
          .addColumn('details', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('mesh_audit_org').on('mesh_audit').columns(['org_id', 'at', 'id']).execute();
        await db.schema.createIndex('mesh_audit_link').on('mesh_audit').columns(['link_id']).execute();
        // Operations for a device connected to another control plane: the plane holding its channel takes
        // them, runs them there and writes back the answer.
        await db.schema
          .createTable('mesh_calls')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('node_id', 'text', (column) => column.notNull())
          .addColumn('operation', 'text', (column) => column.notNull())
          .addColumn('timeout_ms', 'integer', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('result', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('expires_at', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('mesh_calls_node').on('mesh_calls').columns(['node_id', 'status']).execute();
      },
    },
    '0022_dashboard_sessions': {
      async up(db: Kysely<unknown>) {
        // A browser's sign-in: the cookie's token is stored only as a hash; the session acts with the key it was
        // made from (a key revoked or expired ends it), and ends on its own after its lifetime.
        await db.schema
          .createTable('dashboard_sessions')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('member_id', 'text', (column) => column.notNull())
          .addColumn('key_id', 'text', (column) => column.notNull())
          .addColumn('token_hash', 'text', (column) => column.notNull().unique())
          .addColumn('via', 'text', (column) => column.notNull())
          .addColumn('user_agent', 'text')
          .addColumn('address', 'text')
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('last_seen_at', 'text', (column) => column.notNull())
          .addColumn('expires_at', 'text', (column) => column.notNull())
          .addColumn('ended_at', 'text')
          .execute();
        await db.schema
          .createIndex('dashboard_sessions_member')
          .on('dashboard_sessions')
          .columns(['member_id', 'ended_at'])
          .execute();
        await db.schema
          .createIndex('dashboard_sessions_expires')
          .on('dashboard_sessions')
          .columns(['expires_at'])
          .execute();
        // One-time sign-in links (`runtools dashboard`): a hash of the token, used once, within minutes.
        await db.schema
          .createTable('sign_in_links')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('org_id', 'text', (column) => column.notNull().references('orgs.id').onDelete('cascade'))
          .addColumn('member_id', 'text', (column) => column.notNull())
          .addColumn('key_id', 'text', (column) => column.notNull())
          .addColumn('token_hash', 'text', (column) => column.notNull().unique())
          .addColumn('created_at', 'text', (column) => column.notNull())
          .addColumn('expires_at', 'text', (column) => column.notNull())
          .addColumn('used_at', 'text')
          .execute();
        await db.schema.createIndex('sign_in_links_expires').on('sign_in_links').columns(['expires_at']).execute();
      },
    },
    '0023_resource_projects': {
      async up(db: Kysely<unknown>) {
        // Sandboxes, workspaces, agents and workflows belong to a project of their org (a grouping: slugs stay
        // unique in the org). Rows from before projects held resources go to their org's default project. The
        // reference keeps a project that still holds a row from going, even when a create races its delete.
        for (const table of ['sandboxes', 'workspaces', 'agents', 'workflows']) {
          await db.schema
            .alterTable(table)
            .addColumn('project_id', 'text', (column) => column.references('projects.id'))
            .execute();
          await sql`UPDATE ${sql.table(table)} SET project_id = (SELECT projects.id FROM projects WHERE projects.org_id = ${sql.ref(`${table}.org_id`)} AND projects.is_default = 1)`.execute(
            db,
          );
          // On the reference alone: it serves the filters (a project id is the org's) and the foreign-key check.
          await db.schema.createIndex(`${table}_project`).on(table).column('project_id').execute();
        }
      },
    },
    '0024_run_prices': {
      async up(db: Kysely<unknown>) {
        // The model's price when the run started (USD per million tokens), where known: its cost is its tokens at
        // that price, whatever the price list says later. Null for runs before this and for unpriced models.
        await db.schema.alterTable('agent_runs').addColumn('price_input', 'double precision').execute();
        await db.schema.alterTable('agent_runs').addColumn('price_output', 'double precision').execute();
      },
    },
  };
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations() {
    return buildMigrations(this.dialect);
  }
}

/** Brings the schema up to date, or (for a migration's test) up to and including the migration `upTo`. */
export async function migrateToLatest(db: Kysely<unknown>, dialect: DialectName, upTo?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider(dialect) });
  const { error, results } = await (upTo === undefined ? migrator.migrateToLatest() : migrator.migrateTo(upTo));
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed`, { cause: error });
  }
}
