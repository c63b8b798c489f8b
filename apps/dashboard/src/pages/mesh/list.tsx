import type { MeshAuditEntry, MeshLinkInfo } from '@runtools/spec';
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import {
  Button,
  EmptyState,
  ErrorState,
  Field,
  Loading,
  MutationError,
  PageHeader,
  QueryView,
  StatusBadge,
} from '../../components/ui';

/** RunMesh: approve a device by its link code, the org's nodes, and the audit log. */
export function MeshPage() {
  const canWrite = useCan('mesh:write');
  return (
    <>
      <PageHeader
        title="RunMesh"
        description="Your own machines as private nodes: agents run tools on them over WireGuard."
      />
      <div className="stack">
        {canWrite ? <LinkApproval /> : null}
        <NodesSection />
        <AuditSection />
      </div>
    </>
  );
}

function LinkApproval() {
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [info, setInfo] = useState<MeshLinkInfo>();
  const [outcome, setOutcome] = useState<string>();
  const lookup = useMutation({
    mutationFn: (value: string) => call('meshLinkLookup', { params: { code: value } }),
    onSuccess: (found) => {
      setInfo(found);
      setName(found.name);
      setOutcome(undefined);
    },
    onError: () => setInfo(undefined),
  });
  const approve = useMutation({
    mutationFn: (link: MeshLinkInfo) =>
      call('meshLinkApprove', { body: { code: link.code, ...(name && name !== link.name ? { name } : {}) } }),
    onSuccess: (node) => {
      setOutcome(`Approved: ${node.name} joined the mesh at ${node.address}.`);
      setInfo(undefined);
      setCode('');
    },
  });
  const deny = useMutation({
    mutationFn: (link: MeshLinkInfo) => call('meshLinkDeny', { body: { code: link.code } }),
    onSuccess: (link) => {
      setOutcome(`Denied: ${link.name} (${link.code}) will not join.`);
      setInfo(undefined);
      setCode('');
    },
  });
  return (
    <section className="card stack" aria-labelledby="mesh-link">
      <h2 id="mesh-link">Link a device</h2>
      <p className="muted">
        Run <code>runtools mesh up</code> on the device; it prints a link code. Enter it here to see the device and
        approve it.
      </p>
      <form
        className="row form-inline"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          if (code.trim()) lookup.mutate(code.trim());
        }}
      >
        <Field label="Link code" hint="8 characters, such as KDWX-7Q3M">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              required
              autoComplete="off"
              spellCheck={false}
              className="mono"
              maxLength={12}
              value={code}
              onChange={(event) => setCode(event.target.value)}
            />
          )}
        </Field>
        <Button type="submit" busy={lookup.isPending}>
          Look up
        </Button>
      </form>
      <MutationError error={lookup.error} />
      {outcome ? <p role="status">{outcome}</p> : null}
      {info ? (
        <div className="card stack" data-testid="mesh-link-device">
          <h3>
            {info.name} <StatusBadge status={info.status} />
          </h3>
          <dl className="facts">
            <dt>Code</dt>
            <dd className="mono">{info.code}</dd>
            <dt>Platform</dt>
            <dd>{info.platform}</dd>
            <dt>Version</dt>
            <dd>{info.version ?? '—'}</dd>
            <dt>WireGuard key</dt>
            <dd className="mono">{info.publicKey}</dd>
            <dt>Requested from</dt>
            <dd className="mono">{info.requestedFrom ?? '—'}</dd>
            <dt>Requested</dt>
            <dd>{formatDateTime(info.createdAt)}</dd>
            <dt>Expires</dt>
            <dd>{formatRelative(info.expiresAt)}</dd>
          </dl>
          {info.status === 'pending' ? (
            <>
              <Field label="Node name" hint="the device's hostname by default">
                {(id, describedBy) => (
                  <input
                    id={id}
                    aria-describedby={describedBy}
                    pattern="[a-z0-9]+(-[a-z0-9]+)*"
                    maxLength={63}
                    value={name}
                    onChange={(event) => setName(event.target.value)}
                  />
                )}
              </Field>
              <MutationError error={approve.error ?? deny.error} />
              <div className="form-actions">
                <Button variant="danger" busy={deny.isPending} onClick={() => deny.mutate(info)}>
                  Deny
                </Button>
                <Button variant="primary" busy={approve.isPending} onClick={() => approve.mutate(info)}>
                  Approve
                </Button>
              </div>
            </>
          ) : (
            <p className="muted">This link is {info.status}; there is nothing to decide.</p>
          )}
        </div>
      ) : null}
    </section>
  );
}

