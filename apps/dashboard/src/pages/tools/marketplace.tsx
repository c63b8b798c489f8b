import type { MarketplaceTool } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { Button, EmptyState, MutationError, QueryView } from '../../components/ui';

const authLabel: Record<string, string> = { oauth: 'OAuth', api_key: 'API key', none: 'no auth' };

/** The marketplace: every tool, or those matching a search, each installable in one click. */
export function Marketplace({ onInstalled }: { onInstalled: (tool: MarketplaceTool) => void }) {
  const canWrite = useCan('tools:write');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const tools = useQuery({
    queryKey: ['tools', 'marketplace', q],
    queryFn: () =>
      q
        ? call('toolsMarketplaceSearch', { query: { q, limit: 200 } })
        : call('toolsMarketplace', { query: { limit: 1000 } }),
    placeholderData: (previous) => previous,
  });
  const install = useMutation({
    mutationFn: (tool: MarketplaceTool) => call('toolsInstall', { params: { toolName: tool.name } }),
    onSuccess: (_, tool) => onInstalled(tool),
  });
  return (
    <section className="stack" aria-labelledby="marketplace-heading">
      <h2 id="marketplace-heading">Marketplace</h2>
      <div className="filters">
        <div className="field">
          <label htmlFor="marketplace-search">Search tools</label>
          <input
            id="marketplace-search"
            type="search"
            placeholder="github, calendar, database…"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
        </div>
      </div>
      <MutationError error={install.error} />
      <QueryView
        query={tools}
        isEmpty={(data) => data.data.length === 0}
        empty={
          <EmptyState title="No tools found">{q ? `Nothing matches “${q}”.` : 'The marketplace is empty.'}</EmptyState>
        }
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Tool</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Auth</th>
                  <th scope="col">Actions</th>
                  <th scope="col">Install</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((tool) => (
                  <tr key={tool.name}>
                    <td>
                      <strong>{tool.name}</strong>
                      <div className="muted">{tool.description}</div>
                    </td>
                    <td>{tool.provider}</td>
                    <td>
                      {authLabel[tool.auth.kind] ?? tool.auth.kind}
                      {tool.auth.provider ? <div className="muted">{tool.auth.provider}</div> : null}
                    </td>
                    <td>
                      <details>
                        <summary>
                          {tool.actions.length} action{tool.actions.length === 1 ? '' : 's'} of {tool.name}
                        </summary>
                        <ul className="plain-list">
                          {tool.actions.map((action) => (
                            <li key={action.name}>
                              <code>{action.name}</code> <span className="muted">{action.description}</span>
                            </li>
                          ))}
                        </ul>
                      </details>
                    </td>
                    <td>
                      {tool.installed ? (
                        <span className="badge ok">installed</span>
                      ) : canWrite ? (
                        <Button
                          variant="primary"
                          busy={install.isPending && install.variables?.name === tool.name}
                          onClick={() => install.mutate(tool)}
                        >
                          Install {tool.name}
                        </Button>
                      ) : (
                        <span className="muted">not installed</span>
                      )}
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
