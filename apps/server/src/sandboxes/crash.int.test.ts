import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools, type Sandbox } from '@runtools/sdk';
import type { SandboxStatus } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../../../../test/support/database.js';
import { startModelServer } from '../../../../test/support/model-server.js';
import { testBaseRootfs, testRuntimeDir } from '../../../../test/support/rootfs.js';
import { destroyLeftoverSandboxes } from '../../../../test/support/server.js';
import { type ServerProcess, startServerProcess } from '../../../../test/support/server-process.js';

const counter = 'i=0; while true; do i=$((i+1)); echo $i > /root/count; sleep 0.05; done';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The control plane is killed with SIGKILL in the middle of a pause, a snapshot and a resume of a gVisor
 * sandbox (the runtime's own checkpoint or restore goes on without it); the next one must find every
 * sandbox in a truthful state it can go on from, no half-taken snapshot listed, and the workspace whole.
 */
describe('kill -9 of the control plane', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtools-crash-'));
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let server: ServerProcess | undefined;
  let rt: RunTools;

  async function start(): Promise<void> {
    server = startServerProcess(dataDir, postgres ? ['--database-url', postgres.url] : [], {
      RUNTOOLS_ROOTFS_DIR: join(testRuntimeDir, 'rootfs'),
      RUNTOOLS_DEFAULT_TEMPLATE: 'minimal',
      // Short leases: an agent run the killed server held is taken over within seconds of the restart.
      RUNTOOLS_QUEUE_LEASE_MS: '3000',
    });
    const url = await server.listening;
    rt = new RunTools({ apiKey: readFileSync(join(dataDir, 'admin-key'), 'utf8').trim(), baseUrl: url });
  }

  async function crash(): Promise<void> {
    server?.child.kill('SIGKILL');
    await server?.exited;
  }

  async function reachStatus(id: string, status: SandboxStatus): Promise<void> {
    await expect.poll(async () => (await rt.sandboxes.get(id)).status, { interval: 5, timeout: 30_000 }).toBe(status);
  }

  const count = async (box: Sandbox) => Number((await box.exec('cat /root/count')).stdout);

  /** After a restart: the sandbox is running or paused, and once running its counter still counts. */
  async function stillCounting(id: string): Promise<Sandbox> {
    const box = await rt.sandboxes.get(id);
    expect(['running', 'paused'], `${box.status}: ${box.info.statusReason}`).toContain(box.status);
    if (box.status === 'paused') {
      expect(box.info.pausedTo).toBe('disk');
      await box.resume();
    }
    const now = await count(box);
    await expect.poll(() => count(box)).toBeGreaterThan(now);
    return box;
  }

  beforeAll(async () => {
    await testBaseRootfs();
    if (testDatabaseKind() === 'postgres') postgres = await createPostgresDatabase();
    await start();
  }, 15 * 60_000);
  afterAll(async () => {
    try {
      await crash();
      await start();
      for (const box of await rt.sandboxes.list()) await box.destroy();
      server?.child.kill('SIGTERM');
      await server?.exited;
    } finally {
      // Whatever the server could not destroy (or a start that failed left) goes through the drivers, before
      // the data dir holding their state is removed.
      server?.child.kill('SIGKILL');
      await server?.exited;
      try {
        await destroyLeftoverSandboxes(dataDir);
      } finally {
        await postgres?.drop();
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('during pause, snapshot and resume of a gVisor sandbox', async () => {
    const workspace = await rt.workspaces.create({ name: 'crash' });
    const created = await rt.sandboxes.create({
      runtime: 'gvisor',
      mounts: [{ workspaceId: workspace.id, path: '/workspace' }],
    });
    await created.exec('for i in $(seq 1 100); do echo line $i >> /workspace/log.txt; done');
    await created.exec(counter, { background: true });
    await expect.poll(() => count(created)).toBeGreaterThan(3);

    // Pause: killed while runsc checkpoints it.
    const pausing = created.pause().catch(() => undefined);
    await reachStatus(created.id, 'pausing');
    await sleep(100);
    await crash();
    await pausing;
    await start();
    let box = await stillCounting(created.id);

    // Snapshot: killed part way, at three points of it, each seen happen before the kill: the snapshot's
    // directory made, gVisor's checkpoint running, and the sandbox's layer being copied (50 MB of it, so that
    // the copy lasts long enough to be seen). Each time the request must not have completed.
    await box.exec('head -c 50000000 /dev/urandom > /root/big');
    const snapshots = join(dataDir, 'snapshots');
    const partial = () => readdirSync(snapshots).find((entry) => entry.endsWith('.partial'));
    const phases: [string, () => boolean][] = [
      ['its directory made', () => partial() !== undefined],
      ['its checkpoint running', () => checkpointRunning(snapshots)],
      ['its layer being copied', () => existsSync(join(snapshots, partial() ?? '-', 'layer'))],
    ];
    for (const [phase, reached] of phases) {
      let outcome: 'snapshot taken' | 'request cut off' | undefined;
      const snapping = box.snapshot().then(
        () => (outcome = 'snapshot taken'),
        () => (outcome = 'request cut off'),
      );
      while (!existsSync(snapshots) || !reached()) {
        expect(outcome, `the snapshot ended before ${phase}`).toBeUndefined();
        await sleep(2);
      }
      await crash();
      await snapping;
      expect(outcome, phase).toBe('request cut off');
      await start();
      box = await stillCounting(created.id);
      const listed = (await box.snapshots.list()).map((snapshot) => snapshot.id);
      // Only whole snapshots are listed, and nothing half-written is left on disk.
      expect(readdirSync(snapshots).sort(), phase).toEqual(listed.sort());
    }
    // And after all that a snapshot is taken whole, listed, on disk, and a branch from it has the memory.
    const whole = await box.snapshot();
    expect((await box.snapshots.list()).map((snapshot) => snapshot.id)).toContain(whole.id);
    expect(readdirSync(snapshots)).toContain(whole.id);
    const branch = await box.branch({ snapshot: whole.id });
    expect(await count(branch)).toBeGreaterThan(0);
    await branch.destroy();

    // Resume: killed while runsc restores it.
    await box.pause();
    const resuming = box.resume().catch(() => undefined);
    await reachStatus(created.id, 'resuming');
    await crash();
    await resuming;
    await start();
    box = await stillCounting(created.id);

    // Idempotent after all that: pausing or resuming twice is no error.
    await box.pause();
    expect((await box.pause()).status).toBe('paused');
    await box.resume();
    expect((await box.resume()).status).toBe('running');
    const log = await rt.workspaces.files(workspace.id).read('log.txt');
    expect(log.split('\n').filter(Boolean)).toHaveLength(100);
  }, 240_000);

  it('during an agent run: after the restart the run resumes from its last finished step and completes', async () => {
    const model = await startModelServer();
    try {
      await rt.providers.create({ name: 'crash-model', type: 'openai-compatible', baseUrl: model.openaiBaseUrl });
      const box = await rt.sandboxes.create({ runtime: 'container' });
      await rt.agents.create({ slug: 'crash-agent', model: 'crash-model/m', sandbox: box.id });
      model.script([
        {
          toolCalls: [{ name: 'bash', input: { command: 'echo one >> /root/steps' } }],
          usage: { input: 11, output: 2 },
        },
        {
          toolCalls: [{ name: 'bash', input: { command: 'echo two >> /root/steps; sleep 30' } }],
          usage: { input: 13, output: 2 },
        },
        // After the restart the step cut short is done again: the model is asked again from the first step.
        {
          toolCalls: [{ name: 'bash', input: { command: 'echo again >> /root/steps' } }],
          usage: { input: 17, output: 2 },
        },
        { text: 'all done', usage: { input: 19, output: 3 } },
      ]);
      const run = await rt.agent.start('crash-agent', 'sleep');
      await expect
        .poll(async () =>
          (await collectTypes(rt.agent.events(run.id, { follow: false }))).filter((type) => type === 'tool-call'),
        )
        .toHaveLength(2);
      // The second call's event is stored (events are written every 50 ms) while its command sleeps.
      await sleep(500);
      await crash();
      await start();
      await expect
        .poll(async () => (await rt.agent.get(run.id)).status, { timeout: 60_000, interval: 100 })
        .toBe('completed');
      expect(await rt.agent.get(run.id)).toMatchObject({
        text: 'all done',
        error: null,
        // The two steps it finished count once each; the one cut short does not count.
        steps: 3,
        usage: { inputTokens: 11 + 17 + 19, outputTokens: 7 },
      });
      // One stream across both servers: seq 1..n, the cut-short step's call, then `resumed` and the rest.
      const events = await collect(rt.agent.events(run.id));
      expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
      expect(events.map((event) => event.type).filter((type) => type !== 'text-delta')).toEqual([
        'start',
        'tool-call',
        'tool-result',
        'step',
        'tool-call',
        'resumed',
        'tool-call',
        'tool-result',
        'step',
        'step',
        'done',
      ]);
      expect(events.find((event) => event.type === 'resumed')).toMatchObject({ step: 1, sandboxId: box.id });
      // The finished step's command ran once; the cut-short one had started before the kill.
      const sandbox = await rt.sandboxes.get(box.id);
      expect((await sandbox.exec('cat /root/steps')).stdout).toBe('one\ntwo\nagain\n');
      expect(model.remaining).toBe(0);
      // The Sandbox object talks to the server it came from: get it again from the new one.
      await sandbox.destroy();
    } finally {
      await model.close();
    }
  }, 120_000);
});

/** Whether a runtime checkpoint writing into one of these snapshots' directories is running on this host. */
function checkpointRunning(snapshots: string): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.includes('checkpoint') && argv.some((arg) => arg.startsWith(snapshots))) return true;
  }
  return false;
}

async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function collectTypes(events: AsyncIterable<{ type: string }>): Promise<string[]> {
  const types: string[] = [];
  for await (const event of events) types.push(event.type);
  return types;
}
