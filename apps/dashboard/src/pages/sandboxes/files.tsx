import type { SandboxFileEntry } from '@runtools/spec';
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call, routeUrl } from '../../api/client';
import { useCan } from '../../api/session';
import { formatBytes, formatRelative } from '../../components/format';
import { Button, EmptyState, ErrorState, Field, Loading, MutationError } from '../../components/ui';
import { Breadcrumb, base64ToText, ConfirmDialog, joinPath, looksBinary, textToBase64, UploadZone } from './shared';

/** The largest file the editor opens (the rest download). */
const maxEditBytes = 2 * 1024 * 1024;

/** The sandbox's file browser: list, open and edit text, upload (drop or pick, streamed), download, delete, mkdir. */
export function SandboxFiles({ sandboxId }: { sandboxId: string }) {
  const canWrite = useCan('files:write');
  const [dir, setDir] = useState('/');
  const [editing, setEditing] = useState<string>();
  const [deleting, setDeleting] = useState<string>();
  const [newDir, setNewDir] = useState('');

  const list = useInfiniteQuery({
    queryKey: ['sandboxes', 'files', sandboxId, dir],
    queryFn: ({ pageParam }) =>
      call('sandboxFilesList', { params: { sandboxId }, query: { path: dir, limit: 1000, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const entries = list.data?.pages.flatMap((page) => page.data) ?? [];
  const sorted = [...entries].sort((a, b) =>
    a.type === 'dir' && b.type !== 'dir' ? -1 : b.type === 'dir' && a.type !== 'dir' ? 1 : 0,
  );

  const mkdir = useMutation({
    mutationFn: (path: string) => call('sandboxFilesMkdir', { params: { sandboxId }, body: { path } }),
    onSuccess: () => setNewDir(''),
  });
  const remove = useMutation({
    mutationFn: (path: string) => call('sandboxFilesRemove', { params: { sandboxId }, body: { path } }),
    onSuccess: () => setDeleting(undefined),
  });

  function open(entry: SandboxFileEntry) {
    const path = joinPath(dir, entry.name);
    if (entry.type === 'dir') {
      setDir(path);
      setEditing(undefined);
    } else setEditing(path);
  }

  return (
    <div className="stack">
      <h2>Files</h2>
      <Breadcrumb path={dir} onOpen={setDir} label="Sandbox folder" />
      {canWrite ? (
        <div className="row files-toolbar">
          <form
            className="row"
            onSubmit={(event: FormEvent) => {
              event.preventDefault();
              if (newDir.trim()) mkdir.mutate(joinPath(dir, newDir.trim()));
            }}
          >
            <input
              aria-label="New folder name"
              placeholder="new-folder"
              value={newDir}
              onChange={(event) => setNewDir(event.target.value)}
              style={{ width: '14rem' }}
            />
            <Button type="submit" busy={mkdir.isPending} disabled={!newDir.trim()}>
              Make directory
            </Button>
          </form>
          <MutationError error={mkdir.error} />
        </div>
      ) : null}
      {canWrite ? (
        <UploadZone
          urlFor={(file) =>
            routeUrl('sandboxFilesUpload', { params: { sandboxId }, query: { path: joinPath(dir, file.name) } })
          }
          onDone={() => void list.refetch()}
        />
      ) : null}
      {list.isPending ? (
        <Loading label="Loading files…" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : sorted.length === 0 ? (
        <EmptyState title="This folder is empty" />
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Files in {dir}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Modified</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((entry) => {
                const path = joinPath(dir, entry.name);
                return (
                  <tr key={entry.name}>
                    <td>
                      <button type="button" className="link-button" onClick={() => open(entry)}>
                        {entry.type === 'dir' ? '📁 ' : ''}
                        {entry.name}
                        {entry.type === 'dir' ? '/' : ''}
                      </button>
                      {entry.type === 'symlink' ? <span className="muted"> (link)</span> : null}
                    </td>
                    <td>{entry.type === 'dir' ? '—' : formatBytes(entry.size)}</td>
                    <td title={entry.modifiedAt}>{formatRelative(entry.modifiedAt)}</td>
                    <td>
                      <div className="row">
                        {entry.type !== 'dir' ? (
                          <a
                            className="button ghost"
                            href={routeUrl('sandboxFilesDownload', { params: { sandboxId }, query: { path } })}
                            download={entry.name}
                            aria-label={`Download ${entry.name}`}
                          >
                            Download
                          </a>
                        ) : null}
                        {canWrite ? (
                          <Button variant="ghost" aria-label={`Delete ${entry.name}`} onClick={() => setDeleting(path)}>
                            Delete
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
      {list.hasNextPage ? (
        <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          Load more files
        </Button>
      ) : null}
      {editing ? (
        <FileEditor
          key={editing}
          sandboxId={sandboxId}
          path={editing}
          canWrite={canWrite}
          onClose={() => setEditing(undefined)}
        />
      ) : null}
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete?"
        confirmLabel="Delete"
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <code>{deleting}</code> will be removed, with everything in it if it is a folder.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function FileEditor({
  sandboxId,
  path,
  canWrite,
  onClose,
}: {
  sandboxId: string;
  path: string;
  canWrite: boolean;
  onClose: () => void;
}) {
  const stat = useQuery({
    queryKey: ['sandboxes', 'stat', sandboxId, path],
    queryFn: () => call('sandboxFilesStat', { params: { sandboxId }, query: { path } }),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const tooBig = (stat.data?.size ?? 0) > maxEditBytes;
  const file = useQuery({
    queryKey: ['sandboxes', 'file', sandboxId, path],
    queryFn: () => call('sandboxFilesRead', { params: { sandboxId }, query: { path } }),
    enabled: stat.isSuccess && !tooBig,
    staleTime: Number.POSITIVE_INFINITY,
    refetchOnWindowFocus: false,
  });
  const [text, setText] = useState<string>();
  const [saved, setSaved] = useState(false);
  const binary = file.data ? looksBinary(file.data.content) : false;
  const original = file.data && !binary ? base64ToText(file.data.content) : '';
  const value = text ?? original;
  const save = useMutation({
    mutationFn: () =>
      call('sandboxFilesWrite', { params: { sandboxId }, body: { path, content: textToBase64(value) } }),
    onSuccess: () => setSaved(true),
  });
  const name = path.split('/').pop() ?? path;

  return (
    <section className="card stack" aria-labelledby="editor-heading">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h3 id="editor-heading" style={{ margin: 0 }}>
          <code>{path}</code>
        </h3>
        <Button variant="ghost" onClick={onClose}>
          Close file
        </Button>
      </div>
      {stat.isPending || (file.isPending && !tooBig && !stat.isError) ? (
        <Loading label="Opening…" />
      ) : stat.isError ? (
        <ErrorState error={stat.error} retry={() => stat.refetch()} />
      ) : tooBig || binary ? (
        <p>
          {tooBig ? `This file is ${formatBytes(stat.data.size)}, too large to edit here.` : 'This file is not text.'}{' '}
          <a href={routeUrl('sandboxFilesDownload', { params: { sandboxId }, query: { path } })} download={name}>
            Download {name}
          </a>
        </p>
      ) : file.isError ? (
        <ErrorState error={file.error} retry={() => file.refetch()} />
      ) : (
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            setSaved(false);
            save.mutate();
          }}
        >
          <Field label={`Content of ${name}`}>
            {(id) => (
              <textarea
                id={id}
                className="editor"
                value={value}
                readOnly={!canWrite}
                spellCheck={false}
                rows={18}
                onChange={(event) => {
                  setText(event.target.value);
                  setSaved(false);
                }}
              />
            )}
          </Field>
          <MutationError error={save.error} />
          <div className="row">
            {canWrite ? (
              <Button type="submit" variant="primary" busy={save.isPending}>
                Save
              </Button>
            ) : null}
            <span role="status" className="muted">
              {saved ? 'Saved.' : text !== undefined && text !== original ? 'Unsaved changes' : ''}
            </span>
          </div>
        </form>
      )}
    </section>
  );
}
