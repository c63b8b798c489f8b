import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { call } from '../../api/client';
import { sessionQueryKey } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, MutationError, QueryView } from '../../components/ui';

/** The member's dashboard sessions (browsers signed in), each with "End session". */
export function Sessions() {
  const queryClient = useQueryClient();
  const sessions = useQuery({
    queryKey: ['dashboard-sessions', 'list'],
    queryFn: () => call('dashboardSessionsList', { query: { limit: 200 } }),
    refetchInterval: 30_000,
  });
  const end = useMutation({
    mutationFn: ({ sessionId }: { sessionId: string; current: boolean }) =>
      call('dashboardSessionsRevoke', { params: { sessionId } }),
    onSuccess: (_, { current }) => {
      // Ending this browser's own session signs it out.
      if (current) queryClient.setQueryData(sessionQueryKey, null);
    },
  });
  return (
    <section className="stack" aria-labelledby="credentials-sessions">
      <h2 id="credentials-sessions">Sessions</h2>
      <p className="muted">Browsers signed in to this dashboard as you. Ending a session signs that browser out.</p>
      <MutationError error={end.error} />
      <QueryView
        query={sessions}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No active sessions" />}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Browser</th>
                  <th scope="col">Signed in with</th>
                  <th scope="col">Address</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((session) => (
                  <tr key={session.id}>
                    <td>
                      <span className="ellipsis" title={session.userAgent ?? undefined}>
                        {session.userAgent ?? 'unknown browser'}
                      </span>
                      {session.current ? <span className="badge ok">this browser</span> : null}
                      <div className="muted mono">{session.id}</div>
                    </td>
                    <td>
                      {session.via === 'link' ? 'sign-in link' : 'API key'} ({session.key.name},{' '}
                      <span className="mono">{session.key.prefix}</span>)
                    </td>
                    <td className="mono">{session.address ?? '—'}</td>
                    <td title={session.lastSeenAt}>{formatRelative(session.lastSeenAt)}</td>
                    <td title={session.expiresAt}>{formatDateTime(session.expiresAt)}</td>
                    <td>
                      <Button
                        variant={session.current ? 'danger' : 'secondary'}
                        busy={end.isPending && end.variables?.sessionId === session.id}
                        aria-label={session.current ? 'End session (this browser)' : `End session ${session.id}`}
                        onClick={() => end.mutate({ sessionId: session.id, current: session.current })}
                      >
                        End session
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
    </section>
  );
}
