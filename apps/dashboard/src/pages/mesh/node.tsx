import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan, useSession } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, Field, MutationError, PageHeader, QueryView, StatusBadge } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';
import { AuditSection } from './list';

/** A RunMesh node: its state, WireGuard config (interface and peers), allowed members, revoke, its audit log. */
export function MeshNodePage() {
  const { node: ref } = useParams({ strict: false }) as { node: string };
  const session = useSession();
  const canWrite = useCan('mesh:write');
  const node = useQuery({
    queryKey: ['mesh', 'node', ref],
    queryFn: () => call('meshNodeGet', { params: { node: ref } }),
    refetchInterval: 5000,
  });
  const [revoking, setRevoking] = useState(false);
  const revoke = useMutation({
    mutationFn: () => call('meshNodeRevoke', { params: { node: ref } }),
    onSuccess: () => setRevoking(false),
  });
  const data = node.data;
  const active = data?.status === 'active';
  // The owner (or an admin with mesh:write) manages a node; the server has the final word.
  const manage = canWrite && active;
  return (
    <>
      <Link to="/mesh" className="back-link">
        ← RunMesh
      </Link>
      <PageHeader
        title={data ? `Node ${data.name}` : 'Node'}
        description={data ? <span className="mono">{data.id}</span> : undefined}
        actions={
          manage ? (
            <Button variant="danger" onClick={() => setRevoking(true)}>
              Revoke node
            </Button>
          ) : null
        }
      />
      <QueryView query={node}>
        {(data) => (
          <div className="stack">
            <section className="card" aria-labelledby="node-facts">
              <h2 id="node-facts">Status</h2>
              <dl className="facts">
                <dt>State</dt>
                <dd>
                  {data.status === 'revoked' ? (
                    <StatusBadge status="revoked" />
                  ) : (
                    <StatusBadge status={data.online ? 'online' : 'offline'} />
                  )}
                </dd>
                <dt>Address</dt>
                <dd className="mono">{data.address}</dd>
                <dt>Owner</dt>
                <dd>
                  {data.owner.email}
                  {data.owner.memberId === session.member.id ? ' (you)' : ''}
                </dd>
                <dt>Platform</dt>
                <dd>
                  {data.platform} {data.version ?? ''}
                </dd>
                <dt>Last seen</dt>
                <dd title={data.lastSeenAt ?? undefined}>
                  {data.online ? 'now' : data.lastSeenAt ? formatRelative(data.lastSeenAt) : 'never'}
                </dd>
                <dt>Endpoint</dt>
                <dd className="mono">{data.endpoint ?? '—'}</dd>
                <dt>WireGuard key</dt>
                <dd className="mono">{data.publicKey}</dd>
                <dt>Linked</dt>
                <dd>{formatDateTime(data.createdAt)}</dd>
                {data.revokedAt ? (
                  <>
                    <dt>Revoked</dt>
                    <dd>{formatDateTime(data.revokedAt)}</dd>
                  </>
                ) : null}
              </dl>
            </section>
            <AllowedMembers nodeRef={ref} allowed={data.allowedMembers} owner={data.owner.email} canWrite={manage} />
            {active ? <NodeConfig nodeRef={ref} /> : null}
            <AuditSection nodeId={data.id} headingId="node-audit" />
          </div>
        )}
      </QueryView>
      <ConfirmDialog
        open={revoking}
        title="Revoke node?"
        confirmLabel="Revoke node"
        onConfirm={() => revoke.mutate()}
        onClose={() => setRevoking(false)}
        busy={revoke.isPending}
        error={revoke.error}
      >
        <p>
          <strong>{data?.name}</strong> leaves the mesh at once: its token stops working and its peers drop it. Linking
          it again needs a new code.
        </p>
      </ConfirmDialog>
    </>
  );
}

function AllowedMembers({
  nodeRef,
  allowed,
  owner,
  canWrite,
}: {
  nodeRef: string;
  allowed: { memberId: string; email: string }[];
  owner: string;
  canWrite: boolean;
}) {
  const [member, setMember] = useState('');
  const allow = useMutation({
    mutationFn: () => call('meshNodeAllow', { params: { node: nodeRef }, body: { member: member.trim() } }),
    onSuccess: () => setMember(''),
  });
  const disallow = useMutation({
    mutationFn: (memberId: string) => call('meshNodeDisallow', { params: { node: nodeRef, member: memberId } }),
  });
  return (
    <section className="card stack" aria-labelledby="node-allowed">
      <h2 id="node-allowed">Allowed members</h2>
      <p className="muted">Besides its owner ({owner}), these members may run agents with tools on this node.</p>
      {allowed.length === 0 ? (
        <EmptyState title="Only the owner" />
      ) : (
        <ul className="plain-list">
          {allowed.map((entry) => (
            <li key={entry.memberId} className="row">
              <span>{entry.email}</span>
              {canWrite ? (
                <Button
                  variant="ghost"
                  busy={disallow.isPending && disallow.variables === entry.memberId}
                  onClick={() => disallow.mutate(entry.memberId)}
                >
                  Remove {entry.email}
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      <MutationError error={disallow.error} />
      {canWrite ? (
        <form
          className="row form-inline"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            if (member.trim()) allow.mutate();
          }}
        >
          <Field label="Member email or id">
            {(id) => (
              <input
                id={id}
                required
                maxLength={320}
                value={member}
                onChange={(event) => setMember(event.target.value)}
              />
            )}
          </Field>
          <Button type="submit" busy={allow.isPending}>
            Allow member
          </Button>
        </form>
      ) : null}
      <MutationError error={allow.error} />
    </section>
  );
}

function NodeConfig({ nodeRef }: { nodeRef: string }) {
  const config = useQuery({
    queryKey: ['mesh', 'node-config', nodeRef],
    queryFn: () => call('meshNodeConfig', { params: { node: nodeRef } }),
    refetchInterval: 15_000,
  });
  return (
    <section className="card stack" aria-labelledby="node-config">
      <h2 id="node-config">WireGuard config</h2>
      <QueryView query={config}>
        {(data) => (
          <>
            <h3>Interface</h3>
            <dl className="facts">
              <dt>Address</dt>
              <dd className="mono">{data.interface.address}</dd>
              <dt>Public key</dt>
              <dd className="mono">{data.interface.publicKey}</dd>
              <dt>Listen port</dt>
              <dd className="mono">{data.interface.listenPort ?? '—'}</dd>
              <dt>Revision</dt>
              <dd className="mono">{data.revision}</dd>
            </dl>
            <h3>Peers</h3>
            {data.peers.length === 0 ? (
              <EmptyState title="No peers">This is the only active node of the org.</EmptyState>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Peer</th>
                      <th scope="col">Address</th>
                      <th scope="col">Allowed IPs</th>
                      <th scope="col">Endpoint</th>
                      <th scope="col">Public key</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.peers.map((peer) => (
                      <tr key={peer.nodeId}>
                        <td>
                          <Link to="/mesh/nodes/$node" params={{ node: peer.nodeId }}>
                            {peer.name}
                          </Link>
                        </td>
                        <td className="mono">{peer.address}</td>
                        <td className="mono">{peer.allowedIps.join(', ')}</td>
                        <td className="mono">{peer.endpoint ?? '—'}</td>
                        <td className="mono">{peer.publicKey}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </QueryView>
    </section>
  );
}
