import type { WorkflowRunStatus } from '@runtools/spec';
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { call } from '../../api/client';
import { formatRelative } from '../../components/format';
import { EmptyState, Field, QueryView, StatusBadge } from '../../components/ui';

const statuses: readonly WorkflowRunStatus[] = [
  'queued',
  'running',
  'waiting',
  'completed',
  'failed',
  'cancelled',
  'timed_out',
];

function duration(start: string | null, end: string | null): string {
  if (!start) return '—';
  const ms = (end ? new Date(end).getTime() : Date.now()) - new Date(start).getTime();
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** Workflow runs, newest first (one workflow's, or all), polled while any may change. */
export function RunsTable({ workflow, limit = 50 }: { workflow?: string; limit?: number }) {
  const [status, setStatus] = useState<WorkflowRunStatus | ''>('');
  const runs = useQuery({
    queryKey: ['workflow-runs', workflow ?? '', status, limit],
    queryFn: () =>
      call('workflowRunsList', {
        query: { limit, ...(workflow ? { workflow } : {}), ...(status ? { status } : {}) },
      }),
    refetchInterval: 5000,
  });
  return (
    <div className="stack">
      <search className="filters" aria-label="Filter runs">
        <Field label="Run status">
          {(id) => (
            <select
              id={id}
              value={status}
              onChange={(event) => setStatus(event.target.value as WorkflowRunStatus | '')}
            >
              <option value="">All</option>
              {statuses.map((option) => (
                <option key={option} value={option}>
                  {option.replace('_', ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
      </search>
      <QueryView query={runs} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No runs yet" />}>
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  {workflow ? null : <th scope="col">Workflow</th>}
                  <th scope="col">Status</th>
                  <th scope="col">Version</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Started</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((run) => (
                  <tr key={run.runId}>
                    <td>
                      <Link to="/workflows/runs/$workflowRunId" params={{ workflowRunId: run.runId }} className="mono">
                        {run.runId}
                      </Link>
                    </td>
                    {workflow ? null : (
                      <td>
                        <Link to="/workflows/$workflow" params={{ workflow: run.workflow }}>
                          {run.workflow}
                        </Link>
                      </td>
                    )}
                    <td>
                      <StatusBadge status={run.status} />
                    </td>
                    <td>{run.version === null ? 'draft' : `v${run.version}`}</td>
                    <td>{run.trigger.kind}</td>
                    <td title={run.createdAt}>{formatRelative(run.createdAt)}</td>
                    <td>{duration(run.startedAt, run.finishedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
    </div>
  );
}
