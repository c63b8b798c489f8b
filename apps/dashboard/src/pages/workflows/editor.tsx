import type { GraphProblem, Workflow, WorkflowNodeType, WorkflowPublishRequest } from '@runtools/spec';
import { useMutation, useQuery } from '@tanstack/react-query';
import {
  addEdge,
  type Connection,
  type EdgeChange,
  type NodeChange,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
} from '@xyflow/react';
import { type DragEvent, type FormEvent, useCallback, useMemo, useRef, useState } from 'react';
import { call } from '../../api/client';
import { useCan } from '../../api/session';
import { fieldNames } from '../../components/json-schema';
import { type FieldPresentation, SchemaForm } from '../../components/schema-form';
import { Button, Dialog, Field, MutationError } from '../../components/ui';
import {
  Background,
  Controls,
  edgeLabel,
  type FlowEdge,
  type FlowNode,
  flowEdge,
  flowNode,
  flowNodeTypes,
  fromFlow,
  toFlow,
} from './graph';
import {
  defaultConfig,
  freshNodeId,
  isNodeType,
  type NodeData,
  nodeIdPattern,
  nodeKinds,
  nodeTypes,
  problemsOf,
  readGraph,
} from './model';

const dragType = 'application/x-runtools-node-type';

/** The graph editor: palette, canvas (React Flow), the selected node's or edge's form, save, validate, publish. */
export function WorkflowEditor(props: { workflow: Workflow; graph: unknown; startDirty?: boolean }) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

