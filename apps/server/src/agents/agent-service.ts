import {
  type Agent,
  type AgentCreateRequest,
  type AgentMode,
  type AgentUpdateRequest,
  builtinTools,
  codexTools,
  ManagedSandbox,
  type ModelInfo,
  type Provider,
  type ProviderCreateRequest,
  sandboxOnlyTools,
  sandboxTools,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { checkMounts } from '../auth/grants.js';
import { isUniqueViolation } from '../db/database.js';
import { fixedThenByName, inPage, keysetPage, mapPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import type { MeshNodes } from '../mesh/nodes.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';
import { projectFor } from '../tenancy/project-service.js';
import type { ToolService } from '../tools/tool-service.js';
import { builtinProviders, isBuiltinProviderName, type ModelResolver, modelAliases } from './models.js';

/** What an agent is, as stored (a version is a copy of it). */
export interface AgentDefinitionRecord {
  name: string;
  description: string | null;
  model: string;
  systemPrompt: string;
  tools: string[];
  mode: AgentMode;
  sandboxId: string | null;
  /** mode local: the RunMesh node (name or id, as given) whose device runs the tools. Absent in older records. */
  device?: string | null;
  managed: z.output<typeof ManagedSandbox> | null;
  maxIterations: number;
}

export interface AgentRecord {
  id: string;
  orgId: string;
  slug: string;
  version: number;
  definition: AgentDefinitionRecord;
  /** Not part of a version: moving an agent between projects changes no definition. */
  projectId: string;
  createdAt: string;
  updatedAt: string;
}

function recordFromRow(row: Database['agents']): AgentRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    slug: row.slug,
    version: Number(row.version),
    definition: JSON.parse(row.definition) as AgentDefinitionRecord,
    projectId: row.project_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function agentFromRecord(record: AgentRecord): Agent {
  return {
    id: record.id,
    slug: record.slug,
    ...record.definition,
    device: record.definition.device ?? null,
    version: record.version,
    projectId: record.projectId,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

function providerFromRow(row: Database['model_providers']): Provider {
  return {
    id: row.id,
    name: row.name,
    type: row.type as Provider['type'],
    baseUrl: row.base_url,
    apiKeySecret: row.api_key_secret,
    createdAt: row.created_at,
  };
}

/** Agents (versioned definitions) and the model endpoints an org registers for them. */
export class AgentService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly sandboxes: SandboxService,
    private readonly models: ModelResolver,
    private readonly tools: ToolService,
    private readonly mesh: MeshNodes,
  ) {}

  /** Checks a definition against what exists: its model, tools, mode and sandbox. */
  private async validate(
    auth: Actor,
    input: Omit<AgentCreateRequest, 'slug'> & { name: string },
  ): Promise<AgentDefinitionRecord> {
    await this.models.target(auth.orgId, input.model);
    const mode: AgentMode =
      input.mode === 'local-mac'
        ? 'local'
        : (input.mode ?? (typeof input.sandbox === 'string' ? 'in_sandbox' : 'managed'));
    // A device has no platform sandbox: no dev URLs, no Codex process tools. Left out by default, refused when named.
    const tools =
      input.tools ??
      (mode === 'local'
        ? builtinTools.filter((name) => !(sandboxOnlyTools as readonly string[]).includes(name))
        : [...builtinTools]);
    // Built-in tools by name; the rest are the org's tools (`github`, `my-database.query`), each checked to exist.
    await this.tools.agentActions(
      auth,
      tools.filter((name) => !sandboxTools.includes(name)),
    );
    let sandboxId: string | null = null;
    let managed: AgentDefinitionRecord['managed'] = null;
    let device: string | null = null;
    if (input.device !== undefined && mode !== 'local')
      throw new DomainError(
        'validation_failed',
        'device is for mode local (an agent whose tools run on a RunMesh device)',
        {
          field: 'device',
        },
      );
    if (mode === 'local') {
      if (!input.device)
        throw new DomainError('validation_failed', 'mode local needs device: the RunMesh node (name or id) to run on', {
          field: 'device',
        });
      if (input.sandbox !== undefined)
        throw new DomainError('validation_failed', 'a local agent works on its device: leave sandbox out', {
          field: 'sandbox',
        });
      const unavailable = tools.filter(
        (name) =>
          (codexTools as readonly string[]).includes(name) || (sandboxOnlyTools as readonly string[]).includes(name),
      );
      if (unavailable.length)
        throw new DomainError(
          'validation_failed',
          `a local agent cannot use ${unavailable.join(', ')}: they need a platform sandbox`,
          { field: 'tools', tools: unavailable },
        );
      const node = await this.mesh.row(auth, input.device);
      if (node.revoked_at) throw new DomainError('node_revoked', `node ${node.name} was revoked at ${node.revoked_at}`);
      // Kept by id: a device linked later under the same name (by anyone) is not this one.
      device = node.id;
    } else if (mode === 'in_sandbox') {
      if (typeof input.sandbox !== 'string')
        throw new DomainError('validation_failed', 'mode in_sandbox needs sandbox: the id of the sandbox it works in', {
          field: 'sandbox',
        });
      // The agent's tools will exec and write in this sandbox: linking it needs what doing so directly needs.
      requireScopes(auth, ['sandboxes:write']);
      const sandbox = await this.sandboxes.get(auth, input.sandbox);
      if (sandbox.status === 'destroyed' || sandbox.status === 'destroying')
        throw new DomainError('sandbox_not_found', `sandbox ${input.sandbox} is ${sandbox.status}`, {
          sandboxId: input.sandbox,
        });
      sandboxId = sandbox.id;
    } else {
      if (typeof input.sandbox === 'string')
        throw new DomainError(
          'validation_failed',
          'mode managed creates its own sandboxes: give sandbox as { template, mounts, … } or leave it out',
          { field: 'sandbox' },
        );
      managed = ManagedSandbox.parse(input.sandbox ?? {});
      checkMounts(auth, managed.mounts);
    }
    return {
      name: input.name,
      description: input.description ?? null,
      model: input.model,
      systemPrompt: input.systemPrompt ?? '',
      tools,
      mode,
      sandboxId,
      device,
      managed,
      maxIterations: input.maxIterations ?? 25,
    };
  }

  async create(auth: Actor, body: AgentCreateRequest): Promise<Agent> {
    const definition = await this.validate(auth, { ...body, name: body.name ?? body.slug });
    return this.insert(auth, body.slug, definition, await projectFor(this.db, auth, body.projectId));
  }

  private async insert(
    auth: Actor,
    slug: string,
    definition: AgentDefinitionRecord,
    projectId: string,
  ): Promise<Agent> {
    const now = nowIso();
    const id = newId('agent');
    try {
      await this.db.transaction().execute(async (trx) => {
        const json = JSON.stringify(definition);
        await trx
          .insertInto('agents')
          .values({
            id,
            org_id: auth.orgId,
            project_id: projectId,
            slug,
            version: 1,
            definition: json,
            created_at: now,
            updated_at: now,
          })
          .execute();
        await trx
          .insertInto('agent_versions')
          .values({ agent_id: id, version: 1, definition: json, created_at: now })
          .execute();
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new DomainError('agent_exists', `an agent with slug ${slug} exists; update it or pick another slug`, {
          slug,
        });
      throw error;
    }
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'agent.created',
      actor: auth.principal,
      targetId: id,
      details: { slug, model: definition.model },
    });
    return agentFromRecord(await this.record(auth, slug));
  }

  async record(auth: Actor, slug: string): Promise<AgentRecord> {
    const row = await this.db
      .selectFrom('agents')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (!row) throw new DomainError('agent_not_found', `no agent ${slug}`, { slug });
    return recordFromRow(row);
  }

  async get(auth: Actor, slug: string): Promise<Agent> {
    return agentFromRecord(await this.record(auth, slug));
  }

  /** By slug (unique in an org); `projectId`: only that project's. */
  async list(auth: Actor, page: PageRequest & { projectId?: string | undefined }): Promise<Page<Agent>> {
    let select = this.db.selectFrom('agents').selectAll().where('org_id', '=', auth.orgId);
    if (page.projectId !== undefined) select = select.where('project_id', '=', page.projectId);
    const rows = await keysetPage(
      page,
      [{ column: 'slug', direction: 'asc' }],
      (row: Database['agents']) => [row.slug],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, (row) => agentFromRecord(recordFromRow(row)));
  }

  /** A change is a new version; runs keep the version they started with. */
  async update(auth: Actor, slug: string, body: AgentUpdateRequest): Promise<Agent> {
    const recorded = await this.record(auth, slug);
    const before = recorded.definition;
    const merged = {
      name: body.name ?? before.name,
      // null clears it; absent keeps it.
      description: body.description === null ? undefined : (body.description ?? before.description ?? undefined),
      model: body.model ?? before.model,
      systemPrompt: body.systemPrompt ?? before.systemPrompt,
      tools: body.tools ?? before.tools,
      mode: body.mode ?? (body.sandbox === undefined ? before.mode : undefined),
      // A new mode without a sandbox starts from that mode's default (managed: a sandbox per run).
      sandbox:
        body.sandbox ??
        (body.mode && body.mode !== before.mode ? undefined : (before.sandboxId ?? before.managed ?? undefined)),
      maxIterations: body.maxIterations ?? before.maxIterations,
    };
    // A local agent keeps its device unless it changes mode; another mode has none.
    const device = body.device ?? ((merged.mode ?? before.mode) === 'local' ? (before.device ?? undefined) : undefined);
    // Checked whole before anything is written: a refused change moves nothing either.
    const definition = await this.validate(auth, { ...merged, ...(device === undefined ? {} : { device }) });
    return this.replace(auth, await this.move(auth, recorded, body.projectId), definition);
  }

  /** Creates the agent or replaces its whole definition with this one. */
  async put(auth: Actor, slug: string, body: Omit<AgentCreateRequest, 'slug'>): Promise<Agent> {
    const definition = await this.validate(auth, { ...body, name: body.name ?? slug });
    const current = await this.record(auth, slug).catch((error: unknown) => {
      if (error instanceof DomainError && error.code === 'agent_not_found') return undefined;
      throw error;
    });
    if (current) return this.replace(auth, await this.move(auth, current, body.projectId), definition);
    return this.insert(auth, slug, definition, await projectFor(this.db, auth, body.projectId)).catch(
      (error: unknown) => {
        // Created by someone else meanwhile: replace theirs like any other.
        if (error instanceof DomainError && error.code === 'agent_exists') return this.put(auth, slug, body);
        throw error;
      },
    );
  }

  /** Moves the agent to `projectId` when one is given (not a new version: projects only group). */
  private async move(auth: Actor, current: AgentRecord, projectId: string | undefined): Promise<AgentRecord> {
    if (projectId === undefined || projectId === current.projectId) return current;
    const target = await projectFor(this.db, auth, projectId);
    await this.db.updateTable('agents').set({ project_id: target }).where('id', '=', current.id).execute();
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'agent.updated',
      actor: auth.principal,
      targetId: current.id,
      details: { slug: current.slug, projectId: target },
    });
    return { ...current, projectId: target };
  }

  /** A new version with this definition, unless it is the current one (then nothing happens). */
  private async replace(auth: Actor, current: AgentRecord, definition: AgentDefinitionRecord): Promise<Agent> {
    const slug = current.slug;
    const json = JSON.stringify(definition);
    // Nothing changed: no new version (deploying the same files twice is a no-op).
    if (json === JSON.stringify(current.definition)) return agentFromRecord(current);
    const now = nowIso();
    const version = current.version + 1;
    await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('agents')
        .set({ version, definition: json, updated_at: now })
        .where('id', '=', current.id)
        .where('version', '=', current.version)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1)
        throw new DomainError('invalid_transition', `agent ${slug} changed while this update ran; try again`, { slug });
      await trx
        .insertInto('agent_versions')
        .values({ agent_id: current.id, version, definition: json, created_at: now })
        .execute();
    });
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'agent.updated',
      actor: auth.principal,
      targetId: current.id,
      details: { slug, version },
    });
    return agentFromRecord(await this.record(auth, slug));
  }

  async delete(auth: Actor, slug: string): Promise<{ id: string; deleted: true }> {
    const current = await this.record(auth, slug);
    await this.db.deleteFrom('agents').where('id', '=', current.id).execute();
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'agent.deleted',
      actor: auth.principal,
      targetId: current.id,
      details: { slug },
    });
    return { id: current.id, deleted: true };
  }

  /** Newest first, by version number. */
  async versions(auth: Actor, slug: string, page: PageRequest) {
    const current = await this.record(auth, slug);
    const rows = await keysetPage(
      page,
      [{ column: 'version', direction: 'desc', type: 'number' }],
      (row: Database['agent_versions']) => [Number(row.version)],
      (keyset) =>
        inPage(this.db.selectFrom('agent_versions').selectAll().where('agent_id', '=', current.id), keyset).execute(),
    );
    return mapPage(rows, (row) => ({
      id: current.id,
      slug: current.slug,
      ...(JSON.parse(row.definition) as AgentDefinitionRecord),
      device: (JSON.parse(row.definition) as AgentDefinitionRecord).device ?? null,
      version: Number(row.version),
      createdAt: row.created_at,
    }));
  }

  async createProvider(auth: Actor, body: ProviderCreateRequest): Promise<Provider> {
    if (isBuiltinProviderName(body.name))
      throw new DomainError('provider_exists', `${body.name} is a built-in provider; pick another name`, {
        name: body.name,
      });
    // Naming a secret is reading it: the endpoint registered here receives the secret's value on every call.
    if (body.apiKeySecret) requireScopes(auth, ['secrets:read']);
    const row: Database['model_providers'] = {
      id: newId('provider'),
      org_id: auth.orgId,
      name: body.name,
      type: body.type,
      base_url: body.baseUrl.replace(/\/+$/, ''),
      api_key_secret: body.apiKeySecret ?? null,
      created_at: nowIso(),
    };
    try {
      await this.db.insertInto('model_providers').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new DomainError('provider_exists', `a provider named ${body.name} exists`, { name: body.name });
      throw error;
    }
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'provider.created',
      actor: auth.principal,
      targetId: row.id,
      details: { name: body.name, type: body.type },
    });
    return providerFromRow(row);
  }

  /** By name (unique in an org). */
  async listProviders(auth: Actor, page: PageRequest): Promise<Page<Provider>> {
    const rows = await keysetPage(
      page,
      [{ column: 'name', direction: 'asc' }],
      (row: Database['model_providers']) => [row.name],
      (keyset) =>
        inPage(this.db.selectFrom('model_providers').selectAll().where('org_id', '=', auth.orgId), keyset).execute(),
    );
    return mapPage(rows, providerFromRow);
  }

  async deleteProvider(auth: Actor, name: string): Promise<{ id: string; deleted: true }> {
    const row = await this.db
      .deleteFrom('model_providers')
      .where('org_id', '=', auth.orgId)
      .where('name', '=', name)
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new DomainError('provider_not_found', `no provider named ${name}`, { name });
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'provider.deleted',
      actor: auth.principal,
      targetId: row.id,
      details: { name },
    });
    return { id: row.id, deleted: true };
  }

  /**
   * The model table, then each built-in provider (any of its models as `provider/model-id`), in their fixed
   * order, then the org's providers by name.
   */
  async modelTable(auth: Actor, page: PageRequest): Promise<Page<ModelInfo>> {
    const fixed: ModelInfo[] = [
      ...Object.entries(modelAliases).map(([alias, target]) => ({
        alias,
        provider: target.provider,
        modelId: target.modelId,
        secret: builtinProviders[target.provider].secret,
        price: this.models.priceOf(alias),
      })),
      ...Object.entries(builtinProviders).map(([provider, { secret }]) => ({
        alias: null,
        provider,
        modelId: '*',
        secret,
        price: null,
      })),
    ];
    return fixedThenByName(
      fixed,
      page,
      (model) => model.alias ?? model.provider,
      async (after, fetch) => {
        let select = this.db
          .selectFrom('model_providers')
          .select(['name', 'api_key_secret'])
          .where('org_id', '=', auth.orgId);
        if (after !== undefined) select = select.where('name', '>', after);
        const rows = await select.orderBy('name').limit(fetch).execute();
        return rows.map((row) => ({
          alias: null,
          provider: row.name,
          modelId: '*',
          secret: row.api_key_secret,
          price: null,
        }));
      },
    );
  }
}
