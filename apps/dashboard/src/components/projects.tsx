import type { Project } from '@runtools/spec';
import { useQuery } from '@tanstack/react-query';
import { useNavigate, useRouterState } from '@tanstack/react-router';
import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { call } from '../api/client';
import { useCan } from '../api/session';
import { Button, Field, MutationError } from './ui';

/**
 * The chosen project lives in the URL as `?project=prj_…`, kept on every navigation by the root route's
 * `retainSearchParams(['project'])` (router.tsx): links, `navigate()` and redirects all carry it, so no page has
 * to pass it along, a reload or a shared link keeps it, and two tabs can look at two projects. (sessionStorage
 * would have needed syncing both ways with the URL for the same result.)
 */
export const projectSearchParam = 'project';

const projectIdPattern = /^prj_[A-Za-z0-9]+$/;

/** The project chosen in the shell's switcher, or undefined for "All projects". */
export function useChosenProject(): string | undefined {
  const value = useRouterState({
    select: (state) => (state.location.search as Record<string, unknown>)[projectSearchParam],
  });
  return typeof value === 'string' && projectIdPattern.test(value) ? value : undefined;
}

/** The org's projects (one page: an org has a handful), shared by the switcher, the lists, the forms and Settings. */
export function useProjects() {
  const canRead = useCan('projects:read');
  return useQuery({
    queryKey: ['projects', 'list'],
    queryFn: () => call('projectsList', { query: { limit: 1000 } }),
    enabled: canRead,
    staleTime: 60_000,
  });
}

/** A project's name by id (its id until the list is loaded, or when the key may not list projects). */
export function useProjectName(): (projectId: string) => string {
  const projects = useProjects();
  return (projectId) => projects.data?.data.find((project) => project.id === projectId)?.name ?? projectId;
}

/** The shell's project switcher: "All projects" or one project; the resource pages list what it says. */
export function ProjectSwitcher() {
  const id = useId();
  const projects = useProjects();
  const chosen = useChosenProject();
  const navigate = useNavigate();
  const section = useRouterState({ select: (state) => `/${state.location.pathname.split('/')[1] ?? ''}` });
  const canRead = useCan('projects:read');
  if (!canRead) return null;
  const list = projects.data?.data ?? [];
  return (
    <div className="project-switcher">
      <label htmlFor={id}>Project</label>
      <select
        id={id}
        value={chosen ?? ''}
        onChange={(event) => {
          const project = event.target.value || undefined;
          // To the section's list (an agent's page would show an agent of the other project); `undefined`, not a
          // missing key, is what makes the router drop the param.
          void navigate({ to: section, search: (previous: Record<string, unknown>) => ({ ...previous, project }) });
        }}
      >
        <option value="">All projects</option>
        {list.map((project) => (
          <option key={project.id} value={project.id}>
            {project.name}
            {project.isDefault ? ' (default)' : ''}
          </option>
        ))}
        {chosen && !list.some((project) => project.id === chosen) ? (
          <option value={chosen}>{projects.isPending ? 'Loading projects…' : `${chosen} (not found)`}</option>
        ) : null}
      </select>
      {projects.isError ? (
        <span className="field-error" role="alert">
          Projects not loaded: {projects.error.message}
        </span>
      ) : null}
    </div>
  );
}

/** A row's project, shown when "All projects" is chosen. */
export function ProjectBadge({ projectId }: { projectId: string }) {
  const name = useProjectName();
  return (
    <span className="badge neutral project-badge" title={`project ${projectId}`}>
      {name(projectId)}
    </span>
  );
}

/**
 * The project a create form sends: the one the member picks in `field`, else the one chosen in the switcher, else
 * none, and the server puts it in the org's default project (which the select then shows). Only a choice is sent:
 * a workflow saved under a slug that exists is an update, and an update with a projectId moves it.
 * `field` is null when the key cannot list projects.
 */
export function useProjectField(): { projectId: string | undefined; field: ReactNode } {
  const projects = useProjects();
  const chosen = useChosenProject();
  const [picked, setPicked] = useState<string>();
  const canRead = useCan('projects:read');
  const list = projects.data?.data ?? [];
  const projectId = picked ?? chosen;
  const shown = projectId ?? list.find((project) => project.isDefault)?.id ?? '';
  const field = canRead ? (
    <Field label="Project" hint={projects.isError ? `could not list projects: ${projects.error.message}` : undefined}>
      {(id, describedBy) => (
        <select
          id={id}
          aria-describedby={describedBy}
          value={shown}
          onChange={(event) => setPicked(event.target.value || undefined)}
        >
          {shown ? null : <option value="">{projects.isPending ? 'Loading projects…' : 'Default project'}</option>}
          {list.map((project) => (
            <option key={project.id} value={project.id}>
              {project.name}
              {project.isDefault ? ' (default)' : ''}
            </option>
          ))}
          {shown && !list.some((project) => project.id === shown) ? <option value={shown}>{shown}</option> : null}
        </select>
      )}
    </Field>
  ) : null;
  return { projectId, field };
}

/**
 * "Move to project": a select of the org's projects and a Move button, for a resource now in `current`. `what`
 * names the resource in the label and the button ("Project of this agent", "Move agent").
 */
export function MoveToProject({
  current,
  what,
  onMove,
  busy,
  error,
}: {
  current: string;
  what: string;
  onMove: (projectId: string) => void;
  busy: boolean;
  error: unknown;
}) {
  const projects = useProjects();
  const [target, setTarget] = useState(current);
  const canRead = useCan('projects:read');
  if (!canRead) return null;
  const list: Project[] = projects.data?.data ?? [];
  return (
    <form
      className="stack move-project"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        if (target !== current) onMove(target);
      }}
    >
      <div className="row form-inline">
        {/* No "to" in the label: the workflow editor's edge form has a select named "To" beside it. */}
        <Field label={`Project of this ${what}`}>
          {(id) => (
            <select id={id} value={target} onChange={(event) => setTarget(event.target.value)}>
              {list.some((project) => project.id === current) ? null : <option value={current}>{current}</option>}
              {list.map((project) => (
                <option key={project.id} value={project.id}>
                  {project.name}
                  {project.id === current ? ' (current)' : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Button type="submit" busy={busy} disabled={target === current}>
          Move {what}
        </Button>
      </div>
      <MutationError error={error} />
    </form>
  );
}
