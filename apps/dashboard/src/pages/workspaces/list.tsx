import type { Workspace, WorkspaceCreateRequest } from '@runtools/spec';
import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan, useSession } from '../../api/session';
import { formatRelative } from '../../components/format';
import { ProjectBadge, useChosenProject, useProjectField } from '../../components/projects';
import { Button, Dialog, EmptyState, ErrorState, Field, Loading, MutationError, PageHeader } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

type Kind = '' | 'org' | 'personal';

/** Workspaces: the org's shared ones and personal ones, create, delete, and a link to each one's browser. */
export function WorkspacesPage() {
  const canWrite = useCan('files:write');
  const session = useSession();
  const [kind, setKind] = useState<Kind>('');
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Workspace>();
  const project = useChosenProject();
  const list = useInfiniteQuery({
    queryKey: ['workspaces', 'list', project ?? 'all'],
    queryFn: ({ pageParam }) =>
      call('workspacesList', {
        query: { limit: 200, cursor: pageParam, ...(project ? { projectId: project } : {}) },
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: 15_000,
  });
  const remove = useMutation({
    mutationFn: (workspaceId: string) => call('workspacesDelete', { params: { workspaceId } }),
    onSuccess: () => setDeleting(undefined),
  });
  const all = list.data?.pages.flatMap((page) => page.data) ?? [];
  const shown = kind ? all.filter((workspace) => workspace.kind === kind) : all;

  return (
    <>
      <PageHeader
        title="Workspaces"
        description="Persistent storage that outlives every sandbox: org workspaces are shared and mountable, personal ones are yours."
        actions={
          canWrite ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New workspace
            </Button>
          ) : null
        }
      />
      <search className="filters" aria-label="Filter workspaces">
        <Field label="Kind">
          {(id) => (
            <select id={id} value={kind} onChange={(event) => setKind(event.target.value as Kind)}>
              <option value="">All</option>
              <option value="org">Org (shared)</option>
              <option value="personal">Personal</option>
            </select>
          )}
        </Field>
      </search>
      <MutationError error={remove.error} />
      {list.isPending ? (
        <Loading label="Loading workspaces…" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : shown.length === 0 ? (
        <EmptyState
          title={
            all.length ? 'No workspaces of this kind' : project ? 'No workspaces in this project' : 'No workspaces yet'
          }
        >
          {canWrite && !all.length ? 'Create one with “New workspace”.' : null}
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Workspace</th>
                <th scope="col">Kind</th>
                {project ? null : <th scope="col">Project</th>}
                <th scope="col">Slug</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((workspace) => (
                <tr key={workspace.id}>
                  <td>
                    <Link to="/workspaces/$workspaceId" params={{ workspaceId: workspace.id }}>
                      {workspace.name}
                    </Link>
                    <div className="muted mono">{workspace.id}</div>
                  </td>
                  <td>
                    {workspace.kind === 'org' ? (
                      <span className="badge neutral">org</span>
                    ) : (
                      <span className="badge warn">
                        personal{workspace.ownerMemberId === session.member.id ? ' (yours)' : ''}
                      </span>
                    )}
                  </td>
                  {project ? null : (
                    <td>
                      <ProjectBadge projectId={workspace.projectId} />
                    </td>
                  )}
                  <td className="mono">{workspace.slug}</td>
                  <td title={workspace.createdAt}>{formatRelative(workspace.createdAt)}</td>
                  <td>
                    {canWrite ? (
                      <Button variant="ghost" onClick={() => setDeleting(workspace)}>
                        Delete {workspace.name}
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasNextPage ? (
        <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          Load more workspaces
        </Button>
      ) : null}
      <Dialog open={creating} onClose={() => setCreating(false)} title="New workspace">
        <CreateWorkspaceForm onClose={() => setCreating(false)} />
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete workspace?"
        confirmLabel="Delete workspace"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{deleting?.name}</strong> and all its files will be deleted. A workspace a sandbox mounts cannot be
          deleted.
        </p>
      </ConfirmDialog>
    </>
  );
}

function CreateWorkspaceForm({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [kind, setKind] = useState<'org' | 'personal'>('org');
  const project = useProjectField();
  const create = useMutation({
    mutationFn: (body: WorkspaceCreateRequest) => call('workspacesCreate', { body }),
    onSuccess: (workspace) => {
      onClose();
      void navigate({ to: '/workspaces/$workspaceId', params: { workspaceId: workspace.id } });
    },
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        create.mutate({
          name: name.trim(),
          kind,
          ...(slug ? { slug } : {}),
          ...(project.projectId ? { projectId: project.projectId } : {}),
        });
      }}
    >
      <Field label="Name">
        {(id) => (
          <input id={id} required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        )}
      </Field>
      <Field label="Slug" hint="optional; lowercase letters, digits and single dashes (made from the name otherwise)">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            pattern="[a-z0-9]+(-[a-z0-9]+)*"
            maxLength={63}
            value={slug}
            onChange={(event) => setSlug(event.target.value)}
          />
        )}
      </Field>
      {project.field}
      <fieldset className="fieldset">
        <legend>Kind</legend>
        <div className="stack">
          <label className="check">
            <input type="radio" name="kind" value="org" checked={kind === 'org'} onChange={() => setKind('org')} /> Org
            — shared with the org, mountable in sandboxes
          </label>
          <label className="check">
            <input
              type="radio"
              name="kind"
              value="personal"
              checked={kind === 'personal'}
              onChange={() => setKind('personal')}
            />{' '}
            Personal — yours only, never mounted
          </label>
        </div>
      </fieldset>
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create workspace
        </Button>
      </div>
    </form>
  );
}
