import type { Agent, AgentPutRequest, ManagedSandbox } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { useProjectField } from '../../components/projects';
import { Button, Field, MutationError, PageHeader } from '../../components/ui';
import {
  builtinToolNames,
  codexToolNames,
  KeyBadge,
  modelRow,
  sandboxOnlyToolNames,
  slugify,
  useModelTable,
} from './shared';

type Mode = 'in_sandbox' | 'managed' | 'local';

const modes: { id: Mode; label: string; hint: string }[] = [
  { id: 'managed', label: 'Managed', hint: 'a fresh sandbox from a template, per run or per thread' },
  { id: 'in_sandbox', label: 'In sandbox', hint: 'works in one existing sandbox' },
  { id: 'local', label: 'Local', hint: 'its tools run on a RunMesh device' },
];

/** "New agent": the Agent Builder with nothing filled in; saving goes to the agent's page. */
export function NewAgentPage() {
  const navigate = useNavigate();
  return (
    <>
      <p className="back-link">
        <Link to="/agents">← Agents</Link>
      </p>
      <PageHeader
        title="New agent"
        description="Pick a model, write its system prompt, choose its tools and where they run."
      />
      <AgentForm onSaved={(agent) => navigate({ to: '/agents/$agent', params: { agent: agent.slug } })} />
    </>
  );
}

/** The model picker: the model table's aliases and providers (any of a provider's models by id), with key status. */
function ModelPicker({ model, onChange }: { model: string; onChange: (model: string) => void }) {
  const { models, keyStatus } = useModelTable();
  const rows = models.data?.data ?? [];
  const aliases = rows.filter((row) => row.alias !== null);
  const providers = rows.filter((row) => row.alias === null);
  const isAlias = aliases.some((row) => row.alias === model);
  const slash = model.indexOf('/');
  const provider = !isAlias && slash > 0 ? model.slice(0, slash) : '';
  const modelId = provider ? model.slice(slash + 1) : '';
  const selected = isAlias ? model : provider ? `${provider}/*` : model;
  const row = modelRow(rows, model);

  return (
    <div className="stack">
      <div className="form-grid">
        <Field
          label="Model"
          hint={
            models.isError
              ? `could not load the model table: ${models.error.message}`
              : 'an alias from the model table, or any model of a provider'
          }
        >
          {(id, describedBy) => (
            <select
              id={id}
              aria-describedby={describedBy}
              required
              value={selected}
              onChange={(event) => {
                const value = event.target.value;
                if (value.endsWith('/*')) onChange(`${value.slice(0, -2)}/${modelId}`);
                else onChange(value);
              }}
            >
              <option value="" disabled>
                {models.isPending ? 'Loading models…' : 'Choose a model'}
              </option>
              {aliases.length ? (
                <optgroup label="Models">
                  {aliases.map((option) => (
                    <option key={`alias-${option.alias}`} value={option.alias ?? ''}>
                      {option.alias} ({option.provider}/{option.modelId}, {keyStatus(option)})
                    </option>
                  ))}
                </optgroup>
              ) : null}
              {providers.length ? (
                <optgroup label="Providers (any model by id)">
                  {providers.map((option) => (
                    <option key={`provider-${option.provider}`} value={`${option.provider}/*`}>
                      {option.provider}/… ({keyStatus(option)})
                    </option>
                  ))}
                </optgroup>
              ) : null}
              {!isAlias && !provider && model ? <option value={model}>{model}</option> : null}
            </select>
          )}
        </Field>
        {provider ? (
          <Field label="Model ID" hint={`the ${provider} model, e.g. the id its API lists`}>
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                required
                value={modelId}
                onChange={(event) => onChange(`${provider}/${event.target.value.trim()}`)}
              />
            )}
          </Field>
        ) : null}
      </div>
      {model ? (
        <p className="row" data-testid="model-key-status">
          <span className="muted">Provider key:</span>
          <KeyBadge status={keyStatus(row)} secret={row?.secret} />
          {row?.secret ? (
            <span className="muted">
              secret <code>{row.secret}</code>
            </span>
          ) : null}
          {row?.price ? (
            <span className="muted" data-testid="model-price">
              ${row.price.input} / ${row.price.output} per million tokens in / out
            </span>
          ) : null}
        </p>
      ) : null}
    </div>
  );
}

