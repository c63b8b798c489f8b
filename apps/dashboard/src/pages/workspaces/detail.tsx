import type { Workspace, WorkspaceEntry } from '@runtools/spec';
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call, routeUrl } from '../../api/client';
import { useCan } from '../../api/session';
import { formatBytes, formatDateTime, formatRelative } from '../../components/format';
import { MoveToProject, useProjectName } from '../../components/projects';
import { Button, Dialog, EmptyState, ErrorState, Field, Loading, MutationError, PageHeader } from '../../components/ui';
import { Breadcrumb, ConfirmDialog, joinPath, parentOf, UploadZone } from '../sandboxes/shared';

export function WorkspaceDetailPage() {
  const { workspaceId } = useParams({ strict: false }) as { workspaceId: string };
  const query = useQuery({
    queryKey: ['workspaces', 'get', workspaceId],
    queryFn: () => call('workspacesGet', { params: { workspaceId } }),
  });
  if (query.isPending)
    return (
      <>
        <PageHeader title="Workspace" />
        <Loading label="Loading workspace…" />
      </>
    );
  if (query.isError)
    return (
      <>
        <PageHeader title="Workspace" />
        <ErrorState error={query.error} retry={() => query.refetch()} />
        <p>
          <Link to="/workspaces">Back to workspaces</Link>
        </p>
      </>
    );
  return <WorkspaceView workspace={query.data} />;
}

function WorkspaceView({ workspace }: { workspace: Workspace }) {
  const canWrite = useCan('files:write');
  const [renaming, setRenaming] = useState(false);
  const projectName = useProjectName();
  const move = useMutation({
    mutationFn: (projectId: string) =>
      call('workspacesRename', { params: { workspaceId: workspace.id }, body: { projectId } }),
  });
  const usage = useQuery({
    queryKey: ['workspaces', 'usage', workspace.id],
    queryFn: () => call('workspacesUsage', { params: { workspaceId: workspace.id } }),
    refetchInterval: 30_000,
  });
  return (
    <>
      <p className="back-link">
        <Link to="/workspaces">← Workspaces</Link>
      </p>
      <PageHeader
        title={workspace.name}
        description={
          <span className="row">
            <span className={`badge ${workspace.kind === 'org' ? 'neutral' : 'warn'}`}>{workspace.kind}</span>
            <span className="mono">{workspace.slug}</span>
            <span className="mono muted">{workspace.id}</span>
            <span>project {projectName(workspace.projectId)}</span>
          </span>
        }
        actions={canWrite ? <Button onClick={() => setRenaming(true)}>Rename workspace</Button> : null}
      />
      <section className="card" aria-labelledby="usage-heading">
        <h2 id="usage-heading">Usage</h2>
        {usage.isPending ? (
          <Loading label="Counting…" />
        ) : usage.isError ? (
          <ErrorState error={usage.error} retry={() => usage.refetch()} />
        ) : (
          <dl className="facts">
            <dt>Size</dt>
            <dd>{formatBytes(usage.data.bytes)}</dd>
            <dt>Files</dt>
            <dd>{usage.data.files}</dd>
            <dt>Directories</dt>
            <dd>{usage.data.directories}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(workspace.createdAt)}</dd>
          </dl>
        )}
      </section>
      {canWrite ? (
        <section className="card" aria-labelledby="project-heading" style={{ marginTop: '1rem' }}>
          <h2 id="project-heading">Project</h2>
          <MoveToProject
            key={workspace.projectId}
            current={workspace.projectId}
            what="workspace"
            onMove={(projectId) => move.mutate(projectId)}
            busy={move.isPending}
            error={move.error}
          />
        </section>
      ) : null}
      <section className="section" aria-labelledby="browser-heading" style={{ marginTop: '1rem' }}>
        <h2 id="browser-heading">Files</h2>
        <WorkspaceBrowser workspaceId={workspace.id} canWrite={canWrite} />
      </section>
      <Dialog open={renaming} onClose={() => setRenaming(false)} title="Rename workspace">
        <RenameWorkspaceForm workspace={workspace} onClose={() => setRenaming(false)} />
      </Dialog>
    </>
  );
}

