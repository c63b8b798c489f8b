import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import type { WorkflowEvent } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase } from '../../../../test/support/database.js';
import { type ServerProcess, startServerProcess } from '../../../../test/support/server-process.js';

/** A fan-out of three branches joined again: each run is five nodes, two of them at once. */
const graph = {
  nodes: [
    { id: 'start', type: 'transform', config: { expression: 'input.n' } },
    { id: 'left', type: 'transform', config: { expression: 'nodes.start.output * 2' } },
    { id: 'right', type: 'transform', config: { expression: 'nodes.start.output * 3' } },
    { id: 'both', type: 'join', config: { mode: 'all' } },
    { id: 'out', type: 'output', config: { expression: 'nodes.left.output + nodes.right.output' } },
  ],
  edges: [
    { source: 'start', target: 'left' },
    { source: 'start', target: 'right' },
    { source: 'left', target: 'both' },
    { source: 'right', target: 'both' },
    { source: 'both', target: 'out' },
  ],
};

// Two control planes share work only through PostgreSQL (embedded SQLite is one process's): this file runs in
// the postgres project only (see vitest.config.ts).
describe('two control planes on one PostgreSQL database', () => {
  const dataDirs = [mkdtempSync(join(tmpdir(), 'runtools-plane-a-')), mkdtempSync(join(tmpdir(), 'runtools-plane-b-'))];
  const masterKey = randomBytes(32).toString('base64');
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const servers: ServerProcess[] = [];
  const clients: RunTools[] = [];

  beforeAll(async () => {
    postgres = await createPostgresDatabase();
    for (const [index, dataDir] of dataDirs.entries()) {
      const server = startServerProcess(dataDir, ['--database-url', postgres.url], {
        RUNTOOLS_MASTER_KEY: masterKey,
        RUNTOOLS_QUEUE_LEASE_MS: '2000',
      });
      servers.push(server);
      const url = await server.listening;
      // The first boot made the admin key; the second server shares its database.
      const key = readFileSync(join(dataDirs[0] as string, 'admin-key'), 'utf8').trim();
      clients[index] = new RunTools({ apiKey: key, baseUrl: url });
    }
  }, 120_000);
  afterAll(async () => {
    for (const server of servers) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await postgres?.drop();
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    'run 200 queued runs between them with no node executed twice',
    async () => {
      const [a, b] = clients as [RunTools, RunTools];
      await a.workflows.save({ name: 'Fan', graph });
      await a.workflows.publish('fan', { visibility: 'org' });
      const runIds = await Promise.all(
        Array.from({ length: 200 }, (_, n) => (n % 2 ? a : b).workflows.run('fan', { n }).then((run) => run.runId)),
      );
      for (const [n, runId] of runIds.entries()) {
        await expect
          .poll(async () => (await a.workflows.runs.get(runId)).status, { timeout: 120_000, interval: 50 })
          .toBe('completed');
        expect((await b.workflows.runs.get(runId)).output).toBe(n * 5);
      }
      const owners = new Set<string>();
      for (const runId of runIds) {
        const events: WorkflowEvent[] = await a.workflows.events(runId);
        expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
        for (const node of graph.nodes) {
          const mine = events.filter((event) => event.nodeId === node.id);
          expect(
            mine.filter((event) => event.type === 'node.started'),
            `${runId} ${node.id}`,
          ).toHaveLength(1);
          expect(mine.filter((event) => event.type === 'node.completed')).toHaveLength(1);
        }
        const detail = await a.workflows.runs.get(runId);
        for (const node of detail.nodes) expect(node.attempt).toBe(1);
        for (const event of events)
          if (event.type === 'node.started') owners.add((event.data as { worker: string }).worker);
      }
      // Both control planes executed nodes.
      expect(owners.size).toBe(2);
    },
    10 * 60_000,
  );
});
