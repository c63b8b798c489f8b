import type { Trigger, Workflow, WorkflowSaveRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { MoveToProject, useProjectName } from '../../components/projects';
import { useTabParam } from '../../components/tab-param';
import {
  Button,
  CopyButton,
  Dialog,
  EmptyState,
  Field,
  MutationError,
  PageHeader,
  QueryView,
  Tabs,
} from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';
import { WorkflowEditor } from './editor';
import { RunsTable } from './runs-table';

type TabId = 'editor' | 'runs' | 'versions' | 'triggers';
const tabs: { id: TabId; label: string }[] = [
  { id: 'editor', label: 'Editor' },
  { id: 'runs', label: 'Runs' },
  { id: 'versions', label: 'Versions' },
  { id: 'triggers', label: 'Triggers' },
];

/** A workflow: its graph editor, runs, published versions and triggers; Run with a JSON input. */
export function WorkflowPage() {
  const { workflow: slug } = useParams({ strict: false }) as { workflow: string };
  const canExecute = useCan('workflows:execute');
  const canWrite = useCan('workflows:write');
  const navigate = useNavigate();
  const [tab, setTab] = useTabParam<TabId>(tabs, 'editor');
  const [running, setRunning] = useState(false);
  const [deleting, setDeleting] = useState(false);
  // The graph the editor starts from: the draft, or a version loaded into it (which then needs saving).
  const [seed, setSeed] = useState<{ graph: unknown; key: string; dirty: boolean }>();
  const workflow = useQuery({
    queryKey: ['workflows', 'get', slug],
    queryFn: () => call('workflowsGet', { params: { slug } }),
    // The editor keeps its own copy; a refetch must not reset it.
    refetchOnWindowFocus: false,
  });
  const remove = useMutation({
    mutationFn: () => call('workflowsDelete', { params: { slug } }),
    onSuccess: () => void navigate({ to: '/workflows' }),
  });
  /**
   * A move is a save of the stored draft (as it is on the server, so unsaved editor changes stay unsaved in the
   * editor) with the new projectId; the editor's own saves send none and leave the project as it is.
   */
  const move = useMutation({
    mutationFn: ({ saved, projectId }: { saved: Workflow; projectId: string }) =>
      call('workflowsSave', {
        body: {
          name: saved.name,
          slug: saved.slug,
          ...(saved.description ? { description: saved.description } : {}),
          graph: saved.graph as WorkflowSaveRequest['graph'],
          ...(saved.inputSchema ? { inputSchema: saved.inputSchema } : {}),
          projectId,
        },
      }),
  });
  const projectName = useProjectName();
  const data = workflow.data;
  return (
    <>
      <Link to="/workflows" className="back-link">
        ← Workflows
      </Link>
      <PageHeader
        title={data?.name ?? slug}
        description={
          data ? (
            <>
              <span className="mono">{data.slug}</span> ·{' '}
              {data.latestVersion ? `latest version ${data.latestVersion} (${data.visibility})` : 'not published yet'} ·
              project {projectName(data.projectId)}
            </>
          ) : undefined
        }
        actions={
          data ? (
            <>
              {canExecute ? (
                <Button variant="primary" onClick={() => setRunning(true)}>
                  Run
                </Button>
              ) : null}
              {canWrite ? (
                <Button variant="ghost" onClick={() => setDeleting(true)}>
                  Delete workflow
                </Button>
              ) : null}
            </>
          ) : null
        }
      />
      <QueryView query={workflow}>
        {(data) => (
          <>
            {canWrite ? (
              <MoveToProject
                key={data.projectId}
                current={data.projectId}
                what="workflow"
                onMove={(projectId) => move.mutate({ saved: data, projectId })}
                busy={move.isPending}
                error={move.error}
              />
            ) : null}
            <Tabs tabs={tabs} current={tab} onChange={setTab} label="Workflow sections" />
            {/* The editor stays mounted while another tab shows, so unsaved changes survive a look at the runs. */}
            <div
              role="tabpanel"
              id="panel-editor"
              aria-labelledby="tab-editor"
              className="tab-panel"
              hidden={tab !== 'editor'}
            >
              <WorkflowEditor
                key={seed?.key ?? `draft-${data.id}`}
                workflow={data}
                graph={seed?.graph ?? data.graph}
                startDirty={seed?.dirty}
              />
            </div>
            {tab === 'runs' ? (
              <div role="tabpanel" id="panel-runs" aria-labelledby="tab-runs" className="tab-panel">
                <h2>Runs</h2>
                <RunsTable workflow={data.slug} />
              </div>
            ) : null}
            {tab === 'versions' ? (
              <div role="tabpanel" id="panel-versions" aria-labelledby="tab-versions" className="tab-panel">
                <Versions
                  workflow={data}
                  onOpen={(version, graph) => {
                    setSeed({ graph, key: `v${version}-${Date.now()}`, dirty: true });
                    setTab('editor');
                  }}
                />
              </div>
            ) : null}
            {tab === 'triggers' ? (
              <div role="tabpanel" id="panel-triggers" aria-labelledby="tab-triggers" className="tab-panel">
                <Triggers workflow={data} />
              </div>
            ) : null}
            <Dialog open={running} onClose={() => setRunning(false)} title="Run workflow" wide>
              <RunForm workflow={data} onClose={() => setRunning(false)} />
            </Dialog>
          </>
        )}
      </QueryView>
      <ConfirmDialog
        open={deleting}
        title="Delete workflow?"
        confirmLabel="Delete workflow"
        onConfirm={() => remove.mutate()}
        onClose={() => setDeleting(false)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          <strong>{data?.name}</strong>, its versions and triggers are deleted. Not while a run of it is in progress.
        </p>
      </ConfirmDialog>
    </>
  );
}

function RunForm({ workflow, onClose }: { workflow: Workflow; onClose: () => void }) {
  const navigate = useNavigate();
  const canWrite = useCan('workflows:write');
  const versions = useQuery({
    queryKey: ['workflows', 'versions', workflow.slug],
    queryFn: () => call('workflowsVersions', { params: { slug: workflow.slug }, query: { limit: 100 } }),
  });
  const [version, setVersion] = useState(workflow.latestVersion ? 'latest' : 'draft');
  const [input, setInput] = useState('{\n  \n}');
  const [inputError, setInputError] = useState<string>();
  const run = useMutation({
    mutationFn: (parsed: Record<string, unknown>) =>
      call('workflowsRun', {
        params: { slug: workflow.slug },
        body: {
          version: version === 'latest' || version === 'draft' ? version : Number(version),
          input: parsed,
        },
      }),
    onSuccess: (started) => {
      onClose();
      void navigate({ to: '/workflows/runs/$workflowRunId', params: { workflowRunId: started.runId } });
    },
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        let parsed: unknown;
        try {
          parsed = input.trim() ? JSON.parse(input) : {};
        } catch (error) {
          setInputError(`not valid JSON: ${(error as Error).message}`);
          return;
        }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
          setInputError('the input is a JSON object, { … }');
          return;
        }
        setInputError(undefined);
        run.mutate(parsed as Record<string, unknown>);
      }}
    >
      <Field
        label="Version"
        hint={version === 'draft' ? 'the saved draft (unsaved editor changes are not in it)' : undefined}
      >
        {(id, describedBy) => (
          <select
            id={id}
            aria-describedby={describedBy}
            value={version}
            onChange={(event) => setVersion(event.target.value)}
          >
            {workflow.latestVersion ? (
              <option value="latest">Latest published (v{workflow.latestVersion})</option>
            ) : null}
            {canWrite ? <option value="draft">Draft</option> : null}
            {versions.data?.data.map((entry) => (
              <option key={entry.version} value={String(entry.version)}>
                Version {entry.version}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        label="Input (JSON)"
        hint={workflow.inputSchema ? 'must match the workflow’s input schema' : 'a JSON object, available as input'}
        error={inputError}
      >
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            rows={8}
            className="mono"
            spellCheck={false}
            value={input}
            onChange={(event) => setInput(event.target.value)}
          />
        )}
      </Field>
      {workflow.inputSchema ? (
        <details>
          <summary>Input schema</summary>
          <pre className="block-code">{JSON.stringify(workflow.inputSchema, null, 2)}</pre>
        </details>
      ) : null}
      <MutationError error={run.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={run.isPending}>
          Start run
        </Button>
      </div>
    </form>
  );
}

function Versions({ workflow, onOpen }: { workflow: Workflow; onOpen: (version: number, graph: unknown) => void }) {
  const canWrite = useCan('workflows:write');
  const versions = useQuery({
    queryKey: ['workflows', 'versions', workflow.slug],
    queryFn: () => call('workflowsVersions', { params: { slug: workflow.slug }, query: { limit: 100 } }),
  });
  return (
    <section className="stack" aria-labelledby="wf-versions">
      <h2 id="wf-versions">Versions</h2>
      <QueryView
        query={versions}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No published versions">Publish the draft from the editor.</EmptyState>}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Visibility</th>
                  <th scope="col">Note</th>
                  <th scope="col">Published</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((version) => (
                  <tr key={version.version}>
                    <td>
                      v{version.version}
                      {version.version === workflow.latestVersion ? <span className="badge ok">latest</span> : null}
                    </td>
                    <td>{version.visibility}</td>
                    <td>{version.note ?? '—'}</td>
                    <td title={version.createdAt}>
                      {formatRelative(version.createdAt)}
                      {version.publishedBy ? <div className="muted mono">{version.publishedBy}</div> : null}
                    </td>
                    <td>
                      {canWrite ? (
                        <Button variant="ghost" onClick={() => onOpen(version.version, version.graph)}>
                          Open version {version.version} in editor
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

function Triggers({ workflow }: { workflow: Workflow }) {
  const canWrite = useCan('workflows:write');
  const triggers = useQuery({
    queryKey: ['workflows', 'triggers', workflow.slug],
    queryFn: () => call('workflowTriggersList', { params: { slug: workflow.slug }, query: { limit: 100 } }),
    refetchInterval: 30_000,
  });
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Trigger>();
  const remove = useMutation({
    mutationFn: (triggerId: string) => call('workflowTriggersDelete', { params: { slug: workflow.slug, triggerId } }),
    onSuccess: () => setDeleting(undefined),
  });
  return (
    <section className="stack" aria-labelledby="wf-triggers">
      <div className="row spread">
        <h2 id="wf-triggers">Triggers</h2>
        {canWrite ? (
          <Button variant="primary" onClick={() => setCreating(true)} disabled={!workflow.latestVersion}>
            New trigger
          </Button>
        ) : null}
      </div>
      {!workflow.latestVersion ? (
        <p className="muted">Publish a version first: triggers run published versions.</p>
      ) : null}
      <QueryView
        query={triggers}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title="No triggers">A cron schedule or a signed webhook can start runs.</EmptyState>}
      >
        {(data) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Schedule or URL</th>
                  <th scope="col">Version</th>
                  <th scope="col">Next fire</th>
                  <th scope="col">Last fired</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((trigger) => (
                  <tr key={trigger.id}>
                    <td>
                      {trigger.kind}
                      {trigger.enabled ? null : <span className="badge neutral">disabled</span>}
                    </td>
                    <td>
                      {trigger.kind === 'cron' ? (
                        <>
                          <span className="mono">{trigger.schedule}</span>{' '}
                          <span className="muted">
                            ({trigger.timezone}, missed fires: {trigger.missedFires})
                          </span>
                        </>
                      ) : trigger.url ? (
                        <>
                          <span className="mono">{trigger.url}</span>{' '}
                          <CopyButton value={trigger.url} label="Copy webhook URL" />
                        </>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>{trigger.version}</td>
                    <td title={trigger.nextFireAt ?? undefined}>
                      {trigger.nextFireAt
                        ? `${formatDateTime(trigger.nextFireAt)} (${formatRelative(trigger.nextFireAt)})`
                        : '—'}
                    </td>
                    <td title={trigger.lastFiredAt ?? undefined}>
                      {trigger.lastFiredAt ? formatRelative(trigger.lastFiredAt) : 'never'}
                    </td>
                    <td>
                      {canWrite ? (
                        <Button variant="ghost" onClick={() => setDeleting(trigger)}>
                          Delete {trigger.kind} trigger {trigger.id}
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
      <Dialog open={creating} onClose={() => setCreating(false)} title="New trigger" wide>
        <TriggerForm slug={workflow.slug} onClose={() => setCreating(false)} />
      </Dialog>
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete trigger?"
        confirmLabel="Delete trigger"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onClose={() => setDeleting(undefined)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          The {deleting?.kind} trigger stops starting runs
          {deleting?.kind === 'webhook' ? '; its URL answers 404 from now on' : ''}.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function TriggerForm({ slug, onClose }: { slug: string; onClose: () => void }) {
  const [kind, setKind] = useState<'cron' | 'webhook'>('cron');
  const [schedule, setSchedule] = useState('0 9 * * 1-5');
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [missedFires, setMissedFires] = useState<'skip' | 'run_once'>('skip');
  const [input, setInput] = useState('{}');
  const [inputError, setInputError] = useState<string>();
  const [created, setCreated] = useState<Trigger>();
  const create = useMutation({
    mutationFn: (parsed: Record<string, unknown>) =>
      call('workflowTriggersCreate', {
        params: { slug },
        body:
          kind === 'cron'
            ? { kind, schedule: schedule.trim(), timezone, missedFires, input: parsed }
            : { kind, input: parsed },
      }),
    onSuccess: (trigger) => {
      if (trigger.kind === 'webhook') setCreated(trigger);
      else onClose();
    },
  });
  if (created)
    return (
      <div className="stack">
        <p role="status">
          Webhook trigger created. Sign each delivery with this secret (HMAC-SHA256, header{' '}
          <code>X-RunTools-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex of HMAC("t.body")&gt;</code>). The secret is
          shown only this once.
        </p>
        <dl className="facts">
          <dt>Webhook URL</dt>
          <dd>
            <code className="mono" data-testid="webhook-url">
              {created.url}
            </code>{' '}
            {created.url ? <CopyButton value={created.url} label="Copy webhook URL" /> : null}
          </dd>
          <dt>Signing secret</dt>
          <dd>
            <code className="mono" data-testid="webhook-secret">
              {created.secret}
            </code>{' '}
            {created.secret ? <CopyButton value={created.secret} label="Copy signing secret" /> : null}
          </dd>
        </dl>
        <div className="form-actions">
          <Button variant="primary" onClick={onClose}>
            Done
          </Button>
        </div>
      </div>
    );
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        let parsed: unknown;
        try {
          parsed = input.trim() ? JSON.parse(input) : {};
        } catch (error) {
          setInputError(`not valid JSON: ${(error as Error).message}`);
          return;
        }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
          setInputError('a JSON object, { … }');
          return;
        }
        setInputError(undefined);
        create.mutate(parsed as Record<string, unknown>);
      }}
    >
      <fieldset className="fieldset">
        <legend>Kind</legend>
        <div className="row">
          <label className="check">
            <input type="radio" name="trigger-kind" checked={kind === 'cron'} onChange={() => setKind('cron')} /> Cron
            schedule
          </label>
          <label className="check">
            <input type="radio" name="trigger-kind" checked={kind === 'webhook'} onChange={() => setKind('webhook')} />{' '}
            Webhook
          </label>
        </div>
      </fieldset>
      {kind === 'cron' ? (
        <div className="form-grid fields-top">
          <Field label="Schedule" hint="a cron expression: minute hour day month weekday">
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                required
                className="mono"
                maxLength={200}
                value={schedule}
                onChange={(event) => setSchedule(event.target.value)}
              />
            )}
          </Field>
          <Field label="Timezone">
            {(id) => (
              <input
                id={id}
                required
                maxLength={64}
                value={timezone}
                onChange={(event) => setTimezone(event.target.value)}
              />
            )}
          </Field>
          <Field label="Missed fires" hint="while no control plane ran">
            {(id, describedBy) => (
              <select
                id={id}
                aria-describedby={describedBy}
                value={missedFires}
                onChange={(event) => setMissedFires(event.target.value as 'skip' | 'run_once')}
              >
                <option value="skip">Skip them</option>
                <option value="run_once">Run once for them all</option>
              </select>
            )}
          </Field>
        </div>
      ) : (
        <p className="muted">Each signed POST to the trigger's URL starts a run of the latest version.</p>
      )}
      <Field label="Run input (JSON)" hint="the input document of each run it starts" error={inputError}>
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            rows={4}
            className="mono"
            spellCheck={false}
            value={input}
            onChange={(event) => setInput(event.target.value)}
          />
        )}
      </Field>
      <MutationError error={create.error} />
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create trigger
        </Button>
      </div>
    </form>
  );
}
