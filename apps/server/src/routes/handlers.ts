import type { ApiKey, Org, Role, SshKey } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { AgentService } from '../agents/agent-service.js';
import type { RunService } from '../agents/run-service.js';
import { audit } from '../audit.js';
import { type AuthContext, requireScopes } from '../auth/authenticate.js';
import { checkMounts, checkNoEscalation, checkRoleGrant, childKeyExpiry, outranks } from '../auth/grants.js';
import type { SecretStore } from '../credentials/secret-store.js';
import { parseSshPublicKey, SshKeyFormatError } from '../credentials/ssh-public-key.js';
import { type Db, isUniqueViolation } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { ApiError, invalidBodyField } from '../http/errors.js';
import type { RouteHandlers } from '../http/route-handlers.js';
import { newId, nowIso } from '../ids.js';
import { Invitations } from '../orgs/invitations.js';
import {
  countOwners,
  createOrg,
  getMember,
  issueApiKey,
  projectFromRow,
  selectMembers,
  slugify,
} from '../orgs/tenancy.js';
import type { DevUrls } from '../sandboxes/dev-urls.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';
import type { TemplateService } from '../sandboxes/template-service.js';
import type { Terminals } from '../sandboxes/terminal.js';
import { quotaExceeded, type StorageQuota } from '../usage/storage-quota.js';
import type { WorkspaceService } from '../workspaces/workspace-service.js';

export interface HandlerDeps {
  db: Db;
  sandboxes: SandboxService;
  devUrls: DevUrls;
  terminals: Terminals;
  /** Where the SSH gateway listens, as clients reach it. */
  ssh: () => { host: string; port: number };
  /** The server's own base URL as clients reach it. */
  publicUrl: () => string;
  templates: TemplateService;
  workspaces: WorkspaceService;
  /** The org storage quota: sandbox disks, snapshots and workspaces. */
  storage: StorageQuota;
  /** Largest file upload, in bytes. */
  maxUploadBytes: number;
  secrets: SecretStore;
  agents: AgentService;
  runs: RunService;
  version: string;
  /** Extra readiness checks beyond the database (e.g. the root key being loaded). */
  readinessChecks: () => Record<string, { ok: boolean; message?: string }>;
}

function apiKeyFromRow(row: Database['api_keys']): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    memberId: row.member_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

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

const isAdmin = (auth: AuthContext) => auth.role === 'owner' || auth.role === 'admin';

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** How much of an upload refused at the quota is still read, so that its client gets the answer. */
const quotaDrainBytes = 64 * 1024 * 1024;

