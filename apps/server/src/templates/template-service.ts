import { join } from 'node:path';
import {
  availableDrivers,
  type BuiltTemplate,
  builtinLookup,
  builtinTemplates,
  type DriverName,
  hostTools,
  TemplateBuilder,
  type TemplateLookup,
  type TemplateSpec,
  templateAliases,
} from '@runtools/runtime';
import type { Template, TemplateBuildEvent, TemplateCreateRequest } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../auth/actor.js';
import { fixedThenByName, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import { EventQueue } from '../sandboxes/event-queue.js';

interface CustomTemplate {
  description: string;
  spec: TemplateSpec;
  createdAt: string;
}

/**
 * Templates: the built-in ones and each org's own (stored as specs), built on demand into cached overlay
 * layers by the runtime's TemplateBuilder. An org's own templates are built in sandboxes of the server's
 * runtime (their own driver instance, state under `buildDir`). A build in progress is shared by everyone
 * who needs it; its progress lines go to every follower.
 */
export class TemplateService {
  private readonly builder: TemplateBuilder | undefined;
  private readonly unavailable: string | undefined;
  private readonly failures = new Map<string, string>();
  private readonly followers = new Map<string, Set<(line: string) => void>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: {
      rootfsDir: string;
      /** Host-only directory for the build sandboxes' state. */
      buildDir: string;
      /** The runtime custom templates are built in: the one sandboxes get by default. */
      runtime: DriverName;
      defaultTemplate: string;
      logger: Logger;
    },
  ) {
    const tools = hostTools();
    if (tools.debootstrap && tools.unshare) {
      const driver = availableDrivers(options.buildDir, tools).drivers[options.runtime];
      this.builder = new TemplateBuilder({
        cacheDir: options.rootfsDir,
        debootstrap: tools.debootstrap,
        unshare: tools.unshare,
        sandbox: driver ? { driver, recordDir: join(options.buildDir, 'building') } : undefined,
      });
    } else {
      this.unavailable = 'debootstrap (or unshare) is not installed, so no template can be built here';
    }
  }

  private async custom(orgId: string, name: string): Promise<CustomTemplate | undefined> {
    const row = await this.db
      .selectFrom('templates')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row
      ? { description: row.description, spec: JSON.parse(row.spec) as TemplateSpec, createdAt: row.created_at }
      : undefined;
  }

  private lookupFor(orgId: string): TemplateLookup {
    return async (name) => builtinLookup(name) ?? (await this.custom(orgId, name))?.spec;
  }

  private static isBuiltin(name: string): boolean {
    return (templateAliases[name] ?? name) in builtinTemplates;
  }

  private key(orgId: string, name: string): string {
    return TemplateService.isBuiltin(name) ? (templateAliases[name] ?? name) : `${orgId}/${name}`;
  }

  /** A template of an org, built-in or its own. */
  async describe(orgId: string, name: string): Promise<Template> {
    const builtin = builtinTemplates[templateAliases[name] ?? name];
    const custom = builtin ? undefined : await this.custom(orgId, name);
    if (!builtin && !custom) throw new DomainError('template_not_found', `no template "${name}"`, { template: name });
    const spec = builtin ? builtin.spec : custom?.spec;
    const key = this.key(orgId, name);
    const built = await this.builder?.builtLayers(name, this.lookupFor(orgId));
    const failure = this.failures.get(key);
    const status = this.followers.has(key) ? 'building' : built ? 'ready' : failure ? 'failed' : 'not_built';
    const alias = templateAliases[name];
    return {
      name,
      description: alias
        ? `alias of ${alias}: ${builtin?.description ?? ''}`
        : (builtin?.description ?? custom?.description ?? ''),
      builtin: Boolean(builtin),
      default: name === this.options.defaultTemplate,
      base: spec?.base ?? null,
      status,
      statusReason:
        status === 'failed' ? (failure ?? null) : status === 'not_built' ? (this.unavailable ?? null) : null,
      packages: [...(spec?.packages ?? [])],
      commands: [...(spec?.commands ?? [])],
      files: Object.keys(spec?.files ?? {}),
      env: { ...spec?.env },
      workdir: spec?.workdir ?? null,
      start: spec?.start ?? null,
      createdAt: custom?.createdAt ?? null,
    };
  }

  /** The built-in templates and their aliases in their fixed order, then the org's own by name. */
  async list(auth: Actor, page: PageRequest): Promise<Page<Template>> {
    const builtin = [...Object.keys(builtinTemplates), ...Object.keys(templateAliases)];
    const names = await fixedThenByName(
      builtin,
      page,
      (name) => name,
      async (after, fetch) => {
        let select = this.db.selectFrom('templates').select('name').where('org_id', '=', auth.orgId);
        if (after !== undefined) select = select.where('name', '>', after);
        return (await select.orderBy('name').limit(fetch).execute()).map((row) => row.name);
      },
    );
    return {
      data: await Promise.all(names.data.map((name) => this.describe(auth.orgId, name))),
      nextCursor: names.nextCursor,
    };
  }

  get(auth: Actor, name: string): Promise<Template> {
    return this.describe(auth.orgId, name);
  }

  async create(auth: Actor, body: TemplateCreateRequest): Promise<Template> {
    const name = body.name;
    if (TemplateService.isBuiltin(name) || (await this.custom(auth.orgId, name))) {
      throw new DomainError('template_exists', `a template named "${name}" already exists`, { template: name });
    }
    const base = body.base ?? 'base';
    if (!TemplateService.isBuiltin(base) && !(await this.custom(auth.orgId, base))) {
      throw new DomainError('template_not_found', `no base template "${base}"`, { template: base });
    }
    const spec: TemplateSpec = {
      base,
      ...(body.packages?.length ? { packages: body.packages } : {}),
      ...(body.commands?.length ? { commands: body.commands } : {}),
      ...(body.files && Object.keys(body.files).length ? { files: body.files } : {}),
      ...(body.env && Object.keys(body.env).length ? { env: body.env } : {}),
      ...(body.workdir ? { workdir: body.workdir } : {}),
      ...(body.start ? { start: body.start } : {}),
    };
    await this.db
      .insertInto('templates')
      .values({
        org_id: auth.orgId,
        name,
        description: body.description ?? `custom template on ${base}`,
        spec: JSON.stringify(spec),
        created_at: nowIso(),
      })
      .execute();
    return this.describe(auth.orgId, name);
  }

  async delete(auth: Actor, name: string): Promise<{ id: string; deleted: true }> {
    if (TemplateService.isBuiltin(name))
      throw new DomainError('template_builtin', `"${name}" is a built-in template and cannot be deleted`);
    const result = await this.db
      .deleteFrom('templates')
      .where('org_id', '=', auth.orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new DomainError('template_not_found', `no template "${name}"`);
    this.failures.delete(this.key(auth.orgId, name));
    return { id: name, deleted: true };
  }

  /**
   * The built template, building it (and its bases) first when needed. A build failure is a 422
   * `template_build_failed` with the end of the build output.
   */
  async resolve(auth: Actor, name: string, onProgress?: (line: string) => void): Promise<BuiltTemplate> {
    await this.describe(auth.orgId, name);
    if (!this.builder)
      throw new DomainError('runtime_unavailable', this.unavailable ?? 'templates cannot be built here');
    const key = this.key(auth.orgId, name);
    let followers = this.followers.get(key);
    const first = !followers;
    if (!followers) {
      followers = new Set();
      this.followers.set(key, followers);
    }
    if (onProgress) followers.add(onProgress);
    const fanOut = (line: string) => {
      for (const follower of this.followers.get(key) ?? []) follower(line);
    };
    try {
      const built = await this.builder.ensure(name, this.lookupFor(auth.orgId), first ? fanOut : undefined);
      this.failures.delete(key);
      return built;
    } catch (error) {
      const message = (error as Error).message;
      this.failures.set(key, message);
      this.options.logger.warn({ template: name, err: error }, 'template build failed');
      throw new DomainError('template_build_failed', `template ${name} failed to build: ${message}`, {
        template: name,
      });
    } finally {
      if (onProgress) followers.delete(onProgress);
      if (first) this.followers.delete(key);
    }
  }

  /** Builds a template now, as a stream of progress lines ending in `ready` or `failed`. */
  async build(auth: Actor, name: string): Promise<AsyncIterable<TemplateBuildEvent>> {
    await this.describe(auth.orgId, name);
    const events = new EventQueue<TemplateBuildEvent>();
    this.resolve(auth, name, (line) => events.push({ type: 'progress', line })).then(
      async () => {
        events.push({ type: 'ready', template: await this.describe(auth.orgId, name) });
        events.end();
      },
      (error: Error) => {
        events.push({ type: 'failed', message: error.message });
        events.end();
      },
    );
    return events;
  }
}
