import type { OAuthApp, OAuthProvider } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { Button, CopyButton, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

/** OAuth apps: the org's client id and secret per provider, which Connected Apps sign in through. */
export function OAuthApps() {
  const canWrite = useCan('connections:write');
  const providers = useQuery({
    queryKey: ['oauth', 'providers'],
    queryFn: () => call('oauthProviders', { query: { limit: 100 } }),
  });
  const apps = useQuery({
    queryKey: ['oauth', 'apps'],
    queryFn: () => call('oauthAppsList', { query: { limit: 100 } }),
  });
  const [editing, setEditing] = useState<OAuthProvider>();
  const [deleting, setDeleting] = useState<OAuthProvider>();
  const remove = useMutation({
    mutationFn: (provider: OAuthProvider['id']) => call('oauthAppDelete', { params: { provider } }),
    onSuccess: () => setDeleting(undefined),
  });
  const byProvider = new Map<string, OAuthApp>((apps.data?.data ?? []).map((app) => [app.provider, app]));
  return (
    <section className="stack" aria-labelledby="credentials-oauth">
      <h2 id="credentials-oauth">OAuth apps</h2>
      <p className="muted">
        Register an OAuth app with a provider (its redirect URL is the callback below), then enter its client id and
        secret here. The secret is stored sealed and never shown again.
      </p>
      <QueryView
        query={providers}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No OAuth providers" />}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Client ID</th>
                  <th scope="col">Callback URL</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((provider) => {
                  const app = byProvider.get(provider.id);
                  return (
                    <tr key={provider.id}>
                      <td>
                        {provider.name}
                        <div>
                          <span className={`badge ${app ? 'ok' : 'neutral'}`}>
                            {app ? 'configured' : 'not configured'}
                          </span>
                        </div>
                      </td>
                      <td className="mono">{app?.clientId ?? '—'}</td>
                      <td>
                        <span className="mono">{provider.callbackUrl}</span>{' '}
                        <CopyButton value={provider.callbackUrl} label={`Copy ${provider.name} callback URL`} />
                      </td>
                      <td>{app ? formatRelative(app.updatedAt) : '—'}</td>
                      <td>
                        {canWrite ? (
                          <div className="row">
                            <Button variant="ghost" onClick={() => setEditing(provider)}>
                              {app ? `Change ${provider.name} app` : `Configure ${provider.name}`}
                            </Button>
                            {app ? (
                              <Button variant="ghost" onClick={() => setDeleting(provider)}>
                                Remove {provider.name} app
                              </Button>
                            ) : null}
                          </div>
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
      <Dialog
        open={editing !== undefined}
        onClose={() => setEditing(undefined)}
        title={editing ? `${editing.name} OAuth app` : 'OAuth app'}
      >
        {editing ? (
          <OAuthAppForm
            provider={editing}
            clientId={byProvider.get(editing.id)?.clientId}
            onClose={() => setEditing(undefined)}
          />
        ) : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Remove OAuth app?"
        confirmLabel="Remove app"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>New {deleting?.name} connections cannot be made until an app is configured again.</p>
      </ConfirmDialog>
    </section>
  );
}

function OAuthAppForm({
  provider,
  clientId: current,
  onClose,
}: {
  provider: OAuthProvider;
  clientId: string | undefined;
  onClose: () => void;
}) {
  const [clientId, setClientId] = useState(current ?? '');
  const [clientSecret, setClientSecret] = useState('');
  const save = useMutation({
    mutationFn: () =>
      call('oauthAppSet', { params: { provider: provider.id }, body: { clientId: clientId.trim(), clientSecret } }),
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
      <p className="muted">
        Redirect URL to register: <span className="mono">{provider.callbackUrl}</span>
      </p>
      <Field label="Client ID">
        {(id) => (
          <input
            id={id}
            required
            maxLength={512}
            pattern="\S+"
            className="mono"
            value={clientId}
            onChange={(event) => setClientId(event.target.value)}
          />
        )}
      </Field>
      <Field label="Client secret" hint={current ? 'enter it again to change the app' : undefined}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            type="password"
            required
            maxLength={4096}
            autoComplete="off"
            value={clientSecret}
            onChange={(event) => setClientSecret(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={save.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={save.isPending}>
          Save OAuth app
        </Button>
      </div>
    </form>
  );
}
