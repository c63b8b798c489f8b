import type { SandboxState } from '@runtools/spec';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { ProjectBadge, useChosenProject } from '../../components/projects';
import { Button, EmptyState, ErrorState, Field, Loading, PageHeader, StatusBadge } from '../../components/ui';
import { CreateSandboxDialog } from './create';

const pageSize = 100;
/** The spec's sandbox states (listed here: the spec's runtime code, zod included, stays out of the bundle). */
export const sandboxStates = [
  'pending',
  'creating',
  'running',
  'pausing',
  'paused',
  'resuming',
  'destroying',
  'destroyed',
  'failed',
  'error',
  'suspected_missing',
] as const satisfies readonly SandboxState[];
const rowHeight = 48;

/** `key=value` of the metadata filter box; undefined when empty or incomplete. */
function metadataFilter(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,\s]+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The org's sandboxes: filtered by status and metadata on the server, by template here (the API has no template
 * filter), paged with the API's cursor as the list scrolls near its end, and virtualized so thousands scroll.
 */
export function SandboxesPage() {
  const canWrite = useCan('sandboxes:write');
  const [status, setStatus] = useState('');
  const [template, setTemplate] = useState('');
  const [metadataText, setMetadataText] = useState('');
  const [metadata, setMetadata] = useState<Record<string, string>>();
  const [creating, setCreating] = useState(false);
  const project = useChosenProject();

  // The metadata filter applies once typing pauses, not on every key.
  useEffect(() => {
    const timer = setTimeout(() => setMetadata(metadataFilter(metadataText)), 400);
    return () => clearTimeout(timer);
  }, [metadataText]);

  const templates = useQuery({
    queryKey: ['templates', 'all'],
    queryFn: () => call('templatesList', { query: { limit: 1000 } }),
    staleTime: 60_000,
  });

  const query = useInfiniteQuery({
    queryKey: ['sandboxes', 'list', project ?? 'all', status, metadata],
    queryFn: ({ pageParam }) =>
      call('sandboxesList', {
        query: {
          limit: pageSize,
          cursor: pageParam,
          ...(project ? { projectId: project } : {}),
          ...(status ? { status: status as SandboxState } : {}),
          ...(metadata ? { metadata } : {}),
        },
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: 5000,
  });

  const all = useMemo(() => query.data?.pages.flatMap((page) => page.data) ?? [], [query.data]);
  const rows = useMemo(() => (template ? all.filter((item) => item.template === template) : all), [all, template]);

  return (
    <>
      <PageHeader
        title="Sandboxes"
        description="Isolated machines your agents and you run code in."
        actions={
          canWrite ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New sandbox
            </Button>
          ) : null
        }
      />
      <search className="filters" aria-label="Filter sandboxes">
        <Field label="Status">
          {(id) => (
            <select id={id} value={status} onChange={(event) => setStatus(event.target.value)}>
              <option value="">Any (not destroyed)</option>
              {sandboxStates.map((state) => (
                <option key={state} value={state}>
                  {state.replace(/_/g, ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Template">
          {(id) => (
            <select id={id} value={template} onChange={(event) => setTemplate(event.target.value)}>
              <option value="">Any</option>
              {(templates.data?.data ?? []).map((item) => (
                <option key={item.name} value={item.name}>
                  {item.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Metadata" hint="key=value, several separated by spaces">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={metadataText}
              placeholder="userId=u1"
              onChange={(event) => setMetadataText(event.target.value)}
            />
          )}
        </Field>
      </search>
      {query.isPending ? (
        <Loading label="Loading sandboxes…" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => query.refetch()} />
      ) : rows.length === 0 && !query.hasNextPage ? (
        <EmptyState
          title={
            all.length || status || metadata
              ? 'No sandboxes match these filters'
              : project
                ? 'No sandboxes in this project'
                : 'No sandboxes yet'
          }
        >
          {canWrite && !all.length ? 'Create one with “New sandbox”.' : null}
        </EmptyState>
      ) : (
        <SandboxRows
          rows={rows}
          hasNextPage={query.hasNextPage}
          fetching={query.isFetchingNextPage}
          fetchNext={() => void query.fetchNextPage()}
          showProject={!project}
        />
      )}
      <CreateSandboxDialog open={creating} onClose={() => setCreating(false)} />
    </>
  );
}

type Row = {
  id: string;
  name: string | null;
  projectId: string;
  status: string;
  template: string;
  runtime: string;
  createdAt: string;
};

function SandboxRows({
  rows,
  hasNextPage,
  fetching,
  fetchNext,
  showProject,
}: {
  rows: Row[];
  hasNextPage: boolean;
  fetching: boolean;
  fetchNext: () => void;
  /** "All projects": each row says its project. */
  showProject: boolean;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const count = rows.length + (hasNextPage ? 1 : 0);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;

  // Load the next page when the rows in view come within a screen of the end (or a filter left too few to scroll).
  useEffect(() => {
    if (hasNextPage && !fetching && lastIndex >= rows.length - 20) fetchNext();
  }, [hasNextPage, fetching, lastIndex, rows.length, fetchNext]);

  return (
    <>
      <p className="muted" aria-live="polite">
        {rows.length} sandbox{rows.length === 1 ? '' : 'es'} loaded{hasNextPage ? ', more as you scroll' : ''}
      </p>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region is reachable by keyboard */}
      <section ref={scrollRef} className="virtual-list" aria-label="Sandbox list" tabIndex={0}>
        <div className="virtual-row head" style={{ height: rowHeight }} aria-hidden="true">
          <span>Name</span>
          <span>Status</span>
          <span className="wide-only">Template</span>
          <span className="wide-only">Created</span>
        </div>
        <ul className="virtual-body" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = rows[item.index];
            return (
              <li
                key={row?.id ?? 'more'}
                className="virtual-item"
                style={{ transform: `translateY(${item.start}px)`, height: item.size }}
              >
                {row ? (
                  <Link
                    to="/sandboxes/$sandboxId"
                    params={{ sandboxId: row.id }}
                    className="virtual-row sandbox-row"
                    style={{ height: item.size }}
                  >
                    <span className="ellipsis">
                      <strong>{row.name ?? row.id}</strong>
                      {row.name ? <span className="muted mono"> {row.id}</span> : null}
                      {showProject ? <ProjectBadge projectId={row.projectId} /> : null}
                    </span>
                    <span>
                      <StatusBadge status={row.status} />
                    </span>
                    <span className="wide-only ellipsis">
                      {row.template} <span className="muted">· {row.runtime}</span>
                    </span>
                    <span className="wide-only muted" title={row.createdAt}>
                      {formatRelative(row.createdAt)}
                    </span>
                  </Link>
                ) : (
                  <span className="virtual-row muted" style={{ height: item.size }}>
                    Loading more…
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      </section>
    </>
  );
}
