import type { NodeRun, WorkflowEvent } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { ReactFlow, ReactFlowProvider } from '@xyflow/react';
import { useEffect, useMemo, useState } from 'react';
import { call, routeUrl, sse } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime } from '../../components/format';
import {
  Button,
  EmptyState,
  ErrorState,
  Loading,
  MutationError,
  PageHeader,
  QueryView,
  StatusBadge,
} from '../../components/ui';
import { ApprovalCard } from './approvals';
import { Background, Controls, flowNodeTypes, toFlow } from './graph';
import { finishedRunStatuses, json, readGraph } from './model';

/** A workflow run, live: its status, the graph with each node's state, node outputs, approvals, the event log. */
export function WorkflowRunPage() {
  const { workflowRunId } = useParams({ strict: false }) as { workflowRunId: string };
  const canExecute = useCan('workflows:execute');
  const run = useQuery({
    queryKey: ['workflow-runs', 'get', workflowRunId],
    queryFn: () => call('workflowRunsGet', { params: { workflowRunId } }),
    refetchInterval: (query) => (query.state.data && finishedRunStatuses.has(query.state.data.status) ? false : 2000),
  });
  const finished = run.data ? finishedRunStatuses.has(run.data.status) : false;
  const cancel = useMutation({ mutationFn: () => call('workflowRunsCancel', { params: { workflowRunId } }) });
  const data = run.data;
  return (
    <>
      {data ? (
        <Link to="/workflows/$workflow" params={{ workflow: data.workflow }} className="back-link">
          ← {data.workflow}
        </Link>
      ) : (
        <Link to="/workflows" className="back-link">
          ← Workflows
        </Link>
      )}
      <PageHeader
        title="Workflow run"
        description={<span className="mono">{workflowRunId}</span>}
        actions={
          data && !finished && canExecute ? (
            <Button variant="danger" busy={cancel.isPending} onClick={() => cancel.mutate()}>
              Cancel run
            </Button>
          ) : null
        }
      />
      <MutationError error={cancel.error} />
      <QueryView query={run}>
        {(data) => (
          <div className="stack">
            <section className="card" aria-labelledby="run-summary">
              <h2 id="run-summary">Summary</h2>
              <dl className="facts">
                <dt>Status</dt>
                <dd data-testid="workflow-run-status">
                  <StatusBadge status={data.status} />
                </dd>
                <dt>Workflow</dt>
                <dd>
                  <Link to="/workflows/$workflow" params={{ workflow: data.workflow }}>
                    {data.workflow}
                  </Link>{' '}
                  {data.version === null ? '(draft)' : `v${data.version}`}
                </dd>
                <dt>Started by</dt>
                <dd>
                  {data.trigger.kind}
                  {data.startedBy ? <span className="muted mono"> {data.startedBy}</span> : null}
                </dd>
                <dt>Started</dt>
                <dd>{formatDateTime(data.startedAt ?? data.createdAt)}</dd>
                <dt>Finished</dt>
                <dd>{formatDateTime(data.finishedAt)}</dd>
              </dl>
              {data.error ? (
                <p className="field-error" role="alert">
                  {data.error.nodeId ? `${data.error.nodeId}: ` : ''}
                  {data.error.message} <code className="code-tag">{data.error.code}</code>
                </p>
              ) : null}
            </section>
            {data.status === 'waiting' ? <RunApprovals runId={data.runId} /> : null}
            <RunGraph workflow={data.workflow} version={data.version} nodes={data.nodes} />
            <section className="card stack" aria-labelledby="run-io">
              <h2 id="run-io">Input and output</h2>
              <div className="grid">
                <div>
                  <h3>Input</h3>
                  <pre className="block-code">{json(data.input)}</pre>
                </div>
                <div>
                  <h3>Output</h3>
                  <pre className="block-code" data-testid="workflow-run-output">
                    {data.output === null ? (finished ? 'null' : '—') : json(data.output)}
                  </pre>
                </div>
              </div>
            </section>
            <NodeRuns nodes={data.nodes} />
            <RunEvents workflowRunId={data.runId} />
          </div>
        )}
      </QueryView>
    </>
  );
}

/** Each node's latest state (the last iteration's last attempt). */
function latestStates(nodes: NodeRun[]): Map<string, string> {
  const states = new Map<string, NodeRun>();
  for (const node of nodes) {
    const seen = states.get(node.nodeId);
    if (!seen || node.iteration > seen.iteration || (node.iteration === seen.iteration && node.attempt >= seen.attempt))
      states.set(node.nodeId, node);
  }
  return new Map([...states].map(([id, node]) => [id, node.status]));
}

