import type { InvitationAccepted } from '@runtools/spec';
import { AuthenticationError } from './errors.js';
import { HttpClient } from './http.js';
import { AgentRuns, Agents, Models, Providers, Threads } from './resources/agents.js';
import { Auth } from './resources/auth.js';
import { Mesh } from './resources/mesh.js';
import { Members, Orgs, Projects } from './resources/orgs.js';
import { Sandboxes } from './resources/sandboxes.js';
import { Secrets } from './resources/secrets.js';
import { SshKeys } from './resources/ssh-keys.js';
import { Templates } from './resources/templates.js';
import { Tools } from './resources/tools.js';
import { Workflows } from './resources/workflows.js';
import { Workspaces } from './resources/workspaces.js';
import { sdkVersion } from './version.js';

export interface RunToolsOptions {
  /** Defaults to `RUNTOOLS_API_KEY`. */
  apiKey?: string;
  /** Defaults to `RUNTOOLS_API_URL`, then `http://127.0.0.1:7400`. */
  baseUrl?: string;
  /** Retries for idempotent calls on 429, 5xx and connection failures (default 2). */
  maxRetries?: number;
  /** Per-attempt timeout in milliseconds (default 60 000). */
  timeoutMs?: number;
  /** A custom fetch, e.g. for a proxy. */
  fetch?: typeof globalThis.fetch;
}

export const defaultBaseUrl = 'http://127.0.0.1:7400';

// Node's process, absent in a browser: the environment defaults apply only where there is one.
const host = (globalThis as { process?: { env?: Record<string, string | undefined>; versions?: { node?: string } } })
  .process;
const setting = (name: string): string | undefined => host?.env?.[name];
const userAgent = `runtools-sdk/${sdkVersion} ${host?.versions?.node ? `node/${host.versions.node}` : 'browser'}`;

/**
 * The RunTools client.
 *
 * @example
 * import { RunTools } from '@runtools/sdk';
 * const rt = new RunTools({ apiKey: process.env.RUNTOOLS_API_KEY });
 * await rt.secrets.set('OPENAI_API_KEY', 'sk-…', { category: 'provider' });
 */
export class RunTools {
  readonly baseUrl: string;
  readonly secrets: Secrets;
  readonly sshKeys: SshKeys;
  readonly auth: Auth;
  readonly orgs: Orgs;
  readonly projects: Projects;
  readonly members: Members;
  readonly sandboxes: Sandboxes;
  readonly templates: Templates;
  readonly workspaces: Workspaces;
  readonly agents: Agents;
  /** Runs: `rt.agent.run(slug, prompt)`, events, cancel. */
  readonly agent: AgentRuns;
  readonly threads: Threads;
  readonly providers: Providers;
  readonly models: Models;
  readonly tools: Tools;
  /** Versioned graphs run durably: `save`, `publish`, `run`, `events`, runs, approvals, triggers. */
  readonly workflows: Workflows;
  /** RunMesh: linked devices (nodes), link approvals, the audit log. */
  readonly mesh: Mesh;
  private readonly http: HttpClient;

  constructor(options: RunToolsOptions = {}) {
    const apiKey = options.apiKey ?? setting('RUNTOOLS_API_KEY');
    if (!apiKey) {
      throw new AuthenticationError('no API key: pass { apiKey } or set RUNTOOLS_API_KEY', { code: 'missing_api_key' });
    }
    this.baseUrl = options.baseUrl ?? setting('RUNTOOLS_API_URL') ?? defaultBaseUrl;
    this.http = new HttpClient({
      baseUrl: this.baseUrl,
      apiKey,
      maxRetries: options.maxRetries ?? 2,
      timeoutMs: options.timeoutMs ?? 60_000,
      fetch: options.fetch ?? globalThis.fetch,
      userAgent,
    });
    this.secrets = new Secrets(this.http);
    this.tools = new Tools(this.http);
    this.sshKeys = new SshKeys(this.http);
    this.auth = new Auth(this.http);
    this.orgs = new Orgs(this.http);
    this.projects = new Projects(this.http);
    this.members = new Members(this.http);
    this.sandboxes = new Sandboxes(this.http);
    this.templates = new Templates(this.http);
    this.workspaces = new Workspaces(this.http);
    this.agents = new Agents(this.http);
    this.agent = new AgentRuns(this.http);
    this.threads = new Threads(this.http);
    this.providers = new Providers(this.http);
    this.models = new Models(this.http);
    this.workflows = new Workflows(this.http);
    this.mesh = new Mesh(this.http);
  }

  /**
   * Liveness of the server.
   * @example const { version } = await rt.health()
   */
  health(): Promise<{ status: 'ok'; version: string }> {
    return this.http.call('health');
  }

  /**
   * Accepts an invitation as someone with no account yet: creates the account for the invited email and
   * returns its first key (shown once). An invitee who has an account accepts with
   * `rt.members.acceptInvitation(token)` instead (this answers 409 `account_exists`).
   * @example const { apiKey } = await RunTools.signUp({ token, baseUrl: 'https://runtools.example.com' })
   */
  static signUp(options: {
    token: string;
    baseUrl?: string;
    fetch?: typeof globalThis.fetch;
  }): Promise<InvitationAccepted> {
    const http = new HttpClient({
      baseUrl: options.baseUrl ?? setting('RUNTOOLS_API_URL') ?? defaultBaseUrl,
      apiKey: '',
      maxRetries: 0,
      timeoutMs: 60_000,
      fetch: options.fetch ?? globalThis.fetch,
      userAgent,
    });
    return http.call('invitationsSignUp', { body: { token: options.token } });
  }
}
