import type { Generated } from 'kysely';

/** Timestamps are ISO 8601 UTC strings in both SQLite and PostgreSQL, so they compare and sort the same. */
type Iso = string;

export interface Database {
  meta: { key: string; value: string };
  users: { id: string; email: string; name: string | null; created_at: Iso };
  orgs: { id: string; name: string; slug: string; created_at: Iso };
  projects: { id: string; org_id: string; name: string; slug: string; is_default: number; created_at: Iso };
  members: { id: string; org_id: string; user_id: string; role: string; created_at: Iso };
  invitations: {
    id: string;
    org_id: string;
    email: string;
    role: string;
    token_hash: string;
    invited_by_member_id: string;
    invited_by_key_id: string;
    created_at: Iso;
    expires_at: Iso;
    accepted_at: Iso | null;
    revoked_at: Iso | null;
  };
  api_keys: {
    id: string;
    org_id: string;
    member_id: string;
    name: string;
    prefix: string;
    key_hash: string;
    scopes: string;
    created_at: Iso;
    expires_at: Iso | null;
    last_used_at: Iso | null;
    revoked_at: Iso | null;
  };
  secrets: {
    id: string;
    org_id: string;
    name: string;
    category: string;
    ciphertext: string;
    root_key_id: string;
    created_at: Iso;
    updated_at: Iso;
  };
  ssh_keys: {
    id: string;
    org_id: string;
    name: string;
    algorithm: string;
    bits: number | null;
    fingerprint: string;
    public_key: string;
    comment: string | null;
    created_at: Iso;
  };
  sandboxes: {
    id: string;
    org_id: string;
    /** The project it is grouped in (0023: every row has one). */
    project_id: string;
    name: string | null;
    template: string;
    runtime: string;
    /** The host (machine and data dir) whose driver runs it: only that host may recover it. */
    host_id: string;
    status: string;
    status_reason: string | null;
    metadata: string;
    vcpus: number;
    /** bigint: PostgreSQL returns it as a string. */
    memory_bytes: number | string;
    /** Seconds without activity before the sandbox is paused; 0 never. */
    idle_timeout: number;
    /** 1 when it has internet egress. */
    internet: number;
    /** Size of its writable layer; null: unlimited. bigint: PostgreSQL returns a string. */
    disk_bytes: number | string | null;
    /** JSON: [{ workspaceId, path }]. */
    mounts: string;
    /** While paused: 'disk' (checkpointed and stopped) or 'memory' (frozen). */
    paused_to: string | null;
    /** 1: exec, file or URL activity resumes it when paused. */
    auto_resume: number;
    created_at: Iso;
    updated_at: Iso;
  };
  sandbox_snapshots: {
    id: string;
    org_id: string;
    sandbox_id: string;
    name: string | null;
    runtime: string;
    /** 1 when it holds the processes' memory (a checkpoint image), 0 for files only. */
    memory: number;
    /** bigint: PostgreSQL returns it as a string. */
    size_bytes: number | string;
    /** 'creating' (never listed; removed by recovery), 'ready', or 'deleting'. */
    status: string;
    host_id: string;
    created_at: Iso;
  };
  sandbox_urls: {
    sandbox_id: string;
    port: number;
    org_id: string;
    /** 1: anyone with the URL reaches the port; 0: a key or a signed link is needed. */
    public: number;
    /** Signed links carry it; revoking bumps it, so every link handed out before stops working. */
    version: number;
    /** A custom host label (`{subdomain}.<dev domain>`), unique across the platform; null: `{port}-{id}`. */
    subdomain: string | null;
    created_at: Iso;
  };
  workspaces: {
    id: string;
    org_id: string;
    /** The project it is grouped in (0023: every row has one). */
    project_id: string;
    name: string;
    slug: string;
    kind: string;
    /** The member a personal workspace belongs to; null for org workspaces. */
    owner_member_id: string | null;
    created_at: Iso;
  };
  templates: {
    org_id: string;
    name: string;
    description: string;
    /** JSON TemplateSpec. */
    spec: string;
    created_at: Iso;
  };
  sandbox_logs: {
    seq: Generated<number>;
    sandbox_id: string;
    type: string;
    message: string;
    status: string | null;
    /** JSON object. */
    data: string;
    created_at: Iso;
  };
  audit_log: {
    seq: Generated<number>;
    org_id: string;
    event: string;
    /** Who did it: a principal kind (`key`, `session`, `trigger`, `node`, `system`, …) and its id. */
    actor_kind: string;
    actor_id: string;
    target_id: string | null;
    details: string;
    created_at: Iso;
  };
  model_providers: {
    id: string;
    org_id: string;
    name: string;
    type: string;
    base_url: string;
    api_key_secret: string | null;
    created_at: Iso;
  };
  agents: {
    id: string;
    org_id: string;
    /** The project it is grouped in (0023: every row has one). */
    project_id: string;
    slug: string;
    version: number;
    /** JSON: the agent's current definition (model, prompt, tools, mode, sandbox, limits). */
    definition: string;
    created_at: Iso;
    updated_at: Iso;
  };
  agent_versions: {
    agent_id: string;
    version: number;
    definition: string;
    created_at: Iso;
  };
  threads: {
    id: string;
    org_id: string;
    agent_id: string;
    agent_slug: string;
    /** A managed agent's per-thread sandbox. */
    sandbox_id: string | null;
    message_count: number;
    created_at: Iso;
    updated_at: Iso;
  };
  thread_messages: {
    thread_id: string;
    seq: number;
    run_id: string;
    role: string;
    /** JSON: the model message content. */
    content: string;
    created_at: Iso;
  };
  agent_runs: {
    id: string;
    org_id: string;
    agent_id: string;
    agent_slug: string;
    agent_version: number;
    thread_id: string | null;
    sandbox_id: string | null;
    status: string;
    prompt: string;
    text: string | null;
    stop_reason: string | null;
    /** JSON `{ code, message }`. */
    error: string | null;
    input_tokens: number;
    output_tokens: number;
    steps: number;
    created_at: Iso;
    started_at: Iso | null;
    finished_at: Iso | null;
    /** JSON StoredActor: who the run acts as, its rights read again when it resumes and at every tool call. */
    actor: string | null;
    /** JSON `[{ name, mediaType, size }]`: the prompt's attachments (their content is in step 0). */
    attachments: string | null;
    /** The process running it, and until when (renewed while its loop runs; an expired one is taken over). */
    owner: string | null;
    lease_expires_at: Iso | null;
    /** A cancel asked while another process held it: that process stops at its next step or lease renewal. */
    cancel_requested_at: Iso | null;
    /** USD per million input and output tokens of its model when it started (0024); null when not known. */
    price_input: number | null;
    price_output: number | null;
  };
  /** What a run needs to resume: step 0 is the user's turn, each later row a finished step. */
  agent_run_steps: {
    run_id: string;
    step: number;
    /** JSON: the step's model messages (the assistant's and its tool results), or the user's message. */
    messages: string;
    finish_reason: string | null;
    text: string | null;
    input_tokens: number;
    output_tokens: number;
    created_at: Iso;
  };
  run_events: {
    run_id: string;
    seq: number;
    type: string;
    /** JSON: the event without its type and seq. */
    data: string;
  };
  /** Marketplace tools an org installed (custom tools are installed by being deployed). */
  tool_installations: {
    id: string;
    org_id: string;
    name: string;
    created_at: Iso;
    updated_at: Iso;
  };
  /** A tool's credentials for an org, per field: a value sealed like a secret, or the name of a secret. */
  tool_credentials: {
    org_id: string;
    tool: string;
    field: string;
    kind: 'value' | 'secret';
    ciphertext: string | null;
    secret_name: string | null;
    root_key_id: string | null;
    updated_at: Iso;
  };
  /** Every tool call: who, which tool and action, how it ended; never its params or credentials. */
  tool_executions: {
    id: string;
    org_id: string;
    tool: string;
    action: string;
    version: number | null;
    status: 'succeeded' | 'failed';
    error_code: string | null;
    duration_ms: number;
    actor_kind: string;
    actor_id: string;
    created_at: Iso;
  };
  custom_tools: {
    id: string;
    org_id: string;
    name: string;
    latest_version: number;
    created_at: Iso;
    updated_at: Iso;
  };
  custom_tool_versions: {
    tool_id: string;
    version: number;
    manifest: string;
    bundle: string;
    sha256: string;
    size_bytes: number;
    actor_kind: string;
    actor_id: string;
    created_at: Iso;
  };
  /** An org's OAuth app at a provider; its client secret sealed. */
  oauth_apps: {
    org_id: string;
    provider: string;
    client_id: string;
    client_secret: string;
    root_key_id: string;
    created_at: Iso;
    updated_at: Iso;
  };
  /** A member's connected account at a provider; tokens sealed, never returned. */
  oauth_connections: {
    id: string;
    org_id: string;
    member_id: string;
    provider: string;
    status: 'pending' | 'active' | 'needs_reauth' | 'failed';
    scopes: string;
    account_id: string | null;
    account_login: string | null;
    account_email: string | null;
    access_token: string | null;
    refresh_token: string | null;
    root_key_id: string | null;
    expires_at: Iso | null;
    error_code: string | null;
    error_message: string | null;
    created_at: Iso;
    updated_at: Iso;
  };
  /** The org's default connection per provider. */
  oauth_defaults: { org_id: string; provider: string; connection_id: string };
  /** An authorization flow's state: single use, expiring, bound to the member who started it. */
  oauth_states: {
    id: string;
    org_id: string;
    connection_id: string;
    member_id: string;
    code_verifier: string;
    make_default: number;
    expires_at: Iso;
    used_at: Iso | null;
    created_at: Iso;
  };
  workflows: {
    id: string;
    org_id: string;
    /** The project it is grouped in (0023: every row has one). */
    project_id: string;
    slug: string;
    name: string;
    description: string | null;
    graph: string;
    input_schema: string | null;
    draft_revision: number;
    latest_version: number | null;
    visibility: string | null;
    owner_id: string | null;
    created_at: Iso;
    updated_at: Iso;
  };
  workflow_versions: {
    workflow_id: string;
    version: number;
    org_id: string;
    graph: string;
    input_schema: string | null;
    visibility: string;
    note: string | null;
    published_by: string | null;
    /** JSON StoredActor of who published it: a trigger that runs it acts with no more than that. */
    publisher: string | null;
    created_at: Iso;
  };
  workflow_runs: {
    id: string;
    org_id: string;
    workflow_id: string;
    workflow_slug: string;
    version: number | null;
    graph: string;
    status: string;
    input: string;
    output: string | null;
    error: string | null;
    trigger_kind: string;
    trigger_id: string | null;
    trigger_data: string | null;
    actor: string;
    started_by: string | null;
    idempotency_key: string | null;
    revision: number;
    event_seq: number;
    completion_seq: number;
    timeout_at: Iso | null;
    created_at: Iso;
    started_at: Iso | null;
    updated_at: Iso;
    finished_at: Iso | null;
  };
  workflow_node_runs: {
    run_id: string;
    node_id: string;
    iteration: number;
    type: string;
    status: string;
    attempt: number;
    output: string | null;
    error: string | null;
    taken: string | null;
    completion_seq: number | null;
    child_run_id: string | null;
    wake_at: Iso | null;
    owner: string | null;
    lease_expires_at: Iso | null;
    started_at: Iso | null;
    finished_at: Iso | null;
  };
  workflow_events: {
    run_id: string;
    seq: number;
    type: string;
    node_id: string | null;
    iteration: number | null;
    attempt: number | null;
    data: string | null;
    child_run_id: string | null;
    at: Iso;
  };
  workflow_approvals: {
    id: string;
    org_id: string;
    run_id: string;
    workflow_slug: string;
    node_id: string;
    iteration: number;
    message: string;
    approvers: string | null;
    status: string;
    comment: string | null;
    decided_by: string | null;
    expires_at: Iso | null;
    created_at: Iso;
    decided_at: Iso | null;
  };
  workflow_triggers: {
    id: string;
    org_id: string;
    workflow_id: string;
    kind: string;
    schedule: string | null;
    timezone: string | null;
    missed_fires: string | null;
    version: string;
    input: string;
    token_hash: string | null;
    secret: string | null;
    root_key_id: string | null;
    next_fire_at: Iso | null;
    last_fired_at: Iso | null;
    enabled: number;
    actor: string;
    created_by: string | null;
    created_at: Iso;
  };
  workflow_deliveries: {
    id: string;
    trigger_id: string;
    org_id: string;
    delivery_key: string | null;
    status: string;
    reason: string | null;
    run_id: string | null;
    remote: string | null;
    received_at: Iso;
  };
  workflow_waits: {
    token_hash: string;
    run_id: string;
    node_id: string;
    iteration: number;
    created_at: Iso;
  };
  jobs: {
    id: string;
    queue: string;
    data: string;
    singleton_key: string | null;
    state: string;
    attempt: number;
    failures: number;
    retry_limit: number;
    retry_delay_ms: number;
    retry_backoff: number;
    start_after: Iso;
    owner: string | null;
    lease_expires_at: Iso | null;
    last_error: string | null;
    created_at: Iso;
    updated_at: Iso;
  };
  mesh_links: {
    id: string;
    code: string;
    poll_token_hash: string;
    name: string;
    platform: string;
    version: string | null;
    public_key: string;
    identity_key: string;
    requested_from: string | null;
    /** pending | approved | denied | expired */
    status: string;
    org_id: string | null;
    node_id: string | null;
    decided_by: string | null;
    decided_at: Iso | null;
    claimed_at: Iso | null;
    created_at: Iso;
    expires_at: Iso;
  };
  mesh_orgs: { org_id: string; next_address: number; revision: number };
  mesh_nodes: {
    id: string;
    org_id: string;
    name: string;
    address: string;
    public_key: string;
    identity_key: string;
    platform: string;
    version: string | null;
    owner_member_id: string;
    /** Null until the device takes its token (its first poll after approval). */
    token_hash: string | null;
    root: string | null;
    confined: number;
    listen_port: number | null;
    endpoint: string | null;
    connected_at: Iso | null;
    disconnected_at: Iso | null;
    last_seen_at: Iso | null;
    created_at: Iso;
    revoked_at: Iso | null;
    revoked_by: string | null;
  };
  mesh_calls: {
    id: string;
    node_id: string;
    /** JSON MeshOperation. */
    operation: string;
    timeout_ms: number;
    /** pending | taken | done | failed */
    status: string;
    /** JSON: the device's value (done), or `{ kind: 'device' | 'domain', code, message }` (failed). */
    result: string | null;
    created_at: Iso;
    expires_at: Iso;
  };
  dashboard_sessions: {
    id: string;
    org_id: string;
    member_id: string;
    key_id: string;
    token_hash: string;
    /** api_key | link */
    via: string;
    user_agent: string | null;
    address: string | null;
    created_at: Iso;
    last_seen_at: Iso;
    expires_at: Iso;
    ended_at: Iso | null;
  };
  sign_in_links: {
    id: string;
    org_id: string;
    member_id: string;
    key_id: string;
    token_hash: string;
    created_at: Iso;
    expires_at: Iso;
    used_at: Iso | null;
  };
  mesh_node_grants: { node_id: string; member_id: string; granted_by: string; created_at: Iso };
  mesh_audit: {
    id: string;
    org_id: string | null;
    at: Iso;
    action: string;
    actor_kind: string;
    actor_id: string;
    node_id: string | null;
    link_id: string | null;
    from_address: string | null;
    details: string;
  };
}
