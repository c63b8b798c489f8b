import type { z } from 'zod';
import { ApiKey, ApiKeyCreated, ApiKeyCreateRequest, ApiKeyList, ApiKeyParams, WhoAmI } from './api-keys.js';
import { Deleted } from './common.js';
import { Health, Readiness } from './health.js';
import { Member, MemberAdded, MemberAddRequest, MemberList, MemberParams, MemberUpdateRequest } from './members.js';
import { Org, OrgCreated, OrgCreateRequest, OrgList, OrgParams, OrgUpdateRequest } from './orgs.js';
import { Project, ProjectCreateRequest, ProjectList, ProjectParams, ProjectUpdateRequest } from './projects.js';
import {
  Sandbox,
  SandboxCreateRequest,
  SandboxExecEvent,
  SandboxExecRequest,
  SandboxExecResult,
  SandboxFile,
  SandboxFileList,
  SandboxFileQuery,
  SandboxFileWrite,
  SandboxList,
  SandboxListQuery,
  SandboxParams,
  SandboxPathRequest,
  SandboxPathResult,
} from './sandboxes.js';
import type { ConcreteScope } from './scopes.js';
import { SecretList, SecretMetadata, SecretParams, SecretSetRequest, SecretWithValue } from './secrets.js';
import { SshKey, SshKeyAddRequest, SshKeyList, SshKeyParams } from './ssh-keys.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * One REST route's contract. The server binds a handler to it, the OpenAPI document is generated from it,
 * the SDK calls it, and the scope test walks every entry: a route cannot exist without saying who may call it.
 */
