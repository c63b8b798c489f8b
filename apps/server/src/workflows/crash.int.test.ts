import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import type { WorkflowEvent, WorkflowRunDetail } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../../../../test/support/database.js';
import { type ServerProcess, startServerProcess } from '../../../../test/support/server-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nodes = 20;

/**
 * A chain of 20 nodes, each adding one to the last one's output after some work (a JSONata sum over a range,
 * a few milliseconds), so that a kill lands in the middle of a node as often as between two.
 */
const chain = {
  nodes: [
    ...Array.from({ length: nodes }, (_, index) => ({
      id: `n${index + 1}`,
      type: 'transform',
      config: {
        expression: index === 0 ? '($count([1..40000]); 1)' : `($count([1..40000]); nodes.n${index}.output + 1)`,
      },
    })),
    { id: 'out', type: 'output', config: { expression: `nodes.n${nodes}.output` } },
  ],
  edges: [
    ...Array.from({ length: nodes - 1 }, (_, index) => ({ source: `n${index + 1}`, target: `n${index + 2}` })),
    { source: `n${nodes}`, target: 'out' },
  ],
};

/**
 * The control plane is killed with SIGKILL at a random point of a 20-node run, twenty times (a new run each
 * time); the next one must take every run over from its last completed node and finish it, each node
 * completed exactly once (a node in flight started again under the same idempotency key) and the event log
 * whole and in order.
 */
describe('kill -9 of the control plane during workflow runs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtools-wf-crash-'));
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let server: ServerProcess | undefined;
  let rt: RunTools;

  async function start(): Promise<void> {
    server = startServerProcess(dataDir, postgres ? ['--database-url', postgres.url] : [], {
      RUNTOOLS_QUEUE_LEASE_MS: '1000',
    });
    const url = await server.listening;
    rt = new RunTools({ apiKey: readFileSync(join(dataDir, 'admin-key'), 'utf8').trim(), baseUrl: url });
  }

  async function crash(): Promise<void> {
    server?.child.kill('SIGKILL');
    await server?.exited;
  }

  beforeAll(async () => {
    if (testDatabaseKind() === 'postgres') postgres = await createPostgresDatabase();
    await start();
  }, 120_000);
  afterAll(async () => {
    try {
      server?.child.kill('SIGKILL');
      await server?.exited;
    } finally {
      await postgres?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it(
    'resumes each of 20 runs killed at a random point from its last completed node, every node once, no event lost',
    async () => {
      await rt.workflows.save({ name: 'Chain', graph: chain });
      await rt.workflows.publish('chain', { visibility: 'org' });
      // How long a run takes undisturbed: the kills land anywhere in it.
      const timed = await rt.workflows.run('chain', {});
      const began = Date.now();
      await expect
        .poll(async () => (await rt.workflows.runs.get(timed.runId)).status, { timeout: 60_000 })
        .toBe('completed');
      const duration = Math.max(50, Date.now() - began);
      const runIds: string[] = [];
      const killedAfter: number[] = [];
      for (let round = 0; round < 20; round++) {
        const run = await rt.workflows.run('chain', {});
        runIds.push(run.runId);
        const wait = Math.floor(Math.random() * duration);
        killedAfter.push(wait);
        await sleep(wait);
        await crash();
        await start();
      }
      for (const runId of runIds) {
        await expect
          .poll(
            async () => {
              const run = await rt.workflows.runs.get(runId);
              return run.status === 'completed' ? run.status : `${run.status} ${JSON.stringify(run.error)}`;
            },
            { timeout: 120_000, interval: 100 },
          )
          .toBe('completed');
        const detail: WorkflowRunDetail = await rt.workflows.runs.get(runId);
        expect(detail.output, `run ${runId}`).toBe(nodes);
        expect(detail.nodes.map((node) => node.nodeId).sort()).toEqual([...chain.nodes.map((node) => node.id)].sort());
        for (const node of detail.nodes) {
          expect(node.status).toBe('completed');
          expect(node.iteration).toBe(0);
        }
        const events: WorkflowEvent[] = await rt.workflows.events(runId);
        expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
        expect(events[0]?.type).toBe('run.queued');
        expect(events.at(-1)?.type).toBe('run.completed');
        for (const node of chain.nodes) {
          const mine = events.filter((event) => event.nodeId === node.id);
          expect(
            mine.filter((event) => event.type === 'node.completed'),
            `${runId} ${node.id}`,
          ).toHaveLength(1);
          expect(mine.filter((event) => event.type === 'node.queued')).toHaveLength(1);
          const starts = mine.filter((event) => event.type === 'node.started');
          expect(starts.length).toBeGreaterThanOrEqual(1);
          // Every attempt of a node carries the same key, and a completion comes after its last start.
          expect(new Set(starts.map((event) => (event.data as { idempotencyKey: string }).idempotencyKey)).size).toBe(
            1,
          );
          const completed = mine.find((event) => event.type === 'node.completed');
          expect(completed?.seq).toBeGreaterThan(starts.at(-1)?.seq ?? Number.POSITIVE_INFINITY);
        }
        // A node starts only after the node before it completed.
        for (let index = 2; index <= nodes; index++) {
          const previous = events.find((event) => event.nodeId === `n${index - 1}` && event.type === 'node.completed');
          const queued = events.find((event) => event.nodeId === `n${index}` && event.type === 'node.queued');
          expect(queued?.seq).toBeGreaterThan(previous?.seq ?? Number.POSITIVE_INFINITY);
        }
      }
      // The kills were spread over the runs (so some landed mid-run, not only before or after).
      expect(new Set(killedAfter).size).toBeGreaterThan(1);
    },
    15 * 60_000,
  );
});
