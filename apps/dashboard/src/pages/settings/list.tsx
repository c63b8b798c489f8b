import type { InvitationCreated, Member, Project, Role } from '@runtools/spec';
import { useMutation, useQueries, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { ApiError, call } from '../../api/client';
import { useCan, useSession } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { useProjects } from '../../components/projects';
import {
  Button,
  CopyButton,
  Dialog,
  EmptyState,
  Field,
  MutationError,
  PageHeader,
  QueryView,
  StatusBadge,
} from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

const roles: readonly Role[] = ['owner', 'admin', 'member'];

/** Settings: the organization (name, slug), its projects, its members and their roles, and invitations. */
export function SettingsPage() {
  return (
    <>
      <PageHeader title="Settings" description="Your organization, its projects and its members." />
      <div className="stack">
        <OrganizationSection />
        <ProjectsSection />
        <MembersSection />
      </div>
    </>
  );
}

function OrganizationSection() {
  const session = useSession();
  const canWrite = useCan('orgs:write');
  const org = useQuery({
    queryKey: ['orgs', session.org.id],
    queryFn: () => call('orgsGet', { params: { orgId: session.org.id } }),
  });
  const [name, setName] = useState<string>();
  const update = useMutation({
    mutationFn: (next: string) => call('orgsUpdate', { params: { orgId: session.org.id }, body: { name: next } }),
    onSuccess: () => setName(undefined),
  });
  return (
    <section className="card" aria-labelledby="settings-org">
      <h2 id="settings-org">Organization</h2>
      <QueryView query={org}>
        {(data) => (
          <form
            className="stack"
            onSubmit={(event: FormEvent) => {
              event.preventDefault();
              if (name?.trim()) update.mutate(name.trim());
            }}
          >
            <div className="form-grid fields-top">
              <Field label="Organization name">
                {(id) => (
                  <input
                    id={id}
                    required
                    maxLength={200}
                    readOnly={!canWrite}
                    value={name ?? data.name}
                    onChange={(event) => setName(event.target.value)}
                  />
                )}
              </Field>
              <Field label="Organization slug" hint="the slug is fixed once the organization exists">
                {(id, describedBy) => (
                  <input id={id} aria-describedby={describedBy} readOnly value={data.slug} className="mono" />
                )}
              </Field>
            </div>
            <dl className="facts">
              <dt>ID</dt>
              <dd className="mono">{data.id}</dd>
              <dt>Your role</dt>
              <dd>{data.role}</dd>
              <dt>Created</dt>
              <dd>{formatDateTime(data.createdAt)}</dd>
            </dl>
            <MutationError error={update.error} />
            {canWrite ? (
              <div className="form-actions">
                <Button
                  type="submit"
                  variant="primary"
                  busy={update.isPending}
                  disabled={!name?.trim() || name === data.name}
                >
                  Save organization
                </Button>
              </div>
            ) : null}
          </form>
        )}
      </QueryView>
    </section>
  );
}

/** The kinds of resource a project holds: the list route, the page that lists them, the scope that may read them. */
const resourceKinds = [
  { kind: 'sandboxes', one: 'sandbox', to: '/sandboxes', scope: 'sandboxes:read', route: 'sandboxesList' },
  { kind: 'workspaces', one: 'workspace', to: '/workspaces', scope: 'files:read', route: 'workspacesList' },
  { kind: 'agents', one: 'agent', to: '/agents', scope: 'agents:read', route: 'agentsList' },
  { kind: 'workflows', one: 'workflow', to: '/workflows', scope: 'workflows:read', route: 'workflowsList' },
] as const;
type ResourceKind = (typeof resourceKinds)[number]['kind'];

/** "2 agents, 1 workspace" from counts per kind; kinds with none are left out. */
function describeCounts(counts: Partial<Record<ResourceKind, number>>): string {
  return resourceKinds
    .filter(({ kind }) => (counts[kind] ?? 0) > 0)
    .map(({ kind, one }) => `${counts[kind]} ${counts[kind] === 1 ? one : kind}`)
    .join(', ');
}

/**
 * What each project holds, counted here from one list call per kind of resource (its first 1000, not one call
 * per project): the lists the session may read, sandboxes without the destroyed ones, as a delete counts them.
 */
function useProjectCounts() {
  const session = useSession();
  const queries = useQueries({
    queries: resourceKinds.map(({ kind, scope, route }) => ({
      queryKey: ['projects', 'counts', kind],
      queryFn: async () => {
        const page = await call(route, { query: { limit: 1000 } });
        const counts = new Map<string, number>();
        for (const item of page.data) counts.set(item.projectId, (counts.get(item.projectId) ?? 0) + 1);
        return { counts, more: Boolean(page.nextCursor) };
      },
      enabled: session.scopes.includes(scope),
    })),
  });
  const readable = resourceKinds.filter(({ scope }) => session.scopes.includes(scope));
  if (readable.length === 0) return undefined;
  return (projectId: string): string | undefined => {
    const counts: Partial<Record<ResourceKind, number>> = {};
    let more = false;
    for (const [index, { kind, scope }] of resourceKinds.entries()) {
      if (!session.scopes.includes(scope)) continue;
      const data = queries[index]?.data;
      if (!data) return undefined;
      counts[kind] = data.counts.get(projectId) ?? 0;
      more ||= data.more;
    }
    const text = describeCounts(counts) || 'nothing';
    return more ? `at least ${text}` : text;
  };
}

function ProjectsSection() {
  const canWrite = useCan('projects:write');
  const projects = useProjects();
  const holds = useProjectCounts();
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<Project>();
  const [deleting, setDeleting] = useState<Project>();
  const remove = useMutation({
    mutationFn: (projectId: string) => call('projectsDelete', { params: { projectId } }),
    onSuccess: () => setDeleting(undefined),
  });
  // The server names what a project still holds (409 project_not_empty, with the counts as details).
  const notEmpty =
    remove.error instanceof ApiError && remove.error.code === 'project_not_empty'
      ? (remove.error.details as Partial<Record<ResourceKind, number>> | undefined)
      : undefined;
  return (
    <section className="card stack" aria-labelledby="settings-projects">
      <div className="row spread">
        <h2 id="settings-projects">Projects</h2>
        {canWrite ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            New project
          </Button>
        ) : null}
      </div>
      <QueryView
        query={projects}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No projects yet" />}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Slug</th>
                  {holds ? <th scope="col">Holds</th> : null}
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((project) => (
                  <tr key={project.id}>
                    <td>
                      {project.name}
                      {project.isDefault ? (
                        <>
                          {' '}
                          <span className="badge neutral">default</span>
                        </>
                      ) : null}
                      <div className="muted mono">{project.id}</div>
                    </td>
                    <td className="mono">{project.slug}</td>
                    {holds ? <td data-testid={`holds-${project.slug}`}>{holds(project.id) ?? '…'}</td> : null}
                    <td title={project.createdAt}>{formatRelative(project.createdAt)}</td>
                    <td>
                      {canWrite ? (
                        <div className="row">
                          <Button variant="ghost" onClick={() => setRenaming(project)}>
                            Rename {project.name}
                          </Button>
                          {project.isDefault ? null : (
                            <Button
                              variant="ghost"
                              onClick={() => {
                                remove.reset();
                                setDeleting(project);
                              }}
                            >
                              Delete {project.name}
                            </Button>
                          )}
                        </div>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <Dialog open={creating} onClose={() => setCreating(false)} title="New project">
        <ProjectForm onClose={() => setCreating(false)} />
      </Dialog>
      <Dialog open={renaming !== undefined} onClose={() => setRenaming(undefined)} title="Rename project">
        {renaming ? <ProjectForm project={renaming} onClose={() => setRenaming(undefined)} /> : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete project?"
        confirmLabel="Delete project"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{deleting?.name}</strong> will be deleted. A project is deleted only once nothing is in it: move or
          delete its sandboxes, workspaces, agents and workflows first.
        </p>
        {notEmpty && deleting ? (
          <ul>
            {resourceKinds
              .filter(({ kind }) => (notEmpty[kind] ?? 0) > 0)
              .map(({ kind, to }) => (
                <li key={kind}>
                  <Link to={to} search={{ project: deleting.id }}>
                    {describeCounts({ [kind]: notEmpty[kind] })} in {deleting.name}
                  </Link>
                </li>
              ))}
          </ul>
        ) : null}
      </ConfirmDialog>
    </section>
  );
}

function ProjectForm({ project, onClose }: { project?: Project; onClose: () => void }) {
  const [name, setName] = useState(project?.name ?? '');
  const [slug, setSlug] = useState('');
  const save = useMutation({
    mutationFn: () =>
      project
        ? call('projectsUpdate', { params: { projectId: project.id }, body: { name: name.trim() } })
        : call('projectsCreate', { body: { name: name.trim(), ...(slug ? { slug } : {}) } }),
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
      <Field label="Name">
        {(id) => (
          <input id={id} required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        )}
      </Field>
      {project ? null : (
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
      )}
      <MutationError error={save.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={save.isPending}>
          {project ? 'Save name' : 'Create project'}
        </Button>
      </div>
    </form>
  );
}

function MembersSection() {
  const session = useSession();
  const canWrite = useCan('members:write');
  const members = useQuery({
    queryKey: ['members', 'list'],
    queryFn: () => call('membersList', { query: { limit: 200 } }),
  });
  const invitations = useQuery({
    queryKey: ['invitations', 'list'],
    queryFn: () => call('invitationsList', { query: { limit: 200 } }),
  });
  const [inviting, setInviting] = useState(false);
  const [removing, setRemoving] = useState<Member>();
  const changeRole = useMutation({
    mutationFn: ({ memberId, role }: { memberId: string; role: Role }) =>
      call('membersUpdate', { params: { memberId }, body: { role } }),
  });
  const remove = useMutation({
    mutationFn: (memberId: string) => call('membersRemove', { params: { memberId } }),
    onSuccess: () => setRemoving(undefined),
  });
  const revokeInvitation = useMutation({
    mutationFn: (invitationId: string) => call('invitationsRevoke', { params: { invitationId } }),
  });
  const pending = invitations.data?.data.filter((invitation) => invitation.status === 'pending') ?? [];
  return (
    <section className="card stack" aria-labelledby="settings-members">
      <div className="row spread">
        <h2 id="settings-members">Members</h2>
        {canWrite ? (
          <Button variant="primary" onClick={() => setInviting(true)}>
            Invite member
          </Button>
        ) : null}
      </div>
      <MutationError error={changeRole.error} />
      <QueryView query={members} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No members" />}>
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Member</th>
                  <th scope="col">Role</th>
                  <th scope="col">Joined</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((member) => {
                  const self = member.id === session.member.id;
                  return (
                    <tr key={member.id}>
                      <td>
                        {member.name ?? member.email}
                        {self ? <span className="badge neutral">you</span> : null}
                        {member.name ? <div className="muted">{member.email}</div> : null}
                      </td>
                      <td>
                        {canWrite && !self ? (
                          <select
                            aria-label={`Role of ${member.email}`}
                            value={member.role}
                            disabled={changeRole.isPending}
                            onChange={(event) =>
                              changeRole.mutate({ memberId: member.id, role: event.target.value as Role })
                            }
                          >
                            {roles.map((role) => (
                              <option key={role} value={role}>
                                {role}
                              </option>
                            ))}
                          </select>
                        ) : (
                          member.role
                        )}
                      </td>
                      <td title={member.createdAt}>{formatRelative(member.createdAt)}</td>
                      <td>
                        {canWrite && !self ? (
                          <Button variant="ghost" onClick={() => setRemoving(member)}>
                            Remove {member.email}
                          </Button>
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
      <h3>Pending invitations</h3>
      <MutationError error={revokeInvitation.error} />
      <QueryView
        query={invitations}
        isEmpty={() => pending.length === 0}
        empty={<EmptyState title="No pending invitations" />}
      >
        {() => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {pending.map((invitation) => (
                  <tr key={invitation.id}>
                    <td>{invitation.email}</td>
                    <td>{invitation.role}</td>
                    <td>
                      <StatusBadge status={invitation.status} />
                    </td>
                    <td title={invitation.expiresAt}>{formatRelative(invitation.expiresAt)}</td>
                    <td>
                      {canWrite ? (
                        <Button variant="ghost" onClick={() => revokeInvitation.mutate(invitation.id)}>
                          Revoke invitation for {invitation.email}
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
      <Dialog open={inviting} onClose={() => setInviting(false)} title="Invite member">
        <InviteForm onClose={() => setInviting(false)} />
      </Dialog>
      <ConfirmDialog
        open={removing !== undefined}
        title="Remove member?"
        confirmLabel="Remove member"
        onConfirm={() => removing && remove.mutate(removing.id)}
        onClose={() => setRemoving(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{removing?.email}</strong> leaves the organization; their keys stop working.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function InviteForm({ onClose }: { onClose: () => void }) {
  const session = useSession();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [days, setDays] = useState(7);
  const [created, setCreated] = useState<InvitationCreated>();
  const invite = useMutation({
    mutationFn: () => call('invitationsCreate', { body: { email: email.trim(), role, expiresInDays: days } }),
    onSuccess: setCreated,
  });
  if (created)
    return (
      <div className="stack">
        <p>
          Invitation for <strong>{created.invitation.email}</strong> created. Give them this token (shown only once);
          they accept it with <code>runtools member accept &lt;token&gt;</code>.
        </p>
        <code className="block-code" data-testid="invitation-token">
          {created.token}
        </code>
        <div className="form-actions">
          <CopyButton value={created.token} label="Copy token" />
          <Button variant="primary" onClick={onClose}>
            Done
          </Button>
        </div>
      </div>
    );
  // Only an owner may make owners.
  const offered = session.role === 'owner' ? roles : roles.filter((candidate) => candidate !== 'owner');
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        invite.mutate();
      }}
    >
      <Field label="Email">
        {(id) => (
          <input
            id={id}
            type="email"
            required
            maxLength={320}
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        )}
      </Field>
      <Field label="Role">
        {(id) => (
          <select id={id} value={role} onChange={(event) => setRole(event.target.value as Role)}>
            {offered.map((candidate) => (
              <option key={candidate} value={candidate}>
                {candidate}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Expires in days">
        {(id) => (
          <input
            id={id}
            type="number"
            min={1}
            max={30}
            required
            value={days}
            onChange={(event) => setDays(Number(event.target.value))}
          />
        )}
      </Field>
      <MutationError error={invite.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={invite.isPending}>
          Send invitation
        </Button>
      </div>
    </form>
  );
}
