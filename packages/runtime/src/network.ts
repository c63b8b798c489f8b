import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, runCommand } from './command.js';

/**
 * Internet egress for sandboxes that ask for it. Each such sandbox gets its own network namespace joined to
 * the host by a veth pair with a /30 from 10.200.0.0/16; the host routes and masquerades its traffic out, and
 * an nftables table keeps it away (rejected at once, not left to time out) from everything that is not the internet: the host itself (its control
 * plane, databases), private and link-local ranges, the host's own networks, and other sandboxes. DNS goes
 * only to the host's configured resolvers. Sandboxes without internet keep an empty namespace (loopback only).
 *
 * Addresses are claimed host-wide with O_EXCL files under /run/runtools/net, so several servers on one host
 * never hand out the same one.
 */
export interface SandboxNetwork {
  index: number;
  /** The network namespace for the OCI bundle (`/var/run/netns/<name>`). */
  netnsPath: string;
  netns: string;
  address: string;
  gateway: string;
  hostInterface: string;
}

const claimDir = '/run/runtools/net';
const maxIndex = 16_383;
const blocked = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

function addressAt(index: number, offset: number): string {
  const value = (10 << 24) | (200 << 16) | (index * 4 + offset);
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The nameservers of the host's resolv.conf that a sandbox can use (not loopback ones). */
export function hostNameservers(): string[] {
  try {
    return [...readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)]
      .map((match) => match[1] as string)
      .filter((address) => !address.startsWith('127.'));
  } catch {
    return [];
  }
}

export class NetworkManager {
  private rulesInstalled = false;

  constructor(private readonly tools: { ip: string; nft: string | undefined }) {}

  /** Why egress cannot work here, or undefined when it can. */
  unavailable(): string | undefined {
    if (!this.tools.nft) return 'nftables (nft) is not installed: run scripts/install-runtime.sh';
    return undefined;
  }

  private async run(program: string, args: string[], stdin?: string): Promise<void> {
    const result = await runCommand(program, args, stdin === undefined ? {} : { stdin });
    if (result.exitCode !== 0) throw new CommandError(`${program} ${args.join(' ')}`, result);
  }

  private claim(owner: string): number {
    mkdirSync(claimDir, { recursive: true, mode: 0o700 });
    const start = 1 + Math.floor(Math.random() * maxIndex);
    for (let step = 0; step < maxIndex; step++) {
      const index = 1 + ((start + step) % maxIndex);
      try {
        writeFileSync(join(claimDir, String(index)), owner, { flag: 'wx' });
        return index;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new Error('no free sandbox network address (16383 in use)');
  }

  /** The nftables rules, replaced as a whole (one atomic transaction) once per process. */
  private async installRules(): Promise<void> {
    if (this.rulesInstalled) return;
    const hostNetworks = await this.hostNetworks();
    const dns = hostNameservers();
    const set = (items: string[]) => `{ ${items.join(', ')} }`;
    const rules = [
      'table inet runtools {}',
      'delete table inet runtools',
      'table inet runtools {',
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      // A sandbox cannot talk to the host itself: not the control plane, not a database, not its gateway.
      '    iifname "rtv*" ct state established,related accept',
      '    iifname "rtv*" reject with icmpx type admin-prohibited',
      '  }',
      '  chain forward {',
      '    type filter hook forward priority -10; policy accept;',
      '    oifname "rtv*" ct state established,related accept',
      // Nothing starts a connection into a sandbox: not another sandbox, not the host's network.
      '    oifname "rtv*" reject with icmpx type admin-prohibited',
      ...(dns.length ? [`    iifname "rtv*" ip daddr ${set(dns)} meta l4proto { tcp, udp } th dport 53 accept`] : []),
      `    iifname "rtv*" ip daddr ${set(blocked)} reject with icmpx type admin-prohibited`,
      ...(hostNetworks.length
        ? [`    iifname "rtv*" ip daddr ${set(hostNetworks)} reject with icmpx type admin-prohibited`]
        : []),
      '    iifname "rtv*" meta nfproto ipv6 drop',
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority 100; policy accept;',
      '    ip saddr 10.200.0.0/16 oifname != "rtv*" masquerade',
      '  }',
      '}',
    ].join('\n');
    await this.run(this.tools.nft as string, ['-f', '-'], `${rules}\n`);
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
    this.rulesInstalled = true;
  }

  /** The subnets of the host's own interfaces (its LAN), which sandboxes must not reach either. */
  private async hostNetworks(): Promise<string[]> {
    const result = await runCommand(this.tools.ip, ['-4', '-o', 'route', 'show', 'scope', 'link']);
    return result.stdout
      .toString('utf8')
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((network) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(network) && !network.startsWith('10.200.'));
  }

  /** Creates the sandbox's namespace, veth pair, addresses and route. */
  async setup(owner: string): Promise<SandboxNetwork> {
    const problem = this.unavailable();
    if (problem) throw new Error(problem);
    await this.installRules();
    const index = this.claim(owner);
    const network: SandboxNetwork = {
      index,
      netns: `rtns${index}`,
      netnsPath: `/var/run/netns/rtns${index}`,
      address: addressAt(index, 2),
      gateway: addressAt(index, 1),
      hostInterface: `rtv${index}`,
    };
    try {
      await this.run(this.tools.ip, ['netns', 'add', network.netns]);
      await this.run(
        this.tools.ip,
        ['-batch', '-'],
        [
          `link add ${network.hostInterface} type veth peer name rtp${index}`,
          `link set rtp${index} netns ${network.netns}`,
          `addr add ${network.gateway}/30 dev ${network.hostInterface}`,
          `link set ${network.hostInterface} up`,
        ].join('\n'),
      );
      await this.run(
        this.tools.ip,
        ['-n', network.netns, '-batch', '-'],
        [
          `link set rtp${index} name eth0`,
          `addr add ${network.address}/30 dev eth0`,
          'link set eth0 up',
          'link set lo up',
          `route add default via ${network.gateway}`,
        ].join('\n'),
      );
    } catch (error) {
      await this.teardown(network).catch(() => {});
      throw error;
    }
    return network;
  }

  /**
   * Gives the sandbox end its address and default route again. gVisor takes them over when it starts (they
   * move into its own network stack and leave the namespace), and a restore from a checkpoint configures its
   * stack from what the namespace has: without this, a restored sandbox has no network.
   */
  async readdress(network: SandboxNetwork): Promise<void> {
    const addresses = await runCommand(this.tools.ip, ['-n', network.netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    if (addresses.stdout.toString('utf8').includes(`${network.address}/30`)) return;
    await this.run(
      this.tools.ip,
      ['-n', network.netns, '-batch', '-'],
      [`addr add ${network.address}/30 dev eth0`, `route add default via ${network.gateway}`].join('\n'),
    );
  }

  async teardown(network: SandboxNetwork): Promise<void> {
    // Deleting the namespace deletes the veth pair with it.
    await runCommand(this.tools.ip, ['netns', 'delete', network.netns]);
    await runCommand(this.tools.ip, ['link', 'delete', network.hostInterface]);
    rmSync(join(claimDir, String(network.index)), { force: true });
  }
}
