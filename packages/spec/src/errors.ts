import { z } from 'zod';

/**
 * Every machine-readable error code the API can return. Closed: a new failure mode adds a code here, and
 * the compiler then points at every table and switch that must handle it.
 */
export const ErrorCode = z.enum([
  // the request itself
  'invalid_json',
  'validation_failed',
  'payload_too_large',
  'unsupported_media_type',
  'route_not_found',
  'method_not_allowed',
  // who is asking
  'unauthenticated',
  'invalid_api_key',
  'api_key_expired',
  'api_key_revoked',
  // what they may do
  'insufficient_scope',
  'role_forbidden',
  'scope_escalation',
  'last_owner',
  'invitation_email_mismatch',
  // what they asked about
  'org_not_found',
  'project_not_found',
  'member_not_found',
  'invitation_not_found',
  'api_key_not_found',
  'secret_not_found',
  'ssh_key_not_found',
  'sandbox_not_found',
  'file_not_found',
  'template_not_found',
  'process_not_found',
  'workspace_not_found',
  'snapshot_not_found',
  'agent_not_found',
  'run_not_found',
  'thread_not_found',
  'provider_not_found',
  // state
  'org_exists',
  'project_exists',
  'member_exists',
  'account_exists',
  'ssh_key_exists',
  'default_project',
  'sandbox_not_running',
  'runtime_unavailable',
  'sandbox_unreachable',
  'invalid_transition',
  'template_exists',
  'template_builtin',
  'template_build_failed',
  'sandbox_disk_full',
  'file_exists',
  'workspace_exists',
  'workspace_not_mountable',
  'workspace_in_use',
  'snapshot_exists',
  'port_not_listening',
  'subdomain_taken',
  'agent_exists',
  'provider_exists',
  'run_finished',
  // agents
  'model_unknown',
  'tool_unknown',
  'provider_key_missing',
  'mode_not_available',
  // limits and the server
  'resource_limit_exceeded',
  'storage_quota_exceeded',
  'rate_limited',
  'internal_error',
  'service_unavailable',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The families callers branch on; each maps to one SDK error class. */
export type ErrorFamily =
  | 'validation'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'rate_limit'
  | 'internal';

export const errorFamilies: { readonly [code in ErrorCode]: ErrorFamily } = {
  invalid_json: 'validation',
  validation_failed: 'validation',
  payload_too_large: 'validation',
  unsupported_media_type: 'validation',
  route_not_found: 'not_found',
  method_not_allowed: 'validation',
  unauthenticated: 'authentication',
  invalid_api_key: 'authentication',
  api_key_expired: 'authentication',
  api_key_revoked: 'authentication',
  insufficient_scope: 'permission',
  role_forbidden: 'permission',
  scope_escalation: 'permission',
  last_owner: 'conflict',
  invitation_email_mismatch: 'permission',
  org_not_found: 'not_found',
  project_not_found: 'not_found',
  member_not_found: 'not_found',
  invitation_not_found: 'not_found',
  api_key_not_found: 'not_found',
  secret_not_found: 'not_found',
  ssh_key_not_found: 'not_found',
  sandbox_not_found: 'not_found',
  file_not_found: 'not_found',
  template_not_found: 'not_found',
  process_not_found: 'not_found',
  workspace_not_found: 'not_found',
  snapshot_not_found: 'not_found',
  agent_not_found: 'not_found',
  run_not_found: 'not_found',
  thread_not_found: 'not_found',
  provider_not_found: 'not_found',
  org_exists: 'conflict',
  project_exists: 'conflict',
  member_exists: 'conflict',
  account_exists: 'conflict',
  ssh_key_exists: 'conflict',
  default_project: 'conflict',
  sandbox_not_running: 'conflict',
  runtime_unavailable: 'internal',
  sandbox_unreachable: 'internal',
  invalid_transition: 'conflict',
  template_exists: 'conflict',
  template_builtin: 'conflict',
  template_build_failed: 'validation',
  sandbox_disk_full: 'conflict',
  file_exists: 'conflict',
  workspace_exists: 'conflict',
  workspace_not_mountable: 'validation',
  workspace_in_use: 'conflict',
  snapshot_exists: 'conflict',
  port_not_listening: 'internal',
  subdomain_taken: 'conflict',
  agent_exists: 'conflict',
  provider_exists: 'conflict',
  run_finished: 'conflict',
  model_unknown: 'validation',
  tool_unknown: 'validation',
  provider_key_missing: 'validation',
  mode_not_available: 'validation',
  resource_limit_exceeded: 'validation',
  storage_quota_exceeded: 'permission',
  rate_limited: 'rate_limit',
  internal_error: 'internal',
  service_unavailable: 'internal',
};

export function errorFamily(code: string): ErrorFamily {
  const parsed = ErrorCode.safeParse(code);
  return parsed.success ? errorFamilies[parsed.data] : 'internal';
}

/** The body of every non-2xx response. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: ErrorCode,
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
      requestId: z.string().optional(),
    }),
  })
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof ErrorBody>;