function Editor({ workflow, graph, startDirty }: { workflow: Workflow; graph: unknown; startDirty?: boolean }) {
  const canWrite = useCan('workflows:write');
  const initial = useMemo(() => {
    const read = readGraph(graph);
    return toFlow(read.nodes, read.edges);
  }, [graph]);
  const [nodes, setNodes, applyNodeChanges] = useNodesState<FlowNode>(initial.nodes);
  const [edges, setEdges, applyEdgeChanges] = useEdgesState<FlowEdge>(initial.edges);
  const [name, setName] = useState(workflow.name);
  const [description, setDescription] = useState(workflow.description ?? '');
  const [problems, setProblems] = useState<GraphProblem[]>([]);
  const [dirty, setDirty] = useState(Boolean(startDirty));
  const [notice, setNotice] = useState<string>();
  const [publishing, setPublishing] = useState(false);
  const canvasRef = useRef<HTMLDivElement>(null);
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const agents = useQuery({
    queryKey: ['agents', 'list', 'names'],
    queryFn: () => call('agentsList', { query: { limit: 200 } }),
    enabled: canWrite,
  });
  const tools = useQuery({
    queryKey: ['tools', 'installed', 'names'],
    queryFn: () => call('toolsList', { query: { limit: 200 } }),
    enabled: canWrite,
  });

  const changed = useCallback(() => {
    setDirty(true);
    setNotice(undefined);
  }, []);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      applyNodeChanges(changes);
      if (changes.some((change) => change.type !== 'select' && change.type !== 'dimensions')) changed();
    },
    [applyNodeChanges, changed],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<FlowEdge>[]) => {
      applyEdgeChanges(changes);
      if (changes.some((change) => change.type !== 'select')) changed();
    },
    [applyEdgeChanges, changed],
  );

  /** Puts a save's (or a check's) problems on their nodes and edges. */
  const showProblems = useCallback(
    (list: GraphProblem[]) => {
      setProblems(list);
      setNodes((current) =>
        current.map((node) => {
          const own = list.filter((problem) => problem.nodeId === node.id);
          const { problems: _old, ...data } = node.data;
          return { ...node, data: own.length ? { ...data, problems: own } : data };
        }),
      );
      setEdges((current) =>
        current.map((edge, index) => {
          const own = list.filter((problem) => problem.edge === index);
          return flowEdge(
            {
              source: edge.source,
              target: edge.target,
              condition: edge.data?.condition,
              maxIterations: edge.data?.maxIterations,
            },
            edge.id,
            own,
          );
        }),
      );
    },
    [setNodes, setEdges],
  );

  const select = useCallback(
    (kind: 'node' | 'edge', id: string | undefined) => {
      setNodes((current) => current.map((node) => ({ ...node, selected: kind === 'node' && node.id === id })));
      setEdges((current) => current.map((edge) => ({ ...edge, selected: kind === 'edge' && edge.id === id })));
    },
    [setNodes, setEdges],
  );

  const addNode = useCallback(
    (type: WorkflowNodeType, at?: { x: number; y: number }) => {
      let position = at;
      if (!position) {
        const rect = canvasRef.current?.getBoundingClientRect();
        position = rect
          ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 3 })
          : { x: 100, y: 100 };
        // A node added by click goes to the first free place below the view's centre, not on another node.
        let spot = { x: position.x - 90, y: position.y };
        for (let tries = 0; tries < 50; tries++) {
          const taken = nodes.some(
            (node) => Math.abs(node.position.x - spot.x) < 200 && Math.abs(node.position.y - spot.y) < 110,
          );
          if (!taken) break;
          spot = { x: spot.x, y: spot.y + 120 };
        }
        position = spot;
      }
      const id = freshNodeId(
        type,
        nodes.map((node) => node.id),
      );
      const node = { ...flowNode({ id, type, config: defaultConfig(type), position }), selected: true };
      setNodes((current) => [...current.map((other) => ({ ...other, selected: false })), node]);
      setEdges((current) => current.map((edge) => ({ ...edge, selected: false })));
      changed();
    },
    [flow, nodes, setNodes, setEdges, changed],
  );

  const connect = useCallback(
    (connection: Connection) => {
      const source = nodes.find((node) => node.id === connection.source);
      const branches = source && isNodeType(source.data.type) && nodeKinds[source.data.type].branches;
      const condition = branches ? connection.sourceHandle !== 'false' : undefined;
      if (
        edges.some(
          (edge) =>
            edge.source === connection.source &&
            edge.target === connection.target &&
            edge.data?.condition === condition,
        )
      )
        return;
      const edge = flowEdge(
        { source: connection.source, target: connection.target, ...(condition !== undefined ? { condition } : {}) },
        `e-${connection.source}-${connection.target}-${condition ?? ''}-${Date.now().toString(36)}`,
      );
      setEdges((current) => addEdge(edge, current));
      changed();
    },
    [nodes, edges, setEdges, changed],
  );

  const save = useMutation({
    mutationFn: () =>
      call('workflowsSave', {
        body: {
          name: name.trim() || workflow.name,
          slug: workflow.slug,
          ...(description.trim() ? { description: description.trim() } : {}),
          graph: fromFlow(nodes, edges),
          ...(workflow.inputSchema ? { inputSchema: workflow.inputSchema } : {}),
        },
      }),
    onSuccess: (saved) => {
      showProblems([]);
      setDirty(false);
      setNotice(`Draft saved (revision ${saved.draftRevision}).`);
    },
    onError: (error) => {
      const found = problemsOf(error);
      if (found) showProblems(found);
    },
  });
  const validate = useMutation({
    mutationFn: () => call('workflowsValidate', { body: { graph: fromFlow(nodes, edges) } }),
    onSuccess: (result) => {
      showProblems(result.problems);
      setNotice(result.valid ? 'The graph is valid.' : undefined);
    },
  });

  const selectedNode = nodes.find((node) => node.selected);
  const selectedEdge = selectedNode ? undefined : edges.find((edge) => edge.selected);
  const otherProblems = problems.filter(
    (problem) => problem.nodeId === undefined || !nodes.some((node) => node.id === problem.nodeId),
  );

  return (
    <div className="stack">
      <div className="card stack">
        <div className="form-grid fields-top">
          <Field label="Workflow name">
            {(id) => (
              <input
                id={id}
                required
                maxLength={200}
                readOnly={!canWrite}
                value={name}
                onChange={(event) => {
                  setName(event.target.value);
                  changed();
                }}
              />
            )}
          </Field>
          <Field label="Description">
            {(id) => (
              <input
                id={id}
                maxLength={2000}
                readOnly={!canWrite}
                value={description}
                onChange={(event) => {
                  setDescription(event.target.value);
                  changed();
                }}
              />
            )}
          </Field>
        </div>
        <div className="row spread">
          <p className="muted" role="status">
            {save.isPending
              ? 'Saving…'
              : dirty
                ? 'Unsaved changes'
                : (notice ?? `Draft revision ${workflow.draftRevision}`)}
          </p>
          {canWrite ? (
            <div className="row">
              <Button busy={validate.isPending} onClick={() => validate.mutate()}>
                Validate
              </Button>
              <Button variant="primary" busy={save.isPending} onClick={() => save.mutate()}>
                Save draft
              </Button>
              <Button onClick={() => setPublishing(true)}>Publish</Button>
            </div>
          ) : null}
        </div>
        {save.isError && !problemsOf(save.error) ? <MutationError error={save.error} /> : null}
        <MutationError error={validate.error} />
      </div>
      {problems.length ? (
        <section className="card stack wf-problems" aria-labelledby="wf-problems">
          <h2 id="wf-problems">Problems ({problems.length})</h2>
          <div role="alert">
            <ul className="plain-list">
              {problems.map((problem, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: problems have no id and do not reorder
                <li key={index}>
                  {problem.nodeId && nodes.some((node) => node.id === problem.nodeId) ? (
                    <button type="button" className="link-button" onClick={() => select('node', problem.nodeId)}>
                      {problem.nodeId}
                    </button>
                  ) : problem.edge !== undefined ? (
                    <span className="mono">edge {problem.edge + 1}</span>
                  ) : null}{' '}
                  {problem.path ? <span className="mono">{problem.path}</span> : null} {problem.message}{' '}
                  <code className="code-tag">{problem.code}</code>
                </li>
              ))}
            </ul>
          </div>
          {otherProblems.length === problems.length ? null : (
            <p className="muted">Nodes with problems are outlined in red on the canvas.</p>
          )}
        </section>
      ) : null}
      <div className="wf-editor">
        {canWrite ? (
          <section className="card wf-palette" aria-labelledby="wf-palette">
            <h2 id="wf-palette">Add a node</h2>
            <p className="hint">Click to add, or drag onto the canvas.</p>
            <ul className="plain-list">
              {nodeTypes.map((type) => (
                <li key={type} className="wf-palette-entry">
                  <button
                    type="button"
                    className="wf-palette-item"
                    draggable
                    onDragStart={(event) => {
                      event.dataTransfer.setData(dragType, type);
                      event.dataTransfer.effectAllowed = 'move';
                    }}
                    onClick={() => addNode(type)}
                    aria-label={`Add ${nodeKinds[type].label} node`}
                    aria-describedby={`wf-palette-${type}`}
                  >
                    {nodeKinds[type].label}
                  </button>
                  <span id={`wf-palette-${type}`} className="hint">
                    {nodeKinds[type].description}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        <div className="wf-canvas card" ref={canvasRef}>
          <ReactFlow<FlowNode, FlowEdge>
            aria-label="Workflow graph"
            onDragOver={(event: DragEvent) => {
              if (event.dataTransfer.types.includes(dragType)) {
                event.preventDefault();
                event.dataTransfer.dropEffect = 'move';
              }
            }}
            onDrop={(event: DragEvent) => {
              const type = event.dataTransfer.getData(dragType);
              if (!isNodeType(type)) return;
              event.preventDefault();
              addNode(type, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
            }}
            nodes={nodes}
            edges={edges}
            nodeTypes={flowNodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={connect}
            nodesDraggable={canWrite}
            nodesConnectable={canWrite}
            edgesReconnectable={false}
            deleteKeyCode={canWrite ? ['Backspace', 'Delete'] : null}
            fitView
            fitViewOptions={{ maxZoom: 1.2 }}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        <aside className="card wf-inspector" aria-labelledby="wf-inspector">
          <h2 id="wf-inspector">{selectedNode ? `Node ${selectedNode.id}` : selectedEdge ? 'Edge' : 'Inspector'}</h2>
          <Field label="Selected node" hint="or click a node on the canvas">
            {(id, describedBy) => (
              <select
                id={id}
                aria-describedby={describedBy}
                value={selectedNode?.id ?? ''}
                onChange={(event) => select('node', event.target.value || undefined)}
              >
                <option value="">None</option>
                {nodes.map((node) => (
                  <option key={node.id} value={node.id}>
                    {node.id} ({isNodeType(node.data.type) ? nodeKinds[node.data.type].label : node.data.type})
                  </option>
                ))}
              </select>
            )}
          </Field>
          {selectedNode ? (
            <NodeForm
              key={selectedNode.id}
              node={selectedNode}
              readOnly={!canWrite}
              takenIds={nodes.map((node) => node.id)}
              pickers={{
                agent: { agent: { suggestions: agents.data?.data.map((agent) => agent.slug) } },
                tool: {
                  tool: { suggestions: tools.data?.data.map((tool) => tool.name) },
                  action: {
                    suggestions: tools.data?.data
                      .find((tool) => tool.name === selectedNode.data.config.tool)
                      ?.actions.map((action) => action.name),
                  },
                },
              }}
              onChange={(data) => {
                setNodes((current) =>
                  current.map((node) =>
                    node.id === selectedNode.id ? { ...node, data: { ...node.data, ...data } } : node,
                  ),
                );
                changed();
              }}
              onRename={(next) => {
                setNodes((current) =>
                  current.map((node) =>
                    node.id === selectedNode.id
                      ? { ...node, id: next, ariaLabel: node.ariaLabel?.replace(selectedNode.id, next) }
                      : node,
                  ),
                );
                setEdges((current) =>
                  current.map((edge) => ({
                    ...edge,
                    source: edge.source === selectedNode.id ? next : edge.source,
                    target: edge.target === selectedNode.id ? next : edge.target,
                  })),
                );
                changed();
              }}
              onDelete={() => {
                setNodes((current) => current.filter((node) => node.id !== selectedNode.id));
                setEdges((current) =>
                  current.filter((edge) => edge.source !== selectedNode.id && edge.target !== selectedNode.id),
                );
                changed();
              }}
            />
          ) : selectedEdge ? (
            <EdgeForm
              key={selectedEdge.id}
              edge={selectedEdge}
              branches={Boolean(
                (() => {
                  const source = nodes.find((node) => node.id === selectedEdge.source);
                  return source && isNodeType(source.data.type) && nodeKinds[source.data.type].branches;
                })(),
              )}
              readOnly={!canWrite}
              onChange={(data) => {
                setEdges((current) =>
                  current.map((edge) => {
                    if (edge.id !== selectedEdge.id) return edge;
                    const next = { ...edge.data, ...data };
                    for (const key of Object.keys(next) as (keyof typeof next)[])
                      if (next[key] === undefined) delete next[key];
                    return {
                      ...edge,
                      data: next,
                      label: edgeLabel(next),
                      sourceHandle: next.condition === undefined ? undefined : String(next.condition),
                    };
                  }),
                );
                changed();
              }}
              onDelete={() => {
                setEdges((current) => current.filter((edge) => edge.id !== selectedEdge.id));
                changed();
              }}
            />
          ) : (
            <p className="muted">Select a node to edit its settings, or an edge to set its branch or loop.</p>
          )}
          {canWrite && nodes.length > 1 ? (
            <AddEdgeForm
              nodes={nodes}
              onAdd={(source, target, condition) =>
                connect({
                  source,
                  target,
                  sourceHandle: condition === undefined ? null : String(condition),
                  targetHandle: null,
                })
              }
            />
          ) : null}
        </aside>
      </div>
      <Dialog open={publishing} onClose={() => setPublishing(false)} title="Publish workflow">
        <PublishForm
          slug={workflow.slug}
          saveFirst={dirty ? () => save.mutateAsync() : undefined}
          onProblems={showProblems}
          onDone={(version) => {
            setPublishing(false);
            setDirty(false);
            setNotice(`Published version ${version}.`);
          }}
          onClose={() => setPublishing(false)}
        />
      </Dialog>
    </div>
  );
}

function PublishForm({
  slug,
  saveFirst,
  onProblems,
  onDone,
  onClose,
}: {
  slug: string;
  saveFirst?: () => Promise<unknown>;
  onProblems: (problems: GraphProblem[]) => void;
  onDone: (version: number) => void;
  onClose: () => void;
}) {
  const [visibility, setVisibility] = useState<NonNullable<WorkflowPublishRequest['visibility']>>('org');
  const [note, setNote] = useState('');
  const publish = useMutation({
    mutationFn: async () => {
      if (saveFirst) await saveFirst();
      return call('workflowsPublish', {
        params: { slug },
        body: { visibility, ...(note.trim() ? { note: note.trim() } : {}) },
      });
    },
    onSuccess: (version) => onDone(version.version),
    onError: (error) => {
      const found = problemsOf(error);
      if (found) onProblems(found);
    },
  });
  return (
    <form
      className="stack"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        publish.mutate();
      }}
    >
      <p className="muted">
        The draft{saveFirst ? ' (saved first)' : ''} becomes the next immutable version; runs and triggers use the
        latest version.
      </p>
      <Field label="Visibility">
        {(id) => (
          <select
            id={id}
            value={visibility}
            onChange={(event) => setVisibility(event.target.value as 'org' | 'private')}
          >
            <option value="org">Org: every member may run it</option>
            <option value="private">Private: only you</option>
          </select>
        )}
      </Field>
      <Field label="Note" hint="optional, what changed">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            maxLength={500}
            value={note}
            onChange={(event) => setNote(event.target.value)}
          />
        )}
      </Field>
      {problemsOf(publish.error) ? (
        <p className="field-error" role="alert">
          The draft has problems; they are shown on the graph. {publish.error?.message}
        </p>
      ) : (
        <MutationError error={publish.error} />
      )}
      <div className="form-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button type="submit" variant="primary" busy={publish.isPending}>
          Publish version
        </Button>
      </div>
    </form>
  );
}

function NodeForm({
  node,
  readOnly,
  takenIds,
  pickers,
  onChange,
  onRename,
  onDelete,
}: {
  node: FlowNode;
  readOnly: boolean;
  takenIds: string[];
  /** Names to offer in some fields (agents, tools, a tool's actions), by node type and field. */
  pickers: Partial<Record<WorkflowNodeType, Record<string, FieldPresentation>>>;
  onChange: (data: Partial<NodeData>) => void;
  onRename: (id: string) => void;
  onDelete: () => void;
}) {
  const [id, setId] = useState(node.id);
  const [idError, setIdError] = useState<string>();
  const kind = isNodeType(node.data.type) ? nodeKinds[node.data.type] : undefined;
  const problems = node.data.problems ?? [];
  // The server's problems from the last save: those of a config field are shown by it, the others above.
  const fieldOf = (problem: GraphProblem) => {
    const name = problem.path?.match(/^config\.([^.]+)/)?.[1];
    return name !== undefined && kind && fieldNames(kind.schema).has(name) ? name : undefined;
  };
  const fieldErrors: Record<string, string> = {};
  for (const problem of problems) {
    const name = fieldOf(problem);
    if (name !== undefined)
      fieldErrors[name] = fieldErrors[name] ? `${fieldErrors[name]}; ${problem.message}` : problem.message;
  }
  const general = problems.filter((problem) => fieldOf(problem) === undefined);
  const presentation = { ...kind?.fields };
  for (const [name, picker] of Object.entries((kind && pickers[kind.type]) ?? {}))
    presentation[name] = { ...presentation[name], ...picker };
  const commitId = () => {
    if (id === node.id) return setIdError(undefined);
    if (!nodeIdPattern.test(id) || id.length > 64)
      return setIdError('letters, digits, _ and -, starting with a letter or _ (at most 64)');
    if (takenIds.includes(id)) return setIdError(`another node is ${id}`);
    setIdError(undefined);
    onRename(id);
  };
  return (
    <div className="stack wf-node-form">
      <p className="muted">{kind?.description ?? `Unknown node type ${node.data.type}`}</p>
      {general.length ? (
        <div role="alert">
          <ul className="plain-list field-error">
            {general.map((problem, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: problems have no id and do not reorder
              <li key={index}>
                {problem.path ? `${problem.path}: ` : ''}
                {problem.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <Field label="Node id" error={idError}>
        {(fieldId, describedBy) => (
          <input
            id={fieldId}
            aria-describedby={describedBy}
            className="mono"
            readOnly={readOnly}
            value={id}
            onChange={(event) => setId(event.target.value)}
            onBlur={commitId}
            onKeyDown={(event) => {
              if (event.key === 'Enter') commitId();
            }}
          />
        )}
      </Field>
      <Field label="Label" hint="optional, shown on the canvas">
        {(fieldId, describedBy) => (
          <input
            id={fieldId}
            aria-describedby={describedBy}
            maxLength={200}
            readOnly={readOnly}
            value={node.data.label ?? ''}
            onChange={(event) => onChange({ label: event.target.value || undefined })}
          />
        )}
      </Field>
      {kind ? (
        // The config's fields, made from the node type's schema; what the schema says is wrong shows before a save.
        <SchemaForm
          schema={kind.schema}
          value={node.data.config}
          onChange={(config) => onChange({ config })}
          presentation={presentation}
          variantLabel={kind.variantLabel}
          errors={fieldErrors}
          showProblems={!readOnly}
          readOnly={readOnly}
        />
      ) : null}
      <div className="form-grid fields-top">
        <Field label="Retry attempts" hint="tries in all">
          {(fieldId, describedBy) => (
            <input
              id={fieldId}
              aria-describedby={describedBy}
              type="number"
              min={1}
              max={20}
              readOnly={readOnly}
              value={node.data.retry?.attempts ?? ''}
              onChange={(event) =>
                onChange({
                  retry: event.target.value ? { ...node.data.retry, attempts: Number(event.target.value) } : undefined,
                })
              }
            />
          )}
        </Field>
        <Field label="Node timeout (seconds)">
          {(fieldId) => (
            <input
              id={fieldId}
              type="number"
              min={1}
              readOnly={readOnly}
              value={node.data.timeoutSeconds ?? ''}
              onChange={(event) =>
                onChange({ timeoutSeconds: event.target.value ? Number(event.target.value) : undefined })
              }
            />
          )}
        </Field>
      </div>
      {readOnly ? null : (
        <Button variant="danger" onClick={onDelete}>
          Delete node
        </Button>
      )}
    </div>
  );
}

function EdgeForm({
  edge,
  branches,
  readOnly,
  onChange,
  onDelete,
}: {
  edge: FlowEdge;
  branches: boolean;
  readOnly: boolean;
  onChange: (data: { condition?: boolean; maxIterations?: number }) => void;
  onDelete: () => void;
}) {
  const problems = edge.data?.problems ?? [];
  return (
    <div className="stack">
      <p>
        <span className="mono">{edge.source}</span> → <span className="mono">{edge.target}</span>
      </p>
      {problems.length ? (
        <div role="alert">
          <ul className="plain-list field-error">
            {problems.map((problem, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: problems have no id and do not reorder
              <li key={index}>{problem.message}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {branches ? (
        <Field label="Branch" hint="taken when the condition is this (approved is true)">
          {(id, describedBy) => (
            <select
              id={id}
              aria-describedby={describedBy}
              disabled={readOnly}
              value={edge.data?.condition === undefined ? '' : String(edge.data.condition)}
              onChange={(event) =>
                onChange({ condition: event.target.value === '' ? undefined : event.target.value === 'true' })
              }
            >
              <option value="">Always</option>
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
          )}
        </Field>
      ) : null}
      <Field label="Loop: max iterations" hint="makes the edge a loop back to an earlier node">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            type="number"
            min={1}
            max={1000}
            readOnly={readOnly}
            value={edge.data?.maxIterations ?? ''}
            onChange={(event) =>
              onChange({ maxIterations: event.target.value ? Number(event.target.value) : undefined })
            }
          />
        )}
      </Field>
      {readOnly ? null : (
        <Button variant="danger" onClick={onDelete}>
          Delete edge
        </Button>
      )}
    </div>
  );
}

/** Connecting nodes without a pointer: pick the two ends (and a branch). */
function AddEdgeForm({
  nodes,
  onAdd,
}: {
  nodes: FlowNode[];
  onAdd: (source: string, target: string, condition: boolean | undefined) => void;
}) {
  const [source, setSource] = useState('');
  const [target, setTarget] = useState('');
  const [branch, setBranch] = useState('true');
  const from = nodes.find((node) => node.id === source);
  const branches = Boolean(from && isNodeType(from.data.type) && nodeKinds[from.data.type].branches);
  return (
    <form
      className="stack wf-add-edge"
      aria-labelledby="wf-add-edge"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        if (source && target) onAdd(source, target, branches ? branch === 'true' : undefined);
      }}
    >
      <h3 id="wf-add-edge">Connect nodes</h3>
      <p className="hint">Or drag from a node's bottom handle to another node's top handle.</p>
      <Field label="From">
        {(id) => (
          <select id={id} value={source} required onChange={(event) => setSource(event.target.value)}>
            <option value="">Choose a node</option>
            {nodes
              .filter((node) => node.data.type !== 'output')
              .map((node) => (
                <option key={node.id} value={node.id}>
                  {node.id}
                </option>
              ))}
          </select>
        )}
      </Field>
      {branches ? (
        <Field label="When">
          {(id) => (
            <select id={id} value={branch} onChange={(event) => setBranch(event.target.value)}>
              <option value="true">{from?.data.type === 'approval' ? 'approved (true)' : 'true'}</option>
              <option value="false">{from?.data.type === 'approval' ? 'rejected (false)' : 'false'}</option>
            </select>
          )}
        </Field>
      ) : null}
      <Field label="To">
        {(id) => (
          <select id={id} value={target} required onChange={(event) => setTarget(event.target.value)}>
            <option value="">Choose a node</option>
            {nodes.map((node) => (
              <option key={node.id} value={node.id}>
                {node.id}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Button type="submit">Add edge</Button>
    </form>
  );
}
