import type {
  CustomToolDeployRequest,
  CustomToolDeployResult,
  CustomToolVersion,
  MarketplaceTool,
  Tool,
  ToolAction,
  ToolCredentialsSetRequest,
  ToolExecuteRequest,
  ToolExecuteResult,
  ToolExecution,
} from '@runtools/spec';
import { defaultToolTimeoutMs } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { open, type RootKey, seal } from '../credentials/envelope.js';
import type { SecretStore } from '../credentials/secret-store.js';
import { keysetPage, memoryPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import type { OAuthService } from '../oauth/oauth-service.js';
import { type CustomToolRow, CustomTools } from './custom-tools.js';
import { officialTools } from './marketplace/index.js';
import type { OfficialTool } from './marketplace/official-tool.js';
import { ParamsValidator } from './params.js';
import type { ToolRunners } from './runner/tool-runners.js';

export const toolCredentialAad = (orgId: string, tool: string, field: string) =>
  `tool-credential\0${orgId}\0${tool}\0${field}`;

type CredentialSpec = OfficialTool['credentials'];

/** A tool the org can call, whichever kind: what describing and calling it needs. */
interface Callable {
  name: string;
  kind: 'marketplace' | 'custom';
  description: string;
  provider: string | null;
  auth: OfficialTool['auth'];
  credentials: CredentialSpec;
  actions: ToolAction[];
  version: number | null;
  createdAt: string;
  updatedAt: string;
  run(action: ToolAction, params: Record<string, unknown>, credentials: Record<string, string>): Promise<unknown>;
}

const actionsOf = (tool: OfficialTool): ToolAction[] =>
  Object.entries(tool.actions).map(([name, action]) => ({
    name,
    description: action.description,
    parameters: action.parameters,
    ...(action.timeoutMs !== undefined ? { timeoutMs: action.timeoutMs } : {}),
  }));

/** Per field, where a tool's credentials come from, in the order they are tried. */
const credentialSources =
  'pass it with the call ("credentials": { … }), store it (PUT /v1/tools/{name}/credentials), ' +
  'or map it to a secret ({ "<field>": { "secret": "<NAME>" } } in the same call)';

function marketplaceEntry(tool: OfficialTool, installed: boolean): MarketplaceTool {
  return {
    name: tool.name,
    description: tool.description,
    provider: tool.provider,
    auth: tool.auth,
    credentials: tool.credentials,
    actions: actionsOf(tool),
    installed,
  };
}

/** How well a tool matches a query: name first, then its provider and action names, then its descriptions. */
function searchScore(tool: OfficialTool, query: string): number {
  let score = 0;
  for (const word of query.toLowerCase().split(/\s+/).filter(Boolean)) {
    if (tool.name === word) score += 100;
    else if (tool.name.startsWith(word)) score += 50;
    else if (tool.name.includes(word)) score += 30;
    if (tool.provider.toLowerCase().includes(word)) score += 20;
    for (const [name, action] of Object.entries(tool.actions)) {
      if (name.includes(word)) score += 10;
      if (action.description.toLowerCase().includes(word)) score += 2;
    }
    if (tool.description.toLowerCase().includes(word)) score += 5;
  }
  return score;
}

const byName = { arity: 1, keyOf: (item: { name: string }) => [item.name] };

/**
 * The tool service: the marketplace catalogue, an org's installations and their credentials, and calls.
 * A call's params are checked against its action's JSON Schema before anything runs, its credentials are
 * resolved here on the server (the call's own, then the stored ones, then mapped secrets; never returned or
 * logged), and every call is recorded without its params or credentials.
 */
export class ToolService {
  private readonly validator = new ParamsValidator();
  private readonly custom: CustomTools;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly secrets: SecretStore,
    private readonly root: RootKey,
    private readonly options: {
      /** The OAuth broker: an OAuth tool's call without a token of its own uses the caller's connection. */
      oauth?: OAuthService;
      baseUrls: Readonly<Record<string, string>>;
      /** Where custom tools run; without it (no sandbox runtime here) they cannot. */
      runners: ToolRunners | undefined;
      runnersUnavailable?: string;
    },
  ) {
    this.custom = new CustomTools(db, this.validator);
  }

  async marketplace(actor: Actor, page: PageRequest): Promise<Page<MarketplaceTool>> {
    const installed = await this.installedNames(actor);
    const entries = [...officialTools.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((tool) => marketplaceEntry(tool, installed.has(tool.name)));
    return memoryPage(entries, page, byName);
  }

  /** The marketplace ranked against a query; tools that match nothing are left out. */
  async search(actor: Actor, query: string, page: PageRequest): Promise<Page<MarketplaceTool>> {
    const installed = await this.installedNames(actor);
    const ranked = [...officialTools.values()]
      .map((tool) => ({ tool, score: searchScore(tool, query) }))
      .filter((entry) => entry.score > 0)
      .sort((a, b) => b.score - a.score || (a.tool.name < b.tool.name ? -1 : 1))
      .map((entry, index) => ({ ...marketplaceEntry(entry.tool, installed.has(entry.tool.name)), rank: index }));
    const result = memoryPage(ranked, page, { arity: 1, keyOf: (item) => [item.rank] });
    return { data: result.data.map(({ rank: _, ...entry }) => entry), nextCursor: result.nextCursor };
  }

  /** Installs a marketplace tool in the org; installing it again changes nothing. */
  async install(actor: Actor, name: string): Promise<Tool> {
    const tool = this.official(name);
    const now = nowIso();
    const inserted = await this.db
      .insertInto('tool_installations')
      .values({ id: newId('tool'), org_id: actor.orgId, name, created_at: now, updated_at: now })
      .onConflict((conflict) => conflict.columns(['org_id', 'name']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) {
      await audit(this.db, { orgId: actor.orgId, event: 'tool.installed', actor: actor.principal, targetId: name });
    }
    return this.describe(actor, await this.callable(actor, tool.name));
  }

  /** Removes an installation and the credentials stored for it. */
  async uninstall(actor: Actor, name: string): Promise<{ id: string; deleted: true }> {
    this.official(name);
    return this.db.transaction().execute(async (trx) => {
      const removed = await trx
        .deleteFrom('tool_installations')
        .where('org_id', '=', actor.orgId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (Number(removed.numDeletedRows) === 0) throw new DomainError('tool_not_found', `${name} is not installed`);
      await trx.deleteFrom('tool_credentials').where('org_id', '=', actor.orgId).where('tool', '=', name).execute();
      await audit(trx, { orgId: actor.orgId, event: 'tool.uninstalled', actor: actor.principal, targetId: name });
      return { id: name, deleted: true as const };
    });
  }

  /** The tools the org can call (installed marketplace tools and its custom tools), by name. */
  async list(actor: Actor, page: PageRequest): Promise<Page<Tool>> {
    const installed = await this.db
      .selectFrom('tool_installations')
      .selectAll()
      .where('org_id', '=', actor.orgId)
      .execute();
    const callables = [
      ...installed.flatMap((row) => {
        const tool = officialTools.get(row.name);
        return tool ? [this.officialCallable(tool, row)] : [];
      }),
      ...(await this.custom.all(actor)).map((row) => this.customCallable(actor, row)),
    ].sort((a, b) => (a.name < b.name ? -1 : 1));
    const result = memoryPage(callables, page, byName);
    return {
      data: await Promise.all(result.data.map((tool) => this.describe(actor, tool))),
      nextCursor: result.nextCursor,
    };
  }

  async get(actor: Actor, name: string): Promise<Tool> {
    return this.describe(actor, await this.callable(actor, name));
  }

  /** Deploys a custom tool's version (a new one only when its definition or code changed). */
  async deploy(actor: Actor, body: z.output<typeof CustomToolDeployRequest>): Promise<CustomToolDeployResult> {
    const deployed = await this.custom.deploy(actor, body);
    return {
      action: deployed.action,
      tool: await this.describe(actor, this.customCallable(actor, deployed.tool)),
      version: deployed.version,
    };
  }

  versions(actor: Actor, name: string, page: PageRequest): Promise<Page<CustomToolVersion>> {
    return this.custom.versions(actor, name, page);
  }

  /** Deletes a custom tool, its versions and its stored credentials. */
  async delete(actor: Actor, name: string): Promise<{ id: string; deleted: true }> {
    if (officialTools.has(name)) {
      throw new DomainError(
        'tool_not_found',
        `${name} is a marketplace tool: uninstall it (DELETE /v1/tools/${name}/install)`,
        {
          name,
        },
      );
    }
    return this.custom.delete(actor, name);
  }

  /** Stores values (sealed) or secret names for a tool's credential fields; `null` removes a field. */
  async setCredentials(actor: Actor, name: string, body: z.output<typeof ToolCredentialsSetRequest>): Promise<Tool> {
    const tool = await this.callable(actor, name);
    const unknown = Object.keys(body.credentials).filter((field) => !(field in tool.credentials.schema));
    if (unknown.length > 0) {
      throw new DomainError('validation_failed', `${name} takes no credential ${unknown.join(', ')}`, {
        location: 'body',
        issues: unknown.map((field) => ({
          path: `credentials.${field}`,
          code: 'custom',
          message: `not a credential of ${name}; it takes ${Object.keys(tool.credentials.schema).join(', ')}`,
        })),
      });
    }
    await this.db.transaction().execute(async (trx) => {
      for (const [field, value] of Object.entries(body.credentials)) {
        const key = { org_id: actor.orgId, tool: name, field };
        await trx
          .deleteFrom('tool_credentials')
          .where('org_id', '=', actor.orgId)
          .where('tool', '=', name)
          .where('field', '=', field)
          .execute();
        if (value === null) continue;
        await trx
          .insertInto('tool_credentials')
          .values(
            typeof value === 'string'
              ? {
                  ...key,
                  kind: 'value',
                  ciphertext: seal(this.root, toolCredentialAad(actor.orgId, name, field), value),
                  secret_name: null,
                  root_key_id: this.root.id,
                  updated_at: nowIso(),
                }
              : {
                  ...key,
                  kind: 'secret',
                  ciphertext: null,
                  secret_name: value.secret,
                  root_key_id: null,
                  updated_at: nowIso(),
                },
          )
          .execute();
      }
      await audit(trx, {
        orgId: actor.orgId,
        event: 'tool.credentials_set',
        actor: actor.principal,
        targetId: name,
        details: { fields: Object.keys(body.credentials) },
      });
    });
    return this.describe(actor, tool);
  }

  /**
   * The actions an agent's tool references stand for: `name` is every action of that tool, `name.action`
   * one; each becomes a model tool `<name>_<action>` (dashes as underscores). A reference to no tool the org
   * has, or to an action its tool lacks, is `tool_unknown`.
   */
  async agentActions(
    actor: Actor,
    references: readonly string[],
  ): Promise<{ tool: string; action: ToolAction; modelName: string }[]> {
    const found: { tool: string; action: ToolAction; modelName: string }[] = [];
    const unknown: string[] = [];
    for (const reference of references) {
      const [name = '', actionName, ...rest] = reference.split('.');
      const tool = rest.length === 0 ? await this.callable(actor, name).catch(() => undefined) : undefined;
      const actions = tool?.actions.filter((action) => actionName === undefined || action.name === actionName) ?? [];
      if (!tool || actions.length === 0) {
        unknown.push(reference);
        continue;
      }
      for (const action of actions) {
        found.push({ tool: tool.name, action, modelName: `${tool.name.replaceAll('-', '_')}_${action.name}` });
      }
    }
    if (unknown.length > 0) {
      throw new DomainError(
        'tool_unknown',
        `unknown tool${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: a built-in tool, or a tool the org ` +
          'installed or deployed (NAME for all its actions, NAME.ACTION for one)',
        { tools: unknown },
      );
    }
    return found;
  }

  /** Runs one action of a tool as `actor`, and records the call. */
  async execute(actor: Actor, name: string, request: z.output<typeof ToolExecuteRequest>): Promise<ToolExecuteResult> {
    requireScopes(actor, ['tools:execute']);
    const tool = await this.callable(actor, name);
    const action = tool.actions.find((candidate) => candidate.name === request.action);
    if (!action) {
      throw new DomainError('tool_action_not_found', `${name} has no action ${request.action}`, {
        actions: tool.actions.map((candidate) => candidate.name),
      });
    }
    this.validator.check(`${name}@${tool.version ?? 0}.${request.action}`, action.parameters, request.params);
    const credentials = await this.resolveCredentials(actor, tool, request.credentials);
    const started = performance.now();
    const id = newId('toolExecution');
    let errorCode: string | null = null;
    try {
      const result = await tool.run(action, request.params, credentials);
      return {
        executionId: id,
        tool: name,
        action: request.action,
        version: tool.version,
        durationMs: performance.now() - started,
        result,
      };
    } catch (error) {
      errorCode = error instanceof DomainError ? error.code : 'tool_execution_failed';
      throw error instanceof DomainError
        ? error
        : new DomainError('tool_execution_failed', `${name}.${request.action} failed: ${(error as Error).message}`);
    } finally {
      await this.record(actor, {
        id,
        tool: name,
        action: request.action,
        version: tool.version,
        errorCode,
        durationMs: performance.now() - started,
      });
    }
  }

  /** The org's tool calls, newest first. */
  async executions(
    actor: Actor,
    query: { tool?: string | undefined; status?: 'succeeded' | 'failed' | undefined },
    page: PageRequest,
  ): Promise<Page<ToolExecution>> {
    const result = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'asc' },
      ],
      (row: Database['tool_executions']) => [row.created_at, row.id],
      ({ after, fetch }) => {
        let select = this.db.selectFrom('tool_executions').selectAll().where('org_id', '=', actor.orgId);
        if (query.tool) select = select.where('tool', '=', query.tool);
        if (query.status) select = select.where('status', '=', query.status);
        if (after) select = select.where(after);
        return select.orderBy('created_at', 'desc').orderBy('id', 'asc').limit(fetch).execute();
      },
    );
    return {
      data: result.data.map((row) => ({
        id: row.id,
        tool: row.tool,
        action: row.action,
        version: row.version,
        status: row.status,
        errorCode: row.error_code,
        durationMs: Number(row.duration_ms),
        principal: { kind: row.actor_kind, id: row.actor_id },
        createdAt: row.created_at,
      })),
      nextCursor: result.nextCursor,
    };
  }

  private official(name: string): OfficialTool {
    const tool = officialTools.get(name);
    if (!tool) throw new DomainError('tool_not_found', `no tool ${name} in the marketplace`, { name });
    return tool;
  }

  /** The org's custom tool of this name, or the marketplace tool if the org installed it. */
  private async callable(actor: Actor, name: string): Promise<Callable> {
    const custom = await this.custom.find(actor, name);
    if (custom) return this.customCallable(actor, custom);
    const tool = officialTools.get(name);
    const row = tool
      ? await this.db
          .selectFrom('tool_installations')
          .selectAll()
          .where('org_id', '=', actor.orgId)
          .where('name', '=', name)
          .executeTakeFirst()
      : undefined;
    if (!tool || !row) {
      throw new DomainError(
        'tool_not_found',
        tool ? `${name} is in the marketplace but not installed in this org; install it first` : `no tool ${name}`,
        { name },
      );
    }
    return this.officialCallable(tool, row);
  }

  private officialCallable(tool: OfficialTool, row: { created_at: string; updated_at: string }): Callable {
    return {
      name: tool.name,
      kind: 'marketplace',
      description: tool.description,
      provider: tool.provider,
      auth: tool.auth,
      credentials: tool.credentials,
      actions: actionsOf(tool),
      version: null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      run: (action, params, credentials) => this.runOfficial(tool, action.name, params, credentials),
    };
  }

  private customCallable(actor: Actor, row: CustomToolRow): Callable {
    return {
      name: row.name,
      kind: 'custom',
      description: row.manifest.description,
      provider: null,
      auth: { kind: Object.keys(row.manifest.credentials.schema).length > 0 ? 'api_key' : 'none' },
      credentials: row.manifest.credentials,
      actions: row.manifest.actions,
      version: row.version,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      run: async (action, params, credentials) => {
        const runners = this.options.runners;
        if (!runners) {
          throw new DomainError(
            'runtime_unavailable',
            `custom tools run in a sandbox, and this server cannot run one: ${this.options.runnersUnavailable ?? 'no sandbox runtime'}`,
          );
        }
        return runners.call(actor.orgId, {
          tool: row.name,
          version: row.version,
          bundle: () => this.custom.bundle(row.id, row.version),
          action: action.name,
          params,
          credentials,
          timeoutMs: action.timeoutMs ?? defaultToolTimeoutMs,
        });
      },
    };
  }

  private async installedNames(actor: Actor): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('tool_installations')
      .select('name')
      .where('org_id', '=', actor.orgId)
      .execute();
    return new Set(rows.map((row) => row.name));
  }

  private async describe(actor: Actor, tool: Callable): Promise<Tool> {
    const stored = await this.db
      .selectFrom('tool_credentials')
      .select(['field', 'kind'])
      .where('org_id', '=', actor.orgId)
      .where('tool', '=', tool.name)
      .execute();
    return {
      name: tool.name,
      kind: tool.kind,
      description: tool.description,
      provider: tool.provider,
      auth: tool.auth,
      credentials: {
        ...tool.credentials,
        configured: Object.fromEntries(stored.map((row) => [row.field, row.kind === 'value' ? 'stored' : 'secret'])),
      },
      actions: tool.actions,
      version: tool.version,
      createdAt: tool.createdAt,
      updatedAt: tool.updatedAt,
    };
  }

  /**
   * A call's credentials, field by field: what the call passed, else the value stored for the tool, else the
   * secret the field is mapped to. A required field none of them supplies fails the call before it runs.
   */
  private async resolveCredentials(
    actor: Actor,
    tool: Callable,
    passed: Record<string, string> | undefined,
  ): Promise<Record<string, string>> {
    const { name, credentials: spec } = tool;
    const unknown = Object.keys(passed ?? {}).filter((field) => !(field in spec.schema));
    if (unknown.length > 0) {
      throw new DomainError('validation_failed', `${name} takes no credential ${unknown.join(', ')}`, {
        location: 'body',
        issues: unknown.map((field) => ({ path: `credentials.${field}`, code: 'custom', message: 'unknown field' })),
      });
    }
    const stored = await this.db
      .selectFrom('tool_credentials')
      .selectAll()
      .where('org_id', '=', actor.orgId)
      .where('tool', '=', name)
      .execute();
    const resolved: Record<string, string> = {};
    for (const field of Object.keys(spec.schema)) {
      const value = passed?.[field];
      if (value !== undefined) {
        resolved[field] = value;
        continue;
      }
      const row = stored.find((candidate) => candidate.field === field);
      if (row?.kind === 'value' && row.ciphertext) {
        resolved[field] = open(this.root, toolCredentialAad(actor.orgId, name, field), row.ciphertext);
      } else if (row?.kind === 'secret' && row.secret_name) {
        const secret = await this.secrets.get(actor.orgId, row.secret_name).catch((error: unknown) => {
          if (error instanceof DomainError && error.code === 'secret_not_found') return undefined;
          throw error;
        });
        if (secret) resolved[field] = secret.value;
      }
    }
    // An OAuth tool's token, when the call brought none and none is stored: the caller's connection.
    if (tool.auth.kind === 'oauth' && resolved.token === undefined) {
      if (!this.options.oauth)
        throw new DomainError('tool_credentials_missing', `${name} needs a token: ${credentialSources}`);
      resolved.token = await this.options.oauth.accessToken(actor, tool.auth.provider, name).catch((error) => {
        // No connection: the token can also come the manual ways.
        if (error instanceof DomainError && error.code === 'tool_credentials_missing') {
          throw new DomainError('tool_credentials_missing', `${error.message}; or ${credentialSources}`, error.details);
        }
        throw error;
      });
    }
    const missing = spec.required.filter((field) => resolved[field] === undefined);
    if (missing.length > 0) {
      throw new DomainError('tool_credentials_missing', `${name} needs ${missing.join(', ')}: ${credentialSources}`, {
        missing,
        tool: name,
      });
    }
    return resolved;
  }

  private async runOfficial(
    tool: OfficialTool,
    actionName: string,
    params: Record<string, unknown>,
    credentials: Record<string, string>,
  ): Promise<unknown> {
    const action = tool.actions[actionName];
    if (!action) throw new DomainError('tool_action_not_found', `${tool.name} has no action ${actionName}`);
    const timeoutMs = action.timeoutMs ?? defaultToolTimeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const result = await action.execute(params, {
        credentials,
        baseUrl: this.options.baseUrls[tool.name] ?? tool.defaultBaseUrl,
        signal: controller.signal,
      });
      return JSON.parse(JSON.stringify(result ?? null));
    } catch (error) {
      if (controller.signal.aborted) {
        throw new DomainError('tool_timeout', `${tool.name}.${actionName} took longer than ${timeoutMs} ms`, {
          timeoutMs,
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async record(
    actor: Actor,
    entry: {
      id: string;
      tool: string;
      action: string;
      version: number | null;
      errorCode: string | null;
      durationMs: number;
    },
  ): Promise<void> {
    await this.db
      .insertInto('tool_executions')
      .values({
        id: entry.id,
        org_id: actor.orgId,
        tool: entry.tool,
        action: entry.action,
        version: entry.version,
        status: entry.errorCode ? 'failed' : 'succeeded',
        error_code: entry.errorCode,
        duration_ms: entry.durationMs,
        actor_kind: actor.principal.kind,
        actor_id: actor.principal.id,
        created_at: nowIso(),
      })
      .execute();
  }
}
