import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, type Sandbox } from '@runtools/sdk';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

/** A loop that writes an ever larger number to /root/count, 20 times a second. */
const counter = 'i=0; while true; do i=$((i+1)); echo $i > /root/count; sleep 0.05; done';

describe('snapshots, rollback, branch and auto-resume', () => {
  const fixture = useSandboxServer();

  async function sandbox(runtime: 'gvisor' | 'container', options: { autoResume?: boolean } = {}) {
    const created = await fixture.rt.sandboxes.create({ runtime, ...options });
    fixture.track(created);
    return created;
  }

  const count = async (box: Sandbox) => Number((await box.exec('cat /root/count')).stdout);

  it.each(['gvisor', 'container'] as const)(
    'snapshots a %s sandbox, rolls it back in place and branches an independent copy',
    async (runtime) => {
      const memory = runtime === 'gvisor';
      const box = await sandbox(runtime);
      await box.exec(counter, { background: true });
      await box.exec('echo before > /root/state; mkdir -p /opt/kept && echo x > /opt/kept/file; rm /etc/issue');
      await expect.poll(() => count(box)).toBeGreaterThan(3);

      const snapshot = await box.snapshot({ name: 'base' });
      expect(snapshot).toMatchObject({ sandboxId: box.id, name: 'base', runtime, memory });
      expect(snapshot.id).toMatch(/^snp_/);
      expect(snapshot.sizeBytes).toBeGreaterThan(0);
      const atSnapshot = await count(box);
      // It keeps running after the snapshot.
      await expect.poll(() => count(box)).toBeGreaterThan(atSnapshot);
      await expect(box.snapshot({ name: 'base' })).rejects.toMatchObject({ code: 'snapshot_exists' });

      await box.exec('echo after > /root/state; echo new > /root/added; rm -r /opt/kept');
      await expect.poll(() => count(box)).toBeGreaterThan(atSnapshot + 10);

      const rolledBack = await box.rollback({ snapshot: 'base' });
      expect(rolledBack.status).toBe('running');
      const files = await box.exec('cat /root/state /opt/kept/file; ls /root/added /etc/issue 2>&1 | wc -l');
      expect(files.stdout).toBe('before\nx\n2\n');
      const afterRollback = await count(box);
      // The counter is back to about where it was (not where it had got to)...
      expect(afterRollback).toBeLessThan(atSnapshot + 10);
      if (memory) {
        // ...and, from a memory snapshot, goes on counting from there.
        await expect.poll(() => count(box)).toBeGreaterThan(afterRollback);
      } else {
        // A files-only snapshot restarts the sandbox: the loop is gone.
        expect((await box.processes.list()).filter((process) => process.running)).toEqual([]);
      }

      const branch = await box.branch({ snapshot: snapshot.id, name: `branch-${runtime}` });
      fixture.track(branch);
      expect(branch.info).toMatchObject({ status: 'running', runtime, name: `branch-${runtime}` });
      expect(branch.id).not.toBe(box.id);
      expect((await branch.exec('cat /root/state')).stdout).toBe('before\n');
      await branch.exec('echo branch > /root/state');
      await box.exec('echo origin > /root/state');
      expect([(await box.exec('cat /root/state')).stdout, (await branch.exec('cat /root/state')).stdout]).toEqual([
        'origin\n',
        'branch\n',
      ]);
      if (memory) await expect.poll(() => count(branch)).toBeGreaterThan(0);

      expect((await box.snapshots.list()).map((item) => item.id)).toEqual([snapshot.id]);
      expect((await box.logs()).filter((entry) => entry.type === 'snapshot')).toHaveLength(1);
      await box.snapshots.delete(snapshot.id);
      expect(await box.snapshots.list()).toEqual([]);
      expect(existsSync(join(fixture.server.dataDir, 'snapshots', snapshot.id))).toBe(false);
      await expect(box.rollback({ snapshot: snapshot.id })).rejects.toBeInstanceOf(NotFoundError);
    },
  );

  it('snapshots a gVisor sandbox paused to disk, and rolls it back to running', async () => {
    const box = await sandbox('gvisor');
    await box.exec(counter, { background: true });
    await expect.poll(() => count(box)).toBeGreaterThan(3);
    expect((await box.pause()).pausedTo).toBe('disk');
    const snapshot = await box.snapshot();
    expect(snapshot).toMatchObject({ memory: true, name: null });
    expect((await box.refresh()).status).toBe('paused');
    await box.resume();
    await box.exec('echo changed > /root/state');
    expect((await box.rollback({ snapshot: snapshot.id })).status).toBe('running');
    expect((await box.exec('cat /root/state 2>&1')).exitCode).not.toBe(0);
    const resumed = await count(box);
    await expect.poll(() => count(box)).toBeGreaterThan(resumed);
  });

  it('keeps snapshots across a control-plane restart, branches from a destroyed sandbox, refuses bad input', async () => {
    const box = await sandbox('container');
    await box.exec('echo kept > /root/state');
    const snapshot = await box.snapshot({ name: 'keep' });
    await fixture.restart();
    const again = await fixture.rt.sandboxes.get(box.id);
    expect((await again.snapshots.list()).map((item) => [item.id, item.sizeBytes])).toEqual([
      [snapshot.id, snapshot.sizeBytes],
    ]);
    await again.destroy();
    const branch = await again.branch({ snapshot: 'keep' });
    fixture.track(branch);
    expect((await branch.exec('cat /root/state')).stdout).toBe('kept\n');
    await expect(again.rollback({ snapshot: 'keep' })).rejects.toMatchObject({ code: 'invalid_transition' });
    await expect(again.snapshot()).rejects.toMatchObject({ code: 'invalid_transition' });

    const other = await sandbox('container');
    await expect(other.rollback({ snapshot: snapshot.id })).rejects.toMatchObject({ code: 'snapshot_not_found' });
    await expect(other.branch({ snapshot: 'keep' })).rejects.toMatchObject({ code: 'snapshot_not_found' });
    const badName = await fixture.server.request('POST', `/v1/sandboxes/${other.id}/snapshots`, {
      body: { name: 'Bad Name' },
    });
    expect([badName.status, ((await badName.json()) as { error: { code: string } }).error.code]).toEqual([
      400,
      'validation_failed',
    ]);
    const badId = await fixture.server.request('DELETE', `/v1/sandboxes/${other.id}/snapshots/nope`);
    expect(badId.status).toBe(400);
  });

  it.each(['gvisor', 'container'] as const)(
    'pauses a %s sandbox to the filesystem: stopped with its files, started afresh on resume',
    async (runtime) => {
      const box = await sandbox(runtime);
      await box.exec(counter, { background: true });
      await box.exec('echo kept > /root/state');
      await expect.poll(() => count(box)).toBeGreaterThan(3);
      const paused = await box.pause({ to: 'filesystem' });
      expect(paused).toMatchObject({ status: 'paused', pausedTo: 'filesystem' });
      // Nothing runs: no memory in use (the cgroup is gone), the counter stands still on disk.
      expect((await box.stats()).memoryBytes).toBeNull();
      const snapshot = await box.snapshot({ name: 'stopped' });
      expect(snapshot.memory).toBe(false);
      await fixture.restart();
      const again = await fixture.rt.sandboxes.get(box.id);
      expect(again.info).toMatchObject({ status: 'paused', pausedTo: 'filesystem' });
      expect((await again.resume()).status).toBe('running');
      expect((await again.exec('cat /root/state')).stdout).toBe('kept\n');
      expect((await again.processes.list()).filter((process) => process.running)).toEqual([]);
      if (runtime === 'container')
        await expect(again.pause({ to: 'disk' })).rejects.toMatchObject({ code: 'validation_failed' });
      expect((await again.pause({ to: 'memory' })).pausedTo).toBe('memory');
      // A sandbox frozen in memory snapshots with its processes where the runtime checkpoints, and stays frozen.
      expect((await again.snapshot()).memory).toBe(runtime === 'gvisor');
      expect((await again.refresh()).status).toBe('paused');
      expect((await again.resume()).status).toBe('running');
      expect((await again.exec('echo on')).stdout).toBe('on\n');
    },
  );

  it.each(['gvisor', 'container'] as const)(
    'resumes a paused %s sandbox with autoResume on exec and file activity',
    async (runtime) => {
      const box = await sandbox(runtime, { autoResume: true });
      expect(box.info.autoResume).toBe(true);
      await box.pause();
      expect((await box.exec('echo awake')).stdout).toBe('awake\n');
      expect((await box.refresh()).status).toBe('running');
      await box.pause();
      await box.files.write('/root/note', 'hi');
      expect(await box.files.read('/root/note')).toBe('hi');
      const plain = await sandbox(runtime);
      await plain.pause();
      await expect(plain.exec('true')).rejects.toMatchObject({ code: 'sandbox_not_running' });
    },
  );
});
