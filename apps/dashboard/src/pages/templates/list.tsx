import type { Template, TemplateCreateRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import {
  Button,
  Dialog,
  EmptyState,
  Field,
  MutationError,
  PageHeader,
  QueryView,
  StatusBadge,
} from '../../components/ui';
import { ConfirmDialog, parsePairs } from '../sandboxes/shared';
import { BuildDialog } from './build';

/** Templates: the built-in ones and the org's own; create a custom one, build it with live progress, delete it. */
export function TemplatesPage() {
  const canWrite = useCan('sandboxes:write');
  const [creating, setCreating] = useState(false);
  const [building, setBuilding] = useState<string>();
  const [deleting, setDeleting] = useState<Template>();
  const list = useQuery({
    queryKey: ['templates', 'all'],
    queryFn: () => call('templatesList', { query: { limit: 1000 } }),
    refetchInterval: (query) =>
      query.state.data?.data.some((template) => template.status === 'building') ? 2000 : 10_000,
  });
  const remove = useMutation({
    mutationFn: (templateName: string) => call('templatesDelete', { params: { templateName } }),
    onSuccess: () => setDeleting(undefined),
  });

  return (
    <>
      <PageHeader
        title="Templates"
        description="The images sandboxes start from: built-in ones, and your own with packages, files and a start command."
        actions={
          canWrite ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New template
            </Button>
          ) : null
        }
      />
      <QueryView query={list} isEmpty={(data) => data.data.length === 0} empty={<EmptyState title="No templates" />}>
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Template</th>
                  <th scope="col">Status</th>
                  <th scope="col">Base</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((template) => (
                  <tr key={template.name}>
                    <td>
                      <strong>{template.name}</strong>{' '}
                      {template.builtin ? <span className="badge neutral">built-in</span> : null}{' '}
                      {template.default ? <span className="badge neutral">default</span> : null}
                      {template.description ? <div className="muted">{template.description}</div> : null}
                      <TemplateDetails template={template} />
                    </td>
                    <td>
                      <StatusBadge status={template.status} />
                      {template.statusReason ? <div className="muted">{template.statusReason}</div> : null}
                    </td>
                    <td>{template.base ?? '—'}</td>
                    <td title={template.createdAt ?? undefined}>
                      {template.createdAt ? formatRelative(template.createdAt) : '—'}
                    </td>
                    <td>
                      {canWrite ? (
                        <div className="row">
                          <Button
                            variant={template.status === 'ready' ? 'ghost' : 'secondary'}
                            onClick={() => setBuilding(template.name)}
                          >
                            {template.status === 'ready' ? 'Rebuild' : 'Build'} {template.name}
                          </Button>
                          {!template.builtin ? (
                            <Button variant="ghost" onClick={() => setDeleting(template)}>
                              Delete {template.name}
                            </Button>
                          ) : null}
                        </div>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <Dialog open={creating} onClose={() => setCreating(false)} title="New template" wide>
        <CreateTemplateForm
          templates={list.data?.data ?? []}
          onClose={() => setCreating(false)}
          onCreated={(name, build) => {
            setCreating(false);
            if (build) setBuilding(name);
          }}
        />
      </Dialog>
      <BuildDialog name={building} onClose={() => setBuilding(undefined)} />
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete template?"
        confirmLabel="Delete template"
        onConfirm={() => deleting && remove.mutate(deleting.name)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{deleting?.name}</strong> will be deleted. Sandboxes started from it keep running.
        </p>
      </ConfirmDialog>
    </>
  );
}

function TemplateDetails({ template }: { template: Template }) {
  const parts = [
    template.packages.length ? ['Packages', template.packages.join(' ')] : undefined,
    template.commands.length ? ['Commands', template.commands.join('\n')] : undefined,
    template.files.length ? ['Files', template.files.join('\n')] : undefined,
    Object.keys(template.env).length
      ? [
          'Environment',
          Object.entries(template.env)
            .map(([key, value]) => `${key}=${value}`)
            .join('\n'),
        ]
      : undefined,
    template.workdir ? ['Working directory', template.workdir] : undefined,
    template.start ? ['Start command', template.start] : undefined,
  ].filter((part): part is string[] => part !== undefined);
  if (!parts.length) return null;
  return (
    <details>
      <summary>Spec of {template.name}</summary>
      <dl className="facts">
        {parts.map(([label, value]) => (
          <div key={label} style={{ display: 'contents' }}>
            <dt>{label}</dt>
            <dd>
              <pre className="block">{value}</pre>
            </dd>
          </div>
        ))}
      </dl>
    </details>
  );
}

type FileRow = { key: number; path: string; content: string };

function CreateTemplateForm({
  templates,
  onClose,
  onCreated,
}: {
  templates: Template[];
  onClose: () => void;
  onCreated: (name: string, build: boolean) => void;
}) {
  const [name, setName] = useState('');
  const [base, setBase] = useState('base');
  const [description, setDescription] = useState('');
  const [packages, setPackages] = useState('');
  const [commands, setCommands] = useState('');
  const [files, setFiles] = useState<FileRow[]>([]);
  const [env, setEnv] = useState('');
  const [workdir, setWorkdir] = useState('');
  const [start, setStart] = useState('');
  const [buildNow, setBuildNow] = useState(true);
  const [formError, setFormError] = useState<string>();

  const create = useMutation({
    mutationFn: (body: TemplateCreateRequest) => call('templatesCreate', { body }),
    onSuccess: (template) => onCreated(template.name, buildNow),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    setFormError(undefined);
    let body: TemplateCreateRequest;
    try {
      const envVars = parsePairs(env, 'Environment line');
      const packageList = packages.split(/[\s,]+/).filter(Boolean);
      const commandList = commands
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      const fileMap: Record<string, string> = {};
      for (const file of files) {
        if (!file.path.trim()) continue;
        if (!file.path.startsWith('/')) throw new Error(`file path ${file.path} must be absolute (start with /)`);
        fileMap[file.path.trim()] = file.content;
      }
      body = {
        name,
        base,
        ...(description ? { description } : {}),
        ...(packageList.length ? { packages: packageList } : {}),
        ...(commandList.length ? { commands: commandList } : {}),
        ...(Object.keys(fileMap).length ? { files: fileMap } : {}),
        ...(Object.keys(envVars).length ? { env: envVars } : {}),
        ...(workdir ? { workdir } : {}),
        ...(start ? { start } : {}),
      };
    } catch (error) {
      setFormError((error as Error).message);
      return;
    }
    create.mutate(body);
  }

  const setFile = (key: number, next: Partial<FileRow>) =>
    setFiles((current) => current.map((file) => (file.key === key ? { ...file, ...next } : file)));

  return (
    <form className="stack" onSubmit={submit}>
      <div className="form-grid">
        <Field label="Name" hint="lowercase letters, digits and dashes">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              required
              pattern="[a-z0-9][a-z0-9\-]{0,62}"
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
          )}
        </Field>
        <Field label="Base template">
          {(id) => (
            <select id={id} value={base} onChange={(event) => setBase(event.target.value)}>
              {(templates.length ? templates.map((template) => template.name) : ['base']).map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Description">
          {(id) => (
            <input
              id={id}
              value={description}
              maxLength={500}
              onChange={(event) => setDescription(event.target.value)}
            />
          )}
        </Field>
        <Field label="Working directory" hint="optional, e.g. /app">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={workdir}
              onChange={(event) => setWorkdir(event.target.value)}
            />
          )}
        </Field>
      </div>
      <div className="form-grid">
        <Field label="Packages" hint="Debian packages, separated by spaces or lines (name or name=version)">
          {(id, describedBy) => (
            <textarea
              id={id}
              aria-describedby={describedBy}
              rows={3}
              value={packages}
              onChange={(event) => setPackages(event.target.value)}
            />
          )}
        </Field>
        <Field label="Commands" hint="shell commands run as root after the packages, one a line">
          {(id, describedBy) => (
            <textarea
              id={id}
              aria-describedby={describedBy}
              rows={3}
              value={commands}
              onChange={(event) => setCommands(event.target.value)}
            />
          )}
        </Field>
        <Field label="Environment" hint="KEY=value, one a line">
          {(id, describedBy) => (
            <textarea
              id={id}
              aria-describedby={describedBy}
              rows={3}
              value={env}
              onChange={(event) => setEnv(event.target.value)}
            />
          )}
        </Field>
        <Field label="Start command" hint="started in the background in every new sandbox">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={start}
              onChange={(event) => setStart(event.target.value)}
            />
          )}
        </Field>
      </div>
      <fieldset className="fieldset stack">
        <legend>Files</legend>
        {files.length === 0 ? (
          <p className="muted" style={{ margin: 0 }}>
            No files added.
          </p>
        ) : null}
        {files.map((file, index) => (
          <div key={file.key} className="stack file-row">
            <div className="row">
              <input
                aria-label={`File ${index + 1} path`}
                placeholder="/etc/app/config.toml"
                value={file.path}
                style={{ maxWidth: '28rem' }}
                onChange={(event) => setFile(file.key, { path: event.target.value })}
              />
              <Button
                variant="ghost"
                onClick={() => setFiles((current) => current.filter((other) => other.key !== file.key))}
              >
                Remove file {index + 1}
              </Button>
            </div>
            <textarea
              aria-label={`File ${index + 1} content`}
              rows={4}
              value={file.content}
              onChange={(event) => setFile(file.key, { content: event.target.value })}
            />
          </div>
        ))}
        <div className="row">
          <Button
            onClick={() =>
              setFiles((current) => [...current, { key: Date.now() + current.length, path: '', content: '' }])
            }
          >
            Add file
          </Button>
        </div>
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={buildNow} onChange={(event) => setBuildNow(event.target.checked)} /> Build it
        now
      </label>
      {formError ? (
        <p className="field-error" role="alert">
          {formError}
        </p>
      ) : null}
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create template
        </Button>
      </div>
    </form>
  );
}
