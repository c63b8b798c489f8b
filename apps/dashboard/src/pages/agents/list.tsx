import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { ProjectBadge, useChosenProject } from '../../components/projects';
import { useTabParam } from '../../components/tab-param';
import { Button, EmptyState, PageHeader, QueryView, TabPanel, Tabs } from '../../components/ui';
import { ProvidersPanel } from './providers';
import { RunsTable } from './runs';
import { KeyBadge, modelRow, useModelTable } from './shared';
import { ThreadsTable } from './threads';

const tabs = [
  { id: 'agents', label: 'Agents' },
  { id: 'runs', label: 'Runs' },
  { id: 'threads', label: 'Threads' },
  { id: 'providers', label: 'Providers' },
] as const;
type TabId = (typeof tabs)[number]['id'];

/** Agents: the org's agents, every run and thread, and the model providers they use. */
export function AgentsPage() {
  const canWrite = useCan('agents:write');
  const navigate = useNavigate();
  const [tab, setTab] = useTabParam<TabId>(tabs, 'agents');
  return (
    <>
      <PageHeader
        title="Agents"
        description="Models with a system prompt and tools, working in a sandbox or on a device; run them and follow their events."
        actions={
          canWrite ? (
            <Button variant="primary" onClick={() => navigate({ to: '/agents/new' })}>
              New agent
            </Button>
          ) : null
        }
      />
      <Tabs tabs={tabs} current={tab} onChange={setTab} label="Agents area" />
      <TabPanel id={tab}>
        {tab === 'agents' ? <AgentList /> : null}
        {tab === 'runs' ? (
          <section className="stack" aria-labelledby="runs-heading">
            <h2 id="runs-heading">Runs</h2>
            <RunsTable />
          </section>
        ) : null}
        {tab === 'threads' ? (
          <section className="stack" aria-labelledby="threads-heading">
            <h2 id="threads-heading">Threads</h2>
            <ThreadsTable />
          </section>
        ) : null}
        {tab === 'providers' ? <ProvidersPanel /> : null}
      </TabPanel>
    </>
  );
}

function AgentList() {
  const project = useChosenProject();
  const agents = useQuery({
    queryKey: ['agents', 'list', project ?? 'all'],
    queryFn: () => call('agentsList', { query: { limit: 1000, ...(project ? { projectId: project } : {}) } }),
  });
  const { models, keyStatus } = useModelTable();
  return (
    <section className="stack" aria-labelledby="agent-list-heading">
      <h2 id="agent-list-heading" className="visually-hidden">
        Agent list
      </h2>
      <QueryView
        query={agents}
        isEmpty={(data) => data.data.length === 0}
        empty={
          <EmptyState title={project ? 'No agents in this project' : 'No agents yet'}>
            Create one with <strong>New agent</strong>: a model, a system prompt and its tools.
          </EmptyState>
        }
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  {project ? null : <th scope="col">Project</th>}
                  <th scope="col">Model</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Tools</th>
                  <th scope="col">Version</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((agent) => (
                  <tr key={agent.id}>
                    <td>
                      <Link to="/agents/$agent" params={{ agent: agent.slug }}>
                        {agent.name}
                      </Link>
                      <div className="muted">
                        <code>{agent.slug}</code>
                        {agent.description ? ` · ${agent.description}` : ''}
                      </div>
                    </td>
                    {project ? null : (
                      <td>
                        <ProjectBadge projectId={agent.projectId} />
                      </td>
                    )}
                    <td>
                      {agent.model}{' '}
                      {models.data ? <KeyBadge status={keyStatus(modelRow(models.data.data, agent.model))} /> : null}
                    </td>
                    <td>{agent.mode.replace('_', ' ')}</td>
                    <td>{agent.tools.length}</td>
                    <td>v{agent.version}</td>
                    <td title={formatDateTime(agent.updatedAt)}>{formatRelative(agent.updatedAt)}</td>
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