/** The Agent Builder's form: a new agent (with its slug) or the whole definition of an existing one. */
export function AgentForm({ agent, onSaved }: { agent?: Agent; onSaved: (agent: Agent) => void }) {
  const canWrite = useCan('agents:write');
  const canSeeSandboxes = useCan('sandboxes:read', 'sandboxes:write');
  const canSeeMesh = useCan('mesh:read', 'mesh:write');
  const [name, setName] = useState(agent?.name ?? '');
  const [slug, setSlug] = useState(agent?.slug ?? '');
  const [slugTouched, setSlugTouched] = useState(false);
  const [description, setDescription] = useState(agent?.description ?? '');
  const [model, setModel] = useState(agent?.model ?? '');
  const [systemPrompt, setSystemPrompt] = useState(agent?.systemPrompt ?? '');
  const [tools, setTools] = useState<string[]>(agent?.tools ?? [...builtinToolNames]);
  const [mode, setMode] = useState<Mode>(agent?.mode ?? 'managed');
  const [sandboxId, setSandboxId] = useState(agent?.sandboxId ?? '');
  const [template, setTemplate] = useState(agent?.managed?.template ?? '');
  const [scope, setScope] = useState<'run' | 'thread'>(agent?.managed?.scope ?? 'run');
  const [cleanup, setCleanup] = useState<'destroy' | 'pause' | 'keep'>(agent?.managed?.cleanup ?? 'destroy');
  const [device, setDevice] = useState(agent?.device ?? '');
  const [maxIterations, setMaxIterations] = useState(String(agent?.maxIterations ?? 25));
  // A new agent's project; an existing one moves with "Move agent to project" (agents/detail.tsx), not a new version.
  const project = useProjectField();

  const installed = useQuery({
    queryKey: ['tools', 'installed'],
    queryFn: () => call('toolsList', { query: { limit: 1000 } }),
  });
  const sandboxes = useQuery({
    queryKey: ['sandboxes', 'for-agents'],
    queryFn: () => call('sandboxesList', { query: { limit: 200 } }),
    enabled: mode === 'in_sandbox' && canSeeSandboxes,
  });
  const templates = useQuery({
    queryKey: ['templates', 'all'],
    queryFn: () => call('templatesList', { query: { limit: 1000 } }),
    enabled: mode === 'managed',
  });
  const nodes = useQuery({
    queryKey: ['mesh', 'nodes', 'for-agents'],
    queryFn: () => call('meshNodesList', { query: { limit: 200 } }),
    enabled: mode === 'local' && canSeeMesh,
  });

  const save = useMutation({
    mutationFn: async (body: AgentPutRequest) => {
      if (agent) return call('agentsPut', { params: { slug: agent.slug }, body });
      return call('agentsCreate', {
        body: { slug, ...body, ...(project.projectId ? { projectId: project.projectId } : {}) },
      });
    },
    onSuccess: onSaved,
  });

  const toggle = (tool: string, on: boolean) =>
    setTools((current) =>
      on ? [...current.filter((other) => other !== tool), tool] : current.filter((other) => other !== tool),
    );

  function submit(event: FormEvent) {
    event.preventDefault();
    const managed: ManagedSandbox = {
      // Settings the form does not show (runtime, resources, mounts, network) are kept as they were.
      ...(agent?.managed ?? {}),
      ...(template ? { template } : {}),
      scope,
      cleanup,
    };
    if (!template) delete managed.template;
    const chosenTools = mode === 'local' ? tools.filter((tool) => !sandboxOnlyToolNames.includes(tool)) : tools;
    const body: AgentPutRequest = {
      name: name.trim() || slug,
      ...(description.trim() ? { description: description.trim() } : {}),
      model,
      systemPrompt,
      tools: chosenTools,
      mode,
      ...(mode === 'in_sandbox' ? { sandbox: sandboxId } : {}),
      ...(mode === 'managed' ? { sandbox: managed } : {}),
      ...(mode === 'local' ? { device } : {}),
      maxIterations: Number(maxIterations),
    };
    save.mutate(body);
  }

  const installedTools = installed.data?.data ?? [];
  // Tools the agent has that are neither built-in nor installed (a tool's single action, `github.list_repos`).
  const otherTools = tools.filter(
    (tool) =>
      !(builtinToolNames as readonly string[]).includes(tool) &&
      !(codexToolNames as readonly string[]).includes(tool) &&
      !installedTools.some((installedTool) => installedTool.name === tool),
  );
  const toolBox = (tool: string, description?: string) => {
    const unavailable = mode === 'local' && sandboxOnlyToolNames.includes(tool);
    return (
      <label key={tool} className="check" title={description}>
        <input
          type="checkbox"
          checked={tools.includes(tool) && !unavailable}
          disabled={unavailable}
          onChange={(event) => toggle(tool, event.target.checked)}
        />{' '}
        {tool}
      </label>
    );
  };

  return (
    <form className="stack agent-form" onSubmit={submit}>
      <div className="form-grid">
        <Field label="Name">
          {(id) => (
            <input
              id={id}
              required
              maxLength={200}
              value={name}
              onChange={(event) => {
                setName(event.target.value);
                if (!agent && !slugTouched) setSlug(slugify(event.target.value));
              }}
            />
          )}
        </Field>
        {agent ? null : (
          <Field label="Slug" hint="how the API and CLI name it: lowercase letters, digits and dashes">
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                required
                pattern="[a-z0-9]+(-[a-z0-9]+)*"
                maxLength={63}
                value={slug}
                onChange={(event) => {
                  setSlugTouched(true);
                  setSlug(event.target.value);
                }}
              />
            )}
          </Field>
        )}
        {agent ? null : project.field}
        <Field label="Description">
          {(id) => (
            <input
              id={id}
              maxLength={2000}
              value={description}
              onChange={(event) => setDescription(event.target.value)}
            />
          )}
        </Field>
        <Field label="Max iterations" hint="model calls per run at most, 1-100">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              type="number"
              min={1}
              max={100}
              required
              value={maxIterations}
              onChange={(event) => setMaxIterations(event.target.value)}
            />
          )}
        </Field>
      </div>
      <ModelPicker model={model} onChange={setModel} />
      <Field label="System prompt" hint="what the agent is and how it works; sent before every conversation">
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            className="editor mono"
            rows={12}
            spellCheck={false}
            value={systemPrompt}
            onChange={(event) => setSystemPrompt(event.target.value)}
          />
        )}
      </Field>
      <fieldset className="fieldset stack">
        <legend>Tools</legend>
        <div className="stack">
          <strong>Built-in</strong>
          <div className="tool-checks">{builtinToolNames.map((tool) => toolBox(tool))}</div>
          <strong>Codex-style</strong>
          <div className="tool-checks">{codexToolNames.map((tool) => toolBox(tool))}</div>
          <strong>Installed tools</strong>
          {installed.isPending ? <span className="muted">Loading installed tools…</span> : null}
          {installed.isError ? <MutationError error={installed.error} /> : null}
          {installed.data && installedTools.length === 0 ? (
            <span className="muted">
              No tools installed. <Link to="/tools">Install tools</Link>
            </span>
          ) : null}
          {installedTools.length ? (
            <div className="tool-checks">{installedTools.map((tool) => toolBox(tool.name, tool.description))}</div>
          ) : null}
          {otherTools.length ? (
            <>
              <strong>Other</strong>
              <div className="tool-checks">{otherTools.map((tool) => toolBox(tool))}</div>
            </>
          ) : null}
          {mode === 'local' ? (
            <p className="hint">
              A local agent cannot use get_dev_url or the Codex-style tools: they need a platform sandbox.
            </p>
          ) : null}
        </div>
      </fieldset>
      <fieldset className="fieldset stack">
        <legend>Mode</legend>
        <div className="row" role="radiogroup" aria-label="Mode">
          {modes.map((option) => (
            <label key={option.id} className="check" title={option.hint}>
              <input
                type="radio"
                name="agent-mode"
                value={option.id}
                checked={mode === option.id}
                onChange={() => setMode(option.id)}
              />{' '}
              {option.label}
            </label>
          ))}
        </div>
        <p className="hint">{modes.find((option) => option.id === mode)?.hint}</p>
        {mode === 'in_sandbox' ? (
          <Field
            label="Sandbox"
            hint={
              sandboxes.isError
                ? `could not list sandboxes: ${sandboxes.error.message}`
                : 'the sandbox its tools work in'
            }
          >
            {(id, describedBy) => (
              <select
                id={id}
                aria-describedby={describedBy}
                required
                value={sandboxId}
                onChange={(event) => setSandboxId(event.target.value)}
              >
                <option value="" disabled>
                  {sandboxes.isPending && canSeeSandboxes ? 'Loading sandboxes…' : 'Choose a sandbox'}
                </option>
                {(sandboxes.data?.data ?? [])
                  .filter((sandbox) => sandbox.status !== 'destroyed' && sandbox.status !== 'destroying')
                  .map((sandbox) => (
                    <option key={sandbox.id} value={sandbox.id}>
                      {sandbox.name ? `${sandbox.name} (${sandbox.id})` : sandbox.id} · {sandbox.template} ·{' '}
                      {sandbox.status}
                    </option>
                  ))}
                {sandboxId && !sandboxes.data?.data.some((sandbox) => sandbox.id === sandboxId) ? (
                  <option value={sandboxId}>{sandboxId}</option>
                ) : null}
              </select>
            )}
          </Field>
        ) : null}
        {mode === 'managed' ? (
          <div className="form-grid">
            <Field label="Managed template" hint="the template of each sandbox it makes; default: the default template">
              {(id, describedBy) => (
                <select
                  id={id}
                  aria-describedby={describedBy}
                  value={template}
                  onChange={(event) => setTemplate(event.target.value)}
                >
                  <option value="">Default template</option>
                  {(templates.data?.data ?? []).map((option) => (
                    <option key={option.name} value={option.name}>
                      {option.name}
                      {option.status !== 'ready' ? ` (${option.status})` : ''}
                    </option>
                  ))}
                  {template && !templates.data?.data.some((option) => option.name === template) ? (
                    <option value={template}>{template}</option>
                  ) : null}
                </select>
              )}
            </Field>
            <Field label="Sandbox scope" hint="one sandbox per run, or one per thread that its runs reuse">
              {(id, describedBy) => (
                <select
                  id={id}
                  aria-describedby={describedBy}
                  value={scope}
                  onChange={(event) => setScope(event.target.value as 'run' | 'thread')}
                >
                  <option value="run">Per run</option>
                  <option value="thread">Per thread</option>
                </select>
              )}
            </Field>
            <Field label="Cleanup" hint="after the run (or when the thread is deleted)">
              {(id, describedBy) => (
                <select
                  id={id}
                  aria-describedby={describedBy}
                  value={cleanup}
                  onChange={(event) => setCleanup(event.target.value as 'destroy' | 'pause' | 'keep')}
                >
                  <option value="destroy">Destroy</option>
                  <option value="pause">Pause</option>
                  <option value="keep">Keep</option>
                </select>
              )}
            </Field>
          </div>
        ) : null}
        {mode === 'local' ? (
          <Field label="Device" hint="the RunMesh node (name or id) whose device runs its tools">
            {(id, describedBy) => (
              <>
                <input
                  id={id}
                  aria-describedby={describedBy}
                  required
                  list={`${id}-nodes`}
                  value={device}
                  onChange={(event) => setDevice(event.target.value)}
                />
                <datalist id={`${id}-nodes`}>
                  {(nodes.data?.data ?? [])
                    .filter((node) => !node.revokedAt)
                    .map((node) => (
                      <option key={node.id} value={node.name}>
                        {node.name} ({node.online ? 'online' : 'offline'})
                      </option>
                    ))}
                </datalist>
              </>
            )}
          </Field>
        ) : null}
      </fieldset>
      <MutationError error={save.error} />
      {canWrite ? (
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={save.isPending} disabled={!model}>
            {agent ? 'Save agent' : 'Create agent'}
          </Button>
        </div>
      ) : (
        <p className="muted">Your role cannot change agents.</p>
      )}
    </form>
  );
}
