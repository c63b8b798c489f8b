import type {
  CustomToolDeployRequest,
  CustomToolDeployResult,
  CustomToolVersion,
  Deleted,
  MarketplaceTool,
  RouteId,
  Tool,
  ToolCredentialsSetRequest,
  ToolExecuteResult,
  ToolExecution,
} from '@runtools/spec';
import type { HttpClient } from '../http.js';

type PagedRoute = Extract<
  RouteId,
  'toolsMarketplace' | 'toolsMarketplaceSearch' | 'toolsList' | 'toolsExecutions' | 'toolsVersions'
>;

/**
 * Tools agents call: the marketplace, the org's installations and custom tools, their credentials (resolved on
 * the server, never returned), calls and their record.
 *
 * @example
 * await rt.tools.install('github');
 * await rt.tools.credentials.set('github', { token: process.env.GITHUB_TOKEN });
 * const { result } = await rt.tools.execute('github', { action: 'list_repos', params: {} });
 */
export class Tools {
  /** A tool's stored credentials: per field a value (sealed on the server), `{ secret: 'NAME' }`, or null to remove. */
  readonly credentials: {
    set(name: string, credentials: ToolCredentialsSetRequest['credentials']): Promise<Tool>;
  };

  constructor(private readonly http: HttpClient) {
    this.credentials = {
      set: (name, credentials) =>
        this.http.call('toolsCredentialsSet', { params: { toolName: name }, body: { credentials } }),
    };
  }

  /** The marketplace catalogue: each tool's provider, auth kind and actions with their JSON Schemas. */
  marketplace(): Promise<MarketplaceTool[]> {
    return this.all('toolsMarketplace', {});
  }

  /** Marketplace tools ranked by how well their name, provider, action names and description match `query`. */
  search(query: string): Promise<MarketplaceTool[]> {
    return this.all('toolsMarketplaceSearch', { q: query });
  }

  /** Installs a marketplace tool in the org; installing it again changes nothing. */
  install(name: string): Promise<Tool> {
    return this.http.call('toolsInstall', { params: { toolName: name } });
  }

  uninstall(name: string): Promise<Deleted> {
    return this.http.call('toolsUninstall', { params: { toolName: name } });
  }

  /** The tools the org can call: installed marketplace tools and its custom tools. */
  list(): Promise<Tool[]> {
    return this.all('toolsList', {});
  }

  get(name: string): Promise<Tool> {
    return this.http.call('toolsGet', { params: { toolName: name } });
  }

  /**
   * Runs one action; params are checked against its JSON Schema first, credentials resolved on the server
   * (these, else the stored ones, else mapped secrets). Answers the action's result with the call's record.
   * @example const { result } = await rt.tools.execute('github', { action: 'list_repos', params: {} })
   */
  execute(
    name: string,
    call: { action: string; params?: Record<string, unknown>; credentials?: Record<string, string> },
  ): Promise<ToolExecuteResult> {
    return this.http.call('toolsExecute', { params: { toolName: name }, body: call });
  }

  /** The org's tool calls, newest first (who, what, how long, how it ended; never params or credentials). */
  executions(filter: { tool?: string; status?: 'succeeded' | 'failed' } = {}): Promise<ToolExecution[]> {
    return this.all('toolsExecutions', filter);
  }

  /** Deploys a custom tool version (what `runtools deploy` sends for each file of tools/). */
  deploy(input: CustomToolDeployRequest): Promise<CustomToolDeployResult> {
    return this.http.call('toolsDeploy', { body: input });
  }

  /** A custom tool's versions, newest first. */
  versions(name: string): Promise<CustomToolVersion[]> {
    return this.all('toolsVersions', {}, { toolName: name });
  }

  /** Deletes a custom tool with its versions and stored credentials. */
  delete(name: string): Promise<Deleted> {
    return this.http.call('toolsDelete', { params: { toolName: name } });
  }

  /** Every item of a paged list, page after page. */
  private async all<T>(id: PagedRoute, query: Record<string, string | undefined>, params?: Record<string, string>) {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = (await this.http.call(id as 'toolsList', {
        ...(params ? { params: params as never } : {}),
        query: { ...query, ...(cursor ? { cursor } : {}) } as never,
      })) as unknown as { data: T[]; nextCursor: string | null };
      items.push(...page.data);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return items;
  }
}
