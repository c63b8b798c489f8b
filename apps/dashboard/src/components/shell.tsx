import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link, Outlet, useRouterState } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { call } from '../api/client';
import { sessionQueryKey, useSession } from '../api/session';
import { ProjectSwitcher } from './projects';

/** The sidebar's sections, in the order a new user meets them. */
export const navigation: { to: string; label: string }[] = [
  { to: '/sandboxes', label: 'Sandboxes' },
  { to: '/templates', label: 'Templates' },
  { to: '/workspaces', label: 'Workspaces' },
  { to: '/agents', label: 'Agents' },
  { to: '/tools', label: 'Tools' },
  { to: '/workflows', label: 'Workflows' },
  { to: '/credentials', label: 'Credentials' },
  { to: '/mesh', label: 'RunMesh' },
  { to: '/settings', label: 'Settings' },
];

/** The signed-in frame: a skip link, the sidebar (a drawer under 800 px), the member's menu, and the page. */
export function Shell() {
  const session = useSession();
  const queryClient = useQueryClient();
  const [menuOpen, setMenuOpen] = useState(false);
  const pathname = useRouterState({ select: (state) => state.location.pathname });
  // A link followed on a phone closes the drawer.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each navigation on purpose
  useEffect(() => setMenuOpen(false), [pathname]);
  const signOut = useMutation({
    mutationFn: () => call('dashboardSessionEnd'),
    // Only once the server has ended the session; and nothing the member saw stays in memory for the next one.
    onSuccess: () => {
      // Everything but the session query itself, which the page is watching for the sign-in form.
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== sessionQueryKey[0] });
      queryClient.setQueryData(sessionQueryKey, null);
    },
  });
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="icon-button menu-toggle"
          aria-label="Menu"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((open) => !open)}
        >
          ☰
        </button>
        <Link to="/" className="brand">
          RunTools
        </Link>
        <span className="org-name" title={session.org.slug}>
          {session.org.name}
        </span>
        <ProjectSwitcher />
        <div className="topbar-end">
          <span className="member" title={`${session.role} · key ${session.key.prefix}`}>
            {session.member.email} <span className="badge neutral">{session.role}</span>
          </span>
          <button type="button" className="button ghost" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
            Sign out
          </button>
          {signOut.isError ? (
            <span className="field-error" role="alert">
              Not signed out: {signOut.error.message}
            </span>
          ) : null}
        </div>
      </header>
      <nav id="sidebar" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main">
        <ul>
          {navigation.map((item) => (
            <li key={item.to}>
              <Link to={item.to} activeProps={{ className: 'active', 'aria-current': 'page' }}>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
