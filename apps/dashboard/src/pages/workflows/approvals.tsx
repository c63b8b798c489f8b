import type { Approval, ApprovalStatus } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { formatDateTime, formatRelative } from '../../components/format';
import { Button, EmptyState, Field, MutationError, PageHeader, QueryView, StatusBadge } from '../../components/ui';

const statuses: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'timed_out', 'cancelled'];

/** The approvals inbox: runs waiting at an approval node, approve or reject each with a comment. */
export function ApprovalsPage() {
  const [status, setStatus] = useState<ApprovalStatus | ''>('pending');
  const approvals = useQuery({
    queryKey: ['workflow-approvals', 'list', status],
    queryFn: () => call('workflowApprovalsList', { query: { limit: 100, ...(status ? { status } : {}) } }),
    refetchInterval: 5000,
  });
  return (
    <>
      <Link to="/workflows" className="back-link">
        ← Workflows
      </Link>
      <PageHeader title="Approvals" description="Workflow runs waiting for a decision." />
      <search className="filters" aria-label="Filter approvals">
        <Field label="Status">
          {(id) => (
            <select id={id} value={status} onChange={(event) => setStatus(event.target.value as ApprovalStatus | '')}>
              <option value="">All</option>
              {statuses.map((option) => (
                <option key={option} value={option}>
                  {option.replace('_', ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
      </search>
      <QueryView
        query={approvals}
        isEmpty={(data) => data.data.length === 0}
        empty={<EmptyState title={status === 'pending' ? 'Nothing waiting for approval' : 'No approvals'} />}
      >
        {(data) => (
          <div className="stack">
            {data.data.map((approval) => (
              <ApprovalCard key={approval.id} approval={approval} />
            ))}
          </div>
        )}
      </QueryView>
    </>
  );
}

/** One approval; pending ones have a comment box and Approve / Reject. */
export function ApprovalCard({ approval, level = 2 }: { approval: Approval; level?: 2 | 3 }) {
  const Heading = level === 2 ? 'h2' : 'h3';
  const canExecute = useCan('workflows:execute');
  const [comment, setComment] = useState('');
  const resolve = useMutation({
    mutationFn: (approved: boolean) =>
      call('workflowApprovalsResolve', {
        params: { approvalId: approval.id },
        body: { approved, ...(comment.trim() ? { comment: comment.trim() } : {}) },
      }),
  });
  const headingId = `approval-${approval.id}`;
  return (
    <article className="card stack" aria-labelledby={headingId} data-testid={`approval-${approval.id}`}>
      <div className="row spread">
        <Heading id={headingId}>
          {approval.workflow} · {approval.nodeId}
        </Heading>
        <StatusBadge status={approval.status} />
      </div>
      <p className="approval-message">{approval.message}</p>
      <dl className="facts">
        <dt>Run</dt>
        <dd>
          <Link to="/workflows/runs/$workflowRunId" params={{ workflowRunId: approval.runId }} className="mono">
            {approval.runId}
          </Link>
        </dd>
        <dt>Requested</dt>
        <dd title={approval.createdAt}>{formatRelative(approval.createdAt)}</dd>
        {approval.expiresAt ? (
          <>
            <dt>Expires</dt>
            <dd title={approval.expiresAt}>{formatDateTime(approval.expiresAt)}</dd>
          </>
        ) : null}
        {approval.approvers?.length ? (
          <>
            <dt>Approvers</dt>
            <dd>{approval.approvers.join(', ')}</dd>
          </>
        ) : null}
        {approval.decidedBy ? (
          <>
            <dt>Decided by</dt>
            <dd>
              {approval.decidedBy} {approval.decidedAt ? formatRelative(approval.decidedAt) : ''}
            </dd>
          </>
        ) : null}
        {approval.comment ? (
          <>
            <dt>Comment</dt>
            <dd>{approval.comment}</dd>
          </>
        ) : null}
      </dl>
      {approval.status === 'pending' && canExecute ? (
        <>
          <Field label="Comment" hint="optional, kept with the decision">
            {(id, describedBy) => (
              <textarea
                id={id}
                aria-describedby={describedBy}
                rows={2}
                maxLength={4000}
                value={comment}
                onChange={(event) => setComment(event.target.value)}
              />
            )}
          </Field>
          <MutationError error={resolve.error} />
          <div className="form-actions">
            <Button
              variant="danger"
              busy={resolve.isPending && resolve.variables === false}
              disabled={resolve.isPending}
              onClick={() => resolve.mutate(false)}
            >
              Reject
            </Button>
            <Button
              variant="primary"
              busy={resolve.isPending && resolve.variables === true}
              disabled={resolve.isPending}
              onClick={() => resolve.mutate(true)}
            >
              Approve
            </Button>
          </div>
        </>
      ) : null}
    </article>
  );
}