export interface RouteContract {
  method: HttpMethod;
  /** Hono-style path, `:name` for parameters. */
  path: string;
  summary: string;
  tag: string;
  /** `public` needs no key; `key` needs a valid key holding any one of `scopes` (none listed: any valid key). */
  auth: 'public' | 'key';
  scopes: readonly ConcreteScope[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The schema of the answer, or with `stream: 'sse'` of each server-sent event. */
  response: z.ZodType;
  status: 200 | 201;
  /** `sse`: the answer is a stream of server-sent events (`text/event-stream`), named by their `type`. */
  stream?: 'sse';
}

function route<const T extends RouteContract>(contract: T): T {
  return contract;
}

export const routes = {
  health: route({
    method: 'GET',
    path: '/v1/health',
    summary: 'Liveness: the process is up',
    tag: 'system',
    auth: 'public',
    scopes: [],
    response: Health,
    status: 200,
  }),
  ready: route({
    method: 'GET',
    path: '/v1/ready',
    summary: 'Readiness: the database answers and the root key is loaded (503 otherwise)',
    tag: 'system',
    auth: 'public',
    scopes: [],
    response: Readiness,
    status: 200,
  }),
  whoAmI: route({
    method: 'GET',
    path: '/v1/me',
    summary: 'The org, project, member and scopes of the calling key',
    tag: 'auth',
    auth: 'key',
    scopes: [],
    response: WhoAmI,
    status: 200,
  }),

  orgsList: route({
    method: 'GET',
    path: '/v1/orgs',
    summary: "Orgs the key's member belongs to",
    tag: 'orgs',
    auth: 'key',
    scopes: ['orgs:read'],
    response: OrgList,
    status: 200,
  }),
  orgsCreate: route({
    method: 'POST',
    path: '/v1/orgs',
    summary: 'Create an org owned by the calling member; returns its default project and an owner key',
    tag: 'orgs',
    auth: 'key',
    scopes: ['orgs:write'],
    body: OrgCreateRequest,
    response: OrgCreated,
    status: 201,
  }),
  orgsGet: route({
    method: 'GET',
    path: '/v1/orgs/:orgId',
    summary: 'Get an org',
    tag: 'orgs',
    auth: 'key',
    scopes: ['orgs:read'],
    params: OrgParams,
    response: Org,
    status: 200,
  }),
  orgsUpdate: route({
    method: 'PATCH',
    path: '/v1/orgs/:orgId',
    summary: "Rename the key's org",
    tag: 'orgs',
    auth: 'key',
    scopes: ['orgs:write'],
    params: OrgParams,
    body: OrgUpdateRequest,
    response: Org,
    status: 200,
  }),

  projectsList: route({
    method: 'GET',
    path: '/v1/projects',
    summary: "The org's projects",
    tag: 'projects',
    auth: 'key',
    scopes: ['projects:read'],
    response: ProjectList,
    status: 200,
  }),
  projectsCreate: route({
    method: 'POST',
    path: '/v1/projects',
    summary: 'Create a project',
    tag: 'projects',
    auth: 'key',
    scopes: ['projects:write'],
    body: ProjectCreateRequest,
    response: Project,
    status: 201,
  }),
  projectsGet: route({
    method: 'GET',
    path: '/v1/projects/:projectId',
    summary: 'Get a project',
    tag: 'projects',
    auth: 'key',
    scopes: ['projects:read'],
    params: ProjectParams,
    response: Project,
    status: 200,
  }),
  projectsUpdate: route({
    method: 'PATCH',
    path: '/v1/projects/:projectId',
    summary: 'Rename a project',
    tag: 'projects',
    auth: 'key',
    scopes: ['projects:write'],
    params: ProjectParams,
    body: ProjectUpdateRequest,
    response: Project,
    status: 200,
  }),
  projectsDelete: route({
    method: 'DELETE',
    path: '/v1/projects/:projectId',
    summary: 'Delete a project (not the default one)',
    tag: 'projects',
    auth: 'key',
    scopes: ['projects:write'],
    params: ProjectParams,
    response: Deleted,
    status: 200,
  }),

  membersList: route({
    method: 'GET',
    path: '/v1/members',
    summary: "The org's members and their roles",
    tag: 'members',
    auth: 'key',
    scopes: ['members:read'],
    response: MemberList,
    status: 200,
  }),
  membersAdd: route({
    method: 'POST',
    path: '/v1/members',
    summary: 'Add a member; returns their first API key',
    tag: 'members',
    auth: 'key',
    scopes: ['members:write'],
    body: MemberAddRequest,
    response: MemberAdded,
    status: 201,
  }),
  membersUpdate: route({
    method: 'PATCH',
    path: '/v1/members/:memberId',
    summary: "Change a member's role",
    tag: 'members',
    auth: 'key',
    scopes: ['members:write'],
    params: MemberParams,
    body: MemberUpdateRequest,
    response: Member,
    status: 200,
  }),
  membersRemove: route({
    method: 'DELETE',
    path: '/v1/members/:memberId',
    summary: 'Remove a member and revoke their keys',
    tag: 'members',
    auth: 'key',
    scopes: ['members:write'],
    params: MemberParams,
    response: Deleted,
    status: 200,
  }),

  keysCreate: route({
    method: 'POST',
    path: '/v1/auth/keys',
    summary: 'Create an API key (the key is returned only here)',
    tag: 'auth',
    auth: 'key',
    scopes: ['keys:write'],
    body: ApiKeyCreateRequest,
    response: ApiKeyCreated,
    status: 201,
  }),
  keysList: route({
    method: 'GET',
    path: '/v1/auth/keys',
    summary: 'API keys (your own; all of the org for admins and owners)',
    tag: 'auth',
    auth: 'key',
    scopes: ['keys:read'],
    response: ApiKeyList,
    status: 200,
  }),
  keysGet: route({
    method: 'GET',
    path: '/v1/auth/keys/:keyId',
    summary: 'Get an API key by id',
    tag: 'auth',
    auth: 'key',
    scopes: ['keys:read'],
    params: ApiKeyParams,
    response: ApiKey,
    status: 200,
  }),
  keysRevoke: route({
    method: 'DELETE',
    path: '/v1/auth/keys/:keyId',
    summary: 'Revoke an API key',
    tag: 'auth',
    auth: 'key',
    scopes: ['keys:write'],
    params: ApiKeyParams,
    response: ApiKey,
    status: 200,
  }),

  secretsSet: route({
    method: 'POST',
    path: '/v1/secrets',
    summary: 'Create or replace a secret',
    tag: 'secrets',
    auth: 'key',
    scopes: ['secrets:write'],
    body: SecretSetRequest,
    response: SecretMetadata,
    status: 201,
  }),
  secretsList: route({
    method: 'GET',
    path: '/v1/secrets',
    summary: 'Secret names and categories, never values',
    tag: 'secrets',
    auth: 'key',
    scopes: ['secrets:read', 'secrets:write'],
    response: SecretList,
    status: 200,
  }),
  secretsGet: route({
    method: 'GET',
    path: '/v1/secrets/:name',
    summary: "Read a secret's value",
    tag: 'secrets',
    auth: 'key',
    scopes: ['secrets:read'],
    params: SecretParams,
    response: SecretWithValue,
    status: 200,
  }),
  secretsDelete: route({
    method: 'DELETE',
    path: '/v1/secrets/:name',
    summary: 'Delete a secret',
    tag: 'secrets',
    auth: 'key',
    scopes: ['secrets:write'],
    params: SecretParams,
    response: Deleted,
    status: 200,
  }),

  sshKeysAdd: route({
    method: 'POST',
    path: '/v1/ssh-keys',
    summary: 'Register an SSH public key for the org',
    tag: 'ssh-keys',
    auth: 'key',
    scopes: ['ssh_keys:write'],
    body: SshKeyAddRequest,
    response: SshKey,
    status: 201,
  }),
  sshKeysList: route({
    method: 'GET',
    path: '/v1/ssh-keys',
    summary: "The org's SSH public keys",
    tag: 'ssh-keys',
    auth: 'key',
    scopes: ['ssh_keys:read'],
    response: SshKeyList,
    status: 200,
  }),
  sshKeysRemove: route({
    method: 'DELETE',
    path: '/v1/ssh-keys/:sshKeyId',
    summary: 'Remove an SSH public key',
    tag: 'ssh-keys',
    auth: 'key',
    scopes: ['ssh_keys:write'],
    params: SshKeyParams,
    response: Deleted,
    status: 200,
  }),

  sandboxesCreate: route({
    method: 'POST',
    path: '/v1/sandboxes',
    summary: 'Create a sandbox and start it; answers once it is running',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['sandboxes:write'],
    body: SandboxCreateRequest,
    response: Sandbox,
    status: 201,
  }),
  sandboxesList: route({
    method: 'GET',
    path: '/v1/sandboxes',
    summary:
      'Sandboxes of the org (destroyed ones only with ?status=destroyed); filter with ?status= and ?metadata.<key>=<value>',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['sandboxes:read'],
    query: SandboxListQuery,
    response: SandboxList,
    status: 200,
  }),
  sandboxesGet: route({
    method: 'GET',
    path: '/v1/sandboxes/:sandboxId',
    summary: 'Get a sandbox',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['sandboxes:read'],
    params: SandboxParams,
    response: Sandbox,
    status: 200,
  }),
  sandboxesExec: route({
    method: 'POST',
    path: '/v1/sandboxes/:sandboxId/exec',
    summary: 'Run a shell command in a running sandbox and return its output and exit code',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['sandboxes:write'],
    params: SandboxParams,
    body: SandboxExecRequest,
    response: SandboxExecResult,
    status: 200,
  }),
  sandboxesExecStream: route({
    method: 'POST',
    path: '/v1/sandboxes/:sandboxId/exec/stream',
    summary: 'Run a shell command and stream its output as server-sent events (stdout, stderr, then exit)',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['sandboxes:write'],
    params: SandboxParams,
    body: SandboxExecRequest,
    response: SandboxExecEvent,
    status: 200,
    stream: 'sse',
  }),
  sandboxFilesRead: route({
    method: 'GET',
    path: '/v1/sandboxes/:sandboxId/files',
    summary: 'Read a file (content as base64)',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['files:read'],
    params: SandboxParams,
    query: SandboxFileQuery,
    response: SandboxFile,
    status: 200,
  }),
  sandboxFilesWrite: route({
    method: 'PUT',
    path: '/v1/sandboxes/:sandboxId/files',
    summary: 'Write a file (content as base64), creating parent directories',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['files:write'],
    params: SandboxParams,
    body: SandboxFileWrite,
    response: SandboxPathResult,
    status: 200,
  }),
  sandboxFilesList: route({
    method: 'GET',
    path: '/v1/sandboxes/:sandboxId/files/list',
    summary: 'List a directory: name, type, size',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['files:read'],
    params: SandboxParams,
    query: SandboxFileQuery,
    response: SandboxFileList,
    status: 200,
  }),
  sandboxFilesExists: route({
    method: 'GET',
    path: '/v1/sandboxes/:sandboxId/files/exists',
    summary: 'Whether a path exists',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['files:read'],
    params: SandboxParams,
    query: SandboxFileQuery,
    response: SandboxPathResult,
    status: 200,
  }),
  sandboxFilesRemove: route({
    method: 'POST',
    path: '/v1/sandboxes/:sandboxId/files/remove',
    summary: 'Remove a file or a directory tree',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['files:write'],
    params: SandboxParams,
    body: SandboxPathRequest,
    response: SandboxPathResult,
    status: 200,
  }),
  sandboxFilesMkdir: route({
    method: 'POST',
    path: '/v1/sandboxes/:sandboxId/files/mkdir',
    summary: 'Create a directory and its parents',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['files:write'],
    params: SandboxParams,
    body: SandboxPathRequest,
    response: SandboxPathResult,
    status: 200,
  }),
  sandboxesDestroy: route({
    method: 'DELETE',
    path: '/v1/sandboxes/:sandboxId',
    summary: 'Destroy a sandbox and everything in it',
    tag: 'sandboxes',
    auth: 'key',
    scopes: ['sandboxes:write'],
    params: SandboxParams,
    response: Sandbox,
    status: 200,
  }),
} as const satisfies Record<string, RouteContract>;

export type RouteId = keyof typeof routes;
export type RouteResponse<Id extends RouteId> = z.infer<(typeof routes)[Id]['response']>;

/** Fill a route path's `:params`, URL-encoding each value. */
export function routePath(path: string, params: Record<string, string> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(value);
  });
}
