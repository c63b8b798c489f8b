import type { SandboxCreateRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useProjectField } from '../../components/projects';
import { Button, Dialog, Field, MutationError } from '../../components/ui';
import { parsePairs } from './shared';

/** "New sandbox": every field of SandboxCreateRequest; on success it opens the new sandbox. */
export function CreateSandboxDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} title="New sandbox" wide>
      <CreateSandboxForm onClose={onClose} />
    </Dialog>
  );
}

type Mount = { on: boolean; path: string };

function CreateSandboxForm({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [template, setTemplate] = useState('');
  const [runtime, setRuntime] = useState<'' | 'gvisor' | 'container'>('');
  const [vcpus, setVcpus] = useState('');
  const [memory, setMemory] = useState('');
  const [disk, setDisk] = useState('');
  const [env, setEnv] = useState('');
  const [metadata, setMetadata] = useState('');
  const [internet, setInternet] = useState(false);
  const [idleTimeout, setIdleTimeout] = useState('900');
  const [autoResume, setAutoResume] = useState(false);
  const [mounts, setMounts] = useState<Record<string, Mount>>({});
  const [formError, setFormError] = useState<string>();
  const project = useProjectField();

  const templates = useQuery({
    queryKey: ['templates', 'all'],
    queryFn: () => call('templatesList', { query: { limit: 1000 } }),
    staleTime: 60_000,
  });
  const workspaces = useQuery({
    queryKey: ['workspaces', 'all'],
    queryFn: () => call('workspacesList', { query: { limit: 1000 } }),
    staleTime: 30_000,
  });
  const orgWorkspaces = (workspaces.data?.data ?? []).filter((workspace) => workspace.kind === 'org');

  const create = useMutation({
    mutationFn: (body: SandboxCreateRequest) => call('sandboxesCreate', { body }),
    onSuccess: (sandbox) => {
      onClose();
      void navigate({ to: '/sandboxes/$sandboxId', params: { sandboxId: sandbox.id } });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    setFormError(undefined);
    let body: SandboxCreateRequest;
    try {
      const envVars = parsePairs(env, 'Environment line');
      const meta = parsePairs(metadata, 'Metadata line');
      const resources: NonNullable<SandboxCreateRequest['resources']> = {};
      if (vcpus) resources.vcpus = Number(vcpus);
      if (memory) resources.memory = memory.trim();
      if (disk) resources.disk = disk.trim();
      const chosen = Object.entries(mounts)
        .filter(([, mount]) => mount.on)
        .map(([workspaceId, mount]) => ({ workspaceId, path: mount.path || '/workspace' }));
      body = {
        ...(name ? { name } : {}),
        ...(template ? { template } : {}),
        ...(runtime ? { runtime } : {}),
        ...(Object.keys(envVars).length ? { env: envVars } : {}),
        ...(Object.keys(meta).length ? { metadata: meta } : {}),
        ...(Object.keys(resources).length ? { resources } : {}),
        ...(chosen.length ? { mounts: chosen } : {}),
        network: { internet },
        ...(idleTimeout !== '' ? { idleTimeout: Number(idleTimeout) } : {}),
        autoResume,
        ...(project.projectId ? { projectId: project.projectId } : {}),
      };
    } catch (error) {
      setFormError((error as Error).message);
      return;
    }
    create.mutate(body);
  }

  return (
    <form onSubmit={submit} className="stack">
      <div className="form-grid">
        <Field label="Name" hint="optional; lowercase letters, digits, - and _">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={name}
              pattern="[a-z0-9]+([\-_][a-z0-9]+)*"
              maxLength={63}
              onChange={(event) => setName(event.target.value)}
            />
          )}
        </Field>
        {project.field}
        <Field label="Template">
          {(id) => (
            <select id={id} value={template} onChange={(event) => setTemplate(event.target.value)}>
              <option value="">Default{templates.isPending ? ' (loading…)' : ''}</option>
              {(templates.data?.data ?? []).map((item) => (
                <option key={item.name} value={item.name}>
                  {item.name}
                  {item.default ? ' (default)' : ''}
                  {item.status !== 'ready' ? ` — ${item.status.replace('_', ' ')}` : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Runtime">
          {(id) => (
            <select
              id={id}
              value={runtime}
              onChange={(event) => setRuntime(event.target.value as '' | 'gvisor' | 'container')}
            >
              <option value="">Server default</option>
              <option value="gvisor">gVisor</option>
              <option value="container">Container (crun)</option>
            </select>
          )}
        </Field>
        <Field label="vCPUs" hint="e.g. 1 or 0.5">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              type="number"
              min={0.1}
              max={64}
              step={0.1}
              value={vcpus}
              onChange={(event) => setVcpus(event.target.value)}
            />
          )}
        </Field>
        <Field label="Memory" hint="e.g. 1GB (default 1GiB)">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={memory}
              placeholder="1GB"
              onChange={(event) => setMemory(event.target.value)}
            />
          )}
        </Field>
        <Field label="Disk" hint="e.g. 10GB (default unlimited)">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={disk}
              placeholder="10GB"
              onChange={(event) => setDisk(event.target.value)}
            />
          )}
        </Field>
        <Field label="Idle timeout (seconds)" hint="paused after this long without activity; 0 never">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              type="number"
              min={0}
              max={604800}
              value={idleTimeout}
              onChange={(event) => setIdleTimeout(event.target.value)}
            />
          )}
        </Field>
      </div>
      <div className="row">
        <label className="check">
          <input type="checkbox" checked={internet} onChange={(event) => setInternet(event.target.checked)} /> Internet
          access
        </label>
        <label className="check">
          <input type="checkbox" checked={autoResume} onChange={(event) => setAutoResume(event.target.checked)} />{' '}
          Resume automatically when used while paused
        </label>
      </div>
      <div className="form-grid">
        <Field label="Environment" hint="KEY=value, one a line">
          {(id, describedBy) => (
            <textarea
              id={id}
              aria-describedby={describedBy}
              value={env}
              rows={3}
              onChange={(event) => setEnv(event.target.value)}
            />
          )}
        </Field>
        <Field label="Metadata" hint="key=value, one a line; the list filters on it">
          {(id, describedBy) => (
            <textarea
              id={id}
              aria-describedby={describedBy}
              value={metadata}
              rows={3}
              onChange={(event) => setMetadata(event.target.value)}
            />
          )}
        </Field>
      </div>
      <fieldset className="fieldset">
        <legend>Workspace mounts</legend>
        {workspaces.isPending ? (
          <p className="muted">Loading workspaces…</p>
        ) : orgWorkspaces.length === 0 ? (
          <p className="muted">No org workspaces to mount.</p>
        ) : (
          <div className="stack">
            {orgWorkspaces.map((workspace) => {
              const mount = mounts[workspace.id] ?? { on: false, path: `/workspace/${workspace.slug}` };
              const set = (next: Partial<Mount>) => setMounts({ ...mounts, [workspace.id]: { ...mount, ...next } });
              return (
                <div key={workspace.id} className="row">
                  <label className="check">
                    <input type="checkbox" checked={mount.on} onChange={(event) => set({ on: event.target.checked })} />{' '}
                    Mount {workspace.name}
                  </label>
                  <input
                    aria-label={`Mount path of ${workspace.name}`}
                    value={mount.path}
                    disabled={!mount.on}
                    style={{ maxWidth: '20rem' }}
                    onChange={(event) => set({ path: event.target.value })}
                  />
                </div>
              );
            })}
          </div>
        )}
      </fieldset>
      {formError ? (
        <p className="field-error" role="alert">
          {formError}
        </p>
      ) : null}
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create sandbox
        </Button>
      </div>
    </form>
  );
}
