import type { Sandbox } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { lazy, Suspense, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatBytes, formatDateTime } from '../../components/format';
import { useTabParam } from '../../components/tab-param';
import {
  Button,
  CopyButton,
  ErrorState,
  Loading,
  MutationError,
  PageHeader,
  StatusBadge,
  TabPanel,
  Tabs,
} from '../../components/ui';
import { SandboxFiles } from './files';
import { SandboxLogs } from './logs';
import { ConfirmDialog } from './shared';
import { SandboxSnapshots } from './snapshots';
import { SandboxStatsPanel } from './stats';
import { SandboxUrls } from './urls';

// xterm and its stylesheet load only when the Terminal tab opens.
const SandboxTerminal = lazy(() => import('./terminal'));

const tabs = [
  { id: 'terminal', label: 'Terminal' },
  { id: 'files', label: 'Files' },
  { id: 'logs', label: 'Logs' },
  { id: 'stats', label: 'Stats' },
  { id: 'urls', label: 'Dev URLs' },
  { id: 'snapshots', label: 'Snapshots' },
] as const;
type TabId = (typeof tabs)[number]['id'];

/** States a sandbox moves out of on its own: the page polls faster while it is in one. */
const moving = new Set(['pending', 'creating', 'pausing', 'resuming', 'destroying']);

export function SandboxDetailPage() {
  const { sandboxId } = useParams({ strict: false }) as { sandboxId: string };
  const query = useQuery({
    queryKey: ['sandboxes', 'get', sandboxId],
    queryFn: () => call('sandboxesGet', { params: { sandboxId } }),
    refetchInterval: (current) => (current.state.data && moving.has(current.state.data.status) ? 1000 : 3000),
  });
  if (query.isPending)
    return (
      <>
        <PageHeader title="Sandbox" />
        <Loading label="Loading sandbox…" />
      </>
    );
  if (query.isError)
    return (
      <>
        <PageHeader title="Sandbox" />
        <ErrorState error={query.error} retry={() => query.refetch()} />
        <p>
          <Link to="/sandboxes">Back to sandboxes</Link>
        </p>
      </>
    );
  return <SandboxView sandbox={query.data} />;
}

