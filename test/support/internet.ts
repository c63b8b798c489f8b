import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mustRun, runCommand } from '@runtools/runtime';

export interface StandInInternet {
  /** A public-looking address (TEST-NET-3) where the stand-in serves HTTP on port 8080. */
  server: string;
  port: number;
  netns: string;
  hostSide: string;
  /** Stops the server and removes the namespace, the link and the route; throws when one is left. */
  close(): Promise<void>;
}

/**
 * A stand-in for the internet: a network namespace one router hop away from the host (so not one of the host's
 * own networks), serving HTTP on port 8080 of a public-looking address from TEST-NET-3 with `body` as every
 * answer. Sandboxes with internet reach it as they would reach a public server; the host's own networks stay
 * out of their reach.
 */
export async function startStandInInternet(body = 'hello from the internet'): Promise<StandInInternet> {
  const tag = randomBytes(2).toString('hex');
  const transit = Number.parseInt(tag, 16) % 16_000;
  const netns = `rtt-inet-${tag}`;
  const hostSide = `rtti${tag}`;
  const farSide = `rttp${tag}`;
  const hostAddress = `198.18.${transit >> 6}.${(transit & 63) * 4 + 1}`;
  const farAddress = `198.18.${transit >> 6}.${(transit & 63) * 4 + 2}`;
  const server = `203.0.113.${10 + (transit % 200)}`;
  let child: ReturnType<typeof spawn> | undefined;
  const close = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill();
      await exited;
    }
    await runCommand('ip', ['route', 'del', `${server}/32`]);
    await runCommand('ip', ['netns', 'delete', netns]);
    await runCommand('ip', ['link', 'delete', hostSide]);
    const namespaces = (await runCommand('ip', ['netns', 'list'])).stdout.toString();
    if (namespaces.split('\n').some((line) => line.split(' ')[0] === netns)) throw new Error(`${netns} is left`);
    if ((await runCommand('ip', ['link', 'show', hostSide])).exitCode === 0) throw new Error(`${hostSide} is left`);
  };
  try {
    await mustRun('ip', ['netns', 'add', netns]);
    await mustRun('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', farSide]);
    await mustRun('ip', ['link', 'set', farSide, 'netns', netns]);
    await mustRun('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostSide]);
    await mustRun('ip', ['link', 'set', hostSide, 'up']);
    for (const args of [
      ['addr', 'add', `${farAddress}/30`, 'dev', farSide],
      ['link', 'set', farSide, 'up'],
      ['link', 'set', 'lo', 'up'],
      ['addr', 'add', `${server}/32`, 'dev', 'lo'],
      ['route', 'add', 'default', 'via', hostAddress],
    ])
      await mustRun('ip', ['-n', netns, ...args]);
    await mustRun('ip', ['route', 'add', `${server}/32`, 'via', farAddress]);
    child = spawn(
      'ip',
      [
        'netns',
        'exec',
        netns,
        process.execPath,
        '-e',
        `require('http').createServer((q, r) => r.end(${JSON.stringify(body)})).listen(8080, '${server}', () => console.log('up'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => child?.stdout?.once('data', resolve));
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { server, port: 8080, netns, hostSide, close };
}
