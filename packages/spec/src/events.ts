/** Lifecycle states of a sandbox, as documented. */
export const sandboxStates = [
  'pending',
  'creating',
  'running',
  'pausing',
  'paused',
  'resuming',
  'destroying',
  'destroyed',
  'failed',
  'error',
  'suspected_missing',
] as const;
export type SandboxState = (typeof sandboxStates)[number];

/** Events an agent run streams. */
export const agentStreamEvents = [
  'start',
  'text-delta',
  'thinking',
  'tool-call',
  'tool-result',
  'step',
  'done',
  'error',
] as const;
export type AgentStreamEvent = (typeof agentStreamEvents)[number];

/** Audit events the control plane records, one per state-changing action. */
export const auditEvents = [
  'org.created',
  'org.updated',
  'project.created',
  'project.updated',
  'project.deleted',
  'member.added',
  'member.updated',
  'member.removed',
  'invitation.created',
  'invitation.revoked',
  'invitation.accepted',
  'api_key.created',
  'api_key.revoked',
  'secret.set',
  'secret.read',
  'secret.deleted',
  'ssh_key.added',
  'ssh_key.removed',
  'sandbox.created',
  'sandbox.destroyed',
  'sandbox.snapshot_created',
  'sandbox.snapshot_deleted',
  'sandbox.rolled_back',
  'sandbox.branched',
  'workspace.created',
  'workspace.deleted',
  'agent.created',
  'agent.updated',
  'agent.deleted',
  'provider.created',
  'provider.deleted',
  'run.cancelled',
  'thread.deleted',
  'tool.installed',
  'tool.uninstalled',
  'tool.credentials_set',
] as const;
export type AuditEvent = (typeof auditEvents)[number];