function SandboxView({ sandbox }: { sandbox: Sandbox }) {
  const canWrite = useCan('sandboxes:write');
  const navigate = useNavigate();
  const [tab, setTab] = useTabParam<TabId>(tabs, 'terminal');
  const [confirmDestroy, setConfirmDestroy] = useState(false);
  const sandboxId = sandbox.id;
  const params = { params: { sandboxId } };

  const pause = useMutation({ mutationFn: () => call('sandboxesPause', params) });
  const resume = useMutation({ mutationFn: () => call('sandboxesResume', params) });
  const destroy = useMutation({
    mutationFn: () => call('sandboxesDestroy', params),
    onSuccess: () => {
      setConfirmDestroy(false);
      void navigate({ to: '/sandboxes' });
    },
  });
  const live = sandbox.status !== 'destroyed' && sandbox.status !== 'destroying';

  function panel(current: TabId) {
    switch (current) {
      case 'terminal':
        if (sandbox.status !== 'running') return <NotRunning sandbox={sandbox} what="The terminal" />;
        if (!canWrite) return <p className="muted">Your role cannot open a terminal.</p>;
        return (
          <Suspense fallback={<Loading label="Loading terminal…" />}>
            <SandboxTerminal sandboxId={sandboxId} />
          </Suspense>
        );
      case 'files':
        if (sandbox.status !== 'running') return <NotRunning sandbox={sandbox} what="Files" />;
        return <SandboxFiles sandboxId={sandboxId} />;
      case 'logs':
        return <SandboxLogs sandboxId={sandboxId} live={live} />;
      case 'stats':
        if (sandbox.status !== 'running' && sandbox.status !== 'paused')
          return <NotRunning sandbox={sandbox} what="Stats" />;
        return <SandboxStatsPanel sandboxId={sandboxId} />;
      case 'urls':
        return <SandboxUrls sandboxId={sandboxId} live={live} />;
      case 'snapshots':
        return <SandboxSnapshots sandbox={sandbox} />;
    }
  }

  return (
    <>
      <p className="back-link">
        <Link to="/sandboxes">← Sandboxes</Link>
      </p>
      <PageHeader
        title={sandbox.name ?? sandbox.id}
        description={
          <span className="row">
            <span aria-live="polite">
              <StatusBadge status={sandbox.status} />
            </span>
            {sandbox.statusReason ? <span>{sandbox.statusReason}</span> : null}
            <span className="mono">{sandbox.id}</span>
          </span>
        }
        actions={
          canWrite && live ? (
            <>
              {sandbox.status === 'running' ? (
                <Button busy={pause.isPending} onClick={() => pause.mutate()}>
                  Pause
                </Button>
              ) : null}
              {sandbox.status === 'paused' ? (
                <Button busy={resume.isPending} onClick={() => resume.mutate()}>
                  Resume
                </Button>
              ) : null}
              <Button variant="danger" onClick={() => setConfirmDestroy(true)}>
                Destroy
              </Button>
            </>
          ) : null
        }
      />
      <MutationError error={pause.error ?? resume.error} />
      <div className="grid detail-grid">
        <section className="card" aria-labelledby="facts-heading">
          <h2 id="facts-heading">Details</h2>
          <dl className="facts">
            <dt>Template</dt>
            <dd>{sandbox.template}</dd>
            <dt>Runtime</dt>
            <dd>{sandbox.runtime === 'gvisor' ? 'gVisor' : 'container (crun)'}</dd>
            {sandbox.pausedTo ? (
              <>
                <dt>Paused to</dt>
                <dd>{sandbox.pausedTo}</dd>
              </>
            ) : null}
            <dt>Resources</dt>
            <dd>
              {sandbox.resources.vcpus} vCPU · {formatBytes(sandbox.resources.memoryBytes)} memory ·{' '}
              {sandbox.resources.diskBytes ? `${formatBytes(sandbox.resources.diskBytes)} disk` : 'disk unlimited'}
            </dd>
            <dt>Internet</dt>
            <dd>{sandbox.network.internet ? 'on' : 'off'}</dd>
            <dt>Idle timeout</dt>
            <dd>
              {sandbox.idleTimeout ? `${sandbox.idleTimeout} s` : 'never'}
              {sandbox.autoResume ? ' · resumes automatically' : ''}
            </dd>
            <dt>Mounts</dt>
            <dd>
              {sandbox.mounts.length
                ? sandbox.mounts.map((mount) => (
                    <div key={mount.path}>
                      <Link to="/workspaces/$workspaceId" params={{ workspaceId: mount.workspaceId }}>
                        {mount.workspaceId}
                      </Link>{' '}
                      at <code>{mount.path}</code>
                    </div>
                  ))
                : 'none'}
            </dd>
            <dt>Metadata</dt>
            <dd>
              {Object.keys(sandbox.metadata).length
                ? Object.entries(sandbox.metadata).map(([key, value]) => (
                    <code key={key} className="code-tag" style={{ marginLeft: 0, marginRight: '0.35rem' }}>
                      {key}={value}
                    </code>
                  ))
                : 'none'}
            </dd>
            <dt>Created</dt>
            <dd>{formatDateTime(sandbox.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{formatDateTime(sandbox.updatedAt)}</dd>
          </dl>
        </section>
        {live ? <SshCard sandboxId={sandboxId} /> : null}
      </div>
      <Tabs tabs={tabs} current={tab} onChange={setTab} label="Sandbox sections" />
      {tabs.map((item) => (
        // Every panel is in the page (the tabs' aria-controls point at them); only the chosen one has content.
        <div key={item.id} hidden={item.id !== tab}>
          <TabPanel id={item.id}>{item.id === tab ? panel(tab) : null}</TabPanel>
        </div>
      ))}
      <ConfirmDialog
        open={confirmDestroy}
        title="Destroy sandbox?"
        confirmLabel="Destroy sandbox"
        onConfirm={() => destroy.mutate()}
        onClose={() => setConfirmDestroy(false)}
        busy={destroy.isPending}
        error={destroy.error}
      >
        <p>
          <strong>{sandbox.name ?? sandbox.id}</strong> and every file in it will be gone. Its snapshots stay until
          deleted.
        </p>
      </ConfirmDialog>
    </>
  );
}

function NotRunning({ sandbox, what }: { sandbox: Sandbox; what: string }) {
  return (
    <div className="state empty">
      <strong>
        {what} needs a running sandbox; this one is {sandbox.status.replace(/_/g, ' ')}.
      </strong>
      {sandbox.status === 'paused' ? <span className="muted">Resume it to use this.</span> : null}
    </div>
  );
}

function SshCard({ sandboxId }: { sandboxId: string }) {
  const ssh = useQuery({
    queryKey: ['sandboxes', 'ssh', sandboxId],
    queryFn: () => call('sandboxesSsh', { params: { sandboxId } }),
    staleTime: 60_000,
    retry: false,
  });
  return (
    <section className="card" aria-labelledby="ssh-heading">
      <h2 id="ssh-heading">SSH</h2>
      {ssh.isPending ? (
        <Loading />
      ) : ssh.isError ? (
        <p className="muted">SSH is not available: {ssh.error.message}</p>
      ) : (
        <div className="stack">
          <code className="block-code" data-testid="ssh-command">
            {ssh.data.command}
          </code>
          <div className="row">
            <CopyButton value={ssh.data.command} label="Copy SSH command" />
          </div>
          <p className="muted" style={{ margin: 0 }}>
            Your SSH key must be one of the org's SSH keys (Credentials → SSH keys).
          </p>
        </div>
      )}
    </section>
  );
}
