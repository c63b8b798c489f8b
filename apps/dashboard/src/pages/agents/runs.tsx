import type { RunStatus } from '@runtools/spec';
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatCost, formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, ErrorState, Loading, MutationError, PageHeader, StatusBadge } from '../../components/ui';
import { RunTranscript, useRunEvents } from './run';
import { formatTokens } from './shared';

const statuses: RunStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled', 'max_iterations'];
const live = new Set(['queued', 'running']);

function duration(start: string | null, end: string | null): string {
  if (!start) return '—';
  const ms = (end ? new Date(end).getTime() : Date.now()) - new Date(start).getTime();
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Runs, newest first, with status, tokens and cost; filtered to an agent or a thread, and by status. */
export function RunsTable({ agent, thread }: { agent?: string; thread?: string }) {
  const [status, setStatus] = useState<RunStatus | ''>('');
  const runs = useInfiniteQuery({
    queryKey: ['runs', 'list', agent ?? '', thread ?? '', status],
    queryFn: ({ pageParam }) =>
      call('runsList', {
        query: {
          limit: 50,
          ...(agent ? { agent } : {}),
          ...(thread ? { thread } : {}),
          ...(status ? { status } : {}),
          ...(pageParam ? { cursor: pageParam } : {}),
        },
      }),
    initialPageParam: '',
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.data.some((run) => live.has(run.status))) ? 2000 : 10_000,
  });
  const rows = runs.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <div className="stack">
      <div className="filters">
        <label className="field">
          <span>Status</span>
          <select value={status} onChange={(event) => setStatus(event.target.value as RunStatus | '')}>
            <option value="">Any status</option>
            {statuses.map((option) => (
              <option key={option} value={option}>
                {option.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
      </div>
      {runs.isPending ? <Loading label="Loading runs…" /> : null}
      {runs.isError ? <ErrorState error={runs.error} retry={() => runs.refetch()} /> : null}
      {runs.isSuccess && rows.length === 0 ? (
        <EmptyState title="No runs">{status ? 'No run has this status.' : 'Runs appear here once started.'}</EmptyState>
      ) : null}
      {rows.length ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                {agent ? null : <th scope="col">Agent</th>}
                <th scope="col">Status</th>
                <th scope="col">Tokens</th>
                <th scope="col">Cost</th>
                <th scope="col">Steps</th>
                <th scope="col">Duration</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to="/agents/runs/$runId" params={{ runId: run.id }}>
                      {run.id}
                    </Link>
                    <div className="muted ellipsis" style={{ maxWidth: '24rem' }} title={run.prompt}>
                      {run.prompt}
                    </div>
                  </td>
                  {agent ? null : (
                    <td>
                      <Link to="/agents/$agent" params={{ agent: run.agent }}>
                        {run.agent}
                      </Link>{' '}
                      <span className="muted">v{run.agentVersion}</span>
                    </td>
                  )}
                  <td>
                    <StatusBadge status={run.status} />
                    {run.error ? <div className="muted">{run.error.message}</div> : null}
                  </td>
                  <td>{formatTokens(run.usage)}</td>
                  <td title={run.costUsd === null ? "the model's price is not known" : 'estimated at list price'}>
                    {formatCost(run.costUsd)}
                  </td>
                  <td>{run.steps}</td>
                  <td>{duration(run.startedAt, run.finishedAt)}</td>
                  <td title={formatDateTime(run.createdAt)}>{formatRelative(run.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {runs.hasNextPage ? (
        <div className="row">
          <Button onClick={() => runs.fetchNextPage()} busy={runs.isFetchingNextPage}>
            Load more runs
          </Button>
        </div>
      ) : null}
    </div>
  );
}

/** One run: its facts, and its events replayed from the start, then live while it runs. */
export function RunDetailPage() {
  const { runId } = useParams({ strict: false }) as { runId: string };
  const canWrite = useCan('agents:write');
  const query = useQuery({
    queryKey: ['runs', 'get', runId],
    queryFn: () => call('runsGet', { params: { runId } }),
    refetchInterval: (current) => (current.state.data && live.has(current.state.data.status) ? 2000 : false),
  });
  const stream = useRunEvents(runId);
  const cancel = useMutation({ mutationFn: () => call('runsCancel', { params: { runId } }) });
  const back = (
    <p className="back-link">
      <Link to="/agents">← Agents</Link>
    </p>
  );
  if (query.isPending)
    return (
      <>
        {back}
        <PageHeader title={`Run ${runId}`} />
        <Loading label="Loading run…" />
      </>
    );
  if (query.isError)
    return (
      <>
        {back}
        <PageHeader title={`Run ${runId}`} />
        <ErrorState error={query.error} retry={() => query.refetch()} />
      </>
    );
  const run = query.data;
  return (
    <>
      {back}
      <PageHeader
        title={`Run ${run.id}`}
        description={
          <>
            <StatusBadge status={run.status} /> of{' '}
            <Link to="/agents/$agent" params={{ agent: run.agent }}>
              {run.agent}
            </Link>{' '}
            v{run.agentVersion}
          </>
        }
        actions={
          canWrite && live.has(run.status) ? (
            <Button variant="danger" busy={cancel.isPending} onClick={() => cancel.mutate()}>
              Cancel run
            </Button>
          ) : null
        }
      />
      <MutationError error={cancel.error} />
      <div className="card">
        <dl className="facts">
          <dt>Prompt</dt>
          <dd className="run-text">{run.prompt}</dd>
          <dt>Tokens</dt>
          <dd>{formatTokens(run.usage)}</dd>
          <dt>Cost</dt>
          <dd>
            {run.costUsd === null
              ? "— (the model's price is not known)"
              : `${formatCost(run.costUsd)} (estimated at the model's list price)`}
          </dd>
          <dt>Steps</dt>
          <dd>{run.steps}</dd>
          <dt>Thread</dt>
          <dd>
            {run.threadId ? (
              <Link to="/agents/threads/$threadId" params={{ threadId: run.threadId }}>
                {run.threadId}
              </Link>
            ) : (
              '—'
            )}
          </dd>
          <dt>Sandbox</dt>
          <dd>
            {run.sandboxId ? (
              <Link to="/sandboxes/$sandboxId" params={{ sandboxId: run.sandboxId }}>
                {run.sandboxId}
              </Link>
            ) : (
              '—'
            )}
          </dd>
          <dt>Created</dt>
          <dd>{formatDateTime(run.createdAt)}</dd>
          <dt>Duration</dt>
          <dd>{duration(run.startedAt, run.finishedAt)}</dd>
          <dt>Stop reason</dt>
          <dd>{run.stopReason ?? '—'}</dd>
          {run.error ? (
            <>
              <dt>Error</dt>
              <dd>
                <code className="code-tag">{run.error.code}</code> {run.error.message}
              </dd>
            </>
          ) : null}
        </dl>
      </div>
      <section className="stack section" aria-labelledby="events-heading">
        <h2 id="events-heading">Events</h2>
        <RunTranscript events={stream.events} state={stream.state} error={stream.error} />
      </section>
    </>
  );
}
