import { createHash } from 'node:crypto';
import type { CustomToolDeployRequest, CustomToolVersion, ToolAction } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { Actor } from '../auth/actor.js';
import { isUniqueViolation } from '../db/database.js';
import { keysetPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { officialTools } from './marketplace/index.js';
import type { ParamsValidator } from './params.js';

/** What a custom tool version declares: everything of its definition but the code. */
export interface CustomManifest {
  description: string;
  credentials: { required: string[]; schema: Record<string, { type: 'string'; description?: string }> };
  actions: ToolAction[];
}

export interface CustomToolRow {
  id: string;
  name: string;
  version: number;
  manifest: CustomManifest;
  createdAt: string;
  updatedAt: string;
}

/**
 * An org's custom tools: each deploy whose definition or code differs from the latest version is a new
 * version (an artifact kept with its SHA-256); one that does not changes nothing.
 */
export class CustomTools {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly validator: ParamsValidator,
  ) {}

  async deploy(
    actor: Actor,
    body: z.output<typeof CustomToolDeployRequest>,
  ): Promise<{ action: 'created' | 'updated' | 'unchanged'; tool: CustomToolRow; version: CustomToolVersion }> {
    if (officialTools.has(body.name)) {
      throw new DomainError('tool_exists', `${body.name} is a marketplace tool; give your tool another name`, {
        name: body.name,
      });
    }
    for (const action of body.actions) {
      try {
        this.validator.compile(action.parameters);
      } catch (error) {
        throw new DomainError('validation_failed', `action ${action.name}: parameters is not a usable JSON Schema`, {
          location: 'body',
          issues: [{ path: `actions.${action.name}.parameters`, code: 'custom', message: (error as Error).message }],
        });
      }
    }
    const bytes = Buffer.from(body.bundle, 'base64');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const manifest: CustomManifest = {
      description: body.description,
      credentials: body.credentials,
      actions: body.actions,
    };
    const manifestText = JSON.stringify(manifest);
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('custom_tools')
        .selectAll()
        .where('org_id', '=', actor.orgId)
        .where('name', '=', body.name)
        .executeTakeFirst();
      if (existing) {
        const latest = await trx
          .selectFrom('custom_tool_versions')
          .select(['manifest', 'sha256', 'version', 'size_bytes', 'created_at', 'actor_kind', 'actor_id'])
          .where('tool_id', '=', existing.id)
          .where('version', '=', existing.latest_version)
          .executeTakeFirstOrThrow();
        if (latest.sha256 === sha256 && latest.manifest === manifestText) {
          return {
            action: 'unchanged' as const,
            tool: rowOf(existing, manifest),
            version: versionOf(body.name, { ...latest, manifest: manifestText }),
          };
        }
      }
      const now = nowIso();
      const toolId = existing?.id ?? newId('tool');
      const version = (existing?.latest_version ?? 0) + 1;
      try {
        if (existing) {
          await trx
            .updateTable('custom_tools')
            .set({ latest_version: version, updated_at: now })
            .where('id', '=', toolId)
            .execute();
        } else {
          await trx
            .insertInto('custom_tools')
            .values({
              id: toolId,
              org_id: actor.orgId,
              name: body.name,
              latest_version: version,
              created_at: now,
              updated_at: now,
            })
            .execute();
        }
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new DomainError('tool_exists', `${body.name} is being deployed by another request; deploy again`);
        }
        throw error;
      }
      const row = {
        tool_id: toolId,
        version,
        manifest: manifestText,
        bundle: body.bundle,
        sha256,
        size_bytes: bytes.length,
        actor_kind: actor.principal.kind,
        actor_id: actor.principal.id,
        created_at: now,
      };
      await trx.insertInto('custom_tool_versions').values(row).execute();
      return {
        action: existing ? ('updated' as const) : ('created' as const),
        tool: {
          id: toolId,
          name: body.name,
          version,
          manifest,
          createdAt: existing?.created_at ?? now,
          updatedAt: now,
        },
        version: versionOf(body.name, row),
      };
    });
  }

  /** The org's custom tool of this name at its latest version, or undefined. */
  async find(actor: Actor, name: string): Promise<CustomToolRow | undefined> {
    const row = await this.latest(actor).where('custom_tools.name', '=', name).executeTakeFirst();
    return row ? rowOf(row, JSON.parse(row.manifest) as CustomManifest) : undefined;
  }

  async all(actor: Actor): Promise<CustomToolRow[]> {
    const rows = await this.latest(actor).execute();
    return rows.map((row) => rowOf(row, JSON.parse(row.manifest) as CustomManifest));
  }

  /** The org's custom tools, each with its latest version's manifest. */
  private latest(actor: Actor) {
    return this.db
      .selectFrom('custom_tools')
      .innerJoin('custom_tool_versions', (join) =>
        join
          .onRef('custom_tool_versions.tool_id', '=', 'custom_tools.id')
          .onRef('custom_tool_versions.version', '=', 'custom_tools.latest_version'),
      )
      .select([
        'custom_tools.id',
        'custom_tools.name',
        'custom_tools.latest_version',
        'custom_tools.created_at',
        'custom_tools.updated_at',
        'custom_tool_versions.manifest',
      ])
      .where('custom_tools.org_id', '=', actor.orgId);
  }

  /** A version's bundle (base64). */
  async bundle(toolId: string, version: number): Promise<string> {
    const row = await this.db
      .selectFrom('custom_tool_versions')
      .select('bundle')
      .where('tool_id', '=', toolId)
      .where('version', '=', version)
      .executeTakeFirstOrThrow();
    return row.bundle;
  }

  async versions(actor: Actor, name: string, page: PageRequest): Promise<Page<CustomToolVersion>> {
    const tool = await this.find(actor, name);
    if (!tool) throw new DomainError('tool_not_found', `no custom tool ${name}`, { name });
    const result = await keysetPage(
      page,
      [{ column: 'version', direction: 'desc', type: 'number' }],
      (row: { version: number }) => [row.version],
      ({ after, fetch }) => {
        let select = this.db
          .selectFrom('custom_tool_versions')
          .select(['version', 'manifest', 'sha256', 'size_bytes', 'created_at', 'actor_kind', 'actor_id'])
          .where('tool_id', '=', tool.id);
        if (after) select = select.where(after);
        return select.orderBy('version', 'desc').limit(fetch).execute();
      },
    );
    return { data: result.data.map((row) => versionOf(name, row)), nextCursor: result.nextCursor };
  }

  async delete(actor: Actor, name: string): Promise<{ id: string; deleted: true }> {
    const tool = await this.find(actor, name);
    if (!tool) throw new DomainError('tool_not_found', `no custom tool ${name}`, { name });
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('custom_tool_versions').where('tool_id', '=', tool.id).execute();
      await trx.deleteFrom('custom_tools').where('id', '=', tool.id).execute();
      await trx.deleteFrom('tool_credentials').where('org_id', '=', actor.orgId).where('tool', '=', name).execute();
    });
    return { id: tool.id, deleted: true };
  }
}

function rowOf(
  row: { id: string; name: string; latest_version: number; created_at: string; updated_at: string },
  manifest: CustomManifest,
): CustomToolRow {
  return {
    id: row.id,
    name: row.name,
    version: Number(row.latest_version),
    manifest,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function versionOf(
  tool: string,
  row: {
    version: number;
    manifest: string;
    sha256: string;
    size_bytes: number;
    created_at: string;
    actor_kind: string;
    actor_id: string;
  },
): CustomToolVersion {
  return {
    tool,
    version: Number(row.version),
    actions: (JSON.parse(row.manifest) as CustomManifest).actions.map((action) => action.name),
    sha256: row.sha256,
    sizeBytes: Number(row.size_bytes),
    createdAt: row.created_at,
    principal: { kind: row.actor_kind, id: row.actor_id },
  };
}
