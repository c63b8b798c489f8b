import { randomBytes } from 'node:crypto';
import type { Approval, ApprovalResolveRequest, ParsedGraph, ParsedNode } from '@runtools/spec';
import type { Actor } from '../auth/actor.js';
import { hashToken } from '../auth/api-key-token.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import { type EngineContext, finished, nodeQueue, runStatus } from './engine-context.js';
import { interpolate } from './expressions.js';
import { type Completed, NodeFailure } from './node-executors.js';
import type { NodeRunner } from './node-runner.js';
import { type NodeRow, type RunRow, updateNodeRow } from './run-store.js';

/**
 * Approvals, delays and webhook waits: a waiting node is stored with what ends its wait (a time, a decision, a
 * call) and nothing is held in memory, so whichever process the end reaches completes the node.
 */
export class Waits {
  constructor(
    private readonly context: EngineContext,
    private readonly nodes: NodeRunner,
    private readonly advance: (runId: string) => Promise<void>,
  ) {}

  /**
   * Starts an approval, a delay or a webhook wait: the node is stored as waiting (with what ends the wait) and
   * nothing is held in memory. A delay already past completes at once.
   */
  async beginWait(run: RunRow, node: ParsedNode, row: NodeRow): Promise<Completed | undefined> {
    const config = node.config;
    const document = await this.context.document(run);
    const iteration = Number(row.iteration);
    let wakeAt: number | null = null;
    let approval: Database['workflow_approvals'] | undefined;
    let wait: { token: string; hash: string } | undefined;
    let data: Record<string, unknown> = {};
    if (node.type === 'delay') {
      if (typeof config.seconds === 'number')
        wakeAt = Date.parse(row.started_at ?? this.context.iso()) + config.seconds * 1000;
      else {
        const until = await interpolate(String(config.until), document);
        const parsed = typeof until === 'string' || typeof until === 'number' ? new Date(until).getTime() : Number.NaN;
        if (Number.isNaN(parsed))
          throw new NodeFailure('invalid_time', `delay until ${JSON.stringify(until)} is not a time`);
        wakeAt = parsed;
      }
      if (wakeAt <= this.context.now()) return { output: { until: this.context.iso(wakeAt), waitedMs: 0 } };
      data = { until: this.context.iso(wakeAt) };
    } else if (node.type === 'approval') {
      const message = await interpolate(String(config.message), document);
      const timeoutSeconds = config.timeoutSeconds as number | undefined;
      wakeAt = timeoutSeconds ? this.context.now() + timeoutSeconds * 1000 : null;
      approval = {
        id: newId('approval'),
        org_id: run.org_id,
        run_id: run.id,
        workflow_slug: run.workflow_slug,
        node_id: node.id,
        iteration,
        message: typeof message === 'string' ? message : JSON.stringify(message),
        approvers: config.approvers ? JSON.stringify(config.approvers) : null,
        status: 'pending',
        comment: null,
        decided_by: null,
        expires_at: wakeAt === null ? null : this.context.iso(wakeAt),
        created_at: this.context.iso(),
        decided_at: null,
      };
      data = {
        approvalId: approval.id,
        message: approval.message,
        approvers: config.approvers ?? null,
        expiresAt: approval.expires_at,
      };
    } else {
      const timeoutSeconds = config.timeoutSeconds as number | undefined;
      wakeAt = timeoutSeconds ? this.context.now() + timeoutSeconds * 1000 : null;
      const token = `wh_${randomBytes(24).toString('base64url')}`;
      wait = { token, hash: hashToken(token) };
      data = {
        url: `${this.context.options.publicUrl()}/v1/hooks/${token}`,
        expiresAt: wakeAt === null ? null : this.context.iso(wakeAt),
      };
    }
    const waiting = await this.context.store.change(run.id, async (change) => {
      const current = await change.trx
        .selectFrom('workflow_node_runs')
        .select(['status', 'owner'])
        .where('run_id', '=', run.id)
        .where('node_id', '=', node.id)
        .where('iteration', '=', iteration)
        .executeTakeFirst();
      if (current?.status !== 'running' || current.owner !== this.context.owner || finished(change.run.status))
        return false;
      await updateNodeRow(change.trx, run.id, node.id, iteration, {
        status: 'waiting',
        wake_at: wakeAt === null ? null : this.context.iso(wakeAt),
        owner: null,
        lease_expires_at: null,
      });
      if (approval) await change.trx.insertInto('workflow_approvals').values(approval).execute();
      if (wait)
        await change.trx
          .insertInto('workflow_waits')
          .values({
            token_hash: wait.hash,
            run_id: run.id,
            node_id: node.id,
            iteration,
            created_at: this.context.iso(),
          })
          .execute();
      change.emit({ type: 'node.waiting', nodeId: node.id, iteration, attempt: Number(row.attempt), data });
      if (approval) change.emit({ type: 'approval.requested', nodeId: node.id, iteration, data });
      const rows = await change.trx
        .selectFrom('workflow_node_runs')
        .select('status')
        .where('run_id', '=', run.id)
        .execute();
      await this.context.setStatus(change, runStatus(rows as NodeRow[]));
      return true;
    });
    if (waiting && wakeAt !== null)
      await this.context.queue.send(nodeQueue, { runId: run.id, nodeId: node.id, iteration }, { startAfter: wakeAt });
    return undefined;
  }

