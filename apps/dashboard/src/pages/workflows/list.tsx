import type { WorkflowSaveRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { ProjectBadge, useChosenProject, useProjectField } from '../../components/projects';
import { Button, Dialog, EmptyState, Field, MutationError, PageHeader, QueryView } from '../../components/ui';
import { RunsTable } from './runs-table';

/** Workflows: the org's workflows, "New workflow", recent runs, and the way to the approvals inbox. */
export function WorkflowsPage() {
  const canWrite = useCan('workflows:write');
  const [creating, setCreating] = useState(false);
  const project = useChosenProject();
  const workflows = useQuery({
    queryKey: ['workflows', 'list', project ?? 'all'],
    queryFn: () => call('workflowsList', { query: { limit: 200, ...(project ? { projectId: project } : {}) } }),
  });
  const pending = useQuery({
    queryKey: ['workflow-approvals', 'pending-count'],
    queryFn: () => call('workflowApprovalsList', { query: { status: 'pending', limit: 100 } }),
    refetchInterval: 10_000,
  });
  const waiting = pending.data?.data.length ?? 0;
  return (
    <>
      <PageHeader
        title="Workflows"
        description="Graphs of agents, tools and sandbox commands, with branches, approvals and triggers."
        actions={
          <>
            <Link to="/workflows/approvals" className="button secondary">
              Approvals{waiting ? ` (${waiting}${pending.data?.nextCursor ? '+' : ''} pending)` : ''}
            </Link>
            {canWrite ? (
              <Button variant="primary" onClick={() => setCreating(true)}>
                New workflow
              </Button>
            ) : null}
          </>
        }
      />
      <div className="stack">
        <QueryView
          query={workflows}
          isEmpty={(data) => data.data.length === 0}
          empty={
            <EmptyState title={project ? 'No workflows in this project' : 'No workflows yet'}>
              {canWrite ? 'Create one with “New workflow”, then build its graph.' : null}
            </EmptyState>
          }
        >
          {(data) => (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Workflow</th>
                    {project ? null : <th scope="col">Project</th>}
                    <th scope="col">Latest version</th>
                    <th scope="col">Draft</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {data.data.map((workflow) => (
                    <tr key={workflow.id}>
                      <td>
                        <Link to="/workflows/$workflow" params={{ workflow: workflow.slug }}>
                          {workflow.name}
                        </Link>
                        <div className="muted mono">{workflow.slug}</div>
                        {workflow.description ? <div className="muted">{workflow.description}</div> : null}
                      </td>
                      {project ? null : (
                        <td>
                          <ProjectBadge projectId={workflow.projectId} />
                        </td>
                      )}
                      <td>
                        {workflow.latestVersion ? (
                          <>
                            v{workflow.latestVersion} <span className="badge neutral">{workflow.visibility}</span>
                          </>
                        ) : (
                          <span className="badge neutral">draft only</span>
                        )}
                      </td>
                      <td>revision {workflow.draftRevision}</td>
                      <td title={workflow.updatedAt}>{formatRelative(workflow.updatedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </QueryView>
        <section className="stack" aria-labelledby="wf-recent-runs">
          <h2 id="wf-recent-runs">Recent runs</h2>
          <RunsTable limit={20} />
        </section>
      </div>
      <Dialog open={creating} onClose={() => setCreating(false)} title="New workflow">
        <CreateWorkflowForm onClose={() => setCreating(false)} />
      </Dialog>
    </>
  );
}

/** A new workflow starts as one output node that returns its input; the editor takes it from there. */
const starterGraph: WorkflowSaveRequest['graph'] = {
  nodes: [{ id: 'output', type: 'output', config: { expression: 'input' }, position: { x: 120, y: 240 } }],
  edges: [],
};

function CreateWorkflowForm({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [description, setDescription] = useState('');
  const project = useProjectField();
  const create = useMutation({
    mutationFn: () =>
      call('workflowsSave', {
        body: {
          name: name.trim(),
          ...(slug ? { slug } : {}),
          ...(description.trim() ? { description: description.trim() } : {}),
          graph: starterGraph,
          ...(project.projectId ? { projectId: project.projectId } : {}),
        },
      }),
    onSuccess: (workflow) => {
      onClose();
      void navigate({ to: '/workflows/$workflow', params: { workflow: workflow.slug } });
    },
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        create.mutate();
      }}
    >
      <Field label="Name">
        {(id) => (
          <input id={id} required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        )}
      </Field>
      <Field label="Slug" hint="optional; made from the name otherwise (‘Review PR’ → review-pr)">
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
      <Field label="Description">
        {(id) => (
          <input
            id={id}
            maxLength={2000}
            value={description}
            onChange={(event) => setDescription(event.target.value)}
          />
        )}
      </Field>
      {project.field}
      <p className="hint">A workflow saved with a slug that exists updates that workflow’s draft.</p>
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create workflow
        </Button>
      </div>
    </form>
  );
}
