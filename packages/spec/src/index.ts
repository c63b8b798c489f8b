export {
  ApiKey,
  ApiKeyCreated,
  ApiKeyCreateRequest,
  ApiKeyList,
  ApiKeyParams,
  apiKeyPattern,
  WhoAmI,
} from './api-keys.js';
export { Deleted, DisplayName, Empty, type IdKind, idPrefixes, idSchema, listOf, Slug, Timestamp } from './common.js';
export {
  AgentDefinition,
  ByteSize,
  ModelId,
  ProjectConfig,
  ResourceName,
  SandboxDefinition,
  SandboxResources,
  ToolDefinitionMeta,
} from './definitions.js';
export { ErrorBody, ErrorCode, type ErrorFamily, errorFamilies, errorFamily } from './errors.js';
export {
  type AgentStreamEvent,
  type AuditEvent,
  agentStreamEvents,
  auditEvents,
  type SandboxState,
  sandboxStates,
} from './events.js';
export { Health, Readiness } from './health.js';
export { Member, MemberAdded, MemberAddRequest, MemberList, MemberParams, MemberUpdateRequest } from './members.js';
export { Org, OrgCreated, OrgCreateRequest, OrgList, OrgParams, OrgUpdateRequest } from './orgs.js';
export { Project, ProjectCreateRequest, ProjectList, ProjectParams, ProjectUpdateRequest } from './projects.js';
export { type HttpMethod, type RouteContract, type RouteId, type RouteResponse, routePath, routes } from './routes.js';
export {
  processSignals,
  Sandbox,
  SandboxBranchRequest,
  SandboxCreateRequest,
  SandboxExecEvent,
  SandboxExecRequest,
  SandboxExecResult,
  SandboxFile,
  SandboxFileEntry,
  SandboxFileInfo,
  SandboxFileList,
  SandboxFileQuery,
  SandboxFileWrite,
  SandboxList,
  SandboxListQuery,
  SandboxLogEntry,
  SandboxLogList,
  SandboxParams,
  SandboxPath,
  SandboxPathRequest,
  SandboxPathResult,
  SandboxPauseQuery,
  SandboxProcess,
  SandboxProcessEvent,
  SandboxProcessList,
  SandboxProcessStart,
  SandboxRollbackRequest,
  SandboxRuntime,
  SandboxSnapshot,
  SandboxSnapshotCreate,
  SandboxSnapshotList,
  SandboxSsh,
  SandboxStats,
  SandboxStatus,
  SandboxTerminalToken,
  SandboxUrl,
  SandboxUrlRequest,
  SandboxWatchEvent,
} from './sandboxes.js';
export {
  type ConcreteScope,
  concreteScopes,
  expandScopes,
  hasScope,
  Role,
  roleCeiling,
  Scope,
  type ScopeAction,
  type ScopeResource,
  scopeActions,
  scopeResources,
} from './scopes.js';
export {
  maxSecretBytes,
  SecretCategory,
  SecretList,
  SecretMetadata,
  SecretName,
  SecretParams,
  SecretSetRequest,
  SecretValue,
  SecretWithValue,
} from './secrets.js';
export { SshKey, SshKeyAddRequest, SshKeyList, SshKeyParams } from './ssh-keys.js';
export {
  builtinTemplateNames,
  Template,
  TemplateBuildEvent,
  TemplateCreateRequest,
  TemplateList,
  TemplateName,
  TemplateStatus,
} from './templates.js';
export {
  Workspace,
  WorkspaceCreateRequest,
  WorkspaceEntry,
  WorkspaceKind,
  WorkspaceList,
  WorkspaceMount,
  WorkspaceUsage,
} from './workspaces.js';
