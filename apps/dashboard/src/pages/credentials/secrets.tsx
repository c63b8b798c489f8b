import type { SecretCategory, SecretMetadata } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { Button, CopyButton, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

const categories: readonly SecretCategory[] = ['custom', 'provider', 'tool'];

/** Secrets: names and categories listed, values hidden until revealed (secrets:read), set, update, delete. */
export function Secrets() {
  const canWrite = useCan('secrets:write');
  const canRead = useCan('secrets:read');
  const secrets = useQuery({
    queryKey: ['secrets', 'list'],
    queryFn: () => call('secretsList', { query: { limit: 200 } }),
  });
  const [editing, setEditing] = useState<SecretMetadata | 'new'>();
  const [deleting, setDeleting] = useState<SecretMetadata>();
  const remove = useMutation({
    mutationFn: (name: string) => call('secretsDelete', { params: { name } }),
    onSuccess: () => setDeleting(undefined),
  });
  return (
    <section className="stack" aria-labelledby="credentials-secrets">
      <div className="row spread">
        <h2 id="credentials-secrets">Secrets</h2>
        {canWrite ? (
          <Button variant="primary" onClick={() => setEditing('new')}>
            New secret
          </Button>
        ) : null}
      </div>
      <QueryView
        query={secrets}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No secrets yet">Secrets feed model providers, tools and sandboxes.</EmptyState>}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Category</th>
                  <th scope="col">Value</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((secret) => (
                  <tr key={secret.id}>
                    <td className="mono">{secret.name}</td>
                    <td>{secret.category}</td>
                    <td>
                      <SecretValueCell name={secret.name} canRead={canRead} />
                    </td>
                    <td title={secret.updatedAt}>{formatRelative(secret.updatedAt)}</td>
                    <td>
                      {canWrite ? (
                        <div className="row">
                          <Button variant="ghost" onClick={() => setEditing(secret)}>
                            Update {secret.name}
                          </Button>
                          <Button variant="ghost" onClick={() => setDeleting(secret)}>
                            Delete {secret.name}
                          </Button>
                        </div>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <Dialog
        open={editing !== undefined}
        onClose={() => setEditing(undefined)}
        title={editing === 'new' ? 'New secret' : 'Update secret'}
      >
        {editing ? (
          <SecretForm secret={editing === 'new' ? undefined : editing} onClose={() => setEditing(undefined)} />
        ) : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete secret?"
        confirmLabel="Delete secret"
        onConfirm={() => deleting && remove.mutate(deleting.name)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong className="mono">{deleting?.name}</strong> is deleted; whatever uses it stops getting it.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function SecretValueCell({ name, canRead }: { name: string; canRead: boolean }) {
  const [shown, setShown] = useState(false);
  const value = useQuery({
    queryKey: ['secrets', 'value', name],
    queryFn: () => call('secretsGet', { params: { name } }),
    enabled: shown,
    staleTime: 0,
    gcTime: 0,
  });
  if (!canRead) return <span className="muted">hidden</span>;
  if (!shown)
    return (
      <span className="row">
        <span aria-hidden="true">••••••••</span>
        <Button variant="ghost" onClick={() => setShown(true)}>
          Reveal {name}
        </Button>
      </span>
    );
  return (
    <span className="row">
      {value.isPending ? (
        <span className="muted">Loading…</span>
      ) : value.isError ? (
        <span className="field-error" role="alert">
          {value.error.message}
        </span>
      ) : (
        <>
          <code className="mono secret-value">{value.data.value}</code>
          <CopyButton value={value.data.value} label={`Copy ${name}`} />
        </>
      )}
      <Button variant="ghost" onClick={() => setShown(false)}>
        Hide {name}
      </Button>
    </span>
  );
}

function SecretForm({ secret, onClose }: { secret?: SecretMetadata; onClose: () => void }) {
  const [name, setName] = useState(secret?.name ?? '');
  const [value, setValue] = useState('');
  const [category, setCategory] = useState<SecretCategory>(secret?.category ?? 'custom');
  const save = useMutation({
    mutationFn: () => call('secretsSet', { body: { name: name.trim(), value, category } }),
    onSuccess: onClose,
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <Field label="Name" hint="like an environment variable: letters, digits and underscores">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            required
            readOnly={secret !== undefined}
            pattern="[A-Za-z_][A-Za-z0-9_]*"
            maxLength={128}
            className="mono"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        )}
      </Field>
      <Field label="Value" hint={secret ? 'the new value replaces the old one' : undefined}>
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            required
            rows={3}
            className="mono"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(event) => setValue(event.target.value)}
          />
        )}
      </Field>
      <Field label="Category">
        {(id) => (
          <select id={id} value={category} onChange={(event) => setCategory(event.target.value as SecretCategory)}>
            {categories.map((option) => (
              <option key={option} value={option}>
                {option}
              </option>
            ))}
          </select>
        )}
      </Field>
      <MutationError error={save.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={save.isPending}>
          Save secret
        </Button>
      </div>
    </form>
  );
}
