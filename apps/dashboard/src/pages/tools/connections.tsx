import type { OAuthConnection, OAuthProvider } from '@runtools/spec';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useEffect, useRef, useState } from 'react';
import { call } from '../../api/client';
import { useCan, useSession } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, MutationError, QueryView, StatusBadge } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

type Flow = { provider: string; connectionId?: string; url?: string; blocked?: boolean; outcome?: string };

/**
 * Connected Apps: accounts connected through the OAuth broker. Connecting opens the provider's consent page in
 * a popup (opened on the click, so no popup blocker stops it, then pointed at the authorization URL the API
 * answers) and follows the connection until it is active or failed.
 */
export function ConnectedApps() {
  const canWrite = useCan('connections:write');
  const session = useSession();
  const queryClient = useQueryClient();
  const [flow, setFlow] = useState<Flow>();
  const [revoking, setRevoking] = useState<OAuthConnection>();
  const popupRef = useRef<Window | null>(null);
  const providers = useQuery({
    queryKey: ['oauth', 'providers'],
    queryFn: () => call('oauthProviders', { query: { limit: 100 } }),
  });
  const connections = useQuery({
    queryKey: ['oauth', 'connections'],
    queryFn: () => call('oauthConnectionsList', { query: { limit: 1000 } }),
    refetchInterval: (query) =>
      query.state.data?.data.some((connection) => connection.status === 'pending') ? 2000 : 15_000,
  });

  const connect = useMutation({
    mutationFn: (input: { provider: OAuthProvider['id']; scopes?: string[] }) =>
      call('oauthConnectionsCreate', {
        body: { provider: input.provider, ...(input.scopes ? { scopes: input.scopes } : {}) },
      }),
    onSuccess: (started) => {
      const popup = popupRef.current;
      if (popup && !popup.closed) {
        popup.location.href = started.authorizationUrl;
        setFlow({
          provider: started.connection.provider,
          connectionId: started.connection.id,
          url: started.authorizationUrl,
        });
      } else
        setFlow({
          provider: started.connection.provider,
          connectionId: started.connection.id,
          url: started.authorizationUrl,
          blocked: true,
        });
    },
    onError: () => {
      popupRef.current?.close();
      popupRef.current = null;
    },
  });

  function start(provider: OAuthProvider['id'], scopes?: string[]) {
    // Opened now, inside the click: a window opened after the API answers would be blocked as a popup.
    popupRef.current = window.open('about:blank', 'runtools-oauth', 'popup,width=600,height=720');
    setFlow({ provider });
    connect.mutate({ provider, ...(scopes?.length ? { scopes } : {}) });
  }

  // Follows the connection being made until it leaves pending (or the popup is closed and it stays pending).
  const connectionId = flow?.connectionId;
  useEffect(() => {
    if (!connectionId) return;
    let stopped = false;
    const timer = setInterval(async () => {
      try {
        const connection = await call('oauthConnectionsGet', { params: { connectionId } });
        if (stopped) return;
        if (connection.status !== 'pending') {
          clearInterval(timer);
          if (popupRef.current && !popupRef.current.closed) popupRef.current.close();
          setFlow((current) =>
            current?.connectionId === connectionId
              ? {
                  ...current,
                  outcome:
                    connection.status === 'active'
                      ? `Connected ${connection.account?.login ?? connection.account?.email ?? connection.provider}.`
                      : `The connection ${connection.status === 'failed' ? 'failed' : 'needs another try'}${connection.error ? `: ${connection.error.message}` : '.'}`,
                }
              : current,
          );
          void queryClient.invalidateQueries({ queryKey: ['oauth'] });
        }
      } catch {
        // A blip: asked again on the next tick.
      }
    }, 1500);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [connectionId, queryClient]);

  const revoke = useMutation({
    mutationFn: (connection: OAuthConnection) =>
      call('oauthConnectionsDelete', { params: { connectionId: connection.id } }),
    onSuccess: () => setRevoking(undefined),
  });

  const providerName = (id: string) => providers.data?.data.find((provider) => provider.id === id)?.name ?? id;

  return (
    <section className="stack" aria-labelledby="connected-apps-heading">
      <h2 id="connected-apps-heading">Connected Apps</h2>
      <p className="muted" style={{ margin: 0 }}>
        Accounts the OAuth tools act as. Their tokens stay on the server; connect in a popup, revoke any time.
      </p>
      {flow ? (
        <div className="card stack" role="status">
          {flow.outcome ? (
            <p style={{ margin: 0 }}>{flow.outcome}</p>
          ) : connect.isPending ? (
            <p style={{ margin: 0 }}>Starting the connection to {providerName(flow.provider)}…</p>
          ) : flow.url ? (
            <p style={{ margin: 0 }}>
              Waiting for your consent at {providerName(flow.provider)}…{' '}
              {flow.blocked ? 'Your browser blocked the popup: ' : 'No popup? '}
              <a href={flow.url} target="_blank" rel="noopener noreferrer">
                Open the consent page
              </a>
            </p>
          ) : null}
          <MutationError error={connect.error} />
          <div className="row">
            <Button variant="ghost" onClick={() => setFlow(undefined)}>
              Dismiss
            </Button>
          </div>
        </div>
      ) : null}
      <h3>Providers</h3>
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
                  <th scope="col">OAuth app</th>
                  <th scope="col">Tools</th>
                  <th scope="col">Connect</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((provider) => (
                  <tr key={provider.id}>
                    <td>
                      <strong>{provider.name}</strong>
                    </td>
                    <td>
                      {provider.configured ? (
                        <span className="badge ok">registered</span>
                      ) : (
                        <>
                          <span className="badge neutral">no app</span>
                          <div className="muted">
                            an admin registers it in <Link to="/credentials">Credentials</Link>
                          </div>
                        </>
                      )}
                    </td>
                    <td>{provider.tools.join(', ') || '—'}</td>
                    <td>
                      {canWrite ? (
                        <Button
                          disabled={!provider.configured}
                          busy={connect.isPending && flow?.provider === provider.id}
                          onClick={() => start(provider.id)}
                        >
                          Connect {provider.name}
                        </Button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <h3>Connections</h3>
      <QueryView
        query={connections}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No connected accounts">Connect one above.</EmptyState>}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Account</th>
                  <th scope="col">Status</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Token expires</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((connection) => {
                  const who = connection.account?.login ?? connection.account?.email ?? connection.account?.id ?? '—';
                  const mine = connection.memberId === session.member?.id;
                  return (
                    <tr key={connection.id}>
                      <td>
                        <strong>{providerName(connection.provider)}</strong> {who}{' '}
                        {connection.isDefault ? <span className="badge neutral">org default</span> : null}
                        <div className="muted">
                          {mine ? 'yours' : `member ${connection.memberId}`} · connected{' '}
                          {formatRelative(connection.createdAt)}
                        </div>
                      </td>
                      <td>
                        <StatusBadge status={connection.status} />
                        {connection.error ? <div className="muted">{connection.error.message}</div> : null}
                      </td>
                      <td className="muted">{connection.scopes.join(' ') || '—'}</td>
                      <td title={formatDateTime(connection.expiresAt)}>
                        {connection.expiresAt ? formatRelative(connection.expiresAt) : '—'}
                      </td>
                      <td>
                        {canWrite ? (
                          <div className="row">
                            {connection.status === 'needs_reauth' || connection.status === 'failed' ? (
                              <Button variant="primary" onClick={() => start(connection.provider, connection.scopes)}>
                                Reconnect {providerName(connection.provider)} {who}
                              </Button>
                            ) : null}
                            <Button variant="ghost" onClick={() => setRevoking(connection)}>
                              Revoke {providerName(connection.provider)} {who}
                            </Button>
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
      <ConfirmDialog
        open={revoking !== undefined}
        title="Revoke connection?"
        confirmLabel="Revoke connection"
        onConfirm={() => revoking && revoke.mutate(revoking)}
        onClose={() => setRevoking(undefined)}
        busy={revoke.isPending}
        error={revoke.error}
      >
        <p>
          The {revoking ? providerName(revoking.provider) : ''} account's tokens are deleted (and revoked at the
          provider where it allows). Tools using it stop working until an account is connected again.
        </p>
      </ConfirmDialog>
    </section>
  );
}
