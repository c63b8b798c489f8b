// The SSH gateway against OpenSSH's own sshd running inside the same kind of sandbox, in one run, both driven
// by the real OpenSSH client: time for `ssh host true` (connect, authenticate, run, exit) and scp upload
// throughput of a 64 MiB file. The sshd baseline is reached from inside the sandbox's network namespace
// (nsenter), so it pays no relay at all: the ratio is what the gateway and the daemon relay cost.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { sshBatchOptions } from '../test/support/ssh.ts';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';
import { crunSandboxPid } from './lib/setup.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const fileBytes = 64 * 1024 * 1024;

async function timed(program, args, prefix = []) {
  const started = performance.now();
  const [command, ...rest] = [...prefix, program, ...args];
  const result = await runCommand(command, rest, { timeoutMs: 120_000 });
  if (result.exitCode !== 0) throw new Error(`${program} failed: ${result.stderr}`);
  return performance.now() - started;
}

export async function run({ rounds }) {
  const work = mkdtempSync(join(tmpdir(), 'runtools-bench-ssh-'));
  const key = join(work, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const payload = join(work, 'payload.bin');
  writeFileSync(payload, Buffer.alloc(fileBytes, 1));
  const child = startChild(here('./lib/platform-server.mjs'));
  const samples = { gatewayExec: [], sshdExec: [], gatewayScp: [], sshdScp: [] };
  try {
    const { url, adminKey, dataDir } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 15 * 60_000 });
    await rt.sshKeys.add({ name: 'bench', publicKey: readFileSync(`${key}.pub`, 'utf8') });
    // The first run builds this template (openssh-server from Debian, a minute or so, once per machine).
    await rt.templates
      .create({ name: 'bench-sshd', base: 'minimal', packages: ['openssh-server'], commands: ['mkdir -p /run/sshd'] })
      .catch(() => {});
    const box = await rt.sandboxes.create({ runtime: 'container', template: 'bench-sshd' });
    try {
      await box.files.write('/root/.ssh/authorized_keys', readFileSync(`${key}.pub`, 'utf8'));
      await box.exec('chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys');
      await box.exec('/usr/sbin/sshd -D -e -o PermitRootLogin=prohibit-password', { background: true });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const pid = await crunSandboxPid(dataDir, box.id);
      const inside = ['nsenter', '-t', String(pid), '-n'];
      const { host, port, username } = await box.getSSH();
      const gateway = ['-p', String(port), '-i', key, ...sshBatchOptions, `${username}@${host}`];
      const sshd = ['-p', '22', '-i', key, ...sshBatchOptions, 'root@127.0.0.1'];
      const scpGateway = [
        '-P',
        String(port),
        '-i',
        key,
        ...sshBatchOptions,
        payload,
        `${username}@${host}:/root/up.bin`,
      ];
      const scpSshd = ['-P', '22', '-i', key, ...sshBatchOptions, payload, 'root@127.0.0.1:/root/up2.bin'];
      for (let round = 0; round < Math.max(5, rounds * 2); round++) {
        samples.gatewayExec.push(await timed('ssh', [...gateway, 'true']));
        samples.sshdExec.push(await timed('ssh', [...sshd, 'true'], inside));
      }
      for (let round = 0; round < Math.max(2, rounds); round++) {
        samples.gatewayScp.push(await timed('scp', scpGateway));
        samples.sshdScp.push(await timed('scp', scpSshd, inside));
      }
    } finally {
      await box.destroy();
    }
  } finally {
    await child.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rate = (ms) => fileBytes / 1024 / 1024 / (ms / 1000);
  return {
    exec: { gateway: median(samples.gatewayExec), sshd: median(samples.sshdExec) },
    scp: { gateway: rate(median(samples.gatewayScp)), sshd: rate(median(samples.sshdScp)) },
  };
}

export const meta = {
  name: 'ssh',
  title:
    'SSH gateway vs OpenSSH sshd inside a crun sandbox, OpenSSH client: `ssh host true` (ms), scp of 64 MiB (MiB/s)',
};

export function report(result) {
  const lines = [
    `${'target'.padEnd(28)}${'ssh true ms'.padStart(12)}${'scp MiB/s'.padStart(11)}`,
    `${'sshd in the sandbox'.padEnd(28)}${result.exec.sshd.toFixed(0).padStart(12)}${result.scp.sshd.toFixed(0).padStart(11)}`,
    `${'RunTools SSH gateway'.padEnd(28)}${result.exec.gateway.toFixed(0).padStart(12)}${result.scp.gateway.toFixed(0).padStart(11)}`,
  ];
  const summary = [
    `ssh: gateway ${result.exec.gateway.toFixed(0)} ms per \`ssh host true\` (${(result.exec.gateway / result.exec.sshd).toFixed(2)}x sshd), ` +
      `scp ${result.scp.gateway.toFixed(0)} MiB/s (${(result.scp.gateway / result.scp.sshd).toFixed(2)}x sshd)`,
  ];
  return { lines, summary };
}
