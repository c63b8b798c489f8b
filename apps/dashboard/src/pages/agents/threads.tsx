import type { ThreadMessage } from '@runtools/spec';
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, ErrorState, Loading, PageHeader, QueryView } from '../../components/ui';
import { ConfirmDialog } from '../sandboxes/shared';
import { RunsTable } from './runs';
import { pretty } from './shared';

/** Threads, most recently active first, each with its agent and message count. */
export function ThreadsTable({ agent }: { agent?: string }) {
  const threads = useInfiniteQuery({
    queryKey: ['threads', 'list', agent ?? ''],
    queryFn: ({ pageParam }) =>
      call('threadsList', {
        query: { limit: 50, ...(agent ? { agent } : {}), ...(pageParam ? { cursor: pageParam } : {}) },
      }),
    initialPageParam: '',
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    refetchInterval: 10_000,
  });
  const rows = threads.data?.pages.flatMap((page) => page.data) ?? [];
  if (threads.isPending) return <Loading label="Loading threads…" />;
  if (threads.isError) return <ErrorState error={threads.error} retry={() => threads.refetch()} />;
  if (rows.length === 0)
    return (
      <EmptyState title="No threads">A run started with “New thread” begins one; later runs continue it.</EmptyState>
    );
  return (
    <div className="stack">
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Thread</th>
              {agent ? null : <th scope="col">Agent</th>}
              <th scope="col">Messages</th>
              <th scope="col">Sandbox</th>
              <th scope="col">Last active</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((thread) => (
              <tr key={thread.id}>
                <td>
                  <Link to="/agents/threads/$threadId" params={{ threadId: thread.id }}>
                    {thread.id}
                  </Link>
                </td>
                {agent ? null : (
                  <td>
                    <Link to="/agents/$agent" params={{ agent: thread.agent }}>
                      {thread.agent}
                    </Link>
                  </td>
                )}
                <td>{thread.messageCount}</td>
                <td>{thread.sandboxId ?? '—'}</td>
                <td title={formatDateTime(thread.updatedAt)}>{formatRelative(thread.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {threads.hasNextPage ? (
        <div className="row">
          <Button onClick={() => threads.fetchNextPage()} busy={threads.isFetchingNextPage}>
            Load more threads
          </Button>
        </div>
      ) : null}
    </div>
  );
}

type Part = {
  type?: string;
  text?: string;
  toolName?: string;
  input?: unknown;
  output?: unknown;
  mediaType?: string;
  filename?: string;
};

/** One part of a message's content (AI SDK model message parts): text, reasoning, tool calls and results, files. */
function ContentPart({ part }: { part: Part }) {
  switch (part.type) {
    case 'text':
      return <div className="run-text">{part.text}</div>;
    case 'reasoning':
      return (
        <details className="run-thinking">
          <summary>Thinking</summary>
          <div className="run-text muted">{part.text}</div>
        </details>
      );
    case 'tool-call':
      return (
        <details>
          <summary>
            Tool call <code>{part.toolName}</code>
          </summary>
          <pre className="block">{pretty(part.input)}</pre>
        </details>
      );
    case 'tool-result':
      return (
        <details>
          <summary>
            Result of <code>{part.toolName}</code>
          </summary>
          <pre className="block">{pretty(part.output)}</pre>
        </details>
      );
    case 'image':
    case 'file':
      return (
        <p className="muted">
          Attachment {part.filename ?? ''} ({part.mediaType ?? part.type})
        </p>
      );
    default:
      return <pre className="block">{pretty(part)}</pre>;
  }
}

function MessageView({ message }: { message: ThreadMessage }) {
  const parts: Part[] =
    typeof message.content === 'string'
      ? [{ type: 'text', text: message.content }]
      : Array.isArray(message.content)
        ? (message.content as Part[])
        : [message.content as Part];
  return (
    <li className={`message message-${message.role}`}>
      <div className="row">
        <strong>{message.role === 'user' ? 'User' : message.role === 'assistant' ? 'Assistant' : 'Tool'}</strong>
        <span className="muted" title={formatDateTime(message.createdAt)}>
          #{message.seq} · {formatRelative(message.createdAt)} ·{' '}
          <Link to="/agents/runs/$runId" params={{ runId: message.runId }}>
            {message.runId}
          </Link>
        </span>
      </div>
      {parts.map((part, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a message's parts never reorder
        <ContentPart key={index} part={part} />
      ))}
    </li>
  );
}

/** A thread: its messages as the model sees them, oldest first, and its runs. */
export function ThreadDetailPage() {
  const { threadId } = useParams({ strict: false }) as { threadId: string };
  const navigate = useNavigate();
  const canWrite = useCan('agents:write');
  const [deleting, setDeleting] = useState(false);
  const thread = useQuery({
    queryKey: ['threads', 'get', threadId],
    queryFn: () => call('threadsGet', { params: { threadId } }),
  });
  const messages = useInfiniteQuery({
    queryKey: ['threads', 'messages', threadId],
    queryFn: ({ pageParam }) =>
      call('threadsMessages', {
        params: { threadId },
        query: { limit: 200, ...(pageParam ? { cursor: pageParam } : {}) },
      }),
    initialPageParam: '',
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    refetchInterval: 5000,
  });
  const remove = useMutation({
    mutationFn: () => call('threadsDelete', { params: { threadId } }),
    onSuccess: () => navigate({ to: '/agents' }),
  });
  const rows = messages.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <>
      <p className="back-link">
        <Link to="/agents">← Agents</Link>
      </p>
      <PageHeader
        title={`Thread ${threadId}`}
        description={
          thread.data ? (
            <>
              of{' '}
              <Link to="/agents/$agent" params={{ agent: thread.data.agent }}>
                {thread.data.agent}
              </Link>{' '}
              · {thread.data.messageCount} messages · started {formatRelative(thread.data.createdAt)}
              {thread.data.sandboxId ? ` · sandbox ${thread.data.sandboxId}` : ''}
            </>
          ) : undefined
        }
        actions={
          canWrite ? (
            <Button variant="danger" onClick={() => setDeleting(true)}>
              Delete thread
            </Button>
          ) : null
        }
      />
      <QueryView query={thread}>
        {() => (
          <>
            <section className="stack" aria-labelledby="messages-heading">
              <h2 id="messages-heading">Messages</h2>
              {messages.isPending ? <Loading label="Loading messages…" /> : null}
              {messages.isError ? <ErrorState error={messages.error} retry={() => messages.refetch()} /> : null}
              {messages.isSuccess && rows.length === 0 ? <EmptyState title="No messages yet" /> : null}
              {rows.length ? (
                <ol className="messages">
                  {rows.map((message) => (
                    <MessageView key={message.seq} message={message} />
                  ))}
                </ol>
              ) : null}
              {messages.hasNextPage ? (
                <div className="row">
                  <Button onClick={() => messages.fetchNextPage()} busy={messages.isFetchingNextPage}>
                    Load more messages
                  </Button>
                </div>
              ) : null}
            </section>
            <section className="stack section" aria-labelledby="thread-runs-heading">
              <h2 id="thread-runs-heading">Runs</h2>
              <RunsTable thread={threadId} />
            </section>
          </>
        )}
      </QueryView>
      <ConfirmDialog
        open={deleting}
        title="Delete thread?"
        confirmLabel="Delete thread"
        onConfirm={() => remove.mutate()}
        onClose={() => setDeleting(false)}
        busy={remove.isPending}
        error={remove.error}
      >
        <p>
          Thread <strong>{threadId}</strong> and its messages will be deleted (and its sandbox, as its agent's cleanup
          says).
        </p>
      </ConfirmDialog>
    </>
  );
}
