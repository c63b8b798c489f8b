import type { Provider, ProviderCreateRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { Button, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';
import { KeyBadge, useModelTable } from './shared';

/** Model providers: the model table with each provider's key status, the org's own endpoints, and their keys. */
export function ProvidersPanel() {
  const canWrite = useCan('agents:write');
  const canSetKeys = useCan('secrets:write');
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<Provider>();
  const [keyFor, setKeyFor] = useState<{ provider: string; secret: string }>();
  const { models, keyStatus } = useModelTable();
  const providers = useQuery({
    queryKey: ['providers'],
    queryFn: () => call('providersList', { query: { limit: 1000 } }),
  });
  const remove = useMutation({
    mutationFn: (name: string) => call('providersDelete', { params: { name } }),
    onSuccess: () => setDeleting(undefined),
  });

  return (
    <div className="stack">
      <section className="stack" aria-labelledby="providers-heading">
        <div className="row spread">
          <h2 id="providers-heading">Model providers</h2>
          {canWrite ? (
            <Button variant="primary" onClick={() => setAdding(true)}>
              Add provider
            </Button>
          ) : null}
        </div>
        <p className="muted">
          Every org has the built-in providers (their keys are org secrets); add an OpenAI-compatible, OpenAI or
          Anthropic endpoint of your own and name its models as <code>name/model-id</code>.
        </p>
        <QueryView query={models} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No models" />}>
          {(data) => {
            const providerRows = data.data.filter((row) => row.alias === null);
            const registered = new Map((providers.data?.data ?? []).map((provider) => [provider.name, provider]));
            return (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Provider</th>
                      <th scope="col">Key</th>
                      <th scope="col">Endpoint</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {providerRows.map((row) => {
                      const own = registered.get(row.provider);
                      const status = keyStatus(row);
                      return (
                        <tr key={row.provider}>
                          <td>
                            <strong>{row.provider}</strong>{' '}
                            <span className="badge neutral">{own ? own.type : 'built-in'}</span>
                          </td>
                          <td>
                            <KeyBadge status={status} secret={row.secret} />
                            {row.secret ? (
                              <div className="muted">
                                <code>{row.secret}</code>
                              </div>
                            ) : null}
                          </td>
                          <td>
                            {own ? (
                              <>
                                <code>{own.baseUrl}</code>
                                <div className="muted">added {formatRelative(own.createdAt)}</div>
                              </>
                            ) : (
                              <span className="muted">built in</span>
                            )}
                          </td>
                          <td>
                            <div className="row">
                              {canSetKeys && row.secret ? (
                                <Button
                                  variant="ghost"
                                  onClick={() =>
                                    row.secret && setKeyFor({ provider: row.provider, secret: row.secret })
                                  }
                                >
                                  {status === 'key set' ? 'Replace key' : 'Set key'} for {row.provider}
                                </Button>
                              ) : null}
                              {canWrite && own ? (
                                <Button variant="ghost" onClick={() => setDeleting(own)}>
                                  Remove {row.provider}
                                </Button>
                              ) : null}
                            </div>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            );
          }}
        </QueryView>
        {providers.isError ? <MutationError error={providers.error} /> : null}
      </section>
      <section className="stack section" aria-labelledby="model-table-heading">
        <h2 id="model-table-heading">Model table</h2>
        <QueryView query={models} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No models" />}>
          {(data) => (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Provider model</th>
                    <th scope="col">Key</th>
                  </tr>
                </thead>
                <tbody>
                  {data.data
                    .filter((row) => row.alias !== null)
                    .map((row) => (
                      <tr key={row.alias}>
                        <td>
                          <code>{row.alias}</code>
                        </td>
                        <td>
                          {row.provider}/{row.modelId}
                        </td>
                        <td>
                          <KeyBadge status={keyStatus(row)} secret={row.secret} />
                        </td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          )}
        </QueryView>
      </section>
      <Dialog open={adding} onClose={() => setAdding(false)} title="Add provider">
        <AddProviderForm onClose={() => setAdding(false)} />
      </Dialog>
      <Dialog
        open={keyFor !== undefined}
        onClose={() => setKeyFor(undefined)}
        title={`Key for ${keyFor?.provider ?? ''}`}
      >
        {keyFor ? <SetKeyForm secret={keyFor.secret} onClose={() => setKeyFor(undefined)} /> : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Remove provider?"
        confirmLabel="Remove provider"
        onConfirm={() => deleting && remove.mutate(deleting.name)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          Agents naming <strong>{deleting?.name}/…</strong> models will fail to run until it is added again.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function AddProviderForm({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [type, setType] = useState<ProviderCreateRequest['type']>('openai-compatible');
  const [baseUrl, setBaseUrl] = useState('');
  const [apiKeySecret, setApiKeySecret] = useState('');
  const create = useMutation({
    mutationFn: (body: ProviderCreateRequest) => call('providersCreate', { body }),
    onSuccess: onClose,
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ name, type, baseUrl, ...(apiKeySecret ? { apiKeySecret } : {}) });
  }
  return (
    <form className="stack" onSubmit={submit}>
      <Field label="Provider name" hint="agents name its models as name/model-id">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            required
            pattern="[a-z0-9]+(-[a-z0-9]+)*"
            maxLength={63}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        )}
      </Field>
      <Field label="Protocol">
        {(id) => (
          <select
            id={id}
            value={type}
            onChange={(event) => setType(event.target.value as ProviderCreateRequest['type'])}
          >
            <option value="openai-compatible">OpenAI-compatible</option>
            <option value="openai">OpenAI</option>
            <option value="anthropic">Anthropic</option>
          </select>
        )}
      </Field>
      <Field label="Base URL" hint="e.g. http://localhost:11434/v1">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            type="url"
            required
            value={baseUrl}
            onChange={(event) => setBaseUrl(event.target.value)}
          />
        )}
      </Field>
      <Field label="API key secret" hint="the org secret holding its key, if it needs one (e.g. LOCAL_API_KEY)">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            pattern="[A-Za-z_][A-Za-z0-9_]*"
            value={apiKeySecret}
            onChange={(event) => setApiKeySecret(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Add provider
        </Button>
      </div>
    </form>
  );
}

/** Stores a provider key as the org secret its provider reads (category provider); the value is never shown again. */
function SetKeyForm({ secret, onClose }: { secret: string; onClose: () => void }) {
  const [value, setValue] = useState('');
  const save = useMutation({
    mutationFn: () => call('secretsSet', { body: { name: secret, value, category: 'provider' } }),
    onSuccess: onClose,
  });
  return (
    <form
      className="stack"
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <Field label="API key" hint={`stored sealed as the org secret ${secret}; it is never shown again`}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            type="password"
            autoComplete="off"
            required
            value={value}
            onChange={(event) => setValue(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={save.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={save.isPending}>
          Save key
        </Button>
      </div>
    </form>
  );
}