export function createHandlers(deps: HandlerDeps): RouteHandlers {
  const db: Kysely<Database> = deps.db.kysely;
  const invitations = new Invitations(db);

  /**
   * Runs a streamed workspace write capped at what the org may still store (or the upload limit, if lower):
   * a write that would pass the quota stops there and is refused as `storage_quota_exceeded`.
   */
  async function withinQuota<T>(
    auth: AuthContext,
    what: string,
    rawBody: AsyncIterable<Uint8Array> | undefined,
    write: (body: AsyncIterable<Uint8Array>, limit: number) => Promise<T>,
  ): Promise<T> {
    const left = await deps.storage.ensure(auth, 1, what);
    const limit = Math.min(deps.maxUploadBytes, left);
    // Handed on without `return`, so that a write stopped at the quota leaves the body readable, to drain.
    const reader = (rawBody ?? emptyBody())[Symbol.asyncIterator]();
    try {
      return await write({ [Symbol.asyncIterator]: () => ({ next: () => reader.next() }) }, limit);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'payload_too_large' && limit < deps.maxUploadBytes) {
        // Read what the client is still sending, up to a point, so that it gets this answer rather than a
        // broken connection.
        for (let drained = 0; drained < quotaDrainBytes; ) {
          const next = await reader.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) break;
          drained += next.value.length;
        }
        const usage = await deps.storage.usage(auth);
        throw quotaExceeded(usage.quotaBytes ?? 0, usage.usedBytes, limit + 1, what);
      }
      throw error;
    } finally {
      await reader.return?.();
    }
  }

  /** The key's own org: a key sees no other, even one its holder also belongs to (issue 12). */
  async function orgForMember(auth: AuthContext, orgId: string): Promise<Org> {
    if (orgId !== auth.orgId) throw new ApiError('org_not_found', `no org ${orgId}`);
    const row = await db
      .selectFrom('orgs')
      .innerJoin('members', 'members.org_id', 'orgs.id')
      .select(['orgs.id', 'orgs.name', 'orgs.slug', 'orgs.created_at', 'members.role'])
      .where('orgs.id', '=', orgId)
      .where('members.user_id', '=', auth.userId)
      .executeTakeFirst();
    if (!row) throw new ApiError('org_not_found', `no org ${orgId}`);
    return { id: row.id, name: row.name, slug: row.slug, role: row.role as Role, createdAt: row.created_at };
  }

  async function project(auth: AuthContext, projectId: string) {
    const row = await db
      .selectFrom('projects')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('id', '=', projectId)
      .executeTakeFirst();
    if (!row) throw new ApiError('project_not_found', `no project ${projectId}`);
    return row;
  }

  async function apiKeyVisibleTo(auth: AuthContext, keyId: string) {
    let query = db.selectFrom('api_keys').selectAll().where('org_id', '=', auth.orgId).where('id', '=', keyId);
    if (!isAdmin(auth)) query = query.where('member_id', '=', auth.memberId);
    const row = await query.executeTakeFirst();
    if (!row) throw new ApiError('api_key_not_found', `no API key ${keyId}`);
    return row;
  }

  return {
    async health() {
      return { status: 'ok', version: deps.version };
    },
    async ready() {
      const checks: Record<string, { ok: boolean; message?: string }> = {};
      try {
        await deps.db.ping();
        checks.database = { ok: true };
      } catch (error) {
        checks.database = { ok: false, message: (error as Error).message };
      }
      Object.assign(checks, deps.readinessChecks());
      const ok = Object.values(checks).every((check) => check.ok);
      if (!ok) throw new ApiError('service_unavailable', 'not ready', { checks });
      return { status: 'ready', checks };
    },
    async whoAmI({ auth }) {
      const defaultProject = await db
        .selectFrom('projects')
        .select(['id', 'name', 'slug'])
        .where('org_id', '=', auth.orgId)
        .where('is_default', '=', 1)
        .executeTakeFirstOrThrow();
      return {
        org: { id: auth.orgId, name: auth.orgName, slug: auth.orgSlug },
        project: defaultProject,
        member: { id: auth.memberId, role: auth.role, email: auth.email },
        key: { id: auth.keyId, name: auth.keyName, prefix: auth.keyPrefix, scopes: auth.keyScopes },
        effectiveScopes: [...auth.effectiveScopes].sort(),
      };
    },

    async orgsList({ auth }) {
      // A key acts in one org and sees only that one: listing the others its holder belongs to would let an
      // org that enrolled someone learn where else they work.
      return { data: [await orgForMember(auth, auth.orgId)] };
    },
    async orgsCreate({ auth, body }) {
      return db.transaction().execute(async (trx) => {
        const created = await createOrg(trx, {
          name: body.name,
          ...(body.slug ? { slug: body.slug } : {}),
          ownerUserId: auth.userId,
          actorKeyId: auth.keyId,
        });
        const apiKey = await issueApiKey(trx, {
          orgId: created.org.id,
          memberId: created.memberId,
          name: `owner key for ${created.org.slug}`,
          // No more than the key that asked for it: its scopes (the new org is the caller's own, so they are not
          // cut to what it holds here) and no later expiry.
          scopes: auth.keyScopes,
          expiresAt: auth.keyExpiresAt,
        });
        return { org: created.org, project: created.project, apiKey };
      });
    },
    async orgsGet({ auth, params }) {
      return orgForMember(auth, params.orgId);
    },
    async usageGet({ auth }) {
      return deps.storage.usage(auth);
    },
    async orgsUpdate({ auth, params, body }) {
      // A key acts inside its own org only; another org's id is "not found" even to its members' other keys.
      if (params.orgId !== auth.orgId) throw new ApiError('org_not_found', `no org ${params.orgId}`);
      await db.updateTable('orgs').set({ name: body.name }).where('id', '=', auth.orgId).execute();
      await audit(db, { orgId: auth.orgId, event: 'org.updated', actorKeyId: auth.keyId, targetId: auth.orgId });
      return orgForMember(auth, auth.orgId);
    },

    async projectsList({ auth }) {
      const rows = await db
        .selectFrom('projects')
        .selectAll()
        .where('org_id', '=', auth.orgId)
        .orderBy('created_at')
        .execute();
      return { data: rows.map(projectFromRow) };
    },
    async projectsCreate({ auth, body }) {
      const row: Database['projects'] = {
        id: newId('project'),
        org_id: auth.orgId,
        name: body.name,
        slug: body.slug ?? slugify(body.name),
        is_default: 0,
        created_at: nowIso(),
      };
      try {
        await db.insertInto('projects').values(row).execute();
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new ApiError('project_exists', `a project with slug "${row.slug}" already exists`, { slug: row.slug });
        }
        throw error;
      }
      await audit(db, { orgId: auth.orgId, event: 'project.created', actorKeyId: auth.keyId, targetId: row.id });
      return projectFromRow(row);
    },
    async projectsGet({ auth, params }) {
      return projectFromRow(await project(auth, params.projectId));
    },
    async projectsUpdate({ auth, params, body }) {
      const row = await project(auth, params.projectId);
      await db.updateTable('projects').set({ name: body.name }).where('id', '=', row.id).execute();
      await audit(db, { orgId: auth.orgId, event: 'project.updated', actorKeyId: auth.keyId, targetId: row.id });
      return projectFromRow({ ...row, name: body.name });
    },
    async projectsDelete({ auth, params }) {
      const row = await project(auth, params.projectId);
      if (row.is_default === 1) throw new ApiError('default_project', 'the default project cannot be deleted');
      await db.deleteFrom('projects').where('id', '=', row.id).execute();
      await audit(db, { orgId: auth.orgId, event: 'project.deleted', actorKeyId: auth.keyId, targetId: row.id });
      return { id: row.id, deleted: true };
    },

    async membersList({ auth }) {
      const rows = await selectMembers(db, auth.orgId).orderBy('members.created_at').execute();
      return { data: rows.map((row) => ({ ...row, role: row.role as Role })) };
    },
    async invitationsCreate({ auth, body }) {
      return invitations.create(auth, body);
    },
    async invitationsList({ auth }) {
      return { data: await invitations.list(auth) };
    },
    async invitationsRevoke({ auth, params }) {
      return invitations.revoke(auth, params.invitationId);
    },
    async invitationsAccept({ auth, body }) {
      return invitations.accept(auth, body.token);
    },
    async invitationsSignUp({ body }) {
      return invitations.signUp(body.token);
    },
    async membersUpdate({ auth, params, body }) {
      return db.transaction().execute(async (trx) => {
        const member = await getMember(trx, auth.orgId, params.memberId);
        checkRoleGrant(auth, member.role, body.role);
        if (member.role === 'owner' && body.role !== 'owner' && (await countOwners(trx, auth.orgId)) <= 1) {
          throw new ApiError('last_owner', 'an org needs at least one owner; promote another member first');
        }
        await trx.updateTable('members').set({ role: body.role }).where('id', '=', member.id).execute();
        await audit(trx, {
          orgId: auth.orgId,
          event: 'member.updated',
          actorKeyId: auth.keyId,
          targetId: member.id,
          details: { role: body.role },
        });
        return { ...member, role: body.role };
      });
    },
    async membersRemove({ auth, params }) {
      return db.transaction().execute(async (trx) => {
        const member = await getMember(trx, auth.orgId, params.memberId);
        checkRoleGrant(auth, member.role, null);
        if (member.role === 'owner' && (await countOwners(trx, auth.orgId)) <= 1) {
          throw new ApiError('last_owner', 'an org needs at least one owner; it cannot remove its last one');
        }
        await trx
          .updateTable('api_keys')
          .set({ revoked_at: nowIso() })
          .where('member_id', '=', member.id)
          .where('revoked_at', 'is', null)
          .execute();
        await trx.deleteFrom('members').where('id', '=', member.id).execute();
        await audit(trx, { orgId: auth.orgId, event: 'member.removed', actorKeyId: auth.keyId, targetId: member.id });
        return { id: member.id, deleted: true };
      });
    },

    async keysCreate({ auth, body }) {
      checkNoEscalation(auth, body.scopes);
      const expiresAt = childKeyExpiry(auth, body.expiresAt);
      const created = await issueApiKey(db, {
        orgId: auth.orgId,
        memberId: auth.memberId,
        name: body.name,
        scopes: body.scopes,
        expiresAt,
      });
      await audit(db, {
        orgId: auth.orgId,
        event: 'api_key.created',
        actorKeyId: auth.keyId,
        targetId: created.id,
        details: { scopes: body.scopes },
      });
      return created;
    },
    async keysList({ auth }) {
      let query = db.selectFrom('api_keys').selectAll().where('org_id', '=', auth.orgId);
      if (!isAdmin(auth)) query = query.where('member_id', '=', auth.memberId);
      const rows = await query.orderBy('created_at').execute();
      return { data: rows.map(apiKeyFromRow) };
    },
    async keysGet({ auth, params }) {
      return apiKeyFromRow(await apiKeyVisibleTo(auth, params.keyId));
    },
    async keysRevoke({ auth, params }) {
      const row = await apiKeyVisibleTo(auth, params.keyId);
      if (row.member_id !== auth.memberId) {
        // Admins see every key of the org, but revoke only those of members who do not outrank them.
        const holder = await getMember(db, auth.orgId, row.member_id);
        if (outranks(holder.role, auth.role)) {
          throw new ApiError('role_forbidden', `only an ${holder.role} can revoke an ${holder.role}'s keys`, {
            holderRole: holder.role,
          });
        }
      }
      if (row.revoked_at) return apiKeyFromRow(row);
      const revokedAt = nowIso();
      await db.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', row.id).execute();
      await audit(db, { orgId: auth.orgId, event: 'api_key.revoked', actorKeyId: auth.keyId, targetId: row.id });
      return apiKeyFromRow({ ...row, revoked_at: revokedAt });
    },

    async secretsSet({ auth, body }) {
      const result = await deps.secrets.set(auth.orgId, body);
      await audit(db, {
        orgId: auth.orgId,
        event: 'secret.set',
        actorKeyId: auth.keyId,
        targetId: result.id,
        details: { name: body.name },
      });
      return result;
    },
    async secretsList({ auth }) {
      return { data: await deps.secrets.list(auth.orgId) };
    },
    async secretsGet({ auth, params }) {
      const secret = await deps.secrets.get(auth.orgId, params.name);
      await audit(db, {
        orgId: auth.orgId,
        event: 'secret.read',
        actorKeyId: auth.keyId,
        targetId: secret.id,
        details: { name: secret.name },
      });
      return secret;
    },
    async secretsDelete({ auth, params }) {
      const { id } = await deps.secrets.delete(auth.orgId, params.name);
      await audit(db, {
        orgId: auth.orgId,
        event: 'secret.deleted',
        actorKeyId: auth.keyId,
        targetId: id,
        details: { name: params.name },
      });
      return { id, deleted: true };
    },

    async sshKeysAdd({ auth, body }) {
      // An org's SSH keys open a shell in every one of its sandboxes (the gateway): registering one is exec.
      requireScopes(auth, ['sandboxes:write']);
      let parsed: ReturnType<typeof parseSshPublicKey>;
      try {
        parsed = parseSshPublicKey(body.publicKey);
      } catch (error) {
        if (error instanceof SshKeyFormatError) {
          throw invalidBodyField('publicKey', error.message);
        }
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
        await db.insertInto('ssh_keys').values(row).execute();
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new ApiError('ssh_key_exists', `this key (${parsed.fingerprint}) is already registered`, {
            fingerprint: parsed.fingerprint,
          });
        }
        throw error;
      }
      await audit(db, {
        orgId: auth.orgId,
        event: 'ssh_key.added',
        actorKeyId: auth.keyId,
        targetId: row.id,
        details: { fingerprint: row.fingerprint },
      });
      return sshKeyFromRow(row);
    },
    async sshKeysList({ auth }) {
      const rows = await db
        .selectFrom('ssh_keys')
        .selectAll()
        .where('org_id', '=', auth.orgId)
        .orderBy('created_at')
        .execute();
      return { data: rows.map(sshKeyFromRow) };
    },
    async sshKeysRemove({ auth, params }) {
      const row = await db
        .deleteFrom('ssh_keys')
        .where('org_id', '=', auth.orgId)
        .where('id', '=', params.sshKeyId)
        .returning('id')
        .executeTakeFirst();
      if (!row) throw new ApiError('ssh_key_not_found', `no SSH key ${params.sshKeyId}`);
      await audit(db, { orgId: auth.orgId, event: 'ssh_key.removed', actorKeyId: auth.keyId, targetId: row.id });
      return { id: row.id, deleted: true };
    },

    async sandboxesCreate({ auth, body }) {
      checkMounts(auth, body.mounts);
      return deps.sandboxes.create(auth, body);
    },
    async sandboxesList({ auth, query }) {
      return { data: await deps.sandboxes.list(auth, query) };
    },
    async sandboxesGet({ auth, params }) {
      return deps.sandboxes.get(auth, params.sandboxId);
    },
    async sandboxesExec({ auth, params, body }) {
      return deps.sandboxes.exec(auth, params.sandboxId, body);
    },
    async sandboxesExecStream({ auth, params, body }) {
      return deps.sandboxes.execStream(auth, params.sandboxId, body);
    },
    async sandboxFilesRead({ auth, params, query }) {
      return deps.sandboxes.readFile(auth, params.sandboxId, query.path);
    },
    async sandboxFilesWrite({ auth, params, body }) {
      return deps.sandboxes.writeFile(auth, params.sandboxId, body.path, Buffer.from(body.content, 'base64'));
    },
    async sandboxFilesList({ auth, params, query }) {
      return { data: await deps.sandboxes.listFiles(auth, params.sandboxId, query.path) };
    },
    async sandboxFilesExists({ auth, params, query }) {
      return deps.sandboxes.pathExists(auth, params.sandboxId, query.path);
    },
    async sandboxFilesRemove({ auth, params, body }) {
      return deps.sandboxes.removePath(auth, params.sandboxId, body.path);
    },
    async sandboxFilesMkdir({ auth, params, body }) {
      return deps.sandboxes.makeDirectory(auth, params.sandboxId, body.path);
    },
    async sandboxesStats({ auth, params }) {
      return deps.sandboxes.stats(auth, params.sandboxId);
    },
    async sandboxesPause({ auth, params, query }) {
      return deps.sandboxes.pause(auth, params.sandboxId, query.to);
    },
    async sandboxesResume({ auth, params }) {
      return deps.sandboxes.resume(auth, params.sandboxId);
    },
    async sandboxesSsh({ auth, params }) {
      await deps.sandboxes.get(auth, params.sandboxId);
      const { host, port } = deps.ssh();
      return {
        host,
        port,
        username: params.sandboxId,
        command: `ssh -p ${port} ${params.sandboxId}@${host}`,
      };
    },
    async sandboxesTerminalToken({ auth, params }) {
      const issued = await deps.terminals.token(auth, params.sandboxId);
      return {
        ...issued,
        url: `${deps.publicUrl().replace(/^http/, 'ws')}/v1/sandboxes/${params.sandboxId}/terminal?token=${issued.token}`,
      };
    },
    async sandboxesUrlsCreate({ auth, params, body }) {
      return deps.devUrls.expose(auth, params.sandboxId, body);
    },
    async sandboxesUrlsList({ auth, params }) {
      return { data: await deps.devUrls.list(auth, params.sandboxId) };
    },
    async sandboxesUrlsDelete({ auth, params }) {
      return deps.devUrls.revoke(auth, params.sandboxId, params.port);
    },
    async sandboxesSnapshotsCreate({ auth, params, body }) {
      return deps.sandboxes.createSnapshot(auth, params.sandboxId, body);
    },
    async sandboxesSnapshotsList({ auth, params }) {
      return { data: await deps.sandboxes.listSnapshots(auth, params.sandboxId) };
    },
    async sandboxesSnapshotsDelete({ auth, params }) {
      return deps.sandboxes.deleteSnapshot(auth, params.sandboxId, params.snapshotId);
    },
    async sandboxesRollback({ auth, params, body }) {
      return deps.sandboxes.rollback(auth, params.sandboxId, body);
    },
    async sandboxesBranch({ auth, params, body }) {
      // The branch mounts what its source mounts: the same rule as mounting them anew.
      checkMounts(auth, (await deps.sandboxes.get(auth, params.sandboxId)).mounts);
      return deps.sandboxes.branch(auth, params.sandboxId, body);
    },
    async sandboxesLogs({ auth, params, query }) {
      return { data: await deps.sandboxes.logs(auth, params.sandboxId, query) };
    },
    async sandboxesLogsStream({ auth, params, query }) {
      return deps.sandboxes.followLogs(auth, params.sandboxId, query.after ?? 0);
    },
    async sandboxProcessesStart({ auth, params, body }) {
      return deps.sandboxes.startProcess(auth, params.sandboxId, body);
    },
    async sandboxProcessesList({ auth, params }) {
      return { data: await deps.sandboxes.listProcesses(auth, params.sandboxId) };
    },
    async sandboxProcessesGet({ auth, params }) {
      return deps.sandboxes.getProcess(auth, params.sandboxId, params.pid);
    },
    async sandboxProcessesOutput({ auth, params, query }) {
      return deps.sandboxes.followProcess(auth, params.sandboxId, params.pid, query.since ?? 0);
    },
    async sandboxProcessesStdin({ auth, params, body }) {
      return deps.sandboxes.processStdin(
        auth,
        params.sandboxId,
        params.pid,
        Buffer.from(body.data ?? '', 'base64'),
        body.eof ?? false,
      );
    },
    async sandboxProcessesResize({ auth, params, body }) {
      return deps.sandboxes.resizeProcess(auth, params.sandboxId, params.pid, body);
    },
    async sandboxProcessesSignal({ auth, params, body }) {
      return deps.sandboxes.signalProcess(auth, params.sandboxId, params.pid, body.signal);
    },
    async sandboxFilesDownload({ auth, params, query }) {
      return deps.sandboxes.downloadFile(auth, params.sandboxId, query.path);
    },
    async sandboxFilesUpload({ auth, params, query, rawBody }) {
      return deps.sandboxes.uploadFile(auth, params.sandboxId, query.path, rawBody, query.append === 'true');
    },
    async sandboxFilesStat({ auth, params, query }) {
      return deps.sandboxes.statFile(auth, params.sandboxId, query.path);
    },
    async sandboxFilesMove({ auth, params, body }) {
      return deps.sandboxes.moveFile(auth, params.sandboxId, body.from, body.to);
    },
    async sandboxFilesWatch({ auth, params, query }) {
      return deps.sandboxes.watchFiles(auth, params.sandboxId, query.path, query.recursive === 'true');
    },
    async workspacesCreate({ auth, body }) {
      return deps.workspaces.create(auth, body);
    },
    async workspacesList({ auth }) {
      return { data: await deps.workspaces.list(auth) };
    },
    async workspacesGet({ auth, params }) {
      return deps.workspaces.get(auth, params.workspaceId);
    },
    async workspacesRename({ auth, params, body }) {
      return deps.workspaces.rename(auth, params.workspaceId, body.name);
    },
    async workspacesDelete({ auth, params }) {
      return deps.workspaces.delete(auth, params.workspaceId);
    },
    async workspacesUsage({ auth, params }) {
      return deps.workspaces.usage(auth, params.workspaceId);
    },
    async workspaceFilesList({ auth, params, query }) {
      const files = await deps.workspaces.files(auth, params.workspaceId);
      return { data: await files.list(query.path, query.showHidden === 'true') };
    },
    async workspaceFilesInfo({ auth, params, query }) {
      return (await deps.workspaces.files(auth, params.workspaceId)).info(query.path);
    },
    async workspaceFilesDownload({ auth, params, query }) {
      const file = await (await deps.workspaces.files(auth, params.workspaceId)).read(query.path);
      return {
        body: file.body,
        size: file.size,
        contentType: 'application/octet-stream',
        ...(query.download === 'true' ? { filename: file.name } : {}),
      };
    },
    async workspaceFilesUpload({ auth, params, query, rawBody }) {
      const files = await deps.workspaces.files(auth, params.workspaceId);
      return withinQuota(auth, 'this upload', rawBody, (body, limit) => files.write(query.path, body, limit));
    },
    async workspaceFilesUploadForm({ auth, params, query, rawBody, contentType }) {
      const files = await deps.workspaces.files(auth, params.workspaceId);
      const entries = await withinQuota(auth, 'this upload', rawBody, (body, limit) =>
        files.writeForm(query.path, contentType ?? '', body, limit),
      );
      return { data: entries };
    },
    async workspaceFilesMkdir({ auth, params, body }) {
      return (await deps.workspaces.files(auth, params.workspaceId)).mkdir(body.path);
    },
    async workspaceFilesMove({ auth, params, body }) {
      return (await deps.workspaces.files(auth, params.workspaceId)).move(body.from, body.to);
    },
    async workspaceFilesCopy({ auth, params, body }) {
      // A copy's size is not known before it is made; an org already at its quota copies nothing.
      await deps.storage.ensure(auth, 1, 'a copy');
      return (await deps.workspaces.files(auth, params.workspaceId)).copy(body.from, body.to);
    },
    async workspaceFilesRename({ auth, params, body }) {
      const parent = body.path.replace(/\/+$/, '').split('/').slice(0, -1).join('/');
      return (await deps.workspaces.files(auth, params.workspaceId)).move(body.path, `${parent}/${body.name}`);
    },
    async workspaceFilesDelete({ auth, params, query }) {
      await (await deps.workspaces.files(auth, params.workspaceId)).remove(query.path);
      return { id: query.path, deleted: true as const };
    },
    async templatesList({ auth }) {
      return { data: await deps.templates.list(auth) };
    },
    async templatesGet({ auth, params }) {
      return deps.templates.get(auth, params.templateName);
    },
    async templatesCreate({ auth, body }) {
      return deps.templates.create(auth, body);
    },
    async templatesBuild({ auth, params }) {
      return deps.templates.build(auth, params.templateName);
    },
    async templatesDelete({ auth, params }) {
      return deps.templates.delete(auth, params.templateName);
    },
    async sandboxesDestroy({ auth, params }) {
      return deps.sandboxes.destroy(auth, params.sandboxId);
    },
    async agentsCreate({ auth, body }) {
      return deps.agents.create(auth, body);
    },
    async agentsList({ auth }) {
      return { data: await deps.agents.list(auth) };
    },
    async agentsGet({ auth, params }) {
      return deps.agents.get(auth, params.slug);
    },
    async agentsUpdate({ auth, params, body }) {
      return deps.agents.update(auth, params.slug, body);
    },
    async agentsPut({ auth, params, body }) {
      return deps.agents.put(auth, params.slug, body);
    },
    async agentsDelete({ auth, params }) {
      return deps.agents.delete(auth, params.slug);
    },
    async agentsVersions({ auth, params }) {
      return { data: await deps.agents.versions(auth, params.slug) };
    },
    async agentRunsCreate({ auth, params, body }) {
      return deps.runs.start(auth, params.slug, body);
    },
    async agentRunsStream({ auth, params, body }) {
      return deps.runs.stream(auth, params.slug, body);
    },
    async runsList({ auth, query }) {
      return { data: await deps.runs.list(auth, query) };
    },
    async runsGet({ auth, params }) {
      return deps.runs.get(auth, params.runId);
    },
    async runsCancel({ auth, params }) {
      return deps.runs.cancel(auth, params.runId);
    },
    async runsEvents({ auth, params, query }) {
      return deps.runs.events(auth, params.runId, query.after, query.follow);
    },
    async threadsList({ auth, query }) {
      return { data: await deps.runs.threads(auth, query) };
    },
    async threadsGet({ auth, params }) {
      return deps.runs.thread(auth, params.threadId);
    },
    async threadsMessages({ auth, params }) {
      return { data: await deps.runs.messages(auth, params.threadId) };
    },
    async threadsDelete({ auth, params }) {
      return deps.runs.deleteThread(auth, params.threadId);
    },
    async providersCreate({ auth, body }) {
      return deps.agents.createProvider(auth, body);
    },
    async providersList({ auth }) {
      return { data: await deps.agents.listProviders(auth) };
    },
    async providersDelete({ auth, params }) {
      return deps.agents.deleteProvider(auth, params.name);
    },
    async modelsList({ auth }) {
      return { data: await deps.agents.modelTable(auth) };
    },
  };
}
