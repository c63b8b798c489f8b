import type { Tool, ToolAction, ToolCredentialsSetRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { defaultsOf, fieldProblems, type JsonSchema } from '../../components/json-schema';
import { SchemaForm } from '../../components/schema-form';
import { Button, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

/** The org's tools: installed marketplace tools and custom ones, with their credentials and actions. */
export function InstalledTools({ onConnect }: { onConnect: () => void }) {
  const canWrite = useCan('tools:write');
  const [removing, setRemoving] = useState<Tool>();
  const [running, setRunning] = useState<{ tool: Tool; action: ToolAction }>();
  const tools = useQuery({
    queryKey: ['tools', 'installed'],
    queryFn: () => call('toolsList', { query: { limit: 1000 } }),
  });
  const remove = useMutation({
    mutationFn: (tool: Tool) =>
      tool.kind === 'marketplace'
        ? call('toolsUninstall', { params: { toolName: tool.name } })
        : call('toolsDelete', { params: { toolName: tool.name } }),
    onSuccess: () => setRemoving(undefined),
  });
  return (
    <section className="stack" aria-labelledby="installed-heading">
      <h2 id="installed-heading">Installed tools</h2>
      <QueryView
        query={tools}
        isEmpty={(data) => data.data.length === 0}
        empty={
          <EmptyState title="No tools installed">
            Install one from the marketplace, or deploy your own with <code>runtools deploy</code>.
          </EmptyState>
        }
      >
        {(data) => (
          <div className="stack">
            {data.data.map((tool) => (
              <article key={tool.name} className="card stack" aria-labelledby={`tool-${tool.name}`}>
                <div className="row spread">
                  <div>
                    <h3 id={`tool-${tool.name}`}>{tool.name}</h3>
                    <div className="muted">
                      {tool.kind === 'custom' ? `custom, version ${tool.version ?? '—'}` : 'marketplace'}
                      {tool.provider ? ` · ${tool.provider}` : ''} · installed {formatRelative(tool.createdAt)}
                    </div>
                  </div>
                  {canWrite ? (
                    <Button variant="ghost" onClick={() => setRemoving(tool)}>
                      {tool.kind === 'marketplace' ? 'Uninstall' : 'Delete'} {tool.name}
                    </Button>
                  ) : null}
                </div>
                <p style={{ margin: 0 }}>{tool.description}</p>
                {tool.auth.kind === 'oauth' ? (
                  <p className="muted" style={{ margin: 0 }}>
                    Authorised by a connected {tool.auth.provider ?? ''} account.{' '}
                    <button type="button" className="link-button" onClick={onConnect}>
                      Connected Apps
                    </button>
                  </p>
                ) : null}
                {Object.keys(tool.credentials.schema).length ? <CredentialsForm tool={tool} /> : null}
                <details>
                  <summary>
                    {tool.actions.length} action{tool.actions.length === 1 ? '' : 's'} of {tool.name}
                  </summary>
                  <ul className="plain-list">
                    {tool.actions.map((action) => (
                      <li key={action.name} className="row">
                        <code>{action.name}</code>
                        <span className="muted">{action.description}</span>
                        <ExecuteButton
                          onClick={() => setRunning({ tool, action })}
                          label={`Run ${tool.name}.${action.name}`}
                        />
                      </li>
                    ))}
                  </ul>
                </details>
              </article>
            ))}
          </div>
        )}
      </QueryView>
      <Dialog
        open={running !== undefined}
        onClose={() => setRunning(undefined)}
        title={running ? `Run ${running.tool.name}.${running.action.name}` : 'Run action'}
        wide
      >
        {running ? (
          <ExecuteForm
            key={`${running.tool.name}.${running.action.name}`}
            tool={running.tool}
            action={running.action}
          />
        ) : null}
      </Dialog>
      <ConfirmDialog
        open={removing !== undefined}
        title={removing?.kind === 'custom' ? 'Delete tool?' : 'Uninstall tool?'}
        confirmLabel={removing?.kind === 'custom' ? 'Delete tool' : 'Uninstall tool'}
        onConfirm={() => removing && remove.mutate(removing)}
        onClose={() => setRemoving(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          {removing?.kind === 'custom'
            ? `${removing.name} and all its versions will be deleted.`
            : `${removing?.name} will be uninstalled and its stored credentials removed.`}{' '}
          Agents naming it fail until it is back.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function ExecuteButton({ onClick, label }: { onClick: () => void; label: string }) {
  const canExecute = useCan('tools:execute');
  if (!canExecute) return null;
  return (
    <Button variant="ghost" onClick={onClick}>
      {label}
    </Button>
  );
}

type Source = 'value' | 'secret';

/** The tool's credentials, one input per field of its schema: a value (stored sealed) or an org secret's name. */
function CredentialsForm({ tool }: { tool: Tool }) {
  const fields = Object.entries(tool.credentials.schema);
  const [values, setValues] = useState<Record<string, string>>({});
  const [sources, setSources] = useState<Record<string, Source>>({});
  const [removed, setRemoved] = useState<Record<string, boolean>>({});
  const [formError, setFormError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const canWrite = useCan('tools:write');
  const save = useMutation({
    mutationFn: (body: ToolCredentialsSetRequest) =>
      call('toolsCredentialsSet', { params: { toolName: tool.name }, body }),
    onSuccess: () => {
      setValues({});
      setRemoved({});
      setSaved(true);
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    setFormError(undefined);
    setSaved(false);
    const credentials: ToolCredentialsSetRequest['credentials'] = {};
    for (const [name] of fields) {
      if (removed[name]) credentials[name] = null;
      else if (values[name])
        credentials[name] = sources[name] === 'secret' ? { secret: values[name].trim() } : values[name];
    }
    if (!Object.keys(credentials).length) {
      setFormError('Fill in a field (or mark one to remove) first.');
      return;
    }
    save.mutate({ credentials });
  }
  const missing = tool.credentials.required.filter((name) => !tool.credentials.configured[name]);
  return (
    <form className="stack" onSubmit={submit} aria-label={`Credentials of ${tool.name}`}>
      <strong>Credentials</strong>
      {missing.length ? (
        <p className="muted" style={{ margin: 0 }}>
          <span className="badge warn">
            needs {missing.join(', ')}
            {tool.auth.kind === 'oauth' ? ' or a connected account' : ''}
          </span>
        </p>
      ) : (
        <p className="muted" style={{ margin: 0 }}>
          <span className="badge ok">configured</span>
        </p>
      )}
      <div className="form-grid">
        {fields.map(([name, spec]) => {
          const configured = tool.credentials.configured[name];
          const source = sources[name] ?? 'value';
          const hint = [
            spec.description,
            tool.credentials.required.includes(name) ? 'required' : 'optional',
            configured === 'stored'
              ? 'a value is stored'
              : configured === 'secret'
                ? 'read from an org secret'
                : 'not set',
          ]
            .filter(Boolean)
            .join(' · ');
          return (
            <div key={name} className="stack">
              <Field label={name} hint={hint}>
                {(id, describedBy) => (
                  <input
                    id={id}
                    aria-describedby={describedBy}
                    type={source === 'secret' ? 'text' : 'password'}
                    autoComplete="off"
                    placeholder={source === 'secret' ? 'SECRET_NAME' : configured ? '•••••••• (unchanged)' : ''}
                    pattern={source === 'secret' ? '[A-Za-z_][A-Za-z0-9_]*' : undefined}
                    disabled={!canWrite || removed[name]}
                    value={values[name] ?? ''}
                    onChange={(event) => setValues((current) => ({ ...current, [name]: event.target.value }))}
                  />
                )}
              </Field>
              <div className="row">
                <select
                  aria-label={`Source of ${name}`}
                  value={source}
                  disabled={!canWrite}
                  onChange={(event) => setSources((current) => ({ ...current, [name]: event.target.value as Source }))}
                  style={{ width: 'auto' }}
                >
                  <option value="value">Value</option>
                  <option value="secret">Org secret name</option>
                </select>
                {configured && canWrite ? (
                  <label className="check">
                    <input
                      type="checkbox"
                      checked={removed[name] ?? false}
                      onChange={(event) => setRemoved((current) => ({ ...current, [name]: event.target.checked }))}
                    />{' '}
                    Remove {name}
                  </label>
                ) : null}
              </div>
            </div>
          );
        })}
      </div>
      {formError ? (
        <p className="field-error" role="alert">
          {formError}
        </p>
      ) : null}
      <MutationError error={save.error} />
      {saved ? (
        <p role="status" className="muted" style={{ margin: 0 }}>
          Credentials of {tool.name} saved.
        </p>
      ) : null}
      {canWrite ? (
        <div className="row">
          <Button type="submit" busy={save.isPending}>
            Save credentials for {tool.name}
          </Button>
        </div>
      ) : null}
    </form>
  );
}

/** One call of an action: its parameters from the action's JSON Schema, and the result. */
function ExecuteForm({ tool, action }: { tool: Tool; action: ToolAction }) {
  const schema = action.parameters as JsonSchema;
  const [values, setValues] = useState<Record<string, unknown>>(() => defaultsOf(schema));
  // What the schema says is wrong shows by each field once a run has been tried.
  const [tried, setTried] = useState(false);
  const execute = useMutation({
    mutationFn: (params: Record<string, unknown>) =>
      call('toolsExecute', { params: { toolName: tool.name }, body: { action: action.name, params } }),
  });
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setTried(true);
    if (Object.keys(fieldProblems(schema, values)).length) return;
    // A JSON field whose text does not parse keeps its last good value: nothing runs until it parses.
    if (event.currentTarget.querySelector('[aria-invalid="true"]')) return;
    execute.mutate(values);
  }
  return (
    <form className="stack" onSubmit={submit}>
      <p className="muted" style={{ margin: 0 }}>
        {action.description}
      </p>
      <SchemaForm schema={schema} value={values} onChange={setValues} showProblems={tried} />
      <MutationError error={execute.error} />
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={execute.isPending}>
          Run action
        </Button>
      </div>
      {execute.data ? (
        <section aria-label="Result" className="stack">
          <p className="muted" style={{ margin: 0 }}>
            {execute.data.executionId} · {Math.round(execute.data.durationMs)} ms
          </p>
          <pre className="block" data-testid="tool-result">
            {JSON.stringify(execute.data.result, null, 2)}
          </pre>
        </section>
      ) : null}
    </form>
  );
}
