import { ConflictError, NotFoundError } from '@runtools/sdk';
import type { SandboxStatus } from '@runtools/spec';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

describe('sandbox processes, pause and resume, logs and idle timeout', () => {
  const fixture = useSandboxServer({ RUNTOOLS_IDLE_SWEEP_MS: '200' });

  async function sandbox(runtime: 'gvisor' | 'container', options: { idleTimeout?: number } = {}) {
    const created = await fixture.rt.sandboxes.create({ runtime, ...options });
    fixture.track(created);
    return created;
  }

  it.each(['gvisor', 'container'] as const)(
    'runs %s background processes: output replay by offset, stdin, wait, kill, unknown pids',
    async (runtime) => {
      const box = await sandbox(runtime);
      const counter = await box.exec('for i in 1 2 3; do echo line $i; sleep 0.2; done; echo done >&2; exit 3', {
        background: true,
      });
      expect(counter.pid).toBeGreaterThan(1);
      expect(counter.command).toMatch(/^for i in/);
      expect(await counter.wait()).toMatchObject({ exitCode: 3, timedOut: false });

      // A second client reconnects to the finished process's output, from the start and from an offset.
      const again = await fixture.rt.sandboxes.get(box.id);
      const handle = await again.processes.get(counter.pid);
      const parts: string[] = [];
      for await (const part of handle.output()) parts.push(part.type === 'exit' ? `exit ${part.exitCode}` : part.text);
      expect(parts.join('')).toBe('line 1\nline 2\nline 3\ndone\nexit 3');
      const tail: string[] = [];
      for await (const part of handle.output({ since: 'line 1\n'.length }))
        if (part.type === 'stdout') tail.push(`${part.offset}:${part.text}`);
      expect(tail.join('')).toMatch(/^7:line 2\n/);
      expect(await handle.refresh()).toMatchObject({ running: false, exitCode: 3, outputBytes: 26 });

      const reader = await box.processes.start('read name; echo "hello $name"; cat');
      await reader.sendStdin('world\n');
      await reader.sendStdin('rest', { eof: true });
      const output: string[] = [];
      for await (const part of reader.output()) if (part.type === 'stdout') output.push(part.text);
      expect(output.join('')).toBe('hello world\nrest');

      const seen: string[] = [];
      const web = await box.exec('echo up; sleep 60', { background: true, onStdout: (text) => seen.push(text) });
      await expect.poll(() => seen.join('')).toBe('up\n');
      expect((await box.processes.list()).find((entry) => entry.pid === web.pid)).toMatchObject({ running: true });
      await web.kill();
      expect(await web.wait()).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });

      await expect(box.processes.get(999_999)).rejects.toMatchObject({ code: 'process_not_found' });
      await expect(box.processes.get(4_000_000)).rejects.toBeInstanceOf(NotFoundError);
      const invalid = await serverRequest(`/v1/sandboxes/${box.id}/processes/abc`);
      expect(invalid.status).toBe(400);
    },
  );

  function serverRequest(path: string) {
    return fixture.server.request('GET', path);
  }

  it.each(['gvisor', 'container'] as const)(
    'pauses and resumes a %s sandbox with its processes, telling followers each status',
    async (runtime) => {
      const box = await sandbox(runtime);
      const statuses: SandboxStatus[] = [];
      box.on('status', (status) => statuses.push(status));
      await box.exec('i=0; while true; do i=$((i+1)); echo $i > /root/count; sleep 0.05; done', { background: true });
      await expect.poll(async () => Number((await box.exec('cat /root/count')).stdout)).toBeGreaterThan(2);

      const paused = await box.pause();
      expect(paused.status).toBe('paused');
      // gVisor saves the sandbox to disk and stops it; crun (no usable checkpoint here) freezes it in memory.
      expect(paused.pausedTo).toBe(runtime === 'gvisor' ? 'disk' : 'memory');
      expect((await box.pause()).status).toBe('paused');
      await expect(box.exec('true')).rejects.toMatchObject({ code: 'sandbox_not_running' });
      await expect(box.files.read('/root/count')).rejects.toBeInstanceOf(ConflictError);
      await expect(box.processes.list()).rejects.toBeInstanceOf(ConflictError);
      expect((await fixture.rt.sandboxes.list({ status: 'paused' })).map((item) => item.id)).toContain(box.id);

      const resumed = await box.resume();
      expect(resumed).toMatchObject({ status: 'running', pausedTo: null });
      expect((await box.resume()).status).toBe('running');
      const before = Number((await box.exec('cat /root/count')).stdout);
      await expect.poll(async () => Number((await box.exec('cat /root/count')).stdout)).toBeGreaterThan(before);
      await expect.poll(() => statuses).toEqual(['pausing', 'paused', 'resuming', 'running']);

      const log = await box.logs();
      expect(log.filter((entry) => entry.type === 'status').map((entry) => entry.status)).toEqual([
        'creating',
        'running',
        'pausing',
        'paused',
        'resuming',
        'running',
      ]);
      expect(log.some((entry) => entry.type === 'exec' && entry.message.startsWith('$ cat /root/count'))).toBe(true);
      expect(log.some((entry) => entry.type === 'process' && entry.message.includes('while true'))).toBe(true);

      await box.destroy();
      await expect.poll(() => statuses.at(-1)).toBe('destroyed');
      await expect(box.pause()).rejects.toMatchObject({ code: 'invalid_transition' });
      await expect(box.resume()).rejects.toMatchObject({ code: 'invalid_transition' });
    },
  );

  it('pauses a sandbox idle past its idle timeout, and activity keeps another running', async () => {
    const idle = await sandbox('container', { idleTimeout: 1 });
    const busy = await sandbox('container', { idleTimeout: 1 });
    expect(idle.info.idleTimeout).toBe(1);
    const stop = Date.now() + 2500;
    const waiting = idle.waitFor('paused', { timeout: 30_000 });
    while (Date.now() < stop) {
      await busy.exec('true');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await waiting).status).toBe('paused');
    expect((await idle.refresh()).statusReason).toBe('idle for 1s');
    expect((await busy.refresh()).status).toBe('running');
    expect((await idle.resume()).status).toBe('running');
    expect((await idle.exec('echo back')).stdout).toBe('back\n');
    expect((await sandbox('container')).info.idleTimeout).toBe(900);
  });

  it.each(['gvisor', 'container'] as const)(
    'runs an interactive shell on a %s pseudo-terminal: typed input, resize, exit',
    async (runtime) => {
      const box = await sandbox(runtime);
      const shell = await box.processes.start('bash --norc --noprofile -i', { pty: { cols: 100, rows: 30 } });
      let screen = '';
      shell.follow({ onStdout: (text) => (screen += text) });
      await shell.sendStdin('stty size; tty\r');
      await expect.poll(() => screen).toMatch(/30 100\r\n\/dev\/pts\/\d+\r\n/);
      await shell.resize(120, 40);
      await shell.sendStdin('stty size\r');
      await expect.poll(() => screen).toMatch(/40 120\r\n/);
      await shell.sendStdin('exit 7\r');
      expect(await shell.wait()).toMatchObject({ exitCode: 7 });
      const plain = await box.processes.start('sleep 30');
      await expect(plain.resize(80, 24)).rejects.toMatchObject({ code: 'validation_failed' });
      await plain.kill('KILL');
    },
  );

  it('kills a streamed command when its client goes away', async () => {
    const box = await sandbox('container');
    for await (const chunk of box.execStream('echo $$ > /root/stream.pid; echo started; sleep 120')) {
      expect(chunk).toBe('started\n');
      break;
    }
    const pid = (await box.files.read('/root/stream.pid')).trim();
    await expect
      .poll(async () => (await box.exec(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`)).stdout, {
        timeout: 10_000,
      })
      .toBe('gone\n');
  });
});