function NodesSection() {
  const [status, setStatus] = useState<'' | 'active' | 'revoked'>('active');
  const nodes = useQuery({
    queryKey: ['mesh', 'nodes', status],
    queryFn: () => call('meshNodesList', { query: { limit: 200, ...(status ? { status } : {}) } }),
    refetchInterval: 5000,
  });
  return (
    <section className="card stack" aria-labelledby="mesh-nodes">
      <h2 id="mesh-nodes">Nodes</h2>
      <search className="filters" aria-label="Filter nodes">
        <Field label="Status">
          {(id) => (
            <select id={id} value={status} onChange={(event) => setStatus(event.target.value as typeof status)}>
              <option value="">All</option>
              <option value="active">Active</option>
              <option value="revoked">Revoked</option>
            </select>
          )}
        </Field>
      </search>
      <QueryView
        query={nodes}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No nodes">Link a device with its code to add one.</EmptyState>}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">State</th>
                  <th scope="col">Address</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Platform</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((node) => (
                  <tr key={node.id}>
                    <td>
                      <Link to="/mesh/nodes/$node" params={{ node: node.id }}>
                        {node.name}
                      </Link>
                    </td>
                    <td>
                      {node.status === 'revoked' ? (
                        <StatusBadge status="revoked" />
                      ) : (
                        <StatusBadge status={node.online ? 'online' : 'offline'} />
                      )}
                    </td>
                    <td className="mono">{node.address}</td>
                    <td>{node.owner.email}</td>
                    <td>
                      {node.platform}
                      {node.version ? <span className="muted"> {node.version}</span> : null}
                    </td>
                    <td title={node.lastSeenAt ?? undefined}>
                      {node.online ? 'now' : node.lastSeenAt ? formatRelative(node.lastSeenAt) : 'never'}
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

/** The RunMesh audit log, newest first, a page at a time; optionally one node's. */
export function AuditSection({ nodeId, headingId = 'mesh-audit' }: { nodeId?: string; headingId?: string }) {
  const audit = useInfiniteQuery({
    queryKey: ['mesh', 'audit', nodeId ?? ''],
    queryFn: ({ pageParam }) =>
      call('meshAudit', { query: { limit: 50, cursor: pageParam, ...(nodeId ? { nodeId } : {}) } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: 10_000,
  });
  const entries = audit.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <section className="card stack" aria-labelledby={headingId}>
      <h2 id={headingId}>Audit log</h2>
      {audit.isPending ? (
        <Loading label="Loading the audit log…" />
      ) : audit.isError ? (
        <ErrorState error={audit.error} retry={() => audit.refetch()} />
      ) : entries.length === 0 ? (
        <EmptyState title="Nothing in the audit log yet" />
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Node</th>
                <th scope="col">From</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <AuditRow key={entry.id} entry={entry} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {audit.hasNextPage ? (
        <Button busy={audit.isFetchingNextPage} onClick={() => void audit.fetchNextPage()}>
          Load more audit entries
        </Button>
      ) : null}
    </section>
  );
}

function AuditRow({ entry }: { entry: MeshAuditEntry }) {
  const details = Object.keys(entry.details).length ? JSON.stringify(entry.details) : '';
  return (
    <tr>
      <td title={entry.at}>{formatDateTime(entry.at)}</td>
      <td className="mono">{entry.action}</td>
      <td>
        {entry.actor.kind} <span className="mono muted">{entry.actor.id}</span>
      </td>
      <td className="mono">
        {entry.nodeId ? (
          <Link to="/mesh/nodes/$node" params={{ node: entry.nodeId }}>
            {entry.nodeId}
          </Link>
        ) : (
          '—'
        )}
      </td>
      <td className="mono">{entry.from ?? '—'}</td>
      <td className="mono ellipsis" title={details}>
        {details || '—'}
      </td>
    </tr>
  );
}