  /** A waiting node's time came (a delay ended, an approval or a webhook wait timed out). */
  async wake(run: RunRow, node: ParsedNode, row: NodeRow): Promise<void> {
    // An approval node's row, read once: a decision stored without its node ended, or what a timeout finds.
    const approval =
      node.type === 'approval'
        ? await this.context.db
            .selectFrom('workflow_approvals')
            .selectAll()
            .where('run_id', '=', run.id)
            .where('node_id', '=', node.id)
            .where('iteration', '=', row.iteration)
            .executeTakeFirst()
        : undefined;
    if (approval && (approval.status === 'approved' || approval.status === 'rejected')) {
      // Decided, but the process that stored the decision stopped before it ended the node.
      await this.applyDecision(
        run,
        this.context.graph(run),
        node,
        row,
        approval.id,
        approval.status === 'approved',
        approval.decided_by,
        approval.comment,
        approval.decided_at ?? this.context.iso(),
      );
      await this.advance(run.id);
      return;
    }
    if (!row.wake_at) return;
    const wakeAt = Date.parse(row.wake_at);
    if (wakeAt > this.context.now()) {
      await this.context.queue.send(
        nodeQueue,
        { runId: run.id, nodeId: node.id, iteration: Number(row.iteration) },
        { startAfter: wakeAt },
      );
      return;
    }
    const graph = this.context.graph(run);
    if (node.type === 'delay') {
      const started = Date.parse(row.started_at ?? row.wake_at);
      await this.nodes.complete(
        run,
        graph,
        node,
        row,
        { output: { until: row.wake_at, waitedMs: this.context.now() - started } },
        null,
      );
    } else if (node.type === 'approval') {
      const onTimeout = (node.config.onTimeout as string | undefined) ?? 'fail';
      if (approval?.status !== 'pending') return;
      if (onTimeout === 'fail') {
        await this.context.db
          .updateTable('workflow_approvals')
          .set({ status: 'timed_out', decided_at: this.context.iso() })
          .where('id', '=', approval.id)
          .where('status', '=', 'pending')
          .execute();
        await this.nodes.fail(
          run,
          node,
          row,
          new NodeFailure('node_timed_out', `no decision on approval ${approval.id} by ${approval.expires_at}`),
          null,
          false,
        );
      } else {
        await this.decide(
          run,
          graph,
          node,
          row,
          approval,
          onTimeout === 'approve',
          null,
          `timed out: ${onTimeout}`,
          'timed_out',
        );
      }
    } else {
      await this.context.db
        .deleteFrom('workflow_waits')
        .where('run_id', '=', run.id)
        .where('node_id', '=', node.id)
        .execute();
      await this.nodes.fail(
        run,
        node,
        row,
        new NodeFailure('node_timed_out', `no call resumed the wait by ${row.wake_at}`),
        null,
        false,
      );
    }
    await this.advance(run.id);
  }

  /** Records an approval's decision and completes its node with it (rejection without a false branch fails it). */
  private async decide(
    run: RunRow,
    graph: ParsedGraph,
    node: ParsedNode,
    row: NodeRow,
    approval: Database['workflow_approvals'],
    approved: boolean,
    decidedBy: string | null,
    comment: string | null,
    status: 'approved' | 'rejected' | 'timed_out' = approved ? 'approved' : 'rejected',
  ): Promise<boolean> {
    const at = this.context.iso();
    const moved = await this.context.db
      .updateTable('workflow_approvals')
      .set({ status, comment, decided_by: decidedBy, decided_at: at })
      .where('id', '=', approval.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) return false;
    await this.context.store.change(run.id, async (change) =>
      change.emit({
        type: 'approval.resolved',
        nodeId: node.id,
        iteration: Number(row.iteration),
        data: { approvalId: approval.id, approved, comment, decidedBy, status },
      }),
    );
    await this.applyDecision(run, graph, node, row, approval.id, approved, decidedBy, comment, at);
    return true;
  }

