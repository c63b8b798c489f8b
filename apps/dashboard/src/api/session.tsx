import type { DashboardSession } from '@runtools/spec';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect } from 'react';
import { ApiError, call, setCsrfToken, setUnauthenticatedHandler } from './client';

const SessionContext = createContext<DashboardSession | undefined>(undefined);

/** The signed-in member's session; only rendered inside <SessionGate>, so always there. */
export function useSession(): DashboardSession {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

/** Whether the session may do this (one of `scopes`): pages hide what the member's role or key does not allow. */
export function useCan(...scopes: string[]): boolean {
  const session = useSession();
  return scopes.some((scope) => session.scopes.includes(scope));
}

export const sessionQueryKey = ['dashboard-session'];

/** Loads the session (the cookie's), sets the CSRF token for every later call, and shows `signIn` without one. */
export function SessionGate({ children, signIn }: { children: ReactNode; signIn: ReactNode }) {
  const queryClient = useQueryClient();
  const query = useQuery({
    queryKey: sessionQueryKey,
    queryFn: async () => {
      try {
        return await call('dashboardSessionGet');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
  useEffect(() => {
    setCsrfToken(query.data?.csrfToken);
  }, [query.data]);
  useEffect(() => {
    setUnauthenticatedHandler(() => queryClient.setQueryData(sessionQueryKey, null));
    return () => setUnauthenticatedHandler(undefined);
  }, [queryClient]);
  if (query.isPending)
    return (
      <div className="center-page" role="status">
        Loading…
      </div>
    );
  if (query.isError)
    return (
      <div className="center-page" role="alert">
        <p>Could not reach the RunTools server: {query.error.message}</p>
        <button type="button" className="button" onClick={() => query.refetch()}>
          Retry
        </button>
      </div>
    );
  if (!query.data) return <>{signIn}</>;
  // The token must be set before children fire their first mutation.
  setCsrfToken(query.data.csrfToken);
  return <SessionContext.Provider value={query.data}>{children}</SessionContext.Provider>;
}
