import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { call } from '../../api/client';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, ErrorState, Loading, StatusBadge } from '../../components/ui';

/** The execution log: every tool call of the org, newest first, by tool and status. */
export function ExecutionLog({ tools }: { tools: string[] }) {
  const [tool, setTool] = useState('');
  const [status, setStatus] = useState<'' | 'succeeded' | 'failed'>('');
  const executions = useInfiniteQuery({
    queryKey: ['tools', 'executions', tool, status],
    queryFn: ({ pageParam }) =>
      call('toolsExecutions', {
        query: {
          limit: 100,
          ...(tool ? { tool } : {}),
          ...(status ? { status } : {}),
          ...(pageParam ? { cursor: pageParam } : {}),
        },
      }),
    initialPageParam: '',
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    refetchInterval: 5000,
  });
  const rows = executions.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <section className="stack" aria-labelledby="executions-heading">
      <h2 id="executions-heading">Execution log</h2>
      <div className="filters">
        <div className="field">
          <label htmlFor="executions-tool">Tool</label>
          <select id="executions-tool" value={tool} onChange={(event) => setTool(event.target.value)}>
            <option value="">Every tool</option>
            {tools.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="executions-status">Status</label>
          <select
            id="executions-status"
            value={status}
            onChange={(event) => setStatus(event.target.value as '' | 'succeeded' | 'failed')}
          >
            <option value="">Any status</option>
            <option value="succeeded">Succeeded</option>
            <option value="failed">Failed</option>
          </select>
        </div>
      </div>
      {executions.isPending ? <Loading label="Loading the execution log…" /> : null}
      {executions.isError ? <ErrorState error={executions.error} retry={() => executions.refetch()} /> : null}
      {executions.isSuccess && rows.length === 0 ? (
        <EmptyState title="No tool calls">Calls by agents, workflows and the API appear here.</EmptyState>
      ) : null}
      {rows.length ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Tool</th>
                <th scope="col">Action</th>
                <th scope="col">Status</th>
                <th scope="col">Duration</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((execution) => (
                <tr key={execution.id}>
                  <td title={formatDateTime(execution.createdAt)}>{formatRelative(execution.createdAt)}</td>
                  <td>
                    {execution.tool}
                    {execution.version !== null ? <span className="muted"> v{execution.version}</span> : null}
                  </td>
                  <td>
                    <code>{execution.action}</code>
                  </td>
                  <td>
                    <StatusBadge status={execution.status} />
                    {execution.errorCode ? <code className="code-tag">{execution.errorCode}</code> : null}
                  </td>
                  <td>{Math.round(execution.durationMs)} ms</td>
                  <td className="muted">
                    {execution.principal.kind} {execution.principal.id}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {executions.hasNextPage ? (
        <div className="row">
          <Button onClick={() => executions.fetchNextPage()} busy={executions.isFetchingNextPage}>
            Load more calls
          </Button>
        </div>
      ) : null}
    </section>
  );
}
