import type { ApiKey, ApiKeyCreated, ConcreteScope } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan, useSession } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, CopyButton, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

/** Every scope a key can hold, resource by resource (the spec's resourceActions, kept as types only here). */
const scopeGroups: { resource: string; scopes: ConcreteScope[] }[] = [
  { resource: 'Organization', scopes: ['orgs:read', 'orgs:write'] },
  { resource: 'Projects', scopes: ['projects:read', 'projects:write'] },
  { resource: 'Members', scopes: ['members:read', 'members:write'] },
  { resource: 'API keys', scopes: ['keys:read', 'keys:write'] },
  { resource: 'Secrets', scopes: ['secrets:read', 'secrets:write'] },
  { resource: 'SSH keys', scopes: ['ssh_keys:read', 'ssh_keys:write'] },
  { resource: 'Sandboxes', scopes: ['sandboxes:read', 'sandboxes:write'] },
  { resource: 'Files', scopes: ['files:read', 'files:write'] },
  { resource: 'Agents', scopes: ['agents:read', 'agents:write'] },
  { resource: 'Tools', scopes: ['tools:read', 'tools:write', 'tools:execute'] },
  { resource: 'Connections', scopes: ['connections:read', 'connections:write'] },
  { resource: 'Workflows', scopes: ['workflows:read', 'workflows:write', 'workflows:execute'] },
  { resource: 'RunMesh', scopes: ['mesh:read', 'mesh:write'] },
];

const expiries = [
  { id: 'never', label: 'Never', days: 0 },
  { id: '7', label: 'In 7 days', days: 7 },
  { id: '30', label: 'In 30 days', days: 30 },
  { id: '90', label: 'In 90 days', days: 90 },
  { id: '365', label: 'In a year', days: 365 },
];

function keyStatus(key: ApiKey): string {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && new Date(key.expiresAt).getTime() < Date.now()) return 'expired';
  return 'active';
}

/** API keys: create (name, scopes, expiry; the key is shown once), list, revoke. */
export function ApiKeys() {
  const canWrite = useCan('keys:write');
  const session = useSession();
  const keys = useQuery({ queryKey: ['keys', 'list'], queryFn: () => call('keysList', { query: { limit: 200 } }) });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey>();
  const revoke = useMutation({
    mutationFn: (keyId: string) => call('keysRevoke', { params: { keyId } }),
    onSuccess: () => setRevoking(undefined),
  });
  return (
    <section className="stack" aria-labelledby="credentials-keys">
      <div className="row spread">
        <h2 id="credentials-keys">API keys</h2>
        {canWrite ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            Create API key
          </Button>
        ) : null}
      </div>
      <QueryView query={keys} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No API keys" />}>
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((key) => {
                  const status = keyStatus(key);
                  return (
                    <tr key={key.id}>
                      <td>
                        {key.name}
                        {key.id === session.key.id ? <span className="badge neutral">this session</span> : null}
                      </td>
                      <td className="mono">{key.prefix}</td>
                      <td className="mono">{key.scopes.join(' ')}</td>
                      <td>
                        <span className={`badge ${status === 'active' ? 'ok' : 'neutral'}`}>{status}</span>
                      </td>
                      <td title={key.lastUsedAt ?? undefined}>
                        {key.lastUsedAt ? formatRelative(key.lastUsedAt) : 'never'}
                      </td>
                      <td title={key.expiresAt ?? undefined}>
                        {key.expiresAt ? formatDateTime(key.expiresAt) : 'never'}
                      </td>
                      <td>
                        {canWrite && status === 'active' ? (
                          <Button variant="ghost" onClick={() => setRevoking(key)}>
                            Revoke {key.name}
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <Dialog open={creating} onClose={() => setCreating(false)} title="New API key" wide>
        <CreateKeyForm onClose={() => setCreating(false)} />
      </Dialog>
      <ConfirmDialog
        open={revoking !== undefined}
        title="Revoke API key?"
        confirmLabel="Revoke key"
        onConfirm={() => revoking && revoke.mutate(revoking.id)}
        onClose={() => setRevoking(undefined)}
        busy={revoke.isPending}
        error={revoke.error}
      >
        <p>
          <strong>{revoking?.name}</strong> ({revoking?.prefix}) stops working at once
          {revoking?.id === session.key.id ? ', and this dashboard session with it' : ''}.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function CreateKeyForm({ onClose }: { onClose: () => void }) {
  const session = useSession();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<string>>(new Set());
  const [expiry, setExpiry] = useState('never');
  const [created, setCreated] = useState<ApiKeyCreated>();
  const create = useMutation({
    mutationFn: () => {
      const days = expiries.find((option) => option.id === expiry)?.days ?? 0;
      return call('keysCreate', {
        body: {
          name: name.trim(),
          scopes: [...scopes],
          ...(days ? { expiresAt: new Date(Date.now() + days * 86_400_000).toISOString() } : {}),
        },
      });
    },
    onSuccess: setCreated,
  });
  if (created)
    return (
      <div className="stack">
        <p role="status">
          API key <strong>{created.name}</strong> created. Copy it now: it is shown only this once.
        </p>
        <code className="block-code" data-testid="api-key-value">
          {created.key}
        </code>
        <div className="form-actions">
          <CopyButton value={created.key} label="Copy key" />
          <Button variant="primary" onClick={onClose}>
            Done
          </Button>
        </div>
      </div>
    );
  const held = new Set(session.scopes);
  const toggle = (scope: string, on: boolean) =>
    setScopes((current) => {
      const next = new Set(current);
      if (on) next.add(scope);
      else next.delete(scope);
      return next;
    });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        create.mutate();
      }}
    >
      <Field label="Name">
        {(id) => (
          <input id={id} required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        )}
      </Field>
      <fieldset className="fieldset">
        <legend>Scopes</legend>
        <p className="hint">A key can do at most what you can; scopes you do not hold are disabled.</p>
        <div className="scope-grid">
          {scopeGroups.map((group) => (
            <div key={group.resource} className="scope-group">
              <strong>{group.resource}</strong>
              {group.scopes.map((scope) => (
                <label key={scope} className="check">
                  <input
                    type="checkbox"
                    checked={scopes.has(scope)}
                    disabled={!held.has(scope)}
                    onChange={(event) => toggle(scope, event.target.checked)}
                  />{' '}
                  <span className="mono">{scope}</span>
                </label>
              ))}
            </div>
          ))}
        </div>
      </fieldset>
      <Field label="Expires">
        {(id) => (
          <select id={id} value={expiry} onChange={(event) => setExpiry(event.target.value)}>
            {expiries.map((option) => (
              <option key={option.id} value={option.id}>
                {option.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      {scopes.size === 0 ? <p className="hint">Choose at least one scope.</p> : null}
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending} disabled={scopes.size === 0}>
          Create key
        </Button>
      </div>
    </form>
  );
}
