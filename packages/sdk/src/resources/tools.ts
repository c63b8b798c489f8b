import type {
  CustomToolDeployRequest,
  CustomToolDeployResult,
  CustomToolVersion,
  Deleted,
  MarketplaceTool,
  Tool,
  ToolCredentialsSetRequest,
  ToolExecuteResult,
  ToolExecution,
} from '@runtools/spec';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

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
  marketplace(): PagedList<MarketplaceTool> {
    return new PagedList((page) => this.http.call('toolsMarketplace', { query: page }));
  }

  /** Marketplace tools ranked by how well their name, provider, action names and description match `query`. */
  search(query: string): PagedList<MarketplaceTool> {
    return new PagedList((page) => this.http.call('toolsMarketplaceSearch', { query: { q: query, ...page } }));
  }

  /** Installs a marketplace tool in the org; installing it again changes nothing. */
  install(name: string): Promise<Tool> {
    return this.http.call('toolsInstall', { params: { toolName: name } });
  }

  uninstall(name: string): Promise<Deleted> {
    return this.http.call('toolsUninstall', { params: { toolName: name } });
  }

  /** The tools the org can call: installed marketplace tools and its custom tools. */
  list(): PagedList<Tool> {
    return new PagedList((page) => this.http.call('toolsList', { query: page }));
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
  executions(filter: { tool?: string; status?: 'succeeded' | 'failed' } = {}): PagedList<ToolExecution> {
    const query = {
      ...(filter.tool ? { tool: filter.tool } : {}),
      ...(filter.status ? { status: filter.status } : {}),
    };
    return new PagedList((page) => this.http.call('toolsExecutions', { query: { ...query, ...page } }));
  }

  /** Deploys a custom tool version (what `runtools deploy` sends for each file of tools/). */
  deploy(input: CustomToolDeployRequest): Promise<CustomToolDeployResult> {
    return this.http.call('toolsDeploy', { body: input });
  }

  /** A custom tool's versions, newest first. */
  versions(name: string): PagedList<CustomToolVersion> {
    return new PagedList((page) => this.http.call('toolsVersions', { params: { toolName: name }, query: page }));
  }

  /** Deletes a custom tool with its versions and stored credentials. */
  delete(name: string): Promise<Deleted> {
    return this.http.call('toolsDelete', { params: { toolName: name } });
  }
}