function RenameWorkspaceForm({ workspace, onClose }: { workspace: Workspace; onClose: () => void }) {
  const [name, setName] = useState(workspace.name);
  const rename = useMutation({
    mutationFn: () => call('workspacesRename', { params: { workspaceId: workspace.id }, body: { name: name.trim() } }),
    onSuccess: onClose,
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        rename.mutate();
      }}
    >
      <Field label="Name" hint="its slug and id stay">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            required
            maxLength={200}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={rename.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={rename.isPending}>
          Save name
        </Button>
      </div>
    </form>
  );
}

type Action = { kind: 'rename' | 'move' | 'copy'; entry: WorkspaceEntry };

/** A workspace's files: list a directory, upload (drop or pick, streamed), download, rename, move, copy, delete, mkdir. */
function WorkspaceBrowser({ workspaceId, canWrite }: { workspaceId: string; canWrite: boolean }) {
  const [dir, setDir] = useState('/');
  const [showHidden, setShowHidden] = useState(false);
  const [newDir, setNewDir] = useState('');
  const [action, setAction] = useState<Action>();
  const [deleting, setDeleting] = useState<WorkspaceEntry>();

  const list = useInfiniteQuery({
    queryKey: ['workspaces', 'files', workspaceId, dir, showHidden],
    queryFn: ({ pageParam }) =>
      call('workspaceFilesList', {
        params: { workspaceId },
        query: { path: dir, limit: 1000, cursor: pageParam, ...(showHidden ? { showHidden: 'true' as const } : {}) },
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const entries = (list.data?.pages.flatMap((page) => page.data) ?? []).sort((a, b) =>
    a.type === 'dir' && b.type !== 'dir' ? -1 : b.type === 'dir' && a.type !== 'dir' ? 1 : 0,
  );

  const mkdir = useMutation({
    mutationFn: (path: string) => call('workspaceFilesMkdir', { params: { workspaceId }, body: { path } }),
    onSuccess: () => setNewDir(''),
  });
  const remove = useMutation({
    mutationFn: (path: string) => call('workspaceFilesDelete', { params: { workspaceId }, query: { path } }),
    onSuccess: () => setDeleting(undefined),
  });

  return (
    <div className="stack">
      <Breadcrumb path={dir} onOpen={setDir} label="Workspace folder" />
      <div className="row files-toolbar">
        {canWrite ? (
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
        ) : null}
        <label className="check">
          <input type="checkbox" checked={showHidden} onChange={(event) => setShowHidden(event.target.checked)} /> Show
          hidden files
        </label>
      </div>
      <MutationError error={mkdir.error} />
      {canWrite ? (
        <UploadZone
          urlFor={(file) =>
            routeUrl('workspaceFilesUpload', { params: { workspaceId }, query: { path: joinPath(dir, file.name) } })
          }
          onDone={() => void list.refetch()}
        />
      ) : null}
      {list.isPending ? (
        <Loading label="Loading files…" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : entries.length === 0 ? (
        <EmptyState title="This folder is empty">{canWrite ? 'Upload files or make a directory.' : null}</EmptyState>
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
              {entries.map((entry) => (
                <tr key={entry.path}>
                  <td>
                    {entry.type === 'dir' ? (
                      <button type="button" className="link-button" onClick={() => setDir(entry.path)}>
                        📁 {entry.name}/
                      </button>
                    ) : (
                      <a
                        href={routeUrl('workspaceFilesDownload', {
                          params: { workspaceId },
                          query: { path: entry.path },
                        })}
                        target="_blank"
                        rel="noreferrer"
                      >
                        {entry.name}
                      </a>
                    )}
                    {entry.type === 'symlink' ? <span className="muted"> (link)</span> : null}
                  </td>
                  <td>{entry.type === 'dir' ? '—' : formatBytes(entry.size)}</td>
                  <td title={entry.modifiedAt}>{formatRelative(entry.modifiedAt)}</td>
                  <td>
                    <div className="row">
                      {entry.type !== 'dir' ? (
                        <a
                          className="button ghost"
                          href={routeUrl('workspaceFilesDownload', {
                            params: { workspaceId },
                            query: { path: entry.path, download: 'true' },
                          })}
                          download={entry.name}
                          aria-label={`Download ${entry.name}`}
                        >
                          Download
                        </a>
                      ) : null}
                      {canWrite ? (
                        <>
                          <Button
                            variant="ghost"
                            aria-label={`Rename ${entry.name}`}
                            onClick={() => setAction({ kind: 'rename', entry })}
                          >
                            Rename
                          </Button>
                          <Button
                            variant="ghost"
                            aria-label={`Move ${entry.name}`}
                            onClick={() => setAction({ kind: 'move', entry })}
                          >
                            Move
                          </Button>
                          <Button
                            variant="ghost"
                            aria-label={`Copy ${entry.name}`}
                            onClick={() => setAction({ kind: 'copy', entry })}
                          >
                            Copy
                          </Button>
                          <Button
                            variant="ghost"
                            aria-label={`Delete ${entry.name}`}
                            onClick={() => setDeleting(entry)}
                          >
                            Delete
                          </Button>
                        </>
                      ) : null}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasNextPage ? (
        <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          Load more files
        </Button>
      ) : null}
      <Dialog
        open={action !== undefined}
        onClose={() => setAction(undefined)}
        title={
          action
            ? `${action.kind === 'rename' ? 'Rename' : action.kind === 'move' ? 'Move' : 'Copy'} ${action.entry.name}`
            : ''
        }
      >
        {action ? (
          <PathActionForm
            key={`${action.kind}:${action.entry.path}`}
            workspaceId={workspaceId}
            action={action}
            onClose={() => setAction(undefined)}
          />
        ) : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete?"
        confirmLabel="Delete"
        onConfirm={() => deleting && remove.mutate(deleting.path)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <code>{deleting?.path}</code> will be deleted{deleting?.type === 'dir' ? ', with everything in it' : ''}.
        </p>
      </ConfirmDialog>
    </div>
  );
}

/** Rename (a new name in the same folder), move or copy (to a path) one entry. */
function PathActionForm({
  workspaceId,
  action,
  onClose,
}: {
  workspaceId: string;
  action: Action;
  onClose: () => void;
}) {
  const { kind, entry } = action;
  const [value, setValue] = useState(
    kind === 'rename'
      ? entry.name
      : kind === 'copy'
        ? joinPath(parentOf(entry.path), `${entry.name}-copy`)
        : entry.path,
  );
  const run = useMutation({
    mutationFn: () => {
      const params = { workspaceId };
      if (kind === 'rename')
        return call('workspaceFilesRename', { params, body: { path: entry.path, name: value.trim() } });
      const to = value.trim();
      return kind === 'move'
        ? call('workspaceFilesMove', { params, body: { from: entry.path, to } })
        : call('workspaceFilesCopy', { params, body: { from: entry.path, to } });
    },
    onSuccess: onClose,
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        run.mutate();
      }}
    >
      <Field
        label={kind === 'rename' ? 'New name' : 'Destination path'}
        hint={kind === 'rename' ? 'in the same folder; no /' : 'a path in this workspace, e.g. /archive/report.txt'}
      >
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            required
            value={value}
            onChange={(event) => setValue(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={run.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={run.isPending}>
          {kind === 'rename' ? 'Rename' : kind === 'move' ? 'Move' : 'Copy'}
        </Button>
      </div>
    </form>
  );
}