function RunGraph({ workflow, version, nodes }: { workflow: string; version: number | null; nodes: NodeRun[] }) {
  const graph = useQuery({
    queryKey: ['workflows', 'run-graph', workflow, version ?? 'draft'],
    queryFn: async () =>
      version === null
        ? (await call('workflowsGet', { params: { slug: workflow } })).graph
        : (await call('workflowsVersionGet', { params: { slug: workflow, version } })).graph,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const statuses = useMemo(() => latestStates(nodes), [nodes]);
  const flow = useMemo(() => {
    if (!graph.data) return undefined;
    const read = readGraph(graph.data);
    return toFlow(read.nodes, read.edges, [], statuses);
  }, [graph.data, statuses]);
  return (
    <section className="card stack" aria-labelledby="run-graph">
      <h2 id="run-graph">Graph</h2>
      {version === null ? <p className="muted">A draft run: the graph shown is the draft as it is now.</p> : null}
      {graph.isPending ? (
        <Loading label="Loading the graph…" />
      ) : graph.isError ? (
        <ErrorState error={graph.error} retry={() => graph.refetch()} />
      ) : flow ? (
        <div className="wf-canvas wf-canvas-run">
          <ReactFlowProvider>
            <ReactFlow
              aria-label="Run graph"
              nodes={flow.nodes}
              edges={flow.edges}
              nodeTypes={flowNodeTypes}
              nodesDraggable={false}
              nodesConnectable={false}
              elementsSelectable={false}
              fitView
              fitViewOptions={{ maxZoom: 1.2 }}
              proOptions={{ hideAttribution: true }}
            >
              <Background />
              <Controls showInteractive={false} />
            </ReactFlow>
          </ReactFlowProvider>
        </div>
      ) : null}
    </section>
  );
}

function NodeRuns({ nodes }: { nodes: NodeRun[] }) {
  return (
    <section className="card stack" aria-labelledby="run-nodes">
      <h2 id="run-nodes">Nodes</h2>
      {nodes.length === 0 ? (
        <EmptyState title="No node has started yet" />
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                <th scope="col">Iteration</th>
                <th scope="col">Attempt</th>
                <th scope="col">Started</th>
                <th scope="col">Output</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((node) => (
                <tr key={`${node.nodeId}-${node.iteration}-${node.attempt}`} data-testid={`node-run-${node.nodeId}`}>
                  <td>
                    <span className="mono">{node.nodeId}</span> <span className="muted">{node.type}</span>
                  </td>
                  <td>
                    <StatusBadge status={node.status} />
                  </td>
                  <td>{node.iteration}</td>
                  <td>{node.attempt}</td>
                  <td>{formatDateTime(node.startedAt)}</td>
                  <td>
                    {node.error ? (
                      <span className="field-error">
                        {node.error.message} <code className="code-tag">{node.error.code}</code>
                      </span>
                    ) : null}
                    {node.output !== null && node.output !== undefined ? (
                      <details>
                        <summary>Output of {node.nodeId}</summary>
                        <pre className="block-code">{json(node.output)}</pre>
                      </details>
                    ) : node.error ? null : (
                      '—'
                    )}
                    {node.childRunId ? <div className="muted mono">agent run {node.childRunId}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RunApprovals({ runId }: { runId: string }) {
  const approvals = useQuery({
    queryKey: ['workflow-approvals', 'run', runId],
    queryFn: () => call('workflowApprovalsList', { query: { runId, status: 'pending', limit: 20 } }),
    refetchInterval: 3000,
  });
  if (!approvals.data?.data.length) return null;
  return (
    <section className="stack" aria-labelledby="run-approvals">
      <h2 id="run-approvals">Waiting for approval</h2>
      {approvals.data.data.map((approval) => (
        <ApprovalCard key={approval.id} approval={approval} level={3} />
      ))}
    </section>
  );
}

/** The run's event log, polled (after the last seq seen) until the run has finished. */
function RunEvents({ workflowRunId }: { workflowRunId: string }) {
  const [events, setEvents] = useState<WorkflowEvent[]>([]);
  const [error, setError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    const controller = new AbortController();
    let lastSeq = 0;
    (async () => {
      let failures = 0;
      while (!controller.signal.aborted) {
        try {
          const url = routeUrl('workflowRunsEvents', {
            params: { workflowRunId },
            query: { after: lastSeq, follow: 'false' },
          });
          const batch: WorkflowEvent[] = [];
          for await (const raw of sse(url, controller.signal)) {
            try {
              const event = JSON.parse(raw.data) as WorkflowEvent;
              if (typeof event.seq === 'number' && event.seq > lastSeq) {
                lastSeq = event.seq;
                batch.push(event);
              }
            } catch {
              // A keep-alive or a line that is not an event.
            }
          }
          if (controller.signal.aborted) return;
          if (batch.length) setEvents((current) => [...current, ...batch]);
          setLoaded(true);
          setError(undefined);
          failures = 0;
          if (batch.some((event) => /^run\.(completed|failed|cancelled|timed_out)$/.test(event.type))) return;
        } catch (caught) {
          if (controller.signal.aborted) return;
          if (++failures >= 5) {
            setError(caught);
            return;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    })();
    return () => {
      controller.abort();
    };
  }, [workflowRunId]);
  return (
    <section className="card stack" aria-labelledby="run-events">
      <h2 id="run-events">Events</h2>
      {error ? (
        <ErrorState error={error} />
      ) : !loaded ? (
        <Loading label="Loading events…" />
      ) : events.length === 0 ? (
        <EmptyState title="No events yet" />
      ) : (
        <ol className="log wf-events" aria-label="Run events">
          {events.map((event) => (
            <li key={event.seq}>
              <span className="log-time">{new Date(event.at).toLocaleTimeString()}</span>{' '}
              <span className="log-type">{event.type}</span>
              {event.nodeId ? <span className="mono"> {event.nodeId}</span> : null}
              {event.attempt && event.attempt > 1 ? <span className="muted"> attempt {event.attempt}</span> : null}
              {event.data !== null && event.data !== undefined && Object.keys(event.data as object).length ? (
                <details>
                  <summary>data</summary>
                  <pre>{json(event.data)}</pre>
                </details>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
