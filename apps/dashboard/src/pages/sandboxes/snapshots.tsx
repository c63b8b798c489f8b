import type { Sandbox, SandboxSnapshot } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatBytes, formatDateTime } from '../../components/format';
import { Button, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from './shared';

/** Snapshots: take one, list them, roll the sandbox back to one, branch a new sandbox from one, delete. */
export function SandboxSnapshots({ sandbox }: { sandbox: Sandbox }) {
  const sandboxId = sandbox.id;
  const canWrite = useCan('sandboxes:write');
  const canSnapshot = canWrite && (sandbox.status === 'running' || sandbox.status === 'paused');
  const live = sandbox.status !== 'destroyed' && sandbox.status !== 'destroying';
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [rollbackTo, setRollbackTo] = useState<SandboxSnapshot>();
  const [branchFrom, setBranchFrom] = useState<SandboxSnapshot>();
  const [deleting, setDeleting] = useState<SandboxSnapshot>();
  const [branchName, setBranchName] = useState('');

  const list = useQuery({
    queryKey: ['sandboxes', 'snapshots', sandboxId],
    queryFn: () => call('sandboxesSnapshotsList', { params: { sandboxId }, query: { limit: 1000 } }),
  });
  const take = useMutation({
    mutationFn: () => call('sandboxesSnapshotsCreate', { params: { sandboxId }, body: name ? { name } : {} }),
    onSuccess: () => setName(''),
  });
  const rollback = useMutation({
    mutationFn: (snapshot: string) => call('sandboxesRollback', { params: { sandboxId }, body: { snapshot } }),
    onSuccess: () => setRollbackTo(undefined),
  });
  const branch = useMutation({
    mutationFn: (body: { snapshot: string; name?: string }) => call('sandboxesBranch', { params: { sandboxId }, body }),
    onSuccess: (created) => {
      setBranchFrom(undefined);
      void navigate({ to: '/sandboxes/$sandboxId', params: { sandboxId: created.id } });
    },
  });
  const remove = useMutation({
    mutationFn: (snapshotId: string) => call('sandboxesSnapshotsDelete', { params: { sandboxId, snapshotId } }),
    onSuccess: () => setDeleting(undefined),
  });

  return (
    <div className="stack">
      <h2>Snapshots</h2>
      {canSnapshot ? (
        <form
          className="row"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            take.mutate();
          }}
        >
          <input
            aria-label="Snapshot name"
            placeholder="name (optional)"
            value={name}
            maxLength={63}
            style={{ width: '16rem' }}
            onChange={(event) => setName(event.target.value)}
          />
          <Button type="submit" variant="primary" busy={take.isPending}>
            Take snapshot
          </Button>
        </form>
      ) : null}
      <MutationError error={take.error} />
      <QueryView
        query={list}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No snapshots yet" />}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Snapshot</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Size</th>
                  <th scope="col">Taken</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((snapshot) => {
                  const label = snapshot.name ?? snapshot.id;
                  return (
                    <tr key={snapshot.id}>
                      <td>
                        <strong>{label}</strong>
                        {snapshot.name ? <div className="muted mono">{snapshot.id}</div> : null}
                      </td>
                      <td>{snapshot.memory ? 'files and processes' : 'files'}</td>
                      <td>{formatBytes(snapshot.sizeBytes)}</td>
                      <td>{formatDateTime(snapshot.createdAt)}</td>
                      <td>
                        {canWrite ? (
                          <div className="row">
                            {live ? (
                              <Button variant="ghost" onClick={() => setRollbackTo(snapshot)}>
                                Roll back to {label}
                              </Button>
                            ) : null}
                            <Button
                              variant="ghost"
                              onClick={() => {
                                setBranchName('');
                                branch.reset();
                                setBranchFrom(snapshot);
                              }}
                            >
                              Branch from {label}
                            </Button>
                            <Button variant="ghost" onClick={() => setDeleting(snapshot)}>
                              Delete {label}
                            </Button>
                          </div>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <ConfirmDialog
        open={rollbackTo !== undefined}
        title="Roll back?"
        confirmLabel="Roll back"
        onConfirm={() => rollbackTo && rollback.mutate(rollbackTo.id)}
        onClose={() => setRollbackTo(undefined)}
        busy={rollback.isPending}
        error={rollback.error}
      >
        <p>
          The sandbox goes back to <strong>{rollbackTo?.name ?? rollbackTo?.id}</strong>, in place: changes since then
          are lost.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete snapshot?"
        confirmLabel="Delete snapshot"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{deleting?.name ?? deleting?.id}</strong> and its files will be deleted.
        </p>
      </ConfirmDialog>
      <Dialog open={branchFrom !== undefined} onClose={() => setBranchFrom(undefined)} title="Branch a new sandbox">
        <form
          className="stack"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            if (branchFrom) branch.mutate({ snapshot: branchFrom.id, ...(branchName ? { name: branchName } : {}) });
          }}
        >
          <p>
            A new, independent sandbox from <strong>{branchFrom?.name ?? branchFrom?.id}</strong>.
          </p>
          <Field label="New sandbox name" hint="optional">
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={branchName}
                maxLength={63}
                onChange={(event) => setBranchName(event.target.value)}
              />
            )}
          </Field>
          <MutationError error={branch.error} />
          <div className="form-actions">
            <Button onClick={() => setBranchFrom(undefined)}>Cancel</Button>
            <Button type="submit" variant="primary" busy={branch.isPending}>
              Create branch
            </Button>
          </div>
        </form>
      </Dialog>
    </div>
  );
}
