import type { SshKey } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { Button, Dialog, EmptyState, Field, MutationError, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';

/** SSH keys: the public keys that may open `ssh` sessions into sandboxes. */
export function SshKeys() {
  const canWrite = useCan('ssh_keys:write');
  const keys = useQuery({
    queryKey: ['ssh-keys', 'list'],
    queryFn: () => call('sshKeysList', { query: { limit: 200 } }),
  });
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<SshKey>();
  const remove = useMutation({
    mutationFn: (sshKeyId: string) => call('sshKeysRemove', { params: { sshKeyId } }),
    onSuccess: () => setDeleting(undefined),
  });
  return (
    <section className="stack" aria-labelledby="credentials-ssh">
      <div className="row spread">
        <h2 id="credentials-ssh">SSH keys</h2>
        {canWrite ? (
          <Button variant="primary" onClick={() => setAdding(true)}>
            Add SSH key
          </Button>
        ) : null}
      </div>
      <QueryView query={keys} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No SSH keys" />}>
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Fingerprint</th>
                  <th scope="col">Added</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((key) => (
                  <tr key={key.id}>
                    <td>
                      {key.name}
                      {key.comment ? <div className="muted">{key.comment}</div> : null}
                    </td>
                    <td>
                      {key.algorithm}
                      {key.bits ? ` (${key.bits} bits)` : ''}
                    </td>
                    <td className="mono">{key.fingerprint}</td>
                    <td title={key.createdAt}>{formatRelative(key.createdAt)}</td>
                    <td>
                      {canWrite ? (
                        <Button variant="ghost" onClick={() => setDeleting(key)}>
                          Delete {key.name}
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
      <Dialog open={adding} onClose={() => setAdding(false)} title="Add SSH key">
        <AddSshKeyForm onClose={() => setAdding(false)} />
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete SSH key?"
        confirmLabel="Delete SSH key"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{deleting?.name}</strong> ({deleting?.fingerprint}) can no longer open SSH sessions.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function AddSshKeyForm({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const add = useMutation({
    mutationFn: () => call('sshKeysAdd', { body: { name: name.trim(), publicKey: publicKey.trim() } }),
    onSuccess: onClose,
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        add.mutate();
      }}
    >
      <Field label="Name">
        {(id) => (
          <input id={id} required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        )}
      </Field>
      <Field label="Public key" hint="one line, as in ~/.ssh/id_ed25519.pub">
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            required
            rows={4}
            className="mono"
            spellCheck={false}
            value={publicKey}
            onChange={(event) => setPublicKey(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={add.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={add.isPending}>
          Add key
        </Button>
      </div>
    </form>
  );
}
