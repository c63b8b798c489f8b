import type { Agent, AgentVersion } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { MoveToProject, useProjectName } from '../../components/projects';
import { useTabParam } from '../../components/tab-param';
import {
  Button,
  EmptyState,
  ErrorState,
  Loading,
  MutationError,
  PageHeader,
  QueryView,
  TabPanel,
  Tabs,
} from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';
import { AgentForm } from './builder';
import { RunPanel } from './run';
import { RunsTable } from './runs';
import { ThreadsTable } from './threads';

const tabs = [
  { id: 'run', label: 'Run' },
  { id: 'definition', label: 'Definition' },
  { id: 'versions', label: 'Versions' },
  { id: 'agent-runs', label: 'Runs' },
  { id: 'agent-threads', label: 'Threads' },
] as const;
type TabId = (typeof tabs)[number]['id'];

/** One agent: run it, edit it in the Agent Builder, its versions, runs and threads. */
export function AgentDetailPage() {
  const { agent: slug } = useParams({ strict: false }) as { agent: string };
  const navigate = useNavigate();
  const canWrite = useCan('agents:write');
  const [tab, setTab] = useTabParam<TabId>(tabs, 'run');
  const [deleting, setDeleting] = useState(false);
  const query = useQuery({
    queryKey: ['agents', 'get', slug],
    queryFn: () => call('agentsGet', { params: { slug } }),
  });
  const remove = useMutation({
    mutationFn: () => call('agentsDelete', { params: { slug } }),
    onSuccess: () => navigate({ to: '/agents' }),
  });
  // A move is a PATCH of projectId alone: the agent keeps its version.
  const move = useMutation({
    mutationFn: (projectId: string) => call('agentsUpdate', { params: { slug }, body: { projectId } }),
  });
  const projectName = useProjectName();

  const back = (
    <p className="back-link">
      <Link to="/agents">← Agents</Link>
    </p>
  );
  if (query.isPending)
    return (
      <>
        {back}
        <PageHeader title="Agent" />
        <Loading label="Loading agent…" />
      </>
    );
  if (query.isError)
    return (
      <>
        {back}
        <PageHeader title="Agent" />
        <ErrorState error={query.error} retry={() => query.refetch()} />
      </>
    );
  const agent = query.data;
  return (
    <>
      {back}
      <PageHeader
        title={agent.name}
        description={
          <>
            <code>{agent.slug}</code> · {agent.model} · {agent.mode.replace('_', ' ')} · version {agent.version} ·
            project {projectName(agent.projectId)}
            {agent.description ? ` · ${agent.description}` : ''}
          </>
        }
        actions={
          canWrite ? (
            <Button variant="danger" onClick={() => setDeleting(true)}>
              Delete agent
            </Button>
          ) : null
        }
      />
      <Tabs tabs={tabs} current={tab} onChange={setTab} label="Agent" />
      <TabPanel id={tab}>
        {tab === 'run' ? <RunPanel slug={agent.slug} /> : null}
        {tab === 'definition' ? (
          <section className="stack" aria-labelledby="definition-heading">
            <h2 id="definition-heading">Definition</h2>
            <p className="muted">Every saved change is a new version; runs keep the version they started with.</p>
            {canWrite ? (
              <MoveToProject
                key={agent.projectId}
                current={agent.projectId}
                what="agent"
                onMove={(projectId) => move.mutate(projectId)}
                busy={move.isPending}
                error={move.error}
              />
            ) : null}
            <AgentForm key={`${agent.slug}-${agent.version}`} agent={agent} onSaved={() => query.refetch()} />
          </section>
        ) : null}
        {tab === 'versions' ? <Versions agent={agent} /> : null}
        {tab === 'agent-runs' ? (
          <section className="stack" aria-labelledby="agent-runs-heading">
            <h2 id="agent-runs-heading">Runs</h2>
            <RunsTable agent={agent.slug} />
          </section>
        ) : null}
        {tab === 'agent-threads' ? (
          <section className="stack" aria-labelledby="agent-threads-heading">
            <h2 id="agent-threads-heading">Threads</h2>
            <ThreadsTable agent={agent.slug} />
          </section>
        ) : null}
      </TabPanel>
      <ConfirmDialog
        open={deleting}
        title="Delete agent?"
        confirmLabel="Delete agent"
        onConfirm={() => remove.mutate()}
        onClose={() => setDeleting(false)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{agent.name}</strong> will be deleted. Its runs and threads stay readable.
        </p>
      </ConfirmDialog>
    </>
  );
}

function Versions({ agent }: { agent: Agent }) {
  const canWrite = useCan('agents:write');
  const versions = useQuery({
    queryKey: ['agents', 'versions', agent.slug],
    queryFn: () => call('agentsVersions', { params: { slug: agent.slug }, query: { limit: 1000 } }),
  });
  const restore = useMutation({
    mutationFn: (version: AgentVersion) =>
      call('agentsPut', {
        params: { slug: agent.slug },
        body: {
          name: version.name,
          ...(version.description ? { description: version.description } : {}),
          model: version.model,
          systemPrompt: version.systemPrompt,
          tools: version.tools,
          mode: version.mode,
          ...(version.mode === 'in_sandbox' && version.sandboxId ? { sandbox: version.sandboxId } : {}),
          ...(version.mode === 'managed' && version.managed ? { sandbox: version.managed } : {}),
          ...(version.mode === 'local' && version.device ? { device: version.device } : {}),
          maxIterations: version.maxIterations,
        },
      }),
  });
  return (
    <section className="stack" aria-labelledby="versions-heading">
      <h2 id="versions-heading">Versions</h2>
      <MutationError error={restore.error} />
      <QueryView query={versions} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No versions" />}>
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Model</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Tools</th>
                  <th scope="col">Saved</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((version) => (
                  <tr key={version.version}>
                    <td>
                      <strong>v{version.version}</strong>{' '}
                      {version.version === agent.version ? <span className="badge ok">current</span> : null}
                      <details>
                        <summary>System prompt of v{version.version}</summary>
                        <pre className="block">{version.systemPrompt || '(empty)'}</pre>
                      </details>
                    </td>
                    <td>{version.model}</td>
                    <td>
                      {version.mode.replace('_', ' ')}
                      {version.sandboxId ? <div className="muted">{version.sandboxId}</div> : null}
                      {version.managed?.template ? <div className="muted">{version.managed.template}</div> : null}
                      {version.device ? <div className="muted">{version.device}</div> : null}
                    </td>
                    <td>{version.tools.join(', ') || '—'}</td>
                    <td title={formatDateTime(version.createdAt)}>{formatRelative(version.createdAt)}</td>
                    <td>
                      {canWrite && version.version !== agent.version ? (
                        <Button
                          variant="ghost"
                          busy={restore.isPending && restore.variables?.version === version.version}
                          onClick={() => restore.mutate(version)}
                        >
                          Restore v{version.version}
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
    </section>
  );
}
