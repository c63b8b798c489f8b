import '@xyflow/react/dist/style.css';
import type { GraphProblem, WorkflowEdge, WorkflowNode } from '@runtools/spec';
import {
  Background,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  type NodeTypes,
  Position,
} from '@xyflow/react';
import { StatusBadge } from '../../components/ui';
import { type EdgeData, isNodeType, type NodeData, nodeKinds } from './model';

/**
 * React Flow pieces shared by the editor and the run view (this module, and so @xyflow/react and its CSS, is
 * loaded only with those pages).
 */
export type FlowNode = Node<NodeData, 'workflow'>;
export type FlowEdge = Edge<EdgeData>;

function WorkflowNodeView({ id, data, selected }: NodeProps<FlowNode>) {
  const kind = isNodeType(data.type) ? nodeKinds[data.type] : undefined;
  const problems = data.problems ?? [];
  return (
    <div
      className={`wf-node${problems.length ? ' has-problems' : ''}${selected ? ' selected' : ''}${
        data.status ? ` status-${data.status}` : ''
      }`}
      data-testid={`workflow-node-${id}`}
    >
      <Handle type="target" position={Position.Top} />
      <div className="wf-node-type">{kind?.label ?? data.type}</div>
      <div className="wf-node-id mono">{id}</div>
      {data.label ? <div className="wf-node-label">{data.label}</div> : null}
      {data.status ? <StatusBadge status={data.status} /> : null}
      {problems.length ? (
        <ul className="wf-node-problems">
          {problems.map((problem, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: problems have no id and do not reorder
            <li key={index}>{problem.path ? `${problem.path}: ${problem.message}` : problem.message}</li>
          ))}
        </ul>
      ) : null}
      {data.type === 'output' ? null : kind?.branches ? (
        <>
          <Handle type="source" id="true" position={Position.Bottom} style={{ left: '28%' }} />
          <Handle type="source" id="false" position={Position.Bottom} style={{ left: '72%' }} />
          <div className="wf-node-branches" aria-hidden="true">
            <span>{data.type === 'approval' ? 'approved' : 'true'}</span>
            <span>{data.type === 'approval' ? 'rejected' : 'false'}</span>
          </div>
        </>
      ) : (
        <Handle type="source" position={Position.Bottom} />
      )}
    </div>
  );
}

export const flowNodeTypes: NodeTypes = { workflow: WorkflowNodeView };

export function edgeLabel(data: EdgeData | undefined): string | undefined {
  const parts: string[] = [];
  if (data?.condition !== undefined) parts.push(String(data.condition));
  if (data?.maxIterations !== undefined) parts.push(`loop ≤${data.maxIterations}`);
  return parts.join(' · ') || undefined;
}

export function edgeId(edge: WorkflowEdge, index: number): string {
  return edge.id ?? `e${index}-${edge.source}-${edge.target}-${edge.condition ?? ''}`;
}

/** A stored graph as React Flow nodes and edges, with each one's problems (and, in a run, node states). */
export function toFlow(
  nodes: WorkflowNode[],
  edges: WorkflowEdge[],
  problems: GraphProblem[] = [],
  statuses: Map<string, string> = new Map(),
): { nodes: FlowNode[]; edges: FlowEdge[] } {
  return {
    nodes: nodes.map((node) => flowNode(node, problems, statuses.get(node.id))),
    edges: edges.map((edge, index) => flowEdge(edge, edgeId(edge, index), problemsOfEdge(problems, index))),
  };
}

export function flowNode(node: WorkflowNode, problems: GraphProblem[] = [], status?: string): FlowNode {
  const kind = isNodeType(node.type) ? nodeKinds[node.type] : undefined;
  const own = problems.filter((problem) => problem.nodeId === node.id);
  return {
    id: node.id,
    type: 'workflow',
    position: node.position ?? { x: 0, y: 0 },
    ariaLabel: `${kind?.label ?? node.type} node ${node.id}${own.length ? `, ${own.length} problem${own.length > 1 ? 's' : ''}` : ''}`,
    data: {
      type: node.type,
      config: (node.config && typeof node.config === 'object' ? node.config : {}) as Record<string, unknown>,
      ...(node.label ? { label: node.label } : {}),
      ...(node.retry ? { retry: node.retry } : {}),
      ...(node.timeoutSeconds ? { timeoutSeconds: node.timeoutSeconds } : {}),
      ...(own.length ? { problems: own } : {}),
      ...(status ? { status } : {}),
    },
  };
}

function problemsOfEdge(problems: GraphProblem[], index: number): GraphProblem[] {
  return problems.filter((problem) => problem.edge === index);
}

export function flowEdge(edge: WorkflowEdge, id: string, problems: GraphProblem[] = []): FlowEdge {
  const data: EdgeData = {
    ...(edge.condition !== undefined ? { condition: edge.condition } : {}),
    ...(edge.maxIterations !== undefined ? { maxIterations: edge.maxIterations } : {}),
    ...(problems.length ? { problems } : {}),
  };
  return {
    id,
    source: edge.source,
    target: edge.target,
    ...(edge.condition !== undefined ? { sourceHandle: String(edge.condition) } : {}),
    data,
    label: edgeLabel(data),
    markerEnd: { type: MarkerType.ArrowClosed },
    ...(problems.length ? { className: 'wf-edge-problem', animated: true } : {}),
    ariaLabel: `Edge from ${edge.source} to ${edge.target}${edge.condition !== undefined ? ` when ${edge.condition}` : ''}`,
  };
}

/** React Flow nodes and edges back as the stored graph. */
export function fromFlow(nodes: FlowNode[], edges: FlowEdge[]): { nodes: WorkflowNode[]; edges: WorkflowEdge[] } {
  return {
    nodes: nodes.map((node) => ({
      id: node.id,
      type: node.data.type,
      config: node.data.config,
      position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
      ...(node.data.label ? { label: node.data.label } : {}),
      ...(node.data.retry ? { retry: node.data.retry } : {}),
      ...(node.data.timeoutSeconds ? { timeoutSeconds: node.data.timeoutSeconds } : {}),
    })),
    edges: edges.map((edge) => ({
      source: edge.source,
      target: edge.target,
      ...(edge.data?.condition !== undefined ? { condition: edge.data.condition } : {}),
      ...(edge.data?.maxIterations !== undefined ? { maxIterations: edge.data.maxIterations } : {}),
    })),
  };
}

export { Background, Controls };
