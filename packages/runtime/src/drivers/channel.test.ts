import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDriverState, type TrackedDriver, trackDriver } from '../../../../test/support/driver-sandboxes.js';
import { testBaseRootfs, testRuntimeDir } from '../../../../test/support/rootfs.js';
import { ChannelError, DaemonChannel, type WatchEvent } from '../channel.js';
import { availableDrivers } from '../doctor.js';
import type { DriverName, SandboxDriver } from '../driver.js';

const stateDir = join(testRuntimeDir, `channel-${process.pid}`);
const { drivers, missing } = availableDrivers(stateDir);

afterAll(() => removeDriverState(stateDir, drivers), 120_000);

function collect() {
  const chunks: Buffer[] = [];
  return { push: (chunk: Buffer) => chunks.push(chunk), text: () => Buffer.concat(chunks).toString('utf8') };
}

describe.each(['gvisor', 'container'] as DriverName[])('%s daemon channel', (name) => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  let id: string;

  beforeAll(async () => {
    const found = drivers[name];
    if (!found) throw new Error(`the ${name} driver is not available here: ${missing[name]}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    id = `c-${name}-${randomBytes(4).toString('hex')}`;
    await driver.create({
      id,
      layers: [await testBaseRootfs()],
      hostname: 'channel',
      env: { FROM_CREATE: 'yes' },
      limits: { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 },
    });
  }, 15 * 60_000);

  afterAll(() => tracked?.destroyAll(), 120_000);

  it('runs the daemon as the first process, with the creation environment', async () => {
    const ping = await driver.channel(id).call({ op: 'ping' });
    expect(ping).toMatchObject({ pid: 1 });
    const result = await driver.exec(id, { command: ['/bin/sh', '-c', 'echo $FROM_CREATE; cat /proc/1/cmdline'] });
    expect(result.stdout.toString()).toMatch(/^yes\n\/\.runtools\/bin\/runtools-daemon\0/);
  });

  it('streams output as it is produced and reports the exit code', async () => {
    const seen: string[] = [];
    const started = performance.now();
    let firstAt = 0;
    const running = driver.channel(id).exec(
      { argv: ['/bin/sh', '-c', 'echo one; sleep 0.5; echo two >&2; exit 7'] },
      {
        onStdout: (chunk) => {
          firstAt ||= performance.now();
          seen.push(`out:${chunk}`);
        },
        onStderr: (chunk) => seen.push(`err:${chunk}`),
      },
    );
    expect(await running.pid).toBeGreaterThan(1);
    const outcome = await running.done;
    expect(outcome).toMatchObject({ exitCode: 7, timedOut: false });
    expect(seen).toEqual(['out:one\n', 'err:two\n']);
    // "one" arrived before the command finished.
    expect(performance.now() - firstAt).toBeGreaterThan(300);
    expect(firstAt - started).toBeLessThan(performance.now() - started);
  });

  it('feeds stdin as it is written and closes it on request', async () => {
    const out = collect();
    const running = driver.channel(id).exec(
      { argv: ['/bin/sh', '-c', 'read a; echo "got $a"; cat'] },
      {
        onStdout: out.push,
      },
    );
    await running.write('first\n');
    await expect.poll(out.text).toBe('got first\n');
    await running.write('rest');
    running.closeStdin();
    expect((await running.done).exitCode).toBe(0);
    expect(out.text()).toBe('got first\nrest');
  });

  it('delivers signals to the process group and reports how it ended', async () => {
    const out = collect();
    const running = driver
      .channel(id)
      .exec(
        { argv: ['/bin/bash', '-c', 'trap "echo caught; exit 4" TERM; echo ready; while true; do sleep 0.1; done'] },
        { onStdout: out.push },
      );
    await expect.poll(out.text).toBe('ready\n');
    running.signal('TERM');
    expect(await running.done).toMatchObject({ exitCode: 4 });
    expect(out.text()).toBe('ready\ncaught\n');

    const killed = driver.channel(id).exec({ argv: ['/bin/sleep', '30'] });
    await killed.pid;
    killed.signal('KILL');
    expect(await killed.done).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('kills a command at its timeout, with everything it started', async () => {
    const outcome = await driver.channel(id).exec({
      argv: ['/bin/sh', '-c', 'sleep 30 & sleep 30; echo never'],
      timeoutMs: 300,
    }).done;
    expect(outcome).toMatchObject({ exitCode: 137, timedOut: true });
    const left = await driver.exec(id, {
      command: ['/bin/sh', '-c', 'cat /proc/[0-9]*/comm 2>/dev/null | grep -c "^sleep$"'],
    });
    expect(left.stdout.toString().trim()).toBe('0');
  });

  it('kills a foreground command when its caller cancels', async () => {
    const running = driver.channel(id).exec({ argv: ['/bin/sh', '-c', 'echo $$ > /tmp/cancelled.pid; sleep 30'] });
    const pid = await running.pid;
    await expect
      .poll(async () => (await driver.exec(id, { command: ['cat', '/tmp/cancelled.pid'] })).stdout.toString())
      .toBe(`${pid}\n`);
    running.cancel();
    expect(await running.done).toMatchObject({ cancelled: true });
    await expect
      .poll(async () =>
        (await driver.exec(id, { command: ['/bin/sh', '-c', `kill -0 ${pid} 2>&1 || echo gone`] })).stdout.toString(),
      )
      .toMatch(/gone/);
  });

  it('keeps a background process running, with its output for later and across reconnects', async () => {
    const channel = driver.channel(id);
    const pid = await channel.spawn({
      argv: ['/bin/sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done; exit 5'],
    });
    expect(pid).toBeGreaterThan(1);
    const listed = await channel.processes();
    expect(listed.find((entry) => entry.pid === pid)).toMatchObject({ running: true });

    // A second connection, as after a control-plane restart, sees the same process and its whole output.
    const other = new DaemonChannel(channel.socketPath, channel.token);
    const out = collect();
    const outcome = await other.attach(pid, 0, { onStdout: out.push }).done;
    expect(outcome).toMatchObject({ pid, exitCode: 5 });
    expect(out.text()).toBe('tick 1\ntick 2\ntick 3\n');
    const again = collect();
    await other.attach(pid, 'tick 1\n'.length, { onStdout: again.push }).done;
    expect(again.text()).toBe('tick 2\ntick 3\n');
    other.close();
    expect((await channel.processes()).find((entry) => entry.pid === pid)).toMatchObject({
      running: false,
      exitCode: 5,
    });
  });

  it('kills a background process by pid, and says so for an unknown pid', async () => {
    const channel = driver.channel(id);
    const pid = await channel.spawn({ argv: ['/bin/sleep', '30'] });
    await channel.kill(pid, 'TERM');
    expect(await channel.attach(pid, 0).done).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    await expect(channel.kill(999_999)).rejects.toMatchObject({ code: 'process_not_found' });
  });

  it('a command that leaves a server running returns at once', async () => {
    const started = performance.now();
    const result = await driver.exec(id, { command: ['/bin/sh', '-c', 'sleep 20 & echo started'] });
    expect(result.stdout.toString()).toBe('started\n');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('runs a command on a pseudo-terminal of the requested size, and resizes it', async () => {
    const out = collect();
    const running = driver
      .channel(id)
      .exec(
        { argv: ['/bin/bash', '-c', 'tty; stty size; read line; stty size'], pty: { cols: 120, rows: 40 } },
        { onStdout: out.push },
      );
    await expect.poll(out.text).toMatch(/\/dev\/pts\/\d+\r\n40 120\r\n/);
    running.resize(90, 20);
    await running.write('go\r');
    expect((await running.done).exitCode).toBe(0);
    expect(out.text()).toMatch(/20 90\r\n$/);
  });

  it('reads and writes files of any bytes and size, atomically, and lists, stats, moves and removes them', async () => {
    const channel = driver.channel(id);
    const content = randomBytes(3 * 1024 * 1024 + 17);
    expect(await channel.writeFile('/data/deep/blob.bin', content)).toMatchObject({ bytes: content.length });
    expect((await channel.readFileBuffer('/data/deep/blob.bin')).equals(content)).toBe(true);
    const slice: Buffer[] = [];
    await channel.readFile('/data/deep/blob.bin', (chunk) => slice.push(chunk), { offset: 10, length: 5 });
    expect(Buffer.concat(slice).equals(content.subarray(10, 15))).toBe(true);
    await channel.writeFile('/data/log.txt', 'a');
    await channel.writeFile('/data/log.txt', 'b', { append: true });
    expect((await channel.readFileBuffer('/data/log.txt')).toString()).toBe('ab');
    await channel.writeFile('/data/run.sh', '#!/bin/sh\necho ran\n', { mode: 0o755 });
    expect((await driver.exec(id, { command: ['/data/run.sh'] })).stdout.toString()).toBe('ran\n');

    const entries = await channel.list('/data');
    expect(entries.map((entry) => [entry.name, entry.type]).sort()).toEqual([
      ['deep', 'dir'],
      ['log.txt', 'file'],
      ['run.sh', 'file'],
    ]);
    expect(await channel.stat('/data/deep/blob.bin')).toMatchObject({ type: 'file', size: content.length });
    await channel.move('/data/log.txt', '/data/moved/log.txt');
    await expect(channel.stat('/data/log.txt')).rejects.toMatchObject({ code: 'not_found' });
    await channel.mkdir('/data/empty/a/b');
    await channel.remove('/data/empty');
    await expect(channel.list('/data/empty')).rejects.toMatchObject({ code: 'not_found' });
    await expect(channel.readFileBuffer('/data')).rejects.toMatchObject({ code: 'is_directory' });
    await expect(channel.list('/data/moved/log.txt')).rejects.toMatchObject({ code: 'not_directory' });
    await expect(channel.remove('/')).rejects.toBeInstanceOf(ChannelError);
  });

  it('watches a directory tree for changes', async () => {
    const channel = driver.channel(id);
    await channel.mkdir('/watched');
    const events: WatchEvent[] = [];
    const watcher = channel.watch('/watched', true, (event) => events.push(event));
    await watcher.ready;
    await driver.exec(id, { command: ['mkdir', '/watched/sub'] });
    await expect.poll(() => events.map((event) => `${event.type} ${event.path}`)).toContain('create /watched/sub');
    await driver.exec(id, { command: ['/bin/sh', '-c', 'echo x > /watched/sub/f && rm /watched/sub/f'] });
    await expect
      .poll(() => events.map((event) => `${event.type} ${event.path}`))
      .toEqual(expect.arrayContaining(['create /watched/sub/f', 'write /watched/sub/f', 'remove /watched/sub/f']));
    // A directory tree made in one go is reported whole, even what was inside before its watch was added.
    await driver.exec(id, { command: ['/bin/sh', '-c', 'mkdir -p /watched/a/b/c && touch /watched/a/b/c/deep'] });
    await expect
      .poll(() => events.map((event) => `${event.type} ${event.path}`))
      .toContain('create /watched/a/b/c/deep');
    watcher.stop();
    await watcher.done;
  });

  it('forwards a TCP connection to a port inside the sandbox', async () => {
    const channel = driver.channel(id);
    await channel.spawn({
      argv: [
        'perl',
        '-MIO::Socket::INET',
        '-e',
        '$s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1:7070",Listen=>5,ReuseAddr=>1) or die; while($c=$s->accept){$l=<$c>; print $c "echo: $l"; close $c}',
      ],
    });
    await expect
      .poll(async () => {
        const socket = await channel.tunnel(7070);
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        const ended = new Promise<string>((resolve) =>
          socket.once('end', () => resolve(Buffer.concat(chunks).toString())),
        );
        socket.write('hello\n');
        return ended;
      })
      .toBe('echo: hello\n');
    // Each tunnel is a daemon connection of its own; the channel's streams go on beside them.
    const [first, second] = await Promise.all([channel.tunnel(7070), channel.tunnel(7070)]);
    expect(first).not.toBe(second);
    first.destroy();
    second.destroy();
    expect((await channel.exec({ argv: ['true'] }).done).exitCode).toBe(0);
    await expect(channel.tunnel(7071)).rejects.toMatchObject({ code: 'port_closed' });
  });

  it('pauses and resumes every process of the sandbox', async () => {
    const channel = driver.channel(id);
    const pid = await channel.spawn({
      argv: ['/bin/sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /root/count; sleep 0.05; done'],
    });
    // Read from the host side of the sandbox's layer: a paused sandbox's daemon does not answer.
    const count = () => Number(readFileSync(join(driver.rootfsPath(id), 'root/count'), 'utf8') || 0);
    await expect.poll(count).toBeGreaterThan(2);
    await driver.pause(id);
    expect(await driver.state(id)).toBe('paused');
    const frozen = count();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(count()).toBe(frozen);
    await driver.resume(id);
    expect(await driver.state(id)).toBe('running');
    await expect.poll(count).toBeGreaterThan(frozen + 2);
    await channel.kill(pid, 'KILL');
  });
});
