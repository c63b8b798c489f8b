export type {
  AgentDefinition,
  ApiKey,
  ApiKeyCreated,
  ErrorCode,
  Member,
  Org,
  Project,
  ProjectConfig,
  Role,
  SandboxDefinition,
  SandboxExecResult,
  SandboxLogEntry,
  SandboxProcess,
  SandboxStats,
  SandboxStatus,
  SecretCategory,
  SecretMetadata,
  SecretWithValue,
  SshKey,
  Template,
  TemplateCreateRequest,
  WhoAmI,
  Workspace,
  WorkspaceCreateRequest,
  WorkspaceEntry,
  WorkspaceUsage,
} from '@runtools/spec';
export { defaultBaseUrl, RunTools, type RunToolsOptions } from './client.js';
export {
  defineAgent,
  defineConfig,
  defineSandbox,
  defineTool,
  type ToolContext,
  type ToolDefinition,
} from './define.js';
export {
  AuthenticationError,
  type ClientErrorCode,
  ConflictError,
  ConnectionError,
  errorFromResponse,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  RunToolsError,
  TimeoutError,
  ValidationError,
} from './errors.js';
export { ApiKeys, Auth } from './resources/auth.js';
export { Members, Orgs, Projects } from './resources/orgs.js';
export {
  type ExecOptions,
  type FileChange,
  type LogListener,
  ProcessHandle,
  type ProcessOutput,
  Sandbox,
  Sandboxes,
  SandboxFiles,
  SandboxProcesses,
  SandboxSnapshots,
  type StatusListener,
} from './resources/sandboxes.js';
export { Secrets } from './resources/secrets.js';
export { SshKeys } from './resources/ssh-keys.js';
export { Templates } from './resources/templates.js';
export { WorkspaceFiles, Workspaces } from './resources/workspaces.js';
