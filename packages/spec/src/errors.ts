import { z } from 'zod';

/** The families callers branch on; each maps to one SDK error class. */
export type ErrorFamily =
  | 'validation'
  | 'tool'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'rate_limit'
  | 'internal';

/** The HTTP statuses error responses use. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

/**
 * Every machine-readable error code the API can return, with its HTTP status and its family: the one table a
 * new failure mode is added to. The server's statuses, the OpenAPI document's error responses and the SDK's
 * error classes all derive from it.
 */
export const errorTable = {
  // the request itself
  invalid_json: { status: 400, family: 'validation' },
  validation_failed: { status: 400, family: 'validation' },
  payload_too_large: { status: 413, family: 'validation' },
  unsupported_media_type: { status: 415, family: 'validation' },
  route_not_found: { status: 404, family: 'not_found' },
  method_not_allowed: { status: 405, family: 'validation' },
  // who is asking
  unauthenticated: { status: 401, family: 'authentication' },
  invalid_api_key: { status: 401, family: 'authentication' },
  api_key_expired: { status: 401, family: 'authentication' },
  api_key_revoked: { status: 401, family: 'authentication' },
  session_invalid: { status: 401, family: 'authentication' },
  sign_in_link_invalid: { status: 401, family: 'authentication' },
  // what they may do
  insufficient_scope: { status: 403, family: 'permission' },
  role_forbidden: { status: 403, family: 'permission' },
  member_required: { status: 403, family: 'permission' },
  scope_escalation: { status: 403, family: 'permission' },
  last_owner: { status: 409, family: 'conflict' },
  invitation_email_mismatch: { status: 403, family: 'permission' },
  csrf_failed: { status: 403, family: 'permission' },
  session_required: { status: 401, family: 'authentication' },
  key_required: { status: 403, family: 'permission' },
  // what they asked about
  org_not_found: { status: 404, family: 'not_found' },
  project_not_found: { status: 404, family: 'not_found' },
  member_not_found: { status: 404, family: 'not_found' },
  invitation_not_found: { status: 404, family: 'not_found' },
  api_key_not_found: { status: 404, family: 'not_found' },
  secret_not_found: { status: 404, family: 'not_found' },
  ssh_key_not_found: { status: 404, family: 'not_found' },
  sandbox_not_found: { status: 404, family: 'not_found' },
  file_not_found: { status: 404, family: 'not_found' },
  template_not_found: { status: 404, family: 'not_found' },
  process_not_found: { status: 404, family: 'not_found' },
  workspace_not_found: { status: 404, family: 'not_found' },
  snapshot_not_found: { status: 404, family: 'not_found' },
  agent_not_found: { status: 404, family: 'not_found' },
  run_not_found: { status: 404, family: 'not_found' },
  thread_not_found: { status: 404, family: 'not_found' },
  provider_not_found: { status: 404, family: 'not_found' },
  session_not_found: { status: 404, family: 'not_found' },
  // state
  org_exists: { status: 409, family: 'conflict' },
  project_exists: { status: 409, family: 'conflict' },
  member_exists: { status: 409, family: 'conflict' },
  account_exists: { status: 409, family: 'conflict' },
  ssh_key_exists: { status: 409, family: 'conflict' },
  default_project: { status: 409, family: 'conflict' },
  project_not_empty: { status: 409, family: 'conflict' },
  sandbox_not_running: { status: 409, family: 'conflict' },
  runtime_unavailable: { status: 503, family: 'internal' },
  sandbox_unreachable: { status: 502, family: 'internal' },
  invalid_transition: { status: 409, family: 'conflict' },
  template_exists: { status: 409, family: 'conflict' },
  template_builtin: { status: 409, family: 'conflict' },
  template_build_failed: { status: 422, family: 'validation' },
  sandbox_disk_full: { status: 409, family: 'conflict' },
  file_exists: { status: 409, family: 'conflict' },
  workspace_exists: { status: 409, family: 'conflict' },
  workspace_not_mountable: { status: 400, family: 'validation' },
  workspace_in_use: { status: 409, family: 'conflict' },
  snapshot_exists: { status: 409, family: 'conflict' },
  port_not_listening: { status: 502, family: 'internal' },
  subdomain_taken: { status: 409, family: 'conflict' },
  agent_exists: { status: 409, family: 'conflict' },
  provider_exists: { status: 409, family: 'conflict' },
  run_finished: { status: 409, family: 'conflict' },
  // agents
  model_unknown: { status: 400, family: 'validation' },
  tool_unknown: { status: 400, family: 'validation' },
  // tools
  tool_not_found: { status: 404, family: 'not_found' },
  tool_action_not_found: { status: 404, family: 'not_found' },
  tool_exists: { status: 409, family: 'conflict' },
  tool_params_invalid: { status: 400, family: 'validation' },
  tool_credentials_missing: { status: 400, family: 'validation' },
  tool_execution_failed: { status: 502, family: 'tool' },
  tool_timeout: { status: 504, family: 'tool' },
  tool_auth_failed: { status: 502, family: 'tool' },
  tool_upstream_error: { status: 502, family: 'tool' },
  tool_rate_limited: { status: 429, family: 'rate_limit' },
  // OAuth connections
  oauth_provider_unknown: { status: 404, family: 'not_found' },
  oauth_app_not_configured: { status: 400, family: 'validation' },
  oauth_connection_not_found: { status: 404, family: 'not_found' },
  oauth_state_invalid: { status: 400, family: 'validation' },
  oauth_exchange_failed: { status: 502, family: 'tool' },
  oauth_reauth_required: { status: 403, family: 'permission' },
  // workflows
  workflow_not_found: { status: 404, family: 'not_found' },
  workflow_version_not_found: { status: 404, family: 'not_found' },
  workflow_invalid: { status: 422, family: 'validation' },
  workflow_not_published: { status: 409, family: 'conflict' },
  workflow_run_not_found: { status: 404, family: 'not_found' },
  workflow_input_invalid: { status: 400, family: 'validation' },
  approval_not_found: { status: 404, family: 'not_found' },
  approval_decided: { status: 409, family: 'conflict' },
  approver_not_allowed: { status: 403, family: 'permission' },
  trigger_not_found: { status: 404, family: 'not_found' },
  trigger_invalid: { status: 400, family: 'validation' },
  webhook_signature_invalid: { status: 401, family: 'authentication' },
  webhook_replayed: { status: 409, family: 'conflict' },
  // RunMesh
  mesh_link_not_found: { status: 404, family: 'not_found' },
  mesh_link_expired: { status: 410, family: 'conflict' },
  mesh_link_decided: { status: 409, family: 'conflict' },
  mesh_link_claimed: { status: 409, family: 'conflict' },
  mesh_key_in_use: { status: 409, family: 'conflict' },
  mesh_node_not_found: { status: 404, family: 'not_found' },
  invalid_node_token: { status: 401, family: 'authentication' },
  node_revoked: { status: 409, family: 'conflict' },
  node_offline: { status: 409, family: 'conflict' },
  node_not_allowed: { status: 403, family: 'permission' },
  provider_key_missing: { status: 400, family: 'validation' },
  mode_not_available: { status: 400, family: 'validation' },
  // limits and the server
  resource_limit_exceeded: { status: 422, family: 'validation' },
  storage_quota_exceeded: { status: 403, family: 'permission' },
  rate_limited: { status: 429, family: 'rate_limit' },
  internal_error: { status: 500, family: 'internal' },
  service_unavailable: { status: 503, family: 'internal' },
} as const satisfies Record<string, { status: ErrorStatus; family: ErrorFamily }>;

/** Closed: a new code is a row of `errorTable`, and the compiler then points at every switch that must handle it. */
export const ErrorCode = z.enum(Object.keys(errorTable) as [keyof typeof errorTable, ...(keyof typeof errorTable)[]]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const errorFamilies: { readonly [code in ErrorCode]: ErrorFamily } = Object.fromEntries(
  Object.entries(errorTable).map(([code, row]) => [code, row.family]),
) as { [code in ErrorCode]: ErrorFamily };

export const errorStatus: { readonly [code in ErrorCode]: ErrorStatus } = Object.fromEntries(
  Object.entries(errorTable).map(([code, row]) => [code, row.status]),
) as { [code in ErrorCode]: ErrorStatus };

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
