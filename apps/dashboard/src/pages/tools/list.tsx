import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { useTabParam } from '../../components/tab-param';
import { PageHeader, TabPanel, Tabs } from '../../components/ui';
import { ConnectedApps } from './connections';
import { ExecutionLog } from './executions';
import { InstalledTools } from './installed';
import { Marketplace } from './marketplace';

type TabId = 'marketplace' | 'installed' | 'connections' | 'executions';

/** Tools: the marketplace, the org's installed tools and their credentials, Connected Apps, the execution log. */
export function ToolsPage() {
  const canSeeConnections = useCan('connections:read', 'connections:write');
  const [notice, setNotice] = useState<string>();
  const tabs: { id: TabId; label: string }[] = [
    { id: 'marketplace', label: 'Marketplace' },
    { id: 'installed', label: 'Installed' },
    ...(canSeeConnections ? [{ id: 'connections' as const, label: 'Connected Apps' }] : []),
    { id: 'executions', label: 'Execution log' },
  ];
  const [tab, setTab] = useTabParam(tabs, 'marketplace');
  const installed = useQuery({
    queryKey: ['tools', 'installed'],
    queryFn: () => call('toolsList', { query: { limit: 1000 } }),
    enabled: tab === 'executions',
  });
  return (
    <>
      <PageHeader
        title="Tools"
        description="Services your agents and workflows call: install from the marketplace, set credentials, connect accounts."
      />
      {notice ? (
        <p className="card" role="status">
          {notice}
        </p>
      ) : null}
      <Tabs
        tabs={tabs}
        current={tab}
        onChange={(next) => {
          setNotice(undefined);
          setTab(next);
        }}
        label="Tools area"
      />
      <TabPanel id={tab}>
        {tab === 'marketplace' ? (
          <Marketplace
            onInstalled={(tool) =>
              setNotice(
                `${tool.name} is installed.${
                  tool.auth.kind === 'oauth'
                    ? ' Connect an account under Connected Apps.'
                    : Object.keys(tool.credentials.schema).length
                      ? ' Set its credentials under Installed.'
                      : ''
                }`,
              )
            }
          />
        ) : null}
        {tab === 'installed' ? (
          <InstalledTools onConnect={() => setTab(canSeeConnections ? 'connections' : 'installed')} />
        ) : null}
        {tab === 'connections' ? <ConnectedApps /> : null}
        {tab === 'executions' ? <ExecutionLog tools={installed.data?.data.map((tool) => tool.name) ?? []} /> : null}
      </TabPanel>
    </>
  );
}
