import type { SandboxUrl } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime } from '../../components/format';
import { Button, CopyButton, EmptyState, Field, MutationError, QueryView } from '../../components/ui';

/** Dev URLs: expose a port, open it, copy a signed link to a private one, make it public, revoke it. */
export function SandboxUrls({ sandboxId, live }: { sandboxId: string; live: boolean }) {
  const canWrite = useCan('sandboxes:write') && live;
  const [port, setPort] = useState('');
  const [makePublic, setMakePublic] = useState(false);
  const [subdomain, setSubdomain] = useState('');
  // Signed links handed out in this visit, by port (the list does not repeat them).
  const [signed, setSigned] = useState<Record<number, SandboxUrl>>({});

  const list = useQuery({
    queryKey: ['sandboxes', 'urls', sandboxId],
    queryFn: () => call('sandboxesUrlsList', { params: { sandboxId }, query: { limit: 1000 } }),
    refetchInterval: 10_000,
  });
  const expose = useMutation({
    mutationFn: (body: { port: number; public?: boolean; subdomain?: string }) =>
      call('sandboxesUrlsCreate', { params: { sandboxId }, body }),
    onSuccess: (url) => {
      if (url.signedUrl) setSigned((current) => ({ ...current, [url.port]: url }));
    },
  });
  const revoke = useMutation({
    mutationFn: (value: number) => call('sandboxesUrlsDelete', { params: { sandboxId, port: value } }),
    onSuccess: (_, value) =>
      setSigned((current) => {
        const next = { ...current };
        delete next[value];
        return next;
      }),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    expose.mutate({
      port: Number(port),
      ...(makePublic ? { public: true } : {}),
      ...(subdomain ? { subdomain } : {}),
    });
  }

  return (
    <div className="stack">
      <h2>Dev URLs</h2>
      {canWrite ? (
        <form onSubmit={submit} className="card stack" aria-label="Expose a port">
          <div className="form-grid">
            <Field label="Port">
              {(id) => (
                <input
                  id={id}
                  type="number"
                  min={1}
                  max={65535}
                  required
                  value={port}
                  onChange={(event) => setPort(event.target.value)}
                />
              )}
            </Field>
            <Field label="Subdomain" hint="optional custom host label">
              {(id, describedBy) => (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  value={subdomain}
                  onChange={(event) => setSubdomain(event.target.value)}
                />
              )}
            </Field>
          </div>
          <label className="check">
            <input type="checkbox" checked={makePublic} onChange={(event) => setMakePublic(event.target.checked)} />{' '}
            Public (reachable without a key or signed link)
          </label>
          <MutationError error={expose.error} />
          <div className="row">
            <Button type="submit" variant="primary" busy={expose.isPending}>
              Expose port
            </Button>
          </div>
        </form>
      ) : null}
      <MutationError error={revoke.error} />
      <QueryView
        query={list}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No dev URLs">Expose a port to reach a server running in the sandbox.</EmptyState>}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Port</th>
                  <th scope="col">URL</th>
                  <th scope="col">Access</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((url) => {
                  const link = signed[url.port] ?? (url.signedUrl ? url : undefined);
                  return (
                    <tr key={url.port}>
                      <td>{url.port}</td>
                      <td>
                        <a href={link?.signedUrl ?? url.url} target="_blank" rel="noreferrer">
                          {url.url}
                        </a>
                        {link?.signedUrl ? (
                          <div className="muted">Signed link until {formatDateTime(link.signedUrlExpiresAt)}</div>
                        ) : null}
                      </td>
                      <td>{url.public ? 'public' : 'private'}</td>
                      <td>
                        <div className="row">
                          {!url.public && link?.signedUrl ? (
                            <CopyButton value={link.signedUrl} label={`Copy signed link for port ${url.port}`} />
                          ) : null}
                          {canWrite && !url.public && !link?.signedUrl ? (
                            <Button
                              variant="ghost"
                              onClick={() => expose.mutate({ port: url.port })}
                              busy={expose.isPending && expose.variables?.port === url.port}
                            >
                              Signed link for port {url.port}
                            </Button>
                          ) : null}
                          {canWrite && !url.public ? (
                            <Button variant="ghost" onClick={() => expose.mutate({ port: url.port, public: true })}>
                              Make port {url.port} public
                            </Button>
                          ) : null}
                          {canWrite ? (
                            <Button
                              variant="danger"
                              busy={revoke.isPending && revoke.variables === url.port}
                              onClick={() => revoke.mutate(url.port)}
                            >
                              Revoke port {url.port}
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
        )}
      </QueryView>
    </div>
  );
}
