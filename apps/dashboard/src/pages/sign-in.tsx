import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { ApiError, call } from '../api/client';
import { sessionQueryKey } from '../api/session';
import { Button, Field } from '../components/ui';

/**
 * Signs in with a link from `runtools dashboard` (its token is in the URL's fragment, which no server sees) or
 * with a pasted API key. Either makes an HttpOnly session cookie; the key is never stored in the browser.
 */
export function SignInPage() {
  const queryClient = useQueryClient();
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const linkRead = useRef(false);
  const [linkToken, setLinkToken] = useState<string>();

  async function signIn(body: { apiKey: string } | { linkToken: string }) {
    setBusy(true);
    setError(undefined);
    try {
      const session = await call('dashboardSessionsCreate', { body });
      queryClient.setQueryData(sessionQueryKey, session);
    } catch (caught) {
      setError(
        caught instanceof ApiError
          ? `${caught.message}${caught.code === 'sign_in_link_invalid' ? ' Run `runtools dashboard` for a new link.' : ''}`
          : String(caught),
      );
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    const token = /^#(rtl_[A-Za-z0-9_-]{43})$/.exec(window.location.hash)?.[1];
    if (!token || linkRead.current) return;
    linkRead.current = true;
    // The token is single use: take it out of the address bar and the history at once. It is used only on a
    // click: a link someone else sent would otherwise sign this browser in to their account, unasked.
    window.history.replaceState(null, '', window.location.pathname === '/sign-in' ? '/' : window.location.pathname);
    setLinkToken(token);
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    if (apiKey.trim()) void signIn({ apiKey: apiKey.trim() });
  }

  return (
    <main className="center-page sign-in" id="main">
      <div className="card sign-in-card">
        <h1>Sign in to RunTools</h1>
        <p className="muted">
          Run <code>runtools dashboard</code> for a one-time sign-in link, or paste an API key. The key is exchanged for
          a session cookie and is not kept in this browser.
        </p>
        {linkToken ? (
          <div className="stack link-sign-in">
            <p>
              This sign-in link signs you in as the member who ran <code>runtools dashboard</code>. Continue only if
              that was you.
            </p>
            <div className="row">
              <Button variant="primary" busy={busy} onClick={() => void signIn({ linkToken })}>
                Continue with the sign-in link
              </Button>
              <Button onClick={() => setLinkToken(undefined)}>Not me</Button>
            </div>
          </div>
        ) : null}
        <form onSubmit={submit}>
          <Field label="API key" error={error}>
            {(id, describedBy) => (
              <input
                id={id}
                type="password"
                autoComplete="off"
                spellCheck={false}
                placeholder="rt_…"
                value={apiKey}
                aria-describedby={describedBy}
                onChange={(event) => setApiKey(event.target.value)}
              />
            )}
          </Field>
          <Button type="submit" variant="primary" busy={busy} disabled={!apiKey.trim()}>
            Sign in
          </Button>
        </form>
      </div>
    </main>
  );
}