  /**
   * Ends an approval node with the decision its approval row holds. Also what recovers a node whose process
   * stopped between storing the decision and ending the node (the sweep finds it, `wake` calls this).
   */
  private async applyDecision(
    run: RunRow,
    graph: ParsedGraph,
    node: ParsedNode,
    row: NodeRow,
    approvalId: string,
    approved: boolean,
    decidedBy: string | null,
    comment: string | null,
    at: string,
  ): Promise<void> {
    const approval = { id: approvalId };
    const hasRejectBranch = (graph.outgoing.get(node.id) ?? []).some((edge) => edge.condition === false);
    if (!approved && !hasRejectBranch) {
      await this.nodes.fail(
        run,
        node,
        row,
        new NodeFailure('approval_rejected', `approval ${approval.id} was rejected${comment ? `: ${comment}` : ''}`),
        null,
        false,
      );
      return;
    }
    await this.nodes.complete(
      run,
      graph,
      node,
      row,
      { output: { approved, comment, decidedBy, decidedAt: at, approvalId: approval.id }, branch: approved },
      null,
    );
  }

  async resolveApproval(actor: Actor, approvalId: string, body: ApprovalResolveRequest): Promise<void> {
    const approval = await this.context.db
      .selectFrom('workflow_approvals')
      .selectAll()
      .where('id', '=', approvalId)
      .where('org_id', '=', actor.orgId)
      .executeTakeFirst();
    if (!approval) throw new DomainError('approval_not_found', `no approval ${approvalId}`, { approvalId });
    if (approval.status !== 'pending')
      throw new DomainError('approval_decided', `approval ${approvalId} is already ${approval.status}`, {
        status: approval.status,
      });
    const approvers = approval.approvers ? (JSON.parse(approval.approvers) as string[]) : null;
    if (
      approvers &&
      !(
        actor.member &&
        (approvers.includes(actor.member.id) ||
          approvers.includes(actor.member.email.toLowerCase()) ||
          approvers.includes(actor.member.email))
      )
    )
      throw new DomainError('approver_not_allowed', `you are not one of the approvers of ${approvalId}`, {
        approvers,
      });
    const run = await this.context.store.run(approval.run_id);
    if (!run || finished(run.status))
      throw new DomainError('approval_decided', `the run of approval ${approvalId} has ended`, { status: run?.status });
    const graph = this.context.graph(run);
    const node = graph.nodes.get(approval.node_id);
    const row = await this.context.store.node(run.id, approval.node_id, Number(approval.iteration));
    if (!node || !row) throw new DomainError('approval_not_found', `no approval ${approvalId}`, { approvalId });
    const decided = await this.decide(
      run,
      graph,
      node,
      row,
      approval,
      body.approved,
      actor.member?.id ?? actor.principal.id,
      body.comment ?? null,
    );
    if (!decided) throw new DomainError('approval_decided', `approval ${approvalId} was decided meanwhile`);
    await this.advance(run.id);
  }

  /** Resumes a webhook-wait node from an inbound call; false when no wait has this token. */
  async resumeWait(token: string, payload: unknown): Promise<{ runId: string } | undefined> {
    const wait = await this.context.db
      .selectFrom('workflow_waits')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!wait) return undefined;
    const run = await this.context.store.run(wait.run_id);
    const row = await this.context.store.node(wait.run_id, wait.node_id, Number(wait.iteration));
    if (!run || !row || finished(run.status) || row.status !== 'waiting') return undefined;
    const graph = this.context.graph(run);
    const node = graph.nodes.get(wait.node_id);
    if (!node) return undefined;
    // Ending the node is the claim (only one call finds it waiting); the wait goes after, so a stop in between
    // leaves a completed node and a token that resumes nothing (the run's end removes it).
    if (!(await this.nodes.complete(run, graph, node, row, { output: payload }, null))) return undefined;
    await this.context.db.deleteFrom('workflow_waits').where('token_hash', '=', wait.token_hash).execute();
    await this.advance(run.id);
    return { runId: run.id };
  }

  async approvalFromRow(row: Database['workflow_approvals']): Promise<Approval> {
    return {
      id: row.id,
      runId: row.run_id,
      workflow: row.workflow_slug,
      nodeId: row.node_id,
      message: row.message,
      approvers: row.approvers ? (JSON.parse(row.approvers) as string[]) : null,
      status: row.status as Approval['status'],
      comment: row.comment,
      decidedBy: row.decided_by,
      expiresAt: row.expires_at,
      createdAt: row.created_at,
      decidedAt: row.decided_at,
    };
  }
}
